"""Multi-layer perceptrons (DQN, DDPG/TD3), activations by name, and the orthogonal initialisation
the on-policy agents rely on.

PPO/A2C/TRPO implementations that match published numbers (OpenAI baselines, CleanRL) initialise
hidden layers orthogonally with gain sqrt(2), the policy output with 0.01 and the value output with 1
(:class:`rlsuite.policies.ActorCritic` does, with :func:`layer_init`): the small policy gain keeps the
initial policy near uniform, which matters for early exploration. DQN-style agents keep PyTorch's
default init.
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
    weight, bias_param = getattr(layer, "weight", None), getattr(layer, "bias", None)
    if weight is not None:
        nn.init.orthogonal_(weight, gain)
    if bias_param is not None:
        nn.init.constant_(bias_param, bias)
    return layer


class MLP(nn.Module):
    """``in_dim -> hidden[0] -> ... -> hidden[-1] (-> out_dim)`` with an activation after every
    hidden layer and none after the output layer, PyTorch's default initialisation.

    ``dropout > 0`` adds dropout after every hidden activation (none after the output layer).
    ``out_dim=None`` makes a feature extractor whose output is the last hidden layer (activated);
    ``out_features`` tells callers the resulting width either way.
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int],
        out_dim: int | None = None,
        activation: str | type[nn.Module] = "relu",
        dropout: float = 0.0,
    ):
        super().__init__()
        act = get_activation(activation)
        layers: list[nn.Module] = []
        last = int(in_dim)
        for width in hidden:
            layers += [nn.Linear(last, int(width)), act()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            last = int(width)
        if out_dim is not None:
            layers.append(nn.Linear(last, int(out_dim)))
            last = int(out_dim)
        self.net = nn.Sequential(*layers)
        self.in_features = int(in_dim)
        self.out_features = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
