"""A tiny third-party rlsuite plugin: an env and an agent registered exactly as the built-ins are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from rlsuite import Agent, AgentConfig
from rlsuite.offpolicy import Transition, run_step_loop


class Corridor(gym.Env):
    """A corridor of cells: walk right to the goal (+1), each step costs 0.01."""

    def __init__(self, length: int = 6):
        self.length = length
        self.observation_space = gym.spaces.Discrete(length)
        self.action_space = gym.spaces.Discrete(2)  # 0 left, 1 right

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.pos = 0
        self.t = 0
        return self.pos, {}

    def step(self, action):
        self.pos = max(0, min(self.length - 1, self.pos + (1 if int(action) == 1 else -1)))
        self.t += 1
        done = self.pos == self.length - 1
        return self.pos, (1.0 if done else -0.01), done, self.t >= 50, {}


@dataclass
class MCConfig(AgentConfig):
    epsilon: float = 0.2


class MonteCarloControl(Agent):
    """Every-visit Monte-Carlo control with an epsilon-greedy policy (a plugin agent)."""

    name = "mc_control"
    description = "Every-visit Monte-Carlo control (demo third-party plugin)"
    Config = MCConfig
    observation_spaces = (gym.spaces.Discrete,)
    action_spaces = (gym.spaces.Discrete,)
    persistent = ("q", "counts")
    persistent_for_acting = ("q",)

    def setup(self) -> None:
        self.q = np.zeros((self.observation_space.n, self.action_space.n))
        self.counts = np.zeros_like(self.q)
        self.episode: list[tuple[int, int, float]] = []

    def act(self, obs: Any, deterministic: bool = True) -> Any:
        actions = self.q[np.atleast_1d(obs)].argmax(axis=1)
        return int(actions[0]) if np.ndim(obs) == 0 else actions

    def explore(self, obs: np.ndarray) -> np.ndarray:
        if self.rng.random() < self.config.epsilon:
            return self.rng.integers(0, self.action_space.n, size=1)
        return self.act(obs)

    def observe(self, t: Transition) -> None:
        self.episode.append((int(t.obs[0]), int(t.actions[0]), float(t.rewards[0])))
        if t.terminated[0] or t.truncated[0]:
            g = 0.0
            for s, a, r in reversed(self.episode):
                g = r + self.config.gamma * g
                self.counts[s, a] += 1
                self.q[s, a] += (g - self.q[s, a]) / self.counts[s, a]
            self.episode = []

    def on_segment_start(self) -> None:
        self.episode = []

    def train_until(self, until_step: int) -> None:
        run_step_loop(self, until_step)
