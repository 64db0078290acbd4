"""Loggers: console (rich progress bar), JSONL, TensorBoard and wandb, combinable.

Agents call ``log(metrics, step)`` for events (an episode ended, an evaluation ran) and
``record(metrics)`` for frequent values (losses); recorded values are averaged and written every
``log_every`` steps by :meth:`MultiLogger.flush`, so a DQN doing thousands of updates does not
write thousands of lines.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from rlsuite.errors import ConfigError, unknown

LOGGER_NAMES = ("console", "jsonl", "tensorboard", "wandb")


class Logger:
    def log(self, metrics: dict[str, float], step: int) -> None:
        pass

    def close(self) -> None:
        pass


class NullLogger(Logger):
    """What an agent has when nobody listens (the Python API without ``train``)."""

    def record(self, metrics: dict[str, float]) -> None:
        pass

    def flush(self, step: int) -> None:
        pass


class JsonlLogger(Logger):
    """``metrics.jsonl``: one JSON object per line, ``{"step": ..., <metric>: ..., "time": ...}``."""

    def __init__(self, path: Path, truncate_at: int | None = None):
        self.path = Path(path)
        if truncate_at is not None and self.path.exists():
            # Resuming: drop lines written after the checkpoint by the interrupted process.
            with open(self.path, "r+b") as f:
                f.truncate(truncate_at)
        self.file = open(self.path, "a", encoding="utf-8")

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.file.write(json.dumps({"step": step, **metrics, "time": round(time.time(), 3)}) + "\n")

    def offset(self) -> int:
        """Byte length written so far (stored in checkpoints)."""
        self.file.flush()
        return self.file.tell()

    def close(self) -> None:
        self.file.close()


class TensorBoardLogger(Logger):
    def __init__(self, log_dir: Path, purge_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)

    def log(self, metrics: dict[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


class WandbLogger(Logger):
    """wandb in offline mode unless the user configured it (``WANDB_MODE`` or ``WANDB_API_KEY``)."""

    def __init__(self, run_dir: Path, config: dict[str, Any], name: str, resume_id: str | None = None):
        try:
            import wandb
        except ImportError as err:
            raise ConfigError("logger 'wandb' needs the wandb package: pip install wandb") from err
        configured = os.environ.get("WANDB_MODE") or os.environ.get("WANDB_API_KEY")
        mode = os.environ.get("WANDB_MODE", "online" if configured else "offline")
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "rlsuite"),
            name=name,
            id=resume_id,
            resume="allow" if resume_id else None,
            dir=str(run_dir),
            config=config,
            mode=mode,
            reinit="create_new",
        )

    @property
    def run_id(self) -> str:
        return self.run.id

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.run.log(dict(metrics), step=step)

    def close(self) -> None:
        self.run.finish()


class ConsoleLogger(Logger):
    """A rich progress bar: steps, steps/s, recent episode return, ETA."""

    def __init__(self, total_steps: int, description: str, start_step: int = 0):
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.recent: deque[float] = deque(maxlen=20)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
            TextColumn("{task.fields[sps]} steps/s"),
            TextColumn("return {task.fields[ret]}"),
            TimeRemainingColumn(),
            transient=False,
        )
        self.task = self.progress.add_task(description, total=total_steps, completed=start_step, sps="-", ret="-")
        self.progress.start()
        self._last = 0.0

    def log(self, metrics: dict[str, float], step: int) -> None:
        if "train/episode_return" in metrics:
            self.recent.append(metrics["train/episode_return"])
        fields: dict[str, Any] = {}
        if "train/sps" in metrics:
            fields["sps"] = f"{metrics['train/sps']:,.0f}"
        now = time.perf_counter()
        if now - self._last > 0.2 or fields:
            if self.recent:
                fields["ret"] = f"{sum(self.recent) / len(self.recent):.2f}"
            self.progress.update(self.task, completed=step, **fields)
            self._last = now

    def close(self) -> None:
        self.progress.stop()


class MultiLogger(Logger):
    def __init__(self, loggers: list[Logger], log_every: int = 1000):
        self.loggers = loggers
        self.log_every = max(int(log_every), 1)
        self._sums: dict[str, float] = defaultdict(float)
        self._counts: dict[str, int] = defaultdict(int)

    def log(self, metrics: dict[str, float], step: int) -> None:
        clean = {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}
        for logger in self.loggers:
            logger.log(clean, step)

    def record(self, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self._sums[key] += float(value)
            self._counts[key] += 1

    def flush(self, step: int) -> None:
        if self._sums:
            self.log({k: self._sums[k] / self._counts[k] for k in self._sums}, step)
            self._sums.clear()
            self._counts.clear()

    def get(self, kind: type[Logger]) -> Logger | None:
        return next((lg for lg in self.loggers if isinstance(lg, kind)), None)

    def close(self) -> None:
        for logger in self.loggers:
            logger.close()


def check_logger_names(names: list[str]) -> None:
    for name in names:
        if name not in LOGGER_NAMES:
            raise unknown("logger", name, LOGGER_NAMES)
