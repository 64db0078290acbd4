"""Random tabular MDPs (Duan et al. 2016, RL², section 4.1): ``n_states`` states, ``n_actions``
actions, episodes of ``horizon`` steps; per task, mean rewards μ(s, a) ~ N(1, 1) and transition
rows P(· | s, a) ~ Dirichlet(1, …, 1); each step's reward is r ~ N(μ(s, a), 1).

Every episode starts in state 0, as in pytorch-maml-rl's ``TabularMDPEnv`` (the paper does not
say; a random policy earns E[μ] = 1 per step either way, the paper's random column). The state is
observed one-hot.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from rlsuite.meta.tasks import RowStep, TaskDistribution, TaskParams, VecTaskEnv


class RandomMDPs(TaskDistribution):
    def __init__(self, n_states: int = 10, n_actions: int = 5, horizon: int = 10):
        self.n_states, self.n_actions, self.horizon = int(n_states), int(n_actions), int(horizon)
        self.name = f"tabular_mdp/s{self.n_states}-a{self.n_actions}-h{self.horizon}"

    def sample_params(self, rng: np.random.Generator, n: int) -> TaskParams:
        s, a = self.n_states, self.n_actions
        return {
            "reward_mean": rng.normal(1.0, 1.0, size=(n, s, a)),
            "transitions": rng.dirichlet(np.ones(s), size=(n, s, a)),
        }

    def make_vec(self) -> VecMDPs:
        return VecMDPs(self.n_states, self.n_actions, self.horizon)


class VecMDPs(VecTaskEnv):
    def __init__(self, n_states: int, n_actions: int, horizon: int):
        super().__init__()
        self.n_states, self.horizon = n_states, horizon
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(n_states,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(n_actions)
        self.state = np.zeros(0, dtype=np.int64)

    def _obs(self) -> np.ndarray:
        return np.eye(self.n_states, dtype=np.float32)[self.state]

    def _reset_rows(self) -> np.ndarray:
        self.state = np.zeros(self.n_rows, dtype=np.int64)
        return self._obs()

    def draw_noise(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"u": rng.random(self.n_rows), "z": rng.standard_normal(self.n_rows)}

    def _step_rows(self, actions: np.ndarray, noise: dict[str, np.ndarray]) -> RowStep:
        rows, a = np.arange(self.n_rows), actions.astype(np.int64)
        reward = self.row_params["reward_mean"][rows, self.state, a] + noise["z"]
        # Inverse-CDF draw of s' ~ P(· | s, a), all rows at once; the min() guards against the
        # last cumulative probability rounding to just below 1.
        cdf = np.cumsum(self.row_params["transitions"][rows, self.state, a], axis=1)
        next_state = (noise["u"][:, None] >= cdf).sum(axis=1)
        self.state = np.minimum(next_state, self.n_states - 1)
        return self._obs(), reward, np.zeros(self.n_rows, dtype=bool)
