"""The Agent contract shared by every algorithm, built-in or plugin.

A subclass declares its hyperparameters as a dataclass (``Config``), which spaces it handles,
and which attributes make up its state (``persistent``); it implements :meth:`setup` (build
networks, optimizers, buffers), :meth:`act`, and :meth:`train_until` (usually by using one of the
two loop families: :mod:`rlsuite.offpolicy` or :mod:`rlsuite.onpolicy`). Its learning step builds
optimizers with ``self.optimizers``, minimizes losses with :meth:`step` and returns an
:class:`rlsuite.update.UpdateStats`, which :meth:`finish_update` checks and logs. The base class does
the rest the same way for all: seeding, devices, env construction, budgets and schedules, logging,
the non-finite guard, resume points and checkpoints.

The core imports one way (a test checks it): errors, constraints, env_plugin → registry (plugins)
→ envspec (what ``env=`` means) → config (composition, validation) → agent → run → cli.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import gymnasium as gym
import numpy as np
import torch

from rlsuite import checkpoint, registry, seeding
from rlsuite.config import build_config, build_configs, config_error, default_total_steps, env_defaults
from rlsuite.constraints import Range, at_least_one, check_value, probability
from rlsuite.envspec import EnvSpec, env_spec_from
from rlsuite.errors import CheckpointError, ConfigError, IncompatibleEnvError, RLSuiteError
from rlsuite.loggers import NullLogger
from rlsuite.nonfinite import NonFiniteWatch
from rlsuite.spaces import describe, space_from_json, space_to_json
from rlsuite.update import Optimizers, UpdateStats

__all__ = ["Agent", "AgentConfig", "build_config", "config_error", "load", "make_agent", "resolve_device"]


@dataclass
class AgentConfig:
    """Hyperparameters every agent has. Subclasses extend this dataclass; each field declares its
    domain in its metadata (:mod:`rlsuite.constraints`), checked when the agent is built."""

    gamma: float = field(default=0.99, metadata=probability)
    n_envs: int = field(default=1, metadata=at_least_one)
    log_interval: int = field(default=1, metadata=at_least_one)  # updates between loss records (averaged over them)


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is a clear error."""
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as err:
        raise ConfigError(f"invalid device '{name}'; accepted: auto, cpu, cuda, cuda:N") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda was asked for but CUDA is not available here; use device=auto or cpu")
    return dev


ConfigT = TypeVar("ConfigT", bound=AgentConfig)


