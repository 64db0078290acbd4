"""Advantage Actor-Critic: the synchronous variant of A3C (Mnih et al. 2016, Algorithm S3).

    repeat:
        run the policy in N parallel envs for t_max = n_steps steps
        R = V(s_{t_max}) if not terminal else 0                         (bootstrap; truncations too)
        for i = t_max − 1 … 0:  R ← r_i + γR,  Â_i = R − V(s_i)
        dθ  = Σ_i ∇ log π(a_i|s_i) Â_i + β ∇H[π(·|s_i)]                    (policy, entropy bonus)
        dθv = Σ_i ∇ (R − V(s_i))²                                          (critic)
        one RMSProp (or Adam) step on the mean over the N·t_max samples, gradient norm clipped

Here the n-step return is GAE with ``gae_lambda = 1`` (identical); ``gae_lambda < 1`` gives
GAE(λ) advantages (rl-zoo3 uses it for some envs). The synchronous form replaces A3C's
asynchronous workers with one batched update over parallel envs, which on one machine is at least
as sample-efficient and much faster (Wu et al.'s ACKTR paper, OpenAI baselines). Defaults follow
SB3/baselines: RMSProp with α 0.99, ε 1e-5, lr 7e-4, 5 steps, value coefficient 0.5, gradient
norm 0.5, no advantage normalization. RMSProp here is PyTorch's (ε outside the square root), as
SB3's default; TensorFlow's variant differs slightly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from rlsuite.constraints import at_least_one, finite, non_negative, one_of, positive, probability
from rlsuite.onpolicy import OnPolicyAgent, OnPolicyConfig


def a2c_loss(log_probs: torch.Tensor, entropy: torch.Tensor, values: torch.Tensor, advantages: torch.Tensor,
             returns: torch.Tensor, ent_coef: float, vf_coef: float) -> tuple[torch.Tensor, ...]:
    """``(total, policy, value)`` losses: −E[log π · Â] + c_vf·E[(V − R)²] − c_ent·E[H]."""
    policy_loss = -(log_probs * advantages).mean()
    value_loss = (values - returns).pow(2).mean()
    total = policy_loss + vf_coef * value_loss
    if ent_coef != 0.0:
        total = total - ent_coef * entropy.mean()
    return total, policy_loss, value_loss


@dataclass
class A2CConfig(OnPolicyConfig):
    n_envs: int = field(default=8, metadata=at_least_one)
    n_steps: int = field(default=5, metadata=at_least_one)
    lr: float = field(default=7e-4, metadata=positive)
    gae_lambda: float = field(default=1.0, metadata=probability)
    ent_coef: float = field(default=0.0, metadata=finite)
    vf_coef: float = field(default=0.5, metadata=non_negative)
    normalize_advantage: bool = False
    optimizer: str = field(default="rmsprop", metadata=one_of("rmsprop", "adam"))
    rms_alpha: float = field(default=0.99, metadata=probability)  # RMSProp's smoothing constant


class A2C(OnPolicyAgent):
    """Synchronous n-step advantage actor-critic over parallel envs, RMSProp or Adam."""

    name = "a2c"
    description = "A2C (synchronous A3C, Mnih et al. 2016): n-step advantage actor-critic, RMSProp/Adam"
    Config = A2CConfig
    supports_recurrent = True

    def setup_optimizers(self) -> None:
        cfg = self.config
        self.params = list(self.policy.parameters())
        if cfg.optimizer == "rmsprop":
            self.optimizer = self.rmsprop(self.params, cfg.lr, alpha=cfg.rms_alpha, eps=cfg.optimizer_eps)
        else:  # adam (the config's choices)
            self.optimizer = self.adam(self.params, cfg.lr)

    def update(self) -> None:
        cfg = self.config
        lr = self.scheduled_lr(cfg.lr, self.optimizer)
        data = self.rollout_batch()
        advantages, returns = self.tensor(data.advantages), self.tensor(data.returns)
        if cfg.normalize_advantage and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        log_probs, entropy, values = self.policy.sequence(self.tensor(data.obs), self.tensor(data.actions),
                                                          *self.rollout_sequences())
        loss, policy_loss, value_loss = a2c_loss(log_probs, entropy, values, advantages, returns, cfg.ent_coef,
                                                 cfg.vf_coef)
        grad_norm = self.gradient_step(self.optimizer, loss, cfg.max_grad_norm)
        self.nonfinite.add("loss/policy", policy_loss)
        self.nonfinite.add("loss/value", value_loss)
        self.nonfinite.add("grad norm", grad_norm)
        self.nonfinite.check(self.steps, self.updates)
        if self.updates % 20 == 0:  # item() syncs are cheap on CPU, but not free at 5-step rollouts
            self.logger.record({"loss/policy": policy_loss.item(), "loss/value": value_loss.item(),
                                "loss/entropy": entropy.mean().item(), "train/lr": lr})
