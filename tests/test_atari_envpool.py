"""EnvPool backend of the Atari plugin (env.backend=envpool): same preprocessing as the ale-py path,
no transition across an episode boundary in either loop family, raw scores in info. Skipped without
EnvPool (``pip install 'rlsuite[envpool]'``)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ale_py")
pytest.importorskip("envpool")

from rlsuite.envs.atari import AtariPlugin

import rlsuite
from rlsuite.errors import UnknownNameError
from rlsuite.offpolicy import Transition

PLUGIN = AtariPlugin()
# Both paths start a game the same way with these: a deterministic emulator, one no-op frame after
# the reset and no FIRE (EnvPool presses FIRE for one frame where ours holds it for a step).
SAME_START = dict(protocol="nature", noop_max=1, fire_reset=False, training=False)


def _paired_frames(game: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    ours = PLUGIN.make(game, **SAME_START)
    pool = PLUGIN.make_vec(game, 1, seed=0, backend="envpool", **SAME_START)
    a, _ = ours.reset(seed=0)
    b, _ = pool.reset(seed=0)
    frames_a, frames_b = [a], [b[0]]
    rng = np.random.default_rng(0)
    for _ in range(steps):
        action = int(rng.integers(ours.action_space.n))
        a, reward, terminated, truncated, _ = ours.step(action)
        b, _, _, _, info = pool.step(np.array([action]))
        assert info["raw_reward"][0] == reward  # same emulator, same unclipped reward
        frames_a.append(a)
        frames_b.append(b[0])
        if terminated or truncated:
            break
    pool.close()
    return np.stack(frames_a), np.stack(frames_b)


def test_same_observations_as_ale_py_after_reset_and_steps_on_pong():
    ours, pool = _paired_frames("Pong", 150)
    np.testing.assert_array_equal(ours[0], pool[0])  # the reset observation
    np.testing.assert_array_equal(ours, pool)  # and every step after it: bit for bit


@pytest.mark.parametrize("game", ["Breakout", "SpaceInvaders"])
def test_same_preprocessing_up_to_resize_rounding(game):
    """EnvPool resizes with OpenCV's INTER_AREA in fixed point; ours computes the same area weights in
    float32 (envs/atari.py AreaResize). Measured here: at most 1 gray level apart on < 0.1 % of pixels
    (Pong: none); the frames themselves (emulator, max-pool, grayscale palette, stack) are the same."""
    ours, pool = _paired_frames(game, 120)
    diff = np.abs(ours.astype(np.int16) - pool.astype(np.int16))
    assert diff.max() <= 1
    assert (diff > 0).mean() < 2e-3


def _is_fresh_stack(obs: np.ndarray) -> bool:
    return all(np.array_equal(obs[k], obs[0]) for k in range(1, len(obs)))


def test_dqn_never_stores_a_transition_across_an_episode_boundary():
    """Breakout in training ends an episode at every life loss (every few dozen random steps): every
    transition the loop hands over, and every one sampled back from the frame store, is a real env
    step (the newest frame shifts in), never a jump from a final observation to a reset one."""
    agent = rlsuite.make_agent("dqn", env={"plugin": "atari", "id": "Breakout", "backend": "envpool"},
                               n_envs=2, buffer_size=4_000, learning_starts=10_000, device="cpu")
    seen: list[Transition] = []
    observe = agent.observe
    agent.observe = lambda t: (seen.append(t), observe(t))[1]  # type: ignore[method-assign]
    agent.learn(300)
    ended = np.zeros(2, dtype=bool)
    boundaries = 0
    for t in seen:
        for i in range(2):
            # the successor is the same episode's next frame, even on the step that ends it
            np.testing.assert_array_equal(t.next_obs[i][:-1], t.obs[i][1:])
            if ended[i]:  # the step after an end starts from a fresh reset stack, not the final obs
                assert _is_fresh_stack(t.obs[i])
                boundaries += 1
        ended = t.episode_end
    assert boundaries >= 4  # several life losses were crossed
    batch = agent.buffer.sample(512)
    np.testing.assert_array_equal(batch.next_obs[:, :-1], batch.obs[:, 1:])
    agent.close()


def test_ppo_rollout_has_no_transition_across_an_episode_boundary():
    agent = rlsuite.make_agent("ppo", env={"plugin": "atari", "id": "Breakout", "backend": "envpool"},
                               n_envs=2, n_steps=128, n_epochs=1, device="cpu")
    agent.learn(256)
    buf = agent.buffer
    obs, ends = buf.obs[:buf.pos], (buf.terminated | buf.truncated)[:buf.pos]
    boundaries = 0
    for step in range(1, len(obs)):
        for i in range(2):
            if ends[step - 1, i]:
                assert _is_fresh_stack(obs[step, i])
                boundaries += 1
            else:
                np.testing.assert_array_equal(obs[step, i][:-1], obs[step - 1, i][1:])
    assert boundaries >= 2
    agent.close()


def test_raw_unclipped_scores_and_game_return_in_info():
    # Space Invaders pays 5..30 per invader; training clips to the sign, info keeps the raw score
    venv = PLUGIN.make_vec("SpaceInvaders", 2, seed=1, backend="envpool", protocol="nature", max_frames=2_000)
    venv.reset(seed=1)
    rng = np.random.default_rng(0)
    totals, games = np.zeros(2), []
    for _ in range(600):
        _, rewards, _terminated, _truncated, info = venv.step(rng.integers(6, size=2))
        np.testing.assert_array_equal(rewards, np.sign(info["raw_reward"]))
        totals += info["raw_reward"]
        for i in np.flatnonzero(info.get("_final_info", np.zeros(2, bool))):
            final = info["final_info"][i]
            if final["game_over"]:
                games.append((final["game_return"], totals[i], final["game_length"]))
                totals[i] = 0.0
    venv.close()
    assert games and all(game_return == total for game_return, total, _ in games)
    assert max(g[0] for g in games) > 1  # unclipped: more than one point per step somewhere
    assert all(0 < length <= 500 for _, _, length in games)  # 2,000 frames = 500 agent steps at most


def test_unknown_backend_is_one_line_with_suggestion():
    with pytest.raises(UnknownNameError, match="Did you mean: envpool"):
        rlsuite.make_agent("ppo", env={"plugin": "atari", "id": "Pong", "backend": "envpol"}, device="cpu")


# ------------------------------------------------------------------------- training settings
TRAINING_START = {**SAME_START, "training": True}  # life loss ends an episode, rewards clipped


def _to_first_life_loss(game: str, limit: int = 600):
    """Both backends in training settings, same actions, until the first episode end; returns the
    per-step frame differences, the step it ended on in each, and the two envs (ended, not reset)."""
    ours = PLUGIN.make(game, **TRAINING_START)
    pool = PLUGIN.make_vec(game, 1, seed=0, backend="envpool", **TRAINING_START)
    a, _ = ours.reset(seed=0)
    b, _ = pool.reset(seed=0)
    diffs = [np.abs(a.astype(np.int16) - b[0]).max()]
    rng = np.random.default_rng(0)
    for step in range(limit):
        action = int(rng.integers(ours.action_space.n))
        a, reward, terminated, truncated, info = ours.step(action)
        b, pool_reward, pool_terminated, pool_truncated, pool_info = pool.step(np.array([action]))
        assert pool_reward[0] == reward and pool_info["raw_reward"][0] == info["raw_reward"]  # clipped and raw
        final = pool_info["final_obs"][0] if pool_terminated[0] or pool_truncated[0] else b[0]
        diffs.append(np.abs(a.astype(np.int16) - final).max())
        if terminated or pool_terminated[0]:
            assert terminated and pool_terminated[0] and not truncated  # the same step, a life loss
            assert info["lives"] == pool_info["lives"][0] > 0 and not pool_info["game_over"][0]
            return np.array(diffs), step, ours, pool, b[0]
    raise AssertionError(f"no life lost in {limit} steps")


def test_training_settings_agree_up_to_the_first_life_loss_and_both_continue_the_game():
    """Training settings (life loss terminal, clipped rewards): every frame, clipped and raw reward
    agrees up to and including the step that loses the first life (Breakout within 1 gray level, the
    resize rounding); both end the episode there and continue the same game (lives kept, no new
    game). What follows differs by design (envs/atari_envpool.py: the continuation)."""
    diffs, step, ours, pool, pool_reset = _to_first_life_loss("Breakout")
    assert step > 20 and diffs.max() <= 1
    lives = ours.ale.lives()
    ours_reset, info = ours.reset()
    assert info["lives"] == lives and ours.ale.getEpisodeFrameNumber() > 0  # the same game goes on
    assert _is_fresh_stack(ours_reset) and _is_fresh_stack(pool_reset)  # both start the episode afresh
    pool.close()


def test_machado_training_start_differs_only_in_how_the_game_is_started():
    """Machado settings (noop_max=0, FIRE at reset, sticky actions): ours holds FIRE for one agent step
    (4 frames), EnvPool presses it for one frame (its noop minimum of 1 spent on FIRE), so the first
    observation is another emulator frame (Pong: a different background gray). Without FIRE and with
    one no-op frame on both sides, the same reset frame comes out bit for bit."""
    ours = PLUGIN.make("Pong", protocol="machado", training=True)
    pool = PLUGIN.make_vec("Pong", 1, seed=0, backend="envpool", protocol="machado", training=True)
    a, _ = ours.reset(seed=0)
    b, _ = pool.reset(seed=0)
    assert a.shape == b[0].shape and not np.array_equal(a, b[0])
    pool.close()
    start = {"protocol": "machado", "training": True, "noop_max": 1, "fire_reset": False}
    ours = PLUGIN.make("Pong", **start)
    pool = PLUGIN.make_vec("Pong", 1, seed=0, backend="envpool", **start)
    a, _ = ours.reset(seed=0)
    b, _ = pool.reset(seed=0)
    np.testing.assert_array_equal(a, b[0])
    pool.close()


class _NoOp:
    """Presses NOOP forever: in Pong the opponent scores every point (a known -21)."""

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return np.zeros(len(obs), dtype=np.int64)


def test_a_run_trained_on_envpool_is_evaluated_on_envpool():
    # the backends start games differently (a FIRE frame against a FIRE step), which shifts the
    # frame-skip phase: a PPO policy that won its EnvPool games 17-12 lost 8-27 on ale-py. So the
    # evaluation env of an env.backend=envpool run is one EnvPool env, with full games and raw scores.
    from rlsuite.envs.atari_envpool import EnvPoolAtariVectorEnv

    from rlsuite.envspec import EnvSpec
    from rlsuite.vector import SingleEnvView

    spec = EnvSpec(plugin="atari", id="ALE/Pong-v5", kwargs={"protocol": "machado"}, backend="envpool")
    env = spec.make(training=False)
    assert isinstance(env, SingleEnvView) and isinstance(env.vec, EnvPoolAtariVectorEnv)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    env.close()
    result = rlsuite.evaluate(_NoOp(), env=spec, episodes=1, seed=5, protocol="atari-machado")
    assert result.returns.tolist() == [-21.0]  # one full game (no life loss ends it), unclipped
    # a video needs the plugin's own env (EnvPool renders nothing)
    assert not isinstance(spec.make(training=False, render_mode="rgb_array"), SingleEnvView)
