"""Shared pieces of the benchmark scripts.

The scripts run as ``python benchmarks/<name>.py``, which puts this folder first on ``sys.path``, so
they import this module as ``common`` (falling back from the package-relative ``.common``).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

# steps/s from wall time, or from this process's CPU time (for a busy machine): ``--clock``
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def cpu_model() -> str:
    """This machine's CPU model name (for the ``hardware`` of a stored result)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_description() -> str:
    """``<cores>-core <CPU model>``."""
    return f"{os.cpu_count()}-core {cpu_model()}"


def library_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed version of each distribution in ``names`` ("not installed" where absent)."""
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


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
