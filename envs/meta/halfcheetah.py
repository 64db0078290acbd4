"""HalfCheetah velocity and direction tasks (Finn et al. 2017, section 5.3) on Gymnasium's MuJoCo
``HalfCheetah-v5``, with pytorch-maml-rl's task rewards and its horizon of **100** steps (the paper
used 200):

* velocity — goal speed v* ~ U[0, 2] per task; reward −|v_x − v*| − 0.05‖a‖²;
* direction — d ∈ {−1, +1} with probability ½ each per task; reward d·v_x − 0.05‖a‖².

v_x is Gymnasium's forward velocity (x after − x before) / dt of the torso. Actions are clipped to
the action space [−1, 1]⁶ before stepping and before the control cost (as rllab's ``normalize``,
which the paper's code used). The physics is the cost here, so rows are not one NumPy array: each
row owns a MuJoCo env, stepped in a loop. ``oracle=True`` appends the task's goal (velocity or
direction) to the observation: the paper's oracle baseline. Reset noise is Gymnasium's (uniform ±0.1 on positions,
normal 0.1 on velocities), seeded per row from a counter, so a batch of episodes is repeatable.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rlsuite.errors import ConfigError
from rlsuite.meta.tasks import RowStep, TaskDistribution, TaskParams, VecTaskEnv

CTRL_COST = 0.05  # pytorch-maml-rl: 0.5 * 1e-1 * sum(a^2)


class HalfCheetahTasks(TaskDistribution):
    """``kind`` is ``vel`` (goal velocity) or ``dir`` (goal direction)."""

    kinds = ("vel", "dir")

    def __init__(self, kind: str = "vel", horizon: int = 100, low: float = 0.0, high: float = 2.0,
                 oracle: bool = False):
        if kind not in self.kinds:
            raise ConfigError(f"unknown HalfCheetah task kind '{kind}'; accepted: {', '.join(self.kinds)}")
        self.kind, self.horizon, self.low, self.high = kind, int(horizon), float(low), float(high)
        self.oracle = bool(oracle)
        self.name = f"halfcheetah_{kind}" + ("-oracle" if oracle else "")

    def sample_params(self, rng: np.random.Generator, n: int) -> TaskParams:
        if self.kind == "vel":
            return {"velocity": rng.uniform(self.low, self.high, size=n)}
        return {"direction": np.where(rng.random(n) < 0.5, -1.0, 1.0)}

    def make_vec(self) -> VecHalfCheetah:
        return VecHalfCheetah(self.kind, self.horizon, self.oracle)


class HalfCheetahVel(HalfCheetahTasks):
    def __init__(self, horizon: int = 100, low: float = 0.0, high: float = 2.0, oracle: bool = False):
        super().__init__("vel", horizon, low, high, oracle)


class HalfCheetahDir(HalfCheetahTasks):
    def __init__(self, horizon: int = 100, oracle: bool = False):
        super().__init__("dir", horizon, oracle=oracle)


def task_reward(kind: str, row_params: TaskParams, x_velocity: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """The task reward of every row from its forward velocity and (clipped) action."""
    ctrl = CTRL_COST * (actions**2).sum(axis=1)
    if kind == "vel":
        return -np.abs(x_velocity - row_params["velocity"]) - ctrl
    return row_params["direction"] * x_velocity - ctrl


class VecHalfCheetah(VecTaskEnv):
    def __init__(self, kind: str, horizon: int, oracle: bool = False):
        super().__init__()
        self.kind, self.horizon, self.oracle = kind, horizon, oracle
        self.envs: list[Any] = [self._make()]
        dim = int(np.prod(self.envs[0].observation_space.shape)) + int(oracle)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float32)
        self.action_space = self.envs[0].action_space
        self.resets = 0

    @staticmethod
    def _make() -> Any:
        # The bare MuJoCo env: our horizon ends the episode, HalfCheetah never terminates by itself.
        return gym.make("HalfCheetah-v5").unwrapped

    def _reset_rows(self) -> np.ndarray:
        while len(self.envs) < self.n_rows:
            self.envs.append(self._make())
        self.resets += 1
        base = self.resets * 1_000_003
        return self._obs(np.stack([self.envs[b].reset(seed=base + b)[0] for b in range(self.n_rows)]))

    def _obs(self, physics: np.ndarray) -> np.ndarray:
        if self.oracle:
            goal = self.row_params["velocity" if self.kind == "vel" else "direction"]
            physics = np.concatenate([physics, np.asarray(goal, dtype=np.float64).reshape(-1, 1)], axis=1)
        return physics.astype(np.float32)

    def _step_rows(self, actions: np.ndarray, noise: dict[str, np.ndarray]) -> RowStep:
        actions = np.clip(actions.reshape(self.n_rows, -1), -1.0, 1.0)
        obs, velocity = [], np.zeros(self.n_rows)
        for b in range(self.n_rows):
            o, _, _, _, info = self.envs[b].step(actions[b])
            obs.append(o)
            velocity[b] = info["x_velocity"]
        reward = task_reward(self.kind, self.row_params, velocity, actions)
        return self._obs(np.stack(obs)), reward, np.zeros(self.n_rows, dtype=bool)
