"""Loss functions of the built-in agents: pure functions of tensors, one definition each.

Every function maps tensors to a tensor and touches no agent state; what an agent minimizes is
spelled out in its module by composing these. Notation: π the policy, V the value function, Â the
advantage estimates, R the value targets (returns), r = π(a|s) / π_old(a|s) the probability ratio,
Q a critic, δ = y − Q(s, a) a TD error, ``E`` the mean over the batch (or, given ``mask``, over the
entries where the mask is 1).

* on-policy: :func:`normalize_advantages`, :func:`policy_gradient_loss`,
  :func:`clipped_surrogate`/:func:`clipped_surrogate_loss`, :func:`value_loss`,
  :func:`entropy_bonus`, :func:`actor_critic_loss` (A2C and A3C), :func:`approx_kl`;
* value-based: :func:`td_loss` (Huber or squared, importance weights), :func:`c51_cross_entropy`;
* actor-critic for continuous control: :func:`critic_regression_loss`,
  :func:`deterministic_policy_loss` (DDPG/TD3), :func:`soft_policy_loss`,
  :func:`discrete_soft_policy_loss`, :func:`temperature_loss` (SAC).

Targets (n-step TD targets, the C51 projection, soft Q targets) stay next to the agents that use
them; these functions take them as inputs.
"""

from __future__ import annotations

from typing import NamedTuple, cast

import torch
from torch.nn import functional as F

__all__ = [
    "ActorCriticLoss", "actor_critic_loss", "approx_kl", "c51_cross_entropy", "clipped_surrogate",
    "clipped_surrogate_loss", "critic_regression_loss", "deterministic_policy_loss", "discrete_soft_policy_loss",
    "elementwise_td_loss", "entropy_bonus", "masked_mean", "normalize_advantages", "policy_gradient_loss",
    "soft_policy_loss", "td_loss", "temperature_loss", "value_loss",
]


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``E[x]``; with ``mask`` (1 where an entry counts, 0 where not): ``Σ x·m / max(Σ m, 1)``."""
    if mask is None:
        return x.mean()
    return (x * mask).sum() / mask.sum().clamp(min=1)


# ----------------------------------------------------------------------------- on-policy
def normalize_advantages(advantages: torch.Tensor, mask: torch.Tensor | None = None,
                         eps: float = 1e-8) -> torch.Tensor:
    """``(Â − mean Â) / (std Â + eps)``; a single advantage is returned as it is. The std is the
    unbiased one without ``mask`` (as SB3), the population one over the masked entries with it."""
    if mask is None:
        if advantages.numel() <= 1:
            return advantages
        return (advantages - advantages.mean()) / (advantages.std() + eps)
    count = mask.sum()
    mean = (advantages * mask).sum() / count
    std = (((advantages - mean) ** 2 * mask).sum() / count).sqrt()
    return (advantages - mean) / (std + eps)


def policy_gradient_loss(log_probs: torch.Tensor, advantages: torch.Tensor,
                         mask: torch.Tensor | None = None) -> torch.Tensor:
    """``−E[log π(a|s) · Â]`` (REINFORCE, A2C): its gradient is the policy-gradient estimate."""
    return -masked_mean(log_probs * advantages, mask)


def clipped_surrogate(ratio: torch.Tensor, advantages: torch.Tensor, clip_range: float | torch.Tensor
                      ) -> torch.Tensor:
    """Per sample ``min(r·Â, clip(r, 1 − ε, 1 + ε)·Â)`` (to be maximized): for Â > 0 the gain stops
    at r = 1 + ε, for Â < 0 at r = 1 − ε, and the gradient is zero beyond. ``clip_range`` may be a
    0-d tensor (a compiled step takes the annealed ε as one, so a new value does not recompile)."""
    # torch.clamp takes both bound types; its stubs declare them as separate overloads
    low, high = cast(torch.Tensor, 1.0 - clip_range), cast(torch.Tensor, 1.0 + clip_range)
    return torch.min(ratio * advantages, ratio.clamp(low, high) * advantages)


def clipped_surrogate_loss(ratio: torch.Tensor, advantages: torch.Tensor, clip_range: float | torch.Tensor,
                           mask: torch.Tensor | None = None) -> torch.Tensor:
    """PPO's ``−E[min(r·Â, clip(r, 1 − ε, 1 + ε)·Â)]`` (Schulman et al. 2017, eq. 7), to minimize."""
    return -masked_mean(clipped_surrogate(ratio, advantages, clip_range), mask)


