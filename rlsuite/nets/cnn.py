"""Convolutional encoders for pixel observations (channel-first, ``(B, C, H, W)``).

Pixel encoders take raw ``[0, 255]`` pixels (normally ``uint8``) and scale to ``[0, 1]`` inside
``forward``: replay buffers and rollouts then store and ship 1 byte per pixel to the device
(4x less host memory and host->device traffic than float32), and the cast happens where it is cheap.
"""

from __future__ import annotations

import torch
from torch import nn


def _to_float(x: torch.Tensor, scale: bool) -> torch.Tensor:
    x = x.float()
    return x / 255.0 if scale else x


def _conv_out_hw(hw: tuple[int, int], kernel: int, stride: int, padding: int = 0) -> tuple[int, int]:
    return tuple((d + 2 * padding - kernel) // stride + 1 for d in hw)  # type: ignore[return-value]


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
        scale: bool = True,
    ):
        super().__init__()
        self.scale = scale
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, 32, 8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        hw = _conv_out_hw(_conv_out_hw(_conv_out_hw(tuple(input_hw), 8, 4), 4, 2), 3, 1)
        if min(hw) < 1:
            raise ValueError(f"NatureCNN needs frames of at least 36x36, got {input_hw}")
        self.fc = nn.Sequential(nn.Linear(64 * hw[0] * hw[1], features_dim), nn.ReLU())
        self.features_dim = features_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(_to_float(x, self.scale)))


class _ResidualBlock(nn.Module):
    """relu -> conv3x3 -> relu -> conv3x3, plus the identity (pre-activation, as in IMPALA)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv1(torch.relu(self.conv0(torch.relu(x))))


class _ConvSequence(nn.Module):
    """conv3x3 -> maxpool 3x3/2 -> two residual blocks: one IMPALA "stack"."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.res0 = _ResidualBlock(out_channels)
        self.res1 = _ResidualBlock(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res1(self.res0(self.pool(self.conv(x))))


class ImpalaCNN(nn.Module):
    """The deep IMPALA encoder (Espeholt et al. 2018): stacks of 16/32/32 channels, each
    conv -> maxpool/2 -> 2 residual blocks, then ReLU, fc ``features_dim`` (256), ReLU.

    It is ~15 layers deep yet has fewer parameters than NatureCNN at 84x84 (the fc sees 32x11x11);
    it generalises and scales better, at a higher compute cost per frame.
    """

    def __init__(
        self,
        in_channels: int = 4,
        features_dim: int = 256,
        channels: tuple[int, ...] = (16, 32, 32),
        input_hw: tuple[int, int] = (84, 84),
        scale: bool = True,
    ):
        super().__init__()
        self.scale = scale
        stacks = []
        c, hw = in_channels, tuple(input_hw)
        for out in channels:
            stacks.append(_ConvSequence(c, out))
            c, hw = out, _conv_out_hw(hw, 3, 2, padding=1)
        self.stacks = nn.Sequential(*stacks)
        self.fc = nn.Sequential(nn.Linear(c * hw[0] * hw[1], features_dim), nn.ReLU())
        self.features_dim = features_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.stacks(_to_float(x, self.scale)))
        return self.fc(h.flatten(1))


class MinAtarCNN(nn.Module):
    """The MinAtar network of Young & Tian 2019: one conv 16x3x3/1 (no padding) on the
    ``(C, 10, 10)`` grid, ReLU, fc ``features_dim`` (128), ReLU. Inputs are 0/1 channels (bool,
    uint8 or float) and are only cast, not rescaled."""

    def __init__(self, in_channels: int, features_dim: int = 128, input_hw: tuple[int, int] = (10, 10)):
        super().__init__()
        hw = _conv_out_hw(tuple(input_hw), 3, 1)
        self.conv = nn.Sequential(nn.Conv2d(in_channels, 16, 3, stride=1), nn.ReLU(), nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(16 * hw[0] * hw[1], features_dim), nn.ReLU())
        self.features_dim = features_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x.float()))
