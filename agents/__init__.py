"""Built-in agents (installed as ``rlsuite.agents``): ``from rlsuite.agents import DQN, PPO``.

Classes are imported lazily so that ``import rlsuite`` stays fast and an agent with a missing
optional dependency does not break the others.
"""

from __future__ import annotations

import importlib
from typing import Any

_CLASSES = {
    "QLearning": "tabular",
    "Sarsa": "tabular",
    "ExpectedSarsa": "tabular",
    "DQN": "dqn",
    "Rainbow": "dqn",
    "DDPG": "ddpg",
    "TD3": "ddpg",
    "Reinforce": "reinforce",
    "A2C": "a2c",
    "A3C": "a3c",
    "PPO": "ppo",
    "TRPO": "trpo",
    "SB3": "sb3_adapter",
}


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        module = importlib.import_module(f"{__name__}.{_CLASSES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_CLASSES)
