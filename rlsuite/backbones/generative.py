"""Convolutional VAE and DCGAN-style GAN for channel-first images of any size >= 4.

Both share one shape plan (:func:`down_plan`): stride-2 3x3 convolutions halve the image until the
next halving would go below 4 pixels; decoders / generators start from that small map and double
it with 4x4 stride-2 transposed convolutions, then crop to the exact size (10x10 MinAtar frames:
10 -> 5 down, 5 -> 10 up; 16x16 digits: 16 -> 8 -> 4 and back).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from rlsuite.backbones import losses
from rlsuite.backbones.spec import SpecError


def down_plan(input_shape: tuple[int, ...]) -> tuple[int, tuple[int, int]]:
    """(number of stride-2 stages, spatial size after them) for a ``(C, H, W)`` input."""
    if len(input_shape) != 3:
        raise SpecError(f"the VAE and GAN take images shaped (C, H, W), got inputs shaped {tuple(input_shape)}")
    h, w = int(input_shape[1]), int(input_shape[2])
    if min(h, w) < 4:
        raise SpecError(f"the VAE and GAN need images of at least 4x4 pixels, got {h}x{w}")
    stages = 0
    while min((h - 1) // 2 + 1, (w - 1) // 2 + 1) >= 4 and stages < 4:
        h, w, stages = (h - 1) // 2 + 1, (w - 1) // 2 + 1, stages + 1
    return stages, (h, w)


def _down(c_in: int, widths: list[int], act: Callable[[], nn.Module], norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for c in widths:
        layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1)]
        layers += [nn.BatchNorm2d(c)] if norm else []
        layers += [act()]
        c_in = c
    return nn.Sequential(*layers)


def _up(widths: list[int], c_out: int) -> nn.Sequential:
    """Transposed convs doubling the map: widths[0] -> ... -> c_out (no activation on the last)."""
    layers: list[nn.Module] = []
    for c_in, c in pairwise(widths):
        layers += [nn.ConvTranspose2d(c_in, c, 4, stride=2, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
    layers += [nn.ConvTranspose2d(widths[-1], c_out, 4, stride=2, padding=1)]
    return nn.Sequential(*layers)


def _widths(stages: int, width: int) -> list[int]:
    return [width * 2**i for i in range(stages)]


class ConvEncoder(nn.Module):
    """Image -> flat features: a stem conv (3x3, stride 1) then the stride-2 stages, flattened.
    The VAE's inference network, and what ``agent.net.encoder=<run dir>`` loads into an agent."""

    def __init__(self, input_shape: tuple[int, ...], width: int = 32):
        super().__init__()
        stages, (h, w) = down_plan(input_shape)
        widths = _widths(stages, width)
        self.input_shape = tuple(input_shape)
        self.net = nn.Sequential(nn.Conv2d(input_shape[0], width, 3, padding=1), nn.ReLU(),
                                 _down(width, widths, nn.ReLU, norm=False), nn.Flatten())
        self.feature_dim = widths[-1] * h * w if widths else width * h * w
        self.out_map = (widths[-1] if widths else width, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float())


