"""MDP baselines: finite-horizon DP by hand; PSRL beats random on random MDPs."""

from __future__ import annotations

import numpy as np
from rlsuite.envs.meta import RandomMDPs

from rlsuite.meta.mdp_baselines import finite_horizon_q, run_mdp_strategy


def test_finite_horizon_q_by_hand():
    # 2 states, 2 actions. Action 0 stays (reward 1 in state 0, 0 in state 1); action 1 moves to
    # state 1 for reward 0 from state 0, and stays in state 1 for reward 3.
    mean = np.array([[[1.0, 0.0], [0.0, 3.0]]])
    trans = np.zeros((1, 2, 2, 2))
    trans[0, 0, 0, 0] = trans[0, 0, 1, 1] = trans[0, 1, 0, 1] = trans[0, 1, 1, 1] = 1.0
    q = finite_horizon_q(mean, trans, horizon=3)
    # Last step: Q = μ. Two steps left from state 0: stay (1 + 1) or move (0 + 3) -> 3.
    np.testing.assert_allclose(q[2, 0], [[1, 0], [0, 3]])
    np.testing.assert_allclose(q[1, 0], [[2, 3], [3, 6]])
    np.testing.assert_allclose(q[0, 0], [[4, 6], [6, 9]])


def test_psrl_beats_random_and_random_earns_the_prior_mean():
    dist = RandomMDPs()
    params = dist.sample_params(np.random.default_rng(0), 300)
    rand = run_mdp_strategy("random", dist, params, 10, np.random.default_rng(1))
    psrl = run_mdp_strategy("psrl", dist, params, 10, np.random.default_rng(1))
    # A random policy earns E[μ] = 1 per step: 100 over 10 episodes of 10 steps.
    assert abs(rand.mean() - 100) < 3
    assert psrl.mean() > rand.mean() + 20