class Agent(Generic[ConfigT]):
    """Base class of all agents. See the module docstring for what subclasses provide.

    Generic in its config: ``class PPO(OnPolicyAgent[PPOConfig])`` with ``Config = PPOConfig`` makes
    ``self.config`` a ``PPOConfig`` to the type checker (tests/test_types.py checks the two agree)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # the runtime twin of ConfigT (a ClassVar cannot name a type variable)
    Config: ClassVar[type[AgentConfig]] = AgentConfig
    preset: ClassVar[dict[str, Any]] = {}
    observation_spaces: ClassVar[tuple[type[gym.Space], ...]] = (gym.spaces.Box, gym.spaces.Discrete)
    action_spaces: ClassVar[tuple[type[gym.Space], ...]] = (gym.spaces.Discrete, gym.spaces.Box)
    space_hint: ClassVar[str] = ""
    # Attribute names whose state goes into checkpoints (modules, optimizers, buffers, arrays, RNGs).
    persistent: ClassVar[tuple[str, ...]] = ()
    # Attributes the final model needs for acting (weights, normalizers); the rest (optimizers,
    # replay buffers) only matters to continue training.
    persistent_for_acting: ClassVar[tuple[str, ...] | None] = None
    # The runtime.* switches (rlsuite.config.RuntimeConfig) this agent reads; it refuses the others
    # set away from their defaults.
    runtime_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        env: Any,
        config: Any = None,
        *,
        seed: int = 0,
        device: str | torch.device = "auto",
        spaces: tuple[gym.Space, gym.Space] | None = None,
        check_finite: bool = True,
        runtime: Any = None,
        **hparams: Any,
    ):
        check_value("seed", seed, Range(ge=0))
        self.env_spec: EnvSpec = env_spec_from(env)
        self.env_spec.check_backend()
        # runtime: the run's runtime.* switches (a RuntimeConfig or a dict of its keys); old agent-level
        # names of them in config/hparams land there too
        self.config, self.runtime = build_configs(type(self), config, hparams, runtime)
        self.seed = int(seed)
        # The budget learn() uses when given none: the env config's, else train.yaml's (make_agent sets it).
        self.default_total_steps: int | None = None
        self.device = resolve_device(device)
        if spaces is None:
            probe = self.env_spec.make(training=True)
            spaces = (probe.observation_space, probe.action_space)
            if self.env_spec.instance is None:
                probe.close()
        self.observation_space, self.action_space = spaces
        self.check_spaces(self.observation_space, self.action_space, env_label=self.env_spec.label)
        # Counters and the current budget (schedules run over [budget_start, budget_end]).
        self.steps = 0
        self.episodes = 0
        self.updates = 0
        self.budget_start = 0
        self.budget_end = 0
        self.rng = np.random.default_rng(self.seed)
        self.envs: gym.vector.VectorEnv | None = None
        self.obs: np.ndarray | None = None
        self.last_infos: dict[str, Any] = {}  # the vector infos that came with self.obs
        self.hooks: Any = None  # rlsuite.run.TrainHooks when driven by train(); None from the API
        # The non-finite guard (rlsuite.nonfinite): env values and update losses; .enabled switches it.
        self.nonfinite = NonFiniteWatch(check_finite)
        self.logger: Any = NullLogger()
        self.unlogged = UpdateStats()  # the update statistics since the last loss record
        # The optimizer factory and step (rlsuite.update): the runtime switches of the agents that have them.
        reads = type(self).runtime_keys
        self.optimizers = Optimizers(fused="fused_optimizer" in reads and self.runtime.fused_optimizer,
                                     flat_parameters="flat_parameters" in reads and self.runtime.flat_parameters)
        seeding.seed_everything(self.seed)
        try:
            self.setup()
        except ValueError as err:  # nets/activations refusing a config value (e.g. an unknown activation)
            if isinstance(err, RLSuiteError):
                raise
            raise ConfigError(f"agent '{self.name}' cannot be built with this config: "
                              f"{str(err).splitlines()[0] if str(err) else type(err).__name__}") from err

    # ----------------------------------------------------------------- to implement
    def setup(self) -> None:
        """Build networks, optimizers and buffers from ``self.config`` and the spaces."""

    def act(self, obs: Any, deterministic: bool = True) -> Any:
        """Actions for one observation or a batch (leading dim)."""
        raise NotImplementedError

    def train_until(self, until_step: int) -> None:
        """Collect experience and update until ``self.steps >= until_step``."""
        raise NotImplementedError

    # ----------------------------------------------------------------- learning steps
    def step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
             max_grad_norm: float | None = None) -> torch.Tensor | None:
        """Minimize ``loss`` by one step of ``optimizer`` (built by ``self.optimizers``): fresh gradients
        of its parameters, global norm clipped to ``max_grad_norm`` (``None`` or ≤ 0: not clipped),
        then the update. Returns the gradient norm before clipping (``None`` without clipping)."""
        return self.optimizers.step(optimizer, loss, max_grad_norm)

    def finish_update(self, stats: UpdateStats) -> None:
        """What follows every update, for every agent: the non-finite guard over all the update's
        tensors (one host sync), and every ``log_interval`` updates the mean of each metric since the
        last record handed to the logger."""
        if self.nonfinite.enabled:
            for name, value in stats:
                if isinstance(value, torch.Tensor):
                    self.nonfinite.add(name, value)
            self.nonfinite.check(self.steps, self.updates)
        self.unlogged.entries.extend(stats.entries)
        if self.updates % self.config.log_interval == 0:
            metrics = self.unlogged.metrics()
            if metrics:
                self.logger.record({name: float(value) for name, value in metrics.items()})
            self.unlogged = UpdateStats()

    # ----------------------------------------------------------------- what a run costs (rlsuite.cost)
    @property
    def learning_starts_step(self) -> int:
        """The step where learning begins after an acting-only warm-up (0: learning from the start)."""
        return int(getattr(self.config, "learning_starts", 0) or 0)

    def probe_learning_cost(self) -> float | None:
        """Seconds per env step that learning adds after the warm-up, measured without changing the
        agent's state; ``None`` where the agent does not measure it (the ETA then waits for learning
        to be measured). Off-policy agents with a ``learning_starts`` warm-up override this."""
        return None

    def preallocated_bytes(self) -> dict[str, int]:
        """Large stores built by :meth:`setup` (replay buffers: anything persistent with a byte count
        of at least 1 MB), by attribute name: what the run's cost summary reports."""
        sizes = {}
        for attr in self.persistent:
            store = getattr(self, attr, None)
            nbytes = getattr(store, "nbytes", None)
            if isinstance(nbytes, int) and nbytes >= 1_000_000:
                capacity = getattr(store, "capacity", None)
                sizes[f"{attr} ({capacity:,} transitions)" if isinstance(capacity, int) else attr] = nbytes
        return sizes
    def begin_episode(self) -> None:
        """Called by evaluation before each episode's first :meth:`act`: agents whose acting keeps
        per-episode state (a recurrent policy) reset it here. Default: nothing."""

    # ----------------------------------------------------------------- spaces
    @classmethod
    def check_spaces(cls, observation_space: gym.Space, action_space: gym.Space, env_label: str = "the env") -> None:
        for what, space, accepted in (
            ("observation", observation_space, cls.observation_spaces),
            ("action", action_space, cls.action_spaces),
        ):
            if not isinstance(space, accepted):
                names = ", ".join(t.__name__ for t in accepted)
                hint = f" {cls.space_hint}" if cls.space_hint else ""
                raise IncompatibleEnvError(
                    f"agent '{cls.name}' cannot handle {env_label}: its {what} space is {describe(space)}, "
                    f"accepted: {names}.{hint}"
                )

    @property
    def is_discrete(self) -> bool:
        return isinstance(self.action_space, gym.spaces.Discrete)

    @property
    def leaderboard_name(self) -> str:
        """The agent's name in results and on the leaderboard (adapters add what they wrap: sb3-ppo)."""
        return self.name

    # ----------------------------------------------------------------- training
    @property
    def progress(self) -> float:
        """Fraction of the current budget done, for schedules (ε, learning rate, clip range)."""
        span = self.budget_end - self.budget_start
        return 1.0 if span <= 0 else min(max((self.steps - self.budget_start) / span, 0.0), 1.0)

    def learn(self, total_steps: int | None = None) -> Agent:
        """Train for ``total_steps`` more environment steps (summed over parallel envs). Without it:
        the env config's budget (``hparams.<agent>.total_steps``), else ``configs/train.yaml``'s."""
        if total_steps is None:
            total_steps = self.default_total_steps or default_total_steps()
        check_value("total_steps", total_steps, Range(ge=0))
        self.budget_start, self.budget_end = self.steps, self.steps + int(total_steps)
        return self.continue_training()

    def continue_training(self) -> Agent:
        """Train up to ``budget_end`` (also how a resumed run carries on)."""
        self._t0, self._t0_steps = time.perf_counter(), self.steps
        self.on_budget()
        self.start_segment()
        self.train_until(self.budget_end)
        return self

    def on_budget(self) -> None:
        """Hook: the budget ``[budget_start, budget_end]`` is set and training is about to start
        (DQN and PPO choose here whether ``runtime.compiled_update``'s default compiles their update)."""

    def start_segment(self) -> None:
        """Begin a stretch of collection: (re)build the envs and reset them from a seed derived from
        (seed, steps). Resume points call this too, so a resumed run sees the same env randomness as
        one that never stopped."""
        n_envs = int(getattr(self.config, "n_envs", 1))
        if self.envs is None:
            self.envs = self.env_spec.make_vec(n_envs, seed=self.seed, training=True)
        reset_seed = seeding.derive_seed(self.seed, self.steps)
        seeds = [reset_seed + i for i in range(n_envs)]  # one per env (Gymnasium's annotation says int only)
        self.obs, self.last_infos = self.envs.reset(seed=seeds)  # type: ignore[arg-type]
        self.on_segment_start()

    def on_segment_start(self) -> None:
        """Hook for agents that keep per-episode state (e.g. SARSA's pending action)."""

    def cut_due(self, next_steps: int) -> bool:
        """Whether reaching ``next_steps`` hits a resume point, where episodes in flight are cut
        (marked truncated, so they bootstrap) and envs are reseeded."""
        return self.hooks is not None and self.hooks.resume_point_due(self.steps, next_steps)

    def after_step(self, prev_steps: int) -> None:
        """Called by the loops after each env step / update boundary: checkpoints, evaluation, sps."""
        if self.hooks is not None:
            self.hooks.after_step(self, prev_steps)

    def log_episode(self, episode_return: float, episode_length: int) -> None:
        self.episodes += 1
        self.logger.log(
            {"train/episode_return": float(episode_return), "train/episode_length": int(episode_length)},
            self.steps,
        )

    def log_sps(self, extra: dict[str, float] | None = None) -> None:
        """Log steps/s since training started (with ``extra`` values of the same moment, e.g. the ETA)."""
        dt = time.perf_counter() - getattr(self, "_t0", time.perf_counter())
        if dt > 0:
            self.logger.log({"train/sps": (self.steps - self._t0_steps) / dt, **(extra or {})}, self.steps)

    def close(self) -> None:
        if self.envs is not None:
            self.envs.close()
            self.envs = None

    # ----------------------------------------------------------------- state
    def state_dict(self, include_training_state: bool = True) -> dict[str, Any]:
        names = self.persistent
        if not include_training_state and self.persistent_for_acting is not None:
            names = self.persistent_for_acting
        parts: dict[str, Any] = {}
        for attr in names:
            value = getattr(self, attr)
            if isinstance(value, np.random.Generator):
                parts[attr] = seeding.generator_state(value)
            elif hasattr(value, "state_dict"):
                parts[attr] = value.state_dict()
            else:
                parts[attr] = value
        state = {
            "agent": self.name,
            "config": dataclasses.asdict(self.config),
            "runtime": dataclasses.asdict(self.runtime),
            "env": self.env_spec.to_dict(),
            "spaces": {
                "observation": space_to_json(self.observation_space),
                "action": space_to_json(self.action_space),
            },
            "seed": self.seed,
            "counters": {
                "steps": self.steps,
                "episodes": self.episodes,
                "updates": self.updates,
                "budget_start": self.budget_start,
                "budget_end": self.budget_end,
            },
            "parts": parts,
            "training_state": include_training_state,
        }
        if include_training_state:
            state["rng"] = {"agent": seeding.generator_state(self.rng), "global": seeding.global_rng_state()}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state["counters"].items():
            setattr(self, key, int(value))
        for attr, saved in state["parts"].items():
            current = getattr(self, attr)
            if isinstance(current, np.random.Generator):
                seeding.set_generator_state(current, saved)
            elif isinstance(current, np.ndarray):
                current[...] = saved
            elif hasattr(current, "load_state_dict"):
                current.load_state_dict(saved)
            else:
                setattr(self, attr, saved)
        if "rng" in state:
            seeding.set_generator_state(self.rng, state["rng"]["agent"])
            seeding.set_global_rng_state(state["rng"]["global"])

    def initialize_from(self, path: str | Path) -> list[str]:
        """Start from the networks of a saved model of the same agent (``init_from=``): a run directory
        (its ``model.safetensors``), a model file or a checkpoint. Loaded: the parts acting needs
        (``persistent_for_acting``) and every other network the file holds (a checkpoint also has
        DDPG's critics); counters, optimizer state, replay and random streams stay this run's own,
        and the env may differ (e.g. RL² from 10-pull to 100-pull bandits) as long as every loaded
        tensor has this agent's shape. Target networks are then set from the online ones
        (:meth:`sync_targets`). Returns the loaded parts; raises ConfigError when the file is not a
        model of this agent or a shape differs."""
        source = Path(path).expanduser()
        if source.is_dir():
            source = source / "model.safetensors"
        if not source.is_file():
            raise ConfigError(f"init_from: {source} does not exist; accepted: a run directory (with model.safetensors) "
                              "or a .safetensors model")
        state = checkpoint.load_state(source)
        if state.get("agent") != self.name:
            raise ConfigError(f"init_from: {source} holds a {state.get('agent')} model; this run trains {self.name}")
        # without persistent_for_acting, a saved model holds everything but what only training reads
        acting = self.persistent_for_acting if self.persistent_for_acting is not None else [
            n for n in self.persistent if not isinstance(getattr(self, n, None), torch.optim.Optimizer)]
        names = [n for n in self.persistent if n in acting or isinstance(getattr(self, n, None), torch.nn.Module)]
        parts = {name: state["parts"][name] for name in names if name in state.get("parts", {})}
        if not parts:
            raise ConfigError(f"init_from: {source} holds none of {', '.join(names)}")
        try:
            self.load_state_dict({"counters": {}, "parts": parts})
        except (RuntimeError, ValueError, KeyError) as err:  # size mismatch, missing keys
            first = str(err).replace("\n", " ").replace("\t", "")[:300]
            raise ConfigError(f"init_from: {source} does not fit this agent's networks ({first})") from err
        self.sync_targets()
        return list(parts)

    def sync_targets(self) -> None:
        """Copy the online networks into their target networks (agents that have them override this;
        called after :meth:`initialize_from`)."""

    def save(self, path: str | Path, include_training_state: bool = False) -> Path:
        """Save to ``path`` (``.safetensors`` is appended when missing). The final model leaves out
        optimizer and replay state unless ``include_training_state``; checkpoints keep everything."""
        return checkpoint.save_state(model_path(path), self.state_dict(include_training_state))


