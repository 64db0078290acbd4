"""Atari plugin: preprocessing, protocols, training vs evaluation variants (fast, ale-py ROMs)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ale_py")

from rlsuite.envs.atari import AreaResize, AtariPlugin, _area_matrix, parse_game

from rlsuite.errors import UnknownNameError

PLUGIN = AtariPlugin()


def _rollout(env, actions, seed):
    obs, _ = env.reset(seed=seed)
    frames = [obs]
    for a in actions:
        obs, _, term, trunc, _ = env.step(int(a))
        frames.append(obs)
        if term or trunc:
            break
    return np.stack(frames)


@pytest.mark.parametrize("protocol", ["machado", "nature"])
def test_obs_shape_dtype_and_frame_stack(protocol):
    env = PLUGIN.make("Pong", protocol=protocol)
    obs, info = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs) and env.action_space.n == 6
    assert "frames" in info
    rng = np.random.default_rng(0)
    for _ in range(60):
        nxt, _, _term, _trunc, info = env.step(int(rng.integers(6)))
        assert nxt.shape == (4, 84, 84) and nxt.dtype == np.uint8
        np.testing.assert_array_equal(nxt[:-1], obs[1:])  # new frame shifted in at the end
        obs = nxt
    assert obs[-1].std() > 0  # a real screen, not zeros
    assert info["frames"] >= 240 and info["raw_reward"] in (-1.0, 0.0, 1.0)


def test_ids_and_protocol_from_id():
    assert parse_game("ALE/Pong-v5") == ("pong", "machado")
    assert parse_game("PongNoFrameskip-v4") == ("pong", "nature")
    assert parse_game("SpaceInvaders") == ("space_invaders", None)
    assert PLUGIN.make("PongNoFrameskip-v4").protocol == "nature"
    assert PLUGIN.make("ALE/Breakout-v5").protocol == "machado"
    assert PLUGIN.make("Pong").ale.getFloat("repeat_action_probability") == pytest.approx(0.25)
    assert PLUGIN.make("Pong", protocol="nature").ale.getFloat("repeat_action_probability") == 0.0
    with pytest.raises(UnknownNameError, match="Pong"):
        PLUGIN.make("Pongg")
    assert "ALE/Pong-v5" in PLUGIN.ids()


def test_reward_clipping_in_training_only():
    # Space Invaders pays 5..30 per invader, so a random agent sees rewards > 1 quickly
    actions = np.random.default_rng(0).integers(6, size=400)
    for training in (True, False):
        env = PLUGIN.make("SpaceInvaders", protocol="nature", training=training)
        env.reset(seed=1)
        raws, rewards = [], []
        for a in actions:
            _, r, term, trunc, info = env.step(int(a))
            raws.append(info["raw_reward"])
            rewards.append(r)
            if term or trunc:
                env.reset()
        raws, rewards = np.array(raws), np.array(rewards)
        assert raws.max() > 1
        expected = np.sign(raws) if training else raws
        np.testing.assert_array_equal(rewards, expected)


def test_life_loss_terminal_in_training_not_eval():
    rng = np.random.default_rng(0)
    env = PLUGIN.make("Breakout", protocol="nature", training=True)
    _, info = env.reset(seed=0)
    lives0 = info["lives"]
    for _ in range(2000):
        _, _, term, trunc, info = env.step(int(rng.integers(4)))
        if term:
            break
    assert term and info["lives"] == lives0 - 1 and not info["game_over"]
    frame_no = info["episode_frame_number"]
    _, info = env.reset()  # continues the same game rather than restarting it
    assert info["lives"] == lives0 - 1 and info["episode_frame_number"] > frame_no

    env = PLUGIN.make("Breakout", protocol="nature", training=False)
    _, info = env.reset(seed=0)
    lost = False
    for _ in range(3000):
        _, _, term, trunc, info = env.step(int(rng.integers(4)))
        lost |= info["lives"] < lives0
        if term or trunc:
            break
        if lost and info["lives"] <= lives0 - 2:
            break
    assert lost and not (term and not info["game_over"])


def test_sticky_actions_change_dynamics():
    actions = np.random.default_rng(0).integers(6, size=150)
    # deterministic emulator: the seed does not matter without no-ops and sticky actions
    det = [_rollout(PLUGIN.make("Pong", protocol="nature", noop_max=0), actions, s) for s in (0, 1)]
    np.testing.assert_array_equal(det[0], det[1])
    sticky = [_rollout(PLUGIN.make("Pong", protocol="machado"), actions, s) for s in (0, 1)]
    assert not np.array_equal(sticky[0], sticky[1])
    assert not np.array_equal(sticky[0], det[0])
    # same seed, same actions: bit-for-bit repeatable even with sticky actions
    np.testing.assert_array_equal(sticky[0], _rollout(PLUGIN.make("Pong"), actions, 0))


def test_noop_starts_vary_with_seed():
    env = PLUGIN.make("Breakout", protocol="nature")
    starts = {env.reset(seed=s)[1]["episode_frame_number"] for s in range(8)}
    assert len(starts) >= 4  # 1..30 no-op frames plus the FIRE step
    (o1, i1), (o2, i2) = env.reset(seed=3), env.reset(seed=3)
    assert i1["episode_frame_number"] == i2["episode_frame_number"]
    np.testing.assert_array_equal(o1, o2)


def test_frame_cap_truncates_and_reports_game_score():
    env = PLUGIN.make("Pong", protocol="nature", training=False, max_frames=400)
    env.reset(seed=0)
    steps = 0
    for _ in range(200):
        _, _, term, trunc, info = env.step(0)
        steps += 1
        if term or trunc:
            break
    assert trunc and not term and info["game_over"]
    assert info["game_length"] == steps and info["episode_frame_number"] >= 400
    assert "game_return" in info


def test_gymnasium_vector_env_over_make():
    import gymnasium as gym

    assert PLUGIN.make_vec("Pong", 2, seed=0) is None
    venv = gym.vector.SyncVectorEnv([lambda: PLUGIN.make("Pong") for _ in range(2)])
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
    obs, *_ = venv.step(np.array([0, 1]))
    assert obs.shape == (2, 4, 84, 84)


def test_area_resize_matches_dense_area_interpolation():
    img = np.random.default_rng(0).integers(0, 256, (210, 160), dtype=np.uint8)
    dense = _area_matrix(210, 84) @ img.astype(np.float64) @ _area_matrix(160, 84).T
    got = AreaResize((210, 160), (84, 84))(img).astype(np.float64)
    assert np.abs(got - np.floor(dense + 0.5)).max() <= 1  # float32 rounding at .5 ties
    flat = np.full((210, 160), 77, dtype=np.uint8)
    assert (AreaResize((210, 160), (84, 84))(flat) == 77).all()
