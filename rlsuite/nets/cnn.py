"""Convolutional encoders for pixel observations (channel-first, ``(B, C, H, W)``).

Pixel encoders take raw ``[0, 255]`` pixels (normally ``uint8``) and scale to ``[0, 1]`` inside
``forward``: replay buffers and rollouts then store and ship 1 byte per pixel to the device
(4x less host memory and host->device traffic than float32), and the cast happens where it is cheap.
The cast also puts the batch in the layout of the conv weights (:func:`float_input`), so a model moved
to ``torch.channels_last`` needs nothing else.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn


def _conv_out_hw(hw: tuple[int, int], kernel: int, stride: int) -> tuple[int, int]:
    return (hw[0] - kernel) // stride + 1, (hw[1] - kernel) // stride + 1


def float_input(x: torch.Tensor, first_conv: nn.Conv2d) -> torch.Tensor:
    """``x`` as a new float32 tensor in the memory layout of ``first_conv``'s weights, in one pass:
    NHWC when the model was put in ``torch.channels_last`` (its convolutions then run oneDNN's faster
    NHWC kernels without reordering the batch first), else NCHW."""
    weight = first_conv.weight
    nhwc = x.dim() == 4 and not weight.is_contiguous() and weight.is_contiguous(memory_format=torch.channels_last)
    layout = torch.channels_last if nhwc else torch.contiguous_format
    return x.to(torch.float32, memory_format=layout, copy=True)


class NatureCNN(nn.Module):
    """The DQN network body of Mnih et al. 2015: conv 32x8x8/4, 64x4x4/2, 64x3x3/1, fc 512, ReLUs.

    With the default 4x84x84 input: 3136 flattened features, 1,684,128 parameters (the heads add
    ``512 * n_actions + n_actions``). ``input_hw`` lets other square-ish frame sizes reuse the body.
    """

    def __init__(
        self,
        in_channels: int = 4,
        features_dim: int = 512,
        input_hw: tuple[int, int] = (84, 84),
    ):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, 32, 8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        hw = _conv_out_hw(_conv_out_hw(_conv_out_hw(input_hw, 8, 4), 4, 2), 3, 1)
        if min(hw) < 1:
            raise ValueError(f"NatureCNN needs frames of at least 36x36, got {input_hw}")
        self.fc = nn.Sequential(nn.Linear(64 * hw[0] * hw[1], features_dim), nn.ReLU())
        self.features_dim = features_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(float_input(x, cast(nn.Conv2d, self.conv[0])).div_(255.0)))  # in place on our own copy


class MinAtarCNN(nn.Module):
    """The MinAtar network of Young & Tian 2019: one conv 16x3x3/1 (no padding) on the
    ``(C, 10, 10)`` grid, ReLU, fc ``features_dim`` (128), ReLU. Inputs are 0/1 channels (bool,
    uint8 or float) and are only cast, not rescaled."""

    def __init__(self, in_channels: int, features_dim: int = 128, input_hw: tuple[int, int] = (10, 10)):
        super().__init__()
        hw = _conv_out_hw(input_hw, 3, 1)
        self.conv = nn.Sequential(nn.Conv2d(in_channels, 16, 3, stride=1), nn.ReLU(), nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(16 * hw[0] * hw[1], features_dim), nn.ReLU())
        self.features_dim = features_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(float_input(x, cast(nn.Conv2d, self.conv[0]))))
