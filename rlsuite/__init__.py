"""rlsuite: classic reinforcement-learning agents, correct to the paper, fast on CPU and GPU.

    import rlsuite
    agent = rlsuite.make_agent("dqn", env="CartPole-v1", seed=0, double=True, lr=1e-3)
    agent.learn(total_steps=50_000)
    res = rlsuite.evaluate(agent, env="CartPole-v1", episodes=20, seed=1000)
    agent.save("out/model"); agent = rlsuite.load("out/model")
    run = rlsuite.train(["agent=ppo", "env=CartPole-v1", "total_steps=100000"])

Heavy modules (torch, gymnasium) load on first use, so ``rlsuite leaderboard`` and ``rlsuite list``
start quickly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rlsuite.errors import (
    CheckpointError,
    ConfigError,
    IncompatibleEnvError,
    LeaderboardError,
    NonFiniteError,
    RLSuiteError,
    UnknownNameError,
)

if TYPE_CHECKING:
    from rlsuite.agent import Agent, AgentConfig, load, make_agent
    from rlsuite.eval.evaluate import EvalResult, evaluate

__version__ = "0.1.0"

_LAZY = {
    "Agent": "rlsuite.agent",
    "AgentConfig": "rlsuite.agent",
    "load": "rlsuite.agent",
    "make_agent": "rlsuite.agent",
    "EvalResult": "rlsuite.eval.evaluate",
    "evaluate": "rlsuite.eval.evaluate",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rlsuite' has no attribute {name!r}")


def train(overrides: list[str] | None = None) -> Any:
    """Do what ``rlsuite train <overrides>`` does and return the :class:`rlsuite.run.Run`."""
    from rlsuite.run import train as _train

    return _train(overrides)


__all__ = [
    "Agent",
    "AgentConfig",
    "CheckpointError",
    "ConfigError",
    "EvalResult",
    "IncompatibleEnvError",
    "LeaderboardError",
    "NonFiniteError",
    "RLSuiteError",
    "UnknownNameError",
    "evaluate",
    "load",
    "make_agent",
    "train",
]
