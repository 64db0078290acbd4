"""2D navigation (Finn et al. 2017, MAML, section 5.3; the point env of cbfinn/maml_rl and
pytorch-maml-rl): a point starts at the origin, the goal g is uniform in [−0.5, 0.5]², actions
(velocities) are clipped to [−0.1, 0.1]², the reward after each move is −‖x − g‖, and the horizon
is 100 steps. As in both reference implementations an episode also ends once |x − g| < 0.01 in
both coordinates (later steps earn 0 here).

``oracle=True`` appends the goal to the observation: the oracle baseline of the paper's table.

Action units. The paper's code (cbfinn/maml_rl) wraps the point env in rllab's ``normalize``, which
gives the policy the action space [−1, 1]² and rescales an action a to 0.1·a (then clips to ±0.1):
the Gaussian policy's initial σ = 1 is 0.1 in env units, on the scale of the largest move.
pytorch-maml-rl clips the raw action to ±0.1 instead, so the same σ = 1 is ten times the largest
move and almost every early action is clipped to a corner. ``normalized_actions=True`` (default) is
the paper's code; ``False`` is pytorch-maml-rl's env.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from rlsuite.meta.tasks import RowStep, TaskDistribution, TaskParams, VecTaskEnv


class Navigation2D(TaskDistribution):
    def __init__(self, horizon: int = 100, oracle: bool = False, low: float = -0.5, high: float = 0.5,
                 normalized_actions: bool = True):
        self.horizon, self.oracle, self.low, self.high = int(horizon), bool(oracle), float(low), float(high)
        self.normalized_actions = bool(normalized_actions)
        self.name = "navigation2d" + ("-oracle" if oracle else "")

    def sample_params(self, rng: np.random.Generator, n: int) -> TaskParams:
        return {"goal": rng.uniform(self.low, self.high, size=(n, 2))}

    def make_vec(self) -> VecNavigation:
        return VecNavigation(self.horizon, self.oracle, self.normalized_actions)


class VecNavigation(VecTaskEnv):
    max_speed = 0.1
    goal_tolerance = 0.01

    def __init__(self, horizon: int, oracle: bool, normalized_actions: bool = True):
        super().__init__()
        self.horizon, self.oracle = horizon, oracle
        # rllab's normalize: policy actions in [-1, 1] are velocities of 0.1 x action.
        self.action_scale = self.max_speed if normalized_actions else 1.0
        dim = 4 if oracle else 2
        bound = self.max_speed / self.action_scale
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-bound, bound, shape=(2,), dtype=np.float32)
        self.position = np.zeros((0, 2))

    def _obs(self) -> np.ndarray:
        parts = [self.position, self.row_params["goal"]] if self.oracle else [self.position]
        return np.concatenate(parts, axis=1).astype(np.float32)

    def _reset_rows(self) -> np.ndarray:
        self.position = np.zeros((self.n_rows, 2))
        return self._obs()

    def _step_rows(self, actions: np.ndarray, noise: dict[str, np.ndarray]) -> RowStep:
        velocity = np.clip(self.action_scale * actions.reshape(self.n_rows, 2), -self.max_speed, self.max_speed)
        # Rows that already reached the goal stay put (their reward is masked to 0 by the base class).
        self.position = self.position + np.where(self.alive[:, None], velocity, 0.0)
        offset = self.position - self.row_params["goal"]
        reward = -np.sqrt(np.asarray((offset**2).sum(axis=1)))
        reached = np.asarray((np.abs(offset) < self.goal_tolerance).all(axis=1))
        return self._obs(), reward, reached
