"""Network building blocks shared by all agents.

:func:`build_encoder` maps an observation space to a feature extractor so agents never branch on
env types: vectors -> flatten, ``(C, 84, 84)`` uint8 frames -> :class:`NatureCNN`,
``(C, 10, 10)`` MinAtar grids -> :class:`MinAtarCNN`, ``Discrete`` -> one-hot.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlsuite.nets.cnn import MinAtarCNN, NatureCNN
from rlsuite.nets.heads import NoisyLinear, QHead, categorical_projection, expected_q
from rlsuite.nets.mlp import MLP, get_activation, layer_init

__all__ = [
    "MLP",
    "PRECISIONS",
    "FlattenFloat",
    "MinAtarCNN",
    "NatureCNN",
    "NoisyLinear",
    "OneHot",
    "QHead",
    "build_encoder",
    "categorical_projection",
    "expected_q",
    "get_activation",
    "layer_init",
]

# The ``runtime.precision`` setting of the agents that offer it (DDPG, the on-policy agents): the dtype their
# networks autocast to (None: plain float32).
PRECISIONS: dict[str, torch.dtype | None] = {"float32": None, "bfloat16": torch.bfloat16}


class OneHot(nn.Module):
    """Encodes integer observations (``Discrete`` spaces: FrozenLake, Taxi) as one-hot floats."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(x.long().reshape(-1), self.n).float()


class FlattenFloat(nn.Module):
    """Flattens everything but the batch dim and casts to float32 (vector / odd-shaped Box obs)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1).float()


def build_encoder(
    observation_space: gym.Space, pretrained: str | None = None, freeze: bool = True
) -> tuple[nn.Module, int]:
    """Pick the standard encoder for ``observation_space``; returns ``(module, features_dim)``.

    * ``Discrete(n)`` -> one-hot, ``n`` features.
    * ``Box`` of shape ``(C, H, W)`` with ``H, W >= 36`` and dtype uint8 -> :class:`NatureCNN`
      (512 features), input scaled by 1/255 inside the network.
    * ``Box`` of shape ``(C, 10, 10)`` (MinAtar, bool/uint8/float) -> :class:`MinAtarCNN` (128).
    * any other ``Box`` -> flatten to ``prod(shape)`` float features (an MLP trunk goes on top).

    Images must be channel-first; the Atari and MinAtar plugins already return them that way.
    ``pretrained``: a ``rlsuite fit`` run directory (VAE or CNN) whose encoder is used instead,
    frozen or fine-tuned (``freeze``); see :mod:`rlsuite.backbones.encoders`.
    """
    if pretrained:
        from rlsuite.backbones.encoders import load_encoder

        return load_encoder(pretrained, observation_space, freeze)
    if isinstance(observation_space, gym.spaces.Discrete):
        return OneHot(int(observation_space.n)), int(observation_space.n)
    if not isinstance(observation_space, gym.spaces.Box):
        raise TypeError(
            f"build_encoder supports Box and Discrete observation spaces, got {observation_space}; "
            "flatten Dict/Tuple spaces with gymnasium.wrappers.FlattenObservation"
        )
    shape = observation_space.shape
    if len(shape) == 3 and shape[1:] == (10, 10):
        minatar = MinAtarCNN(shape[0])
        return minatar, minatar.features_dim
    if len(shape) == 3 and observation_space.dtype == np.uint8 and min(shape[1:]) >= 36:
        nature = NatureCNN(shape[0], input_hw=(shape[1], shape[2]))
        return nature, nature.features_dim
    return FlattenFloat(), int(math.prod(shape))
