"""Replay buffers against brute-force references: n-step targets, frame stacks, save/load."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlsuite.buffers import PrioritizedReplayBuffer, ReplayBatch, ReplayBuffer, make_replay_buffer, to_torch


def random_streams(T: int, n_envs: int, rng: np.random.Generator, p_term=0.06, p_trunc=0.06):
    """Per env: list of steps (obs, action, reward, next_obs, term, trunc) with unique obs ids."""
    counter = 0
    steps = []
    cur = np.zeros(n_envs, np.int64)
    for e in range(n_envs):
        cur[e] = counter
        counter += 1
    for _ in range(T):
        row = []
        for e in range(n_envs):
            u = rng.random()
            term, trunc = u < p_term, p_term <= u < p_term + p_trunc
            nxt = counter
            counter += 1
            row.append((cur[e], int(rng.integers(0, 5)), float(rng.standard_normal()), nxt, term, trunc))
            if term or trunc:
                cur[e] = counter  # reset obs
                counter += 1
            else:
                cur[e] = nxt
        steps.append(row)
    return steps


def reference_nstep(stream, t, n, gamma):
    """Plain n-step target for step t of one env's stream: (reward_sum, discount, bootstrap obs)."""
    r, disc = 0.0, 1.0
    for s in range(n):
        _o, _a, rew, nxt, term, trunc = stream[t + s]
        r += disc * rew
        disc *= gamma
        if term:
            return r, 0.0, nxt
        if trunc:
            return r, disc, nxt
        if t + s + 1 >= len(stream) and s < n - 1:
            return None
    return r, disc, stream[t + n - 1][3]


@pytest.mark.parametrize("n_envs,n_step", [(1, 1), (3, 3), (2, 5)])
def test_nstep_targets_match_reference(n_envs, n_step):
    rng = np.random.default_rng(n_envs * 10 + n_step)
    gamma = 0.9
    T = 300
    steps = random_streams(T, n_envs, rng)
    buf = ReplayBuffer(10_000, (2,), np.float64, (), np.int64, n_envs=n_envs, n_step=n_step, gamma=gamma, seed=1)
    for row in steps:
        obs = np.array([[r[0], -r[0]] for r in row], np.float64)
        nxt = np.array([[r[3], -r[3]] for r in row], np.float64)
        buf.add(obs, np.array([r[1] for r in row]), np.array([r[2] for r in row]), nxt,
                np.array([r[4] for r in row]), np.array([r[5] for r in row]))
    streams = [[row[e] for row in steps] for e in range(n_envs)]
    by_obs = {}
    for e, st in enumerate(streams):
        for t in range(T):
            by_obs[st[t][0]] = (e, t)
    batch = buf.sample(2000)
    assert len(buf) == T * n_envs
    seen = set()
    for b in range(2000):
        oid = int(batch.obs[b, 0])
        assert batch.obs[b, 1] == -oid
        e, t = by_obs[oid]
        ref = reference_nstep(streams[e], t, n_step, gamma)
        assert ref is not None, "sampled an incomplete window"
        r, disc, boot = ref
        assert batch.rewards[b] == pytest.approx(r, rel=1e-5, abs=1e-5)
        assert batch.discounts[b] == pytest.approx(disc, rel=1e-6)
        assert int(batch.next_obs[b, 0]) == boot
        assert int(batch.actions[b]) == streams[e][t][1]
        seen.add((e, t))
    # every complete transition is sampleable; incomplete windows are not
    complete = {(e, t) for e in range(n_envs) for t in range(T) if reference_nstep(streams[e], t, n_step, gamma)}
    assert seen <= complete
    assert len(seen) > 0.75 * len(complete)


def test_wraparound_never_mixes_overwritten_data():
    rng = np.random.default_rng(3)
    gamma, n = 0.5, 3
    steps = random_streams(500, 2, rng, 0.1, 0.1)
    buf = ReplayBuffer(64, (1,), np.float64, (), np.int64, n_envs=2, n_step=n, gamma=gamma, seed=0)
    for row in steps:
        buf.add(np.array([[r[0]] for r in row], float), np.array([r[1] for r in row]), np.array([r[2] for r in row]),
                np.array([[r[3]] for r in row], float), np.array([r[4] for r in row]), np.array([r[5] for r in row]))
    streams = [[row[e] for row in steps] for e in range(2)]
    pos = {st[t][0]: (e, t) for e, st in enumerate(streams) for t in range(len(st))}
    batch = buf.sample(4000)
    ts = []
    for b in range(4000):
        e, t = pos[int(batch.obs[b, 0])]
        ts.append(t)
        r, disc, boot = reference_nstep(streams[e], t, n, gamma)
        assert batch.rewards[b] == pytest.approx(r) and batch.discounts[b] == pytest.approx(disc)
        assert int(batch.next_obs[b, 0]) == boot
    assert min(ts) >= 500 - 32  # only the last segment's worth of steps survives


