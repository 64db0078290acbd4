"""Trust Region Policy Optimization (Schulman et al. 2015; the practical algorithm of section 6 and
appendix C), with a separately fitted value function and GAE (Schulman et al. 2016).

    repeat:
        collect n_steps × n_envs transitions with π_θold; Â by GAE(γ, λ)             (rlsuite.onpolicy)
        L(θ)  = E[ π_θ(a|s) / π_θold(a|s) · Â ]                                       (surrogate)
        g     = ∇_θ L(θ_old)
        F v   = ∇_θ (∇_θ KL̄(θ_old, θ) · v) + damping · v                               (Fisher-vector
                                                          product: Hessian of the mean KL at θ_old)
        s     ≈ F⁻¹ g by cg_iters of conjugate gradient
        β     = sqrt(2δ / sᵀFs)                               (the largest step with ½ βsᵀFβs = δ)
        for j = 0 … line_search_steps − 1:                                         (backtracking)
            θ = θ_old + shrink^j · β s
            accept if KL̄(θ_old, θ) ≤ δ and L(θ) > L(θ_old)
        if nothing is accepted, θ = θ_old                              (rlsuite.trust_region)
        fit V by critic_epochs epochs of Adam minibatches on (V(s) − R̂)²

Following sb3-contrib (whose rl-zoo3 hyperparameters the benchmark uses): advantages are
normalized per batch, the improvement test is ``L(θ) > L(θ_old)`` (not the paper's comparison
with the linearly expected improvement), and the critic uses Adam at ``critic_lr`` with
minibatches of ``critic_batch_size``, no gradient clipping. The policy and value function never share
parameters (``net.shared`` must stay false). ``max_kl`` is δ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from rlsuite.config import FEEDFORWARD_NET_KEYS
from rlsuite.constraints import Range, at_least_one, domain, non_negative, positive, probability
from rlsuite.errors import ConfigError
from rlsuite.losses import normalize_advantages, value_loss
from rlsuite.onpolicy import OnPolicyAgent, OnPolicyConfig
from rlsuite.trust_region import trust_region_step
from rlsuite.update import UpdateStats


@dataclass
class TRPOConfig(OnPolicyConfig):
    n_steps: int = field(default=2048, metadata=at_least_one)
    gae_lambda: float = field(default=0.95, metadata=probability)
    # trust-region radius δ: mean KL(π_old ‖ π_new) allowed per step
    max_kl: float = field(default=0.01, metadata=positive)
    # at most this many conjugate-gradient iterations for the step direction H⁻¹g
    cg_iters: int = field(default=15, metadata=at_least_one)
    # damping λ of the conjugate gradient: it solves (H + λI) s = g, H the KL's Hessian
    cg_damping: float = field(default=0.1, metadata=non_negative)
    # backtracking trials (accepted: KL ≤ max_kl and a better surrogate) before the step is dropped
    line_search_steps: int = field(default=10, metadata=at_least_one)
    # the line search tries fractions 1, this, this², … of the full step
    line_search_shrink: float = field(default=0.8, metadata=domain(Range(gt=0, lt=1)))
    critic_lr: float = field(default=1e-3, metadata=positive)
    critic_epochs: int = field(default=10, metadata=at_least_one)  # passes of the critic over the batch per update
    critic_batch_size: int = field(default=128, metadata=at_least_one)

    renamed_keys: ClassVar[dict[str, str]] = {"batch_size": "critic_batch_size"}  # it always meant this
    net_keys: ClassVar[tuple[str, ...]] = FEEDFORWARD_NET_KEYS  # no recurrent policy (its update is not sequence-aware)


class TRPO(OnPolicyAgent[TRPOConfig]):
    """Natural policy gradient in a KL trust region (CG + backtracking line search), V fitted apart."""

    name = "trpo"
    description = "TRPO (Schulman et al. 2015): CG natural gradient, KL-constrained line search, GAE critic"
    Config = TRPOConfig
    persistent = ("policy", "critic_optimizer", "obs_normalizer", "reward_normalizer")

    def setup_optimizers(self) -> None:
        cfg = self.config
        if self.policy.critic_trunk is None:
            raise ConfigError("trpo needs separate policy and value networks (agent.net.shared=false)")
        self.actor_params = list(self.policy.actor_trunk.parameters()) + list(self.policy.actor_head.parameters())
        if self.policy.log_std is not None:
            self.actor_params.append(self.policy.log_std)
        self.critic_params = list(self.policy.critic_trunk.parameters()) + list(self.policy.critic_head.parameters())
        self.critic_optimizer = self.optimizers.adam(self.critic_params, cfg.critic_lr, eps=cfg.optimizer_eps)

    def policy_step(self, obs: torch.Tensor, actions: torch.Tensor, advantages: torch.Tensor
                    ) -> dict[str, float | torch.Tensor]:
        """One trust-region step on the actor parameters; returns what happened (KL, improvement)."""
        cfg = self.config
        params = self.actor_params
        with torch.no_grad():
            old_dist = self.policy.distribution(obs)
            old_log_probs = old_dist.log_prob(actions)

        def surrogate_and_kl() -> tuple[torch.Tensor, torch.Tensor]:
            dist = self.policy.distribution(obs)
            ratio = torch.exp(dist.log_prob(actions) - old_log_probs)
            # both distributions come from one policy, so they are of one kind
            return (ratio * advantages).mean(), old_dist.kl(dist).mean()  # type: ignore[arg-type]

        def objective(differentiable: bool) -> tuple[torch.Tensor, torch.Tensor]:
            with torch.set_grad_enabled(differentiable):  # the line search needs values only
                return surrogate_and_kl()

        return trust_region_step(params, objective, max_kl=cfg.max_kl, cg_iters=cfg.cg_iters,
                                 cg_damping=cfg.cg_damping, line_search_steps=cfg.line_search_steps,
                                 line_search_shrink=cfg.line_search_shrink)

    def fit_value(self, obs: torch.Tensor, returns: torch.Tensor, stats: UpdateStats) -> None:
        cfg = self.config
        for _ in range(cfg.critic_epochs):
            for mb_obs, mb_returns in self.minibatches((obs, returns), cfg.critic_batch_size):
                loss = value_loss(self.policy.value(mb_obs), mb_returns)
                self.step(self.critic_optimizer, loss)
                stats.add({"loss/value": loss})

    def update(self) -> UpdateStats:
        cfg = self.config
        self.scheduled_lr(cfg.critic_lr, self.critic_optimizer)
        data = self.rollout_batch()
        obs, actions = self.tensor(data.obs), self.tensor(data.actions)
        advantages = self.tensor(data.advantages)
        if cfg.normalize_advantage:
            advantages = normalize_advantages(advantages)
        info = self.policy_step(obs, actions, advantages)
        stats = UpdateStats({"loss/surrogate": info["surrogate"], "Fisher quadratic form sᵀFs": info["quadratic form"],
                             "train/kl": info["kl"], "train/improvement": info["improvement"],
                             "train/step_fraction": info["step_fraction"], "train/accepted": info["accepted"]})
        self.fit_value(obs, self.tensor(data.returns), stats)
        return stats
