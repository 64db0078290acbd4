"""Shared pieces of the benchmark scripts.

The scripts run as ``python benchmarks/<name>.py``, which puts this folder first on ``sys.path``, so
they import this module as ``common`` (falling back from the package-relative ``.common``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

# steps/s from wall time, or from this process's CPU time (for a busy machine): ``--clock``
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def evaluate_greedy(predict_fn: Callable[[np.ndarray], Any], env_id: str, episodes: int = 20,
                    seed: int = 1000) -> np.ndarray:
    """Undiscounted return of each of ``episodes`` episodes of ``env_id``, episode ``i`` reset with
    seed ``seed + i``, acting with ``predict_fn(obs) -> action`` (one protocol for every library)."""
    env = gym.make(env_id)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(predict_fn(obs))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return np.asarray(returns)


def sb3_greedy(model: Any) -> Callable[[np.ndarray], Any]:
    """``predict_fn`` of a Stable-Baselines3 model: its deterministic action for one observation."""
    return lambda obs: model.predict(obs, deterministic=True)[0]
