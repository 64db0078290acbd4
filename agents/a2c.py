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

from rlsuite.constraints import at_least_one, finite, non_negative, one_of, positive, probability
from rlsuite.losses import actor_critic_loss, normalize_advantages
from rlsuite.onpolicy import OnPolicyAgent, OnPolicyConfig
from rlsuite.update import UpdateStats


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
    log_interval: int = field(default=20, metadata=at_least_one)  # updates between loss records (averaged over them)


class A2C(OnPolicyAgent[A2CConfig]):
    """Synchronous n-step advantage actor-critic over parallel envs, RMSProp or Adam."""

    name = "a2c"
    description = "A2C (synchronous A3C, Mnih et al. 2016): n-step advantage actor-critic, RMSProp/Adam"
    Config = A2CConfig
    supports_recurrent = True

    def setup_optimizers(self) -> None:
        cfg = self.config
        if cfg.optimizer == "rmsprop":
            self.optimizer = self.optimizers.rmsprop(self.policy.parameters(), cfg.lr, alpha=cfg.rms_alpha,
                                                     eps=cfg.optimizer_eps)
        else:  # adam (the config's choices)
            self.optimizer = self.optimizers.adam(self.policy.parameters(), cfg.lr, eps=cfg.optimizer_eps)

    def update(self) -> UpdateStats:
        cfg = self.config
        lr = self.scheduled_lr(cfg.lr, self.optimizer)
        data = self.rollout_batch()
        advantages, returns = self.tensor(data.advantages), self.tensor(data.returns)
        if cfg.normalize_advantage:
            advantages = normalize_advantages(advantages)
        log_probs, entropy, values = self.policy.sequence(self.tensor(data.obs), self.tensor(data.actions),
                                                          *self.rollout_sequences())
        loss = actor_critic_loss(log_probs, entropy, values, advantages, returns, cfg.ent_coef, cfg.vf_coef)
        grad_norm = self.step(self.optimizer, loss.total, cfg.max_grad_norm)
        return UpdateStats({"loss/policy": loss.policy, "loss/value": loss.value, "grad norm": grad_norm,
                            "loss/entropy": loss.entropy, "train/lr": lr})
