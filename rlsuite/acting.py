"""A Numba forward pass for collecting rollouts with small MLP policies on the CPU.

Collecting a CartPole rollout step with 8 envs costs ~80 µs in torch (two 64-64 trunks, two heads,
a categorical sample, a dozen small tensor ops and the tensor↔numpy conversions) — about as much
as stepping the 8 envs themselves. :class:`NumbaActor` runs the same network — trunk layers,
activations, heads, the distribution's sample and log-probability and the value — in one compiled
call on the numpy observations, reading the policy's weights packed once per rollout (they do not
change while collecting).

It is used by :func:`rlsuite.rollout.collect_rollout` for the common case it covers: CPU, flat
vector observations, MLP trunks with tanh or ReLU (separate or shared), Discrete actions or a
diagonal Gaussian clipped to the bounds. Anything else (images, one-hot, MultiDiscrete, squashed
Gaussians, recurrent cores, CUDA) keeps the torch path. Differences to the torch path:

* the sampling noise comes from the agent's numpy generator (saved in checkpoints like every RNG);
* float32 arithmetic in a different summation order: log-probabilities and values agree with the
  torch network to ~1e-6 (tested), so PPO's first-epoch ratio is 1 to that precision.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from numba import njit
from torch import nn

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_ACTIVATIONS = {nn.Tanh: 0, nn.ReLU: 1}


# Rational approximation of tanh on [-7.9053, 7.9053] (Eigen's float tanh; beyond, tanh rounds to
# ±1 in float32): unlike libm's scalar tanhf it vectorizes. Max abs error vs float64 tanh < 1e-6 (tested).
_TANH_CLAMP = 7.90531110763549805
_TANH_ALPHA = (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
               1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03)
_TANH_BETA = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03)


@njit(cache=True, fastmath=True, inline="always")
def _tanh(x):  # pragma: no cover - compiled
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
def _dense(x, flat, w_off, b_off, n_in, n_out, activation):  # pragma: no cover - compiled
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
def _stack(x, flat, layers, activation):  # pragma: no cover - compiled
    """Hidden layers (activated) given as rows (w_off, b_off, n_in, n_out) of ``layers``."""
    h = x
    for j in range(layers.shape[0]):
        h = _dense(h, flat, layers[j, 0], layers[j, 1], layers[j, 2], layers[j, 3], activation)
    return h


@njit(cache=True)
def _act(obs, flat, actor_layers, critic_layers, shared, activation, actor_head, critic_head, gaussian, log_std,
         noise, deterministic):  # pragma: no cover - compiled
    actor_features = _stack(obs, flat, actor_layers, activation)
    critic_features = actor_features if shared else _stack(obs, flat, critic_layers, activation)
    out = _dense(actor_features, flat, actor_head[0], actor_head[1], actor_head[2], actor_head[3], -1)
    values = _dense(critic_features, flat, critic_head[0], critic_head[1], critic_head[2], critic_head[3], -1)[:, 0]
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


def _linear_rows(layers: list[nn.Linear], offset: int) -> tuple[np.ndarray, list[torch.Tensor], int]:
    rows, tensors = [], []
    for layer in layers:
        n_out, n_in = layer.weight.shape
        rows.append((offset, offset + n_out * n_in, n_in, n_out))
        tensors += [layer.weight, layer.bias]
        offset += n_out * n_in + n_out
    return np.array(rows, dtype=np.int64).reshape(-1, 4), tensors, offset


class NumbaActor:
    """``policy.act`` for a numpy batch in one compiled call; build with :meth:`for_policy`."""

    def __init__(self, policy: nn.Module):
        self.policy = policy
        self.activation = _ACTIVATIONS[type(policy.actor_trunk.activation)]
        self.shared = policy.critic_trunk is None
        self.gaussian = policy.log_std is not None
        self.obs_dim = policy.actor_trunk.layers[0].in_features
        self.actor_layers, tensors, offset = _linear_rows(list(policy.actor_trunk.layers), 0)
        critic = [] if self.shared else list(policy.critic_trunk.layers)
        self.critic_layers, more, offset = _linear_rows(critic, offset)
        heads, head_tensors, offset = _linear_rows([policy.actor_head, policy.critic_head], offset)
        self.actor_head, self.critic_head = heads[0], heads[1]
        self.tensors = tensors + more + head_tensors
        self.flat = np.empty(offset, np.float32)
        self.flat_tensor = torch.from_numpy(self.flat)  # shares memory with self.flat
        self.n_outputs = int(policy.actor_head.out_features)
        self.refresh()

    @staticmethod
    def for_policy(policy: nn.Module, device: torch.device) -> NumbaActor | None:
        """A NumbaActor when the policy is of a kind it covers (see the module docstring), else None."""
        from rlsuite.nets import _FlattenFloat
        from rlsuite.policies import ActorCritic

        if device.type != "cpu" or type(policy) is not ActorCritic:
            return None
        trunks = [policy.actor_trunk] + ([policy.critic_trunk] if policy.critic_trunk is not None else [])
        if any(type(t.encoder) is not _FlattenFloat or len(t.layers) == 0 or type(t.activation) not in _ACTIVATIONS
               or type(t.activation) is not type(trunks[0].activation) for t in trunks):
            return None
        covered_actions = isinstance(policy.action_space, gym.spaces.Discrete) or (
            isinstance(policy.action_space, gym.spaces.Box) and not policy.squash)
        if not covered_actions:
            return None
        if any(p.dtype != torch.float32 for p in policy.parameters()):
            return None
        return NumbaActor(policy)

    def refresh(self) -> None:
        """Re-read the weights (after an update)."""
        with torch.no_grad():  # weights transposed to (n_in, n_out), see _dense; one copy into flat
            torch.cat([(t.t() if t.dim() == 2 else t).reshape(-1) for t in self.tensors], out=self.flat_tensor)
        self.log_std = (self.policy.log_std.detach().numpy().astype(np.float32) if self.gaussian
                        else np.zeros(1, np.float32))

    def act(self, obs: np.ndarray, rng: np.random.Generator,
            deterministic: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(actions, log_probs, values)`` like ``ActorCritic.act`` (actions before clipping;
        Discrete actions as integers)."""
        x = np.ascontiguousarray(obs, dtype=np.float32).reshape(len(obs), self.obs_dim)
        noise = (rng.standard_normal((len(x), self.n_outputs), dtype=np.float32) if self.gaussian
                 else rng.random((len(x), self.n_outputs), dtype=np.float32))
        actions, log_probs, values = _act(x, self.flat, self.actor_layers, self.critic_layers, self.shared,
                                          self.activation, self.actor_head, self.critic_head, self.gaussian,
                                          self.log_std, noise, deterministic)
        if not self.gaussian:
            actions = actions[:, 0].astype(np.int64)
        return actions, log_probs, values


__all__ = ["NumbaActor"]
