"""Export a trained agent's greedy policy for use outside Python training (``rlsuite export``).

An agent that can be exported provides ``greedy_policy_module() -> torch.nn.Module``: a module
that maps a batch of raw observations, exactly as the environment emits them (``uint8`` pixels,
stacked frames in the env's own layout, float vectors), to the actions ``agent.act(obs,
deterministic=True)`` returns for that batch. Everything ``act`` does around the network lives in
that module: pixel scaling, running observation normalisation, the argmax over Q-values or the
distribution's mode, rescaling ``tanh`` outputs to the action bounds, clipping. The module is a copy,
so exporting never changes the agent.

Formats:

* ``onnx``: ``<out>.onnx`` (input ``obs``, output ``action``, the batch dimension dynamic) and
  ``<out>.json``, the spec: names, shapes (``"batch"`` for the dynamic dimension), dtypes, the
  observation and action spaces, the agent, the opset.
* ``torchscript``: ``<out>.pt`` (``torch.jit.trace`` of the same module) and the same spec.

Agents without a fixed feed-forward greedy policy (tabular tables, the SB3 adapter, recurrent
policies such as RL²) have no ``greedy_policy_module`` or raise :class:`ExportError` from it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rlsuite.errors import ConfigError, suggest

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
OPSET = 17


class ExportError(ConfigError):
    """The agent or the request cannot be exported (CLI: one line, exit 2)."""


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` on the CPU in eval mode with gradients off (the agent keeps its own)."""
    clone = copy.deepcopy(module).cpu().eval()
    clone.requires_grad_(False)
    return clone


def greedy_policy(agent: Any) -> nn.Module:
    """The agent's greedy policy as a CPU module in eval mode; :class:`ExportError` when it has none."""
    make = getattr(agent, "greedy_policy_module", None)
    if make is None:
        raise ExportError(f"agent '{getattr(agent, 'name', type(agent).__name__)}' cannot be exported: it has no "
                          "feed-forward greedy policy network (exportable: dqn, rainbow, ddpg, td3 and the "
                          "feed-forward on-policy agents)")
    module = make()
    return module.cpu().eval()


def _space_json(space: Any) -> dict[str, Any]:
    from rlsuite.spaces import space_to_json

    return space_to_json(space)


def example_observations(space: Any, batch: int = 2, seed: int = 0) -> np.ndarray:
    """``batch`` observations sampled from ``space`` (what the exporters trace with)."""
    space.seed(seed)
    return np.stack([np.asarray(space.sample()) for _ in range(batch)])


def spec(agent: Any, fmt: str, obs: np.ndarray, actions: np.ndarray) -> dict[str, Any]:
    """The JSON spec written beside the exported file."""
    return {
        "format": fmt,
        "agent": agent.name,
        "opset": OPSET if fmt == "onnx" else None,
        "inputs": [{"name": "obs", "shape": ["batch", *obs.shape[1:]], "dtype": str(obs.dtype)}],
        "outputs": [{"name": "action", "shape": ["batch", *actions.shape[1:]], "dtype": str(actions.dtype)}],
        "observation_space": _space_json(agent.observation_space),
        "action_space": _space_json(agent.action_space),
        "deterministic": True,
        "preprocessing": "included: feed observations exactly as the environment emits them",
    }


