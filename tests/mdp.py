"""Small tabular MDPs with known models, and dynamic programming to solve them exactly."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class RandomMDP(gym.Env):
    """A stochastic episodic MDP: states 0..n-2 are live, state n-1 is terminal; episodes start in a
    uniformly random live state (exploring starts, so every state is visited often). Transitions are
    drawn from a Dirichlet, expected rewards from a normal."""

    def __init__(self, n_states: int = 5, n_actions: int = 2, seed: int = 0, reward_noise: float = 0.0):
        rng = np.random.default_rng(seed)
        self.n_states, self.n_actions = n_states, n_actions
        self.P = rng.dirichlet(np.ones(n_states) * 0.7, size=(n_states, n_actions))
        self.R = rng.normal(0.0, 1.0, size=(n_states, n_actions))
        self.reward_noise = reward_noise
        self.observation_space = gym.spaces.Discrete(n_states)
        self.action_space = gym.spaces.Discrete(n_actions)
        self.terminal = n_states - 1
        self.cum_P = np.cumsum(self.P, axis=2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = int(self.np_random.integers(0, self.n_states - 1))
        return self.s, {}

    def step(self, action):
        a = int(action)
        reward = self.R[self.s, a] + self.reward_noise * self.np_random.normal()
        self.s = min(int(np.searchsorted(self.cum_P[self.s, a], self.np_random.random())), self.n_states - 1)
        return self.s, float(reward), self.s == self.terminal, False, {}


def q_value_iteration(P: np.ndarray, R: np.ndarray, gamma: float, terminal: np.ndarray,
                      epsilon: float = 0.0, iters: int = 100_000, tol: float = 1e-12) -> np.ndarray:
    """Q* (epsilon=0) or the optimal Q among epsilon-greedy policies (the fixed point SARSA with a
    constant epsilon converges to): Q(s,a) = R + γ Σ P(s'|s,a) (1-terminal(s')) V(s'),
    V(s') = (1-ε) max Q(s') + ε mean Q(s')."""
    q = np.zeros_like(R)
    for _ in range(iters):
        v = (1 - epsilon) * q.max(axis=1) + epsilon * q.mean(axis=1)
        new = R + gamma * P @ (v * (~terminal))
        if np.max(np.abs(new - q)) < tol:
            return new
        q = new
    return q


def model_of(env: gym.Env) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P, R, terminal) arrays from a toy-text env's ``P`` table."""
    table = env.unwrapped.P
    n_s, n_a = len(table), len(table[0])
    P = np.zeros((n_s, n_a, n_s))
    R = np.zeros((n_s, n_a))
    terminal = np.zeros(n_s, dtype=bool)
    for s in range(n_s):
        for a in range(n_a):
            for prob, s2, r, done in table[s][a]:
                P[s, a, s2] += prob
                R[s, a] += prob * r
                if done:
                    terminal[s2] = True
    return P, R, terminal
