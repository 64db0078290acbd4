"""Config composition: ``configs/train.yaml`` + the agent's typed defaults + the env config (with
its per-agent tuned hyperparameters) + command-line overrides in Hydra's grammar.

Overrides are parsed by Hydra's own override parser (``agent=dqn``, ``agent.lr=1e-3``,
``logger=[console,tensorboard]``, sweeps ``seed=0,1,2`` / ``seed=range(5)`` for ``-m``). The
composition itself is ours rather than ``hydra.compose`` because ``env=`` must accept any
Gymnasium id and ``agent=`` any plugin without a YAML file, and because every mistake has to come
back as one line naming what was wrong, what is accepted and the closest match.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from rlsuite.errors import ConfigError, suggest, unknown

GROUPS = ("agent", "env")


@dataclass
class TrainConfig:
    """Top-level keys of a training run (``configs/train.yaml`` sets their defaults)."""

    seed: int = 0
    total_steps: int = 100_000
    threads: int = 1  # torch CPU threads (0: torch's default); small networks run fastest on one
    device: str = "auto"
    run_dir: str | None = None
    runs_root: str = "runs"
    resume: str | None = None
    checkpoint_every: int = 0
    logger: list[str] = field(default_factory=lambda: ["console", "jsonl"])
    log_every: int = 1000
    eval_episodes: int = 20
    eval_seed: int = 100_000
    eval_every: int = 0
    protocol: str = "gymnasium"
    leaderboard: str | None = None
    submit: bool = True


def configs_dir() -> Path:
    return Path(str(resources.files("rlsuite.configs")))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {str(err).splitlines()[0]}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping")
    return data


def env_config_names() -> list[str]:
    return sorted(p.stem for p in (configs_dir() / "env").glob("*.yaml"))


def resolve_env_node(name: str) -> dict[str, Any]:
    """What ``env=<name>`` means: a config file, an env plugin's name, a Gymnasium id, or an id
    one of the plugins handles (``ALE/Pong-v5``). Unknown names list the closest candidates."""
    from rlsuite import registry

    path = configs_dir() / "env" / f"{name}.yaml"
    if path.is_file():
        node = _read_yaml(path)
        node.setdefault("plugin", "gym")
        node.setdefault("kwargs", {})
        node.setdefault("name", name)
        node.setdefault("id", None)
        return node
    if name in registry.env_plugin_names():
        return {"name": name, "plugin": name, "id": None, "kwargs": {}}
    # Family plugins first: ALE/Pong-v5 is also a Gymnasium id once ale_py is imported, but it must
    # get the Atari plugin's preprocessing and protocols.
    for plugin_name in registry.env_plugin_names():
        if plugin_name == "gym":
            continue
        try:
            plugin = registry.get_env_plugin(plugin_name)
        except Exception:  # a broken third-party plugin must not hide the others
            continue
        if plugin.handles(name):
            return {"name": name, "plugin": plugin_name, "id": name, "kwargs": {}}
    import gymnasium as gym

    if name in gym.registry:
        return {"name": name, "plugin": "gym", "id": name, "kwargs": {}}
    raise unknown("env", name, env_config_names() + registry.env_plugin_names() + list(gym.registry))


def parse_overrides(overrides: list[str]) -> list[Any]:
    """Hydra's parser; returns its Override objects."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"expected key=value, got '{item}' (e.g. agent=dqn env=CartPole-v1 seed=1)")
    try:
        return OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as err:
        raise ConfigError(f"cannot parse overrides: {str(err).splitlines()[0]}") from err


def expand_sweeps(overrides: list[str]) -> list[list[str]]:
    """``seed=0,1,2 agent.lr=1e-3,1e-4`` → the cartesian product of plain override lists."""
    choices: list[list[str]] = []
    for ov in parse_overrides(overrides):
        key = ov.get_key_element()
        if ov.is_sweep_override():
            choices.append([f"{key}={v}" for v in ov.sweep_string_iterator()])
        else:
            choices.append([ov.input_line])
    return [list(combo) for combo in itertools.product(*choices)]


def _top_level_keys() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig)] + list(GROUPS)


def compose(overrides: list[str] | None = None) -> DictConfig:
    """The fully resolved, typed config for one run."""
    from rlsuite import registry
    from rlsuite.agent import config_error

    parsed = parse_overrides(list(overrides or []))
    base = _read_yaml(configs_dir() / "train.yaml")
    choice = {group: str(base.pop(group)) for group in GROUPS}
    rest = []
    for ov in parsed:
        if ov.is_sweep_override():
            raise ConfigError(f"'{ov.input_line}' is a sweep; add -m to run every value (multirun)")
        key = ov.get_key_element()
        if key in GROUPS:
            value = ov.value()
            if not isinstance(value, str):
                raise ConfigError(f"{key}= takes a name, got {value!r}")
            choice[key] = value
        else:
            rest.append((key, ov.value()))

    cls = registry.get_agent(choice["agent"])
    env_node = resolve_env_node(choice["env"])
    tuned = env_node.pop("hparams", None) or {}
    agent_hparams = dict(tuned.get(cls.name) or tuned.get(getattr(cls, "hparams_from", "") or "", {}) or {})
    agent_hparams.pop("total_steps", None)  # the recipe's budget, not an agent hyperparameter
    try:
        agent_node = OmegaConf.merge(OmegaConf.structured(cls.Config), dict(cls.preset), agent_hparams)
        root = OmegaConf.merge(OmegaConf.structured(TrainConfig), base)
    except OmegaConfBaseException as err:
        raise config_error(err, cls) from err
    OmegaConf.set_struct(root, False)
    OmegaConf.set_struct(agent_node, False)
    agent_node["name"] = cls.name
    root["agent"] = agent_node
    root["env"] = OmegaConf.create(env_node)
    OmegaConf.set_struct(root, True)
    OmegaConf.set_struct(root.agent, True)
    OmegaConf.set_struct(root.env, True)
    OmegaConf.set_struct(root.env.kwargs, False)
    for key in root.agent:  # free-form dict fields (e.g. sb3's agent.kwargs.<any>) take new keys
        child = root.agent._get_node(key)
        if isinstance(child, DictConfig) and OmegaConf.get_type(child) is dict:
            OmegaConf.set_struct(child, False)

    for key, value in rest:
        head = key.split(".", 1)[0]
        if head not in _top_level_keys():
            raise ConfigError(f"unknown key '{key}'.{suggest(head, _top_level_keys())} "
                              f"Accepted: {', '.join(_top_level_keys())} (and agent.<key>, env.kwargs.<key>)")
        if key == "agent.name":
            raise ConfigError("choose the agent with agent=<name>, not agent.name")
        try:
            OmegaConf.update(root, key, value, merge=True)
        except OmegaConfBaseException as err:
            if head == "agent":
                raise config_error(err, cls, prefix="agent.") from err
            raise config_error(err) from err
    from rlsuite.loggers import check_logger_names

    check_logger_names(list(root.logger))
    if root.total_steps < 0:
        raise ConfigError(f"total_steps must be >= 0, got {root.total_steps}")
    return root


def to_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg)


def agent_overrides(cfg: DictConfig) -> dict[str, Any]:
    """The agent node without its name, as a plain dict for ``make_agent``."""
    node = OmegaConf.to_container(cfg.agent, resolve=True)
    assert isinstance(node, dict)
    node.pop("name", None)
    return node
