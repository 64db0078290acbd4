"""Training one child network: the backbones' spec, data and training step, a fixed short budget.

:func:`train_child` is module-level and takes one picklable :class:`ChildJob`, so any
:mod:`rlsuite.executors` backend (serial, spawned processes, Ray) can run it. The child is a
:class:`~rlsuite.backbones.spec.SpecCNN` trained by :func:`rlsuite.backbones.training.train_epoch`
(the same step as ``rlsuite fit model=cnn``: AdamW, cosine learning rate over the epochs, seeded
shuffling and dropout) for exactly ``epochs`` epochs with no early stopping. The reward is the
validation accuracy after the last epoch; the test accuracy is computed too but kept aside (never a
reward, only reported for the final architecture). FLOPs are counted by torch's own
``FlopCounterMode`` on one input (multiply-add = 2 FLOPs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from rlsuite.backbones import evaluation
from rlsuite.backbones.datasets import load_dataset
from rlsuite.backbones.spec import ArchSpec, SpecCNN
from rlsuite.backbones.training import FitConfig, build_optimizers, train_epoch, validate

# rlsuite fit keys a space's `child:` node may set
CHILD_KEYS = ("epochs", "batch_size", "lr", "weight_decay", "augment", "seed", "split_seed")


@dataclass
class ChildJob:
    key: str
    spec: dict[str, Any]
    dataset: str
    child: dict[str, Any] = field(default_factory=dict)


def fit_config(job: ChildJob) -> FitConfig:
    options = {k: v for k, v in job.child.items() if k != "split_seed"}
    return FitConfig(model="cnn", data=job.dataset, arch=job.spec, logger=[], patience=0, threads=0,
                     **{"epochs": 4, "batch_size": 128, "lr": 3e-3, "seed": 0, **options})


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
