"""Stable-Baselines3 / sb3-contrib algorithms as an rlsuite agent (the reference entries).

    rlsuite train agent=sb3 agent.algo=ppo env=CartPole-v1 agent.n_envs=8 agent.kwargs.n_steps=32

The adapter proves that the plugin interface holds an external library: SB3 does the learning, and
everything around it is ours, so leaderboard rows compare like with like:

* config: ``agent.algo`` picks the algorithm, ``agent.policy`` the SB3 policy (``auto``: CnnPolicy
  for image observations, else MlpPolicy), ``agent.kwargs.<key>`` any SB3 constructor argument.
  The keys every rlsuite agent shares keep their meaning: ``gamma``, ``n_envs``, ``lr`` (SB3's
  ``learning_rate``), ``batch_size``, ``buffer_size``. Schedules in rl-zoo's notation work:
  ``agent.kwargs.learning_rate=lin_1e-3`` (linear decay to 0), and policy activations by name
  (``agent.kwargs.policy_kwargs={activation_fn: Tanh}``).
* envs: SB3 steps a ``DummyVecEnv`` of our env plugin's training envs (Atari preprocessing, MinAtar,
  any Gymnasium id or user env), seeded from ``seed``.
* logging: a callback forwards every finished episode to ``log_episode`` (the unclipped full-game
  score where the env reports ``raw_reward``/``game_over``), keeps ``steps``/``updates`` in sync and
  calls ``after_step`` so ``log_every``, ``eval_every`` (+ best model) and ``checkpoint_every`` work;
  SB3's ``train/*`` values arrive in our loggers as ``loss/<name>`` (``value_loss`` → ``loss/value``).
* evaluation: ``act`` is ``model.predict``; ``rlsuite.evaluate`` runs our protocols on it.
* checkpoints: what SB3 saves with torch (policy incl. target nets, optimizers, SAC's entropy
  coefficient) and its counters, through our safe safetensors format. SB3's zip format is not used
  (it pickles). The final model holds the policy weights only.

Leaderboard rows name the wrapped algorithm: ``sb3-ppo``, ``sb3-dqn`` (:attr:`leaderboard_name`).

Limitations (documented rather than hidden):

* Off-policy replay buffers are not checkpointed (as in SB3 itself, DLR-RM/stable-baselines3#868):
  a resumed sb3 DQN/SAC/TD3 run keeps its weights, optimizers and counters but refills its buffer.
  Resume points do not cut episodes inside SB3's collection loop, so a resumed sb3 run continues
  from fresh env resets and is not bit-identical to an uninterrupted one.
* On-policy algorithms collect whole rollouts (``n_steps * n_envs``), so a run may overshoot
  ``total_steps`` by less than one rollout; ``train_steps`` on the leaderboard is the real count.
* Hyperparameters are SB3's defaults unless given: env configs' ``hparams.ppo`` etc. use our
  agents' key names and are not translated. Pass rl-zoo values explicitly (see docs/leaderboard.md).
"""

from __future__ import annotations

import functools
import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlsuite.agent import Agent, AgentConfig
from rlsuite.constraints import OneOf, at_least_one, checked_when_built, domain, positive
from rlsuite.errors import ConfigError, IncompatibleEnvError, suggest, unknown
from rlsuite.spaces import describe

# algo name -> (module, class). Recurrent and action-masked PPO need per-step state the stateless
# act() contract cannot carry, and HER needs goal envs; they are left out on purpose.
ALGOS: dict[str, tuple[str, str]] = {
    "ppo": ("stable_baselines3", "PPO"),
    "a2c": ("stable_baselines3", "A2C"),
    "dqn": ("stable_baselines3", "DQN"),
    "ddpg": ("stable_baselines3", "DDPG"),
    "td3": ("stable_baselines3", "TD3"),
    "sac": ("stable_baselines3", "SAC"),
    "trpo": ("sb3_contrib", "TRPO"),
    "qrdqn": ("sb3_contrib", "QRDQN"),
    "tqc": ("sb3_contrib", "TQC"),
    "ars": ("sb3_contrib", "ARS"),
    "crossq": ("sb3_contrib", "CrossQ"),
}
# Our shared key -> SB3 constructor argument.
COMMON_KEYS = {"lr": "learning_rate", "batch_size": "batch_size", "buffer_size": "buffer_size"}
SCHEDULE_KEYS = ("learning_rate", "clip_range", "clip_range_vf")


