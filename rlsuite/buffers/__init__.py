"""Replay and rollout buffers with Numba hot paths.

* :class:`ReplayBuffer` — circular uniform replay over N envs, n-step returns at sample time,
  lean Atari frame storage (``frame_stack > 1``).
* :class:`PrioritizedReplayBuffer` — proportional PER on a sum tree + min tree.
* :class:`RolloutBuffer` and :func:`gae` — on-policy storage with GAE(λ).
* :func:`make_replay_buffer` — pick the right buffer from gymnasium spaces.
* :func:`to_torch` — hand a batch to torch without copies (pinned + non_blocking on CUDA).
"""

from .factory import make_replay_buffer
from .prioritized import PrioritizedReplayBuffer
from .replay import ReplayBatch, ReplayBuffer, to_torch
from .rollout import RolloutBatch, RolloutBuffer, gae
from .sumtree import SumTree

__all__ = ["PrioritizedReplayBuffer", "ReplayBatch", "ReplayBuffer", "RolloutBatch", "RolloutBuffer",
           "SumTree", "gae", "make_replay_buffer", "to_torch"]