class VAE(nn.Module):
    """Gaussian latent ``latent_dim``, Bernoulli (logits) or fixed-σ Gaussian likelihood, β-weighted KL."""

    def __init__(self, input_shape: tuple[int, ...], latent_dim: int = 8, width: int = 32,
                 likelihood: str = "bernoulli", sigma: float = 0.1, beta: float = 1.0):
        super().__init__()
        if likelihood not in ("bernoulli", "gaussian"):
            raise SpecError(f"likelihood must be bernoulli or gaussian, got '{likelihood}'")
        self.input_shape, self.latent_dim = tuple(input_shape), int(latent_dim)
        self.likelihood, self.sigma, self.beta = likelihood, float(sigma), float(beta)
        self.encoder = ConvEncoder(input_shape, width)
        self.to_stats = nn.Linear(self.encoder.feature_dim, 2 * latent_dim)
        stages, (h, w) = down_plan(input_shape)
        widths = list(reversed(_widths(max(stages, 1), width)))
        self._map = (widths[0], h, w)
        self.from_latent = nn.Sequential(nn.Linear(latent_dim, widths[0] * h * w), nn.ReLU())
        self.decoder_net = _up(widths, input_shape[0]) if stages else nn.Conv2d(widths[0], input_shape[0], 3, padding=1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.to_stats(self.encoder(x)).chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits (Bernoulli) or means (Gaussian) of p(x|z), cropped to the input size."""
        out = self.decoder_net(self.from_latent(z).view(-1, *self._map))
        return out[..., : self.input_shape[1], : self.input_shape[2]]

    def mean_image(self, decoded: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(decoded) if self.likelihood == "bernoulli" else decoded

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of p(x|z=μ(x)): the deterministic reconstruction."""
        return self.mean_image(self.decode(self.encode(x)[0]))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.latent_dim, generator=generator).to(next(self.parameters()).device)
        return self.mean_image(self.decode(z))

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Negative β-ELBO averaged over the batch (nats per example)."""
        mu, logvar = self.encode(x)
        decoded = self.decode(losses.reparameterize(mu, logvar))
        ll, kl = losses.elbo_terms(x, decoded, mu, logvar, self.likelihood, self.sigma)
        loss = -(ll - self.beta * kl).mean()
        stats = {"loss/neg_elbo_beta": loss.item(), "loss/recon_nll": -ll.mean().item(), "loss/kl": kl.mean().item()}
        return loss, stats

    @torch.no_grad()
    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """The β = 1 ELBO per example (one z sample), in nats."""
        mu, logvar = self.encode(x)
        ll, kl = losses.elbo_terms(x, self.decode(losses.reparameterize(mu, logvar)), mu, logvar,
                                   self.likelihood, self.sigma)
        return ll - kl

    @torch.no_grad()
    def iw_log_likelihood(self, x: torch.Tensor, k: int = 100) -> torch.Tensor:
        """Importance-weighted lower bound on log p(x) with ``k`` samples per example (nats)."""
        mu, logvar = self.encode(x)
        weights = []
        for _ in range(k):
            z = losses.reparameterize(mu, logvar)
            weights.append(losses.iw_log_weights(x, self.decode(z), z, mu, logvar, self.likelihood, self.sigma))
        return losses.iw_bound(torch.stack(weights))


class Generator(nn.Module):
    """DCGAN generator: z (+ one-hot class) -> fc -> map -> transposed convs (BN, ReLU) -> sigmoid."""

    def __init__(self, input_shape: tuple[int, ...], latent_dim: int = 64, width: int = 64, n_classes: int = 0):
        super().__init__()
        stages, (h, w) = down_plan(input_shape)
        widths = list(reversed(_widths(max(stages, 1), width)))
        self.input_shape, self.latent_dim, self.n_classes = tuple(input_shape), int(latent_dim), int(n_classes)
        self._map = (widths[0], h, w)
        self.fc = nn.Sequential(nn.Linear(latent_dim + n_classes, widths[0] * h * w),
                                nn.BatchNorm1d(widths[0] * h * w), nn.ReLU())
        self.net = _up(widths, input_shape[0]) if stages else nn.Conv2d(widths[0], input_shape[0], 3, padding=1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_classes:
            if y is None:
                raise ValueError("a class-conditional generator needs labels y")
            z = torch.cat([z, F.one_hot(y, self.n_classes).float()], dim=1)
        out = self.net(self.fc(z).view(-1, *self._map))
        return torch.sigmoid(out[..., : self.input_shape[1], : self.input_shape[2]])


class Discriminator(nn.Module):
    """Stride-2 convs with LeakyReLU(0.2) and no normalisation (so WGAN-GP's per-sample gradient
    penalty stays valid), then a linear output: a logit (ns), a score (lsgan) or a critic value.
    Class-conditional: one-hot labels enter as constant extra input channels."""

    def __init__(self, input_shape: tuple[int, ...], width: int = 64, n_classes: int = 0):
        super().__init__()
        stages, (h, w) = down_plan(input_shape)
        widths = _widths(max(stages, 1), width)
        self.n_classes = int(n_classes)
        self.net = nn.Sequential(_down(input_shape[0] + n_classes, widths, lambda: nn.LeakyReLU(0.2), norm=False),
                                 nn.Flatten())
        stages_hw = (h, w) if stages else ((h - 1) // 2 + 1, (w - 1) // 2 + 1)
        self.out = nn.Linear(widths[-1] * stages_hw[0] * stages_hw[1], 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_classes:
            if y is None:
                raise ValueError("a class-conditional discriminator needs labels y")
            onehot = F.one_hot(y, self.n_classes).float()[:, :, None, None].expand(-1, -1, *x.shape[2:])
            x = torch.cat([x, onehot], dim=1)
        return self.out(self.net(x)).squeeze(-1)


class GAN(nn.Module):
    """Generator + discriminator with the objective ``loss`` (``ns``, ``lsgan`` or ``wgan-gp``)."""

    def __init__(self, input_shape: tuple[int, ...], latent_dim: int = 64, width: int = 64, loss: str = "ns",
                 n_classes: int = 0, gp_lambda: float = 10.0):
        super().__init__()
        if loss not in losses.GAN_LOSSES:
            raise SpecError(f"GAN loss must be one of {', '.join(losses.GAN_LOSSES)}, got '{loss}'")
        self.input_shape, self.latent_dim, self.loss_kind = tuple(input_shape), int(latent_dim), loss
        self.n_classes, self.gp_lambda = int(n_classes), float(gp_lambda)
        self.generator = Generator(input_shape, latent_dim, width, n_classes)
        self.discriminator = Discriminator(input_shape, width, n_classes)

    def sample(self, n: int, generator: torch.Generator | None = None, y: torch.Tensor | None = None) -> torch.Tensor:
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(device)
        if self.n_classes and y is None:
            y = torch.arange(n, device=device) % self.n_classes
        return self.generator(z, y)

    def d_loss(self, real: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        y = y if self.n_classes else None
        with torch.no_grad():
            fake = self.generator(torch.randn(real.shape[0], self.latent_dim, device=real.device), y)
        loss = losses.discriminator_loss(self.loss_kind, self.discriminator(real, y), self.discriminator(fake, y))
        if self.loss_kind == "wgan-gp":
            loss = loss + self.gp_lambda * losses.gradient_penalty(lambda t: self.discriminator(t, y), real, fake)
        return loss

    def g_loss(self, batch_size: int, y: torch.Tensor | None, device: torch.device) -> torch.Tensor:
        y = y if self.n_classes else None
        fake = self.generator(torch.randn(batch_size, self.latent_dim, device=device), y)
        return losses.generator_loss(self.loss_kind, self.discriminator(fake, y))
