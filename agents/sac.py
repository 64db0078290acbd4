"""SAC (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications") and discrete SAC
(Christodoulou 2019): one agent, the action space picks the mode.

A stochastic policy π(a|s), twin soft Q critics Q_1, Q_2 with Polyak-averaged targets Q'_i and a
temperature α tuned so that the policy's entropy stays near a target H̄. Every env step:

    a ~ π(·|s)                                                       (the policy explores by itself)
    store (s, a, r, s') in the replay buffer
    every ``train_freq`` steps, ``gradient_steps`` times, on a minibatch B:
        soft target      y  = r + γ (1 − terminated) V'(s')
            continuous:  V'(s') = min_i Q'_i(s', ã') − α log π(ã'|s'),   ã' ~ π(·|s')
            discrete:    V'(s') = Σ_a π(a|s') [min_i Q'_i(s', a) − α log π(a|s')]     (exact)
        critics:         minimise Σ_i mean_B (Q_i(s, a) − y)²
        policy:          minimise mean_B [α log π(ã|s) − min_i Q_i(s, ã)],   ã = tanh(μ + σ ε)
                         discrete: mean_B Σ_a π(a|s) [α log π(a|s) − min_i Q_i(s, a)]
        temperature:     minimise mean_B log α · (H(π(·|s)) − H̄)
                         (H = −log π(ã|s) sampled; discrete: −Σ_a π log π, exact)
        θ'_i ← τ θ_i + (1 − τ) θ'_i                                   (Polyak targets)

Continuous actions: π is a Gaussian N(μ(s), σ(s)²) squashed by tanh into [−1, 1]^d (scaled to the
Box bounds when stepping the env), whose density carries the change-of-variables correction
log π(a|s) = Σ_j [log N(u_j; μ_j, σ_j) − log(1 − tanh(u_j)²)],  a = tanh(u)  (paper, appendix C).
Discrete actions (Christodoulou 2019): π is categorical, the critics output Q(s, ·) for every
action, every expectation over actions is a sum computed exactly, and H̄ = scale · log|A|.

Deviations from the papers, following common practice (SB3, CleanRL):
* Polyak τ = 0.005, 256-sample batches, [256, 256] ReLU nets, one lr (3e-4) for all three losses
  (``actor_lr`` / ``critic_lr`` / ``alpha_lr`` override it) — SB3's defaults.
* The temperature is learned as log α (SB3, CleanRL) and its loss uses log α rather than α
  (same fixed point, better conditioned); α starts at ``init_alpha`` = 1. ``ent_coef`` fixes α instead.
* Continuous target entropy H̄ = −|A| (the paper's heuristic, SB3's default); discrete H̄ =
  0.98 · log|A| (Christodoulou's value; ``target_entropy_scale``). ``target_entropy`` overrides both.
* The policy's log σ is clamped to [−20, 2] (SB3); log(1 − tanh²u) is computed in the stable form
  2 (log 2 − u − softplus(−2u)) rather than with an ε.
* No separate state-value network (the paper's 2018 version already dropped it); both losses use the
  minimum of the twin critics.
* The first ``learning_starts`` steps take uniform random actions (SB3: 100, rl-zoo3 often 10k).
* Within one update the critics, then the policy, then α step, each with the α of the start of the
  update (the paper's Algorithm 1 order).
* Time-limit truncations bootstrap from the final observation; only true terminations stop it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rlsuite.agent import Agent, AgentConfig
from rlsuite.buffers import make_replay_buffer, to_torch
from rlsuite.config import NetConfig
from rlsuite.constraints import (
    OneOf,
    Range,
    at_least_one,
    domain,
    finite,
    non_negative,
    positive,
    probability,
    section,
)
from rlsuite.errors import ConfigError, IncompatibleEnvError
from rlsuite.losses import critic_regression_loss, discrete_soft_policy_loss, soft_policy_loss, temperature_loss
from rlsuite.nets import MLP, build_encoder
from rlsuite.nets.critics import Critics, scale_action, unscale_action
from rlsuite.offpolicy import Transition, run_step_loop
from rlsuite.targets import polyak_update
from rlsuite.update import UpdateStats

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # SB3's clamp of the policy's log σ

# --------------------------------------------------------------------------- mathematics


def log_one_minus_tanh_squared(u: torch.Tensor) -> torch.Tensor:
    """log(1 − tanh(u)²) = 2 (log 2 − u − softplus(−2u)), exact and finite for every u."""
    return 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))


def squashed_gaussian_log_prob(mean: torch.Tensor, log_std: torch.Tensor, pre_tanh: torch.Tensor) -> torch.Tensor:
    """log π(tanh(u)|s) for u ~ N(mean, exp(log_std)²), summed over the last (action) dim:
    Σ_j [log N(u_j; μ_j, σ_j) − log(1 − tanh(u_j)²)]."""
    gaussian = torch.distributions.Normal(mean, log_std.exp()).log_prob(pre_tanh)
    return (gaussian - log_one_minus_tanh_squared(pre_tanh)).sum(dim=-1)


def soft_q_target(rewards: torch.Tensor, discounts: torch.Tensor, next_q: torch.Tensor,
                  next_log_prob: torch.Tensor, alpha: torch.Tensor | float) -> torch.Tensor:
    """Continuous soft target ``y = r + discount · (min_i Q'_i(s', ã') − α log π(ã'|s'))``.

    ``next_q``: ``(n_critics, batch)``; ``discounts``: γ where the episode goes on (or was
    truncated), 0 where it terminated."""
    return rewards + discounts * (next_q.min(dim=0).values - alpha * next_log_prob)


def discrete_soft_q_target(rewards: torch.Tensor, discounts: torch.Tensor, next_q: torch.Tensor,
                           next_log_probs: torch.Tensor, alpha: torch.Tensor | float) -> torch.Tensor:
    """Discrete soft target ``y = r + discount · Σ_a π(a|s') (min_i Q'_i(s', a) − α log π(a|s'))``.

    ``next_q``: ``(n_critics, batch, n_actions)``; ``next_log_probs``: ``(batch, n_actions)``."""
    next_v = (next_log_probs.exp() * (next_q.min(dim=0).values - alpha * next_log_probs)).sum(dim=-1)
    return rewards + discounts * next_v


def default_target_entropy(action_space: gym.Space, scale: float) -> float:
    """−|A| for a Box (the paper's heuristic), ``scale · log|A|`` for a Discrete space."""
    if isinstance(action_space, gym.spaces.Discrete):
        return scale * math.log(int(action_space.n))
    return -float(np.prod(action_space.shape or ()))


# --------------------------------------------------------------------------- networks


class SquashedGaussianActor(nn.Module):
    """π(·|s): an MLP trunk, then a mean and a log σ head; actions tanh(u), u ~ N(μ, σ²)."""

    def __init__(self, obs_dim: int, action_dim: int, net_arch: list[int], activation: str = "relu"):
        super().__init__()
        self.trunk = MLP(obs_dim, net_arch, None, activation)
        self.mean = nn.Linear(self.trunk.out_features, action_dim)
        self.log_std = nn.Linear(self.trunk.out_features, action_dim)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(obs.flatten(1).float())
        return self.mean(h), self.log_std(h).clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparametrised action in [−1, 1]^d and its log-probability."""
        mean, log_std = self(obs)
        u = mean + log_std.exp() * torch.randn_like(mean)
        return torch.tanh(u), squashed_gaussian_log_prob(mean, log_std, u)


class CategoricalActor(nn.Module):
    """π(·|s) over ``n_actions``: the observation's standard encoder, an MLP, logits."""

    def __init__(self, observation_space: gym.Space, n_actions: int, net_arch: list[int], activation: str = "relu"):
        super().__init__()
        self.encoder, features = build_encoder(observation_space)
        self.mlp = MLP(features, net_arch, n_actions, activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """log π(·|s), shape ``(batch, n_actions)``."""
        return torch.log_softmax(self.mlp(self.encoder(obs)), dim=-1)


class DiscreteCritics(nn.Module):
    """``n`` independent Q(s, ·) networks; ``forward`` returns ``(n, batch, n_actions)``."""

    def __init__(self, observation_space: gym.Space, n_actions: int, net_arch: list[int], n_critics: int,
                 activation: str = "relu"):
        super().__init__()
        self.encoders = nn.ModuleList()
        self.heads = nn.ModuleList()
        for _ in range(n_critics):
            encoder, features = build_encoder(observation_space)
            self.encoders.append(encoder)
            self.heads.append(MLP(features, net_arch, n_actions, activation))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.stack([head(encoder(obs)) for encoder, head in zip(self.encoders, self.heads)])


class Temperature(nn.Module):
    """log α as a module, so that checkpoints and the optimizer treat it like any network."""

    def __init__(self, init_alpha: float):
        super().__init__()
        self.log_alpha = nn.Parameter(torch.tensor(math.log(init_alpha), dtype=torch.float32))


# --------------------------------------------------------------------------- agent


@dataclass
class SACConfig(AgentConfig):
    gamma: float = field(default=0.99, metadata=probability)
    lr: float = field(default=3e-4, metadata=positive)
    actor_lr: float | None = field(default=None, metadata=positive)  # the actor's learning rate; None: lr
    critic_lr: float | None = field(default=None, metadata=positive)  # the critics' learning rate; None: lr
    alpha_lr: float | None = field(default=None, metadata=positive)  # the temperature's learning rate; None: lr
    tau: float = field(default=0.005, metadata=domain(Range(gt=0, le=1)))
    batch_size: int = field(default=256, metadata=at_least_one)
    buffer_size: int = field(default=1_000_000, metadata=at_least_one)
    learning_starts: int = field(default=100, metadata=non_negative)
    train_freq: int = field(default=1, metadata=at_least_one)  # env steps (summed over envs) between training phases
    # updates per training phase; -1: as many as env steps collected
    gradient_steps: int = field(default=1, metadata=domain(Range(ge=1) | OneOf((-1,))))
    target_update_interval: int = field(default=1, metadata=at_least_one)  # updates between Polyak steps
    ent_coef: float | None = field(default=None, metadata=positive)  # a fixed α; None: tuned automatically
    init_alpha: float = field(default=1.0, metadata=positive)  # α before tuning starts
    target_entropy: float | None = field(default=None, metadata=finite)  # H̄; None: −|A| or scale · log|A|
    # discrete H̄ as a fraction of the uniform policy's entropy log|A| (Christodoulou 2019: 0.98)
    target_entropy_scale: float = field(default=0.98, metadata=domain(Range(gt=0, lt=1)))
    log_interval: int = field(default=100, metadata=at_least_one)  # updates between loss records (one host sync each)
    net: NetConfig = field(default_factory=lambda: NetConfig(widths=[256, 256], activation="relu"),
                           metadata=section(NetConfig))

    net_keys: ClassVar[tuple[str, ...]] = ("widths", "activation")


class SAC(Agent[SACConfig]):
    """SAC with automatic entropy tuning; discrete SAC when the action space is Discrete."""

    name = "sac"
    description = "SAC: soft actor-critic, twin Q, tuned entropy; categorical (discrete SAC) for Discrete actions"
    Config = SACConfig
    observation_spaces = (gym.spaces.Box,)
    action_spaces = (gym.spaces.Box, gym.spaces.Discrete)
    space_hint = "SAC needs Box observations and Box (bounded) or Discrete actions; try dqn or ppo."
    persistent = ("actor", "critic", "critic_target", "temperature", "actor_optimizer", "critic_optimizer",
                  "alpha_optimizer", "buffer")
    persistent_for_acting = ("actor",)
    runtime_keys = ("fused_optimizer",)

    def setup(self) -> None:
        cfg = self.config
        space = self.action_space
        self.discrete = isinstance(space, gym.spaces.Discrete)
        arch, activation = list(cfg.net.widths or []), cfg.net.activation
        if self.discrete:
            self.n_actions = int(cast(gym.spaces.Discrete, space).n)
            max_entropy = math.log(self.n_actions)
            if cfg.target_entropy is not None and not cfg.target_entropy < max_entropy:
                raise ConfigError(f"agent.target_entropy={cfg.target_entropy} must be below log|A| = "
                                  f"{max_entropy:.4g} (the uniform policy's entropy) for {self.n_actions} actions; "
                                  "omit it to use target_entropy_scale · log|A|")
            self.actor: nn.Module = CategoricalActor(self.observation_space, self.n_actions, arch, activation)
            make_critics: Callable[[], nn.Module] = lambda: DiscreteCritics(  # noqa: E731
                self.observation_space, self.n_actions, arch, 2, activation)
            buffer_actions: gym.Space = space
        else:
            box = cast(gym.spaces.Box, space)
            if not (np.all(np.isfinite(box.low)) and np.all(np.isfinite(box.high))):
                raise IncompatibleEnvError(f"agent '{self.name}' needs finite action bounds to scale tanh outputs, "
                                           f"got low={box.low}, high={box.high}")
            obs_dim = int(np.prod(self.observation_space.shape or ()))
            self.action_dim = int(np.prod(box.shape))
            self.low = box.low.astype(np.float64).reshape(-1)
            self.high = box.high.astype(np.float64).reshape(-1)
            self.actor = SquashedGaussianActor(obs_dim, self.action_dim, arch, activation)
            make_critics = lambda: Critics(obs_dim, self.action_dim, arch, 2, activation)  # noqa: E731
            # the buffer stores normalised actions, so critics and targets never see env units
            buffer_actions = gym.spaces.Box(-1.0, 1.0, (self.action_dim,), np.float32)
        self.target_entropy = (cfg.target_entropy if cfg.target_entropy is not None
                               else default_target_entropy(space, cfg.target_entropy_scale))

        self.actor.to(self.device)
        self.critic = make_critics().to(self.device)
        self.critic_target = make_critics().to(self.device)
        self.sync_targets()
        self.critic_target.requires_grad_(False)
        self.temperature = Temperature(cfg.ent_coef or cfg.init_alpha).to(self.device)
        self.actor_optimizer = self.optimizers.adam(self.actor.parameters(), cfg.actor_lr or cfg.lr)
        self.critic_optimizer = self.optimizers.adam(self.critic.parameters(), cfg.critic_lr or cfg.lr)
        self.alpha_optimizer = self.optimizers.adam(self.temperature.parameters(), cfg.alpha_lr or cfg.lr)
        self.buffer = make_replay_buffer(cfg.buffer_size, self.observation_space, buffer_actions,
                                         n_envs=cfg.n_envs, gamma=cfg.gamma, seed=self.seed,
                                         pin_memory=self.device.type == "cuda")

    def sync_targets(self) -> None:
        self.critic_target.load_state_dict(self.critic.state_dict())

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def policy(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        """Actions for a batch: indices (discrete) or normalised [−1, 1] vectors (continuous)."""
        obs_t = torch.as_tensor(np.asarray(obs), device=self.device)
        if self.discrete:
            log_probs = self.actor(obs_t)
            picks = log_probs.argmax(-1) if deterministic else torch.multinomial(log_probs.exp(), 1).squeeze(-1)
            return picks.cpu().numpy()
        if deterministic:
            return torch.tanh(self.actor(obs_t)[0]).cpu().numpy().astype(np.float64)
        return self.sample_actions(obs_t)[0].cpu().numpy().astype(np.float64)

    def sample_actions(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Continuous mode: reparametrised actions in [−1, 1]^d and their log-probabilities."""
        return cast(SquashedGaussianActor, self.actor).sample(obs)

    def to_env_actions(self, policy_actions: np.ndarray) -> np.ndarray:
        if self.discrete:
            return policy_actions.astype(np.int64)
        actions = scale_action(policy_actions, self.low, self.high).astype(self.action_space.dtype)
        return actions.reshape(len(policy_actions), *(self.action_space.shape or ()))

    def act(self, obs: Any, deterministic: bool = True) -> np.ndarray:
        obs = np.asarray(obs, dtype=self.observation_space.dtype)
        single = obs.shape == self.observation_space.shape
        batch = obs[None] if single else obs
        actions = self.to_env_actions(self.policy(batch, deterministic))
        return actions[0] if single else actions

    def explore(self, obs: np.ndarray) -> np.ndarray:
        if self.steps >= self.config.learning_starts:
            return self.to_env_actions(self.policy(obs, deterministic=False))
        if self.discrete:
            return self.rng.integers(0, self.n_actions, size=len(obs))
        return self.to_env_actions(self.rng.uniform(-1.0, 1.0, size=(len(obs), self.action_dim)))

    # ------------------------------------------------------------------ learning
    def observe(self, t: Transition) -> None:
        cfg = self.config
        if self.discrete:
            actions = t.actions
        else:
            actions = np.clip(unscale_action(t.actions.reshape(len(t.actions), -1), self.low, self.high), -1.0, 1.0)
        self.buffer.add(t.obs, actions, t.rewards, t.next_obs, t.terminated, t.truncated)
        # train_freq counts env steps summed over envs (as in DQN and DDPG): one phase per multiple crossed
        phases = self.steps // cfg.train_freq - (self.steps - len(t.rewards)) // cfg.train_freq
        if self.steps > cfg.learning_starts and phases > 0:
            n_updates = phases * (cfg.gradient_steps if cfg.gradient_steps > 0 else cfg.train_freq)
            for _ in range(n_updates):
                self.finish_update(self.update(to_torch(self.buffer.sample(cfg.batch_size), self.device)))

    @property
    def alpha(self) -> torch.Tensor:
        """The current temperature α (fixed ``ent_coef`` or exp(log α)), without gradient."""
        return self.temperature.log_alpha.detach().exp()

    def update(self, batch: Any) -> UpdateStats:
        """One step each of the critics, the policy and the temperature, then the targets."""
        cfg = self.config
        alpha = self.alpha
        # soft Q target, from the target critics and the current policy at s'
        with torch.no_grad():
            if self.discrete:
                y = discrete_soft_q_target(batch.rewards, batch.discounts, self.critic_target(batch.next_obs),
                                           self.actor(batch.next_obs), alpha)
            else:
                next_actions, next_log_prob = self.sample_actions(batch.next_obs)
                y = soft_q_target(batch.rewards, batch.discounts, self.critic_target(batch.next_obs, next_actions),
                                  next_log_prob, alpha)
        # critics: regress every Q_i(s, a) onto y
        if self.discrete:
            q = self.critic(batch.obs).gather(2, batch.actions.long().view(1, -1, 1).expand(2, -1, 1)).squeeze(-1)
        else:
            q = self.critic(batch.obs, batch.actions)
        critic_loss = critic_regression_loss(q, y)
        self.step(self.critic_optimizer, critic_loss)

        # policy: minimise E[α log π − min_i Q_i]
        if self.discrete:
            log_probs = self.actor(batch.obs)
            actor_loss = discrete_soft_policy_loss(log_probs, self.critic(batch.obs).min(dim=0).values, alpha)
            entropy = -(log_probs.exp() * log_probs).sum(dim=-1)
        else:
            actions, log_prob = self.sample_actions(batch.obs)
            actor_loss = soft_policy_loss(log_prob, self.critic(batch.obs, actions).min(dim=0).values, alpha)
            entropy = -log_prob
        self.step(self.actor_optimizer, actor_loss)

        # temperature: keep the policy's entropy near the target
        alpha_loss = temperature_loss(self.temperature.log_alpha, entropy, self.target_entropy)
        if cfg.ent_coef is None:
            self.step(self.alpha_optimizer, alpha_loss)

        self.updates += 1
        if self.updates % cfg.target_update_interval == 0:
            polyak_update(self.critic, self.critic_target, cfg.tau)
        return UpdateStats({"loss/critic": critic_loss, "loss/actor": actor_loss, "loss/alpha": alpha_loss,
                            "train/alpha": alpha})

    def train_until(self, until_step: int) -> None:
        run_step_loop(self, until_step)
