"""``rlsuite fit``: train a backbone (``cnn``, ``vae``, ``gan``) on an offline dataset, with the same
run directories, checkpoints and loggers as ``rlsuite train``::

    runs/fit-<model>-<data>-s<seed>-<time>/
        config.yaml                      the resolved FitConfig
        metrics.jsonl                    one line per epoch (train losses, val metric)
        checkpoints/latest.safetensors   model, optimizers, best weights, early-stopping state
        model.safetensors                the final model (best validation epoch for cnn / vae)
        eval.json                        test metrics
        reference_classifier.safetensors gan without classifier=: the CNN its samples are measured with

One epoch is one step of the loggers. Shuffling, augmentation, dropout and reparameterization noise
of epoch ``e`` are drawn from generators seeded by ``(seed, e)``, so a run killed after a checkpoint
and resumed (``resume=<run dir>``) repeats the uninterrupted run bit for bit on CPU.
Early stopping: training ends after ``patience`` epochs without a better validation metric
(accuracy for cnn, β = 1 ELBO for vae; the gan has no validation metric and runs all epochs).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from torch import nn

from rlsuite import checkpoint
from rlsuite.agent import config_error
from rlsuite.backbones import evaluation
from rlsuite.backbones.datasets import ArrayDataset, DataSplits, batches, load_dataset
from rlsuite.backbones.generative import GAN, VAE
from rlsuite.backbones.spec import PRESETS, SpecCNN, resolve_spec
from rlsuite.errors import CheckpointError, ConfigError, unknown
from rlsuite.loggers import (
    JsonlLogger,
    Logger,
    MultiLogger,
    TensorBoardLogger,
    WandbLogger,
    check_logger_names,
)
from rlsuite.seeding import derive_seed

MODELS = ("cnn", "vae", "gan")
CHECKPOINT = Path("checkpoints") / "latest.safetensors"
MODEL_FORMAT = "rlsuite-backbone/1"


@dataclass
class FitConfig:
    """Every key ``rlsuite fit`` accepts (``key=value``); ``None`` means the model's default."""

    model: str = "cnn"
    data: str = "digits"  # digits | mnist1d | shapes | <class folder> | <file.npz>
    size: int | None = None  # digits: 8/16/32 (16); shapes: any (32)
    n: int | None = None  # shapes: number of images (5000)
    seed: int = 0
    epochs: int = 30
    batch_size: int = 64
    lr: float | None = None  # cnn 2e-3, vae 1e-3, gan 2e-4 (wgan-gp 1e-4)
    weight_decay: float = 0.0
    patience: int = 10  # early stopping (cnn, vae); 0 turns it off
    augment: int = 0  # cnn: random shifts of up to this many pixels
    arch: Any = None  # cnn: a preset name (digits, mnist1d, shapes, paper1d, tiny) or a spec mapping
    latent_dim: int | None = None  # vae 8, gan 64
    width: int | None = None  # vae 32, gan 64 channels in the first stage
    beta: float = 1.0  # β-VAE weight of the KL term
    likelihood: str = "bernoulli"  # vae: bernoulli | gaussian (fixed sigma)
    sigma: float = 0.1
    loss: str = "ns"  # gan: ns | lsgan | wgan-gp
    gp_lambda: float = 10.0
    n_critic: int | None = None  # discriminator updates per generator update (ns/lsgan 1, wgan-gp 5)
    conditional: bool = False  # gan: class-conditional
    # gan: a cnn run dir (or model.safetensors) whose features measure the samples (feature-Fréchet
    # distance, class coverage); default: a reference CNN trained on the same data at the end
    classifier: str | None = None
    iw_samples: int = 100
    threads: int = 1
    device: str = "cpu"
    run_dir: str | None = None
    runs_root: str = "runs"
    resume: str | None = None
    logger: list[str] = field(default_factory=lambda: ["console", "jsonl"])
    checkpoint_every: int = 1  # epochs


RESUMABLE = {"epochs", "logger", "device", "threads", "patience", "classifier", "iw_samples"}


@dataclass
class FitResult:
    dir: Path
    config: FitConfig
    model: nn.Module
    metrics: dict[str, Any]
    data: DataSplits


