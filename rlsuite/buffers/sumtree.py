"""Numba sum tree + min tree for proportional prioritized replay (Schaul et al. 2016).

Layout: an implicit binary tree in a flat array of length ``2 * S`` (``S`` = capacity rounded up
to a power of two); the root is at index 1, node ``i`` has children ``2i`` and ``2i + 1`` and the
leaves sit at ``S .. 2S - 1``.  Every parent is *recomputed* from its two children on update
(never incremented by a delta), so the totals carry no drift under any number of updates.

The min tree mirrors the sum tree with ``min`` instead of ``+``; empty leaves hold ``+inf`` there
and ``0`` in the sum tree, so zero-priority slots are never sampled and never set the max weight.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True, inline="always")
def tree_set_leaf(sum_tree: np.ndarray, min_tree: np.ndarray, leaf: int, v: float) -> None:
    """Set leaf ``leaf`` to ``v`` (0 = empty) and recompute its ancestors up to the root."""
    j = leaf + sum_tree.shape[0] // 2
    sum_tree[j] = v
    min_tree[j] = v if v > 0.0 else np.inf
    j >>= 1
    while j >= 1:
        left = 2 * j
        sum_tree[j] = sum_tree[left] + sum_tree[left + 1]
        a = min_tree[left]
        b = min_tree[left + 1]
        min_tree[j] = a if a < b else b
        j >>= 1


@nb.njit(cache=True, nogil=True)
def tree_set(sum_tree: np.ndarray, min_tree: np.ndarray, idx: np.ndarray, values: np.ndarray) -> None:
    """Set leaves ``idx`` to ``values`` (already ``(p+eps)^alpha``; 0 = empty) and fix the parents."""
    for k in range(idx.shape[0]):
        tree_set_leaf(sum_tree, min_tree, idx[k], values[k])


@nb.njit(cache=True, nogil=True, inline="always")
def tree_find(sum_tree: np.ndarray, u: float) -> int:
    """Leaf ``i`` with ``prefix(i) <= u < prefix(i) + p_i`` (the first such ``i`` with ``p_i > 0``).

    ``u`` must lie in ``[0, total)``.  When rounding pushes ``u`` past a subtree's mass the descent
    goes left instead of into an empty right subtree, so a zero-priority leaf is never returned.
    """
    size = sum_tree.shape[0] // 2
    j = 1
    while j < size:
        left = 2 * j
        lv = sum_tree[left]
        if u < lv or sum_tree[left + 1] <= 0.0:
            j = left
        else:
            u -= lv
            j = left + 1
    return j - size


@nb.njit(cache=True, nogil=True)
def tree_find_batch(sum_tree: np.ndarray, u: np.ndarray) -> np.ndarray:
    out = np.empty(u.shape[0], np.int64)
    for k in range(u.shape[0]):
        out[k] = tree_find(sum_tree, u[k])
    return out


@nb.njit(cache=True, nogil=True)
def tree_rebuild(sum_tree: np.ndarray, min_tree: np.ndarray) -> None:
    """Recompute every internal node from the leaves (after loading leaves from a checkpoint)."""
    size = sum_tree.shape[0] // 2
    for j in range(size, 2 * size):
        if sum_tree[j] <= 0.0:
            min_tree[j] = np.inf
        else:
            min_tree[j] = sum_tree[j]
    for j in range(size - 1, 0, -1):
        sum_tree[j] = sum_tree[2 * j] + sum_tree[2 * j + 1]
        min_tree[j] = min(min_tree[2 * j], min_tree[2 * j + 1])


class SumTree:
    """Thin object wrapper: ``capacity`` leaves, sums and minimums over float64 priorities."""

    def __init__(self, capacity: int) -> None:
        size = 1
        while size < capacity:
            size *= 2
        self.capacity = int(capacity)
        self.size = size
        self.sum_tree = np.zeros(2 * size, np.float64)
        self.min_tree = np.full(2 * size, np.inf, np.float64)

    @property
    def total(self) -> float:
        return float(self.sum_tree[1])

    @property
    def min(self) -> float:
        return float(self.min_tree[1])

    def set(self, idx: np.ndarray, values: np.ndarray) -> None:
        tree_set(self.sum_tree, self.min_tree, np.asarray(idx, np.int64).ravel(),
                 np.asarray(values, np.float64).ravel())

    def get(self, idx: np.ndarray) -> np.ndarray:
        return self.sum_tree[np.asarray(idx, np.int64) + self.size]

    def find(self, u: np.ndarray) -> np.ndarray:
        return tree_find_batch(self.sum_tree, np.asarray(u, np.float64).ravel())

    def leaves(self) -> np.ndarray:
        return self.sum_tree[self.size:self.size + self.capacity]

    def load_leaves(self, leaves: np.ndarray) -> None:
        self.sum_tree[:] = 0.0
        self.sum_tree[self.size:self.size + self.capacity] = leaves
        tree_rebuild(self.sum_tree, self.min_tree)
