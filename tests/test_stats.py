"""Statistics: IQM, bootstrap CIs, stratified bootstrap, profiles, human-normalized scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from rlsuite.errors import ConfigError, UnknownNameError
from rlsuite.eval.human_scores import HUMAN_RANDOM, canonical_game, human_normalized, is_atari
from rlsuite.eval.stats import (
    aggregate,
    bootstrap_ci,
    hierarchical_bootstrap_ci,
    iqm,
    optimality_gap,
    performance_profile,
    performance_profile_ci,
    stratified_bootstrap_ci,
    summarize,
)


def _iqm_by_hand(row: np.ndarray) -> float:
    """Independent IQM: sort, cut floor(n/4) from each end, average the rest."""
    s = np.sort(row)
    k = int(0.25 * s.size)
    return float(s[k : s.size - k].mean())


# --------------------------------------------------------------------------- IQM


def test_iqm_hand_computed():
    assert iqm(np.arange(1, 9)) == 4.5  # middle of 1..8 is 3,4,5,6
    assert iqm(list(range(1, 11))) == 5.5  # cut 2 each side of 1..10: 3..8
    assert iqm([0, 0, 1, 2, 3, 100, 100, 100]) == 26.5  # (1+2+3+100)/4
    assert iqm([7.0]) == 7.0
    assert iqm([1, 2, 3]) == 2.0  # int(0.75) = 0 cut: plain mean


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60))
def test_iqm_matches_scipy_trim_mean(xs):
    assert iqm(xs) == pytest.approx(scipy.stats.trim_mean(xs, 0.25), rel=1e-9, abs=1e-6)
    assert iqm(xs) == pytest.approx(_iqm_by_hand(np.asarray(xs)), rel=1e-9, abs=1e-6)


def test_iqm_axis_vectorised():
    m = np.array([[1, 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, 100]], float)
    np.testing.assert_allclose(iqm(m, axis=1), [4.5, 5.5])  # row 2 sorted: 2..8,100 -> (4+5+6+7)/4


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_degenerate_and_hand_computed():
    assert bootstrap_ci([5.0, 5.0, 5.0]) == (5.0, 5.0)
    # Mean of a resample of [0, 1] is 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4: the 2.5% and
    # 97.5% percentiles of 2000 draws are exactly 0 and 1.
    assert bootstrap_ci([0.0, 1.0], stat=np.mean) == (0.0, 1.0)


def test_bootstrap_ci_against_independent_numpy():
    x = np.array([3.0, -1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0, 8.0])
    rng = np.random.default_rng(7)
    idx = rng.integers(0, x.size, size=(2000, x.size))
    boots = np.array([_iqm_by_hand(x[i]) for i in idx])
    want = np.percentile(boots, [2.5, 97.5])
    got = bootstrap_ci(x, iqm, n_boot=2000, conf=0.95, seed=7)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert got[0] <= iqm(x) <= got[1]
    # a custom (non-vectorised) statistic takes the row-by-row path and gives the same numbers
    got2 = bootstrap_ci(x, lambda a: _iqm_by_hand(np.asarray(a)), n_boot=2000, seed=7)
    np.testing.assert_allclose(got2, want, atol=1e-12)
    # deterministic per seed, different across seeds
    assert bootstrap_ci(x, seed=7) == got
    assert bootstrap_ci(x, seed=8) != got
    # 90% is nested inside 95%
    lo90, hi90 = bootstrap_ci(x, conf=0.90, seed=7)
    assert got[0] <= lo90 <= hi90 <= got[1]


def test_bootstrap_rejects_bad_input():
    with pytest.raises(ConfigError):
        bootstrap_ci([])
    with pytest.raises(ConfigError):
        bootstrap_ci([1.0, float("nan")])
    with pytest.raises(ConfigError):
        bootstrap_ci([1.0, 2.0], conf=1.5)


def test_stratified_bootstrap_hand_computed():
    # Strata keep 3 zeros and 3 tens in every resample -> IQM of [0,0,0,10,10,10] cut 1 each side
    # = (0+0+10+10)/4 = 5 always; an unstratified bootstrap of the pool would vary.
    scores = {"a": np.zeros(3), "b": np.full(3, 10.0)}
    assert stratified_bootstrap_ci(scores) == (5.0, 5.0)
    lo, hi = bootstrap_ci(np.r_[np.zeros(3), np.full(3, 10.0)])
    assert lo < 5.0 < hi


def test_stratified_bootstrap_against_independent_numpy():
    scores = {
        "pong": np.array([0.9, 1.1, 1.2, 1.0]),
        "breakout": np.array([3.0, 5.0, 4.0]),
        "alien": [0.1, 0.3],
    }
    rng = np.random.default_rng(3)
    parts = []
    for task in sorted(scores):  # documented order: sorted task names
        a = np.asarray(scores[task], float)
        parts.append(a[rng.integers(0, a.size, size=(1000, a.size))])
    pooled = np.concatenate(parts, axis=1)
    want = np.percentile([_iqm_by_hand(r) for r in pooled], [2.5, 97.5])
    got = stratified_bootstrap_ci(scores, iqm, n_boot=1000, seed=3)
    np.testing.assert_allclose(got, want, atol=1e-12)
    # dict order does not matter
    assert stratified_bootstrap_ci(dict(reversed(list(scores.items()))), n_boot=1000, seed=3) == got


def test_hierarchical_bootstrap_hand_computed():
    # Two runs with constant returns 1 and 3: resampling 2 runs gives all-1 (IQM 1), mixed
    # (IQM of [1,1,1,3,3,3] = 2) or all-3 (IQM 3), each seen often in 2000 draws -> CI (1, 3).
    assert hierarchical_bootstrap_ci([[1.0, 1.0, 1.0], [3.0, 3.0, 3.0]]) == (1.0, 3.0)
    # One run: still an episode-level interval, containing the point estimate
    lo, hi = hierarchical_bootstrap_ci([[1.0, 2.0, 3.0, 4.0, 10.0]])
    assert lo < iqm([1, 2, 3, 4, 10]) < hi
    # Unequal episode counts take the loop path; deterministic and sensible
    runs = [[1.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0], [3.0, 3.5]]
    a = hierarchical_bootstrap_ci(runs, n_boot=500, seed=1)
    assert a == hierarchical_bootstrap_ci(runs, n_boot=500, seed=1)
    assert a[0] <= iqm(np.concatenate(runs)) <= a[1]


def test_summarize_hand_computed():
    s = summarize(np.arange(1, 9))
    assert s["mean"] == 4.5 and s["median"] == 4.5 and s["iqm"] == 4.5 and s["n"] == 8
    assert s["std"] == pytest.approx(math.sqrt(5.25))  # population std of 1..8
    assert (s["min"], s["max"]) == (1.0, 8.0)
    assert (s["iqm_ci_low"], s["iqm_ci_high"]) == bootstrap_ci(np.arange(1, 9), seed=0)
    assert s["iqm_ci_low"] < 4.5 < s["iqm_ci_high"]


# --------------------------------------------------------------------------- aggregates


def test_performance_profile_hand_computed():
    scores = {"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0, 7.0]}
    # a: >0: 3/3, >2: 1/3, >5: 0 ; b: >0: 4/4, >2: 4/4, >5: 2/4 ; averaged per task
    np.testing.assert_allclose(performance_profile(scores, [0.0, 2.0, 5.0]), [1.0, 2 / 3, 0.25])
    lo, hi = performance_profile_ci(scores, [0.0, 2.0, 5.0], n_boot=300)
    assert np.all(lo <= hi) and lo[0] == hi[0] == 1.0


def test_aggregate_and_optimality_gap():
    scores = {"pong": [1.2, 0.8], "breakout": [0.5, 2.0, 0.9]}
    agg = aggregate(scores, n_boot=500)
    pooled = np.array([0.9, 0.5, 2.0, 1.2, 0.8])
    assert agg["iqm"] == pytest.approx(iqm(pooled))
    assert agg["mean"] == pytest.approx(pooled.mean())
    assert agg["optimality_gap"] == pytest.approx((0.1 + 0.5 + 0.0 + 0.0 + 0.2) / 5)
    assert optimality_gap([0.5, 1.5]) == pytest.approx(0.25)
    for k in ("iqm", "mean", "median", "optimality_gap"):
        assert agg[f"{k}_ci_low"] <= agg[k] <= agg[f"{k}_ci_high"] or k == "median"
    assert agg["n_tasks"] == 2 and agg["n_runs"] == 5


# --------------------------------------------------------------------------- human-normalized


def test_human_normalized_pong():
    # CleanRL DQN's Pong 20.3 at 10M steps: (20.3 + 20.7) / (14.6 + 20.7) = 41 / 35.3
    assert human_normalized("Pong", 20.3) == pytest.approx(1.1614730878, abs=1e-9)
    assert round(human_normalized("ALE/Pong-v5", 20.3), 4) == 1.1615
    assert human_normalized("PongNoFrameskip-v4", -20.7) == 0.0
    assert human_normalized("pong", 14.6) == pytest.approx(1.0)
    assert human_normalized("Breakout", 30.5) == pytest.approx(1.0)
    assert human_normalized("BreakoutNoFrameskip-v4", 1.7) == pytest.approx(0.0)


def test_human_random_table():
    assert len(HUMAN_RANDOM) == 57
    assert HUMAN_RANDOM["Pong"] == (-20.7, 14.6) and HUMAN_RANDOM["Breakout"] == (1.7, 30.5)
    for game, (rnd, human) in HUMAN_RANDOM.items():
        assert human > rnd, game
        assert human_normalized(game, rnd) == pytest.approx(0.0)
        assert human_normalized(f"ALE/{game}-v5", human) == pytest.approx(1.0)
        assert canonical_game(f"{game}NoFrameskip-v4") == game


def test_game_names_and_unknown():
    assert canonical_game("ALE/MontezumaRevenge-v5") == "MontezumaRevenge"
    assert canonical_game("SpaceInvaders-ram-v5") == "SpaceInvaders"
    assert canonical_game("BreakoutDeterministic-v4") == "Breakout"
    assert not is_atari("CartPole-v1") and is_atari("ALE/Qbert-v5")
    with pytest.raises(UnknownNameError, match="Did you mean: Pong"):
        human_normalized("Pongg", 1.0)


def test_is_binary():
    from rlsuite.eval.stats import is_binary

    assert is_binary([0.0, 1.0, 1.0]) and is_binary(np.ones(3)) and is_binary([0, 0])
    assert not is_binary([0.0, 1.0, 0.5]) and not is_binary([2.0]) and not is_binary([])


# --------------------------------------------------------------------------- rliable's set beyond IQM
def _brute_force_poi(x: dict, y: dict) -> float:
    """P(X > Y) by enumerating every pair of runs, task by task, ties worth one half."""
    per_task = []
    for task in sorted(set(x) & set(y)):
        wins = 0.0
        for a in x[task]:
            for b in y[task]:
                wins += 1.0 if a > b else 0.5 if a == b else 0.0
        per_task.append(wins / (len(x[task]) * len(y[task])))
    return sum(per_task) / len(per_task)


def test_probability_of_improvement_hand_computed_and_brute_force():
    from rlsuite.eval.stats import probability_of_improvement

    # one task: pairs (3>1, 3>2, 3=3) and (1<... ): x=[3, 1], y=[1, 2, 3]
    # 3 vs 1,2,3 -> 1 + 1 + 0.5; 1 vs 1,2,3 -> 0.5 + 0 + 0  => 3.0 / 6 = 0.5
    assert probability_of_improvement({"a": [3, 1]}, {"a": [1, 2, 3]}) == pytest.approx(0.5)
    # two tasks averaged with equal weight: task b: x=[5] beats y=[4, 4] -> 1.0; mean (0.5 + 1.0) / 2
    assert probability_of_improvement({"a": [3, 1], "b": [5]}, {"a": [1, 2, 3], "b": [4, 4]}) == pytest.approx(0.75)
    # P(X > Y) + P(Y > X) = 1 and a task only one side has is ignored
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = {t: rng.integers(0, 4, size=rng.integers(1, 5)).tolist() for t in "abc"}
        y = {t: rng.integers(0, 4, size=rng.integers(1, 5)).tolist() for t in "abd"}
        p = probability_of_improvement(x, y)
        assert p == pytest.approx(_brute_force_poi(x, y))
        assert p + probability_of_improvement(y, x) == pytest.approx(1.0)
    with pytest.raises(ConfigError):
        probability_of_improvement({"a": [1]}, {"b": [1]})


def test_probability_of_improvement_ci_brackets_and_is_degenerate_when_separated():
    from rlsuite.eval.stats import probability_of_improvement, probability_of_improvement_ci

    # every run of X beats every run of Y: every resample says 1.0
    assert probability_of_improvement_ci({"a": [5, 6, 7]}, {"a": [1, 2]}, n_boot=200) == (1.0, 1.0)
    x, y = {"a": [1.0, 3.0, 5.0, 7.0]}, {"a": [2.0, 4.0, 6.0]}
    lo, hi = probability_of_improvement_ci(x, y, n_boot=500, seed=1)
    assert 0.0 <= lo < probability_of_improvement(x, y) < hi <= 1.0


def test_optimality_gap_by_hand():
    # scores 0.2, 0.9, 1.3 (gamma 1): shortfalls 0.8, 0.1, 0 -> mean 0.3
    assert optimality_gap([0.2, 0.9, 1.3]) == pytest.approx(0.3)
    # gamma 200 on raw returns 150, 250: shortfalls 50, 0 -> 25
    assert optimality_gap([150.0, 250.0], gamma=200.0) == pytest.approx(25.0)


def test_sample_efficiency_curve_hand_computed():
    from rlsuite.eval.stats import sample_efficiency_curve

    scores = {2000: {"env": [4.0, 6.0]}, 1000: {"env": [1.0, 2.0, 3.0, 10.0]}}
    budgets, point, lo, hi = sample_efficiency_curve(scores, n_boot=300)
    assert budgets.tolist() == [1000.0, 2000.0]  # ascending whatever the dict order
    # IQM of [1, 2, 3, 10]: middle half 2, 3 -> 2.5; of [4, 6]: trim_mean(.25) of 2 values -> 5
    assert point.tolist() == pytest.approx([2.5, 5.0])
    assert np.all(lo <= point) and np.all(point <= hi) and np.all(hi > lo)
    one = sample_efficiency_curve({100: {"env": [7.0]}}, n_boot=50)
    assert one[2][0] == one[3][0] == 7.0
