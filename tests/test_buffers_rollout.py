"""GAE and the rollout buffer against a plain Python loop."""

from __future__ import annotations

import numpy as np
import pytest

from rlsuite.buffers import RolloutBuffer, gae


def gae_loop(rewards, values, next_values, terminated, episode_end, gamma, lam):
    T, N = rewards.shape
    adv = np.zeros((T, N))
    for n in range(N):
        last = 0.0
        for t in reversed(range(T)):
            delta = rewards[t, n] + gamma * next_values[t, n] * (1 - terminated[t, n]) - values[t, n]
            last = delta + gamma * lam * (1 - episode_end[t, n]) * last
            adv[t, n] = last
    return adv, adv + values


def test_gae_matches_python_loop():
    rng = np.random.default_rng(0)
    T, N = 64, 5
    r, v, nv = (rng.standard_normal((T, N)) for _ in range(3))
    term = rng.random((T, N)) < 0.05
    end = term | (rng.random((T, N)) < 0.05)
    adv, ret = gae(r, v, nv, term, end, 0.97, 0.9)
    ref_adv, ref_ret = gae_loop(r, v, nv, term.astype(float), end.astype(float), 0.97, 0.9)
    assert adv.dtype == np.float32 and adv.shape == (T, N)
    np.testing.assert_allclose(adv, ref_adv, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ret, ref_ret, rtol=1e-4, atol=1e-4)


def test_rollout_buffer_truncation_bootstraps_from_final_value():
    rng = np.random.default_rng(1)
    T, N, gamma, lam = 20, 3, 0.9, 0.95
    buf = RolloutBuffer(T, N, (2,), np.float32, (), np.int64)
    rew, val, term, trunc, final_v = (np.zeros((T, N)) for _ in range(5))
    for t in range(T):
        rew[t], val[t] = rng.standard_normal(N), rng.standard_normal(N)
        u = rng.random(N)
        term[t], trunc[t] = u < 0.1, (u >= 0.1) & (u < 0.25)
        final_v[t] = rng.standard_normal(N)
        buf.add(rng.standard_normal((N, 2)), rng.integers(0, 3, N), rew[t], term[t].astype(bool),
                trunc[t].astype(bool), val[t], rng.standard_normal(N), next_values=final_v[t])
    last = rng.standard_normal(N)
    buf.compute_advantages(last, gamma, lam)
    # plain reference: next value = V(s_{t+1}) in-episode, V(final obs) after truncation
    nv = np.vstack([val[1:], last[None]])
    nv = np.where(trunc.astype(bool), final_v, nv)
    ref_adv, ref_ret = gae_loop(rew, val, nv, term, np.maximum(term, trunc), gamma, lam)
    np.testing.assert_allclose(buf.advantages, ref_adv, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(buf.returns, ref_ret, rtol=1e-4, atol=1e-4)
    with pytest.raises(IndexError):
        buf.add(np.zeros((N, 2)), np.zeros(N), np.zeros(N), np.zeros(N, bool), np.zeros(N, bool), np.zeros(N),
                np.zeros(N))
    buf.reset()
    assert buf.pos == 0
