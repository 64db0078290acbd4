"""Every hyperparameter is checked against the domain declared next to its field, when the agent is
built and before anything is written: the API raises ConfigError, the CLI prints one line, exits 2
and leaves no run directory behind."""

from __future__ import annotations

import argparse
import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest

import rlsuite
from rlsuite import registry
from rlsuite.config import NetConfig, RuntimeConfig, TrainConfig, compose
from rlsuite.constraints import Each, OneOf, Range, Section, check_value, constraint_of
from rlsuite.errors import ConfigError


# ---------------------------------------------------------------- the constraint objects themselves
def test_range_bounds_and_finiteness():
    positive = Range(gt=0)
    assert positive.accepts(1e-9) and positive.accepts(3)
    assert not positive.accepts(0) and not positive.accepts(-1e-9)
    assert not positive.accepts(math.inf) and not positive.accepts(math.nan)
    assert not positive.accepts(True)  # a bool is not a number here
    assert positive.accepts(np.int64(3)) and positive.accepts(np.float32(0.5))  # numpy scalars are (seeds from arrays)
    unit = Range(ge=0, le=1)
    assert unit.accepts(0) and unit.accepts(1) and unit.accepts(0.5)
    assert not unit.accepts(1.0000001) and not unit.accepts(-0.1)
    assert unit.describe() == "a number in [0, 1]"
    assert Range(gt=0, lt=1).describe() == "a finite number > 0 and < 1"
    either = Range(ge=1) | OneOf((-1,))
    assert either.accepts(-1) and either.accepts(5) and not either.accepts(0) and not either.accepts(-2)


def test_check_value_names_the_key_the_value_and_what_is_accepted():
    with pytest.raises(ConfigError, match=r"^invalid value for 'lr': -0.1; accepted: a finite number > 0$"):
        check_value("lr", -0.1, Range(gt=0))
    with pytest.raises(ConfigError, match=r"'net_arch\[1\]': 0; accepted: a finite number >= 1$"):
        check_value("net_arch", [64, 0, 32], Each(Range(ge=1)))
    with pytest.raises(ConfigError, match=r"'kwargs.target\[1\]': nan"):  # NaN anywhere, even undeclared
        check_value("kwargs", {"target": [1.0, float("nan")]}, None)
    check_value("lr", None, Range(gt=0))  # None: "use the default", typed by OmegaConf


# ---------------------------------------------------------------- the API: ConfigError for each class
BAD_VALUES = [
    ("dqn", "CartPole-v1", {"lr": -1e-3},
     "invalid value for 'lr' for agent 'dqn': -0.001; accepted: a finite number > 0"),
    ("dqn", "CartPole-v1", {"lr": float("nan")}, "invalid value for 'lr' for agent 'dqn': nan"),
    ("dqn", "CartPole-v1", {"lr": float("inf")}, "'lr' for agent 'dqn': inf"),
    ("dqn", "CartPole-v1", {"gamma": 2.0}, "'gamma' for agent 'dqn': 2.0; accepted: a number in [0, 1]"),
    ("dqn", "CartPole-v1", {"buffer_size": -5}, "'buffer_size' for agent 'dqn': -5; accepted: a finite number >= 1"),
    ("dqn", "CartPole-v1", {"net": {"widths": [64, 0]}}, "'net.widths[1]' for agent 'dqn': 0"),
    ("dqn", "CartPole-v1", {"exploration_fraction": 1.5}, "'exploration_fraction' for agent 'dqn': 1.5"),
    ("dqn", "CartPole-v1", {"v_min": float("nan")}, "'v_min' for agent 'dqn': nan"),
    ("dqn", "CartPole-v1", {"loss": "hubber"},
     "'loss' for agent 'dqn': 'hubber'; accepted: one of huber, mse. Did you mean: huber?"),
    ("ddpg", "Pendulum-v1", {"action_noise": "gaussian"},
     "accepted: one of normal, ornstein_uhlenbeck, none"),
    ("ddpg", "Pendulum-v1", {"gradient_steps": 0}, "accepted: a finite number >= 1 or one of -1"),
    ("ddpg", "Pendulum-v1", {"tau": 0.0}, "'tau' for agent 'ddpg': 0.0"),
    ("ppo", "CartPole-v1", {"gae_lambda": -0.5}, "'gae_lambda' for agent 'ppo': -0.5"),
    ("ppo", "CartPole-v1", {"n_steps": 0}, "'n_steps' for agent 'ppo': 0"),
    ("a2c", "CartPole-v1", {"optimizer": "sgd"}, "accepted: one of rmsprop, adam"),
    ("q_learning", "FrozenLake-v1", {"exploration_final_eps": -0.1}, "'exploration_final_eps' for agent 'q_learning'"),
    ("q_learning", "FrozenLake-v1", {"lr_schedule": "visit"}, "Did you mean: visits?"),
    ("trpo", "CartPole-v1", {"max_kl": 0.0}, "'max_kl' for agent 'trpo': 0.0"),
    ("a3c", "CartPole-v1", {"n_workers": 0}, "'n_workers' for agent 'a3c': 0"),
    ("sb3", "CartPole-v1", {"algo": "ppo2"}, "'algo' for agent 'sb3': 'ppo2'; accepted: one of"),
]


