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
from rlsuite.constraints import (
    Each,
    OneOf,
    Range,
    activation_name,
    at_least_one,
    checked_when_built,
    constraint_of,
    domain,
    encoder_run,
    finite,
    non_negative,
    one_of,
    positive,
    section,
    validate,
)
from rlsuite.constraints import widths as layer_widths
from rlsuite.envspec import configs_dir, read_yaml, resolve_env_node
from rlsuite.errors import ConfigError, suggest
from rlsuite.eval.protocols import PROTOCOLS
from rlsuite.loggers import LOGGER_NAMES

if TYPE_CHECKING:
    from rlsuite.agent import Agent, AgentConfig

    ConfigT = TypeVar("ConfigT", bound=AgentConfig)

GROUPS = ("agent", "env")

# Deprecated agent keys -> their one name across agents (they meant the same thing under several
# names, or moved into ``agent.net.*`` / the top-level ``runtime.*``). Old names still work, with a
# FutureWarning, in overrides, YAML recipes, saved run configs and checkpoints. A Config may add
# renames that hold for it alone (``renamed_keys``: TRPO's ``batch_size`` is its critic minibatch).
RENAMED_KEYS = {
    "adam_eps": "optimizer_eps",  # dqn
    "rms_eps": "optimizer_eps",  # a2c
    "eps": "optimizer_eps",  # a3c
    "epsilon": "exploration_initial_eps",  # tabular (dqn: exploration_initial_eps)
    "epsilon_final": "exploration_final_eps",  # tabular (dqn: exploration_final_eps)
    "report_every": "log_interval",  # a3c (ddpg: log_interval)
    "n_value_epochs": "critic_epochs",  # reinforce
    "n_critic_updates": "critic_epochs",  # trpo
    # the network: agent.net.*
    "net_arch": "net.widths",  # dqn, ddpg, sac, a3c, on-policy
    "hidden_sizes": "net.widths",  # maml
    "vf_net_arch": "net.critic_widths",  # on-policy
    "shared": "net.shared",  # a3c, on-policy
    "shared_trunk": "net.shared",  # a3c
    "activation": "net.activation",
    "ortho_init": "net.ortho_init",  # on-policy
    "log_std_init": "net.log_std_init",  # on-policy
    "init_log_std": "net.log_std_init",  # maml
    "encoder": "net.encoder",  # dqn, on-policy
    "freeze_encoder": "net.freeze_encoder",  # dqn, on-policy
    "dropout": "net.dropout",  # dqn
    "recurrent": "net.recurrent",  # reinforce, a2c, ppo
    "recurrent_hidden": "net.recurrent_hidden",  # reinforce, a2c, ppo
    "embed_dim": "net.embed_dim",  # reinforce, a2c, ppo
    "recurrent_kind": "net.recurrent_kind",  # reinforce, a2c, ppo
    # runtime switches: top-level runtime.*
    "precision": "runtime.precision",  # ddpg, on-policy
    "channels_last": "runtime.channels_last",  # dqn, on-policy
    "numba_acting": "runtime.numba_acting",  # dqn, on-policy
    "fused_optimizer": "runtime.fused_optimizer",  # dqn, ddpg, sac, on-policy
    "flat_parameters": "runtime.flat_parameters",  # on-policy
    "workers": "runtime.workers",  # on-policy
}

# Agent keys that became env features (task hooks belong to the env, not to an agent's config; the
# env publishes them, e.g. info["exploration_hint"], and the shared machinery reads them). A saved
# config (a run's config.yaml, a checkpoint, an env recipe's hparams) that still has one loads with a
# FutureWarning and the key dropped, so old runs stay loadable; given explicitly (a command-line
# override, a keyword argument) it is a ConfigError naming the env key to set instead.
MOVED_TO_ENV = {
    "guided_exploration": "env.kwargs.guided_exploration",  # dqn; the localization env's hints
}

