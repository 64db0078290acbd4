"""Partially observed variants of classic-control tasks, registered as Gymnasium ids by the gym plugin.

``CartPoleNoVel-v1``: CartPole-v1 with the cart and pole velocities removed from the observation
(cart position and pole angle only), as defined by sb3-contrib's RecurrentPPO tests and registered
by rl-baselines3-zoo (``rl_zoo3/import_envs.py``, 500-step episodes). A feed-forward policy sees
one frame and cannot tell which way the pole moves; a recurrent policy can infer the velocities.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

NO_VELOCITY_IDS = {"CartPoleNoVel-v1": "rlsuite.envs.pomdp:CartPoleNoVelEnv"}


class CartPoleNoVelEnv(CartPoleEnv):
    """CartPole observing ``(x, θ)`` only."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        high = np.array([self.x_threshold * 2, self.theta_threshold_radians * 2], dtype=np.float32)
        self.observation_space = gym.spaces.Box(-high, high, dtype=np.float32)

    @staticmethod
    def positions(full_obs: np.ndarray) -> np.ndarray:
        return np.array([full_obs[0], full_obs[2]], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        obs, info = super().reset(seed=seed, options=options)
        return self.positions(obs), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = super().step(action)
        return self.positions(obs), float(reward), terminated, truncated, info


def register() -> None:
    """Register the ids with Gymnasium (idempotent)."""
    for env_id, entry_point in NO_VELOCITY_IDS.items():
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=entry_point, max_episode_steps=500, reward_threshold=475.0)