def parse_overrides(overrides: list[str], base: FitConfig | None = None, allowed: set[str] | None = None) -> FitConfig:
    """``key=value`` strings (values in YAML) into a validated :class:`FitConfig`."""
    names = [f.name for f in dataclasses.fields(FitConfig)]
    cfg = OmegaConf.structured(base or FitConfig())
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.removeprefix("+")
        if not sep:
            raise ConfigError(f"expected key=value, got '{item}'")
        if key not in names:
            raise unknown("fit key", key, names)
        if allowed is not None and key not in allowed and key != "resume":
            raise ConfigError(f"'{key}' cannot change when resuming; accepted: {', '.join(sorted(allowed))}")
        try:
            parsed = yaml.safe_load(value) if value else None
        except yaml.YAMLError:
            parsed = value
        if key in ("data", "run_dir", "runs_root", "resume", "classifier") and parsed is not None:
            parsed = value  # paths and names stay strings (data=0 is a folder named 0)
        try:
            cfg = OmegaConf.merge(cfg, {key: parsed})
        except OmegaConfBaseException as err:
            raise config_error(err) from err
    out: FitConfig = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    _validate(out)
    return out


def _validate(cfg: FitConfig) -> None:
    if cfg.model not in MODELS:
        raise unknown("model", cfg.model, MODELS)
    check_logger_names(list(cfg.logger))
    for key in ("epochs", "batch_size"):
        if int(getattr(cfg, key)) < 1:
            raise ConfigError(f"{key} must be >= 1, got {getattr(cfg, key)}")
    if cfg.model in ("vae", "gan") and cfg.data == "mnist1d":  # known before generating the data
        raise ConfigError(f"model={cfg.model} needs images with values in [0, 1]; data=mnist1d is 1-D signals")
    if cfg.likelihood not in ("bernoulli", "gaussian"):
        raise unknown("likelihood", cfg.likelihood, ("bernoulli", "gaussian"))
    from rlsuite.backbones.losses import GAN_LOSSES

    if cfg.loss not in GAN_LOSSES:
        raise unknown("GAN loss", cfg.loss, GAN_LOSSES)


# ----------------------------------------------------------------------------- models
def build_model(cfg: FitConfig, input_shape: tuple[int, ...], n_classes: int) -> tuple[nn.Module, dict[str, Any]]:
    """The model a config describes, and the JSON-able arguments that rebuild it (:func:`load`)."""
    if cfg.model == "cnn":
        arch = cfg.arch if cfg.arch is not None else _default_arch(input_shape)
        spec = resolve_spec(arch)
        meta: dict[str, Any] = {"spec": spec.to_dict(), "input_shape": list(input_shape), "n_classes": n_classes}
    elif cfg.model == "vae":
        meta = {"input_shape": list(input_shape), "latent_dim": cfg.latent_dim or 8, "width": cfg.width or 32,
                "likelihood": cfg.likelihood, "sigma": cfg.sigma, "beta": cfg.beta}
    else:
        meta = {"input_shape": list(input_shape), "latent_dim": cfg.latent_dim or 64, "width": cfg.width or 64,
                "loss": cfg.loss, "n_classes": n_classes if cfg.conditional else 0, "gp_lambda": cfg.gp_lambda}
    return model_from_meta(cfg.model, meta), meta


def _default_arch(input_shape: tuple[int, ...]) -> str:
    if len(input_shape) == 2:
        return "mnist1d"
    return "digits" if input_shape[0] == 1 else "shapes"


def model_from_meta(kind: str, meta: dict[str, Any]) -> nn.Module:
    shape = tuple(int(d) for d in meta["input_shape"])
    if kind == "cnn":
        return SpecCNN(resolve_spec(meta["spec"]), shape, int(meta["n_classes"]))
    if kind == "vae":
        return VAE(shape, int(meta["latent_dim"]), int(meta["width"]), str(meta["likelihood"]), float(meta["sigma"]),
                   float(meta["beta"]))
    if kind == "gan":
        return GAN(shape, int(meta["latent_dim"]), int(meta["width"]), str(meta["loss"]), int(meta["n_classes"]),
                   float(meta["gp_lambda"]))
    raise unknown("model", kind, MODELS)


