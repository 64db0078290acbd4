"""Config composition and validation: ``configs/train.yaml`` + the agent's typed defaults + the env
config (with its per-agent tuned hyperparameters and budget) + overrides in Hydra's grammar.

Overrides are parsed by Hydra's own override parser (``agent=dqn``, ``agent.lr=1e-3``,
``logger=[console,tensorboard]``, sweeps ``seed=0,1,2`` / ``seed=range(5)`` for ``-m``). The
composition itself is ours rather than ``hydra.compose`` because ``env=`` must accept any
Gymnasium id and ``agent=`` any plugin without a YAML file, and because every mistake has to come
back as one line naming what was wrong, what is accepted and the closest match.

The same functions build the agent config for the CLI (:func:`compose`) and for the API
(:func:`rlsuite.make_agent`): :func:`tuned_hparams` reads an env config's values for an agent and
:func:`build_config` merges the layers and checks every field against the domain declared next to
it (:mod:`rlsuite.constraints`).
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException, ValidationError

from rlsuite import registry
from rlsuite.constraints import Each, OneOf, at_least_one, domain, non_negative, positive, validate
from rlsuite.envspec import configs_dir, read_yaml, resolve_env_node
from rlsuite.errors import ConfigError, suggest
from rlsuite.eval.protocols import PROTOCOLS
from rlsuite.loggers import LOGGER_NAMES

if TYPE_CHECKING:
    from rlsuite.agent import Agent, AgentConfig

    ConfigT = TypeVar("ConfigT", bound=AgentConfig)

GROUPS = ("agent", "env")

# Deprecated agent keys -> their one name across agents (they meant the same thing under several
# names). Old names still work, with a FutureWarning; saved models and checkpoints carry on loading.
RENAMED_KEYS = {
    "adam_eps": "optimizer_eps",  # dqn
    "rms_eps": "optimizer_eps",  # a2c
    "eps": "optimizer_eps",  # a3c
    "shared_trunk": "shared",  # a3c (on-policy agents: shared)
    "epsilon": "exploration_initial_eps",  # tabular (dqn: exploration_initial_eps)
    "epsilon_final": "exploration_final_eps",  # tabular (dqn: exploration_final_eps)
    "report_every": "log_interval",  # a3c (ddpg: log_interval)
}


# Other names for agent keys on the command line (the issue's ``distributed.rollout_workers=N``); the
# run config keeps only the agent key, so a saved or resumed run reads the same either way.
KEY_ALIASES = {"distributed.rollout_workers": "agent.workers"}


@dataclass
class RayConfig:
    """``ray.*``: where Ray runs (rlsuite.distributed). ``address`` None: RAY_ADDRESS, else a local Ray."""

    address: str | None = None
    num_cpus: int | None = field(default=None, metadata=non_negative)  # a local Ray's CPUs (default: every core)
    num_gpus: float | None = None
    timeout: float = field(default=30.0, metadata=positive)  # seconds to wait for a cluster at an address


@dataclass
class TrainConfig:
    """Top-level keys of a training run (``configs/train.yaml`` sets their defaults)."""

    seed: int = field(default=0, metadata=non_negative)
    total_steps: int = field(default=100_000, metadata=at_least_one)
    threads: int = field(default=1, metadata=non_negative)  # torch CPU threads (0: torch's default)
    device: str = "auto"  # checked by rlsuite.agent.resolve_device
    run_dir: str | None = None
    runs_root: str = "runs"
    resume: str | None = None
    checkpoint_every: int = field(default=0, metadata=non_negative)
    logger: list[str] = field(default_factory=lambda: ["console", "jsonl"], metadata=domain(Each(OneOf(LOGGER_NAMES))))
    log_every: int = field(default=1000, metadata=at_least_one)
    eval_episodes: int = field(default=20, metadata=at_least_one)
    eval_seed: int = field(default=100_000, metadata=non_negative)
    eval_every: int = field(default=0, metadata=non_negative)
    protocol: str = field(default="gymnasium", metadata=domain(OneOf(tuple(PROTOCOLS))))
    leaderboard: str | None = None
    submit: bool = True
    check_finite: bool = True  # stop at the first NaN/±inf observation, reward, loss or gradient norm
    launcher: str = field(default="local", metadata=domain(OneOf(("local", "ray"))))  # how -m runs its jobs
    ray: RayConfig = field(default_factory=RayConfig)


def train_defaults() -> dict[str, Any]:
    """``configs/train.yaml``: the defaults of the top-level keys and the default group choices."""
    return read_yaml(configs_dir() / "train.yaml")


def default_total_steps() -> int:
    """The budget when neither the user nor the env config gives one."""
    return int(train_defaults().get("total_steps", TrainConfig.total_steps))


# ------------------------------------------------------------------------ agent configs
def rename_deprecated(cls: type[Agent], hparams: dict[str, Any]) -> dict[str, Any]:
    """Map deprecated keys of ``hparams`` to their current names (see :data:`RENAMED_KEYS`)."""
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    out = {}
    for key, value in hparams.items():
        new = RENAMED_KEYS.get(key)
        if new is not None and key not in fields and new in fields:
            warnings.warn(f"agent key '{key}' is deprecated; use '{new}'", FutureWarning, stacklevel=3)
            if new in hparams:
                raise ConfigError(f"agent keys '{key}' (deprecated) and '{new}' are both given; keep '{new}'")
            key = new
        out[key] = value
    return out


def tuned_hparams(cls: type[Agent], env_node: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """An env config's tuned hyperparameters for ``cls`` (``hparams.<agent>``, else the entry of
    the agent it is a preset of) and its training budget (``total_steps`` there, or None)."""
    tuned = env_node.get("hparams") or {}
    hparams = dict(tuned.get(cls.name) or tuned.get(getattr(cls, "hparams_from", "") or "", {}) or {})
    budget = hparams.pop("total_steps", None)
    if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool) or budget < 1):
        raise ConfigError(f"env config '{env_node.get('name')}': hparams.{cls.name}.total_steps must be an "
                          f"integer >= 1, got {budget!r}")
    return rename_deprecated(cls, hparams), budget


def env_defaults(cls: type[Agent], env: Any) -> tuple[dict[str, Any], int | None]:
    """What ``env`` brings to an agent: the tuned hyperparameters and budget of the env config it
    names, or nothing (a Gymnasium id without a config, an env instance, a factory)."""
    if not isinstance(env, str):
        return {}, None
    return tuned_hparams(cls, resolve_env_node(env))


def build_config(cls: type[Agent[ConfigT]], config: Any = None, overrides: dict[str, Any] | None = None) -> ConfigT:
    """Defaults ← the class preset ← ``config`` ← ``overrides``: typed by OmegaConf, then every
    field checked against its declared domain. Returns an instance of ``cls.Config``."""
    layers: list[Any] = [OmegaConf.structured(cls.Config), dict(cls.preset)]
    if config is not None:
        if dataclasses.is_dataclass(config) and not isinstance(config, type):
            config = dataclasses.asdict(config)
        elif isinstance(config, DictConfig):
            config = OmegaConf.to_container(config, resolve=True)
        layers.append(rename_deprecated(cls, {k: v for k, v in dict(config).items() if k != "name"}))
    if overrides:
        layers.append(rename_deprecated(cls, overrides))
    try:
        merged = OmegaConf.merge(*layers)
    except OmegaConfBaseException as err:
        raise config_error(err, cls) from err
    built = OmegaConf.to_object(merged)
    validate(built, where=f" for agent '{cls.name}'")
    return cast("ConfigT", built)  # an instance of cls.Config, the class's ConfigT


def config_error(err: Exception, cls: type[Agent] | None = None, prefix: str = "") -> ConfigError:
    """Turn an OmegaConf error into one clear line with close-match suggestions."""
    key = getattr(err, "key", None) or getattr(err, "full_key", None)
    full = str(getattr(err, "full_key", None) or key)
    full = full if full.startswith(prefix) else prefix + full
    where = f" for agent '{cls.name}'" if cls is not None else ""
    if isinstance(err, (ConfigKeyError, ConfigAttributeError)) or "not in" in str(err).split("\n")[0]:
        choices = [f.name for f in dataclasses.fields(cls.Config)] if cls is not None else []
        shown = f" Accepted keys: {', '.join(sorted(choices))}" if choices else ""
        return ConfigError(f"unknown key '{full}'{where}.{suggest(str(key), choices)}{shown}")
    if isinstance(err, ValidationError):
        msg = str(err).splitlines()[0]
        return ConfigError(f"invalid value for '{full}'{where}: {msg}")
    return ConfigError(f"bad config{where}: {str(err).splitlines()[0]}")


# ------------------------------------------------------------------------ overrides
def parse_overrides(overrides: list[str]) -> list[Any]:
    """Hydra's parser; returns its Override objects."""
    from hydra.core.override_parser.overrides_parser import OverridesParser  # hydra is slow to import
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


