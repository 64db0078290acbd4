"""Bernoulli multi-armed bandits (Duan et al. 2016, RL², section 4.1): ``k`` arms with success
probabilities p_i ~ U[0, 1], drawn once per task; a trial is ``n`` pulls of the same bandit.

The observation carries no information (a constant 0); a meta-learner learns from the rewards and
its own previous actions. The trial is one episode of horizon ``n``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from rlsuite.meta.tasks import RowStep, TaskDistribution, TaskParams, VecTaskEnv


class BernoulliBandits(TaskDistribution):
    def __init__(self, k: int = 5, n: int = 10):
        self.k, self.n = int(k), int(n)
        self.name = f"bandits/k{self.k}-n{self.n}"

    def sample_params(self, rng: np.random.Generator, n: int) -> TaskParams:
        return {"p": rng.uniform(0.0, 1.0, size=(n, self.k))}

    def make_vec(self) -> VecBandits:
        return VecBandits(self.k, self.n)


class VecBandits(VecTaskEnv):
    def __init__(self, k: int, n: int):
        super().__init__()
        self.k = k
        self.horizon = n
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(k)

    def _reset_rows(self) -> np.ndarray:
        return np.zeros((self.n_rows, 1), dtype=np.float32)

    def draw_noise(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"u": rng.random(self.n_rows)}

    def _step_rows(self, actions: np.ndarray, noise: dict[str, np.ndarray]) -> RowStep:
        p = self.row_params["p"][np.arange(self.n_rows), actions.astype(np.int64)]
        reward = (noise["u"] < p).astype(np.float64)
        return self._reset_rows(), reward, np.zeros(self.n_rows, dtype=bool)