def build_optimizers(cfg: FitConfig, model: nn.Module) -> dict[str, torch.optim.Optimizer]:
    if isinstance(model, GAN):
        lr = cfg.lr or (1e-4 if cfg.loss == "wgan-gp" else 2e-4)
        betas = (0.0, 0.9) if cfg.loss == "wgan-gp" else (0.5, 0.999)  # WGAN-GP paper / DCGAN paper
        return {"g": torch.optim.Adam(model.generator.parameters(), lr=lr, betas=betas),
                "d": torch.optim.Adam(model.discriminator.parameters(), lr=lr, betas=betas)}
    lr = cfg.lr or (2e-3 if cfg.model == "cnn" else 1e-3)
    return {"model": torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)}


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate every example by its own random offset in [-max_shift, max_shift] per spatial
    axis (zero fill), vectorized with one gather per axis."""
    if max_shift <= 0:
        return x
    out = x
    for axis in range(2, x.dim()):
        n = x.shape[axis]
        shift = torch.randint(-max_shift, max_shift + 1, (x.shape[0],), generator=generator)
        padded = F.pad(out.movedim(axis, -1), (max_shift, max_shift))
        idx = (torch.arange(n)[None, :] + max_shift - shift[:, None]).to(x.device)
        view = idx.view(x.shape[0], *([1] * (x.dim() - 2)), n).expand(*padded.shape[:-1], n)
        out = padded.gather(-1, view).movedim(-1, axis)
    return out


# ----------------------------------------------------------------------------- one epoch per model
def train_epoch(cfg: FitConfig, model: nn.Module, optims: dict[str, torch.optim.Optimizer], data: ArrayDataset,
                epoch: int, device: torch.device) -> dict[str, float]:
    gen = torch.Generator().manual_seed(derive_seed(cfg.seed, epoch))
    torch.manual_seed(derive_seed(cfg.seed, epoch, 1))  # dropout, reparameterization, GAN noise
    model.train()
    sums: dict[str, float] = {}
    count = 0
    if cfg.model != "gan":
        lr = _lr(cfg, optims["model"], epoch)
    for x, y in batches(data, cfg.batch_size, gen, device):
        if cfg.model == "cnn":
            loss = F.cross_entropy(model(random_shift(x, cfg.augment, gen)), y)
            stats = {"loss/cross_entropy": loss.item()}
            _step(optims["model"], loss)
        elif cfg.model == "vae":
            assert isinstance(model, VAE)
            loss, stats = model.loss(x)
            _step(optims["model"], loss)
        else:
            assert isinstance(model, GAN)
            stats = _gan_step(cfg, model, optims, x, y, count)
        for k, v in stats.items():
            sums[k] = sums.get(k, 0.0) + v
        count += 1
    out = {k: v / max(count, 1) for k, v in sums.items()}
    if cfg.model != "gan":
        out["train/lr"] = lr
    return out


def _lr(cfg: FitConfig, opt: torch.optim.Optimizer, epoch: int) -> float:
    """Cosine decay from the initial lr to 0 over ``epochs`` (a function of the epoch: resumable)."""
    base = opt.param_groups[0].get("initial_lr") or opt.param_groups[0]["lr"]
    for group in opt.param_groups:
        group["initial_lr"] = base
        group["lr"] = base * 0.5 * (1 + math.cos(math.pi * epoch / cfg.epochs))
    return float(opt.param_groups[0]["lr"])


def _step(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _gan_step(cfg: FitConfig, model: GAN, optims: dict[str, torch.optim.Optimizer], x: torch.Tensor,
              y: torch.Tensor, batch_index: int) -> dict[str, float]:
    d_loss = model.d_loss(x, y)
    _step(optims["d"], d_loss)
    stats = {"loss/d": d_loss.item()}
    n_critic = cfg.n_critic or (5 if cfg.loss == "wgan-gp" else 1)
    if batch_index % n_critic == 0:
        g_loss = model.g_loss(x.shape[0], y, x.device)
        _step(optims["g"], g_loss)
        stats["loss/g"] = g_loss.item()
    return stats


def validate(cfg: FitConfig, model: nn.Module, data: ArrayDataset) -> float | None:
    """The early-stopping metric on the validation split (higher is better), or None (gan)."""
    if cfg.model == "cnn":
        return float((evaluation.predict(model, data.x) == data.y).mean())
    if cfg.model == "vae":
        assert isinstance(model, VAE)
        model.eval()
        torch.manual_seed(derive_seed(cfg.seed, 2**20))
        return float(torch.cat([model.elbo(x) for x, _ in batches(data, 512)]).mean())
    return None


def test_metrics(cfg: FitConfig, model: nn.Module, data: DataSplits, run_dir: Path | None = None) -> dict[str, Any]:
    """Test metrics: cnn accuracy with its CI; vae bounds; gan feature-Fréchet distance and class
    coverage in the features of ``classifier=`` or, by default, of :func:`reference_classifier`
    (saved as ``reference_classifier.safetensors`` in ``run_dir``)."""
    torch.manual_seed(derive_seed(cfg.seed, 2**21))
    if cfg.model == "cnn":
        return evaluation.accuracy(model, data.test, seed=cfg.seed)
    if cfg.model == "vae":
        out = evaluation.vae_metrics(model, data.test, cfg.iw_samples)
        latent = int(getattr(model, "latent_dim", 0))
        out["pca_recon_mse"] = evaluation.pca_reconstruction_mse(data.train.x, data.test.x, latent)
        return out
    from rlsuite.backbones.evaluation import class_coverage, feature_frechet

    source: dict[str, Any]
    if cfg.classifier:
        classifier, source = load(cfg.classifier), {"classifier": str(cfg.classifier)}
    else:
        classifier = reference_classifier(cfg, data)
        source = {"classifier": "reference", "classifier_epochs": REFERENCE_EPOCHS}
        if run_dir is not None:
            meta: dict[str, Any] = classifier.meta  # type: ignore[assignment]  # set by reference_classifier
            save_model(run_dir / "reference_classifier.safetensors", "cnn", meta, classifier, data)
    source["classifier_accuracy"] = float((evaluation.predict(classifier, data.test.x) == data.test.y).mean())
    assert isinstance(model, GAN)
    model.eval()
    with torch.no_grad():
        fake = model.sample(len(data.test), torch.Generator().manual_seed(cfg.seed))
    return {"feature_fd": feature_frechet(classifier, fake, data.test.x),
            "feature_fd_real": feature_frechet(classifier, data.train.x, data.test.x),
            **class_coverage(classifier, fake, data.n_classes), **source}


REFERENCE_EPOCHS = 5


def reference_classifier(cfg: FitConfig, data: DataSplits) -> nn.Module:
    """The classifier a GAN is measured with when no ``classifier=`` is given: the data's default
    CNN (as ``rlsuite fit model=cnn`` would build it) trained for :data:`REFERENCE_EPOCHS` epochs on
    the same training split, seeded by the run's seed. Its features define the feature-Fréchet
    distance, so numbers compare across GANs measured with the same reference (same data and seed)."""
    ref_cfg = FitConfig(model="cnn", data=cfg.data, seed=derive_seed(cfg.seed, 3), epochs=REFERENCE_EPOCHS,
                        logger=[], patience=0, threads=0)
    state = torch.get_rng_state()
    torch.manual_seed(ref_cfg.seed)
    classifier, meta = build_model(ref_cfg, data.input_shape, data.n_classes)
    optims = build_optimizers(ref_cfg, classifier)
    for epoch in range(REFERENCE_EPOCHS):
        train_epoch(ref_cfg, classifier, optims, data.train, epoch, torch.device("cpu"))
    torch.set_rng_state(state)
    object.__setattr__(classifier, "meta", meta)
    return classifier.eval()


# ----------------------------------------------------------------------------- runs
class EpochProgress(Logger):
    """A rich progress bar over epochs showing the latest training loss and validation metric."""

    def __init__(self, epochs: int, description: str, start: int = 0):
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 TextColumn("epoch {task.completed:.0f}/{task.total:.0f}"),
                                 TextColumn("{task.fields[shown]}"), TimeRemainingColumn())
        self.task = self.progress.add_task(description, total=epochs, completed=start, shown="")
        self.progress.start()

    def log(self, metrics: dict[str, float], step: int) -> None:
        shown = "  ".join(f"{k.split('/')[-1]} {v:.4g}" for k, v in metrics.items()
                          if k.startswith(("loss/", "val/")))
        if shown:  # the final test metrics line leaves the last epoch's numbers on screen
            self.progress.update(self.task, completed=step, shown=shown)

    def close(self) -> None:
        self.progress.stop()


def _loggers(cfg: FitConfig, run_dir: Path, start: int, run_state: dict[str, Any]) -> MultiLogger:
    loggers: list[Logger] = []
    for name in cfg.logger:
        if name == "console":
            loggers.append(EpochProgress(cfg.epochs, f"fit {cfg.model} {Path(cfg.data).name}", start))
        elif name == "jsonl":
            loggers.append(JsonlLogger(run_dir / "metrics.jsonl", truncate_at=run_state.get("jsonl_offset")))
        elif name == "tensorboard":
            loggers.append(TensorBoardLogger(run_dir / "tb", purge_step=start or None))
        elif name == "wandb":
            config = dataclasses.asdict(cfg)
            loggers.append(WandbLogger(run_dir, config, run_dir.name, resume_id=run_state.get("wandb_id")))
    return MultiLogger(loggers, log_every=1)


def _state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def fit(overrides: list[str] | FitConfig | None = None, on_epoch_end: Callable[[int], None] | None = None,
        **kwargs: Any) -> FitResult:
    """Train a backbone. ``overrides`` are ``key=value`` strings (as on the command line) or a
    :class:`FitConfig`; keyword arguments are more overrides (``fit(model="vae", epochs=5)``).
    ``resume=<run dir>`` continues a run from its latest checkpoint."""
    items = list(overrides) if isinstance(overrides, list) else []
    items += [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in kwargs.items()]
    resume = next((o.split("=", 1)[1] for o in items if o.startswith("resume=")), None)
    state: dict[str, Any] | None = None
    if resume:
        run_dir = Path(resume)
        base = _load_config(run_dir)
        cfg = parse_overrides(items, base, RESUMABLE)
        state = checkpoint.load_state(run_dir / CHECKPOINT)
    else:
        cfg = parse_overrides(items, base=overrides if isinstance(overrides, FitConfig) else None)
    if cfg.threads > 0:
        torch.set_num_threads(int(cfg.threads))
    device = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if cfg.device == "auto" else cfg.device))
    # Load data and build the model before anything is written: bad input leaves no run behind.
    data = load_dataset(cfg.data, cfg.seed, cfg.size, cfg.n)
    if cfg.model in ("vae", "gan") and not data.unit_range:
        raise ConfigError(f"model={cfg.model} needs images with values in [0, 1]; data={cfg.data} is not")
    torch.manual_seed(cfg.seed)
    model, meta = build_model(cfg, data.input_shape, data.n_classes)
    model.to(device)
    optims = build_optimizers(cfg, model)
    if state is None:
        stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{int(time.time() * 1e6) % 1_000_000:06d}"
        run_dir = Path(cfg.run_dir) if cfg.run_dir else Path(cfg.runs_root) / (
            f"fit-{cfg.model}-{Path(cfg.data).name}-s{cfg.seed}-{stamp}")
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_config(run_dir, cfg)
        state = {"epoch": 0, "best": None, "best_epoch": -1, "bad_epochs": 0, "best_model": None, "run": {}}
    else:
        model.load_state_dict(state["model"])
        for name, opt in optims.items():
            opt.load_state_dict(state["optim"][name])
        _write_config(run_dir, cfg)
    logger = _loggers(cfg, run_dir, int(state["epoch"]), state["run"])
    try:
        epoch = int(state["epoch"])
        while epoch < cfg.epochs and not _stopped(cfg, state):
            metrics = train_epoch(cfg, model, optims, data.train, epoch, device)
            score = validate(cfg, model, data.val)
            epoch += 1
            if score is not None:
                metrics["val/" + ("accuracy" if cfg.model == "cnn" else "elbo")] = score
                if state["best"] is None or score > state["best"]:
                    state.update(best=score, best_epoch=epoch, bad_epochs=0, best_model=_state_dict(model))
                else:
                    state["bad_epochs"] += 1
            logger.log(metrics, epoch)
            state["epoch"] = epoch
            if epoch % max(cfg.checkpoint_every, 1) == 0 or epoch == cfg.epochs or _stopped(cfg, state):
                _save_checkpoint(run_dir, model, optims, state, logger)
            if on_epoch_end is not None:
                on_epoch_end(epoch)
        if state["best_model"] is not None:
            model.load_state_dict(state["best_model"])
        save_model(run_dir / "model.safetensors", cfg.model, meta, model, data)
        results: dict[str, Any] = {"model": cfg.model, "data": cfg.data, "epochs": epoch}
        if cfg.model != "gan":  # a gan has no validation metric; its quality is the test metrics below
            results.update(best_epoch=state["best_epoch"], val_best=state["best"])
        results.update(test_metrics(cfg, model, data, run_dir))
        logger.log({f"test/{k}": v for k, v in results.items() if isinstance(v, (int, float)) and v is not None}, epoch)
    finally:
        logger.close()
    checkpoint.atomic_write_bytes(run_dir / "eval.json", json.dumps(results, indent=2).encode())
    return FitResult(run_dir, cfg, model, results, data)


def _stopped(cfg: FitConfig, state: dict[str, Any]) -> bool:
    return cfg.model != "gan" and cfg.patience > 0 and int(state["bad_epochs"]) >= cfg.patience


def _write_config(run_dir: Path, cfg: FitConfig) -> None:
    checkpoint.atomic_write_bytes(run_dir / "config.yaml", yaml.safe_dump(dataclasses.asdict(cfg)).encode())


def _load_config(run_dir: Path) -> FitConfig:
    path = checkpoint.run_config_path(run_dir, kind="rlsuite fit run")
    try:
        data = yaml.safe_load(path.read_text()) or {}
        return FitConfig(**data)
    except (yaml.YAMLError, TypeError) as err:
        raise CheckpointError(f"{path} is not a fit config: {str(err).splitlines()[0]}") from err


def _save_checkpoint(run_dir: Path, model: nn.Module, optims: dict[str, torch.optim.Optimizer],
                     state: dict[str, Any], logger: MultiLogger) -> None:
    jsonl = logger.get(JsonlLogger)
    wandb = logger.get(WandbLogger)
    state["run"] = {"jsonl_offset": jsonl.offset() if isinstance(jsonl, JsonlLogger) else None,
                    "wandb_id": wandb.run_id if isinstance(wandb, WandbLogger) else None}
    state["model"] = model.state_dict()
    state["optim"] = {name: opt.state_dict() for name, opt in optims.items()}
    checkpoint.save_state(run_dir / CHECKPOINT, state)


# ----------------------------------------------------------------------------- model files
def save_model(path: Path, kind: str, meta: dict[str, Any], model: nn.Module, data: DataSplits) -> Path:
    return checkpoint.save_state(path, {"format": MODEL_FORMAT, "kind": kind, "meta": meta,
                                        "classes": list(data.classes), "data": data.name,
                                        "weights": model.state_dict()})


def load(path: str | Path, device: str = "cpu") -> nn.Module:
    """A trained backbone from a run directory or its ``model.safetensors``, in eval mode; it
    carries ``.kind`` (cnn / vae / gan), ``.classes`` and ``.meta`` (what rebuilt it)."""
    path = Path(path)
    file = path / "model.safetensors" if path.is_dir() else path
    if not file.is_file():
        raise CheckpointError(f"no backbone model at {path} (expected a fit run directory or model.safetensors)")
    state = checkpoint.load_state(file)
    if state.get("format") != MODEL_FORMAT:
        raise CheckpointError(f"{file} is not a backbone model (an agent's? load it with rlsuite.load)")
    model = model_from_meta(str(state["kind"]), state["meta"])
    model.load_state_dict(state["weights"])
    # what the model is, for callers that got it from a path (plain attributes, not parameters)
    object.__setattr__(model, "kind", str(state["kind"]))
    object.__setattr__(model, "classes", tuple(state["classes"]))
    object.__setattr__(model, "meta", state["meta"])
    return model.to(device).eval()


__all__ = ["PRESETS", "FitConfig", "FitResult", "build_model", "build_optimizers", "fit", "load", "parse_overrides",
           "random_shift"]