@pytest.mark.parametrize("name, env, hparams, expected", BAD_VALUES,
                         ids=[f"{n}-{next(iter(h))}={next(iter(h.values()))}" for n, _, h, _ in BAD_VALUES])
def test_api_refuses_each_bad_value_with_a_config_error(name, env, hparams, expected):
    with pytest.raises(ConfigError) as info:
        rlsuite.make_agent(name, env=env, **hparams)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_rules_across_fields_are_declared_on_the_config_and_checked_too():
    with pytest.raises(ConfigError, match=r"^invalid config for agent 'dqn': needs v_max > v_min when distributional; "
                                          r"got distributional=True, v_min=5.0, v_max=-5.0$"):
        rlsuite.make_agent("dqn", env="CartPole-v1", distributional=True, v_min=5.0, v_max=-5.0)
    rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, v_min=5.0, v_max=-5.0)  # unused without C51
    with pytest.raises(ConfigError, match=r"needs a minibatch size in \[1, n_steps \* n_envs\]; got batch_size=64, "
                                          r"n_minibatches=None, n_steps=4, n_envs=2"):
        rlsuite.make_agent("ppo", env="CartPole-v1", tuned=False, n_steps=4, n_envs=2, batch_size=64)
    with pytest.raises(ConfigError, match="n_minibatches=16"):
        rlsuite.make_agent("ppo", env="CartPole-v1", tuned=False, n_steps=4, n_envs=2, n_minibatches=16)


def test_api_refuses_a_negative_seed():
    with pytest.raises(ConfigError, match="invalid value for 'seed': -1; accepted: a finite number >= 0"):
        rlsuite.make_agent("q_learning", env="FrozenLake-v1", seed=-1)
    agent = rlsuite.make_agent("q_learning", env="FrozenLake-v1", seed=0)
    with pytest.raises(ConfigError, match="'total_steps': -5"):
        agent.learn(total_steps=-5)


def test_value_errors_of_the_networks_become_config_errors():
    """An activation the nets do not know is refused by rlsuite.nets with a ValueError at construction."""
    with pytest.raises(ConfigError, match="agent 'ppo' cannot be built with this config: unknown activation"):
        rlsuite.make_agent("ppo", env="CartPole-v1", net={"activation": "sigmoidx"})


AGENTS = registry.agent_names()  # every registered agent, maml and rl2 included: no hand-kept list


def missing_domains(config_cls: type) -> list[str]:
    """Fields of ``config_cls`` without a domain, and fields whose domain a subclass dropped by
    redeclaring them (``gamma: float = 0.99`` over the base's ``probability``); nested sections
    (``agent.net``, ``runtime``) are walked too."""
    problems = [f"{f.name}: no domain" for f in dataclasses.fields(config_cls) if constraint_of(f) is None]
    for f in dataclasses.fields(config_cls):
        rule = constraint_of(f)
        if isinstance(rule, Section):
            problems += [f"{f.name}.{problem}" for problem in missing_domains(rule.config)]
    own = {f.name: f for f in dataclasses.fields(config_cls)}
    for base in config_cls.__mro__[1:]:
        if not dataclasses.is_dataclass(base):
            continue
        for inherited in dataclasses.fields(base):
            mine = own.get(inherited.name)
            if mine is not None and constraint_of(inherited) != constraint_of(mine):
                problems.append(f"{inherited.name}: {base.__name__}'s domain {constraint_of(inherited)} "
                                f"became {constraint_of(mine)}")
    return problems


