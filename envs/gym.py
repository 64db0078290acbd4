"""Any registered Gymnasium id, as is (``env=CartPole-v1``, ``env=HalfCheetah-v5``)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from rlsuite.env_plugin import EnvPlugin
from rlsuite.errors import ConfigError, unknown


class GymPlugin(EnvPlugin):
    description = "Any registered Gymnasium environment id (classic control, toy text, Box2D, MuJoCo, ...)"
    provider = "gymnasium"

    def make(self, id: str | None, *, training: bool = True, render_mode: str | None = None, **kwargs: Any):
        if not id:
            raise ConfigError("the gym plugin needs an env id, e.g. env=CartPole-v1")
        if id not in gym.registry:
            raise unknown("Gymnasium env", id, list(gym.registry))
        try:
            return gym.make(id, render_mode=render_mode, **kwargs)
        except TypeError as err:  # unexpected kwargs from env.kwargs.<key>=...
            raise ConfigError(f"cannot build {id} with kwargs {kwargs}: {err}") from err

    def ids(self) -> list[str]:
        return sorted(gym.registry)

    def handles(self, id: str) -> bool:
        return id in gym.registry
