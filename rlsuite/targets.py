"""Target networks: one update for soft (Polyak) and hard copies, shared by DQN and DDPG/TD3.

    θ_target ← τ θ_online + (1 − τ) θ_target          (τ = 1 is DQN's hard copy)

It runs in place under ``torch.no_grad``, one public ``copy_``/``lerp_`` per parameter tensor (a
handful of tensors per network: microseconds against milliseconds for the update it follows).
Buffers (e.g. BatchNorm running stats) are copied outright, as in SB3.
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def polyak_update(online: nn.Module, target: nn.Module, tau: float) -> None:
    """``target ← tau · online + (1 − tau) · target`` for every parameter; buffers are copied."""
    if not 0.0 <= tau <= 1.0:
        raise ValueError(f"tau must be in [0, 1], got {tau}")
    online_params: list[torch.Tensor] = list(online.parameters())
    target_params: list[torch.Tensor] = list(target.parameters())
    if len(online_params) != len(target_params):
        raise ValueError("online and target networks have different parameter lists")
    if tau == 1.0:
        for t_param, o_param in zip(target_params, online_params):
            t_param.copy_(o_param)
    elif tau > 0.0:
        # lerp: target + tau * (online - target), the same affine combination in one op per tensor.
        for t_param, o_param in zip(target_params, online_params):
            t_param.lerp_(o_param, tau)
    for t_buf, o_buf in zip(target.buffers(), online.buffers()):
        t_buf.copy_(o_buf)