def test_the_domain_walk_sees_a_missing_and_a_dropped_domain():
    from rlsuite.agent import AgentConfig

    @dataclasses.dataclass
    class Sloppy(AgentConfig):
        gamma: float = 0.99  # redeclared without the base's probability domain
        lr: float = 1e-3
        flag: bool = True  # a bool's domain is its type

    assert missing_domains(Sloppy) == ["gamma: no domain", "lr: no domain",
                                       "gamma: AgentConfig's domain Range(ge=0, gt=None, le=1, lt=None) became None"]


@pytest.mark.parametrize("name", AGENTS)
def test_every_field_of_every_registered_agent_declares_its_domain(name):
    assert missing_domains(registry.get_agent(name).Config) == []


def test_the_walk_covers_the_network_and_runtime_sections():
    assert missing_domains(TrainConfig) == [] and missing_domains(NetConfig) == [] == missing_domains(RuntimeConfig)
    assert isinstance(constraint_of(next(f for f in dataclasses.fields(TrainConfig) if f.name == "runtime")), Section)

    @dataclasses.dataclass
    class SloppyNet:
        widths: list[int] | None = None

    @dataclasses.dataclass
    class WithNet:
        net: SloppyNet = dataclasses.field(default_factory=SloppyNet, metadata={"domain": Section(SloppyNet)})

    assert missing_domains(WithNet) == ["net.widths: no domain"]


def test_the_walk_covers_the_meta_agents():
    assert {"maml", "rl2", "a3c", "dqn", "ppo", "sb3"} <= set(AGENTS)


@pytest.mark.parametrize("name", AGENTS)
def test_every_declared_range_refuses_a_value_just_outside_it(name):
    """Walk each agent's Config: for every field with a lower or upper bound, a value just past it is
    refused (checked by building the config alone: the check runs before any network exists)."""
    from rlsuite.config import build_config

    cls = registry.get_agent(name)
    checked = 0
    fields = [(field, "") for field in dataclasses.fields(cls.Config)]
    fields += [(field, "net.") for field in dataclasses.fields(NetConfig)
               if field.name in getattr(cls.Config, "net_keys", ())]  # the net keys it reads
    for field, prefix in fields:
        rule = constraint_of(field)

        def given(value, field=field, prefix=prefix):
            return {"net": {field.name: value}} if prefix else {field.name: value}

        ranges = [rule] if isinstance(rule, Range) else []
        for r in ranges:
            is_int = field.type in ("int", "int | None")
            step = 1 if is_int else 1e-6
            outside = [b - step for b in (r.ge,) if b is not None] + [b for b in (r.gt,) if b is not None]
            outside += [b + step for b in (r.le,) if b is not None] + [b for b in (r.lt,) if b is not None]
            for value in outside:
                with pytest.raises(ConfigError, match=f"'{prefix}{field.name}'"):
                    build_config(cls, None, given(int(value) if is_int else float(value)))
                checked += 1
        if field.type in ("float", "float | None"):
            with pytest.raises(ConfigError, match=f"'{prefix}{field.name}' for agent '{name}': nan"):
                build_config(cls, None, given(float("nan")))
            checked += 1
    assert checked >= 3
    build_config(cls)  # the defaults themselves are within their domains


# ---------------------------------------------------------------- top-level keys (TrainConfig)
@pytest.mark.parametrize("override, expected", [
    ("total_steps=0", "'total_steps': 0; accepted: a finite number >= 1"),
    ("checkpoint_every=-1", "'checkpoint_every': -1"),
    ("seed=-3", "'seed': -3"),
    ("eval_episodes=0", "'eval_episodes': 0"),
    ("protocol=gymnasum", "Did you mean: gymnasium?"),
    ("agent.lr=nan", "invalid value for 'lr' for agent 'q_learning': nan"),
    ("agent.gamma=2", "'gamma' for agent 'q_learning': 2.0"),
])
def test_compose_refuses_bad_top_level_and_agent_values(override, expected):
    with pytest.raises(ConfigError) as info:
        compose(["agent=q_learning", "env=FrozenLake-v1", override])
    assert expected in str(info.value)


