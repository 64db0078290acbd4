"""A Numba forward pass for collecting rollouts with small MLP policies on the CPU.

At CartPole scale a rollout step's torch forward pass (two small trunks, two heads, a sample, a
log-probability and the tensor↔numpy conversions) costs about as much as stepping the envs.
:class:`NumbaActor` runs the same computation in one compiled call on the numpy observations,
reading the policy's weights packed once per rollout (they do not change while collecting).
What it buys is measured in dev-notes/benchmarks-lab-notes.md; ``runtime.numba_acting=false`` switches it off.
:class:`NumbaGreedy` does the same for a feed-forward Q-network's greedy action (DQN's ε-greedy
acting, one env step at a time: a torch forward of a batch of one costs about 60 µs).

There is one definition of the network, the torch :class:`~rlsuite.policies.ActorCritic`.
:meth:`NumbaActor.for_policy` translates it: each trunk's :meth:`~rlsuite.policies.Trunk.sequence`
(the modules its ``forward`` applies, in order) becomes a program of dense layers, module by module
(the flattening encoder, ``nn.Linear``, and the activations in ``_ACTIVATIONS``), the heads must be
``nn.Linear`` and the distribution :class:`~rlsuite.policies.Categorical` or an unsquashed
:class:`~rlsuite.policies.DiagGaussian`. Anything else (images, one-hot, MultiDiscrete, squashed
Gaussians, another activation or layer, a subclass overriding the network, CUDA) returns None and the
rollout keeps the torch path. As a last guard it compares its output with the torch policy's on a
probe batch and falls back when they disagree. Differences to the torch path:

* the sampling noise comes from the agent's numpy generator (saved in checkpoints like every RNG);
* float32 arithmetic in a different summation order, and tanh as a rational approximation (below):
  log-probabilities and values agree with the torch network to ~1e-6 (tested), so PPO's
  first-epoch ratio is 1 to that precision.
"""

from __future__ import annotations

import math
import warnings

import gymnasium as gym
import numpy as np
import torch
from numba import njit
from torch import nn

from rlsuite.nets import MLP, FlattenFloat
from rlsuite.policies import ActorCritic, Categorical, DiagGaussian, Trunk

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
# Activation module -> the code _dense applies after a layer's affine map (-1: none).
_ACTIVATIONS: dict[type[nn.Module], int] = {nn.Tanh: 0, nn.ReLU: 1}
_NO_ACTIVATION = -1
# What the torch policy's distribution must be for the kernel's sampling and log-probability.
_DISTRIBUTIONS: dict[type, bool] = {Categorical: False, DiagGaussian: True}  # -> gaussian


# Rational approximation of tanh on [-7.9053, 7.9053] (Eigen's float tanh; beyond, tanh rounds to
# ±1 in float32): unlike libm's scalar tanhf it vectorizes. Max abs error vs float64 tanh < 1e-6 (tested).
_TANH_CLAMP = 7.90531110763549805
_TANH_ALPHA = (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
               1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03)
_TANH_BETA = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03)


@njit(cache=True, fastmath=True, inline="always")
def _tanh(x: float) -> float:  # pragma: no cover - compiled
    x = min(max(x, -_TANH_CLAMP), _TANH_CLAMP)
    x2 = x * x
    p = _TANH_ALPHA[0]
    for c in _TANH_ALPHA[1:]:
        p = p * x2 + c
    q = _TANH_BETA[0]
    for c in _TANH_BETA[1:]:
        q = q * x2 + c
    return x * p / q


@njit(cache=True, fastmath=True)
def _dense(x: np.ndarray, flat: np.ndarray, w_off: int, b_off: int, n_in: int, n_out: int,
           activation: int) -> np.ndarray:  # pragma: no cover - compiled
    """``act(x @ W.T + b)`` with W stored transposed, ``(n_in, n_out)`` row-major at ``flat[w_off:]``
    (a plain contiguous matrix for the BLAS call); activation 0 tanh, 1 relu, -1 none."""
    y = np.dot(x, flat[w_off:w_off + n_in * n_out].reshape(n_in, n_out))  # BLAS sgemm
    bias = flat[b_off:b_off + n_out]
    for i in range(y.shape[0]):
        row = y[i]
        for o in range(n_out):
            v = row[o] + bias[o]
            if activation == 0:
                v = _tanh(v)
            elif activation == 1:
                v = max(v, 0.0)
            row[o] = v
    return y


