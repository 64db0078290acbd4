"""The objectives of the backbones as pure functions (unit-tested on tiny inputs by hand).

VAE (Kingma & Welling 2014; β-VAE, Higgins et al. 2017):
    ELBO(x) = E_q(z|x)[log p(x|z)] - β KL(q(z|x) || N(0, I)),  β = 1 is the true bound (nats);
    IW bound (Burda et al. 2016): log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x).
GAN objectives (the seed notes' table), with D(x) the discriminator / critic output (a logit):
    non-saturating (Goodfellow et al. 2014, DCGAN): L_D = softplus(-D(x)) + softplus(D(G(z)));
                                                    L_G = softplus(-D(G(z)))  (= -log σ(D(G(z))))
    LSGAN (Mao et al. 2017, a=0, b=c=1):            L_D = ½(D(x)-1)² + ½D(G(z))²;  L_G = ½(D(G(z))-1)²
    WGAN-GP (Gulrajani et al. 2017, λ = 10):        L_D = D(G(z)) - D(x) + λ(‖∇D(x̂)‖₂ - 1)²,
                                                    x̂ = εx + (1-ε)G(z), ε ~ U[0,1] per sample;  L_G = -D(G(z))
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)
GAN_LOSSES = ("ns", "lsgan", "wgan-gp")


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """z = μ + σ ε with σ = exp(½ logvar): differentiable in μ and logvar for a fixed ε."""
    eps = torch.randn_like(mu) if eps is None else eps
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor | None = None,
                logvar_p: torch.Tensor | None = None) -> torch.Tensor:
    """KL(N(μq, σq²) || N(μp, σp²)) summed over the last dim (p defaults to N(0, I)), in nats:
    ½ Σ [log σp²/σq² + (σq² + (μq-μp)²)/σp² - 1]."""
    mu_p = torch.zeros_like(mu_q) if mu_p is None else mu_p
    logvar_p = torch.zeros_like(logvar_q) if logvar_p is None else logvar_p
    kl = 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1.0)
    return kl.sum(-1)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; μ, diag σ²) summed over the last dim."""
    return (-0.5 * (LOG_2PI + logvar + (z - mu) ** 2 / logvar.exp())).sum(-1)


def log_likelihood(x: torch.Tensor, decoded: torch.Tensor, likelihood: str, sigma: float = 0.1) -> torch.Tensor:
    """log p(x|z) per example (summed over every pixel). ``decoded`` is a logit (Bernoulli) or the
    mean (Gaussian with fixed σ). Bernoulli on grey values in [0, 1] is the usual (improper for
    non-binary x) cross-entropy likelihood, as in the VAE paper's MNIST experiments."""
    if likelihood == "bernoulli":
        ll = -F.binary_cross_entropy_with_logits(decoded, x, reduction="none")
    elif likelihood == "gaussian":
        ll = -0.5 * (((x - decoded) / sigma) ** 2 + LOG_2PI) - math.log(sigma)
    else:
        raise ValueError(f"unknown likelihood {likelihood!r}")
    return ll.flatten(1).sum(-1)


def elbo_terms(x: torch.Tensor, decoded: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, likelihood: str,
               sigma: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p(x|z), KL(q || prior)) per example; ELBO_β = first - β * second."""
    return log_likelihood(x, decoded, likelihood, sigma), gaussian_kl(mu, logvar)


def iw_log_weights(x: torch.Tensor, decoded: torch.Tensor, z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                   likelihood: str, sigma: float = 0.1) -> torch.Tensor:
    """log p(x|z) + log p(z) - log q(z|x) for one sample z per example."""
    zeros = torch.zeros_like(z)
    return (log_likelihood(x, decoded, likelihood, sigma) + gaussian_log_density(z, zeros, zeros)
            - gaussian_log_density(z, mu, logvar))


def iw_bound(log_weights: torch.Tensor) -> torch.Tensor:
    """log (1/K) Σ_k exp(w_k) over dim 0 of ``(K, B)`` log weights, stably (logsumexp)."""
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     eps: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the batch of (‖∇x̂ D(x̂)‖₂ - 1)², x̂ = ε real + (1 - ε) fake (WGAN-GP)."""
    if eps is None:
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    mixed = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    out = critic(mixed)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


def discriminator_loss(kind: str, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's / critic's loss without the gradient penalty (added by the caller)."""
    if kind == "ns":
        return (F.softplus(-d_real) + F.softplus(d_fake)).mean()
    if kind == "lsgan":
        return 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake**2).mean()
    if kind == "wgan-gp":
        return d_fake.mean() - d_real.mean()
    raise ValueError(f"unknown GAN loss {kind!r}")


def generator_loss(kind: str, d_fake: torch.Tensor) -> torch.Tensor:
    if kind == "ns":
        return F.softplus(-d_fake).mean()
    if kind == "lsgan":
        return 0.5 * ((d_fake - 1) ** 2).mean()
    if kind == "wgan-gp":
        return -d_fake.mean()
    raise ValueError(f"unknown GAN loss {kind!r}")