@dataclass
class SB3Config(AgentConfig):
    # the Stable-Baselines3 algorithm to run (trpo, qrdqn, tqc, ars, crossq: from sb3-contrib)
    algo: str = field(default="ppo", metadata=domain(OneOf(tuple(ALGOS))))
    # auto: CnnPolicy for image observations, else MlpPolicy (other names: checked against the algo's aliases)
    policy: str = field(default="auto", metadata=checked_when_built("auto, or a policy name of the SB3 algorithm"))
    lr: float | None = field(default=None, metadata=positive)  # None: SB3's default learning_rate for the algo
    batch_size: int | None = field(default=None, metadata=at_least_one)
    buffer_size: int | None = field(default=None, metadata=at_least_one)
    kwargs: dict[str, Any] = field(default_factory=dict,  # any SB3 constructor argument
                                   metadata=checked_when_built("SB3 constructor arguments, checked by SB3"))
    verbose: int = field(default=0, metadata=domain(OneOf((0, 1, 2))))  # SB3's verbose: 0 none, 1 info, 2 debug


def algo_class(algo: str) -> type:
    """The SB3 class for ``algo``; unknown names raise ConfigError with close matches."""
    if algo not in ALGOS:
        raise unknown("sb3 algo (agent.algo)", algo, ALGOS)
    module, cls_name = ALGOS[algo]
    try:
        return getattr(importlib.import_module(module), cls_name)
    except ImportError as err:
        raise ConfigError(f"agent.algo={algo} needs {module}: pip install 'rlsuite[sb3]'") from err


def linear_schedule(start: float) -> Any:
    """rl-zoo's ``lin_<value>``: decays linearly from ``start`` to 0 over training (SB3 passes the
    fraction of training *remaining*, 1 → 0)."""

    def schedule(progress_remaining: float) -> float:
        return progress_remaining * start

    return schedule


def sb3_kwargs(cfg: SB3Config, sb3_cls: type) -> dict[str, Any]:
    """The SB3 constructor kwargs from our config, checked against the constructor's signature."""
    accepted = set(inspect.signature(sb3_cls).parameters) - {"self", "policy", "env", "seed", "device"}
    kwargs = dict(cfg.kwargs)
    for key in kwargs:
        if key not in accepted:
            raise ConfigError(
                f"unknown SB3 argument 'agent.kwargs.{key}' for {sb3_cls.__name__}.{suggest(key, accepted)} "
                f"Accepted: {', '.join(sorted(accepted))}"
            )
    if "gamma" in kwargs:
        raise ConfigError("set the discount with agent.gamma (shared by every agent), not agent.kwargs.gamma")
    if "gamma" in accepted:
        kwargs["gamma"] = cfg.gamma
    for ours, theirs in COMMON_KEYS.items():
        value = getattr(cfg, ours)
        if value is None:
            continue
        if theirs not in accepted:
            raise ConfigError(f"agent.{ours} does not apply to sb3 {cfg.algo} (no '{theirs}' argument)")
        if theirs in kwargs:
            raise ConfigError(f"agent.{ours} and agent.kwargs.{theirs} both given; keep one")
        kwargs[theirs] = value
    for key in SCHEDULE_KEYS:
        value = kwargs.get(key)
        if isinstance(value, str) and value.startswith("lin_"):
            kwargs[key] = linear_schedule(float(value[4:]))
    policy_kwargs = dict(kwargs.get("policy_kwargs") or {})
    if isinstance(policy_kwargs.get("activation_fn"), str):
        name = policy_kwargs["activation_fn"]
        if not isinstance(getattr(torch.nn, name, None), type):
            raise ConfigError(f"unknown activation_fn '{name}': give a torch.nn class name such as ReLU or Tanh")
        policy_kwargs["activation_fn"] = getattr(torch.nn, name)
    if policy_kwargs:
        kwargs["policy_kwargs"] = policy_kwargs
    return kwargs


