"""Training one child network: the backbones' spec, data and training step, a fixed short budget.

:func:`train_child` is module-level and takes one picklable :class:`ChildJob`, so any
:mod:`rlsuite.executors` backend (serial, spawned processes, Ray) can run it. The child is a
:class:`~rlsuite.backbones.spec.SpecCNN` trained by :func:`rlsuite.backbones.training.train_epoch`
(the same step as ``rlsuite fit model=cnn``: AdamW, cosine learning rate over the epochs, seeded
shuffling and dropout) for exactly ``epochs`` epochs with no early stopping. The reward is the
validation accuracy after the last epoch; the test accuracy is computed too but kept aside (never a
reward, only reported for the final architecture). FLOPs are counted by torch's own
``FlopCounterMode`` on one input (multiply-add = 2 FLOPs).

:func:`retrain` trains the search's best architecture again from fresh initialisations (seeds the
search never used) and reports the mean test accuracy: the child's own test accuracy is one seed,
and that seed's luck is part of why it was selected, so the retrained figure is the unbiased one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import torch
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from torch.utils.flop_counter import FlopCounterMode

from rlsuite.agent import config_error
from rlsuite.backbones import evaluation
from rlsuite.backbones.datasets import load_dataset
from rlsuite.backbones.spec import ArchSpec, SpecCNN
from rlsuite.backbones.training import FitConfig, build_optimizers, train_epoch, validate
from rlsuite.errors import ConfigError, suggest

# rlsuite fit keys a space's `child:` node may set
CHILD_KEYS = ("epochs", "batch_size", "lr", "weight_decay", "augment", "seed", "split_seed")


@dataclass
class ChildJob:
    key: str
    spec: dict[str, Any]
    dataset: str
    child: dict[str, Any] = field(default_factory=dict)


def check_child_options(child: Any, where: str) -> None:
    """One clear :class:`ConfigError` for a ``child:`` node that would fail inside a child job: a key
    that is not one of :data:`CHILD_KEYS` (with close matches), or a value of the wrong type for the
    :class:`FitConfig` field it sets. Runs before the search starts."""
    if child is None:
        return
    if not isinstance(child, dict):
        raise ConfigError(f"{where}: 'child' must be a mapping of {', '.join(CHILD_KEYS)}; got {child!r}")
    for key in child:
        if key not in CHILD_KEYS:
            raise ConfigError(f"{where}: unknown child key '{key}'.{suggest(str(key), CHILD_KEYS)} "
                              f"Accepted: {', '.join(CHILD_KEYS)}")
    options = {k: v for k, v in child.items() if k != "split_seed"}
    if "split_seed" in child and (isinstance(child["split_seed"], bool) or not isinstance(child["split_seed"], int)):
        raise ConfigError(f"{where}: child.split_seed must be an integer, got {child['split_seed']!r}")
    try:
        OmegaConf.merge(OmegaConf.structured(FitConfig), options)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{where}: child: {config_error(err)}") from err
    for key in ("epochs", "batch_size"):
        if key in options and int(options[key]) < 1:
            raise ConfigError(f"{where}: child.{key} must be >= 1, got {options[key]}")


def fit_config(job: ChildJob) -> FitConfig:
    options = {k: v for k, v in job.child.items() if k != "split_seed"}
    return FitConfig(model="cnn", data=job.dataset, arch=job.spec, logger=[], patience=0, threads=0,
                     **{"epochs": 4, "batch_size": 128, "lr": 3e-3, "seed": 0, **options})


class ChildProgress:
    """Progress lines while children train, for the person waiting: nothing for a batch that ends
    within ``after`` seconds; after that one line at most every ``every`` seconds (and one when the
    batch ends), saying the children trained in this batch and overall (of ``total`` when a search
    set its budget), the best validation accuracy so far and the seconds per child."""

    def __init__(self, label: str, total: int | None = None, after: float = 5.0, every: float = 5.0,
                 stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic):
        self.label, self.total, self.after, self.every = label, total, after, every
        self.stream, self.clock = stream, clock
        self.trained, self.best = 0, float("-inf")
        self.batch_size = self.batch_done = 0
        self.batch_start = self.last_line = 0.0
        self.printed = False

    def start_batch(self, n_jobs: int) -> None:
        self.batch_size, self.batch_done = int(n_jobs), 0
        self.batch_start = self.clock()
        self.printed = False

    def child_done(self, result: dict[str, Any]) -> None:
        self.trained += 1
        self.batch_done += 1
        self.best = max(self.best, float(result.get("val_acc", float("-inf"))))
        now = self.clock()
        waited = now - self.batch_start
        last = self.batch_done >= self.batch_size
        if waited >= self.after and (not self.printed or now - self.last_line >= self.every or last):
            self.printed, self.last_line = True, now
            print(self.line(waited), file=self.stream or sys.stdout, flush=True)

    def line(self, waited: float) -> str:
        overall = f"{self.trained}/{self.total}" if self.total else f"{self.trained}"
        return (f"{self.label}: {self.batch_done}/{self.batch_size} children of this batch trained, {overall} in all; "
                f"best val acc so far {self.best:.4f}; {waited / max(self.batch_done, 1):.1f} s/child")


RETRAIN_SEED0 = 1000  # retraining seeds 1000, 1001, ...: never a child's training seed in the shipped spaces


def retrain(spec: dict[str, Any], dataset: str, child: dict[str, Any], seeds: int,
            epochs: int | None = None, stream: TextIO | None = None) -> dict[str, Any]:
    """Train ``spec`` ``seeds`` times from scratch (init and shuffling seeds ``RETRAIN_SEED0 + i``, the
    child's data split, ``epochs`` or the child's epochs) and return the mean test accuracy, its
    standard error over the seeds, and each seed's accuracy."""
    options = {**child, **({"epochs": int(epochs)} if epochs else {})}
    accs: list[float] = []
    start = time.perf_counter()
    for i in range(seeds):
        result = train_child(ChildJob(f"retrain-{i}", spec, dataset, {**options, "seed": RETRAIN_SEED0 + i}))
        accs.append(float(result["test_acc"]))
        if time.perf_counter() - start > 5.0:
            print(f"nas retraining the best architecture: {i + 1}/{seeds} seeds, "
                  f"test accuracy so far {sum(accs) / len(accs):.4f}", file=stream or sys.stdout, flush=True)
    mean = sum(accs) / len(accs)
    se = (sum((a - mean) ** 2 for a in accs) / (len(accs) - 1) / len(accs)) ** 0.5 if len(accs) > 1 else None
    return {"retrained_test_acc": mean, "retrained_test_acc_se": se, "retrained_seeds": len(accs),
            "retrained_epochs": int(fit_config(ChildJob("", spec, dataset, options)).epochs), "per_seed": accs}


def count_flops(model: torch.nn.Module, input_shape: tuple[int, ...]) -> int:
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *input_shape))
    return int(counter.get_total_flops())


def train_child(job: ChildJob) -> dict[str, Any]:
    """Train one child; returns its validation and test accuracy, FLOPs, parameters and seconds."""
    start = time.perf_counter()
    cfg = fit_config(job)
    data = load_dataset(job.dataset, int(job.child.get("split_seed", 0)))
    torch.manual_seed(cfg.seed)
    model = SpecCNN(ArchSpec.from_dict(job.spec), data.input_shape, data.n_classes)
    optims = build_optimizers(cfg, model)
    device = torch.device("cpu")
    for epoch in range(cfg.epochs):
        train_epoch(cfg, model, optims, data.train, epoch, device)
    val_acc = validate(cfg, model, data.val)
    test_acc = float((evaluation.predict(model, data.test.x) == data.test.y).mean())
    return {"key": job.key, "val_acc": float(val_acc or 0.0), "test_acc": test_acc,
            "flops": count_flops(model, data.input_shape), "params": sum(p.numel() for p in model.parameters()),
            "seconds": time.perf_counter() - start}