def naive_stack(frames_of_episode, t, k):
    """Stack ending at step t of an episode, padded with the episode's first frame."""
    return np.stack([frames_of_episode[max(0, t - k + 1 + j)] for j in range(k)])


@pytest.mark.parametrize("n_envs,n_step", [(1, 1), (2, 3)])
def test_frame_stacks_match_naive_stacker(n_envs, n_step):
    k, H, W, gamma = 4, 3, 2, 0.9
    rng = np.random.default_rng(7)
    buf = ReplayBuffer(n_envs * 60, (k, H, W), np.uint8, (), np.int64, n_envs=n_envs, n_step=n_step,
                       gamma=gamma, frame_stack=k, seed=0)
    # per env: episodes of random length; frame value encodes (env, episode, step) via a lookup table
    frame_id = 0
    table = {}
    ep_frames = [[] for _ in range(n_envs)]
    ep_idx = [0] * n_envs
    history = [[] for _ in range(n_envs)]

    def new_frame(e):
        nonlocal frame_id
        frame_id += 1
        f = rng.integers(0, 256, (H, W), dtype=np.uint8)
        f[0, 0] = frame_id % 256
        f[0, 1] = (frame_id // 256) % 256
        table[frame_id] = (e, ep_idx[e])
        return f

    for e in range(n_envs):
        ep_frames[e].append(new_frame(e))
    for _step in range(400):
        obs = np.stack([naive_stack(ep_frames[e], len(ep_frames[e]) - 1, k) for e in range(n_envs)])
        nxt_frames = [new_frame(e) for e in range(n_envs)]
        nxt = np.stack([naive_stack(ep_frames[e] + [nxt_frames[e]], len(ep_frames[e]), k) for e in range(n_envs)])
        u = rng.random(n_envs)
        term, trunc = u < 0.05, (u >= 0.05) & (u < 0.1)
        rew = rng.standard_normal(n_envs)
        buf.add(obs, np.zeros(n_envs, int), rew, nxt, term, trunc)
        for e in range(n_envs):
            history[e].append((obs[e], nxt[e], rew[e], term[e], trunc[e]))
            if term[e] or trunc[e]:
                ep_idx[e] += 1
                ep_frames[e] = [new_frame(e)]
            else:
                ep_frames[e].append(nxt_frames[e])
    fid = lambda stack: int(stack[-1, 0, 0]) + 256 * int(stack[-1, 0, 1])  # noqa: E731
    index = {(e, fid(h[0])): t for e in range(n_envs) for t, h in enumerate(history[e])}
    batch = buf.sample(1500)
    for b in range(1500):
        e = table[fid(batch.obs[b])][0]
        t = index[(e, fid(batch.obs[b]))]
        np.testing.assert_array_equal(batch.obs[b], history[e][t][0])
        r, disc = 0.0, 1.0
        for s in range(n_step):
            _o, nx, rw, te, tr = history[e][t + s]
            r += disc * rw
            disc *= gamma
            if te or tr:
                break
        np.testing.assert_array_equal(batch.next_obs[b], nx)
        assert batch.rewards[b] == pytest.approx(r, rel=1e-5, abs=1e-5)
        assert batch.discounts[b] == pytest.approx(0.0 if te else disc, abs=1e-7)
        # never mixes two episodes: every frame in both stacks belongs to one episode
        assert len({table[fid(batch.obs[b][j:j + 1])][1] for j in range(k)}) == 1
        assert len({table[fid(batch.next_obs[b][j:j + 1])][1] for j in range(k)}) == 1


def test_atari_memory_per_transition():
    buf = make_replay_buffer(10_000, gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), gym.spaces.Discrete(18))
    assert buf.frame_stack == 4
    per_transition = buf.nbytes / buf.capacity
    assert per_transition <= 7_200  # 1M transitions in <= 7.2 GB
    assert per_transition * 1_000_000 / 1e9 < 7.1


