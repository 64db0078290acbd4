"""MinAtar plugin: channel-first observations, action sets, seeding and sticky actions."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("minatar")

from rlsuite.envs.minatar import GAMES, MinAtarPlugin, parse_game

from rlsuite.errors import UnknownNameError

PLUGIN = MinAtarPlugin()
CHANNELS = {"asterix": 4, "breakout": 4, "freeway": 7, "seaquest": 10, "space_invaders": 6}
MINIMAL_ACTIONS = {"asterix": 5, "breakout": 3, "freeway": 3, "seaquest": 6, "space_invaders": 4}


@pytest.mark.parametrize("game", sorted(GAMES))
def test_shapes_and_steps(game):
    env = PLUGIN.make(f"MinAtar/{GAMES[game]}-v1")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (CHANNELS[game], 10, 10) and obs.dtype == np.float32
    assert env.observation_space.contains(obs)
    assert env.action_space.n == MINIMAL_ACTIONS[game]
    for _ in range(50):
        obs, r, term, trunc, _ = env.step(env.action_space.sample())
        assert obs.shape == (CHANNELS[game], 10, 10) and isinstance(r, float)
        if term or trunc:
            obs, _ = env.reset()
    assert set(np.unique(obs)) <= {0.0, 1.0}


def test_ids_dtype_and_action_sets():
    assert parse_game("MinAtar/SpaceInvaders-v1") == ("space_invaders", True)
    assert parse_game("MinAtar-Breakout") == ("breakout", None)
    assert parse_game("breakout") == ("breakout", None)
    assert PLUGIN.make("MinAtar/Breakout-v0").action_space.n == 6
    env = PLUGIN.make("Breakout", obs_dtype="uint8")
    assert env.reset(seed=0)[0].dtype == np.uint8
    with pytest.raises(UnknownNameError, match="Breakout"):
        PLUGIN.make("MinAtar/Breakot-v1")
    assert len(PLUGIN.ids()) == 5


def _trajectory(env, actions, seed):
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for a in actions:
        obs, _, term, trunc, _ = env.step(int(a))
        out.append(obs)
        if term or trunc:
            break
    return np.stack(out)


def test_seeding_repeats_and_sticky_prob_is_used():
    actions = np.random.default_rng(0).integers(3, size=200)
    env = PLUGIN.make("MinAtar/Breakout-v1")
    np.testing.assert_array_equal(_trajectory(env, actions, 5), _trajectory(env, actions, 5))
    # sticky 1.0 always repeats the initial no-op: same as sending no-ops
    always = _trajectory(PLUGIN.make("Breakout", sticky_action_prob=1.0), actions, 1)
    noops = _trajectory(PLUGIN.make("Breakout", sticky_action_prob=0.0), np.zeros_like(actions), 1)
    np.testing.assert_array_equal(always, noops)
    assert not np.array_equal(_trajectory(PLUGIN.make("Breakout", sticky_action_prob=0.0), actions, 1), noops)


def test_sticky_action_rate():
    env = PLUGIN.make("MinAtar/Seaquest-v0", sticky_action_prob=0.1)  # all 6 actions
    assert env.unwrapped.sticky_action_prob == 0.1
    executed: list[int] = []
    inner = env.unwrapped.game.env
    act = inner.act
    inner.act = lambda a: (executed.append(a), act(a))[1]
    env.reset(seed=0)
    requested = np.random.default_rng(0).integers(6, size=4000)
    for a in requested:
        _, _, term, trunc, _ = env.step(int(a))
        if term or trunc:
            env.reset()
    changed = np.mean(np.array(executed) != requested)
    assert 0.06 < changed < 0.11  # p * P(previous action differs) = 0.1 * 5/6


def test_bad_kwargs_are_config_errors():
    from rlsuite.errors import ConfigError

    with pytest.raises(ConfigError):
        PLUGIN.make("Breakout", sticky_action_prob=1.5)
    with pytest.raises(ConfigError, match="bad MinAtar kwargs"):
        PLUGIN.make("Breakout", frameskip=4)
