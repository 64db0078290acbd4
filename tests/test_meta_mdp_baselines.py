"""MDP baselines: finite-horizon DP by hand; PSRL beats random on random MDPs."""

from __future__ import annotations

import numpy as np
import pytest
from rlsuite.envs.meta import RandomMDPs
from rlsuite.envs.meta.mdp_baselines import finite_horizon_q, run_mdp_strategy


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


def test_optimistic_expectation_by_hand():
    from rlsuite.envs.meta.mdp_baselines import optimistic_expectation

    v = np.array([[0.0, 10.0, 5.0]])  # best next state 1, worst 0
    p_hat = np.array([0.5, 0.2, 0.3]).reshape(1, 1, 1, 3)
    # radius 0.4: +0.2 on state 1, −0.2 from state 0 -> (0.3, 0.4, 0.3): 4 + 1.5
    assert optimistic_expectation(p_hat, np.array([[[0.4]]]), v)[0, 0, 0] == pytest.approx(5.5)
    # radius 1.4: +0.7 on state 1 takes all 0.5 of state 0 and 0.2 of state 2 -> (0, 0.9, 0.1)
    assert optimistic_expectation(p_hat, np.array([[[1.4]]]), v)[0, 0, 0] == pytest.approx(9.5)
    # radius 0: the empirical expectation
    assert optimistic_expectation(p_hat, np.array([[[0.0]]]), v)[0, 0, 0] == pytest.approx(3.5)


def test_ucrl2_beats_random():
    dist = RandomMDPs()
    params = dist.sample_params(np.random.default_rng(0), 200)
    rand = run_mdp_strategy("random", dist, params, 10, np.random.default_rng(1))
    ucrl2 = run_mdp_strategy("ucrl2", dist, params, 10, np.random.default_rng(1), ucrl2_scale=0.1)
    assert ucrl2.mean() > rand.mean() + 20
