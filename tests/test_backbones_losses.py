"""The backbones' objectives on tiny inputs with hand-computed answers, and their gradients."""

from __future__ import annotations

import math

import pytest
import torch

from rlsuite.backbones import losses


def test_reparameterize_value_and_gradients():
    mu = torch.tensor([1.0, -2.0], requires_grad=True)
    logvar = torch.tensor([0.0, math.log(4.0)], requires_grad=True)
    eps = torch.tensor([0.5, -1.0])
    z = losses.reparameterize(mu, logvar, eps)
    assert torch.allclose(z, torch.tensor([1.5, -4.0]))  # mu + sigma * eps, sigma = (1, 2)
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.ones(2))
    # dz/dlogvar = 0.5 * sigma * eps = (0.25, -1.0)
    assert torch.allclose(logvar.grad, torch.tensor([0.25, -1.0]))


def test_reparameterize_draws_have_the_posterior_moments():
    torch.manual_seed(0)
    z = losses.reparameterize(torch.full((20000, 1), 3.0), torch.full((20000, 1), math.log(0.25)))
    assert abs(z.mean().item() - 3.0) < 0.02 and abs(z.std().item() - 0.5) < 0.02


def test_gaussian_kl_closed_form_by_hand():
    # KL(N(1, 1) || N(0, 1)) = 0.5 * (0 - 0 + (1 + 1) / 1 - 1) = 0.5
    assert losses.gaussian_kl(torch.tensor([[1.0]]), torch.tensor([[0.0]])).item() == pytest.approx(0.5)
    # KL(N(0, 1) || N(1, e^2)) = 0.5 * (2 - 0 + (1 + 1) / e^2 - 1) = 0.5 * (1 + 2 / e^2)
    kl = losses.gaussian_kl(torch.tensor([[0.0]]), torch.tensor([[0.0]]), torch.tensor([[1.0]]), torch.tensor([[2.0]]))
    assert kl.item() == pytest.approx(0.5 * (1 + 2 / math.e**2), rel=1e-6)
    # summed over the last dim
    two = losses.gaussian_kl(torch.tensor([[1.0, 1.0]]), torch.zeros(1, 2))
    assert two.item() == pytest.approx(1.0)


def test_gaussian_kl_matches_torch_distributions_and_gradcheck():
    g = torch.Generator().manual_seed(1)
    mq, lq, mp, lp = (torch.randn(4, 3, generator=g, dtype=torch.float64) for _ in range(4))
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(mq, (0.5 * lq).exp()), torch.distributions.Normal(mp, (0.5 * lp).exp())).sum(-1)
    assert torch.allclose(losses.gaussian_kl(mq, lq, mp, lp), ref)
    args = tuple(t.clone().requires_grad_(True) for t in (mq, lq, mp, lp))
    assert torch.autograd.gradcheck(losses.gaussian_kl, args)


def test_log_likelihoods_by_hand():
    x = torch.tensor([[1.0, 0.0]])
    # Bernoulli with logit 0: log 0.5 per pixel
    assert losses.log_likelihood(x, torch.zeros(1, 2), "bernoulli").item() == pytest.approx(2 * math.log(0.5))
    # Gaussian sigma 0.5, mean = x + (0.5, 0): -0.5*(1 + log 2pi) - log 0.5  +  -0.5*log 2pi - log 0.5
    ll = losses.log_likelihood(x, x + torch.tensor([[0.5, 0.0]]), "gaussian", sigma=0.5).item()
    assert ll == pytest.approx(-0.5 * (1 + losses.LOG_2PI) - 0.5 * losses.LOG_2PI - 2 * math.log(0.5))


def test_iw_bound_by_hand_and_above_the_mean_weight():
    w = torch.log(torch.tensor([[1.0], [3.0]]))
    assert losses.iw_bound(w).item() == pytest.approx(math.log(2.0))  # log((1 + 3) / 2)
    same = torch.full((5, 2), -7.0)
    assert torch.allclose(losses.iw_bound(same), torch.full((2,), -7.0))
    rand = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    assert (losses.iw_bound(rand) >= rand.mean(0)).all()  # Jensen: IW bound >= ELBO on the same draws


