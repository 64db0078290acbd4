"""DDPG (Lillicrap et al. 2016) and TD3 (Fujimoto et al. 2018): one agent, flags turn one into the other.

A deterministic actor μ(s) ∈ [−1, 1]^d (tanh output, affinely scaled to the Box bounds when
stepping the env) and Q critics Q_i(s, a) on concat(s, a). Every env step:

    a = clip(μ(s) + ε, −1, 1),  ε ~ N(0, σ²) or an Ornstein-Uhlenbeck process   (exploration)
    store (s, a, r, s') in the replay buffer
    every ``train_freq`` steps, ``gradient_steps`` times, on a minibatch B:
        ã  = μ'(s')                                   (target actor)
        ã  = clip(ã + clip(ξ, −c, c), −1, 1),  ξ ~ N(0, σ̃²)      [TD3: target policy smoothing]
        y  = r + γ (1 − terminated) min_i Q'_i(s', ã)              [TD3: twin critics; DDPG: i = 1]
        critic: minimise Σ_i mean_B (Q_i(s, a) − y)²
        every ``policy_delay`` critic updates                       [TD3: delayed policy, d = 2]
            actor: maximise mean_B Q_1(s, μ(s))
            θ' ← τ θ + (1 − τ) θ'  for the actor and the critics   (Polyak targets)

DDPG is ``twin_critics=False, policy_delay=1, target_noise=0``; TD3 (``agent=td3``) presets
``twin_critics=True, policy_delay=2, target_noise=0.2, target_noise_clip=0.5``.

Deviations from the papers, following common practice (SB3, CleanRL, the TD3 authors' code):
* Actions live in the normalised space [−1, 1] inside the agent (actor output, buffer, noise,
  target smoothing); ``noise_std`` and ``target_noise`` are therefore fractions of the half range.
* The critic takes concat(s, a) at its input (TD3 paper) rather than injecting a at the second
  layer (DDPG paper); no batch norm, no L2 weight decay on the critic, equal actor/critic lr
  (``lr``, or ``actor_lr`` / ``critic_lr``), 256-sample batches, [400, 300] ReLU nets.
* The first ``learning_starts`` steps use uniform random actions (TD3 paper: 25k/10k steps).
* Time-limit truncations bootstrap from the final observation; only true terminations stop it.
* ``runtime.precision=bfloat16`` (opt-in) runs the update's matmuls under bf16 autocast (fp32 master
  weights and optimizer): about 2x faster on CPUs with AVX512-BF16 and on GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlsuite.agent import Agent, AgentConfig
from rlsuite.buffers import make_replay_buffer, to_torch
from rlsuite.compiled_update import compiled_update
from rlsuite.config import NetConfig
from rlsuite.constraints import (
    OneOf,
    Range,
    at_least_one,
    domain,
    non_negative,
    one_of,
    positive,
    probability,
    section,
)
from rlsuite.errors import IncompatibleEnvError
from rlsuite.losses import critic_regression_loss, deterministic_policy_loss
from rlsuite.nets import MLP, PRECISIONS
from rlsuite.nets.critics import Critics, scale_action, unscale_action
from rlsuite.offpolicy import Transition, run_step_loop
from rlsuite.targets import polyak_update
from rlsuite.update import UpdateStats

# --------------------------------------------------------------------------- mathematics


def smoothed_target_actions(target_actions: torch.Tensor, noise_std: float, noise_clip: float,
                            noise: torch.Tensor | None = None) -> torch.Tensor:
    """TD3 target policy smoothing: ``clip(ã + clip(ξ, −c, c), −1, 1)``, ξ ~ N(0, noise_std²).
    ``noise`` (standard normal, same shape) can be passed in for testing."""
    if noise is None:
        noise = torch.randn_like(target_actions)
    return (target_actions + (noise * noise_std).clamp(-noise_clip, noise_clip)).clamp(-1.0, 1.0)


def td3_target(rewards: torch.Tensor, discounts: torch.Tensor, next_q: torch.Tensor) -> torch.Tensor:
    """Clipped double-Q target ``y = r + discount · min_i Q'_i(s', ã)``.

    ``next_q`` has shape ``(n_critics, batch)`` (one critic: plain DDPG target); ``discounts`` is
    γ where the episode goes on (or was truncated) and 0 where it terminated."""
    return rewards + discounts * next_q.min(dim=0).values


class OrnsteinUhlenbeckNoise:
    """Temporally correlated exploration (DDPG paper): x ← x + θ(μ − x)dt + σ√dt · N(0, 1), one
    process per env, reset to 0 when that env's episode ends. μ = 0, θ = 0.15, dt = 0.01 (SB3)."""

    def __init__(self, shape: tuple[int, ...], sigma: float, theta: float = 0.15, dt: float = 1e-2):
        self.sigma, self.theta, self.dt = sigma, theta, dt
        self.state = np.zeros(shape, dtype=np.float64)

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        self.state += -self.theta * self.state * self.dt + self.sigma * np.sqrt(self.dt) * rng.standard_normal(
            self.state.shape)
        return self.state

    def reset(self, mask: np.ndarray | None = None) -> None:
        if mask is None:
            self.state[:] = 0.0
        else:
            self.state[mask] = 0.0

    def state_dict(self) -> dict[str, Any]:
        return {"state": self.state.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state[...] = state["state"]


# --------------------------------------------------------------------------- networks


class Actor(nn.Module):
    """Deterministic policy μ(s) = tanh(MLP(s)) ∈ [−1, 1]^action_dim."""

    def __init__(self, obs_dim: int, action_dim: int, net_arch: list[int], activation: str = "relu"):
        super().__init__()
        self.mlp = MLP(obs_dim, net_arch, action_dim, activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.mlp(obs.flatten(1).float()))


# --------------------------------------------------------------------------- agent


@dataclass
class DDPGConfig(AgentConfig):
    gamma: float = field(default=0.99, metadata=probability)
    lr: float = field(default=1e-3, metadata=positive)
    actor_lr: float | None = field(default=None, metadata=positive)  # the actor's learning rate; None: lr
    critic_lr: float | None = field(default=None, metadata=positive)  # the critics' learning rate; None: lr
    tau: float = field(default=0.005, metadata=domain(Range(gt=0, le=1)))
    batch_size: int = field(default=256, metadata=at_least_one)
    buffer_size: int = field(default=1_000_000, metadata=at_least_one)
    learning_starts: int = field(default=100, metadata=non_negative)
    train_freq: int = field(default=1, metadata=at_least_one)  # env steps (summed over envs) between training phases
    # updates per training phase; -1: as many as env steps collected
    gradient_steps: int = field(default=1, metadata=domain(Range(ge=1) | OneOf((-1,))))
    # exploration noise added to μ(s): Gaussian N(0, noise_std²), Ornstein-Uhlenbeck (σ = noise_std), or none
    action_noise: str = field(default="normal", metadata=one_of("normal", "ornstein_uhlenbeck", "none"))
    # in the normalised action space: a fraction of the half range
    noise_std: float = field(default=0.1, metadata=non_negative)
    twin_critics: bool = False  # TD3's clipped double Q: two critics, the target takes min_i Q'_i(s', ã)
    policy_delay: int = field(default=1, metadata=at_least_one)  # critic updates per actor + target update (TD3's d)
    # std σ̃ of TD3's target policy smoothing noise ξ, a fraction of the half range (0: no smoothing)
    target_noise: float = field(default=0.0, metadata=non_negative)
    # TD3's c: the smoothing noise is clipped to [−c, c] (normalised action units)
    target_noise_clip: float = field(default=0.5, metadata=non_negative)
    log_interval: int = field(default=100, metadata=at_least_one)  # updates between loss records (one host sync each)
    net: NetConfig = field(default_factory=lambda: NetConfig(widths=[400, 300], activation="relu"),
                           metadata=section(NetConfig))

    net_keys: ClassVar[tuple[str, ...]] = ("widths", "activation")


class DDPG(Agent[DDPGConfig]):
    """DDPG: deterministic actor, Q critic, Polyak targets, Gaussian or OU exploration noise."""

    name = "ddpg"
    description = "DDPG: deterministic actor-critic, Polyak targets, Gaussian/OU noise (flags give TD3)"
    Config = DDPGConfig
    observation_spaces = (gym.spaces.Box,)
    action_spaces = (gym.spaces.Box,)
    space_hint = "DDPG/TD3 need vector observations and bounded continuous actions (Pendulum, MuJoCo); try dqn or ppo."
    persistent = ("actor", "actor_target", "critic", "critic_target", "actor_optimizer", "critic_optimizer",
                  "buffer", "ou_noise")
    persistent_for_acting = ("actor",)
    # precision: autocast for the update's matmuls
    runtime_keys = ("fused_optimizer", "precision", "compiled_update")

    def setup(self) -> None:
        cfg = self.config
        space = cast(gym.spaces.Box, self.action_space)  # check_spaces admitted only Box
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise IncompatibleEnvError(f"agent '{self.name}' needs finite action bounds to scale tanh outputs, "
                                       f"got low={space.low}, high={space.high}")
        obs_dim = int(np.prod(self.observation_space.shape or ()))
        self.action_dim = int(np.prod(space.shape))
        self.low = space.low.astype(np.float64).reshape(-1)
        self.high = space.high.astype(np.float64).reshape(-1)

        widths, activation, n_critics = list(cfg.net.widths or []), cfg.net.activation, 2 if cfg.twin_critics else 1
        self.actor = Actor(obs_dim, self.action_dim, widths, activation).to(self.device)
        self.critic = Critics(obs_dim, self.action_dim, widths, n_critics, activation).to(self.device)
        self.actor_target = Actor(obs_dim, self.action_dim, widths, activation).to(self.device)
        self.critic_target = Critics(obs_dim, self.action_dim, widths, n_critics, activation).to(self.device)
        self.sync_targets()
        self.actor_target.requires_grad_(False)
        self.critic_target.requires_grad_(False)
        self.actor_optimizer = self.optimizers.adam(self.actor.parameters(), cfg.actor_lr or cfg.lr)
        self.critic_optimizer = self.optimizers.adam(self.critic.parameters(), cfg.critic_lr or cfg.lr)

        # The buffer stores normalised actions, so critics and targets never see env units.
        normalized_space = gym.spaces.Box(-1.0, 1.0, (self.action_dim,), np.float32)
        self.buffer = make_replay_buffer(cfg.buffer_size, self.observation_space, normalized_space,
                                         n_envs=cfg.n_envs, gamma=cfg.gamma, seed=self.seed,
                                         pin_memory=self.device.type == "cuda")
        self.ou_noise = OrnsteinUhlenbeckNoise((cfg.n_envs, self.action_dim), cfg.noise_std)
        self.autocast_dtype = PRECISIONS[self.runtime.precision]
        precision = self.runtime.precision
        unsupported = f"runtime.precision={precision} runs under autocast" if precision != "float32" else None
        self.compiled_critic_step = compiled_update(
            self.runtime.compiled_update, self.critic_loss,
            {"critic": self.critic, "critic_target": self.critic_target, "actor_target": self.actor_target},
            self.critic_optimizer, unsupported=unsupported, name="critic step")
        self.compiled_actor_step = compiled_update(
            self.runtime.compiled_update, self.actor_loss, {"actor": self.actor, "critic": self.critic},
            self.actor_optimizer, unsupported=unsupported,
            targets=[(self.critic, self.critic_target), (self.actor, self.actor_target)], tau=cfg.tau,
            name="actor step")

    def sync_targets(self) -> None:
        self.actor_target.load_state_dict(self.actor.state_dict())
        self.critic_target.load_state_dict(self.critic.state_dict())

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def policy(self, obs: np.ndarray) -> np.ndarray:
        """μ(s) in the normalised space for a batch of observations."""
        obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        return self.actor(obs_t).cpu().numpy().astype(np.float64)

    def exploration_noise(self, shape: tuple[int, ...]) -> np.ndarray:
        cfg = self.config
        if cfg.action_noise == "normal":
            return cfg.noise_std * self.rng.standard_normal(shape)
        if cfg.action_noise == "ornstein_uhlenbeck":
            return self.ou_noise(self.rng)
        return np.zeros(shape)

    def to_env_actions(self, normalized: np.ndarray) -> np.ndarray:
        actions = scale_action(normalized, self.low, self.high).astype(self.action_space.dtype)
        return actions.reshape(len(normalized), *(self.action_space.shape or ()))

    def act(self, obs: Any, deterministic: bool = True) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32)
        single = obs.shape == self.observation_space.shape
        batch = obs[None] if single else obs
        normalized = self.policy(batch.reshape(len(batch), -1))
        if not deterministic:
            normalized = np.clip(normalized + self.config.noise_std * self.rng.standard_normal(normalized.shape),
                                 -1.0, 1.0)
        actions = self.to_env_actions(normalized)
        return actions[0] if single else actions

    def greedy_policy_module(self) -> nn.Module:
        """What ``act(obs, deterministic=True)`` computes, as a module (for ``rlsuite export``)."""
        from rlsuite.export import ScaledActor

        return ScaledActor(self.actor, self.low, self.high, self.action_space.shape or ())

    def explore(self, obs: np.ndarray) -> np.ndarray:
        shape = (len(obs), self.action_dim)
        if self.steps < self.config.learning_starts:
            normalized = self.rng.uniform(-1.0, 1.0, size=shape)
        else:
            normalized = np.clip(self.policy(obs.reshape(len(obs), -1)) + self.exploration_noise(shape), -1.0, 1.0)
        return self.to_env_actions(normalized)

    # ------------------------------------------------------------------ learning
    def observe(self, t: Transition) -> None:
        cfg = self.config
        normalized = np.clip(unscale_action(t.actions.reshape(len(t.actions), -1), self.low, self.high), -1.0, 1.0)
        self.buffer.add(t.obs, normalized, t.rewards, t.next_obs, t.terminated, t.truncated)
        if cfg.action_noise == "ornstein_uhlenbeck":
            self.ou_noise.reset(t.terminated | t.truncated)
        # train_freq counts env steps summed over envs (as in DQN): one phase per multiple crossed
        phases = self.steps // cfg.train_freq - (self.steps - len(t.rewards)) // cfg.train_freq
        if self.steps > cfg.learning_starts and phases > 0:
            n_updates = phases * (cfg.gradient_steps if cfg.gradient_steps > 0 else cfg.train_freq)
            for _ in range(n_updates):
                self.finish_update(self.update(to_torch(self.buffer.sample(cfg.batch_size), self.device)))

    def update(self, batch: Any) -> UpdateStats:
        """One critic step and, every ``policy_delay`` of them, one actor step and target update."""
        cfg = self.config
        # TD3's smoothing noise ξ, drawn with the batch (so the compiled step sees the same numbers)
        noise = torch.randn(len(batch.rewards), self.action_dim, device=self.device) if cfg.target_noise > 0 else None
        if self.compiled_critic_step is not None:  # the same step, compiled (rlsuite.compiled_update)
            critic_loss = self.compiled_critic_step(batch, noise)[0]
        else:
            with self.autocast():
                critic_loss = self.critic_loss(batch, noise)[0]
            self.step(self.critic_optimizer, critic_loss)
        self.updates += 1
        stats = UpdateStats({"loss/critic": critic_loss})

        if self.updates % cfg.policy_delay == 0:
            if self.compiled_actor_step is not None:
                actor_loss = self.compiled_actor_step(batch)[0]
            else:
                with self.autocast():
                    actor_loss = self.actor_loss(batch)[0]
                self.step(self.actor_optimizer, actor_loss)  # the actor's gradients only
                polyak_update(self.critic, self.critic_target, cfg.tau)
                polyak_update(self.actor, self.actor_target, cfg.tau)
            stats.add({"loss/actor": actor_loss})
        return stats

    def critic_loss(self, batch: Any, noise: torch.Tensor | None) -> tuple[torch.Tensor, None]:
        """Σ_i mean_B (Q_i(s, a) − y)² with the (smoothed, clipped double-Q) target y."""
        cfg = self.config
        with torch.no_grad():
            next_actions = self.actor_target(batch.next_obs)
            if noise is not None:
                next_actions = smoothed_target_actions(next_actions, cfg.target_noise, cfg.target_noise_clip,
                                                       noise.to(next_actions.dtype))
            y = td3_target(batch.rewards, batch.discounts, self.critic_target(batch.next_obs, next_actions).float())
        return critic_regression_loss(self.critic(batch.obs, batch.actions).float(), y), None

    def actor_loss(self, batch: Any) -> tuple[torch.Tensor, None]:
        """−mean_B Q_1(s, μ(s))."""
        return deterministic_policy_loss(self.critic.q1(batch.obs, self.actor(batch.obs)).float()), None

    def autocast(self) -> torch.autocast:
        """bf16 autocast for the update's matmuls with ``runtime.precision=bfloat16``; a no-op otherwise."""
        return torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.bfloat16,
                              enabled=self.autocast_dtype is not None)

    def train_until(self, until_step: int) -> None:
        run_step_loop(self, until_step)


class TD3(DDPG):
    """TD3: DDPG with twin critics (clipped double Q), target policy smoothing and a delayed actor."""

    name = "td3"
    description = "TD3 (DDPG + twin critics, target policy smoothing, delayed policy updates)"
    preset = {"twin_critics": True, "policy_delay": 2, "target_noise": 0.2, "target_noise_clip": 0.5}