def _renamed_override_key(cls: type[Agent], key: str) -> str:
    """``agent.adam_eps`` → ``agent.optimizer_eps`` (with the deprecation warning)."""
    head, _, rest = key.partition(".")
    if head != "agent" or not rest or "." in rest:
        return key
    return "agent." + next(iter(rename_deprecated(cls, {rest: None})))


def resolve_aliases(cls: type[Agent], overrides: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``distributed.rollout_workers=N`` → ``agent.workers=N`` (see :data:`KEY_ALIASES`); both given,
    they must agree."""
    given = dict(overrides)
    out = []
    for key, value in overrides:
        target = KEY_ALIASES.get(key)
        if target is None and key.split(".", 1)[0] == "distributed":
            raise ConfigError(f"unknown key '{key}'.{suggest(key, KEY_ALIASES)} Accepted: "
                              + ", ".join(f"{alias} (= {name})" for alias, name in KEY_ALIASES.items()))
        if target is not None:
            if target.split(".", 1)[1] not in {f.name for f in dataclasses.fields(cls.Config)}:
                raise ConfigError(f"{key} (= {target}) is for the on-policy agents' rollout workers; agent "
                                  f"'{cls.name}' has no such key")
            if target in given and given[target] != value:
                raise ConfigError(f"{key}={value} and {target}={given[target]} disagree: they are one setting, "
                                  "give one of them")
            key = target
        out.append((key, value))
    return out


def compose(overrides: list[str] | None = None) -> DictConfig:
    """The fully resolved, typed and validated config for one run."""
    parsed = parse_overrides(list(overrides or []))
    base = train_defaults()
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
    agent_hparams, budget = tuned_hparams(cls, env_node)
    env_node.pop("hparams", None)
    if budget is not None:  # the env config's budget, unless total_steps= is given below
        base["total_steps"] = budget
    eval_episodes = env_node.pop("eval_episodes", None)  # e.g. held-out tasks of a meta-RL env
    if eval_episodes is not None:  # the env config's evaluation size, unless eval_episodes= is given below
        base["eval_episodes"] = eval_episodes
    try:
        agent_node = OmegaConf.merge(OmegaConf.structured(cls.Config), dict(cls.preset), agent_hparams)
        root = OmegaConf.merge(OmegaConf.structured(TrainConfig), base)
    except OmegaConfBaseException as err:
        raise config_error(err, cls) from err
    assert isinstance(root, DictConfig) and isinstance(agent_node, DictConfig)
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
        child = root.agent._get_node(str(key))
        if isinstance(child, DictConfig) and OmegaConf.get_type(child) is dict:
            OmegaConf.set_struct(child, False)

    for key, value in resolve_aliases(cls, rest):
        head = key.split(".", 1)[0]
        if head not in _top_level_keys():
            raise ConfigError(f"unknown key '{key}'.{suggest(head, _top_level_keys())} "
                              f"Accepted: {', '.join(_top_level_keys())} (and agent.<key>, env.kwargs.<key>)")
        if key == "agent.name":
            raise ConfigError("choose the agent with agent=<name>, not agent.name")
        key = _renamed_override_key(cls, key)
        try:
            OmegaConf.update(root, key, value, merge=True)
        except OmegaConfBaseException as err:
            if head == "agent":
                raise config_error(err, cls, prefix="agent.") from err
            raise config_error(err) from err
    check_train_config(root)
    build_config(cls, root.agent)  # every agent field within its domain
    return root


def check_train_config(cfg: DictConfig) -> None:
    """Every top-level key of ``cfg`` within its declared domain (TrainConfig's metadata)."""
    top = {f.name: cfg[f.name] for f in dataclasses.fields(TrainConfig) if f.name in cfg}
    top["logger"] = list(top.get("logger") or [])
    validate(TrainConfig(**top))


def to_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg)


def agent_overrides(cfg: DictConfig) -> dict[str, Any]:
    """The agent node without its name, as a plain dict for ``make_agent``."""
    node = OmegaConf.to_container(cfg.agent, resolve=True)
    assert isinstance(node, dict)
    node.pop("name", None)
    return {str(k): v for k, v in node.items()}
