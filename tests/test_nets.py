"""Unit tests for rlsuite.nets: noisy layers, dueling, the C51 projection, encoders."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from rlsuite.nets import (
    MLP,
    MinAtarCNN,
    NatureCNN,
    NoisyLinear,
    QHead,
    build_encoder,
    categorical_projection,
    expected_q,
    layer_init,
)


def test_noisy_linear_equals_mean_linear_without_noise():
    torch.manual_seed(0)
    layer = NoisyLinear(7, 5, sigma0=0.5)
    x = torch.randn(3, 7)
    expected = F.linear(x, layer.weight_mu, layer.bias_mu)
    layer.zero_noise()
    torch.testing.assert_close(layer(x), expected)
    layer.reset_noise()
    layer.eval()
    torch.testing.assert_close(layer(x), expected)


def test_noisy_linear_noise_changes_outputs_in_train_mode():
    torch.manual_seed(0)
    layer = NoisyLinear(7, 5).train()
    x = torch.randn(3, 7)
    y0 = layer(x)
    torch.testing.assert_close(layer(x), y0)  # same noise -> same output
    layer.reset_noise()
    assert not torch.allclose(layer(x), y0)


def test_noisy_linear_init_follows_fortunato():
    layer = NoisyLinear(16, 4, sigma0=0.5)
    bound = 1 / math.sqrt(16)
    assert layer.weight_mu.abs().max() <= bound and layer.bias_mu.abs().max() <= bound
    torch.testing.assert_close(layer.weight_sigma, torch.full((4, 16), 0.5 / 4))
    # f(x) = sign(x) sqrt|x|: the outer product of the factor noise is the weight noise
    layer.reset_noise()
    eps_w = torch.outer(layer.eps_out, layer.eps_in)
    x = torch.randn(2, 16)
    w = layer.weight_mu + layer.weight_sigma * eps_w
    want = F.linear(x, w, layer.bias_mu + layer.bias_sigma * layer.eps_out)
    torch.testing.assert_close(layer(x), want)


def test_dueling_mean_over_actions_equals_value():
    head = QHead(3, 4, dueling=True)
    with torch.no_grad():
        head.value[0].weight.copy_(torch.tensor([[1.0, 2.0, 3.0]]))
        head.value[0].bias.fill_(0.5)
        head.advantage[0].weight.copy_(torch.arange(12.0).view(4, 3))
        head.advantage[0].bias.copy_(torch.tensor([1.0, -1.0, 4.0, 0.0]))
    x = torch.tensor([[1.0, 0.0, -1.0], [0.5, 2.0, 1.0]])
    q = head(x)
    v = x @ torch.tensor([1.0, 2.0, 3.0]) + 0.5
    a = x @ torch.arange(12.0).view(4, 3).T + torch.tensor([1.0, -1.0, 4.0, 0.0])
    torch.testing.assert_close(q.mean(dim=1), v)
    torch.testing.assert_close(q, v[:, None] + a - a.mean(1, keepdim=True))


def test_qhead_shapes_and_distributional_dueling_per_atom():
    x = torch.randn(5, 8)
    assert QHead(8, 3)(x).shape == (5, 3)
    assert QHead(8, 3, dueling=True, noisy=True, hidden=16)(x).shape == (5, 3)
    head = QHead(8, 3, dueling=True, n_atoms=11)
    logits = head(x)
    assert logits.shape == (5, 3, 11)
    v = head.value(x)  # (5, 11): per-atom value logits equal the action-mean of the logits
    torch.testing.assert_close(logits.mean(dim=1), v)
    q = expected_q(logits, torch.linspace(-10, 10, 11))
    assert q.shape == (5, 3)


def test_noisy_qhead_output_follows_the_noise_in_train_mode_only():
    torch.manual_seed(1)
    head = QHead(8, 3, dueling=True, noisy=True, hidden=16).train()
    layers = [m for m in head.modules() if isinstance(m, NoisyLinear)]
    assert len(layers) == 4  # two per stream
    x = torch.randn(4, 8)
    y0 = head(x)
    for layer in layers:
        layer.reset_noise()
    assert not torch.allclose(head(x), y0)
    head.eval()
    y_eval = head(x)
    for layer in layers:
        layer.reset_noise()
    torch.testing.assert_close(head(x), y_eval)


def _brute_force_projection(probs, rewards, discounts, support):
    """Algorithm 1 of Bellemare et al. 2017, one sample and one atom at a time."""
    n = len(support)
    v_min, v_max = support[0], support[-1]
    dz = (v_max - v_min) / (n - 1)
    out = np.zeros((len(rewards), n))
    for i in range(len(rewards)):
        for j in range(n):
            tz = min(max(rewards[i] + discounts[i] * support[j], v_min), v_max)
            b = (tz - v_min) / dz
            b = min(max(b, 0.0), n - 1)
            l, u = math.floor(b), math.ceil(b)
            if l == u:
                out[i, l] += probs[i, j]
            else:
                out[i, l] += probs[i, j] * (u - b)
                out[i, u] += probs[i, j] * (b - l)
    return out


@pytest.mark.parametrize("n_atoms", [5, 51])
def test_categorical_projection_matches_brute_force(n_atoms):
    g = torch.Generator().manual_seed(n_atoms)
    batch = 64
    support = torch.linspace(-10.0, 10.0, n_atoms, dtype=torch.float64)
    probs = torch.rand(batch, n_atoms, generator=g, dtype=torch.float64).softmax(-1)
    rewards = torch.randn(batch, generator=g, dtype=torch.float64) * 8  # some push atoms outside
    rewards[:4] = torch.tensor([25.0, -25.0, 0.0, 2.0], dtype=torch.float64)  # far outside, on-grid
    discounts = torch.full((batch,), 0.99**3, dtype=torch.float64)
    discounts[::5] = 0.0  # terminal transitions
    discounts[2] = 1.0  # r=0, gamma=1: every atom lands exactly on a support point (l == u)
    discounts[3] = 0.0  # terminal with reward exactly on a support point
    got = categorical_projection(probs, rewards, discounts, support)
    want = _brute_force_projection(probs.numpy(), rewards.numpy(), discounts.numpy(), support.numpy())
    np.testing.assert_allclose(got.numpy(), want, atol=1e-10)
    np.testing.assert_allclose(got.sum(1).numpy(), 1.0, atol=1e-10)
    # terminal: all mass on the (clamped) reward; reward 25 -> v_max
    assert got[0, -1] == pytest.approx(1.0) and got[1, 0] == pytest.approx(1.0)
    torch.testing.assert_close(got[2], probs[2])


def test_categorical_projection_float32_rows_sum_to_one():
    support = torch.linspace(-10, 10, 51)
    probs = torch.rand(256, 51).softmax(-1)
    out = categorical_projection(probs, torch.randn(256) * 20, torch.rand(256), support)
    assert out.dtype == torch.float32 and (out >= 0).all()
    torch.testing.assert_close(out.sum(1), torch.ones(256))


def test_nature_cnn_shape_params_and_uint8():
    net = NatureCNN(4, 512)
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == 1_684_128  # ~1.69M as in Mnih et al. 2015 (without the head)
    x = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    y = net(x)
    assert y.shape == (3, 512) and y.dtype == torch.float32
    torch.testing.assert_close(y, net(x.float()))  # uint8 and float pixels agree (both /255)


def test_minatar_cnn_shape():
    assert MinAtarCNN(4)(torch.zeros(2, 4, 10, 10, dtype=torch.bool)).shape == (2, 128)


def test_build_encoder_picks_by_space():
    enc, d = build_encoder(gym.spaces.Box(0, 255, (4, 84, 84), np.uint8))
    assert isinstance(enc, NatureCNN) and d == 512
    enc, d = build_encoder(gym.spaces.Box(0, 1, (7, 10, 10), np.float32))
    assert isinstance(enc, MinAtarCNN) and d == 128
    assert enc(torch.zeros(2, 7, 10, 10)).shape == (2, 128)
    enc, d = build_encoder(gym.spaces.Box(-1, 1, (4,), np.float32))
    assert d == 4 and enc(torch.zeros(3, 4, dtype=torch.float64)).dtype == torch.float32
    enc, d = build_encoder(gym.spaces.Discrete(16))
    assert d == 16 and enc(torch.tensor([3, 5])).shape == (2, 16)


def test_mlp_and_layer_init():
    net = MLP(4, [64, 64], 2, activation="tanh")
    assert [type(m).__name__ for m in net.net] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert net(torch.zeros(5, 4)).shape == (5, 2) and net.out_features == 2
    assert MLP(4, [32], None).out_features == 32
    lin = layer_init(torch.nn.Linear(8, 8), gain=1.0)
    torch.testing.assert_close(lin.weight @ lin.weight.T, torch.eye(8), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(4, [8], 1, activation="swishy")
