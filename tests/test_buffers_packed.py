"""The packed flags byte: slot kind (transition / TERM / TRUNC / no transition), FIRST, and discrete
actions < 32 in the spare bits, so an Atari transition costs 84·84 + 5 bytes (≤ 1/4 of SB3's)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rlsuite.buffers import PrioritizedReplayBuffer, ReplayBuffer, make_replay_buffer
from rlsuite.buffers.kernels import ACTION_SHIFT, FIRST, NO_TRANSITION, TERM, TRUNC

# (action, reward, terminated, truncated) of one env, hand-made to hit every kind of slot
STEPS = [(3, 1.0, False, False), (31, 2.0, True, False), (7, 4.0, False, True), (0, 8.0, True, True),
         (5, 16.0, False, False)]
# the flags byte each slot must hold afterwards; episode ends leave an end-marker slot behind
EXPECTED = [
    FIRST | 3 << ACTION_SHIFT,  # slot 0: first step of episode 1
    TERM | 31 << ACTION_SHIFT,  # slot 1: the termination
    NO_TRANSITION,  # slot 2: end marker (final observation of episode 1)
    FIRST | TRUNC | 7 << ACTION_SHIFT,  # slot 3: a one-step episode cut by a time limit
    NO_TRANSITION,  # slot 4: end marker
    FIRST | TERM,  # slot 5: terminated and truncated at once: termination wins; action 0
    NO_TRANSITION,  # slot 6: end marker
    FIRST | 5 << ACTION_SHIFT,  # slot 7
    NO_TRANSITION,  # slot 8: the pending slot (the next observation)
    NO_TRANSITION,  # slot 9: never written
]
# the same contents in layout 1 (bits TERM 1, TRUNC 2, FIRST 4, VALID 8; actions in their own column)
OLD_FLAGS = [8 | 4, 8 | 1, 0, 8 | 4 | 2, 0, 8 | 4 | 1 | 2, 0, 8 | 4, 0, 0]
OLD_ACTIONS = [3, 31, 0, 7, 0, 0, 0, 5, 0, 0]


def hand_made(n_step: int = 2, **kw) -> ReplayBuffer:
    buf = ReplayBuffer(10, (1,), np.float32, (), np.int64, n_step=n_step, gamma=0.5, n_actions=32, **kw)
    for t, (a, r, term, trunc) in enumerate(STEPS):
        buf.add(np.array([[10.0 * t]]), [a], [r], np.array([[10.0 * t + 1]]), [term], [trunc])
    return buf


def test_flags_byte_holds_kind_first_and_action():
    buf = hand_made()
    assert buf.packed_actions and buf._act.shape == (10, 0)
    assert list(buf._flags) == EXPECTED


def test_packed_actions_and_episode_ends_sample_back_exactly():
    buf = hand_made(n_step=2)
    batch = buf.sample(400)
    rows = {int(i): (int(a), float(r), float(d), float(nx[0])) for i, a, r, d, nx in
            zip(batch.indices, batch.actions, batch.rewards, batch.discounts, batch.next_obs)}
    # slot: (action, 2-step return with γ = 0.5, discount, bootstrap observation); slot 7's window is
    # not complete yet (n-step 2), markers and the pending slot are never drawn
    assert rows == {0: (3, 1.0 + 0.5 * 2.0, 0.0, 11.0), 1: (31, 2.0, 0.0, 11.0), 3: (7, 4.0, 0.5, 21.0),
                    5: (0, 8.0, 0.0, 31.0)}
    assert batch.actions.dtype == np.int64


def test_action_out_of_packed_range_is_refused():
    buf = ReplayBuffer(10, (1,), np.float32, (), np.int64, n_actions=32)
    with pytest.raises(ValueError, match="packed"):
        buf.add(np.zeros((1, 1)), [32], [0.0], np.zeros((1, 1)), [False], [False])


def test_checkpoint_in_the_old_flags_layout_loads_into_the_packed_one():
    new = hand_made()
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in new.state_dict().items()}
    del state["flags_layout"]
    state["flags"] = np.array(OLD_FLAGS, np.uint8)
    state["actions"] = np.array(OLD_ACTIONS, np.uint8)[:, None]
    reference = hand_made().sample(64)  # the same contents and sampling RNG state
    for packed in (True, False):
        restored = ReplayBuffer(10, (1,), np.float32, (), np.int64, n_step=2, gamma=0.5,
                                n_actions=32 if packed else None)
        restored.load_state_dict(state)
        if packed:
            assert list(restored._flags) == EXPECTED
        else:
            assert list(restored._flags) == [f & ~(31 << ACTION_SHIFT) for f in EXPECTED]
            assert list(restored._act[:, 0]) == OLD_ACTIONS
        for x, y in zip(restored.sample(64), reference):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("cls", [ReplayBuffer, PrioritizedReplayBuffer])
@pytest.mark.parametrize("frame_stack,n_step", [(1, 1), (1, 3), (4, 3)])
def test_packed_and_unpacked_storage_sample_the_same(cls, frame_stack, n_step):
    """Packing changes where the bits live, nothing else: the same draws and values bit for bit."""
    n_envs, shape = 3, ((4, 3, 2) if frame_stack > 1 else (2,))
    dtype = np.uint8 if frame_stack > 1 else np.float32
    packed, plain = (cls(3 * 50, shape, dtype, (), np.int64, n_envs=n_envs, n_step=n_step, gamma=0.9,
                         frame_stack=frame_stack, seed=5, n_actions=n) for n in (18, None))
    assert packed._act.shape[1] == 0 and plain._act.shape[1] == 1
    rng = np.random.default_rng(frame_stack * 10 + n_step)
    obs = rng.integers(0, 256, (n_envs, *shape)).astype(dtype)
    for _ in range(300):  # wraps around the 50-slot segments several times
        nxt = rng.integers(0, 256, (n_envs, *shape)).astype(dtype)
        u = rng.random(n_envs)
        args = (obs, rng.integers(0, 18, n_envs), rng.standard_normal(n_envs), nxt, u < 0.08, (u > 0.04) & (u < 0.14))
        np.testing.assert_array_equal(packed.add(*args), plain.add(*args))
        obs = nxt
    for _ in range(3):
        a, b = packed.sample(128), plain.sample(128)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
        if cls is PrioritizedReplayBuffer:
            for buf in (packed, plain):
                buf.update_priorities(a.indices, np.abs(a.rewards) + 0.1)


def test_atari_transition_costs_at_most_a_quarter_of_sb3s():
    buf = make_replay_buffer(10_000, gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), gym.spaces.Discrete(18))
    assert buf.packed_actions
    per_transition = buf.nbytes / buf.capacity
    assert per_transition == 84 * 84 + 4 + 1  # newest frame, float32 reward, flags byte (action inside)
    sb3_optimized = 4 * 84 * 84 + 8 + 4 + 4 + 4  # obs stack, int64 action, reward, done, timeout
    assert per_transition / sb3_optimized <= 0.25
