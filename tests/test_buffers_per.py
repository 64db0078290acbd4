"""Sum tree (property-based) and prioritized replay sampling statistics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlsuite.buffers import PrioritizedReplayBuffer, SumTree


@settings(max_examples=60, deadline=None)
@given(cap=st.integers(1, 70),
       ops=st.lists(st.tuples(st.integers(0, 69), st.integers(0, 1000)), min_size=1, max_size=120),
       probes=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=20))
def test_sumtree_totals_and_prefix_search_exact(cap, ops, probes):
    tree = SumTree(cap)
    ref = np.zeros(cap)
    for i, v in ops:  # integer priorities: sums are exact in float64
        i %= cap
        tree.set(np.array([i]), np.array([float(v)]))
        ref[i] = v
        assert tree.total == ref.sum()
        assert tree.min == (ref[ref > 0].min() if (ref > 0).any() else np.inf)
    if ref.sum() == 0:
        return
    cum = np.cumsum(ref)
    u = np.floor(np.array(probes) * ref.sum())  # integer points in [0, total)
    found = tree.find(u)
    expected = np.searchsorted(cum, u, side="right")  # first i with cum[i] > u
    np.testing.assert_array_equal(found, expected)
    assert (ref[found] > 0).all()
    np.testing.assert_array_equal(tree.get(np.arange(cap)), ref)


def filled_per(n, alpha, seed=0, **kw):
    buf = PrioritizedReplayBuffer(4 * n, (1,), np.float32, (), np.int64, alpha=alpha, seed=seed, **kw)
    for t in range(n):
        buf.add(np.array([[t]]), [0], [0.0], np.array([[t + 1]]), [False], [False])
    return buf


def test_new_transitions_enter_at_max_priority():
    buf = filled_per(10, alpha=1.0, eps=0.0)
    b = buf.sample(10)
    buf.update_priorities(b.indices, np.full(10, 0.5))
    buf.update_priorities(b.indices[:1], [7.0])
    w = buf.add(np.array([[100.0]]), [0], [0.0], np.array([[101.0]]), [False], [False])
    assert buf.max_priority == pytest.approx(7.0)
    assert buf.tree.get(w)[0] == pytest.approx(7.0)


def test_per_frequencies_converge_chi_square():
    n, alpha = 16, 0.7
    buf = filled_per(n, alpha, seed=123)
    rng = np.random.default_rng(5)
    slot = {}
    b = buf.sample(4 * n)
    for i, o in zip(b.indices, b.obs[:, 0]):
        slot[int(o)] = int(i)
    assert sorted(slot) == list(range(n))
    p = rng.uniform(0.1, 3.0, n)
    idx = np.array([slot[t] for t in range(n)])
    buf.update_priorities(idx, p)
    expected_p = (p + buf.eps) ** alpha
    expected_p /= expected_p.sum()
    counts = np.zeros(n)
    draws = 0
    for _ in range(200):
        b = buf.sample(256)
        counts += np.bincount(b.obs[:, 0].astype(int), minlength=n)
        draws += 256
    chi2 = ((counts - draws * expected_p) ** 2 / (draws * expected_p)).sum()
    assert chi2 < 37.7  # chi2(15) 0.999 quantile; stratified sampling only lowers it
    # a wrong exponent (alpha = 1) is rejected by the same test
    wrong = (p + buf.eps) / (p + buf.eps).sum()
    assert ((counts - draws * wrong) ** 2 / (draws * wrong)).sum() > 100


def test_alpha_zero_is_uniform_and_weights_are_one():
    n = 20
    buf = filled_per(n, alpha=0.0, seed=9)
    b = buf.sample(n)
    buf.update_priorities(b.indices, np.random.default_rng(0).uniform(0, 10, n))
    counts = np.zeros(n)
    for _ in range(100):
        b = buf.sample(200)
        np.testing.assert_allclose(b.weights, 1.0)
        counts += np.bincount(b.obs[:, 0].astype(int), minlength=n)
    chi2 = ((counts - counts.sum() / n) ** 2 / (counts.sum() / n)).sum()
    assert chi2 < 43.8  # chi2(19) 0.999


def test_importance_weights_formula_for_the_callers_beta():
    n, alpha = 12, 0.6
    buf = filled_per(n, alpha, seed=1)
    b = buf.sample(n)
    pr = np.random.default_rng(2).uniform(0.01, 5, n)
    buf.update_priorities(b.indices, pr)
    stored = buf.tree.get(np.arange(buf.capacity))
    valid = stored > 0
    for beta in (0.0, 0.4, 0.7):
        x = buf.sample(64, beta=beta)
        P = stored[x.indices] / stored.sum()
        N = valid.sum()
        w = (N * P) ** -beta
        w_max = (N * stored[valid].min() / stored.sum()) ** -beta
        np.testing.assert_allclose(x.weights, w / w_max, rtol=1e-5)
        assert x.weights.dtype == np.float32 and x.weights.max() <= 1.0 + 1e-6
    x = buf.sample(64, beta=1.0)
    np.testing.assert_allclose(x.weights, stored[valid].min() / stored[x.indices], rtol=1e-5)
