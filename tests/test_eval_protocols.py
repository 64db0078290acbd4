"""Evaluation protocols through ``rlsuite.evaluate``: fixed evaluation seeds, and the two Atari
protocols doing what their papers say (sticky actions, no-op starts, ε 0.05, unclipped full-game
scores over all lives, the episode caps), with scripted agents so that it stays fast."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import rlsuite
from rlsuite.envspec import EnvSpec, env_spec_from
from rlsuite.errors import ConfigError
from rlsuite.eval.protocols import PROTOCOLS, get_protocol

pytest.importorskip("ale_py")

BREAKOUT = "ALE/Breakout-v5"
SPACE_INVADERS = "ALE/SpaceInvaders-v5"
N_ACTIONS = {BREAKOUT: 4, SPACE_INVADERS: 6}


class ScriptedAgent:
    """Acts from its own seeded RNG, whatever it sees (a fixed action sequence), and records the
    observations it was shown and the actions it took."""

    def __init__(self, env: str, seed: int = 0, stop_after: int | None = None, **env_kwargs):
        # The atari plugin (our preprocessing), not Gymnasium's plain ALE/... registration.
        self.env_spec = env_spec_from({"plugin": "atari", "id": env, "kwargs": env_kwargs})
        self.n_actions = N_ACTIONS[env]  # minimal action sets (building an env to ask costs time)
        self.rng = np.random.default_rng(seed)
        self.stop_after = stop_after
        self.seen: list[np.ndarray] = []
        self.actions: list[int] = []

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        if self.stop_after is not None and len(self.seen) >= self.stop_after:
            raise StopEpisode
        self.seen.append(np.array(obs[0]))
        action = int(self.rng.integers(self.n_actions))
        self.actions.append(action)
        return np.array([action])

    def trajectory_digest(self) -> str:
        return hashlib.sha256(b"".join(o.tobytes() for o in self.seen)).hexdigest()


class StopEpisode(Exception):
    """Raised by a scripted agent once it has seen what a test needs (keeps the test fast)."""


def play(
    env: str, seed: int, protocol: str, episodes: int = 1, **env_kwargs
) -> tuple[ScriptedAgent, rlsuite.EvalResult]:
    agent = ScriptedAgent(env, **env_kwargs)
    return agent, rlsuite.evaluate(agent, episodes=episodes, seed=seed, protocol=protocol)


# --------------------------------------------------------------------------- protocol registry


def test_protocols_by_name_and_unknown_name_suggests():
    assert set(PROTOCOLS) == {"gymnasium", "atari-machado", "atari-nature", "meta-adaptation", "meta-trial"}
    with pytest.raises(ConfigError, match="Did you mean: atari-nature"):
        get_protocol("atari-natur")
    nature, machado = get_protocol("atari-nature"), get_protocol("atari-machado")
    assert nature.epsilon == 0.05 and machado.epsilon == 0.0
    # The caps, in emulator frames at frame skip 4: 5 minutes at 60 Hz, and Machado's 108k frames.
    assert nature.max_episode_steps * 4 == 18_000 and nature.env_kwargs["max_frames"] == 18_000
    assert machado.max_episode_steps * 4 == 108_000


# --------------------------------------------------------------------------- machado


def test_sticky_actions_change_the_dynamics_only_when_on():
    # The same fixed action sequence on two evaluation seeds: with sticky actions (p = 0.25) the
    # games diverge; with repeat_action_probability 0 the emulator is deterministic and they match.
    sticky = [play(BREAKOUT, seed, "atari-machado")[0].trajectory_digest() for seed in (0, 1)]
    again = play(BREAKOUT, 0, "atari-machado")[0].trajectory_digest()
    plain = [
        play(BREAKOUT, seed, "atari-machado", repeat_action_probability=0.0)[0].trajectory_digest() for seed in (0, 1)
    ]
    assert sticky[0] != sticky[1]
    assert again == sticky[0]  # seeded: the evaluation repeats exactly
    assert plain[0] == plain[1]
    assert plain[0] != sticky[0]


def test_full_game_score_is_unclipped_and_spans_lives():
    from rlsuite.envs.atari import AtariPlugin

    agent, res = play(SPACE_INVADERS, 7, "atari-machado")
    # Replay the agent's actions on the same seed, reading the env's own per-step information.
    env = AtariPlugin().make(SPACE_INVADERS, training=False, protocol="machado")
    env.reset(seed=7)
    raw, lives, game_return = [], [], None
    for action in agent.actions:
        _, reward, terminated, truncated, info = env.step(action)
        raw.append(reward)
        lives.append(info["lives"])
        if terminated or truncated:
            game_return = info["game_return"]
    assert game_return is not None and len(raw) == res.lengths[0]  # the replay ends where the eval did
    assert res.returns[0] == pytest.approx(sum(raw)) == pytest.approx(game_return)
    clipped = float(np.sign(raw).sum())
    assert res.returns[0] > clipped > 0  # Space Invaders aliens are worth 5-30 points each: not clipped
    assert lives[0] - lives[-1] >= 2  # one evaluation episode runs through several lives ...
    assert env.unwrapped.ale.game_over()  # ... to the real end of the game

    # The training variant of the same env ends the episode at the first life loss, clipped.
    train_env = AtariPlugin().make(SPACE_INVADERS, training=True, protocol="machado")
    train_env.reset(seed=7)
    first_loss = next(i for i in range(1, len(lives)) if lives[i] < lives[i - 1])
    train_rewards = []
    for action in agent.actions:
        _, reward, terminated, _, _ = train_env.step(action)
        train_rewards.append(reward)
        if terminated:
            break
    assert len(train_rewards) == first_loss + 1
    assert set(np.unique(train_rewards)) <= {0.0, 1.0}
    assert sum(train_rewards) == np.sign(raw[: first_loss + 1]).sum()


# --------------------------------------------------------------------------- nature


def test_noop_starts_vary_the_initial_states():
    def first_observations(n_seeds: int, **env_kwargs) -> set[str]:
        digests = set()
        for seed in range(n_seeds):
            agent = ScriptedAgent(BREAKOUT, stop_after=1, **env_kwargs)
            with pytest.raises(StopEpisode):
                rlsuite.evaluate(agent, episodes=1, seed=seed, protocol="atari-nature")
            digests.add(hashlib.sha256(agent.seen[0].tobytes()).hexdigest())
        return digests

    assert len(first_observations(4)) >= 2  # 1..30 no-op frames after reset: different starts
    assert len(first_observations(3, noop_max=0)) == 1  # deterministic emulator without them


def test_nature_protocol_takes_random_actions_with_epsilon_0_05_and_repeats():
    agent, res = play(BREAKOUT, 3, "atari-nature", episodes=2)
    asked = len(agent.actions)
    steps = int(res.lengths.sum())
    # Binomial(steps, 0.05) random steps: the agent is asked on ~95% of them.
    n_random = steps - asked
    assert steps > 300
    assert abs(n_random - 0.05 * steps) < 4 * np.sqrt(steps * 0.05 * 0.95)
    _, again = play(BREAKOUT, 3, "atari-nature", episodes=2)  # ε draws come from the evaluation seed
    assert np.array_equal(again.returns, res.returns) and np.array_equal(again.lengths, res.lengths)
    assert res.protocol == "atari-nature" and res.extra["frames_per_step"] == 4


# --------------------------------------------------------------------------- gymnasium + result rows


def test_gymnasium_protocol_uses_fixed_evaluation_seeds():
    class FirstActionAgent:
        env_spec = env_spec_from("FrozenLake-v1")

        def act(self, obs, deterministic=True):
            return np.zeros(len(obs), dtype=np.int64)

    # Slippery FrozenLake: a fixed policy's episodes differ only through the env's randomness, which
    # comes from the evaluation seeds (episode i is reset with seed + i).
    agent = rlsuite.make_agent("q_learning", env="FrozenLake-v1", tuned=False, seed=0)
    a = rlsuite.evaluate(agent, episodes=8, seed=123)
    b = rlsuite.evaluate(agent, episodes=8, seed=123)
    c = rlsuite.evaluate(agent, episodes=8, seed=124)
    assert np.array_equal(a.lengths, b.lengths) and a.seed == 123 and a.protocol == "gymnasium"
    assert np.array_equal(a.lengths[1:], c.lengths[:-1]) and not np.array_equal(a.lengths, c.lengths)
    res = rlsuite.evaluate(FirstActionAgent(), episodes=4, seed=5)
    assert res.env_id == "FrozenLake-v1" and res.episodes == 4 and res.extra["frames_per_step"] == 1
    with pytest.raises(ConfigError, match="episodes"):
        rlsuite.evaluate(agent, episodes=0)


@dataclass
class _Cfg:
    lr: float = 1e-3
    algo: str = "ppo"


class _RowAgent:
    leaderboard_name = "sb3-ppo"
    env_spec = EnvSpec(plugin="atari", id="ALE/Breakout-v5")
    seed = 3
    steps = 1000
    config = _Cfg()


def test_result_rows_store_protocol_env_version_config_hash_steps_and_frames():
    from rlsuite.eval.evaluate import EvalResult
    from rlsuite.run import config_hash, result_row

    res = EvalResult(
        returns=np.array([1.0, 3.0]), lengths=np.array([10, 12]), mean=2.0, std=1.0, median=2.0, iqm=2.0,
        iqm_ci=(1.0, 3.0), episodes=2, seed=100, protocol="atari-nature", env_id="ALE/Breakout-v5",
        extra={"frames_per_step": 4},
    )
    row = result_row(_RowAgent(), res, Path("runs/x"))
    assert row["agent"] == "sb3-ppo" and row["protocol"] == "atari-nature"
    assert row["env_id"] == "ALE/Breakout-v5" and row["env_version"].startswith("v5 ale-py ")
    assert row["train_steps"] == 1000 and row["frames"] == 4000 and row["seed"] == 3
    assert row["config_hash"] == config_hash({"lr": 1e-3, "algo": "ppo"}) != config_hash({"lr": 1e-4, "algo": "ppo"})
