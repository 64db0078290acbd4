"""Policy distributions and the actor-critic network: exact math against torch.distributions and
numerical checks, shapes on every supported space, the functional (MAML) path, initialisation."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import distributions as D

from rlsuite.policies import (
    ActorCritic,
    Categorical,
    DiagGaussian,
    MultiCategorical,
    SquashedDiagGaussian,
)

torch.set_num_threads(1)


def test_categorical_matches_torch():
    torch.manual_seed(0)
    logits, other = torch.randn(5, 4) * 3, torch.randn(5, 4)
    ours, ref = Categorical(logits), D.Categorical(logits=logits)
    actions = torch.tensor([0, 1, 2, 3, 1])
    torch.testing.assert_close(ours.log_prob(actions), ref.log_prob(actions))
    torch.testing.assert_close(ours.entropy(), ref.entropy())
    torch.testing.assert_close(ours.kl(Categorical(other)), D.kl_divergence(ref, D.Categorical(logits=other)))
    assert torch.equal(ours.mode(), logits.argmax(-1))


def test_categorical_sampling_frequencies():
    torch.manual_seed(1)
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    samples = Categorical(probs.log().expand(200_000, 4)).sample()
    freq = torch.bincount(samples, minlength=4).float() / samples.numel()
    torch.testing.assert_close(freq, probs, atol=5e-3, rtol=0)


def test_multicategorical_is_sum_of_parts():
    torch.manual_seed(0)
    logits = torch.randn(3, 2 + 3)
    dist = MultiCategorical(logits, [2, 3])
    actions = torch.tensor([[0, 2], [1, 0], [1, 1]])
    ref_a, ref_b = D.Categorical(logits=logits[:, :2]), D.Categorical(logits=logits[:, 2:])
    torch.testing.assert_close(dist.log_prob(actions), ref_a.log_prob(actions[:, 0]) + ref_b.log_prob(actions[:, 1]))
    torch.testing.assert_close(dist.entropy(), ref_a.entropy() + ref_b.entropy())
    assert dist.sample().shape == (3, 2)


def test_diag_gaussian_matches_torch():
    torch.manual_seed(0)
    mean, log_std = torch.randn(6, 3), torch.randn(3) * 0.5
    mean2, log_std2 = torch.randn(6, 3), torch.randn(3) * 0.5
    ours = DiagGaussian(mean, log_std)
    ref = D.Independent(D.Normal(mean, log_std.exp().expand_as(mean)), 1)
    ref2 = D.Independent(D.Normal(mean2, log_std2.exp().expand_as(mean2)), 1)
    a = torch.randn(6, 3)
    torch.testing.assert_close(ours.log_prob(a), ref.log_prob(a))
    torch.testing.assert_close(ours.entropy(), ref.entropy())
    torch.testing.assert_close(ours.kl(DiagGaussian(mean2, log_std2)), D.kl_divergence(ref, ref2))


def test_squashed_log_prob_matches_numerical_density():
    """p(y) = dP(Y ≤ y)/dy with P(Y ≤ y) = Φ((atanh((y − c)/s) − μ)/σ), by central differences."""
    mean, log_std = torch.tensor([[0.3, -1.2]], dtype=torch.float64), torch.tensor([-0.2, 0.4], dtype=torch.float64)
    low, high = torch.tensor([-2.0, 0.0], dtype=torch.float64), torch.tensor([2.0, 5.0], dtype=torch.float64)
    dist = SquashedDiagGaussian(mean, log_std, low, high)
    y = torch.tensor([[0.7, 1.1]], dtype=torch.float64)

    def cdf(v: torch.Tensor) -> torch.Tensor:
        u = torch.atanh((v - dist.center) / dist.scale)
        return 0.5 * (1 + torch.erf((u - mean) / (log_std.exp() * math.sqrt(2))))

    h = 1e-6
    density = (cdf(y + h) - cdf(y - h)) / (2 * h)  # independent dims: the joint density is the product
    expected = density.log().sum(-1)
    torch.testing.assert_close(dist.log_prob(y), expected, rtol=1e-6, atol=1e-6)
    # The density integrates to 1 over [low, high] (1-D check by the trapezoid rule).
    d1 = SquashedDiagGaussian(mean[:, :1], log_std[:1], low[:1], high[:1])
    grid = torch.linspace(-2 + 1e-9, 2 - 1e-9, 200_001, dtype=torch.float64)[:, None]
    assert abs(torch.trapezoid(d1.log_prob(grid).exp(), grid[:, 0]).item() - 1.0) < 1e-4


def test_squashed_samples_in_bounds_and_scored_consistently():
    torch.manual_seed(0)
    mean = torch.full((1000, 1), 8.0)  # far into tanh saturation
    dist = SquashedDiagGaussian(mean, torch.zeros(1), torch.tensor([-1.0]), torch.tensor([1.0]))
    y = dist.sample()
    assert torch.all(y <= 1) and torch.all(y >= -1)
    assert torch.isfinite(dist.log_prob(y)).all()


SPACES = [
    (gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(3), (), torch.int64),
    (gym.spaces.Box(-1, 1, (4,)), gym.spaces.MultiDiscrete([2, 3]), (2,), torch.int64),
    (gym.spaces.Box(-1, 1, (4,)), gym.spaces.Box(-2, 2, (2,)), (2,), torch.float32),
    (gym.spaces.Discrete(5), gym.spaces.Discrete(2), (), torch.int64),
]


@pytest.mark.parametrize("obs_space, act_space, act_shape, act_dtype", SPACES)
@pytest.mark.parametrize("shared", [False, True])
def test_actor_critic_shapes(obs_space, act_space, act_shape, act_dtype, shared):
    policy = ActorCritic(obs_space, act_space, net_arch=[16], shared=shared)
    obs = torch.as_tensor(np.stack([obs_space.sample() for _ in range(7)]))
    actions, log_probs, values = policy.act(obs)
    assert actions.shape == (7, *act_shape) and actions.dtype == act_dtype
    assert log_probs.shape == (7,) and values.shape == (7,)
    lp, ent, v = policy.evaluate_actions(obs, actions)
    torch.testing.assert_close(lp, log_probs)
    torch.testing.assert_close(v, values)
    assert ent.shape == (7,)
    torch.testing.assert_close(policy.value(obs), values)
    torch.testing.assert_close(policy.distribution(obs).log_prob(actions), log_probs)
    env_actions = policy.env_actions(actions.numpy())
    assert all(act_space.contains(a.astype(act_space.dtype)) for a in env_actions)
    assert policy.action_shape == act_shape


def test_separate_trunks_do_not_share_parameters():
    policy = ActorCritic(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2), net_arch=[8], shared=False)
    obs = torch.randn(4, 3)
    policy.value(obs).sum().backward()
    assert all(p.grad is None for p in policy.actor_trunk.parameters())
    assert policy.actor_head.weight.grad is None


def test_image_observations_use_shared_cnn():
    space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    policy = ActorCritic(space, gym.spaces.Discrete(6))
    assert policy.shared and policy.critic_trunk is None
    obs = torch.randint(0, 255, (2, 4, 84, 84), dtype=torch.uint8)
    actions, _, values = policy.act(obs)
    assert actions.shape == (2,) and values.shape == (2,)
    conv = policy.actor_trunk.encoder.conv[0]
    # Orthogonal with gain √2: the flattened weight rows are orthogonal with norm √2 (rows < cols).
    w = conv.weight.detach().reshape(conv.weight.shape[0], -1)
    torch.testing.assert_close(w @ w.T, 2 * torch.eye(w.shape[0]), atol=1e-4, rtol=0)


def test_orthogonal_head_gains():
    policy = ActorCritic(gym.spaces.Box(-1, 1, (64,)), gym.spaces.Discrete(4), net_arch=[64])
    w = policy.actor_head.weight.detach()  # (4, 64): orthogonal rows of norm 0.01
    torch.testing.assert_close(w @ w.T, 1e-4 * torch.eye(4), atol=1e-7, rtol=0)
    assert abs(policy.critic_head.weight.norm().item() - 1.0) < 1e-5
    assert torch.all(policy.actor_head.bias == 0)


def test_log_std_init_and_clipping():
    policy = ActorCritic(gym.spaces.Box(-1, 1, (2,)), gym.spaces.Box(-1, 1, (3,)), log_std_init=-0.5)
    assert torch.allclose(policy.log_std, torch.full((3,), -0.5))
    clipped = policy.env_actions(np.array([[5.0, -5.0, 0.5]], np.float32))
    np.testing.assert_array_equal(clipped, [[1.0, -1.0, 0.5]])


def test_squash_policy_actions_within_bounds():
    space = gym.spaces.Box(np.array([0.0, -3.0], np.float32), np.array([1.0, 3.0], np.float32))
    policy = ActorCritic(gym.spaces.Box(-1, 1, (2,)), space, squash=True, log_std_init=1.0)
    actions, _log_probs, _ = policy.act(torch.randn(500, 2))
    assert all(space.contains(a) for a in actions.numpy())
    torch.testing.assert_close(policy.evaluate_actions(torch.zeros(1, 2), actions[:1])[0].shape, torch.Size([1]))
    with pytest.raises(ValueError, match="finite"):
        ActorCritic(gym.spaces.Box(-1, 1, (2,)), gym.spaces.Box(-np.inf, np.inf, (1,)), squash=True)


@pytest.mark.parametrize("act_space", [gym.spaces.Discrete(3), gym.spaces.Box(-1, 1, (2,))])
def test_functional_call_second_order(act_space):
    """MAML's path: log-probs under explicit parameters θ' = θ − α∇L(θ), differentiated twice."""
    torch.manual_seed(0)
    policy = ActorCritic(gym.spaces.Box(-1, 1, (3,)), act_space, net_arch=[8])
    theta = dict(policy.named_parameters())
    obs = torch.randn(10, 3)
    with torch.no_grad():
        actions, _, _ = policy.act(obs)
    _params, value = torch.func.functional_call(policy, theta, (obs,))
    # Same numbers as the ordinary call.
    ref_params, ref_value = policy(obs)
    torch.testing.assert_close(value, ref_value)

    def loss_of(p: dict[str, torch.Tensor]) -> torch.Tensor:
        dist_params, _ = torch.func.functional_call(policy, p, (obs,))
        return -policy.make_distribution(dist_params).log_prob(actions).mean()

    grads = torch.autograd.grad(loss_of(theta), list(theta.values()), create_graph=True, allow_unused=True)
    adapted = {k: v - 0.1 * g if g is not None else v for (k, v), g in zip(theta.items(), grads)}
    outer = loss_of(adapted)
    outer_grads = torch.autograd.grad(outer, list(theta.values()), allow_unused=True)
    head_grad = outer_grads[list(theta).index("actor_head.weight")]
    assert head_grad is not None and torch.isfinite(head_grad).all() and head_grad.abs().sum() > 0
    # A shifted parameter set changes the output: functional_call really used the given θ.
    shifted = {k: v + 1.0 if k == "actor_head.bias" else v for k, v in theta.items()}
    out_shifted, _ = torch.func.functional_call(policy, shifted, (obs,))
    first = out_shifted[0] if isinstance(out_shifted, tuple) else out_shifted
    ref_first = ref_params[0] if isinstance(ref_params, tuple) else ref_params
    torch.testing.assert_close(first, ref_first + 1.0)