# Other names for keys on the command line (the issue's ``distributed.rollout_workers=N``); the run
# config keeps only the one key, so a saved or resumed run reads the same either way.
KEY_ALIASES = {"distributed.rollout_workers": "runtime.workers"}

PRECISION_NAMES = ("float32", "bfloat16")  # the keys of rlsuite.nets.PRECISIONS


@dataclass
class NetConfig:
    """``agent.net.*``: the networks, one vocabulary for every agent. Each agent's Config sets its
    own defaults and lists the keys its networks read in ``net_keys``; it refuses the others (set
    away from its defaults) when its config is built.

    ``recurrent`` is RL²'s core; for the on-policy agents it makes a recurrent policy
    (rlsuite.recurrent_policy) of the layout ``recurrent_kind``: "memory" (a core over observations in
    actor and critic, ``widths`` after it: sb3-contrib's RecurrentPPO, for partially observed tasks) or
    "controller" (the NAS controller: an autoregressive actor over ``embed_dim`` token embeddings, an
    MLP critic). The comment on each field is its meaning in the docs' hyperparameter tables."""

    # hidden layer sizes; None: the agent's default
    widths: list[int] | None = field(default=None, metadata=layer_widths)
    critic_widths: list[int] | None = field(default=None, metadata=layer_widths)  # the critic's widths; None: widths
    shared: bool | None = None  # one trunk for actor and critic; None: shared CNN for images, separate MLPs else
    activation: str = field(default="tanh", metadata=activation_name)  # hidden-layer activation
    ortho_init: bool = True  # orthogonal initialisation (gains sqrt(2), 0.01 policy, 1 value)
    log_std_init: float = field(default=0.0, metadata=finite)  # Gaussian policies' initial log σ
    # dropout after every hidden fully connected layer while training (acting and targets run without it)
    dropout: float = field(default=0.0, metadata=domain(Range(ge=0, lt=1)))
    # a `rlsuite fit` run (vae/cnn) whose encoder replaces the default image encoder
    encoder: str | None = field(default=None, metadata=encoder_run)
    freeze_encoder: bool = True  # keep the loaded encoder's weights fixed (false: fine-tune them)
    # a recurrent core (lstm | gru) in the policy; None: feed-forward networks
    recurrent: str | None = field(default=None, metadata=one_of(None, "lstm", "gru"))
    # the recurrent policy's layout: memory (a core over observations) or controller (NAS actor)
    recurrent_kind: str = field(default="controller", metadata=one_of("controller", "memory"))
    recurrent_hidden: int = field(default=64, metadata=at_least_one)  # hidden size of the recurrent core
    embed_dim: int = field(default=32, metadata=at_least_one)  # the recurrent controller's action embedding


# net_keys groups for the Configs that read them
FEEDFORWARD_NET_KEYS = ("widths", "critic_widths", "shared", "activation", "ortho_init", "log_std_init", "encoder",
                        "freeze_encoder")
RECURRENT_NET_KEYS = ("recurrent", "recurrent_kind", "recurrent_hidden", "embed_dim")


