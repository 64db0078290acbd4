"""Bandit baselines on hand-checked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlsuite.errors import ConfigError
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


def test_gittins_index_by_hand_and_against_the_published_table():
    from rlsuite.meta.bandit_baselines import gittins, gittins_table

    # One pull of look-ahead from Beta(1, 1), γ = 0.5: retiring is worth 2λ, playing once then
    # retiring or going on at 2/3 (success) or λ (failure) is 1/2 + (1/2)(2/3 + λ): equal at λ = 5/9.
    assert gittins_table(0.5, 1, depth=1)[1, 1] == pytest.approx(5 / 9, abs=1e-9)
    myopic = gittins_table(0.0, 6)  # γ = 0: the index is the posterior mean a / (a + b)
    for a, b in ((1, 1), (3, 2), (1, 6)):
        assert myopic[a, b] == pytest.approx(a / (a + b), abs=1e-9)
    table = gittins_table(0.9, 20, depth=200)
    assert table[1, 1] == pytest.approx(0.7029, abs=1e-4)  # the tabulated index of a uniform-prior arm at γ = 0.9
    a, b = np.meshgrid(np.arange(1, 10), np.arange(1, 10), indexing="ij")
    assert (table[a, b] > a / (a + b)).all()  # exploration is worth something
    assert (np.diff(table[1:10, 1:10], axis=0) > 0).all() and (np.diff(table[1:10, 1:10], axis=1) < 0).all()
    # The strategy pulls the arm with the highest index: a fresh arm (0.703) over a 3-of-5 arm (0.658).
    counts, successes = np.array([[5.0, 0.0]]), np.array([[3.0, 0.0]])
    assert table[4, 3] < table[1, 1]
    assert gittins(0.9, 20)(counts, successes, 5, np.random.default_rng(0))[0] == 1


def test_bayes_optimal_value_by_hand_and_by_simulation():
    from rlsuite.meta.bandit_baselines import bayes_optimal, bayes_optimal_value, greedy

    assert bayes_optimal_value(1, 5) == pytest.approx(0.5)  # one pull: E[p] = 1/2 whatever the arm
    assert bayes_optimal_value(4, 1) == pytest.approx(2.0)  # one arm: n · E[p]
    # Two pulls, two arms: pull one (1/2); after a success stay (posterior mean 2/3), after a
    # failure switch to the fresh arm (1/2 > 1/3): 1/2 + 1/2 · 2/3 + 1/2 · 1/2 = 13/12.
    assert bayes_optimal_value(2, 2) == pytest.approx(13 / 12)
    # k ≥ n: more arms than pulls add nothing (RL²'s n = 10, k = 10 and k = 50 cells share an optimum).
    assert bayes_optimal_value(10, 10) == pytest.approx(bayes_optimal_value(10, 50))
    assert bayes_optimal_value(10, 50) < 0.99 * 6.8  # the paper's k = 50 RL² figure is above the optimum
    p = np.random.default_rng(0).random((4000, 3))  # bandits drawn from the prior
    optimal = run_strategy(bayes_optimal(6, 3), p, 6, np.random.default_rng(1))
    sem = optimal.std(ddof=1) / np.sqrt(len(optimal))
    assert abs(optimal.mean() - bayes_optimal_value(6, 3)) < 3 * sem
    # Greedy is not optimal: on the same bandits and reward draws it earns less on average.
    assert run_strategy(greedy, p, 6, np.random.default_rng(1)).mean() < bayes_optimal_value(6, 3)
    with pytest.raises(ConfigError, match="n must be in"):
        bayes_optimal_value(100, 5)