def value_loss(values: torch.Tensor, returns: torch.Tensor, old_values: torch.Tensor | None = None,
               clip_range: float | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``E[(V(s) − R)²]``. With ``clip_range`` c (PPO's value clipping, baselines' form):
    ``E[max((V − R)², (V_old + clip(V − V_old, −c, c) − R)²)]``."""
    if clip_range is None:
        if mask is None:
            return F.mse_loss(values, returns)
        return masked_mean((values - returns) ** 2, mask)
    if old_values is None:
        raise ValueError("value clipping needs the rollout's values (old_values)")
    clipped = old_values + (values - old_values).clamp(-clip_range, clip_range)
    return masked_mean(torch.max((values - returns).pow(2), (clipped - returns).pow(2)), mask)


def entropy_bonus(entropy: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``E[H[π(·|s)]]``, the bonus an agent adds to its objective (subtracts from its loss)."""
    return masked_mean(entropy, mask)


def approx_kl(ratio: torch.Tensor, log_ratio: torch.Tensor) -> torch.Tensor:
    """``E[(r − 1) − log r]``: an unbiased, non-negative estimate of KL(π_old ‖ π) from samples of π_old."""
    return ((ratio - 1) - log_ratio).mean()


class ActorCriticLoss(NamedTuple):
    """The total loss and its parts (the parts for logging and the non-finite guard)."""

    total: torch.Tensor
    policy: torch.Tensor
    value: torch.Tensor
    entropy: torch.Tensor


def actor_critic_loss(log_probs: torch.Tensor, entropy: torch.Tensor, values: torch.Tensor,
                      advantages: torch.Tensor, returns: torch.Tensor, ent_coef: float,
                      vf_coef: float) -> ActorCriticLoss:
    """A2C/A3C (Mnih et al. 2016): ``−E[log π · Â] + c_vf·E[(V − R)²] − c_ent·E[H]``, Â and R constant."""
    policy = policy_gradient_loss(log_probs, advantages)
    value = (values - returns).pow(2).mean()
    entropy_mean = entropy_bonus(entropy)
    total = policy + vf_coef * value
    if ent_coef != 0.0:
        total = total - ent_coef * entropy_mean
    return ActorCriticLoss(total, policy, value, entropy_mean)


# ----------------------------------------------------------------------------- value-based
def elementwise_td_loss(td_error: torch.Tensor, kind: str = "huber") -> torch.Tensor:
    """Per sample ℓ(δ): the Huber loss with threshold 1 (the Nature DQN's error clipping:
    ``½δ²`` for ``|δ| ≤ 1``, ``|δ| − ½`` beyond) or ``δ²`` (``kind="mse"``)."""
    if kind == "huber":
        return F.smooth_l1_loss(td_error, torch.zeros_like(td_error), reduction="none")
    if kind == "mse":
        return td_error.square()
    raise ValueError(f"unknown TD loss '{kind}' (accepted: huber, mse)")


def td_loss(td_error: torch.Tensor, kind: str = "huber", weights: torch.Tensor | None = None) -> torch.Tensor:
    """``E[w · ℓ(δ)]`` with ℓ of :func:`elementwise_td_loss` and w the importance weights of
    prioritized replay (1 without)."""
    per_sample = elementwise_td_loss(td_error, kind)
    return per_sample.mean() if weights is None else (weights * per_sample).mean()


def c51_cross_entropy(log_probs: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Per sample ``−Σ_i m_i log p_i(s, a)``: the cross-entropy of the predicted atom
    probabilities ``p`` against the projected target distribution ``m`` (Bellemare et al. 2017)."""
    return -(target_probs * log_probs).sum(dim=-1)


# ----------------------------------------------------------------------------- continuous control
def critic_regression_loss(q: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``Σ_i E[(Q_i(s, a) − y)²]`` over the critics stacked in ``q``'s first dim (one for DDPG, two
    for TD3/SAC), each regressed onto the same target y."""
    return (q - targets).pow(2).mean(dim=1).sum()


def deterministic_policy_loss(q: torch.Tensor) -> torch.Tensor:
    """DDPG's actor loss ``−E[Q(s, μ(s))]`` (Silver et al. 2014): descending it follows ∇_a Q · ∇_θ μ."""
    return -q.mean()


def soft_policy_loss(log_prob: torch.Tensor, min_q: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """SAC's ``E[α log π(ã|s) − min_i Q_i(s, ã)]`` with ã reparametrised (Haarnoja et al. 2018)."""
    return (alpha * log_prob - min_q).mean()


def discrete_soft_policy_loss(log_probs: torch.Tensor, min_q: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Discrete SAC's ``E_s[Σ_a π(a|s) (α log π(a|s) − min_i Q_i(s, a))]`` (Christodoulou 2019)."""
    return (log_probs.exp() * (alpha * log_probs - min_q)).sum(dim=-1).mean()


def temperature_loss(log_alpha: torch.Tensor, entropy: torch.Tensor, target_entropy: float) -> torch.Tensor:
    """``E[log α · (H − H̄)]`` with the entropy held fixed: descending it raises α when the
    policy's entropy is below the target H̄ and lowers it when above."""
    return (log_alpha * (entropy.detach() - target_entropy)).mean()
