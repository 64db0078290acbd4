"""REINFORCE with a learned state-value baseline (Williams 1992; Sutton & Barto 2018, section 13.4).

    repeat:
        generate whole episodes S_0, A_0, R_1, …, S_T with π_θ                (batch_episodes of them)
        for each step t:  G_t = Σ_{k≥0} γ^k R_{t+k+1}                           (Monte-Carlo reward-to-go)
                          δ_t = G_t − V_w(S_t)
        θ ← θ + α_θ · mean_t[ δ_t ∇ log π_θ(A_t|S_t) ]                          (one Adam step)
        w ← w − α_w · ∇ mean_t[ (G_t − V_w(S_t))² ]                               (critic_epochs Adam steps)

The baseline does not bias the gradient (E[b(S)∇log π(A|S)] = 0) but lowers its variance
(tests/test_onpolicy_math.py checks both on a bandit by Monte Carlo).

``baseline=ema`` replaces V by Zoph & Le's (2017) exponential moving average of past episode
returns, ``b ← d·b + (1 − d)·G_0`` per finished episode in order (``baseline_decay`` d = 0.95 as in
NASNet), started at the first batch's mean; the batch's advantages use b from before the batch
(a constant with respect to the batch's actions, so the gradient stays unbiased). The value
network is then neither trained nor used. ``net.recurrent=lstm`` gives a recurrent policy
(:mod:`rlsuite.recurrent_policy`: the NAS controller, or ``net.recurrent_kind=memory`` for partially
observed tasks); ``ent_coef`` adds an entropy bonus.

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

import numpy as np
import torch

from rlsuite.constraints import at_least_one, finite, one_of, positive, probability
from rlsuite.errors import ConfigError
from rlsuite.losses import entropy_bonus, normalize_advantages, policy_gradient_loss, value_loss
from rlsuite.onpolicy import OnPolicyAgent, OnPolicyConfig
from rlsuite.update import UpdateStats


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
    critic_epochs: int = field(default=5, metadata=at_least_one)  # passes of the baseline over the batch
    gae_lambda: float = field(default=1.0, metadata=probability)  # λ = 1: advantages are exactly G_t − V(S_t)
    normalize_advantage: bool = False
    ent_coef: float = field(default=0.0, metadata=finite)
    baseline: str = field(default="value", metadata=one_of("value", "ema"))  # learned V(s) or an EMA of returns
    # baseline=ema: the EMA's decay d in b ← d·b + (1 − d)·G_0, once per finished episode
    baseline_decay: float = field(default=0.95, metadata=probability)


class Reinforce(OnPolicyAgent[ReinforceConfig]):
    """Monte-Carlo policy gradient over whole-episode batches with a learned V baseline."""

    name = "reinforce"
    description = "REINFORCE with a learned state-value baseline (Monte-Carlo reward-to-go, whole episodes)"
    Config = ReinforceConfig
    persistent = ("policy", "optimizer", "critic_optimizer", "obs_normalizer", "reward_normalizer", "ema_baseline")
    supports_recurrent = True

    def setup_optimizers(self) -> None:
        cfg = self.config
        self.policy.shared = False  # the baseline must not move the policy: keep separate trunks
        if self.policy.critic_trunk is None:
            raise ConfigError("reinforce needs separate policy and baseline networks (agent.net.shared=false)")
        self.actor_params = self.policy.actor_parameters()
        self.critic_params = self.policy.critic_parameters()
        self.optimizer = self.optimizers.adam(self.actor_params, cfg.lr, eps=cfg.optimizer_eps)
        self.critic_optimizer = self.optimizers.adam(self.critic_params, cfg.critic_lr, eps=cfg.optimizer_eps)
        # [b, whether b has been started]; and which envs begin an episode at the next rollout's first step
        self.ema_baseline = np.zeros(2, np.float64)
        self.starts_next = np.ones(cfg.n_envs, np.bool_)

    def on_segment_start(self) -> None:
        super().on_segment_start()
        self.starts_next = np.ones(self.config.n_envs, np.bool_)

    def ema_advantages(self, returns: np.ndarray) -> np.ndarray:
        """``G_t − b`` with b from before this batch; then b takes in each episode's return G_0 in order."""
        T = self.buffer.pos
        ended = self.buffer.terminated[:T] | self.buffer.truncated[:T]
        starts = np.zeros_like(ended)
        starts[0], starts[1:] = self.starts_next, ended[:-1]
        self.starts_next = ended[-1].copy()
        episode_returns = returns.reshape(T, -1)[starts]  # row-major: time order
        if not self.ema_baseline[1] and len(episode_returns):
            self.ema_baseline[:] = (float(episode_returns.mean()), 1.0)
        advantages = (returns - self.ema_baseline[0]).astype(np.float32)
        decay = self.config.baseline_decay
        for g in episode_returns:
            self.ema_baseline[0] = decay * self.ema_baseline[0] + (1.0 - decay) * float(g)
        return advantages

    def rollout_done(self, step: int, episodes_finished: int) -> bool:
        return episodes_finished >= self.config.batch_episodes or step + 1 >= self.config.n_steps

    def update(self) -> UpdateStats:
        cfg = self.config
        lr = self.scheduled_lr(cfg.lr, self.optimizer)
        self.scheduled_lr(cfg.critic_lr, self.critic_optimizer)
        data = self.rollout_batch()
        obs, actions, returns = self.tensor(data.obs), self.tensor(data.actions), self.tensor(data.returns)
        sequences = self.rollout_sequences()  # (None, None) for a feed-forward policy
        if cfg.baseline == "ema":
            advantages = self.tensor(self.ema_advantages(data.returns))
        else:
            advantages = self.tensor(data.advantages)  # G_t − V(S_t) with V from collection time
        if cfg.normalize_advantage:
            advantages = normalize_advantages(advantages)

        log_probs, entropy, _ = self.policy.sequence(obs, actions, *sequences)
        policy_loss = policy_gradient_loss(log_probs, advantages)
        if cfg.ent_coef != 0.0:
            policy_loss = policy_loss - cfg.ent_coef * entropy_bonus(entropy)
        stats = UpdateStats({"loss/policy": policy_loss, "train/lr": lr, "train/batch_steps": len(returns),
                             "train/baseline": float(self.ema_baseline[0])})
        stats.add({"grad norm (actor)": self.step(self.optimizer, policy_loss, cfg.max_grad_norm)})
        for _ in range(cfg.critic_epochs if cfg.baseline == "value" else 0):
            critic_loss = value_loss(self.policy.sequence(obs, actions, *sequences)[2], returns)
            stats.add({"loss/value": critic_loss,
                       "grad norm (critic)": self.step(self.critic_optimizer, critic_loss, cfg.max_grad_norm)})
        return stats