class SB3State:
    """``state_dict``/``load_state_dict`` over what SB3 saves with torch (its
    ``_get_torch_save_params``: the policy with any target networks, the optimizers, SAC's entropy
    coefficient) plus the counters its schedules and target updates depend on."""

    COUNTERS = ("num_timesteps", "_n_updates", "_n_calls", "_episode_num")

    def __init__(self, model: Any):
        self.model = model

    def _get(self, name: str) -> Any:
        obj = self.model
        for part in name.split("."):
            obj = getattr(obj, part)
        return obj

    def state_dict(self) -> dict[str, Any]:
        modules, tensors = self.model._get_torch_save_params()
        state: dict[str, Any] = {name: self._get(name).state_dict() for name in modules}
        state.update({name: self._get(name).detach().clone() for name in tensors})
        state["counters"] = {k: int(getattr(self.model, k)) for k in self.COUNTERS if hasattr(self.model, k)}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        modules, tensors = self.model._get_torch_save_params()
        for name in modules:
            self._get(name).load_state_dict(state[name])
        with torch.no_grad():
            for name in tensors:
                self._get(name).copy_(state[name])
        for key, value in state.get("counters", {}).items():
            setattr(self.model, key, int(value))


class SB3(Agent[SB3Config]):
    """Any Stable-Baselines3 / sb3-contrib algorithm through rlsuite's CLI, configs, loggers,
    checkpoints and evaluation protocols (see the module docstring)."""

    name = "sb3"
    description = "Adapter: Stable-Baselines3 / sb3-contrib algorithms (agent.algo=ppo|a2c|dqn|sac|td3|trpo|...)"
    Config = SB3Config
    observation_spaces = (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)
    action_spaces = (gym.spaces.Discrete, gym.spaces.Box, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)
    persistent = ("sb3_state",)
    persistent_for_acting = ("sb3_policy",)

    @property
    def leaderboard_name(self) -> str:
        return f"sb3-{self.config.algo}"

    def setup(self) -> None:
        cfg = self.config
        sb3_cls = algo_class(cfg.algo)
        kwargs = sb3_kwargs(cfg, sb3_cls)
        policy = cfg.policy
        if policy == "auto":
            from stable_baselines3.common.preprocessing import is_image_space

            policy = "CnnPolicy" if is_image_space(self.observation_space, check_channels=False) else "MlpPolicy"
        aliases = getattr(sb3_cls, "policy_aliases", {})
        if policy not in aliases:
            raise ConfigError(
                f"unknown policy '{policy}' for sb3 {cfg.algo}.{suggest(policy, aliases)} "
                f"Accepted: auto, {', '.join(aliases)}"
            )
        venv = self._make_vec_env()
        try:
            self.model = sb3_cls(policy, venv, seed=self.seed, device=self.device, verbose=cfg.verbose, **kwargs)
        except AssertionError as err:  # SB3 asserts its supported spaces
            venv.close()
            if "action space" not in str(err) and "observation space" not in str(err):
                raise
            raise IncompatibleEnvError(
                f"sb3 {cfg.algo} cannot handle {self.env_spec.label} (action space {describe(self.action_space)}, "
                f"observation space {describe(self.observation_space)}): {err}"
            ) from err
        from stable_baselines3.common.logger import Logger

        # Our writer replaces SB3's stdout/csv/tensorboard outputs: its values go to our loggers.
        self.model.set_logger(Logger(folder=None, output_formats=[_ForwardToLogger(self)]))
        self.sb3_state = SB3State(self.model)
        self.sb3_policy = self.model.policy
        self.episode_returns = np.zeros(self.config.n_envs, dtype=np.float64)
        self.episode_lengths = np.zeros(self.config.n_envs, dtype=np.int64)

    def _make_vec_env(self) -> Any:
        from stable_baselines3.common.vec_env import DummyVecEnv

        n_envs = int(self.config.n_envs)
        if self.env_spec.instance is not None and n_envs != 1:
            raise ConfigError("an env instance cannot be copied for n_envs > 1; pass a zero-argument factory instead")
        return DummyVecEnv([functools.partial(self.env_spec.make, training=True) for _ in range(n_envs)])

    # ------------------------------------------------------------------ acting
    def act(self, obs: Any, deterministic: bool = True) -> Any:
        actions, _ = self.model.predict(obs, deterministic=deterministic)
        return actions

    # ------------------------------------------------------------------ training
    def start_segment(self) -> None:
        """SB3 owns its envs (reset on the first ``learn``); nothing to rebuild here."""

    def train_until(self, until_step: int) -> None:
        if until_step <= self.steps:
            return
        self.model.num_timesteps = self.steps  # a resumed run: SB3's schedules continue from here
        self.model.learn(until_step - self.steps, callback=_Bridge(self), reset_num_timesteps=False)
        self.updates = int(getattr(self.model, "_n_updates", 0))  # the last update follows the last step

    def on_env_step(self, rewards: np.ndarray, dones: np.ndarray, infos: list[dict[str, Any]]) -> None:
        """Called by SB3 after every vector-env step: episode books, counters, our hooks."""
        for i, info in enumerate(infos):
            self.episode_returns[i] += float(info.get("raw_reward", rewards[i]))
            self.episode_lengths[i] += 1
            if dones[i] and info.get("game_over", True):  # Atari: a lost life is not a finished game
                self.log_episode(self.episode_returns[i], int(self.episode_lengths[i]))
                self.episode_returns[i] = 0.0
                self.episode_lengths[i] = 0
        prev_steps = self.steps
        self.steps = int(self.model.num_timesteps)
        self.updates = int(getattr(self.model, "_n_updates", 0))
        self.after_step(prev_steps)

    def close(self) -> None:
        super().close()
        if getattr(self, "model", None) is not None and self.model.env is not None:
            self.model.env.close()


