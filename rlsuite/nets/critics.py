"""What the continuous-action actor-critics (DDPG/TD3, SAC) share: Q(s, a) critics on concat(s, a)
and the affine map between the actor's [−1, 1] and a Box's bounds."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from rlsuite.nets.mlp import MLP


def scale_action(normalized: np.ndarray | torch.Tensor, low: Any, high: Any) -> Any:
    """Map [−1, 1] to [low, high] affinely (−1 → low, +1 → high)."""
    return low + 0.5 * (normalized + 1.0) * (high - low)


def unscale_action(action: np.ndarray | torch.Tensor, low: Any, high: Any) -> Any:
    """Inverse of :func:`scale_action`: [low, high] → [−1, 1]."""
    return 2.0 * (action - low) / (high - low) - 1.0


class Critics(nn.Module):
    """``n`` independent Q(s, a) MLPs on concat(s, a); ``forward`` returns shape ``(n, batch)``."""

    def __init__(self, obs_dim: int, action_dim: int, net_arch: list[int], n_critics: int, activation: str = "relu"):
        super().__init__()
        self.qs = nn.ModuleList(MLP(obs_dim + action_dim, net_arch, 1, activation) for _ in range(n_critics))

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs.flatten(1).float(), actions], dim=1)
        return torch.stack([q(x).squeeze(-1) for q in self.qs])

    def q1(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """The first critic only: what the actor maximises (TD3 paper, as DDPG)."""
        return self.qs[0](torch.cat([obs.flatten(1).float(), actions], dim=1)).squeeze(-1)
