"""Learning tests (a quorum of seeds, thresholds with margin): the on-policy agents really learn, plus the
machinery around them (continuous actions, normalization statistics in checkpoints, the CLI,
bit-identical resume)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlsuite
from rlsuite import checkpoint
from rlsuite.errors import ConfigError, IncompatibleEnvError
from tests.learning import assert_quorum, seed_sets

torch.set_num_threads(1)

# rl-baselines3-zoo hyperparams (ppo.yml / trpo.yml CartPole-v1); also in configs/env/CartPole-v1.yaml.
PPO_CARTPOLE = dict(n_envs=8, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
                    lr=1e-3, anneal_lr=True, clip_range=0.2, anneal_clip=True)
TRPO_CARTPOLE = dict(n_envs=2, n_steps=512, critic_batch_size=512, cg_damping=1e-3, gae_lambda=0.98, gamma=0.99,
                     critic_lr=1e-3, critic_epochs=20)


def _greedy_mean(agent, episodes=10):
    return rlsuite.evaluate(agent, episodes=episodes, seed=1000).mean


def _trained_return(name: str, env: str, steps: int, seed: int, **hparams) -> float:
    agent = rlsuite.make_agent(name, env=env, tuned=False, seed=seed, device="cpu", **hparams)
    agent.learn(steps)
    return _greedy_mean(agent)


# (test id, agent, env, steps, recipe, threshold). Every seed's result: docs/tests.md.
LEARNING = [
    ("ppo_cartpole", "ppo", "CartPole-v1", 60_000, PPO_CARTPOLE, 475),
    # rl-zoo3's A2C CartPole settings (8 envs, RMSProp, SB3 defaults otherwise) at 300k of its 500k budget.
    ("a2c_cartpole", "a2c", "CartPole-v1", 300_000, dict(n_envs=8, ent_coef=0.0), 475),
    ("reinforce_cartpole", "reinforce", "CartPole-v1", 50_000,
     dict(n_envs=4, batch_episodes=4, lr=3e-3, critic_lr=3e-3), 400),
    # sb3-contrib's TRPO also misses 475 on some seeds (dev-notes/benchmarks-lab-notes.md); the zoo budget is 100k.
    ("trpo_cartpole", "trpo", "CartPole-v1", 80_000, TRPO_CARTPOLE, 475),
    # The zoo's budget; no gSDE here.
    ("ppo_pendulum", "ppo", "Pendulum-v1", 100_000,
     dict(n_envs=4, n_steps=1024, batch_size=64, gae_lambda=0.95, gamma=0.9, n_epochs=10, lr=1e-3, clip_range=0.2),
     -300),
]


@pytest.mark.parametrize("seeds", seed_sets())
@pytest.mark.parametrize(("test_id", "name", "env", "steps", "hparams", "threshold"), LEARNING,
                         ids=[row[0] for row in LEARNING])
def test_agent_learns(test_id, name, env, steps, hparams, threshold, seeds):
    score = lambda seed: _trained_return(name, env, steps, seed, **hparams)  # noqa: E731
    assert_quorum(test_id, score, seeds, threshold)


# ---------------------------------------------------------------------------- machinery
def test_env_config_hparams_are_applied_and_unknown_keys_refused(tmp_path):
    run = rlsuite.train(["agent=ppo", "env=CartPole-v1", "total_steps=512", f"run_dir={tmp_path / 'r'}",
                         "logger=[jsonl]", "submit=false", "eval_episodes=1"])
    assert run.agent.config.n_steps == 32 and run.agent.config.n_epochs == 20
    with pytest.raises(ConfigError, match="clip_rnage"):
        rlsuite.make_agent("ppo", env="CartPole-v1", clip_rnage=0.1)
    with pytest.raises(IncompatibleEnvError):
        rlsuite.make_agent("ppo", env=lambda: _DictObsEnv())


class _DictObsEnv(gym.Env):
    observation_space = gym.spaces.Dict({"a": gym.spaces.Discrete(2)})
    action_space = gym.spaces.Discrete(2)


def test_normalizer_statistics_saved_with_model_and_used_when_acting(tmp_path):
    agent = rlsuite.make_agent("ppo", env="Pendulum-v1", tuned=False, seed=0, device="cpu", n_envs=2, n_steps=64,
                               batch_size=64, n_epochs=1, normalize_obs=True, normalize_reward=True, squash=True)
    agent.learn(512)
    assert agent.obs_normalizer.rms.count > 500
    path = agent.save(tmp_path / "model")
    loaded = rlsuite.load(path)
    np.testing.assert_array_equal(loaded.obs_normalizer.rms.mean, agent.obs_normalizer.rms.mean)
    obs = np.array([[0.3, -0.9, 1.5], [1.0, 0.0, -4.0]], np.float32)
    np.testing.assert_array_equal(loaded.act(obs), agent.act(obs))
    single = loaded.act(obs[0])
    assert single.shape == (1,) and -2 <= single[0] <= 2
    # The final model leaves the optimizer out; checkpoints keep it and the reward statistics.
    assert "optimizer" not in checkpoint.load_state(path)["parts"]
    full = agent.state_dict(include_training_state=True)
    assert {"optimizer", "reward_normalizer", "obs_normalizer"} <= set(full["parts"])


@pytest.mark.parametrize("agent_name", ["ppo", "a2c", "trpo", "reinforce", "ppo_lstm"])
def test_crash_then_resume_is_bit_identical(tmp_path, monkeypatch, agent_name):
    """A run that dies right after its checkpoint at a resume point and is resumed ends with exactly
    the weights of one that never stopped (resume points cut the rollout in flight)."""
    from rlsuite.run import TrainHooks

    # ppo_lstm: recurrent PPO on CartPoleNoVel-v1 (the recipe's LSTM policy, smaller), two env sequences
    # per rollout in two minibatches; the rollout state restarts at resume points with the envs
    env = "CartPoleNoVel-v1" if agent_name == "ppo_lstm" else "CartPole-v1"
    common = [f"env={env}", "seed=3", "logger=[jsonl]", "submit=false", "eval_episodes=1",
              "checkpoint_every=1000", "total_steps=3000", "agent.n_envs=2", f"agent={agent_name.split('_')[0]}"]
    common += {"ppo": ["agent.n_steps=128", "agent.batch_size=64", "agent.n_epochs=2"],
               "ppo_lstm": ["agent.n_steps=64", "agent.batch_size=64", "agent.n_epochs=2",
                            "agent.net.recurrent_hidden=16", "agent.net.widths=[16]"],
               "a2c": ["agent.n_steps=5"], "trpo": ["agent.n_steps=128", "agent.critic_batch_size=64"],
               "reinforce": ["agent.batch_episodes=2"]}[agent_name]
    straight = rlsuite.train([*common, f"run_dir={tmp_path / 's'}"])

    save = TrainHooks.save_checkpoint

    def save_then_die(self, agent):
        save(self, agent)
        if agent.steps >= 2000:
            raise RuntimeError("killed")

    monkeypatch.setattr(TrainHooks, "save_checkpoint", save_then_die)
    with pytest.raises(RuntimeError, match="killed"):
        rlsuite.train([*common, f"run_dir={tmp_path / 'k'}"])
    monkeypatch.undo()
    assert checkpoint.load_state(tmp_path / "k" / "checkpoints" / "latest.safetensors")["counters"]["steps"] >= 2000
    resumed = rlsuite.train([f"resume={tmp_path / 'k'}"])
    assert resumed.agent.steps == straight.agent.steps
    for a, b in zip(straight.agent.policy.state_dict().values(), resumed.agent.policy.state_dict().values()):
        assert torch.equal(a, b)


def test_ppo_target_kl_stops_epochs_early():
    agent = rlsuite.make_agent("ppo", env="CartPole-v1", tuned=False, seed=0, device="cpu", n_envs=2, n_steps=128,
                               batch_size=32, n_epochs=50, lr=3e-3, target_kl=0.001)
    seen = {}
    agent.logger.record = lambda d: seen.update(d)
    agent.learn(256)
    assert seen["train/minibatches"] < 50 * 8  # stopped before all 400 minibatches
    assert seen["train/approx_kl"] > 1.5 * 0.001


@pytest.mark.parametrize("seeds", seed_sets())
def test_multidiscrete_actions_train(seeds):
    from gymnasium.wrappers import TimeLimit

    class TwoButtons(gym.Env):
        """Reward 1 when the two MultiDiscrete buttons match the observed one-hot targets."""

        observation_space = gym.spaces.Box(0, 1, (5,), np.float32)
        action_space = gym.spaces.MultiDiscrete([2, 3])

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return self._obs(), {}

        def _obs(self):
            self.target = (int(self.np_random.integers(2)), int(self.np_random.integers(3)))
            o = np.zeros(5, np.float32)
            o[self.target[0]] = 1
            o[2 + self.target[1]] = 1
            return o

        def step(self, action):
            reward = float(action[0] == self.target[0]) + float(action[1] == self.target[1])
            return self._obs(), reward, False, False, {}

    def score(seed):
        agent = rlsuite.make_agent("ppo", env=lambda: TimeLimit(TwoButtons(), 20), seed=seed, device="cpu", n_envs=4,
                                   n_steps=64, batch_size=64, n_epochs=4, lr=3e-3)
        agent.learn(12_000)
        return _greedy_mean(agent, episodes=5)

    assert_quorum("ppo_multidiscrete", score, seeds, threshold=36)  # 40 is perfect; random is 16.7