@dataclass
class RuntimeConfig:
    """``runtime.*``: how a run computes, not what it learns. Same maths either way (bfloat16 aside);
    what each switch buys is in docs/results.md. An agent reads the ones in its ``runtime_keys``
    and refuses the others set away from these defaults."""

    # bfloat16 (opt-in): the trunks run under bf16 autocast; heads, losses and optimizer state stay float32
    precision: str = field(default="float32", metadata=one_of(*PRECISION_NAMES))
    # image observations: conv weights and batches in NHWC layout (oneDNN's faster CPU convolutions)
    channels_last: bool = True
    # on-policy rollouts and DQN's greedy actions through the compiled forward pass of rlsuite.acting
    # (CPU MLPs on vector obs)
    numba_acting: bool = True
    # torch.optim's fused Adam / multi-tensor (foreach) RMSprop; false: torch's per-tensor loop
    fused_optimizer: bool = True
    # each optimizer steps one contiguous tensor holding its parameters (rlsuite.flat_params)
    flat_parameters: bool = True
    # DQN's and DDPG/TD3's updates and PPO's minibatch step as one torch.compile'd functional step each
    # (loss, backward, clipping, Adam, Polyak targets; rlsuite.compiled_update; same weights to rounding);
    # null: DQN and PPO compile on the CPU when the budget plans enough steps to repay compiling
    compiled_update: bool | None = field(default=None, metadata=one_of(None, False, True))
    # with compiled_update: a training round's gradient steps on uniform replay (DQN) run as one compiled
    # torch.while_loop call (one compilation however many steps); false: one compiled call per step
    compiled_loop: bool = True
    # with compiled_loop: keep the compiled loop on disk (rlsuite.compile_cache, $RLSUITE_COMPILE_CACHE)
    # and load it in later processes (~1 s) instead of compiling it again in each; false: compile per process
    compile_cache: bool = True
    # recurrent policies re-score a stored rollout with one core call over its episode segments, padded
    # (rlsuite.recurrent_policy); false: one call per time step, as acting makes them
    segment_unroll: bool = True
    # on-policy rollouts in this many Ray actors (rlsuite.distributed.rollout), n_envs split between them;
    # 0: the local vector env
    workers: int = field(default=0, metadata=non_negative)


a_path = checked_when_built("a directory path (created when the run starts)")


@dataclass
class RayConfig:
    """``ray.*``: where Ray runs (rlsuite.distributed). ``address`` None: RAY_ADDRESS, else a local Ray."""

    address: str | None = field(default=None, metadata=checked_when_built("host:port of a running Ray cluster"))
    num_cpus: int | None = field(default=None, metadata=non_negative)  # a local Ray's CPUs (default: every core)
    num_gpus: float | None = field(default=None, metadata=non_negative)
    timeout: float = field(default=30.0, metadata=positive)  # seconds to wait for a cluster at an address


@dataclass
class TrainConfig:
    """Top-level keys of a training run (``configs/train.yaml`` sets their defaults)."""

    seed: int = field(default=0, metadata=non_negative)
    total_steps: int = field(default=100_000, metadata=at_least_one)
    threads: int = field(default=1, metadata=non_negative)  # torch CPU threads (0: torch's default)
    device: str = field(default="auto", metadata=checked_when_built("auto, cpu, cuda or cuda:N"))  # resolve_device
    run_dir: str | None = field(default=None, metadata=a_path)
    runs_root: str = field(default="runs", metadata=a_path)
    resume: str | None = field(default=None, metadata=checked_when_built("the directory of a run to continue"))
    # a run directory (its model.safetensors) or a saved model whose networks start this run (Agent.initialize_from)
    init_from: str | None = field(default=None, metadata=checked_when_built("a run directory or a .safetensors model"))
    checkpoint_every: int = field(default=0, metadata=non_negative)
    logger: list[str] = field(default_factory=lambda: ["console", "jsonl"], metadata=domain(Each(OneOf(LOGGER_NAMES))))
    log_every: int = field(default=1000, metadata=at_least_one)
    eval_episodes: int = field(default=20, metadata=at_least_one)
    eval_seed: int = field(default=100_000, metadata=non_negative)
    eval_every: int = field(default=0, metadata=non_negative)
    protocol: str = field(default="gymnasium", metadata=domain(OneOf(tuple(PROTOCOLS))))
    leaderboard: str | None = field(default=None, metadata=checked_when_built("a SQLite file path"))
    submit: bool = True
    check_finite: bool = True  # stop at the first NaN/±inf observation, reward, loss or gradient norm
    launcher: str = field(default="local", metadata=domain(OneOf(("local", "ray"))))  # how -m runs its jobs
    ray: RayConfig = field(default_factory=RayConfig, metadata=section(RayConfig))
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig, metadata=section(RuntimeConfig))


