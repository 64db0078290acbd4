"""The config core: one agent from the API and the CLI (tuned values and budgets of env configs),
deprecated key names mapped to the one vocabulary. The layer rule and the cycle check: test_layers.py."""

from __future__ import annotations

import dataclasses
import shutil
import warnings

import pytest

import rlsuite
from rlsuite import config as config_module
from rlsuite import envspec, registry
from rlsuite.config import RENAMED_KEYS, agent_overrides, build_config, compose, default_total_steps
from rlsuite.errors import ConfigError

# ---------------------------------------------------------------- one agent from the API and the CLI
CASES = [
    ("dqn", "CartPole-v1", {}),
    ("dqn", "CartPole-v1", {"lr": 1e-3, "double": True}),
    ("rainbow", "CartPole-v1", {}),  # a preset reads its base agent's tuned values
    ("ppo", "CartPole-v1", {"n_epochs": 3}),
    ("q_learning", "FrozenLake-v1", {}),
    ("ddpg", "Pendulum-v1", {}),
    ("td3", "Pendulum-v1", {"policy_delay": 3}),
]


@pytest.mark.parametrize("name, env, hparams", CASES, ids=[f"{n}-{e}-{len(h)}" for n, e, h in CASES])
def test_api_and_cli_build_identical_agent_configs(name, env, hparams):
    overrides = [f"agent={name}", f"env={env}"] + [f"agent.{k}={str(v).lower()}" for k, v in hparams.items()]
    cfg = compose(overrides)
    cls = registry.get_agent(name)
    from_cli = build_config(cls, agent_overrides(cfg))
    agent = rlsuite.make_agent(name, env=env, **hparams)
    assert dataclasses.asdict(agent.config) == dataclasses.asdict(from_cli)
    bare = dataclasses.asdict(build_config(cls, None, hparams))
    tuned = rlsuite.make_agent(name, env=env, tuned=False, **hparams).config
    assert dataclasses.asdict(tuned) == bare  # tuned=False: the agent's own defaults (and the preset)
    for key, value in hparams.items():  # explicit keywords win over the env config
        assert getattr(agent.config, key) == value


def test_tuned_values_differ_from_the_defaults_where_the_env_config_says_so():
    agent = rlsuite.make_agent("dqn", env="CartPole-v1")
    assert agent.config.train_freq == 256 and agent.config.net_arch == [256, 256]  # configs/env/CartPole-v1.yaml
    assert rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False).config.train_freq == 4


@pytest.fixture
def tiny_configs(tmp_path, monkeypatch):
    """A configs dir with train.yaml and one env config that gives q_learning a budget."""
    (tmp_path / "env").mkdir()
    shutil.copy(envspec.configs_dir() / "train.yaml", tmp_path / "train.yaml")
    (tmp_path / "env" / "Tiny.yaml").write_text(
        "id: FrozenLake-v1\nkwargs: {is_slippery: false}\n"
        "hparams:\n  q_learning: {lr: 0.3, total_steps: 1234}\n  sarsa: {lr: 0.2}\n"
    )
    monkeypatch.setattr(envspec, "configs_dir", lambda: tmp_path)
    monkeypatch.setattr(config_module, "configs_dir", lambda: tmp_path)
    return tmp_path


def test_env_config_budget_is_the_default_total_steps(tiny_configs):
    cfg = compose(["agent=q_learning", "env=Tiny"])
    assert cfg.total_steps == 1234 and cfg.agent.lr == 0.3 and "total_steps" not in cfg.agent
    assert compose(["agent=q_learning", "env=Tiny", "total_steps=50"]).total_steps == 50  # explicit wins
    assert compose(["agent=sarsa", "env=Tiny"]).total_steps == default_total_steps() == 100_000  # train.yaml

    agent = rlsuite.make_agent("q_learning", env="Tiny", seed=0)
    assert agent.config.lr == 0.3 and agent.default_total_steps == 1234
    assert agent.learn().steps == 1234  # no argument: the env config's budget
    assert agent.learn(total_steps=16).steps == 1250  # learn(total_steps=N) still works
    assert rlsuite.make_agent("q_learning", env="Tiny", tuned=False).default_total_steps is None


def test_cli_runs_the_env_config_budget(tiny_configs, tmp_path):
    run = rlsuite.train(["agent=q_learning", "env=Tiny", "logger=[jsonl]", f"run_dir={tmp_path / 'run'}",
                         "eval_episodes=1", "submit=false"])
    assert run.agent.steps == 1234 and run.config.total_steps == 1234