def export_policy(agent: Any, out: str | Path, fmt: str = "onnx") -> tuple[Path, Path]:
    """Write ``agent``'s greedy policy as ``fmt`` to ``out`` (suffix added when missing) and its spec
    as ``<out>.json``; returns both paths. Nothing is left behind when the export fails."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}'.{suggest(fmt, FORMATS)} Accepted: {', '.join(FORMATS)}")
    module = greedy_policy(agent)
    path = Path(out)
    if path.suffix != FORMATS[fmt]:
        path = path.with_name(path.name + FORMATS[fmt])
    spec_path = path.with_suffix(".json")
    obs = example_observations(agent.observation_space)
    example = torch.from_numpy(obs)
    with torch.no_grad():
        actions = module(example).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if fmt == "onnx":
            _write_onnx(module, example, path)
        else:
            with torch.no_grad():
                torch.jit.trace(module, example).save(str(path))
        spec_path.write_text(json.dumps(spec(agent, fmt, obs, actions), indent=2) + "\n")
    except BaseException:
        path.unlink(missing_ok=True)
        spec_path.unlink(missing_ok=True)
        raise
    return path, spec_path


def _write_onnx(module: nn.Module, example: torch.Tensor, path: Path) -> None:
    try:
        import onnx  # noqa: F401  (the exporter needs it; checked here for a one-line message)
    except ImportError as err:
        raise ExportError("format=onnx needs the onnx package: pip install 'rlsuite[export]'") from err
    # The TorchScript-based exporter: it handles the small policy graphs here without onnxscript's
    # decomposition pass and keeps the batch dimension symbolic through ``dynamic_axes``.
    with torch.no_grad():
        torch.onnx.export(module, (example,), str(path), input_names=["obs"], output_names=["action"],
                          dynamic_axes={"obs": {0: "batch"}, "action": {0: "batch"}}, opset_version=OPSET,
                          dynamo=False)


# --------------------------------------------------------------------------- greedy policy modules
class ArgmaxQ(nn.Module):
    """``argmax_a Q(s, a)``; with ``support`` (distributional Q) the expectation over the atoms first."""

    support: torch.Tensor | None

    def __init__(self, q_net: nn.Module, support: torch.Tensor | None = None):
        super().__init__()
        self.q_net = frozen_copy(q_net)
        self.register_buffer("support", None if support is None else support.detach().cpu().clone())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        out = self.q_net(obs)
        if self.support is not None:
            from rlsuite.nets import expected_q

            out = expected_q(out, self.support)
        return out.argmax(dim=1)


class ScaledActor(nn.Module):
    """A deterministic actor with outputs in ``[−1, 1]`` mapped affinely onto ``[low, high]``."""

    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, actor: nn.Module, low: np.ndarray, high: np.ndarray, action_shape: tuple[int, ...]):
        super().__init__()
        self.actor = frozen_copy(actor)
        self.register_buffer("low", torch.as_tensor(np.asarray(low, np.float32).reshape(-1)))
        self.register_buffer("high", torch.as_tensor(np.asarray(high, np.float32).reshape(-1)))
        self.action_shape = tuple(int(n) for n in action_shape)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        normalized = self.actor(obs.flatten(1).float())
        actions = self.low + 0.5 * (normalized + 1.0) * (self.high - self.low)
        return actions.reshape(-1, *self.action_shape)


class DistributionMode(nn.Module):
    """The mode of an :class:`~rlsuite.policies.ActorCritic`'s action distribution, after the
    agent's observation normalisation and before the env's bounds (Gaussian actions clipped to a
    finite Box, as :meth:`~rlsuite.policies.ActorCritic.env_actions` does)."""

    policy: Any
    obs_mean: torch.Tensor | None
    obs_std: torch.Tensor
    low: torch.Tensor | None
    high: torch.Tensor

    def __init__(self, policy: Any, obs_mean: np.ndarray | None = None, obs_var: np.ndarray | None = None,
                 eps: float = 1e-8, clip_obs: float = 10.0, float_obs: bool = False):
        super().__init__()
        self.policy = frozen_copy(policy)
        normalize = obs_mean is not None and obs_var is not None
        self.register_buffer("obs_mean", torch.as_tensor(np.asarray(obs_mean, np.float64)) if normalize else None)
        self.register_buffer("obs_std", torch.as_tensor(np.sqrt(np.asarray(obs_var, np.float64) + eps))
                             if normalize else None)
        self.clip_obs, self.float_obs = float(clip_obs), bool(float_obs)
        box = policy.log_std is not None
        clip = box and not policy.squash and bool(getattr(policy, "_clip", False))
        self.register_buffer("low", torch.as_tensor(policy._low_np, dtype=torch.float32) if clip else None)
        self.register_buffer("high", torch.as_tensor(policy._high_np, dtype=torch.float32) if clip else None)
        self.box_shape = tuple(int(n) for n in policy._box_shape) if box else None

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.obs_mean is not None:  # in float64 like the numpy normaliser, then float32
            scaled = (obs.double() - self.obs_mean) / self.obs_std
            obs = scaled.clamp(-self.clip_obs, self.clip_obs).float()
        elif self.float_obs:
            obs = obs.float()
        params, _ = self.policy(obs)
        actions = self.policy.make_distribution(params).mode()
        if self.low is not None:
            actions = torch.maximum(torch.minimum(actions, self.high), self.low)
        if self.box_shape is not None:
            actions = actions.reshape(-1, *self.box_shape)
        return actions
