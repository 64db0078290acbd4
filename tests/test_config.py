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
    assert agent.config.train_freq == 256 and agent.config.net.widths == [256, 256]  # configs/env/CartPole-v1.yaml
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
    agents = [registry.get_agent(name) for name in registry.agent_names()]
    fields = {cls.name: {f.name for f in dataclasses.fields(cls.Config)} for cls in agents}
    for old, new in RENAMED_KEYS.items():
        assert any(config_module._has_key(cls, new) for cls in agents), new
        assert not any(old in keys for keys in fields.values()), old
    for cls in agents:  # a Config's own renames
        for old, new in getattr(cls.Config, "renamed_keys", {}).items():
            assert config_module._has_key(cls, new) and old not in fields[cls.name], (cls.name, old)


def _get(node, dotted):
    """``node.net.widths`` for ``net.widths`` (a dataclass or an OmegaConf node)."""
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


@pytest.mark.parametrize("name, env, old, new, value", [
    ("dqn", "CartPole-v1", "adam_eps", "optimizer_eps", 1.5e-4),
    ("a2c", "CartPole-v1", "rms_eps", "optimizer_eps", 1e-4),
    ("a3c", "CartPole-v1", "eps", "optimizer_eps", 1e-3),
    ("a3c", "CartPole-v1", "shared_trunk", "net.shared", True),
    ("q_learning", "FrozenLake-v1", "epsilon_final", "exploration_final_eps", 0.2),
    ("dqn", "CartPole-v1", "net_arch", "net.widths", [32, 16]),
    ("dqn", "CartPole-v1", "dropout", "net.dropout", 0.25),
    ("ppo", "CartPole-v1", "log_std_init", "net.log_std_init", -1.5),
    ("ppo", "CartPole-v1", "vf_net_arch", "net.critic_widths", [8]),
    ("maml", "navigation2d", "hidden_sizes", "net.widths", [16]),
    ("maml", "navigation2d", "init_log_std", "net.log_std_init", -0.5),
    ("rl2", "bandits", "hidden_size", "net.recurrent_hidden", 16),
    ("rl2", "bandits", "core", "net.recurrent", "lstm"),
    ("reinforce", "CartPole-v1", "n_value_epochs", "critic_epochs", 3),
    ("trpo", "CartPole-v1", "n_critic_updates", "critic_epochs", 3),
    ("trpo", "CartPole-v1", "batch_size", "critic_batch_size", 32),
])
def test_deprecated_names_still_work_with_a_warning(name, env, old, new, value):
    with pytest.warns(FutureWarning, match=f"'{old}' is deprecated; use '{new}'"):
        config = build_config(registry.get_agent(name), None, {old: value})
    assert _get(config, new) == value
    with pytest.warns(FutureWarning):
        cfg = compose([f"agent={name}", f"env={env}", f"agent.{old}={str(value).lower().replace(' ', '')}"])
    assert _get(cfg.agent, new) == value
    with pytest.raises(ConfigError, match=f"'{old}' .deprecated. and '{new}' are both given"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        head, _, rest = new.partition(".")  # net.widths is given as {"net": {"widths": ...}}
        build_config(registry.get_agent(name), None, {old: value, head: {rest: value} if rest else value})


@pytest.mark.parametrize("old, new, value", [
    ("precision", "precision", "bfloat16"), ("numba_acting", "numba_acting", False),
    ("fused_optimizer", "fused_optimizer", False), ("flat_parameters", "flat_parameters", False),
    ("channels_last", "channels_last", False),
])
def test_old_agent_runtime_keys_move_to_runtime_with_a_warning(old, new, value):
    with pytest.warns(FutureWarning, match=f"'{old}' is deprecated; use 'runtime.{new}'"):
        cfg = compose(["agent=ppo", "env=CartPole-v1", f"agent.{old}={str(value).lower()}"])
    assert cfg.runtime[new] == value and old not in cfg.agent
    with pytest.warns(FutureWarning):
        agent = rlsuite.make_agent("ppo", env="CartPole-v1", **{old: value})
    assert getattr(agent.runtime, new) == value
    assert getattr(rlsuite.make_agent("ppo", env="CartPole-v1", runtime={new: value}).runtime, new) == value


def test_guided_exploration_moved_from_the_dqn_config_to_the_env(tiny_configs):
    """Task hooks are env features: ``agent.guided_exploration`` became ``env.kwargs.guided_exploration``."""
    dqn = registry.get_agent("dqn")
    assert "guided_exploration" not in {f.name for f in dataclasses.fields(dqn.Config)}
    moved = r"agent key 'guided_exploration' moved to the env: set env.kwargs.guided_exploration instead"
    # a saved config (an old run's config.yaml, a checkpoint) still loads: a warning, the key dropped
    with pytest.warns(FutureWarning, match=moved + "; ignored here"):
        config = build_config(dqn, {"guided_exploration": True, "lr": 1e-3})
    assert config.lr == 1e-3
    # so does an old env recipe that sets it under hparams.dqn
    (tiny_configs / "env" / "Hinted.yaml").write_text(
        "id: CartPole-v1\nhparams:\n  dqn: {guided_exploration: true, gamma: 0.9}\n")
    with pytest.warns(FutureWarning, match=moved):
        cfg = compose(["agent=dqn", "env=Hinted"])
    assert cfg.agent.gamma == 0.9 and "guided_exploration" not in cfg.agent
    # given explicitly (the command line, a keyword): one line naming the env key
    with pytest.raises(ConfigError, match=moved + r" \(agent 'dqn' has no guided_exploration\)"):
        compose(["agent=dqn", "env=CartPole-v1", "agent.guided_exploration=false"])
    with pytest.raises(ConfigError, match=moved):
        rlsuite.make_agent("dqn", env="CartPole-v1", guided_exploration=False)


def test_the_cli_refuses_agent_guided_exploration_in_one_line(capsys):
    from rlsuite.cli import main

    assert main(["config", "agent=dqn", "env=localization-shapes", "agent.guided_exploration=false"]) == 2
    err = capsys.readouterr().err
    assert err == ("rlsuite: error: agent key 'guided_exploration' moved to the env: set "
                   "env.kwargs.guided_exploration instead (agent 'dqn' has no guided_exploration)\n")


def test_the_localization_env_configs_set_guided_exploration_as_an_env_kwarg():
    for name in ("localization-shapes", "localization-shapes-multi", "localization-voc"):
        cfg = compose(["agent=dqn", f"env={name}"])
        assert cfg.env.kwargs.guided_exploration is True and "guided_exploration" not in cfg.agent
    cfg = compose(["agent=dqn", "env=localization-shapes", "env.kwargs.guided_exploration=false"])
    assert cfg.env.kwargs.guided_exploration is False


def test_the_three_parts_of_an_agent_config():
    cfg = compose(["agent=ppo", "env=CartPole-v1", "agent.net.widths=[32,32]", "runtime.numba_acting=false"])
    assert cfg.agent.net.widths == [32, 32] and cfg.runtime.numba_acting is False and "numba_acting" not in cfg.agent
    agent = rlsuite.make_agent("ppo", env="CartPole-v1", net={"widths": [32, 32]}, runtime={"numba_acting": False})
    assert agent.config.net.widths == [32, 32] and agent.numba_actor is None
    assert rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False).config.net.widths == [64, 64]  # its own default