def model_path(path: str | Path) -> Path:
    path = Path(path)
    return path if path.suffix == ".safetensors" else path.with_name(path.name + ".safetensors")


def load(path: str | Path, env: Any = None, device: str = "auto") -> Agent:
    """Rebuild an agent from :meth:`Agent.save` or a run checkpoint; ``env`` replaces a saved env
    (needed to keep training an agent that was trained on a user's own env instance)."""
    path = Path(path)
    if path.is_dir():
        candidates = [path / "model.safetensors", path / "checkpoints" / "latest.safetensors"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise CheckpointError(
                f"no model in {path} (looked for model.safetensors and checkpoints/latest.safetensors)"
            )
        path = found
    elif not path.is_file():
        path = model_path(path)
    state = checkpoint.load_state(path)
    cls = registry.get_agent(state["agent"])
    spaces = (space_from_json(state["spaces"]["observation"]), space_from_json(state["spaces"]["action"]))
    env_arg = env if env is not None else state["env"]
    agent = cls(env_arg, state["config"], seed=state["seed"], device=device, spaces=spaces,
                runtime=state.get("runtime"))
    agent.load_state_dict(state)
    return agent


def make_agent(
    name: str, env: Any, seed: int = 0, device: str | torch.device = "auto", tuned: bool = True, runtime: Any = None,
    **hparams: Any,
) -> Agent:
    """Build the agent registered as ``name`` for ``env`` (a config name, a Gymnasium id, an env
    instance or a zero-argument factory). When ``env`` names an env config, its tuned values for
    this agent apply and its budget becomes the default of :meth:`Agent.learn`, exactly as in
    ``rlsuite train``; ``hparams`` (keys of the agent's Config) win over both. ``tuned=False``:
    the agent's own defaults only. ``runtime``: the ``runtime.*`` switches (a dict or RuntimeConfig)."""
    cls = registry.get_agent(name)
    tuned_values, budget = env_defaults(cls, env) if tuned else ({}, None)
    agent = cls(env, tuned_values, seed=seed, device=device, runtime=runtime, **hparams)
    agent.default_total_steps = budget
    return agent
