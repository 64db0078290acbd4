"""Running mean and variance of a stream of batches, and the exact merge of statistics that several
workers updated from one common prior (the on-policy normalizers and their rollout workers)."""

from __future__ import annotations

from typing import Any

import numpy as np


class RunningMeanStd:
    """Mean and variance of a stream of batches (Chan et al.'s parallel form of Welford's update:
    one vectorized update per batch, numerically stable)."""

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4):
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = float(epsilon)  # a tiny prior count, as in OpenAI baselines / SB3

    def update(self, batch: np.ndarray) -> None:
        batch = np.asarray(batch, np.float64)
        n = batch.shape[0]
        if n == 0:
            return
        batch_mean, batch_var = batch.mean(0), batch.var(0)
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean = self.mean + delta * (n / total)
        m2 = self.var * self.count + batch_var * n + delta**2 * (self.count * n / total)
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean = np.array(state["mean"], np.float64)
        self.var = np.array(state["var"], np.float64)
        self.count = float(state["count"])


def merge_running_stats(prior: dict[str, Any], updated: list[dict[str, Any]]) -> dict[str, Any]:
    """Observation statistics after every worker's increments: each worker started from ``prior`` and
    added its own observations; the increments are recovered and combined (Chan et al.'s parallel
    update), so one worker gives back its state exactly."""
    merged = RunningMeanStd()
    merged.load_state_dict(updated[0])
    c0, m0, v0 = float(prior["count"]), np.asarray(prior["mean"]), np.asarray(prior["var"])
    for state in updated[1:]:
        c, m, v = float(state["count"]), np.asarray(state["mean"]), np.asarray(state["var"])
        n = c - c0
        if n <= 0:
            continue
        batch_mean = (c * m - c0 * m0) / n
        batch_m2 = v * c - v0 * c0 - (batch_mean - m0) ** 2 * (c0 * n / c)
        total = merged.count + n
        delta = batch_mean - merged.mean
        m2 = merged.var * merged.count + batch_m2 + delta**2 * (merged.count * n / total)
        merged.mean = merged.mean + delta * (n / total)
        merged.var = m2 / total
        merged.count = total
    return merged.state_dict()
