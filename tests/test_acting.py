"""rlsuite.acting: the compiled acting forward pass agrees with the torch policy."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from rlsuite.acting import _TANH_CLAMP, NumbaActor, _tanh
from rlsuite.policies import ActorCritic

BOX_OBS = gym.spaces.Box(-np.inf, np.inf, (5,), np.float32)


def _policy(action_space: gym.Space, **kwargs) -> ActorCritic:
    torch.manual_seed(0)
    policy = ActorCritic(BOX_OBS, action_space, **kwargs)
    with torch.no_grad():  # non-trivial heads (the orthogonal init makes the policy head tiny)
        policy.actor_head.weight.mul_(100.0)
        if policy.log_std is not None:
            policy.log_std.copy_(torch.linspace(-1.0, 0.5, policy.log_std.numel()))
    return policy


def test_tanh_approximation_is_float32_accurate():
    x = np.linspace(-12.0, 12.0, 200_001)
    approx = np.array([_tanh(np.float32(v)) for v in x[::50]])
    assert np.abs(approx - np.tanh(x[::50])).max() < 1e-6
    assert _tanh(np.float32(_TANH_CLAMP + 5)) == pytest.approx(1.0, abs=1e-6)


ARCHITECTURES = [  # every kind of trunk the translation covers: layer counts, widths, sharing
    {}, {"shared": True}, {"net_arch": [32, 16, 8]}, {"net_arch": [8], "vf_net_arch": [16, 4]},
    {"net_arch": []}, {"net_arch": [], "shared": True},
]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("space", [gym.spaces.Discrete(4), gym.spaces.Box(-2.0, 2.0, (3,), np.float32)])
def test_log_probs_and_values_match_the_torch_policy(space, arch, activation):
    kwargs = dict(arch, activation=activation)
    policy = _policy(space, **kwargs)
    actor = NumbaActor.for_policy(policy, torch.device("cpu"))
    assert actor is not None
    obs = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    actions, log_probs, values = actor.act(obs, np.random.default_rng(1))
    with torch.no_grad():
        params, torch_values = policy(torch.from_numpy(obs))
        torch_log_probs = policy.make_distribution(params).log_prob(torch.from_numpy(actions))
    np.testing.assert_allclose(log_probs, torch_log_probs.numpy(), atol=2e-5)
    np.testing.assert_allclose(values, torch_values.numpy(), atol=2e-5)
    det, _, _ = actor.act(obs, np.random.default_rng(1), deterministic=True)
    with torch.no_grad():
        mode = policy.make_distribution(params).mode().numpy()
    np.testing.assert_allclose(det, mode, atol=2e-5)


def test_categorical_samples_follow_the_policy_probabilities():
    policy = _policy(gym.spaces.Discrete(4))
    actor = NumbaActor.for_policy(policy, torch.device("cpu"))
    obs = np.repeat(np.random.default_rng(0).normal(size=(1, 5)).astype(np.float32), 20_000, axis=0)
    actions, _, _ = actor.act(obs, np.random.default_rng(2))
    with torch.no_grad():
        probs = torch.softmax(policy(torch.from_numpy(obs[:1]))[0], -1)[0].numpy()
    counts = np.bincount(actions, minlength=4)
    expected = probs * len(actions)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 16.27  # 99.9% quantile of chi-square with 3 degrees of freedom


def test_gaussian_samples_have_the_policy_mean_and_std():
    policy = _policy(gym.spaces.Box(-2.0, 2.0, (3,), np.float32))
    actor = NumbaActor.for_policy(policy, torch.device("cpu"))
    obs = np.repeat(np.random.default_rng(0).normal(size=(1, 5)).astype(np.float32), 20_000, axis=0)
    actions, _, _ = actor.act(obs, np.random.default_rng(3))
    with torch.no_grad():
        (mean, log_std), _ = policy(torch.from_numpy(obs[:1]))
    np.testing.assert_allclose(actions.mean(0), mean[0].numpy(), atol=0.03)
    np.testing.assert_allclose(actions.std(0), log_std[0].detach().exp().numpy(), rtol=0.03)


def test_refresh_picks_up_new_weights():
    policy = _policy(gym.spaces.Discrete(2))
    actor = NumbaActor.for_policy(policy, torch.device("cpu"))
    obs = np.ones((3, 5), np.float32)
    _, _, before = actor.act(obs, np.random.default_rng(0))
    with torch.no_grad():
        policy.critic_head.bias.add_(1.0)
    actor.refresh()
    _, _, after = actor.act(obs, np.random.default_rng(0))
    np.testing.assert_allclose(after, before + 1.0, atol=1e-5)


@pytest.mark.parametrize("activation", ["elu", "gelu", "silu", "leaky_relu"])
def test_an_activation_without_a_kernel_step_keeps_the_torch_path(activation):
    assert NumbaActor.for_policy(_policy(gym.spaces.Discrete(2), activation=activation), torch.device("cpu")) is None


def test_a_layer_without_a_kernel_step_keeps_the_torch_path():
    policy = _policy(gym.spaces.Discrete(2))
    assert NumbaActor.for_policy(policy, torch.device("cpu")) is not None
    assert policy.critic_trunk is not None
    policy.critic_trunk.layers[1] = nn.Sequential(nn.Linear(64, 64), nn.LayerNorm(64))
    assert NumbaActor.for_policy(policy, torch.device("cpu")) is None


def test_a_network_that_computes_something_else_is_caught_by_the_probe():
    """A change to the torch forward that the module-by-module translation cannot see."""
    policy = _policy(gym.spaces.Discrete(3))
    trunk = policy.actor_trunk
    plain_forward = trunk.forward
    trunk.forward = lambda obs: plain_forward(obs) * 0.5  # type: ignore[method-assign]
    with pytest.warns(RuntimeWarning, match="disagrees"):
        assert NumbaActor.for_policy(policy, torch.device("cpu")) is None


def test_uncovered_policies_keep_the_torch_path():
    image = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert NumbaActor.for_policy(ActorCritic(image, gym.spaces.Discrete(3)), torch.device("cpu")) is None
    assert NumbaActor.for_policy(ActorCritic(gym.spaces.Discrete(5), gym.spaces.Discrete(3)),
                                 torch.device("cpu")) is None
    assert NumbaActor.for_policy(ActorCritic(BOX_OBS, gym.spaces.MultiDiscrete([2, 3])), torch.device("cpu")) is None
    squashed = ActorCritic(BOX_OBS, gym.spaces.Box(-1.0, 1.0, (2,), np.float32), squash=True)
    assert NumbaActor.for_policy(squashed, torch.device("cpu")) is None
    assert NumbaActor.for_policy(ActorCritic(BOX_OBS, gym.spaces.Discrete(2)), torch.device("meta")) is None
