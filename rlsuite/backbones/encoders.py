"""Pretrained backbone encoders for agents' image networks (``agent.net.encoder=<fit run dir>``).

* a VAE run gives its inference network; the features are the posterior mean μ(x)
  (``latent_dim`` numbers) — the representation the VAE was trained to make informative;
* a CNN run gives its penultimate features (``SpecCNN.features``).

Frozen (``agent.net.freeze_encoder=true``, the default): parameters get ``requires_grad=False`` and the module
stays in eval mode (batch-norm statistics do not drift), so only the layers above it learn.
Fine-tuned: the encoder trains with the rest of the network from the pretrained weights.
Observations are cast to float; ``uint8`` observations are scaled by 1/255 when the backbone was
trained on [0, 1] images (MinAtar's 0/1 grids are used as they are).

The agent's config keeps the run path: a saved agent is rebuilt (``rlsuite.load``) by loading the
backbone from that path before its own saved weights replace the encoder's, so the fit run must
still exist where it was.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlsuite.backbones.generative import VAE
from rlsuite.backbones.spec import SpecCNN
from rlsuite.errors import ConfigError, IncompatibleEnvError


class PretrainedEncoder(nn.Module):
    def __init__(self, backbone: nn.Module, scale: bool, frozen: bool):
        super().__init__()
        self.backbone, self.scale, self.frozen = backbone, scale, frozen
        if isinstance(backbone, VAE):
            # only the inference network is kept (the decoder is not needed to act)
            self.body: nn.Module = nn.Sequential(backbone.encoder, backbone.to_stats)
            self.features_dim = backbone.latent_dim
            del self.backbone
        elif isinstance(backbone, SpecCNN):
            self.body = backbone
            self.features_dim = backbone.feature_dim
            del self.backbone
        else:
            raise ConfigError(f"agent.net.encoder needs a vae or cnn fit run, got a {type(backbone).__name__}")
        self.is_vae = isinstance(backbone, VAE)
        if frozen:
            for p in self.body.parameters():
                p.requires_grad_(False)
        self.train(False)

    def train(self, mode: bool = True) -> PretrainedEncoder:
        super().train(mode and not self.frozen)
        return self

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float() / 255.0 if (self.scale and obs.dtype == torch.uint8) else obs.float()
        if self.is_vae:
            return self.body(x).chunk(2, dim=-1)[0]
        assert isinstance(self.body, SpecCNN)
        return self.body.features(x)


def load_encoder(run: str | Path, observation_space: gym.Space, freeze: bool = True) -> tuple[nn.Module, int]:
    """The encoder of a fit run for ``observation_space``; returns ``(module, features_dim)`` like
    :func:`rlsuite.nets.build_encoder`. One clear error when the shapes do not match."""
    from rlsuite.backbones.training import load

    model = load(run)
    shape = tuple(getattr(observation_space, "shape", None) or ())
    want = tuple(getattr(model, "input_shape", ()))
    if shape != want:
        raise IncompatibleEnvError(
            f"encoder {run} was trained on inputs shaped {want}, but the env's observations are shaped {shape}")
    scale = isinstance(observation_space, gym.spaces.Box) and observation_space.dtype == np.uint8 and float(
        np.max(observation_space.high)) > 1
    enc = PretrainedEncoder(model, scale=scale, frozen=bool(freeze))
    return enc, enc.features_dim