def train_defaults() -> dict[str, Any]:
    """``configs/train.yaml``: the defaults of the top-level keys and the default group choices."""
    return read_yaml(configs_dir() / "train.yaml")


def default_total_steps() -> int:
    """The budget when neither the user nor the env config gives one."""
    return int(train_defaults().get("total_steps", TrainConfig.total_steps))


# ------------------------------------------------------------------------ agent configs
def renames(cls: type[Agent]) -> dict[str, str]:
    """Deprecated key -> current key (``net.<key>`` / ``runtime.<key>`` for the moved ones) for ``cls``."""
    return {**RENAMED_KEYS, **getattr(cls.Config, "renamed_keys", {})}


def _has_key(cls: type[Agent], key: str) -> bool:
    """Whether ``key`` (``lr``, ``net.widths``, ``runtime.precision``) is a key of ``cls``'s config."""
    head, _, rest = key.partition(".")
    if head == "runtime":
        return rest in {f.name for f in dataclasses.fields(RuntimeConfig)}
    fields = {f.name: f for f in dataclasses.fields(cls.Config)}
    if not rest:
        return head in fields
    return head == "net" and "net" in fields and rest in {f.name for f in dataclasses.fields(NetConfig)}


def rename_deprecated(cls: type[Agent], hparams: dict[str, Any], explicit: bool = False) -> dict[str, Any]:
    """Map deprecated keys of ``hparams`` to their current names (see :data:`RENAMED_KEYS`): moved
    network keys go into the ``net`` dict, runtime switches into a ``runtime`` dict of the result.
    Keys that moved to the env (:data:`MOVED_TO_ENV`) are dropped with a warning, or refused where
    the user gives them ``explicit``-ly."""
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    table = renames(cls)
    out: dict[str, Any] = {}
    moved: list[tuple[str, str, Any]] = []
    for key, value in hparams.items():
        env_key = MOVED_TO_ENV.get(key)
        if env_key is not None and key not in fields:
            message = f"agent key '{key}' moved to the env: set {env_key} instead"
            if explicit:
                raise ConfigError(f"{message} (agent '{cls.name}' has no {key})")
            warnings.warn(f"{message}; ignored here", FutureWarning, stacklevel=3)
            continue
        new = table.get(key)
        if new is not None and key not in fields and _has_key(cls, new):
            moved.append((key, new, value))
        else:
            out[key] = dict(value) if key in ("net", "runtime") and isinstance(value, dict) else value
    for key, new, value in moved:
        where = " (a top-level key)" if new.startswith("runtime.") else ""
        warnings.warn(f"agent key '{key}' is deprecated; use '{new}'{where}", FutureWarning, stacklevel=3)
        head, _, rest = new.partition(".")
        node = out.setdefault(head, {}) if rest else out
        if not isinstance(node, dict):
            raise ConfigError(f"agent key '{head}' holds keys ({head}.<key>), got {node!r}")
        name = rest or new
        if name in node:
            raise ConfigError(f"agent keys '{key}' (deprecated) and '{new}' are both given; keep '{new}'")
        node[name] = value
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


