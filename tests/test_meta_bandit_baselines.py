"""Bandit baselines on hand-checked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlsuite.meta.bandit_baselines import (
    epsilon_greedy,
    greedy,
    posterior_mean,
    random_strategy,
    run_strategy,
    thompson,
    ucb1,
    ucb1_index,
)


def test_ucb1_index_by_hand():
    counts, successes = np.array([[2.0, 1.0, 0.0]]), np.array([[1.0, 1.0, 0.0]])
    index = ucb1_index(counts, successes, t=3)
    assert index[0, 0] == pytest.approx(0.5 + math.sqrt(2 * math.log(3) / 2))  # 1.548
    assert index[0, 1] == pytest.approx(1.0 + math.sqrt(2 * math.log(3) / 1))  # 2.482
    assert index[0, 2] == math.inf  # never pulled: pulled first
    rng = np.random.default_rng(0)
    assert ucb1()(counts, successes, 3, rng)[0] == 2
    assert ucb1()(counts[:, :2], successes[:, :2], 3, rng)[0] == 1
    # A small constant trusts the means: arm 1 (1/1) over arm 0 (1/2) still, and with c = 0 pure means.
    assert ucb1(0.0)(np.array([[2.0, 1.0]]), np.array([[2.0, 0.0]]), 3, rng)[0] == 0


def test_greedy_uses_beta_posterior_mean_with_random_ties():
    counts, successes = np.array([[3.0, 1.0]]), np.array([[2.0, 0.0]])
    np.testing.assert_allclose(posterior_mean(counts, successes), [[3 / 5, 1 / 3]])
    rng = np.random.default_rng(0)
    assert greedy(counts, successes, 4, rng)[0] == 0
    ties = greedy(np.zeros((4000, 2)), np.zeros((4000, 2)), 0, rng)
    assert abs(ties.mean() - 0.5) < 0.03


def test_greedy_on_a_deterministic_bandit():
    # p = [0, 1]: a first pull of arm 1 earns 10 of 10; a first pull of arm 0 (posterior mean drops
    # to 1/3 < 1/2) switches to arm 1 for good: 9. Ties at t = 0 are 50/50, so the mean is 9.5.
    totals = run_strategy(greedy, np.tile([[0.0, 1.0]], (4000, 1)), 10, np.random.default_rng(1))
    assert set(np.unique(totals)) == {9.0, 10.0}
    assert abs(totals.mean() - 9.5) < 0.05


def test_epsilon_greedy_explores_at_rate_epsilon():
    counts, successes = np.array([[10.0, 10.0]]).repeat(20_000, 0), np.array([[9.0, 1.0]]).repeat(20_000, 0)
    arms = epsilon_greedy(0.2)(counts, successes, 20, np.random.default_rng(0))
    assert abs((arms == 1).mean() - 0.1) < 0.01  # explores 20 % of the time, half of that on arm 1


def test_thompson_probability_by_hand():
    # Arm 0 after one success: Beta(2, 1); arm 1 unpulled: Beta(1, 1) = U(0, 1).
    # P(X > U) = E[X] = 2/3.
    counts, successes = np.array([[1.0, 0.0]]).repeat(60_000, 0), np.array([[1.0, 0.0]]).repeat(60_000, 0)
    arms = thompson(counts, successes, 1, np.random.default_rng(0))
    assert abs((arms == 0).mean() - 2 / 3) < 0.01


def test_random_earns_mean_p_and_ucb1_beats_it():
    p = np.random.default_rng(3).uniform(size=(2000, 5))
    rand = run_strategy(random_strategy, p, 100, np.random.default_rng(0))
    assert rand.mean() == pytest.approx(100 * p.mean(), abs=0.5)
    assert run_strategy(ucb1(0.2), p, 100, np.random.default_rng(0)).mean() > rand.mean() + 20


def test_ucb1_prior_index_by_hand():
    from rlsuite.meta.bandit_baselines import ucb1_prior_index

    index = ucb1_prior_index(np.array([[0.0, 2.0]]), np.array([[0.0, 2.0]]), t=2, c=0.5)
    assert index[0, 0] == pytest.approx(0.5 + 0.5 * math.sqrt(2 * math.log(3) / 2))
    assert index[0, 1] == pytest.approx(0.75 + 0.5 * math.sqrt(2 * math.log(3) / 4))
