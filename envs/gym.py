"""Any registered Gymnasium id, as is (``env=CartPole-v1``, ``env=HalfCheetah-v5``), and the partially
observed variants of :mod:`rlsuite.envs.pomdp` (``env=CartPoleNoVel-v1``), registered on import."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from rlsuite.envs.pomdp import register as register_pomdp_ids

from rlsuite.env_plugin import EnvPlugin
from rlsuite.errors import ConfigError, unknown

register_pomdp_ids()


class GymPlugin(EnvPlugin):
    description = "Any registered Gymnasium environment id (classic control, toy text, Box2D, MuJoCo, ...)"
    provider = "gymnasium"

    def make(self, id: str | None, *, training: bool = True, render_mode: str | None = None,
             **kwargs: Any) -> gym.Env:
        if not id:
            raise ConfigError("the gym plugin needs an env id, e.g. env=CartPole-v1")
        if id not in gym.registry:
            raise unknown("Gymnasium env", id, list(gym.registry))
        try:
            return gym.make(id, render_mode=render_mode, **kwargs)
        except TypeError as err:  # unexpected kwargs from env.kwargs.<key>=...
            raise ConfigError(f"cannot build {id} with kwargs {kwargs}: {err}") from err

    def frames_per_step(self, id: str | None, **kwargs: Any) -> int:
        """ALE ids registered in Gymnasium skip ``frameskip`` frames per step (an int; a random range
        counts 1); every other env: 1."""
        if not id or id not in gym.registry:
            return 1
        frameskip = {**gym.registry[id].kwargs, **kwargs}.get("frameskip", 1)
        return int(frameskip) if isinstance(frameskip, int) and frameskip >= 1 else 1

    def ids(self) -> list[str]:
        return sorted(gym.registry)

    def handles(self, id: str) -> bool:
        return id in gym.registry