def test_uint8_images_stay_uint8_and_to_torch_shares_memory():
    buf = ReplayBuffer(100, (2, 3, 3), np.uint8, (2,), np.float32, seed=0)
    for t in range(20):
        o = np.full((1, 2, 3, 3), t, np.uint8)
        buf.add(o, np.ones((1, 2)), [1.0], o + 1, [False], [False])
    b = buf.sample(8)
    assert b.obs.dtype == np.uint8 and b.obs.shape == (8, 2, 3, 3) and b.actions.shape == (8, 2)
    tb = to_torch(b, "cpu")
    assert isinstance(tb, ReplayBatch) and tb.obs.dtype == torch.uint8
    np.testing.assert_array_equal(b.next_obs, b.obs + 1)
    tb.obs[0, 0, 0, 0] = 77
    assert b.obs[0, 0, 0, 0] == 77  # no copy on CPU
    np.testing.assert_array_equal(b.weights, 1.0)


def test_sampling_repeats_and_state_dict_roundtrip():
    def filled(cls, **kw):
        buf = cls(500, (3,), np.float32, (), np.int64, n_envs=2, n_step=3, seed=11, **kw)
        rng = np.random.default_rng(0)
        for _ in range(400):
            buf.add(rng.standard_normal((2, 3)), rng.integers(0, 4, 2), rng.standard_normal(2),
                    rng.standard_normal((2, 3)), rng.random(2) < 0.05, rng.random(2) < 0.05)
        return buf

    for cls in (ReplayBuffer, PrioritizedReplayBuffer):
        a, b = filled(cls), filled(cls)
        for _ in range(3):
            x = a.sample(64)
            if cls is PrioritizedReplayBuffer:
                a.update_priorities(x.indices, np.abs(x.rewards))
        state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in a.state_dict().items()}
        b.load_state_dict(state)
        for _ in range(3):
            xa, xb = a.sample(64), b.sample(64)
            for fa, fb in zip(xa, xb):
                np.testing.assert_array_equal(fa, fb)
            if cls is PrioritizedReplayBuffer:
                a.update_priorities(xa.indices, np.abs(xa.rewards) + 1)
                b.update_priorities(xb.indices, np.abs(xb.rewards) + 1)
        assert len(a) == len(b)
        c = filled(cls)
        assert not np.array_equal(c.sample(64).indices, a.sample(64).indices)


def test_make_replay_buffer_spaces_and_empty_errors():
    buf = make_replay_buffer(1000, gym.spaces.Box(-1, 1, (3,), np.float32), gym.spaces.Box(-1, 1, (2,), np.float32),
                             n_envs=2, n_step=3, gamma=0.9, prioritized=True, alpha=0.5,
                             seed=0)
    assert isinstance(buf, PrioritizedReplayBuffer) and buf.frame_stack == 1 and buf.n_step == 3
    with pytest.raises(ValueError):
        buf.sample(4)
    with pytest.raises(ValueError):
        ReplayBuffer(6, (4, 84, 84), np.uint8, frame_stack=4)


def test_one_step_fast_path_matches_general_kernel():
    """n_step = 1, frame_stack = 1 skips the window walk: same draws, rows and values, bit for bit."""
    from rlsuite.buffers.kernels import sample_uniform_kernel

    def general_sample(buf, batch_size):  # ReplayBuffer.sample with the general kernel forced
        outs = buf._outputs(batch_size)
        idx, ok = np.empty(batch_size, np.int64), np.zeros(batch_size, np.bool_)
        while sample_uniform_kernel(buf.rng.random(batch_size), ok, idx, buf.segment, 1, 1, buf._pos, buf._size,
                                    buf._obs, buf._act, buf._rew, buf._flags, buf._gpow, *outs):
            pass
        return buf._batch(outs, idx, np.ones(batch_size, np.float32))

    for capacity, T in ((3 * 40, 300), (3 * 1000, 300)):  # wrapped and partly filled
        rng = np.random.default_rng(capacity)
        fast, slow = (ReplayBuffer(capacity, (2,), np.float32, (), np.int64, n_envs=3, gamma=0.97, seed=4)
                      for _ in range(2))
        for _ in range(T):
            args = (rng.standard_normal((3, 2)), rng.integers(0, 5, 3), rng.standard_normal(3),
                    rng.standard_normal((3, 2)), rng.random(3) < 0.1, rng.random(3) < 0.1)
            fast.add(*args)
            slow.add(*args)
        for _ in range(5):
            a, b = fast.sample(512), general_sample(slow, 512)
            for fa, fb in zip(a, b):
                assert fa.dtype == fb.dtype
                np.testing.assert_array_equal(fa, fb)
        assert (a.discounts == 0).any() and (a.discounts == np.float32(0.97)).any()
