"""The contract an environment plugin fulfils (built-ins and third parties alike).

An entry point in the group ``rlsuite.envs`` names either

* an :class:`EnvPlugin` subclass, for a family of envs addressed by id (``atari``: ``ALE/Pong-v5``), or
* any zero-argument-able callable returning a ``gymnasium.Env`` (an Env subclass or a factory); the
  registry wraps it in :class:`CallableEnvPlugin`. Its docstring's first line is its description.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym


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

    def make(self, id: str | None, *, training: bool = True, render_mode: str | None = None, **kwargs: Any):
        if render_mode is not None:
            kwargs["render_mode"] = render_mode
        return self.factory(**kwargs)