def test_iw_log_weights_equal_log_joint_minus_log_q():
    x, dec = torch.tensor([[1.0]]), torch.tensor([[0.0]])
    z, mu, logvar = torch.tensor([[0.5]]), torch.tensor([[0.5]]), torch.tensor([[0.0]])
    w = losses.iw_log_weights(x, dec, z, mu, logvar, "bernoulli")
    # log p(x|z) = log 0.5; log p(z) = -0.5 (log 2pi + 0.25); log q(z|x) = -0.5 log 2pi
    assert w.item() == pytest.approx(math.log(0.5) - 0.125)


def test_gradient_penalty_of_a_linear_critic():
    a = torch.tensor([2.0, 0.0], requires_grad=True)  # D(x) = a.x, grad_x D = a, |a| = 2

    def critic(x: torch.Tensor) -> torch.Tensor:
        return x @ a

    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    gp = losses.gradient_penalty(critic, real, fake)
    assert gp.item() == pytest.approx(1.0)  # (|a| - 1)^2
    gp.backward()  # create_graph: the penalty trains the critic; d/da (|a|-1)^2 = 2(|a|-1) a/|a|
    assert torch.allclose(a.grad, torch.tensor([2.0, 0.0]))


def test_gradient_penalty_interpolates_per_sample():
    seen = []

    def critic(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.detach().clone())
        return x.sum(1)

    real, fake = torch.ones(2, 3), torch.zeros(2, 3)
    losses.gradient_penalty(critic, real, fake, eps=torch.tensor([[0.25], [1.0]]))
    assert torch.allclose(seen[0], torch.tensor([[0.25] * 3, [1.0] * 3]))


@pytest.mark.parametrize(
    ("kind", "d_loss", "g_loss"),
    [
        ("ns", 2 * math.log(2), math.log(2)),  # D = 0 everywhere: sigmoid 1/2
        ("lsgan", 0.5 * 1 + 0.0, 0.5),  # 0.5 (0 - 1)^2 + 0.5 * 0^2 ; 0.5 (0 - 1)^2
        ("wgan-gp", 0.0, 0.0),
    ],
)
def test_gan_losses_at_zero(kind, d_loss, g_loss):
    zero = torch.zeros(4)
    assert losses.discriminator_loss(kind, zero, zero).item() == pytest.approx(d_loss)
    assert losses.generator_loss(kind, zero).item() == pytest.approx(g_loss)


def test_gan_losses_by_hand():
    real, fake = torch.tensor([2.0]), torch.tensor([-1.0])
    assert losses.discriminator_loss("wgan-gp", real, fake).item() == pytest.approx(-3.0)
    assert losses.generator_loss("wgan-gp", fake).item() == pytest.approx(1.0)
    assert losses.discriminator_loss("lsgan", real, fake).item() == pytest.approx(0.5 * 1 + 0.5 * 1)
    # non-saturating: -log sigmoid(2) - log(1 - sigmoid(-1)) ; generator -log sigmoid(-1)
    s = torch.sigmoid
    want = (-torch.log(s(real)) - torch.log(1 - s(fake))).item()
    assert losses.discriminator_loss("ns", real, fake).item() == pytest.approx(want, rel=1e-6)
    assert losses.generator_loss("ns", fake).item() == pytest.approx(-math.log(s(fake).item()), rel=1e-6)


def test_non_saturating_generator_gradient_stays_large_when_d_wins():
    d_fake = torch.tensor([-8.0], requires_grad=True)  # D confidently rejects the fake
    losses.generator_loss("ns", d_fake).backward()
    ns_grad = d_fake.grad.abs().item()
    saturating = torch.tensor([-8.0], requires_grad=True)
    torch.log(1 - torch.sigmoid(saturating)).sum().backward()  # minimax generator objective
    assert ns_grad > 0.99 and saturating.grad.abs().item() < 1e-3
