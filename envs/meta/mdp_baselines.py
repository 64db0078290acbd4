"""Baselines of RL²'s table 2 on random tabular MDPs, vectorized over many MDPs: random actions,
posterior sampling for RL (PSRL, Osband et al. 2013) and UCRL2 (Jaksch et al. 2010).

PSRL, once per episode: draw an MDP from the posterior — mean rewards μ(s, a) from the conjugate
normal posterior of the task prior N(1, 1) with known reward noise N(0, 1) (precision 1 + n, mean
(1 + Σr) / (1 + n)), transitions from Dirichlet(1 + counts) — solve it by finite-horizon dynamic
programming, act greedily on the time-dependent Q for the episode, then update the counts.

UCRL2, once per episode (the episodic form of the paper's baseline): with t steps taken so far and
N(s, a) visits, optimistic rewards r̂ + c·sqrt(7 ln(2SAt/δ) / (2 max(1, N))) and transitions anywhere
in the L1 ball of radius c·sqrt(14 S ln(2At/δ) / max(1, N)) around the empirical P̂ (uniform where
unvisited); finite-horizon optimistic DP (the inner maximum moves mass to the best next state and
takes it from the worst), greedy on it for the episode. δ = 0.05; the scale c is the tuned
hyperparameter (Jaksch et al.'s constants are worst-case bounds, loose at this size).

They live beside the env because they step its vectorized MDPs (:class:`VecMDPs`) directly.
"""

from __future__ import annotations

import numpy as np
from rlsuite.envs.meta.tabular_mdp import RandomMDPs


def finite_horizon_q(reward_mean: np.ndarray, transitions: np.ndarray, horizon: int) -> np.ndarray:
    """Q_t(s, a) = μ(s, a) + Σ_s' P(s' | s, a) max_a' Q_{t+1}(s', a'), Q_horizon = 0.
    Inputs ``(B, S, A)`` and ``(B, S, A, S)``; returns ``(horizon, B, S, A)``."""
    q = np.zeros((horizon, *reward_mean.shape))
    v_next = np.zeros(reward_mean.shape[:2])
    for t in range(horizon - 1, -1, -1):
        q[t] = reward_mean + np.einsum("bsan,bn->bsa", transitions, v_next)
        v_next = q[t].max(axis=2)
    return q


def optimistic_expectation(p_hat: np.ndarray, radius: np.ndarray, v: np.ndarray) -> np.ndarray:
    """max of p·v over distributions p with ‖p − p̂‖₁ ≤ radius: up to radius/2 more mass on the best
    next state, the same mass taken from the worst states first. ``p_hat (B, S, A, S)``,
    ``radius (B, S, A)``, ``v (B, S)``; returns ``(B, S, A)``."""
    order = np.argsort(-v, axis=1)  # best next state first
    v_sorted = np.take_along_axis(v, order, axis=1)[:, None, None, :]
    p = np.take_along_axis(p_hat, np.broadcast_to(order[:, None, None, :], p_hat.shape), axis=3).copy()
    added = np.minimum(radius / 2, 1.0 - p[..., 0])
    p[..., 0] += added
    worst_first = p[..., :0:-1]
    taken = np.minimum(np.cumsum(worst_first, axis=-1), added[..., None])
    worst_first = worst_first - np.diff(taken, axis=-1, prepend=0.0)
    p[..., 1:] = worst_first[..., ::-1]
    return np.asarray((p * v_sorted).sum(axis=-1))


def ucrl2_q(visits: np.ndarray, reward_sum: np.ndarray, next_counts: np.ndarray, t: int, horizon: int,
            scale: float, delta: float = 0.05) -> np.ndarray:
    """UCRL2's optimistic finite-horizon Q, ``(horizon, B, S, A)``."""
    s_count, a_count = visits.shape[1], visits.shape[2]
    n = np.maximum(visits, 1.0)
    log_term = np.log(2.0 * s_count * a_count * max(t, 1) / delta)
    reward = reward_sum / n + scale * np.sqrt(7.0 * log_term / (2.0 * n))
    radius = scale * np.sqrt(14.0 * s_count * np.log(2.0 * a_count * max(t, 1) / delta) / n)
    p_hat = np.where(visits[..., None] > 0, next_counts / n[..., None], 1.0 / s_count)
    q = np.zeros((horizon, *visits.shape))
    v_next = np.zeros(visits.shape[:2])
    for step in range(horizon - 1, -1, -1):
        q[step] = reward + optimistic_expectation(p_hat, radius, v_next)
        v_next = q[step].max(axis=2)
    return q


def run_mdp_strategy(strategy: str, dist: RandomMDPs, params: dict[str, np.ndarray], episodes: int,
                     rng: np.random.Generator, ucrl2_scale: float = 1.0) -> np.ndarray:
    """Total reward over ``episodes`` episodes of each MDP for ``strategy`` in {random, psrl, ucrl2}."""
    if strategy not in ("random", "psrl", "ucrl2"):
        raise ValueError(f"unknown MDP strategy '{strategy}'; accepted: random, psrl, ucrl2")
    vec = dist.make_vec()
    vec.set_tasks(params)
    n, s_count, a_count = vec.n_rows, dist.n_states, dist.n_actions
    rows = np.arange(n)
    visits = np.zeros((n, s_count, a_count))
    reward_sum = np.zeros((n, s_count, a_count))
    next_counts = np.zeros((n, s_count, a_count, s_count))
    total = np.zeros(n)
    for episode in range(episodes):
        q = None
        if strategy == "ucrl2":
            q = ucrl2_q(visits, reward_sum, next_counts, episode * dist.horizon, dist.horizon, ucrl2_scale)
        if strategy == "psrl":
            precision = 1.0 + visits
            mu = rng.normal((1.0 + reward_sum) / precision, 1.0 / np.sqrt(precision))
            draws = rng.gamma(1.0 + next_counts)
            q = finite_horizon_q(mu, draws / draws.sum(axis=-1, keepdims=True), dist.horizon)
        vec.reset()
        done = False
        while not done:
            state = vec.state.copy()
            if q is None:
                actions = rng.integers(0, a_count, size=n)
            else:
                actions = q[vec.t, rows, state].argmax(axis=1)
            _, reward, _, done = vec.step(actions, vec.draw_noise(rng))
            visits[rows, state, actions] += 1
            reward_sum[rows, state, actions] += reward
            next_counts[rows, state, actions, vec.state] += 1
            total += reward
    return total
