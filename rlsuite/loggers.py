"""Loggers: console (a live progress bar, or plain progress lines when stdout is not a terminal),
JSONL, TensorBoard and wandb, combinable.

Agents call ``log(metrics, step)`` for events (an episode ended, an evaluation ran) and
``record(metrics)`` for frequent values (losses); recorded values are averaged and written every
``log_every`` steps by :meth:`MultiLogger.flush`, so a DQN doing thousands of updates does not
write thousands of lines.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any, Literal, TextIO, cast

from rlsuite.errors import ConfigError, unknown

LOGGER_NAMES = ("console", "jsonl", "tensorboard", "wandb")


class Logger:
    def log(self, metrics: dict[str, float], step: int) -> None:
        pass

    def note(self, text: str) -> None:
        """A line for the person watching (what the run will cost, the time estimate); consoles print it."""

    def close(self) -> None:
        pass


class NullLogger(Logger):
    """What an agent has when nobody listens (the Python API without ``train``)."""

    def record(self, metrics: dict[str, float]) -> None:
        pass

    def note(self, text: str) -> None:
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
        self.file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - open for the logger's life; close() closes it

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
        mode = cast(
            Literal["online", "offline", "disabled", "shared"],
            os.environ.get("WANDB_MODE", "online" if configured else "offline"),
        )
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


def duration(seconds: float) -> str:
    """``0:04:05``; ``1d 2:03:04`` past a day."""
    s = max(int(round(seconds)), 0)
    days, s = divmod(s, 86_400)
    text = f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{days}d {text}" if days else text


class ConsoleLogger(Logger):
    """Progress on stdout: steps, steps/s, recent episode return, ETA.

    In a terminal (or Jupyter) a live rich progress bar. Anywhere else (``> train.log``, nohup, a
    batch job, CI) a live bar would print nothing until the run ends, so it writes one plain,
    flushed line each time the training loop reports its speed, which it does every ``log_every``
    steps::

        ppo CartPole-v1: 20,000/100,000 steps (20%) | 1,234 steps/s | return 187.45 (last 20 episodes) | ETA 0:01:05

    ``live`` forces one or the other (default: rich's terminal detection on ``stream``).
    """

    RECENT_EPISODES = 20

    def __init__(
        self,
        total_steps: int,
        description: str,
        start_step: int = 0,
        live: bool | None = None,
        stream: TextIO | None = None,
    ):
        from rich.console import Console

        self.total_steps, self.description = int(total_steps), description
        self.recent: deque[float] = deque(maxlen=self.RECENT_EPISODES)
        self.stream = stream if stream is not None else sys.stdout
        console = Console(file=self.stream)
        self.live = (console.is_terminal or console.is_jupyter) if live is None else live
        self._last = 0.0
        if self.live:
            self._start_bar(console, start_step)

    def _start_bar(self, console: Any, start_step: int) -> None:
        from rich.progress import BarColumn, Progress, TextColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
            TextColumn("{task.fields[sps]} steps/s"),
            TextColumn("return {task.fields[ret]}"),
            TextColumn("ETA {task.fields[eta]}"),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task(
            self.description, total=self.total_steps, completed=start_step, sps="-", ret="-", eta="-"
        )
        self.progress.start()

    def _recent_return(self) -> str:
        return f"{sum(self.recent) / len(self.recent):.2f}" if self.recent else "-"

    def _eta(self, step: int, sps: float, eta_s: float | None) -> str:
        if eta_s is not None:  # the run's own estimate (rlsuite.cost.EtaModel: phase-aware, recent rate)
            return duration(eta_s)
        return duration((self.total_steps - step) / sps) if sps > 0 and step <= self.total_steps else "-"

    def progress_line(self, step: int, sps: float, eta_s: float | None = None) -> str:
        """The plain progress line for ``step`` at ``sps`` steps/s (``eta_s``: seconds left, when known)."""
        total = max(self.total_steps, 1)
        eta = self._eta(step, sps, eta_s)
        ret = self._recent_return()
        episodes = f" (last {len(self.recent)} episodes)" if self.recent else ""
        return (
            f"{self.description}: {step:,}/{self.total_steps:,} steps ({100 * step / total:.0f}%) | "
            f"{sps:,.0f} steps/s | return {ret}{episodes} | ETA {eta}"
        )

    def note(self, text: str) -> None:
        if self.live:
            self.progress.console.print(text, highlight=False, markup=False)
        else:
            print(text, file=self.stream, flush=True)

    def log(self, metrics: dict[str, float], step: int) -> None:
        if "train/episode_return" in metrics:
            self.recent.append(metrics["train/episode_return"])
        if not self.live:
            # train/sps (with train/eta_s from rlsuite.train's ETA model) comes once per log_every
            # steps (TrainHooks.after_step -> Agent.log_sps)
            if "train/sps" in metrics:
                line = self.progress_line(step, metrics["train/sps"], metrics.get("train/eta_s"))
                print(line, file=self.stream, flush=True)
            return
        fields: dict[str, Any] = {}
        if "train/sps" in metrics:
            fields["sps"] = f"{metrics['train/sps']:,.0f}"
            fields["eta"] = self._eta(step, metrics["train/sps"], metrics.get("train/eta_s"))
        now = time.perf_counter()
        if now - self._last > 0.2 or fields:
            if self.recent:
                fields["ret"] = self._recent_return()
            self.progress.update(self.task, completed=step, **fields)
            self._last = now

    def close(self) -> None:
        if self.live:
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

    def note(self, text: str) -> None:
        for logger in self.loggers:
            logger.note(text)

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