@njit(cache=True, fastmath=True)
def _run(x: np.ndarray, flat: np.ndarray, program: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Dense layers given as rows (w_off, b_off, n_in, n_out, activation) of ``program``."""
    h = x
    for j in range(program.shape[0]):
        h = _dense(h, flat, program[j, 0], program[j, 1], program[j, 2], program[j, 3], program[j, 4])
    return h


@njit(cache=True)
def _argmax_rows(obs: np.ndarray, flat: np.ndarray, program: np.ndarray) -> np.ndarray:  # pragma: no cover
    """argmax of each row of the network's output (the first maximum on ties, as torch.argmax)."""
    q = _run(obs, flat, program)
    best = np.empty(q.shape[0], np.int64)
    for i in range(q.shape[0]):
        best[i] = np.argmax(q[i])
    return best


@njit(cache=True)
def _act(obs: np.ndarray, flat: np.ndarray, actor_program: np.ndarray, critic_program: np.ndarray, shared: bool,
         actor_head: np.ndarray, critic_head: np.ndarray, gaussian: bool, log_std: np.ndarray, noise: np.ndarray,
         deterministic: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    actor_features = _run(obs, flat, actor_program)
    critic_features = actor_features if shared else _run(obs, flat, critic_program)
    out = _run(actor_features, flat, actor_head)
    values = _run(critic_features, flat, critic_head)[:, 0]
    n, k = out.shape
    log_probs = np.empty(n, np.float32)
    if gaussian:
        actions = np.empty((n, k), np.float32)
        for i in range(n):
            total = 0.0
            for j in range(k):
                z = 0.0 if deterministic else noise[i, j]
                actions[i, j] = out[i, j] + math.exp(log_std[j]) * z
                total += -0.5 * z * z - log_std[j] - _LOG_SQRT_2PI
            log_probs[i] = total
        return actions, log_probs, values
    discrete = np.empty((n, 1), np.float32)
    for i in range(n):
        peak = out[i, 0]
        for j in range(1, k):
            peak = max(peak, out[i, j])
        total = 0.0
        for j in range(k):
            total += math.exp(out[i, j] - peak)
        log_norm = peak + math.log(total)
        best, best_score = 0, -np.inf
        for j in range(k):  # Gumbel-max: argmax(logits + Gumbel noise) is an exact sample
            score = out[i, j]
            if not deterministic:
                score -= math.log(-math.log(max(noise[i, j], 1e-20)))
            if score > best_score:
                best, best_score = j, score
        discrete[i, 0] = best
        log_probs[i] = out[i, best] - log_norm
    return discrete, log_probs, values


class _Packer:
    """Lays out ``nn.Linear`` weights in one flat float32 array: rows of a program and the tensors
    to copy, in order."""

    def __init__(self) -> None:
        self.tensors: list[torch.Tensor] = []
        self.offset = 0

    def dense(self, layer: nn.Linear) -> list[int]:
        n_out, n_in = layer.weight.shape
        row = [self.offset, self.offset + n_out * n_in, n_in, n_out, _NO_ACTIVATION]
        self.tensors += [layer.weight, layer.bias]
        self.offset += n_out * n_in + n_out
        return row

    def trunk(self, trunk: Trunk) -> list[list[int]] | None:
        """The program for ``trunk.sequence()``, or None when a module has no kernel step."""
        return self.layers(trunk.sequence())

    def layers(self, modules: list[nn.Module]) -> list[list[int]] | None:
        """The program for ``modules`` applied in order (a flattening encoder first, then dense layers
        and their activations), or None when a module has no kernel step."""
        if not modules or type(modules[0]) is not FlattenFloat:
            return None
        rows: list[list[int]] = []
        for module in modules[1:]:
            if type(module) is nn.Linear and module.bias is not None:
                rows.append(self.dense(module))
            elif type(module) in _ACTIVATIONS and rows and rows[-1][4] == _NO_ACTIVATION:
                rows[-1][4] = _ACTIVATIONS[type(module)]
            else:
                return None
        return rows

    def copy_into(self, flat: torch.Tensor) -> None:
        """Copy the packed tensors into ``flat`` (weights transposed to (n_in, n_out), see _dense)."""
        with torch.no_grad():
            torch.cat([(t.t() if t.dim() == 2 else t).reshape(-1) for t in self.tensors], out=flat)


def _checked(agree: bool, path: str, network: str) -> bool:
    """``agree``, warning when the compiled path disagreed with the torch network on the probe batch."""
    if not agree:
        warnings.warn(f"the compiled {path} path disagrees with the torch {network}; acting in torch",
                      RuntimeWarning, stacklevel=4)
    return agree


def _leaves(module: nn.Module) -> list[nn.Module]:
    """The modules a feed-forward stack applies in order: ``nn.Sequential`` and :class:`MLP` opened up."""
    if type(module) is nn.Sequential:
        return [leaf for child in module for leaf in _leaves(child)]
    if type(module) is MLP:
        return _leaves(module.net)
    return [module]


def _program(rows: list[list[int]]) -> np.ndarray:
    return np.array(rows, dtype=np.int64).reshape(-1, 5)


class NumbaActor:
    """``policy.act`` for a numpy batch in one compiled call; build with :meth:`for_policy`."""

    def __init__(self, policy: ActorCritic, actor_rows: list[list[int]], critic_rows: list[list[int]] | None,
                 packer: _Packer, gaussian: bool, obs_dim: int):
        self.policy = policy
        self.shared = critic_rows is None
        self.gaussian = gaussian
        self.actor_program, self.critic_program = _program(actor_rows), _program(critic_rows or [])
        self.actor_head = _program([packer.dense(policy.actor_head)])
        self.critic_head = _program([packer.dense(policy.critic_head)])
        self.packer = packer
        self.flat = np.empty(packer.offset, np.float32)
        self.flat_tensor = torch.from_numpy(self.flat)  # shares memory with self.flat
        self.obs_dim = obs_dim
        self.n_outputs = int(policy.actor_head.out_features)
        self.log_std = np.zeros(1, np.float32)
        self.refresh()

    @staticmethod
    def for_policy(policy: nn.Module, device: torch.device) -> NumbaActor | None:
        """A NumbaActor computing what ``policy`` computes, or None when the policy has a part it
        does not translate (see the module docstring)."""
        if device.type != "cpu" or type(policy) is not ActorCritic:
            return None
        if any(p.dtype != torch.float32 for p in policy.parameters()) or policy.actor_trunk.autocast_dtype is not None:
            return None
        if not isinstance(policy.action_space, (gym.spaces.Discrete, gym.spaces.Box)) \
                or not isinstance(policy.observation_space, gym.spaces.Box):
            return None
        packer = _Packer()
        actor_rows = packer.trunk(policy.actor_trunk)
        critic_rows = None if policy.critic_trunk is None else packer.trunk(policy.critic_trunk)
        if actor_rows is None or (policy.critic_trunk is not None and critic_rows is None):
            return None
        if type(policy.actor_head) is not nn.Linear or type(policy.critic_head) is not nn.Linear:
            return None
        obs_shape = policy.observation_space.shape
        probe = torch.from_numpy(np.random.default_rng(0).normal(size=(4, *obs_shape)).astype(np.float32))
        with torch.no_grad():
            dist_params, _ = policy(probe)
            gaussian = _DISTRIBUTIONS.get(type(policy.make_distribution(dist_params)))
        if gaussian is None:
            return None
        actor = NumbaActor(policy, actor_rows, critic_rows, packer, gaussian, obs_dim=math.prod(obs_shape))
        return actor if actor.agrees_with_torch(probe) else None

    def agrees_with_torch(self, obs: torch.Tensor) -> bool:
        """Whether the greedy actions, log-probabilities and values match the torch policy's on
        ``obs``: a translation that is wrong in a way the type checks miss shows up here."""
        actions, log_probs, values = self.act(obs.numpy(), np.random.default_rng(0), deterministic=True)
        with torch.no_grad():
            torch_actions, torch_log_probs, torch_values = self.policy.act(obs, deterministic=True)
        return _checked(all(np.allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-4) for ours, theirs in (
            (actions, torch_actions), (log_probs, torch_log_probs), (values, torch_values))), "acting", "policy")

    def refresh(self) -> None:
        """Re-read the weights (after an update)."""
        self.packer.copy_into(self.flat_tensor)
        if self.policy.log_std is not None:
            self.log_std = self.policy.log_std.detach().numpy().astype(np.float32)

    def act(self, obs: np.ndarray, rng: np.random.Generator,
            deterministic: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(actions, log_probs, values)`` like ``ActorCritic.act`` (actions before clipping;
        Discrete actions as integers)."""
        x = np.ascontiguousarray(obs, dtype=np.float32).reshape(len(obs), self.obs_dim)
        noise = (rng.standard_normal((len(x), self.n_outputs), dtype=np.float32) if self.gaussian
                 else rng.random((len(x), self.n_outputs), dtype=np.float32))
        actions, log_probs, values = _act(x, self.flat, self.actor_program, self.critic_program, self.shared,
                                          self.actor_head, self.critic_head, self.gaussian, self.log_std, noise,
                                          deterministic)
        if not self.gaussian:
            actions = actions[:, 0].astype(np.int64)
        return actions, log_probs, values


class NumbaGreedy:
    """``argmax_a Q(s, a)`` of a feed-forward Q-network for a numpy batch in one compiled call; build
    with :meth:`for_network`. The Q-values agree with the torch network's to ~1e-6 (float32 in another
    summation order), so the greedy action can differ from torch's only where two actions' values are
    that close."""

    def __init__(self, network: nn.Module, rows: list[list[int]], packer: _Packer, obs_dim: int):
        self.network = network
        self.program = _program(rows)
        self.packer = packer
        self.flat = np.empty(packer.offset, np.float32)
        self.flat_tensor = torch.from_numpy(self.flat)  # shares memory with self.flat
        self.obs_dim = obs_dim
        self.refresh()

    @staticmethod
    def for_network(stages: list[nn.Module], network: nn.Module, observation_space: gym.Space,
                    device: torch.device) -> NumbaGreedy | None:
        """A NumbaGreedy computing the argmax of ``network``'s output, where ``network`` applies
        ``stages`` one after another (``nn.Sequential`` and :class:`MLP` stages are opened up), or None
        when a stage has no kernel step, the network is not float32 on the CPU, or the observations
        are not a ``Box``. As a last guard its Q-values are compared with the network's on a probe batch."""
        if device.type != "cpu" or not isinstance(observation_space, gym.spaces.Box):
            return None
        if any(p.dtype != torch.float32 for p in network.parameters()):
            return None
        packer = _Packer()
        rows = packer.layers([leaf for stage in stages for leaf in _leaves(stage)])
        if not rows:
            return None
        shape = observation_space.shape
        greedy = NumbaGreedy(network, rows, packer, math.prod(shape))
        probe = torch.from_numpy(np.random.default_rng(0).normal(size=(4, *shape)).astype(np.float32))
        return greedy if greedy.agrees_with_torch(probe) else None

    def agrees_with_torch(self, obs: torch.Tensor) -> bool:
        x = obs.numpy().reshape(len(obs), self.obs_dim)
        ours = _run(x, self.flat, self.program)
        with torch.no_grad():
            theirs = self.network(obs).numpy()
        return _checked(ours.shape == theirs.shape and np.allclose(ours, theirs, rtol=1e-4, atol=1e-4),
                        "greedy", "Q-network")

    def refresh(self) -> None:
        """Re-read the weights (after an update or a load)."""
        self.packer.copy_into(self.flat_tensor)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """The greedy actions (int64) for a batch of observations."""
        x = np.ascontiguousarray(obs, dtype=np.float32).reshape(len(obs), self.obs_dim)
        return _argmax_rows(x, self.flat, self.program)


__all__ = ["NumbaActor", "NumbaGreedy"]