def _plain(config: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    if isinstance(config, DictConfig):
        node = OmegaConf.to_container(config, resolve=True)
        assert isinstance(node, dict)
        return {str(k): v for k, v in node.items()}
    return dict(config)


def build_configs(cls: type[Agent[ConfigT]], config: Any = None, overrides: dict[str, Any] | None = None,
                  runtime: Any = None) -> tuple[ConfigT, RuntimeConfig]:
    """The agent's config (defaults ← the class preset ← ``config`` ← ``overrides``) and the runtime
    switches (defaults ← ``runtime``, where old agent configs' runtime keys also land), typed by
    OmegaConf, every field checked against its declared domain, and every ``agent.net.*`` /
    ``runtime.*`` key the agent does not use left at its default."""
    layers: list[Any] = [OmegaConf.structured(cls.Config), dict(cls.preset)]
    moved: dict[str, Any] = {}  # runtime keys found under their old agent names, in config / overrides
    for which, given in (("config", config), ("overrides", overrides)):
        if given:
            plain = rename_deprecated(cls, {k: v for k, v in _plain(given).items() if k != "name"},
                                      explicit=which == "overrides")
            if "runtime" in plain:
                moved[which] = plain.pop("runtime")
            layers.append(plain)
    # an explicit runtime wins over old keys in a saved config; old keyword arguments win over both
    runtime_layers = [OmegaConf.structured(RuntimeConfig), moved.get("config", {}),
                      _plain(runtime) if runtime is not None else {}, moved.get("overrides", {})]
    try:
        merged = OmegaConf.merge(*layers)
    except OmegaConfBaseException as err:
        raise config_error(err, cls) from err
    try:
        merged_runtime = OmegaConf.merge(*runtime_layers)
    except OmegaConfBaseException as err:
        raise config_error(err, prefix="runtime.") from err
    built = OmegaConf.to_object(merged)
    built_runtime = OmegaConf.to_object(merged_runtime)
    assert isinstance(built_runtime, RuntimeConfig)
    validate(built, where=f" for agent '{cls.name}'")
    validate(built_runtime, prefix="runtime.")
    refuse_unused(cls, built, built_runtime)
    return cast("ConfigT", built), built_runtime  # an instance of cls.Config, the class's ConfigT


def build_config(cls: type[Agent[ConfigT]], config: Any = None, overrides: dict[str, Any] | None = None
                 ) -> ConfigT:
    """The agent's config alone (see :func:`build_configs`). Returns an instance of ``cls.Config``."""
    return build_configs(cls, config, overrides)[0]


def refuse_unused(cls: type[Agent], config: Any, runtime: RuntimeConfig) -> None:
    """One line for an ``agent.net.*`` or ``runtime.*`` key set away from its default by an agent
    that never reads it (``net_keys`` of its Config, ``runtime_keys`` of the class)."""
    checks: list[tuple[str, Any, Any, tuple[str, ...]]] = [
        ("runtime", runtime, RuntimeConfig(), tuple(getattr(cls, "runtime_keys", ())))]
    if isinstance(getattr(config, "net", None), NetConfig):
        default_net = getattr(cls.Config(), "net")  # noqa: B009  (Config subclasses declare net; AgentConfig does not)
        checks.append(("agent.net", config.net, default_net, tuple(getattr(cls.Config, "net_keys", ()))))
    for where, given, default, used in checks:
        for f in dataclasses.fields(given):
            value = getattr(given, f.name)
            if f.name not in used and value != getattr(default, f.name):
                reads = f"it reads {', '.join(f'{where}.{k}' for k in used)}" if used else f"it reads no {where}.* key"
                raise ConfigError(f"agent '{cls.name}' does not use {where}.{f.name} (got {value!r}); {reads}")


def config_error(err: Exception, cls: type[Agent] | None = None, prefix: str = "") -> ConfigError:
    """Turn an OmegaConf error into one clear line with close-match suggestions."""
    key = getattr(err, "key", None) or getattr(err, "full_key", None)
    full = str(getattr(err, "full_key", None) or key)
    full = full if full.startswith(prefix) else prefix + full
    where = f" for agent '{cls.name}'" if cls is not None else ""
    if isinstance(err, (ConfigKeyError, ConfigAttributeError)) or "not in" in str(err).split("\n")[0]:
        section = {"agent.net.": NetConfig, "runtime.": RuntimeConfig}.get(full.rpartition(".")[0] + ".")
        owner = section or (cls.Config if cls is not None else None)
        choices = [f.name for f in dataclasses.fields(owner)] if owner is not None else []
        shown = f" Accepted keys: {', '.join(sorted(choices))}" if choices else ""
        return ConfigError(f"unknown key '{full}'{where}.{suggest(str(key), choices)}{shown}")
    if isinstance(err, ValidationError):
        msg = str(err).splitlines()[0].rstrip(".")
        section = {"agent.net.": NetConfig, "runtime.": RuntimeConfig}.get(full.rpartition(".")[0] + ".")
        owner = section or (cls.Config if cls is not None else None)
        fields = {f.name: f for f in dataclasses.fields(owner)} if owner is not None else {}
        declared = constraint_of(fields[str(key)]) if str(key) in fields else None
        accepted = f"; accepted: {declared.describe()}" if declared is not None else ""
        return ConfigError(f"invalid value for '{full}'{where}: {msg}{accepted}")
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
    """``agent.adam_eps`` → ``agent.optimizer_eps``, ``agent.net_arch`` → ``agent.net.widths``,
    ``agent.precision`` → ``runtime.precision`` (with the deprecation warning)."""
    head, _, rest = key.partition(".")
    if head != "agent" or not rest or "." in rest:
        return key
    renamed = rename_deprecated(cls, {rest: None}, explicit=True)
    name = next(iter(renamed))
    if name == "runtime":
        return "runtime." + next(iter(renamed["runtime"]))
    if isinstance(renamed[name], dict):
        return f"agent.{name}.{next(iter(renamed[name]))}"
    return "agent." + name


def resolve_aliases(cls: type[Agent], overrides: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``distributed.rollout_workers=N`` → ``runtime.workers=N`` (see :data:`KEY_ALIASES`); both given,
    they must agree."""
    given = dict(overrides)
    out = []
    for key, value in overrides:
        target = KEY_ALIASES.get(key)
        if target is None and key.split(".", 1)[0] == "distributed":
            raise ConfigError(f"unknown key '{key}'.{suggest(key, KEY_ALIASES)} Accepted: "
                              + ", ".join(f"{alias} (= {name})" for alias, name in KEY_ALIASES.items()))
        if target is not None:
            if target.split(".", 1)[1] not in getattr(cls, "runtime_keys", ()):
                raise ConfigError(f"{key} (= {target}) is for the on-policy agents' rollout workers; agent "
                                  f"'{cls.name}' does not use it")
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
    if "runtime" in agent_hparams:  # a recipe's runtime keys under their old agent names
        base["runtime"] = {**(base.get("runtime") or {}), **agent_hparams.pop("runtime")}
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

    apply_overrides(root, cls, rest)
    check_train_config(root)
    build_configs(cls, root.agent, runtime=root.runtime)  # every agent and runtime field within its domain
    return root


def apply_overrides(root: DictConfig, cls: type[Agent], overrides: list[tuple[str, Any]]) -> None:
    """Set each ``key=value`` override (old names renamed, aliases resolved) on the run config."""
    renamed = [(_renamed_override_key(cls, key), value) for key, value in overrides]
    for key, value in resolve_aliases(cls, renamed):
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


def check_train_config(cfg: DictConfig) -> None:
    """Every top-level key of ``cfg`` within its declared domain (TrainConfig's metadata)."""
    top = {f.name: cfg[f.name] for f in dataclasses.fields(TrainConfig) if f.name in cfg}
    top["logger"] = list(top.get("logger") or [])
    for name, section_cls in (("ray", RayConfig), ("runtime", RuntimeConfig)):
        if top.get(name) is not None:
            top[name] = section_cls(**_plain(top[name]))
    validate(TrainConfig(**top))


def to_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg)


def agent_overrides(cfg: DictConfig) -> dict[str, Any]:
    """The agent node without its name, as a plain dict for ``make_agent``."""
    node = OmegaConf.to_container(cfg.agent, resolve=True)
    assert isinstance(node, dict)
    node.pop("name", None)
    return {str(k): v for k, v in node.items()}