def _bridge_base() -> type:
    from stable_baselines3.common.callbacks import BaseCallback

    return BaseCallback


class _Bridge(_bridge_base()):  # type: ignore[misc]
    """SB3 callback: hands every env step to :meth:`SB3.on_env_step`."""

    def __init__(self, agent: SB3):
        super().__init__(verbose=0)
        self.agent = agent

    def _on_step(self) -> bool:
        self.agent.on_env_step(self.locals["rewards"], self.locals["dones"], self.locals["infos"])
        return True


def _writer_base() -> type:
    from stable_baselines3.common.logger import KVWriter

    return KVWriter


class _ForwardToLogger(_writer_base()):  # type: ignore[misc]
    """SB3 logger output that records its ``train/*`` values in the agent's logger (averaged and
    written every ``log_every`` steps). ``rollout/*`` and ``time/*`` are dropped: episodes and sps
    are logged by rlsuite itself."""

    def __init__(self, agent: SB3):
        self.agent = agent

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
        out: dict[str, float] = {}
        for key, value in key_values.items():
            if not key.startswith("train/") or not isinstance(value, int | float | np.number):
                continue
            name = key[len("train/"):]
            if name == "n_updates":
                continue
            if name == "loss":
                out["loss/total"] = float(value)
            elif name.endswith("_loss"):
                out[f"loss/{name[: -len('_loss')]}"] = float(value)
            else:
                out[f"train/{name}"] = float(value)
        if out:
            self.agent.logger.record(out)

    def close(self) -> None:
        pass
