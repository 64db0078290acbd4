"""The shared on-policy machinery: running normalization statistics, the rollout collection loop,
and :class:`OnPolicyAgent`, the base class of REINFORCE, A2C, PPO and TRPO.

An on-policy agent alternates two phases, and only the second differs between algorithms::

    loop until the budget is spent:
        collect a rollout of n_steps × n_envs transitions with the current policy   (collect_rollout)
        compute advantages (GAE(λ); λ = 1 gives Monte-Carlo reward-to-go)           (RolloutBuffer)
        update the policy and value function                                        (agent.update)

Details that every agent gets right the same way here:

* **Truncation.** Same-step autoreset puts the true last observation of an episode in
  ``infos["final_obs"]``; a time-limit truncation bootstraps from V(final obs), a termination
  does not (:meth:`rlsuite.buffers.RolloutBuffer.compute_advantages`).
* **Normalization.** :class:`ObsNormalizer` (running mean/var, clipped to ±``clip_obs``) and
  :class:`RewardNormalizer` (rewards divided by the running std of the discounted return, as SB3's
  ``VecNormalize``) are updated during collection and saved in checkpoints; the observation
  statistics are also part of the final model, so a loaded agent acts on the same inputs.
* **Resume points.** If a resume point falls inside a rollout, the episodes in flight are cut at
  the rollout's end (they bootstrap like a truncation, which is what GAE does at a rollout end
  anyway), the update runs, ``after_step(rollout_start)`` writes the checkpoint after the update,
  and ``start_segment()`` reseeds the envs: a resumed run replays the uninterrupted one bit for bit.
* **Collectors.** :meth:`OnPolicyAgent.train_until` runs a pluggable :data:`RolloutLoop`:
  :func:`local_rollout_loop` (the agent's vector env), or with ``runtime.workers=N`` N Ray actors that run
  this same :func:`collect_rollout` (:mod:`rlsuite.distributed.rollout`, which sees the agent only
  through its methods and never imports this module); ``agent.collector`` overrides the choice. The
  update reads :meth:`OnPolicyAgent.rollout_batch` either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import numpy as np
import torch

from rlsuite.acting import NumbaActor
from rlsuite.agent import Agent, AgentConfig
from rlsuite.buffers import RolloutBatch, RolloutBuffer
from rlsuite.config import FEEDFORWARD_NET_KEYS, RECURRENT_NET_KEYS, NetConfig
from rlsuite.constraints import at_least_one, positive, probability, section
from rlsuite.errors import ConfigError
from rlsuite.nonfinite import check_env_step
from rlsuite.offpolicy import EpisodeTracker
from rlsuite.policies import ActorCritic, PolicyState
from rlsuite.recurrent_policy import RecurrentActorCritic, state_rows
from rlsuite.running_stats import RunningMeanStd
from rlsuite.update import UpdateStats

__all__ = ["ObsNormalizer", "OnPolicyAgent", "OnPolicyConfig", "RewardNormalizer", "RolloutLoop", "RunningMeanStd",
           "collect_rollout", "flatten_rollout", "local_rollout_loop", "recurrent_settings"]


# ---------------------------------------------------------------------------- normalization
class ObsNormalizer:
    """``clip((obs − mean) / sqrt(var + eps), ±clip)`` with running statistics; the identity (a
    float32 cast for float observations, nothing for images and integers) when disabled."""

    def __init__(self, observation_space: gym.Space, enabled: bool, clip: float = 10.0, eps: float = 1e-8):
        is_box = isinstance(observation_space, gym.spaces.Box)
        self.enabled = bool(enabled) and is_box
        self.float_obs = is_box and np.issubdtype(observation_space.dtype, np.floating)
        self.clip, self.eps = float(clip), float(eps)
        self.rms = RunningMeanStd((observation_space.shape or ()) if is_box else ())

    def update(self, obs: np.ndarray) -> None:
        if self.enabled:
            self.rms.update(obs)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        if not self.enabled:
            return np.asarray(obs, np.float32) if self.float_obs else np.asarray(obs)
        scaled = (obs - self.rms.mean) / np.sqrt(self.rms.var + self.eps)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return self.rms.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rms.load_state_dict(state)


class RewardNormalizer:
    """Scale rewards by the running std of the discounted return ``R ← γR + r`` (reset at episode
    ends), clipped to ±``clip``: keeps value targets O(1) without shifting the reward's sign."""

    def __init__(self, n_envs: int, gamma: float, enabled: bool, clip: float = 10.0, eps: float = 1e-8):
        self.enabled, self.gamma, self.clip, self.eps = bool(enabled), float(gamma), float(clip), float(eps)
        self.returns = np.zeros(n_envs, np.float64)
        self.rms = RunningMeanStd(())

    def __call__(self, rewards: np.ndarray, ended: np.ndarray) -> np.ndarray:
        if not self.enabled:
            return rewards
        self.returns = self.returns * self.gamma + rewards
        self.rms.update(self.returns)
        scaled = np.clip(rewards / np.sqrt(self.rms.var + self.eps), -self.clip, self.clip)
        self.returns[ended] = 0.0
        return scaled.astype(np.float32)

    def reset(self) -> None:
        self.returns[:] = 0.0

    def state_dict(self) -> dict[str, Any]:
        return {"rms": self.rms.state_dict(), "returns": self.returns.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rms.load_state_dict(state["rms"])
        self.returns = np.array(state["returns"], np.float64)


# ---------------------------------------------------------------------------- the agent base
@dataclass
class OnPolicyConfig(AgentConfig):
    """Keys shared by the on-policy agents (SB3 / rl-zoo3 names). ``net.widths``/``net.shared`` ``None``:
    [64, 64] separate trunks for vector observations, one shared Nature CNN for images."""

    n_envs: int = field(default=1, metadata=at_least_one)
    n_steps: int = field(default=2048, metadata=at_least_one)
    anneal_lr: bool = False  # learning rate decays linearly to 0 over the budget (rl-zoo3's lin_<lr>)
    gae_lambda: float = field(default=0.95, metadata=probability)
    normalize_advantage: bool = True
    max_grad_norm: float | None = field(default=0.5, metadata=positive)  # None: no clipping
    optimizer_eps: float = field(default=1e-5, metadata=positive)  # Adam's ε (baselines/SB3: 1e-5)
    squash: bool = False  # Box actions: tanh-squash into the bounds instead of clipping
    normalize_obs: bool = False
    normalize_reward: bool = False
    clip_obs: float = field(default=10.0, metadata=positive)
    clip_reward: float = field(default=10.0, metadata=positive)
    net: NetConfig = field(default_factory=NetConfig, metadata=section(NetConfig))

    # The recurrent policy (net.recurrent: lstm | gru, of layout net.recurrent_kind; rlsuite.recurrent_policy)
    # is read by the agents with supports_recurrent (reinforce, a2c, ppo), through recurrent_settings().
    net_keys: ClassVar[tuple[str, ...]] = FEEDFORWARD_NET_KEYS + RECURRENT_NET_KEYS


def recurrent_settings(cfg: OnPolicyConfig) -> dict[str, Any] | None:
    """The keyword arguments of :class:`rlsuite.recurrent_policy.RecurrentActorCritic` that the config
    asks for, or None for a feed-forward policy: the one place that reads the recurrence fields."""
    net = cfg.net
    if net.recurrent is None:
        return None
    common = {"core": net.recurrent, "hidden": net.recurrent_hidden, "activation": net.activation,
              "ortho_init": net.ortho_init, "log_std_init": net.log_std_init}
    if net.recurrent_kind == "controller":
        return {**common, "embed_dim": net.embed_dim, "vf_net_arch": net.critic_widths or net.widths}
    widths = net.widths if net.widths is not None else [64, 64]
    return {**common, "embed_dim": None, "net_arch": widths, "vf_net_arch": net.critic_widths, "critic_core": True,
            "squash": cfg.squash}


OnPolicyConfigT = TypeVar("OnPolicyConfigT", bound=OnPolicyConfig)


class OnPolicyAgent(Agent[OnPolicyConfigT]):
    """Collect-then-update agents. Subclasses build their optimizers in :meth:`setup_optimizers`
    and implement :meth:`update` (one learning step on ``self.buffer``)."""

    Config = OnPolicyConfig
    observation_spaces = (gym.spaces.Box, gym.spaces.Discrete)
    action_spaces = (gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.Box)
    space_hint = "Dict/Tuple observations: wrap the env with gymnasium.wrappers.FlattenObservation."
    persistent: ClassVar[tuple[str, ...]] = ("policy", "optimizer", "obs_normalizer", "reward_normalizer")
    persistent_for_acting: ClassVar[tuple[str, ...] | None] = ("policy", "obs_normalizer")
    supports_recurrent: ClassVar[bool] = False  # its update scores rollouts through policy.sequence
    runtime_keys: ClassVar[tuple[str, ...]] = ("precision", "channels_last", "numba_acting", "fused_optimizer",
                                               "flat_parameters", "segment_unroll", "workers")
    # the collect/update loop to run instead of the one chosen from the config (see rollout_loop)
    collector: RolloutLoop | None = None

    def setup(self) -> None:
        cfg, net, runtime = self.config, self.config.net, self.runtime
        self.policy: ActorCritic
        recurrent = recurrent_settings(cfg)
        if recurrent is not None:
            if not self.supports_recurrent:
                raise ConfigError(f"{self.name} cannot train a recurrent policy (net.recurrent={net.recurrent}); "
                                  "accepted by: reinforce, a2c, ppo")
            if runtime.precision != "float32":
                raise ConfigError(f"runtime.precision={runtime.precision} is not supported with a recurrent policy "
                                  "(accepted: float32)")
            self.policy = RecurrentActorCritic(self.observation_space, self.action_space, **recurrent,
                                               segment_unroll=runtime.segment_unroll).to(self.device)
        else:
            self.policy = ActorCritic(
                self.observation_space, self.action_space, net_arch=net.widths, activation=net.activation,
                shared=net.shared, ortho_init=net.ortho_init, log_std_init=net.log_std_init, squash=cfg.squash,
                vf_net_arch=net.critic_widths, encoder=net.encoder, freeze_encoder=net.freeze_encoder,
                channels_last=runtime.channels_last, precision=runtime.precision,
            ).to(self.device)
        self.obs_normalizer = ObsNormalizer(self.observation_space, cfg.normalize_obs, cfg.clip_obs)
        self.reward_normalizer = RewardNormalizer(cfg.n_envs, cfg.gamma, cfg.normalize_reward, cfg.clip_reward)
        obs_dtype: Any = np.float32 if self.obs_normalizer.float_obs or self.obs_normalizer.enabled else None
        if obs_dtype is None:
            obs_dtype = self.observation_space.dtype if self.observation_space.dtype is not None else np.int64
        self.buffer = RolloutBuffer(
            self.rollout_capacity(), cfg.n_envs, self.observation_space.shape or (), obs_dtype,
            self.policy.action_shape, self.policy.action_dtype,
        )
        self.tracker = EpisodeTracker(cfg.n_envs)
        self.numba_actor = NumbaActor.for_policy(self.policy, self.device) if runtime.numba_acting else None
        # The policy's state between steps (None for feed-forward policies): the rollout's, carried from
        # one rollout to the next, and the one act() keeps (reset by begin_episode), apart from it.
        self.rollout_state: PolicyState = None
        self.episode_starts = np.ones(cfg.n_envs, np.bool_)  # which envs begin an episode at the next step
        self.act_state: PolicyState = None
        # a batch gathered from rollout workers whose lengths differ (REINFORCE's whole episodes)
        self.gathered_batch: RolloutBatch | None = None
        if self.policy.recurrent:  # flat_parameters packs feed-forward policies only
            self.optimizers.flat_parameters = False
        self.setup_optimizers()
        if runtime.workers and type(self).train_until is not OnPolicyAgent.train_until:
            raise ConfigError(f"agent '{self.name}' collects with a loop of its own; runtime.workers is not "
                              "supported for it (accepted: 0)")
        if runtime.workers and self.policy.recurrent:  # the update re-runs the cores over the local buffer's sequences
            raise ConfigError("runtime.workers is not supported with a recurrent policy (accepted: workers=0)")
        if runtime.workers > cfg.n_envs:
            raise ConfigError(f"runtime.workers={runtime.workers} exceeds agent.n_envs={cfg.n_envs}: each rollout "
                              "worker steps at least one env (accepted: 0 to n_envs)")

    def rollout_capacity(self) -> int:
        return int(self.config.n_steps)

    def setup_optimizers(self) -> None:
        raise NotImplementedError

    def update(self) -> UpdateStats:
        """One learning step on :meth:`rollout_batch`; returns what it computed (losses, gradient norms)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers for subclasses
    def tensor(self, array: np.ndarray) -> torch.Tensor:
        """A numpy array as a tensor on the agent's device (no copy on CPU)."""
        t = torch.from_numpy(np.ascontiguousarray(array))
        return t.to(self.device, non_blocking=True) if self.device.type != "cpu" else t

    def minibatches(self, columns: tuple[torch.Tensor, ...], batch_size: int) -> Iterator[tuple[torch.Tensor, ...]]:
        """One epoch of minibatches of ``columns`` (tensors sharing their first dim): a fresh
        permutation gathered once per tensor, then contiguous slices. When one minibatch holds
        everything (e.g. the zoo's CartPole PPO/TRPO settings) the columns come back as they are:
        the losses are means, so shuffling would change only the summation order."""
        total = len(columns[0])
        if batch_size >= total:
            yield columns
            return
        perm = torch.from_numpy(self.rng.permutation(total)).to(self.device)
        shuffled = tuple(column[perm] for column in columns)
        for start in range(0, total, batch_size):
            yield tuple(column[start:start + batch_size] for column in shuffled)

    def scheduled_lr(self, lr: float, optimizer: torch.optim.Optimizer | None = None) -> float:
        """``lr`` after annealing (when ``anneal_lr``), also set on ``optimizer`` when given."""
        lr = lr * (1.0 - self.progress) if self.config.anneal_lr else lr
        if optimizer is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr
        return lr

    # ------------------------------------------------------------------ acting
    def act(self, obs: Any, deterministic: bool = True) -> Any:
        obs = np.asarray(obs)
        single_shape = self.observation_space.shape or ()
        single = obs.ndim == len(single_shape)
        batch = obs[None] if single else obs
        policy, state = self.policy, self.act_state
        if state is None or state[0].shape[1] != len(batch):  # a new episode (begin_episode), or a new batch
            state = policy.initial_state(len(batch))
        with torch.inference_mode():  # act_state is apart from the rollout's: rollouts in flight stay intact
            actions, _, _, self.act_state = policy.step(self.tensor(self.obs_normalizer(batch)), state, None,
                                                        deterministic)
        env_actions = self.policy.env_actions(actions.cpu().numpy())
        return env_actions[0] if single else env_actions

    def greedy_policy_module(self) -> torch.nn.Module:
        """What ``act(obs, deterministic=True)`` computes, observation normalisation included, as a
        module (for ``rlsuite export``); recurrent policies carry state and are refused."""
        from rlsuite.export import DistributionMode, ExportError

        if self.policy.recurrent:
            raise ExportError(f"agent '{self.name}' cannot be exported: its recurrent policy carries a hidden "
                              "state between steps (exportable: feed-forward policies)")
        norm = self.obs_normalizer
        return DistributionMode(self.policy, norm.rms.mean if norm.enabled else None,
                                norm.rms.var if norm.enabled else None, eps=norm.eps, clip_obs=norm.clip,
                                float_obs=norm.float_obs)

    def begin_episode(self) -> None:
        self.act_state = None

    # ------------------------------------------------------------------ the training loop
    def on_segment_start(self) -> None:
        # The envs were just reset: every episode starts (resume points come here too, so a resumed run
        # starts from the same zero state as the run that never stopped).
        self.rollout_state = self.policy.initial_state(self.config.n_envs)
        self.episode_starts = np.ones(self.config.n_envs, np.bool_)
        self.tracker.reset()
        self.reward_normalizer.reset()
        assert self.obs is not None  # the segment starts after the envs are reset
        self.obs_normalizer.update(self.obs)

    def rollout_done(self, step: int, episodes_finished: int) -> bool:
        """Whether to stop collecting after ``step + 1`` steps (REINFORCE stops on whole episodes)."""
        return step + 1 >= self.config.n_steps

    def rollout_batch(self) -> RolloutBatch:
        """The batch :meth:`update` learns from: the buffer, flat (or what rollout workers gathered)."""
        return self.gathered_batch if self.gathered_batch is not None else flatten_rollout(self.buffer)

    def rollout_sequences(self) -> tuple[PolicyState, torch.Tensor | None]:
        """``(state0, episode_starts)`` of the rollout in :attr:`buffer` for ``policy.sequence``: the
        state it started from and its ``(T, n_envs)`` episode starts; ``(None, None)`` for a
        feed-forward policy, whose rows are scored one by one."""
        state0 = self.buffer.start_state
        return (None, None) if state0 is None else (state0, self.tensor(self.buffer.episode_starts()))

    def sequence_minibatches(self, columns: tuple[torch.Tensor, ...], batch_size: int
                             ) -> Iterator[tuple[tuple[torch.Tensor, ...], tuple[PolicyState, torch.Tensor | None]]]:
        """One epoch of ``(columns, (state0, episode_starts))`` minibatches of the rollout's flat
        columns, ready for ``policy.sequence``. Feed-forward: :meth:`minibatches` (shuffled steps).
        Recurrent: whole sequences, one per env (its ``n_steps`` steps, from the state the rollout
        started in; RecurrentPPO's split), ``batch_size // n_steps`` envs per minibatch, time-major."""
        state0, starts = self.rollout_sequences()
        if state0 is None or starts is None:
            for minibatch in self.minibatches(columns, batch_size):
                yield minibatch, (None, None)
            return
        T, n_envs = starts.shape
        per_minibatch = max(1, batch_size // T)
        if per_minibatch >= n_envs:
            yield columns, (state0, starts)
            return
        perm = torch.from_numpy(self.rng.permutation(n_envs)).to(self.device)
        for first in range(0, n_envs, per_minibatch):
            envs = perm[first:first + per_minibatch]
            yield (tuple(column.view(T, n_envs, *column.shape[1:])[:, envs].flatten(0, 1) for column in columns),
                   (state_rows(state0, envs), starts[:, envs]))

    def start_segment(self) -> None:
        if self.runtime.workers:  # the rollout workers own the envs
            return
        super().start_segment()

    def collect_rollout(self) -> bool:
        """One rollout into :attr:`buffer` (:func:`collect_rollout`): what a collector calls."""
        return collect_rollout(self)

    def rollout_loop(self) -> RolloutLoop:
        """The collector that drives :meth:`train_until`: :attr:`collector` where one was given,
        else the local vector env, or Ray rollout workers when ``workers > 0``."""
        if self.collector is not None:
            return self.collector
        if self.runtime.workers:
            # Imported here: the Ray back-end is optional, and it knows this class only as a protocol.
            from rlsuite.distributed.rollout import train_with_rollout_workers

            return train_with_rollout_workers
        return local_rollout_loop

    def train_until(self, until_step: int) -> None:
        self.rollout_loop()(self, until_step)


# A collector runs the collect/update loop of an on-policy agent up to a step count.
RolloutLoop = Callable[[OnPolicyAgent, int], None]


def local_rollout_loop(agent: OnPolicyAgent, until_step: int) -> None:
    """Collect with the agent's own vector env, update, repeat (the default collector)."""
    while agent.steps < until_step:
        rollout_start = agent.steps
        cut = collect_rollout(agent)
        agent.finish_update(agent.update())
        agent.updates += 1
        agent.after_step(rollout_start)
        if cut:
            agent.start_segment()


def flatten_rollout(buffer: RolloutBuffer) -> RolloutBatch:
    """The filled part of the buffer as flat ``(T·N, ...)`` arrays (views, no copies)."""
    T, N = buffer.pos, buffer.n_envs
    total = T * N
    return RolloutBatch(buffer.obs[:T].reshape(total, *buffer.obs_shape),
                        buffer.actions[:T].reshape(total, *buffer.action_shape),
                        buffer.log_probs[:T].reshape(total), buffer.values[:T].reshape(total),
                        buffer.advantages[:T].reshape(total), buffer.returns[:T].reshape(total))


def collect_rollout(agent: OnPolicyAgent) -> bool:
    """Fill ``agent.buffer`` with the current policy and compute advantages. Returns whether a
    resume point fell inside the rollout (the caller then restarts the segment after the update)."""
    assert agent.envs is not None and agent.obs is not None
    # Everything the per-step loop touches is bound to a local once: at CartPole scale the loop's
    # Python overhead is comparable to the policy's forward pass.
    policy, buffer, cfg, envs = agent.policy, agent.buffer, agent.config, agent.envs
    normalize_obs, normalize_reward, tracker = agent.obs_normalizer, agent.reward_normalizer, agent.tracker
    act, value, env_actions, to_tensor = policy.step, policy.value, policy.env_actions, agent.tensor
    to_numpy = torch.Tensor.numpy if agent.device.type == "cpu" else _cpu_numpy
    n_envs = envs.num_envs
    rollout_start = agent.steps
    buffer.reset()
    obs = normalize_obs(agent.obs)
    episodes_finished = 0
    step = 0
    numba_actor = agent.numba_actor
    check_finite = agent.nonfinite.enabled
    if check_finite:  # after a segment start these are reset observations nobody checked yet
        check_env_step(agent.obs, None, agent.steps)
    if numba_actor is not None:
        numba_actor.refresh()  # the weights are fixed while collecting
    # The policy's state (None: feed-forward) and which envs begin an episode at this step; the update
    # re-runs a recurrent policy from the state the rollout starts in (a copy outside inference mode).
    state, starts = agent.rollout_state, agent.episode_starts
    buffer.begin(None if state is None else tuple(part.clone() for part in state), starts)
    starts_t = None if state is None else to_tensor(starts)
    while True:
        if numba_actor is not None:
            actions, log_probs, values = numba_actor.act(obs, agent.rng)
        else:
            with torch.inference_mode():
                actions_t, log_probs_t, values_t, state = act(to_tensor(obs), state, starts_t)
            actions, log_probs, values = to_numpy(actions_t), to_numpy(log_probs_t), to_numpy(values_t)
        next_obs, rewards, terminated, truncated, infos = envs.step(env_actions(actions))
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool) & ~terminated
        ended = terminated | truncated
        rewards = np.asarray(rewards, dtype=np.float32)
        if check_finite:  # before the values reach the normalizers, the buffer or the policy
            check_env_step(next_obs, rewards, agent.steps + n_envs)
        agent.steps += n_envs
        normalize_obs.update(next_obs)
        bootstrap_values = None
        if truncated.any():  # V(true final obs) for the time-limited envs
            final = np.array(next_obs, copy=True)
            for i in np.flatnonzero(truncated):
                final[i] = infos["final_obs"][i]
            if check_finite:
                check_env_step(final, None, agent.steps, "final observation")
            bootstrap_values = np.zeros(n_envs, np.float32)
            idx = np.flatnonzero(truncated)
            with torch.inference_mode():  # from the state after the step: the final obs continues the episode
                v = value(to_tensor(normalize_obs(final[idx])), state_rows(state, to_tensor(idx)))
            bootstrap_values[idx] = to_numpy(v)
        buffer.add(obs, actions, normalize_reward(rewards, ended), terminated, truncated,
                   values, log_probs, bootstrap_values)
        if ended.any() or infos:  # the tracker only has work (logging) when something ended
            for episode_return, length in tracker.update(rewards, ended, infos):
                agent.log_episode(episode_return, length)
                episodes_finished += 1
        else:
            tracker.returns += rewards
            tracker.lengths += 1
        agent.obs = next_obs
        obs = normalize_obs(next_obs)
        if state is not None:
            starts = ended
            starts_t = to_tensor(starts)
        if agent.rollout_done(step, episodes_finished) or step + 1 >= buffer.n_steps:
            break
        step += 1
    agent.rollout_state, agent.episode_starts = state, ended
    with torch.inference_mode():
        last_values = to_numpy(value(to_tensor(obs), state, starts_t))
    buffer.compute_advantages(last_values, cfg.gamma, cfg.gae_lambda)
    return agent.hooks is not None and agent.hooks.resume_point_due(rollout_start, agent.steps)


def _cpu_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.cpu().numpy()
