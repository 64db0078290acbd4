"""Proportional prioritized replay (Schaul et al. 2016) on a Numba sum tree + min tree."""

from __future__ import annotations

from typing import Any

import numpy as np

from .kernels import per_weights_kernel, sample_tree_kernel, update_priorities_kernel
from .replay import _MAX_RETRIES, ReplayBatch, ReplayBuffer
from .sumtree import SumTree, tree_set


class PrioritizedReplayBuffer(ReplayBuffer):
    """``P(i) = p_i / Σ_j p_j`` with stored ``p_i = (|δ_i| + eps)^alpha``.

    * New transitions enter at the largest stored priority seen so far (1.0 at the start).
    * :meth:`sample` is stratified: the total mass is cut into ``batch_size`` equal segments and
      one point is drawn uniformly in each (``u_b = (b + U_b) · total / B``), then found by a
      prefix-sum descent of the tree.  A point that lands on a transition that cannot be sampled
      yet (n-step window or frame stack crossing the write cursor; a tiny share of the mass) is
      redrawn uniformly over the whole mass.
    * Importance weights ``w_i = (N·P(i))^-β / max_j w_j = (p_i / p_min)^-β`` (float32), with
      ``p_min`` from the min tree.
    * β is the caller's: the agent owns the annealing schedule (DQN: ``beta0 → 1`` over the budget).
    * :meth:`update_priorities` takes ``|δ|`` (or a per-sample loss) and stores ``(p+eps)^alpha``.
    """

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], obs_dtype: Any = np.float32,
                 action_shape: tuple[int, ...] = (), action_dtype: Any = np.int64, *, n_envs: int = 1,
                 n_step: int = 1, gamma: float = 0.99, frame_stack: int = 1, seed: int = 0,
                 alpha: float = 0.6, eps: float = 1e-6,
                 action_storage_dtype: Any = None, n_actions: int | None = None, pin_memory: bool = False) -> None:
        super().__init__(capacity, obs_shape, obs_dtype, action_shape, action_dtype, n_envs=n_envs,
                         n_step=n_step, gamma=gamma, frame_stack=frame_stack, seed=seed,
                         action_storage_dtype=action_storage_dtype, n_actions=n_actions, pin_memory=pin_memory)
        self.alpha = float(alpha)
        self.eps = float(eps)
        self.tree = SumTree(self.capacity)
        self.max_priority = 1.0
        self._ones = np.ones(n_envs, np.float64)
        self._zeros = np.zeros(n_envs, np.float64)

    def storage_bytes(self, capacity: int) -> int:
        size = 1 << max(int(capacity) - 1, 0).bit_length()  # the sum tree's power-of-two leaf count
        tree_bytes = 2 * 2 * size * 8 if capacity > 1 else 32  # sum and min trees, float64
        return super().storage_bytes(capacity) + tree_bytes

    @property
    def nbytes(self) -> int:
        return super().nbytes + int(self.tree.sum_tree.nbytes + self.tree.min_tree.nbytes)

    def _after_add(self, written: np.ndarray, pending: np.ndarray) -> None:
        # the pending / end-marker slot gets 0 first: with one env per segment it never equals written
        tree_set(self.tree.sum_tree, self.tree.min_tree, pending, self._zeros)
        tree_set(self.tree.sum_tree, self.tree.min_tree, written, self._ones * self.max_priority)

    def sample(self, batch_size: int, beta: float = 1.0) -> ReplayBatch:
        """A stratified batch with importance weights ``(p_i / p_min)^-beta`` (β = 1: full correction)."""
        if self.tree.sum_tree[1] <= 0.0:
            self._check_nonempty()
        b = float(beta)
        total = self.tree.total
        outs = self._outputs(batch_size)
        idx = np.empty(batch_size, np.int64)
        prio = np.empty(batch_size, np.float64)
        ok = np.zeros(batch_size, np.bool_)
        u = (np.arange(batch_size) + self.rng.random(batch_size)) * (total / batch_size)
        for _ in range(_MAX_RETRIES):
            np.minimum(u, np.nextafter(total, 0.0), out=u)
            missing = sample_tree_kernel(u, ok, idx, prio, self.tree.sum_tree, self.segment, self.frame_stack,
                                         self.n_step, self._pos, self._size, self._obs, self._act, self._rew,
                                         self._flags, self._gpow, *outs)
            if missing == 0:
                weights = np.empty(batch_size, np.float32)
                per_weights_kernel(prio, self.tree.min, b, weights)
                return self._batch(outs, idx, weights)
            self._check_nonempty()
            u = self.rng.random(batch_size) * total
        raise ValueError("no sampleable transitions yet (n-step windows or frame stacks incomplete)")

    def update_priorities(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        """Set the priorities of sampled ``indices`` from ``|δ|`` (stored as ``(|δ|+eps)^alpha``)."""
        idx = np.ascontiguousarray(indices, dtype=np.int64).ravel()
        pr = np.ascontiguousarray(priorities, dtype=np.float64).ravel()
        if idx.shape != pr.shape:
            raise ValueError("indices and priorities must have the same length")
        mx = update_priorities_kernel(self.tree.sum_tree, self.tree.min_tree, idx, pr, self.eps, self.alpha,
                                      self.capacity)
        if mx > self.max_priority:
            self.max_priority = float(mx)

    def state_dict(self) -> dict[str, Any]:
        d = super().state_dict()
        d["priorities"] = self.tree.leaves()
        d["max_priority"] = self.max_priority
        d["config"].update(alpha=self.alpha, eps=self.eps)
        return d

    def load_state_dict(self, d: dict[str, Any]) -> None:
        super().load_state_dict(d)
        self.tree.load_leaves(np.asarray(d["priorities"], np.float64))
        self.max_priority = float(d["max_priority"])
