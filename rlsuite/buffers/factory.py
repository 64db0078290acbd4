"""Build a replay buffer from gymnasium spaces."""

from __future__ import annotations

from typing import Any

import numpy as np

from .prioritized import PrioritizedReplayBuffer
from .replay import ReplayBuffer


def make_replay_buffer(capacity: int, observation_space: Any, action_space: Any, *, n_envs: int = 1,
                       n_step: int = 1, gamma: float = 0.99, prioritized: bool = False, alpha: float = 0.6,
                       seed: int = 0,
                       pin_memory: bool = False) -> ReplayBuffer:
    """Uniform or prioritized buffer for single-env spaces (``n_envs`` parallel copies).

    uint8 image stacks (``ndim == 3``, dtype uint8, e.g. ``(4, 84, 84)``) get lean frame storage
    (``frame_stack = shape[0]``).  ``Discrete(n)`` actions are returned as int64 but stored in the
    flags byte when ``n <= 32``, as uint8 when ``n <= 256`` and as int32 otherwise."""
    obs_shape = tuple(observation_space.shape)
    obs_dtype = np.dtype(observation_space.dtype)
    frame_stack = obs_shape[0] if (len(obs_shape) == 3 and obs_dtype == np.uint8) else 1
    n_actions = None
    if hasattr(action_space, "n") and not hasattr(action_space, "nvec"):
        action_shape: tuple[int, ...] = ()
        action_dtype: Any = np.int64
        start = int(getattr(action_space, "start", 0))
        n = int(action_space.n) + start
        storage: Any = np.uint8 if start >= 0 and n <= 256 else np.int32
        n_actions = n if start >= 0 else None
    else:
        action_shape = tuple(action_space.shape)
        action_dtype = np.dtype(action_space.dtype)
        storage = None
    kw = dict(n_envs=n_envs, n_step=n_step, gamma=gamma, frame_stack=frame_stack, seed=seed,
              action_storage_dtype=storage, n_actions=n_actions, pin_memory=pin_memory)
    if prioritized:
        return PrioritizedReplayBuffer(capacity, obs_shape, obs_dtype, action_shape, action_dtype,
                                       alpha=alpha, **kw)
    return ReplayBuffer(capacity, obs_shape, obs_dtype, action_shape, action_dtype, **kw)
