"""The contract an environment plugin fulfils (built-ins and third parties alike).

An entry point in the group ``rlsuite.envs`` names either

* an :class:`EnvPlugin` subclass, for a family of envs addressed by id (``atari``: ``ALE/Pong-v5``), or
* any zero-argument-able callable returning a ``gymnasium.Env`` (an Env subclass or a factory); the
  registry wraps it in :class:`CallableEnvPlugin`. Its docstring's first line is its description.

A task env (NAS, localization) may declare its own evaluation with :meth:`EnvPlugin.evaluate_task`:
``rlsuite train`` (final evaluation), ``rlsuite eval`` and ``rlsuite.evaluate(..., task=True)`` run it
beside the return protocol and report its :class:`TaskResult` in ``eval.json`` (``extra.task``), the
console and the leaderboard row (``extra.task``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym


@dataclass
class TaskResult:
    """An evaluation in the task's own terms.

    ``metrics``: named numbers (``recall@0.5``, ``AP@0.5``, ``best_val_acc``...; ``None`` where a
    number does not exist, e.g. the median steps of a search that detected nothing); ``primary``: the
    metric that ranks (one of ``metrics``); ``summary``: one line for the console; ``artefacts``:
    files written (e.g. ``best_arch`` -> ``<run>/best_arch.yaml``); ``details``: any further JSON-able
    description (e.g. the best architecture's spec).
    """

    metrics: dict[str, float | None]
    primary: str
    summary: str
    artefacts: dict[str, Path] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.primary not in self.metrics:
            raise ValueError(f"primary metric '{self.primary}' is not among the metrics {sorted(self.metrics)}")
        # JSON has no inf/NaN: a number that does not exist is None
        self.metrics = {k: (float(v) if v is not None and math.isfinite(float(v)) else None)
                        for k, v in self.metrics.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": dict(self.metrics), "primary": self.primary, "summary": self.summary,
                "artefacts": {k: str(v) for k, v in self.artefacts.items()}, "details": self.details}


class EnvPlugin:
    """A family of environments. Subclasses set ``description`` and implement :meth:`make`."""

    description: str = ""
    # The distribution whose version fixes the env dynamics (recorded with every evaluation result).
    provider: str = ""

    def make(
        self,
        id: str | None,
        *,
        training: bool = True,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> gym.Env:
        """Build one env. ``training=False`` builds the evaluation variant (e.g. Atari: no reward
        clipping, no life-loss terminals). ``kwargs`` come from the env config's ``kwargs`` node."""
        raise NotImplementedError

    def make_vec(
        self, id: str | None, n_envs: int, *, seed: int, training: bool = True, **kwargs: Any
    ) -> gym.vector.VectorEnv | None:
        """Optional faster vectorized backend (EnvPool, ALE's AtariVectorEnv). ``None`` means: use
        Gymnasium's Sync/Async vector env over :meth:`make` (same-step autoreset, final obs in info)."""
        return None

    def frames_per_step(self, id: str | None, **kwargs: Any) -> int:
        """Emulator frames one agent step advances for the env :meth:`make` builds from the same
        arguments (Atari: its ``frame_skip``). The one source of frame counts: the agents' logs, the
        cost line of a run, the leaderboard's ``frames`` column. Default: 1."""
        return 1

    def backends(self) -> tuple[str, ...]:
        """Names ``env.backend=`` accepts for :meth:`make_vec` (none by default)."""
        return ()

    def evaluate_task(self, agent: Any, env_spec: Any, *, episodes: int, seed: int,
                      out_dir: Path | None = None) -> TaskResult | None:
        """Optional: the task's own evaluation of ``agent`` on the env ``env_spec`` describes (an
        :class:`rlsuite.envspec.EnvSpec`). ``episodes`` and ``seed`` are the evaluation's; files the
        evaluation writes go under ``out_dir`` (the run directory; ``None``: write nothing).
        ``None`` (the default) means the env has no task metrics beyond the return."""
        return None

    def ids(self) -> list[str]:
        """Env ids this plugin knows, for ``rlsuite list envs`` and close-match suggestions."""
        return []

    def handles(self, id: str) -> bool:
        """Whether ``env=<id>`` should go to this plugin (default: it is one of :meth:`ids`)."""
        return id in self.ids()


class CallableEnvPlugin(EnvPlugin):
    """Wraps an Env class or factory registered directly as an entry point."""

    def __init__(self, factory: Callable[..., gym.Env]):
        self.factory = factory
        doc = (getattr(factory, "__doc__", None) or "").strip().splitlines()
        self.description = doc[0] if doc else getattr(factory, "__name__", "environment")

    def make(self, id: str | None, *, training: bool = True, render_mode: str | None = None,
             **kwargs: Any) -> gym.Env:
        if render_mode is not None:
            kwargs["render_mode"] = render_mode
        return self.factory(**kwargs)
