"""Baselines of RL²'s table 2 on random tabular MDPs, vectorized over many MDPs: random actions and
posterior sampling for RL (PSRL, Osband et al. 2013).

PSRL, once per episode: draw an MDP from the posterior — mean rewards μ(s, a) from the conjugate
normal posterior of the task prior N(1, 1) with known reward noise N(0, 1) (precision 1 + n, mean
(1 + Σr) / (1 + n)), transitions from Dirichlet(1 + counts) — solve it by finite-horizon dynamic
programming, act greedily on the time-dependent Q for the episode, then update the counts.
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


def run_mdp_strategy(strategy: str, dist: RandomMDPs, params: dict[str, np.ndarray], episodes: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Total reward over ``episodes`` episodes of each MDP for ``strategy`` in {random, psrl}."""
    if strategy not in ("random", "psrl"):
        raise ValueError(f"unknown MDP strategy '{strategy}'; accepted: random, psrl")
    vec = dist.make_vec()
    vec.set_tasks(params)
    n, s_count, a_count = vec.n_rows, dist.n_states, dist.n_actions
    rows = np.arange(n)
    visits = np.zeros((n, s_count, a_count))
    reward_sum = np.zeros((n, s_count, a_count))
    next_counts = np.zeros((n, s_count, a_count, s_count))
    total = np.zeros(n)
    for _ in range(episodes):
        q = None
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
