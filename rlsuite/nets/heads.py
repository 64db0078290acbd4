"""Output heads: noisy linear layers, the DQN-family Q head (dueling / noisy / distributional),
and the C51 categorical projection.

One :class:`QHead` covers every Rainbow ablation through flags (Dopamine-style), so the agent code
for "double + dueling + noisy + C51" is the same as for vanilla DQN.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class NoisyLinear(nn.Module):
    """Linear layer with factorised Gaussian parameter noise (Fortunato et al. 2018, NoisyNet).

    ``w = mu_w + sigma_w * (f(eps_out) f(eps_in)^T)``, ``b = mu_b + sigma_b * f(eps_out)`` with
    ``f(x) = sign(x) sqrt(|x|)``; ``mu ~ U(-1/sqrt(p), 1/sqrt(p))`` and ``sigma = sigma0/sqrt(p)``
    (``p`` = fan-in). Factorised noise needs ``p + q`` Gaussian draws instead of ``p * q``, which is
    what makes it cheap enough to resample every step. Noise only applies in ``train()`` mode: in
    ``eval()`` mode (and whenever the noise buffers are zero) it is exactly ``F.linear(x, mu_w, mu_b)``.
    Call :meth:`reset_noise` to draw new noise (the agent does this once per update / act).
    """

    eps_in: torch.Tensor  # noise buffers, registered in __init__
    eps_out: torch.Tensor

    def __init__(self, in_features: int, out_features: int, sigma0: float = 0.5):
        super().__init__()
        self.in_features, self.out_features, self.sigma0 = in_features, out_features, sigma0
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features))
        self.weight_sigma = nn.Parameter(torch.empty(out_features, in_features))
        self.bias_mu = nn.Parameter(torch.empty(out_features))
        self.bias_sigma = nn.Parameter(torch.empty(out_features))
        self.register_buffer("eps_in", torch.zeros(in_features))
        self.register_buffer("eps_out", torch.zeros(out_features))
        self.reset_parameters()
        self.reset_noise()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_features)
        sigma = self.sigma0 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight_mu, -bound, bound)
        nn.init.constant_(self.weight_sigma, sigma)
        nn.init.uniform_(self.bias_mu, -bound, bound)
        nn.init.constant_(self.bias_sigma, sigma)

    @staticmethod
    def _f(x: torch.Tensor) -> torch.Tensor:
        return x.sign() * x.abs().sqrt()

    @torch.no_grad()
    def reset_noise(self) -> None:
        """Draw fresh factorised noise (from torch's global RNG, so seeding torch makes it repeat)."""
        self.eps_in.copy_(self._f(torch.randn(self.in_features, device=self.eps_in.device)))
        self.eps_out.copy_(self._f(torch.randn(self.out_features, device=self.eps_out.device)))

    @torch.no_grad()
    def zero_noise(self) -> None:
        """Set the noise to zero: the layer then acts as its mean network even in train mode."""
        self.eps_in.zero_()
        self.eps_out.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.linear(x, self.weight_mu, self.bias_mu)
        weight = self.weight_mu + self.weight_sigma * torch.outer(self.eps_out, self.eps_in)
        return F.linear(x, weight, self.bias_mu + self.bias_sigma * self.eps_out)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, sigma0={self.sigma0}"


def _linear(in_f: int, out_f: int, noisy: bool, sigma0: float) -> nn.Module:
    return NoisyLinear(in_f, out_f, sigma0) if noisy else nn.Linear(in_f, out_f)


def _stream(in_f: int, out_f: int, hidden: int | None, noisy: bool, sigma0: float,
            dropout: float = 0.0) -> nn.Sequential:
    if hidden is None:
        return nn.Sequential(_linear(in_f, out_f, noisy, sigma0))
    drop = [nn.Dropout(dropout)] if dropout > 0 else []
    return nn.Sequential(
        _linear(in_f, hidden, noisy, sigma0), nn.ReLU(), *drop, _linear(hidden, out_f, noisy, sigma0)
    )


class QHead(nn.Module):
    """Maps encoder features ``(B, in_features)`` to Q values ``(B, A)`` or, with ``n_atoms > 1``,
    to return-distribution logits ``(B, A, n_atoms)`` (softmax over the last dim; see
    :func:`expected_q`).

    * ``dueling``: separate value and advantage streams, ``Q = V + (A - mean_a A)`` (Wang et al.
      2016); plain ``Q = V + A`` is unidentifiable. For C51 the combination is done per atom on the
      logits, before the softmax, as in Rainbow.
    * ``noisy``: every linear layer is a :class:`NoisyLinear` (replaces epsilon-greedy).
    * ``hidden``: an extra hidden layer (ReLU) per stream, e.g. 512 when the encoder has no fc.
    * ``dropout``: dropout after that hidden layer (Caicedo & Lazebnik's Q-network); 0: none.
    """

    def __init__(
        self,
        in_features: int,
        n_actions: int,
        dueling: bool = False,
        noisy: bool = False,
        n_atoms: int = 1,
        hidden: int | None = None,
        sigma0: float = 0.5,
        dropout: float = 0.0,
    ):
        super().__init__()
        if n_atoms < 1:
            raise ValueError(f"n_atoms must be >= 1, got {n_atoms}")
        self.n_actions, self.n_atoms, self.dueling, self.noisy = n_actions, n_atoms, dueling, noisy
        self.advantage = _stream(in_features, n_actions * n_atoms, hidden, noisy, sigma0, dropout)
        self.value = _stream(in_features, n_atoms, hidden, noisy, sigma0, dropout) if dueling else None

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        b = features.shape[0]
        out = self.advantage(features).view(b, self.n_actions, self.n_atoms)
        if self.value is not None:
            v = self.value(features).view(b, 1, self.n_atoms)
            out = v + out - out.mean(dim=1, keepdim=True)
        return out.squeeze(-1) if self.n_atoms == 1 else out


def expected_q(logits: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """Q values ``(B, A)`` from C51 logits ``(B, A, N)``: ``sum_i softmax(logits)_i * z_i``."""
    return (logits.softmax(dim=-1) * support).sum(dim=-1)


def categorical_projection(
    next_probs: torch.Tensor,
    rewards: torch.Tensor,
    discounts: torch.Tensor,
    support: torch.Tensor,
) -> torch.Tensor:
    """Project the distribution of ``r + discount * Z`` onto the fixed ``support`` (C51, Bellemare
    et al. 2017, Algorithm 1), vectorised over the batch.

    Args:
        next_probs: ``(B, N)`` probabilities of ``Z(s', a*)`` over the support.
        rewards: ``(B,)`` (n-step) rewards.
        discounts: ``(B,)`` ``gamma^n * (1 - terminated)``; zero puts all mass on the projected reward.
        support: ``(N,)`` evenly spaced atoms from ``v_min`` to ``v_max``.

    Returns ``(B, N)`` target probabilities (rows sum to 1). Atoms landing outside
    ``[v_min, v_max]`` are clamped to the edges; an atom landing exactly on a support point
    (``l == u``) gives it all its mass (the naive ``(u - b), (b - l)`` split would drop it).
    """
    n = support.shape[0]
    v_min, v_max = support[0], support[-1]
    delta_z = (v_max - v_min) / (n - 1)
    tz = rewards.unsqueeze(1) + discounts.unsqueeze(1) * support.unsqueeze(0)  # (B, N)
    tz = tz.clamp(v_min, v_max)
    b = ((tz - v_min) / delta_z).clamp(0, n - 1)  # clamp again: float error may give n-1+eps
    lower = b.floor()
    upper = b.ceil()
    w_lower = (upper - b) + (upper == lower).to(b.dtype)  # all mass on l when b is an integer
    w_upper = b - lower
    probs = next_probs.to(b.dtype)
    offset = (torch.arange(probs.shape[0], device=probs.device) * n).unsqueeze(1)
    target = torch.zeros(probs.numel(), dtype=b.dtype, device=probs.device)
    target.index_add_(0, (lower.long() + offset).view(-1), (probs * w_lower).view(-1))
    target.index_add_(0, (upper.long() + offset).view(-1), (probs * w_upper).view(-1))
    return target.view_as(probs)

