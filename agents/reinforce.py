"""REINFORCE with a learned state-value baseline (Williams 1992; Sutton & Barto 2018, section 13.4).

    repeat:
        generate whole episodes S_0, A_0, R_1, …, S_T with π_θ                (batch_episodes of them)
        for each step t:  G_t = Σ_{k≥0} γ^k R_{t+k+1}                           (Monte-Carlo reward-to-go)
                          δ_t = G_t − V_w(S_t)
        θ ← θ + α_θ · mean_t[ δ_t ∇ log π_θ(A_t|S_t) ]                          (one Adam step)
        w ← w − α_w · ∇ mean_t[ (G_t − V_w(S_t))² ]                               (n_value_epochs Adam steps)

The baseline does not bias the gradient (E[b(S)∇log π(A|S)] = 0) but lowers its variance
(tests/test_onpolicy_math.py checks both on a bandit by Monte Carlo).

Batches: collection stops once ``batch_episodes`` episodes have finished (or after ``n_steps``
steps per env, a safety cap). With the default ``n_envs = 1`` every batch is whole episodes, as in
the textbook algorithm. With ``n_envs > 1`` the other envs' episodes in flight are cut at the batch
end and their tails bootstrap from V (a time-limit-style truncation; the next batch continues
them). Time-limit truncations also bootstrap from V(final obs), so the return of a CartPole episode
cut at 500 steps is not treated as if the pole fell. Deviations from the textbook, both common
practice: the gradient is averaged over the batch's steps (not summed) and Adam replaces plain SGD;
``normalize_advantage`` (off by default) standardizes δ per batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from rlsuite.constraints import at_least_one, finite, positive, probability
from rlsuite.onpolicy import OnPolicyAgent, OnPolicyConfig


def reward_to_go(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """``G_t = r_t + γ G_{t+1}`` over one episode (1-D). A readable reference (the tests check GAE with
    λ = 1 against it); the agent itself gets G_t from the Numba GAE kernel over the whole batch."""
    out = torch.empty_like(rewards)
    running = torch.zeros((), dtype=rewards.dtype)
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


@dataclass
class ReinforceConfig(OnPolicyConfig):
    n_envs: int = field(default=1, metadata=at_least_one)
    # per-env cap on a batch; batches normally end on batch_episodes
    n_steps: int = field(default=10_000, metadata=at_least_one)
    batch_episodes: int = field(default=8, metadata=at_least_one)
    lr: float = field(default=1e-3, metadata=positive)
    critic_lr: float = field(default=1e-3, metadata=positive)
    n_value_epochs: int = field(default=5, metadata=at_least_one)
    gae_lambda: float = field(default=1.0, metadata=probability)  # λ = 1: advantages are exactly G_t − V(S_t)
    normalize_advantage: bool = False
    ent_coef: float = field(default=0.0, metadata=finite)


class Reinforce(OnPolicyAgent):
    """Monte-Carlo policy gradient over whole-episode batches with a learned V baseline."""

    name = "reinforce"
    description = "REINFORCE with a learned state-value baseline (Monte-Carlo reward-to-go, whole episodes)"
    Config = ReinforceConfig
    persistent = ("policy", "optimizer", "critic_optimizer", "obs_normalizer", "reward_normalizer")

    def setup_optimizers(self) -> None:
        cfg = self.config
        self.policy.shared = False  # the baseline must not move the policy: keep separate trunks
        if self.policy.critic_trunk is None:
            from rlsuite.errors import ConfigError

            raise ConfigError("reinforce needs separate policy and baseline networks (agent.shared=false)")
        self.actor_params = list(self.policy.actor_trunk.parameters()) + list(self.policy.actor_head.parameters())
        if self.policy.log_std is not None:
            self.actor_params.append(self.policy.log_std)
        self.critic_params = list(self.policy.critic_trunk.parameters()) + list(self.policy.critic_head.parameters())
        self.optimizer = self.adam(self.actor_params, cfg.lr)
        self.critic_optimizer = self.adam(self.critic_params, cfg.critic_lr)

    def rollout_done(self, step: int, episodes_finished: int) -> bool:
        return episodes_finished >= self.config.batch_episodes or step + 1 >= self.config.n_steps

    def update(self) -> None:
        cfg = self.config
        lr = self.scheduled_lr(cfg.lr, self.optimizer)
        self.scheduled_lr(cfg.critic_lr, self.critic_optimizer)
        data = self.rollout_batch()
        obs, returns = self.tensor(data.obs), self.tensor(data.returns)
        advantages = self.tensor(data.advantages)  # G_t − V(S_t) with V from collection time
        if cfg.normalize_advantage and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

        dist = self.policy.distribution(obs)
        policy_loss = -(dist.log_prob(self.tensor(data.actions)) * advantages).mean()
        if cfg.ent_coef != 0.0:
            policy_loss = policy_loss - cfg.ent_coef * dist.entropy().mean()
        self.nonfinite.add("loss/policy", policy_loss)
        self.nonfinite.add("grad norm (actor)", self.gradient_step(self.optimizer, policy_loss, cfg.max_grad_norm))

        for _ in range(cfg.n_value_epochs):
            value_loss = (self.policy.value(obs) - returns).pow(2).mean()
            self.nonfinite.add("loss/value", value_loss)
            critic_grad_norm = self.gradient_step(self.critic_optimizer, value_loss, cfg.max_grad_norm)
            self.nonfinite.add("grad norm (critic)", critic_grad_norm)
        self.nonfinite.check(self.steps, self.updates)
        self.logger.record({"loss/policy": policy_loss.item(), "loss/value": value_loss.item(), "train/lr": lr,
                            "train/batch_steps": len(returns)})