@pytest.mark.parametrize("name, env, override, expected", [
    ("dqn", "CartPole-v1", "agent.net.recurrent=lstm", "agent 'dqn' does not use agent.net.recurrent (got 'lstm')"),
    ("trpo", "CartPole-v1", "agent.net.recurrent=gru", "agent 'trpo' does not use agent.net.recurrent"),
    ("trpo", "CartPole-v1", "agent.net.embed_dim=8", "agent 'trpo' does not use agent.net.embed_dim"),
    ("ddpg", "Pendulum-v1", "agent.net.dropout=0.1", "agent 'ddpg' does not use agent.net.dropout"),
    ("dqn", "CartPole-v1", "runtime.precision=bfloat16", "agent 'dqn' does not use runtime.precision"),
    ("sac", "Pendulum-v1", "runtime.workers=2", "agent 'sac' does not use runtime.workers"),
    ("rl2", "bandits", "agent.net.recurrent=null", "needs a recurrent core"),
])
def test_a_net_or_runtime_key_the_agent_cannot_use_is_refused_at_config_time(name, env, override, expected):
    with pytest.raises(ConfigError) as info:
        compose([f"agent={name}", f"env={env}", override])
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_max_grad_norm_none_means_no_clipping_for_every_agent_that_clips():
    for name in ("dqn", "ppo", "a2c", "reinforce", "a3c", "rl2"):
        assert build_config(registry.get_agent(name), None, {"max_grad_norm": None}).max_grad_norm is None
        with pytest.raises(ConfigError, match="'max_grad_norm'"):
            build_config(registry.get_agent(name), None, {"max_grad_norm": 0.0})


def test_distributed_rollout_workers_is_another_name_for_runtime_workers():
    base = ["agent=ppo", "env=CartPole-v1"]
    assert compose([*base, "distributed.rollout_workers=2"]).runtime.workers == 2
    assert "distributed" not in compose([*base, "distributed.rollout_workers=2"])  # the run config: runtime.workers
    assert compose([*base, "distributed.rollout_workers=2", "runtime.workers=2"]).runtime.workers == 2  # agreeing
    with pytest.raises(ConfigError, match="distributed.rollout_workers=2 and runtime.workers=3 disagree"):
        compose([*base, "runtime.workers=3", "distributed.rollout_workers=2"])
    with pytest.raises(ConfigError, match="agent 'dqn' does not use it"):
        compose(["agent=dqn", "env=CartPole-v1", "distributed.rollout_workers=2"])


def test_train_freq_counts_env_steps_summed_over_envs_in_ddpg_as_in_dqn():
    """With 2 envs and train_freq=4, a training phase comes every 2 vector steps (4 env steps)."""
    agent = rlsuite.make_agent("ddpg", env="Pendulum-v1", tuned=False, n_envs=2, train_freq=4, gradient_steps=1,
                               learning_starts=0, batch_size=4, net={"widths": [8]}, buffer_size=100)
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
