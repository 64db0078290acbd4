"""rlsuite.losses: every loss checked on tiny inputs computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rlsuite.losses import (
    actor_critic_loss,
    approx_kl,
    c51_cross_entropy,
    clipped_surrogate,
    clipped_surrogate_loss,
    critic_regression_loss,
    deterministic_policy_loss,
    discrete_soft_policy_loss,
    elementwise_td_loss,
    entropy_bonus,
    masked_mean,
    normalize_advantages,
    policy_gradient_loss,
    soft_policy_loss,
    td_loss,
    temperature_loss,
    value_loss,
)


# ----------------------------------------------------------------------------- PPO's clipped surrogate
@pytest.mark.parametrize("ratio, adv, expected", [
    (1.5, -1.0, -1.5),  # Â < 0, r above 1 + ε: the unclipped product is the min, the full penalty stays
    (0.5, -1.0, -0.8),  # Â < 0, r below 1 − ε: clip(0.5) = 0.8, 0.8·(−1) = −0.8 < −0.5
    (1.5, 1.0, 1.2),  # Â > 0, r above 1 + ε: clip(1.5) = 1.2 caps the gain
    (0.5, 1.0, 0.5),  # Â > 0, r below 1 − ε: the unclipped product is the min
    (1.1, 2.0, 2.2),  # inside the clip range: plain r·Â
])
def test_clipped_surrogate_sign_cases(ratio, adv, expected):
    out = clipped_surrogate(torch.tensor([ratio]), torch.tensor([adv]), 0.2)
    assert out.item() == pytest.approx(expected)
    assert clipped_surrogate_loss(torch.tensor([ratio]), torch.tensor([adv]), 0.2).item() == pytest.approx(-expected)


def test_clipped_surrogate_gradient_vanishes_where_clipping_binds():
    ratio = torch.tensor([1.5, 0.5, 1.1, 0.5, 1.5], requires_grad=True)
    adv = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0])
    clipped_surrogate(ratio, adv, 0.2).sum().backward()
    # clipped (Â > 0, r > 1 + ε; Â < 0, r < 1 − ε): 0; otherwise ∂(r·Â)/∂r = Â
    np.testing.assert_allclose(ratio.grad.numpy(), [0.0, 0.0, 1.0, 1.0, -1.0])


def test_clipped_surrogate_loss_with_a_mask_averages_the_unmasked_entries():
    ratio, adv = torch.tensor([1.0, 1.5, 1.0]), torch.tensor([2.0, 1.0, 4.0])
    mask = torch.tensor([1.0, 1.0, 0.0])
    assert clipped_surrogate_loss(ratio, adv, 0.2, mask).item() == pytest.approx(-(2.0 + 1.2) / 2)


# ----------------------------------------------------------------------------- value losses
def test_value_loss_plain_and_clipped():
    values, old, returns = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0])
    assert value_loss(values, returns).item() == pytest.approx((1.0 + 1.0) / 2)
    # clip 0.5: V = 2 becomes 0.5 → error 0.25 < 1 (the max keeps 1); V = 0 unchanged → 1
    assert value_loss(values, returns, old, 0.5).item() == pytest.approx(1.0)
    values = torch.tensor([0.2, 3.0])  # 0.2 within the clip: 0.64 both; 3.0 → 0.5: max(4, 0.25) = 4
    assert value_loss(values, returns, old, 0.5).item() == pytest.approx((0.64 + 4.0) / 2)
    with pytest.raises(ValueError, match="old_values"):
        value_loss(values, returns, None, 0.5)


def test_value_loss_with_a_mask():
    values, returns, mask = torch.tensor([1.0, 3.0, 9.0]), torch.tensor([0.0, 1.0, 0.0]), torch.tensor([1.0, 1.0, 0.0])
    assert value_loss(values, returns, mask=mask).item() == pytest.approx((1.0 + 4.0) / 2)
    assert masked_mean(values, torch.zeros(3)).item() == 0.0  # nothing counted: 0, not NaN


# ----------------------------------------------------------------------------- advantages
def test_normalize_advantages_by_hand():
    adv = torch.tensor([1.0, 2.0, 3.0])  # mean 2, unbiased std 1
    torch.testing.assert_close(normalize_advantages(adv, eps=0.0), torch.tensor([-1.0, 0.0, 1.0]))
    single = torch.tensor([5.0])
    assert normalize_advantages(single) is single  # one sample: no std to divide by
    # masked: mean and population std over the entries that count (1 and 3: mean 2, std 1)
    masked = normalize_advantages(torch.tensor([1.0, 3.0, 100.0]), torch.tensor([1.0, 1.0, 0.0]), eps=0.0)
    torch.testing.assert_close(masked[:2], torch.tensor([-1.0, 1.0]))


# ----------------------------------------------------------------------------- policy gradient, A2C/A3C
def test_policy_gradient_loss_and_entropy_bonus():
    log_probs = torch.tensor([math.log(0.5), math.log(0.25)], requires_grad=True)
    adv = torch.tensor([2.0, -1.0])
    loss = policy_gradient_loss(log_probs, adv)
    assert loss.item() == pytest.approx(-(math.log(0.5) * 2 - math.log(0.25)) / 2)
    loss.backward()
    np.testing.assert_allclose(log_probs.grad.numpy(), [-1.0, 0.5])  # −Â_i / n
    assert entropy_bonus(torch.tensor([1.0, 2.0])).item() == pytest.approx(1.5)


def test_actor_critic_loss_by_hand_with_constant_targets():
    log_probs = torch.tensor([math.log(0.5), math.log(0.25)], requires_grad=True)
    values = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = actor_critic_loss(log_probs, torch.tensor([1.0, 2.0]), values, torch.tensor([2.0, -1.0]),
                             torch.tensor([3.0, 0.0]), ent_coef=0.1, vf_coef=0.5)
    policy = -(math.log(0.5) * 2 - math.log(0.25)) / 2
    assert loss.policy.item() == pytest.approx(policy)
    assert loss.value.item() == pytest.approx(4.0)  # ((1 − 3)² + (2 − 0)²) / 2
    assert loss.entropy.item() == pytest.approx(1.5)
    assert loss.total.item() == pytest.approx(policy + 0.5 * 4.0 - 0.1 * 1.5)
    loss.total.backward()
    np.testing.assert_allclose(values.grad.numpy(), [-1.0, 1.0])  # c_v · 2 (V − R) / n


def test_approx_kl_is_zero_at_ratio_one_and_positive_elsewhere():
    log_ratio = torch.tensor([0.0, 0.0])
    assert approx_kl(log_ratio.exp(), log_ratio).item() == 0.0
    log_ratio = torch.tensor([math.log(2.0)])
    assert approx_kl(log_ratio.exp(), log_ratio).item() == pytest.approx(1.0 - math.log(2.0))


# ----------------------------------------------------------------------------- TD and C51
def test_td_loss_huber_mse_and_importance_weights():
    td = torch.tensor([0.5, -2.0, 3.0])
    torch.testing.assert_close(elementwise_td_loss(td, "huber"), torch.tensor([0.125, 1.5, 2.5]))
    torch.testing.assert_close(elementwise_td_loss(td, "mse"), torch.tensor([0.25, 4.0, 9.0]))
    assert td_loss(td, "huber").item() == pytest.approx((0.125 + 1.5 + 2.5) / 3)
    weights = torch.tensor([1.0, 0.5, 0.0])  # a zero weight removes the sample, the mean still divides by 3
    assert td_loss(td, "mse", weights).item() == pytest.approx((0.25 + 2.0) / 3)
    with pytest.raises(ValueError, match="accepted: huber, mse"):
        elementwise_td_loss(td, "l1")


def test_c51_cross_entropy_by_hand():
    target = torch.tensor([[0.25, 0.75, 0.0]])
    log_probs = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))
    expected = -(0.25 * math.log(0.5) + 0.75 * math.log(0.25))
    assert c51_cross_entropy(log_probs, target).item() == pytest.approx(expected)


# ----------------------------------------------------------------------------- DDPG / SAC
def test_critic_regression_sums_over_critics_and_averages_over_the_batch():
    q = torch.tensor([[1.0, 2.0], [0.0, 0.0]])  # two critics, batch of two
    y = torch.tensor([0.0, 0.0])
    assert critic_regression_loss(q, y).item() == pytest.approx((1.0 + 4.0) / 2 + 0.0)


def test_deterministic_policy_loss_ascends_q():
    a = torch.tensor([0.3], requires_grad=True)
    deterministic_policy_loss(-(a - 1.0) ** 2).backward()  # Q(a) = −(a − 1)²: maximised at 1
    assert a.grad.item() == pytest.approx(2 * (0.3 - 1.0))  # descending the loss moves a towards 1


def test_soft_policy_losses_by_hand():
    alpha = torch.tensor(0.5)
    assert soft_policy_loss(torch.tensor([-1.0, -3.0]), torch.tensor([2.0, 0.0]), alpha).item() == \
        pytest.approx(((0.5 * -1.0 - 2.0) + (0.5 * -3.0 - 0.0)) / 2)
    log_probs = torch.log(torch.tensor([[0.5, 0.5]]))
    min_q = torch.tensor([[1.0, 3.0]])
    expected = 0.5 * (0.5 * math.log(0.5) - 1.0) + 0.5 * (0.5 * math.log(0.5) - 3.0)
    assert discrete_soft_policy_loss(log_probs, min_q, alpha).item() == pytest.approx(expected)


def test_temperature_loss_raises_alpha_when_entropy_is_below_target():
    log_alpha = torch.tensor(0.0, requires_grad=True)
    temperature_loss(log_alpha, torch.tensor([0.5, 1.5]), target_entropy=2.0).backward()
    assert log_alpha.grad.item() == pytest.approx(1.0 - 2.0)  # negative gradient: descent raises log α