def test_a_bad_budget_in_an_env_config_is_one_line(tiny_configs):
    (tiny_configs / "env" / "Tiny.yaml").write_text("id: FrozenLake-v1\nhparams:\n  q_learning: {total_steps: -3}\n")
    with pytest.raises(ConfigError, match="hparams.q_learning.total_steps must be an integer >= 1, got -3"):
        compose(["agent=q_learning", "env=Tiny"])


# ---------------------------------------------------------------- one vocabulary
def test_every_renamed_key_exists_under_its_new_name_and_never_twice():
    fields = {name: {f.name for f in dataclasses.fields(registry.get_agent(name).Config)}
              for name in registry.agent_names()}
    for old, new in RENAMED_KEYS.items():
        assert any(new in keys for keys in fields.values()), new
        assert not any(old in keys for name, keys in fields.items() if name in
                       ("dqn", "ddpg", "a2c", "a3c", "ppo", "trpo", "reinforce", "q_learning")), old


@pytest.mark.parametrize("name, env, old, new, value", [
    ("dqn", "CartPole-v1", "adam_eps", "optimizer_eps", 1.5e-4),
    ("a2c", "CartPole-v1", "rms_eps", "optimizer_eps", 1e-4),
    ("a3c", "CartPole-v1", "eps", "optimizer_eps", 1e-3),
    ("a3c", "CartPole-v1", "shared_trunk", "shared", True),
    ("q_learning", "FrozenLake-v1", "epsilon_final", "exploration_final_eps", 0.2),
])
def test_deprecated_names_still_work_with_a_warning(name, env, old, new, value):
    with pytest.warns(FutureWarning, match=f"'{old}' is deprecated; use '{new}'"):
        config = build_config(registry.get_agent(name), None, {old: value})
    assert getattr(config, new) == value
    with pytest.warns(FutureWarning):
        cfg = compose([f"agent={name}", f"env={env}", f"agent.{old}={str(value).lower()}"])
    assert cfg.agent[new] == value
    with pytest.raises(ConfigError, match=f"'{old}' .deprecated. and '{new}' are both given"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        build_config(registry.get_agent(name), None, {old: value, new: value})


def test_distributed_rollout_workers_is_another_name_for_agent_workers():
    base = ["agent=ppo", "env=CartPole-v1"]
    assert compose([*base, "distributed.rollout_workers=2"]).agent.workers == 2
    assert "distributed" not in compose([*base, "distributed.rollout_workers=2"])  # the run config: agent.workers
    assert compose([*base, "distributed.rollout_workers=2", "agent.workers=2"]).agent.workers == 2  # agreeing
    with pytest.raises(ConfigError, match="distributed.rollout_workers=2 and agent.workers=3 disagree"):
        compose([*base, "agent.workers=3", "distributed.rollout_workers=2"])
    with pytest.raises(ConfigError, match="agent 'dqn' has no such key"):
        compose(["agent=dqn", "env=CartPole-v1", "distributed.rollout_workers=2"])


def test_train_freq_counts_env_steps_summed_over_envs_in_ddpg_as_in_dqn():
    """With 2 envs and train_freq=4, a training phase comes every 2 vector steps (4 env steps)."""
    agent = rlsuite.make_agent("ddpg", env="Pendulum-v1", tuned=False, n_envs=2, train_freq=4, gradient_steps=1,
                               learning_starts=0, batch_size=4, net_arch=[8], buffer_size=100)
    agent.learn(total_steps=20)
    assert agent.steps == 20
    assert agent.updates == 20 // 4  # the old meaning (vector steps) would have given 20 // 8


# ---------------------------------------------------------------- frames per agent step: one source
def test_frames_per_step_come_from_the_env_plugin():
    """EnvPlugin.frames_per_step decides frames for the agents' logs, the cost line and the leaderboard."""
    from rlsuite.envspec import EnvSpec

    pytest.importorskip("ale_py")
    assert EnvSpec(plugin="atari", id="ALE/Pong-v5").frames_per_step() == 4  # the wrapper's default
    assert EnvSpec(plugin="atari", id="ALE/Pong-v5", kwargs={"frame_skip": 2}).frames_per_step() == 2
    assert EnvSpec(plugin="atari", id="ALE/Pong-v5").frames_per_step(frame_skip=3) == 3  # a protocol's kwargs
    assert EnvSpec(plugin="gym", id="CartPole-v1").frames_per_step() == 1
    assert EnvSpec(plugin="custom", instance=object()).frames_per_step() == 1  # type: ignore[arg-type]
    agent = rlsuite.make_agent("dqn", env=EnvSpec(plugin="atari", id="ALE/Pong-v5", kwargs={"frame_skip": 2}),
                               tuned=False, buffer_size=100)
    assert agent.frames_per_step == 2  # DQN no longer assumes 4 for every Atari env
