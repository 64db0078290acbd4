"""Multi-layer perceptrons and the orthogonal initialisation the on-policy agents rely on.

PPO/A2C/TRPO implementations that match published numbers (OpenAI baselines, CleanRL) initialise
hidden layers orthogonally with gain sqrt(2), the policy output with 0.01 and the value output with 1:
the small policy gain keeps the initial policy near uniform, which matters for early exploration.
DQN-style agents keep PyTorch's default init, hence ``ortho_init`` is a flag rather than a default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}


def get_activation(activation: str | type[nn.Module]) -> type[nn.Module]:
    """Resolve an activation given by config name (``"relu"``) or as a module class."""
    if isinstance(activation, str):
        try:
            return _ACTIVATIONS[activation.lower()]
        except KeyError:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)}"
            ) from None
    return activation


def layer_init(layer: nn.Module, gain: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Orthogonal weight init with ``gain`` and constant bias, in place; returns the layer so it
    can wrap a constructor call (``layer_init(nn.Linear(64, 1), 1.0)``)."""
    weight = getattr(layer, "weight", None)
    if weight is not None:
        nn.init.orthogonal_(weight, gain)
    if getattr(layer, "bias", None) is not None:
        nn.init.constant_(layer.bias, bias)
    return layer


class MLP(nn.Module):
    """``in_dim -> hidden[0] -> ... -> hidden[-1] (-> out_dim)`` with an activation after every
    hidden layer and none after the output layer.

    ``out_dim=None`` makes a feature extractor whose output is the last hidden layer (activated);
    ``out_features`` tells callers the resulting width either way. With ``ortho_init`` hidden layers
    get gain sqrt(2) and the output layer ``out_gain`` (0.01 for policy logits, 1.0 for values).
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int],
        out_dim: int | None = None,
        activation: str | type[nn.Module] = "relu",
        ortho_init: bool = False,
        out_gain: float = 1.0,
        hidden_gain: float = math.sqrt(2),
        layer_norm: bool = False,
    ):
        super().__init__()
        act = get_activation(activation)
        layers: list[nn.Module] = []
        last = int(in_dim)
        for width in hidden:
            lin = nn.Linear(last, int(width))
            if ortho_init:
                layer_init(lin, hidden_gain)
            layers.append(lin)
            if layer_norm:
                layers.append(nn.LayerNorm(int(width)))
            layers.append(act())
            last = int(width)
        if out_dim is not None:
            out = nn.Linear(last, int(out_dim))
            if ortho_init:
                layer_init(out, out_gain)
            layers.append(out)
            last = int(out_dim)
        self.net = nn.Sequential(*layers)
        self.in_features = int(in_dim)
        self.out_features = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