def test_an_uncreatable_run_dir_is_one_config_error_and_nothing_is_written(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ConfigError, match="cannot create the run directory .*a_file/run"):
        rlsuite.train(["agent=q_learning", "env=FrozenLake-v1", "total_steps=10", f"run_dir={blocker}/run",
                       "submit=false", "logger=[jsonl]"])
    with pytest.raises(ConfigError, match="cannot create the run directory"):
        rlsuite.train(["agent=q_learning", "env=FrozenLake-v1", "total_steps=10", f"runs_root={blocker}/deep/runs",
                       "submit=false", "logger=[jsonl]"])
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert blocker.read_text() == "not a directory"


# ---------------------------------------------------------------- the CLI, as a real process
@pytest.mark.parametrize("args, expected", [
    (["agent.lr=-0.5"], "invalid value for 'lr' for agent 'q_learning': -0.5; accepted: a finite number > 0"),
    (["agent.gamma=2.0"], "'gamma' for agent 'q_learning': 2.0; accepted: a number in [0, 1]"),
    (["seed=-1"], "invalid value for 'seed': -1"),
    (["run_dir=blocker/run"], "cannot create the run directory blocker/run"),
])
def test_cli_bad_value_is_one_line_exit_2_and_no_run_dir(args, expected, tmp_path):
    (tmp_path / "blocker").write_text("")
    out = subprocess.run([sys.executable, "-m", "rlsuite.cli", "train", "agent=q_learning", "env=FrozenLake-v1",
                          "total_steps=100", "submit=false", *args], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("rlsuite: error: ") and expected in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]  # no runs/ created


def just_outside(config_cls: type) -> tuple[str, str]:
    """The first field with a bounded range other than the shared gamma/n_envs, and a value just past it."""
    for f in dataclasses.fields(config_cls):
        rule = constraint_of(f)
        if f.name in ("gamma", "n_envs") or not isinstance(rule, Range):
            continue
        is_int = f.type in ("int", "int | None")
        if rule.ge is not None:
            return f.name, str(int(rule.ge) - 1 if is_int else rule.ge - 1e-3)
        if rule.gt is not None:
            return f.name, str(int(rule.gt) if is_int else rule.gt)
        if rule.le is not None:
            return f.name, str(int(rule.le) + 1 if is_int else rule.le + 1e-3)
    return "gamma", "-0.5"


@pytest.mark.parametrize("name", AGENTS)
def test_cli_fuzz_every_agent_bad_values_are_one_line_exit_2_and_no_run_dir(name, tmp_path):
    """For every registered agent: gamma=2 and a value just outside another field's range, through the
    real CLI process: one line naming the key, exit 2, no traceback, nothing written."""
    key, bad = just_outside(registry.get_agent(name).Config)
    env = {"maml": "navigation2d", "rl2": "bandits", "q_learning": "FrozenLake-v1", "sarsa": "FrozenLake-v1",
           "expected_sarsa": "FrozenLake-v1", "ddpg": "Pendulum-v1", "td3": "Pendulum-v1"}.get(name, "CartPole-v1")
    for override, expected in (("agent.gamma=2", f"'gamma' for agent '{name}': 2.0"),
                               (f"agent.{key}={bad}", f"'{key}' for agent '{name}'")):
        out = subprocess.run([sys.executable, "-m", "rlsuite.cli", "train", f"agent={name}", f"env={env}",
                              "total_steps=100", "submit=false", override], cwd=tmp_path, capture_output=True,
                             text=True)
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr
        (line,) = out.stderr.strip().splitlines()
        assert line.startswith("rlsuite: error: ") and expected in line, line
        assert list(tmp_path.iterdir()) == []  # no runs/ created


def test_cli_commands_are_read_from_the_dispatch_table():
    from rlsuite.cli import build_parser, command_names

    parser = build_parser()
    names = command_names(parser)
    assert {"train", "tune", "eval", "leaderboard", "list", "config", "plot", "fit", "sample"} <= set(names)
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert names == list(subparsers.choices)
    for name in names:  # each one dispatches to a handler
        assert callable(subparsers.choices[name].get_default("func")), name
