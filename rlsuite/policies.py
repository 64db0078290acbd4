"""Policy distributions and the actor-critic network shared by the on-policy agents.

Distributions (:class:`Categorical`, :class:`MultiCategorical`, :class:`DiagGaussian`,
:class:`SquashedDiagGaussian`) are plain classes written directly in torch: no argument validation,
no broadcasting machinery, so building one per forward pass costs a few tensor ops (what
``torch.distributions`` spends on validation is comparable to a small MLP's forward at CartPole
scale). Each has ``sample()``, ``mode()``, ``log_prob(actions)``, ``entropy()`` and ``kl(other)``
(KL(self ‖ other), what TRPO constrains).

:class:`ActorCritic` is ``trunk(s) -> heads``:

* ``features(obs) -> (actor_features, critic_features)`` — one trunk for both (``shared=True``) or
  two separate ones; a trunk is an encoder from :func:`rlsuite.nets.build_encoder` (flatten /
  one-hot / Nature CNN / MinAtar CNN) followed by an :class:`~rlsuite.nets.MLP`.
* ``heads(actor_features, critic_features) -> (dist_params, value)``;
  ``forward(obs) = heads(*features(obs))``. ``dist_params`` are the logits (discrete actions) or
  ``(mean, log_std)`` (Box); :meth:`ActorCritic.make_distribution` turns them into a distribution.
  Because ``forward`` reads every parameter (``log_std`` included), the policy works with explicit
  parameters for MAML::

      params, value = torch.func.functional_call(policy, theta, (obs,))
      log_prob = policy.make_distribution(params).log_prob(actions)   # differentiable in theta

**The policy protocol** (what collection and the updates call, for feed-forward and recurrent
policies alike): ``initial_state(n_envs)`` (None for feed-forward policies), ``step(obs, state,
episode_start) -> (actions, log_probs, values, new_state)`` for acting, ``value(obs, state,
episode_start)`` for bootstrapping, and ``sequence(obs, actions, state0, episode_starts) ->
(log_probs, entropy, values)`` to score a stored rollout (B sequences of T steps) in an update. The
recurrent policies (:mod:`rlsuite.recurrent_policy`) implement the same four methods.

Box actions are either sampled from a Gaussian and clipped to the bounds by
:meth:`ActorCritic.env_actions` (``squash=False``; the unclipped sample is what is stored and
scored, as in SB3/CleanRL), or squashed by ``tanh`` into the bounds (``squash=True``) with the
change-of-variables log-prob.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Union

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rlsuite.nets import PRECISIONS, build_encoder, get_activation, layer_init

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
DistParams = Union[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]
# A policy's state between steps: None for feed-forward policies, a tuple of (layers, n_envs, hidden)
# tensors for recurrent ones (rlsuite.recurrent_policy).
PolicyState = Union[tuple[torch.Tensor, ...], None]


# ---------------------------------------------------------------------------- distributions
class Categorical:
    """Categorical over the last dim of ``logits`` (normalized once here)."""

    def __init__(self, logits: torch.Tensor):
        self.logits = torch.log_softmax(logits, -1)

    def sample(self) -> torch.Tensor:
        # Gumbel-max: argmax(logits + Gumbel noise) is an exact sample and cheaper than multinomial.
        # In place on the fresh noise: the same ops and values as log(-log(u)), fewer allocations.
        gumbel = torch.rand_like(self.logits).clamp_(min=1e-20).log_().neg_().log_()
        return (self.logits - gumbel).argmax(-1)

    def mode(self) -> torch.Tensor:
        return self.logits.argmax(-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return self.logits.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        return -(self.logits.exp() * self.logits).sum(-1)

    def kl(self, other: Categorical) -> torch.Tensor:
        return (self.logits.exp() * (self.logits - other.logits)).sum(-1)


class MultiCategorical:
    """Independent categoricals for a ``MultiDiscrete(nvec)`` space; actions have shape ``(..., k)``."""

    def __init__(self, logits: torch.Tensor, nvec: Sequence[int]):
        self.nvec = [int(n) for n in nvec]
        self.parts = [Categorical(chunk) for chunk in torch.split(logits, self.nvec, dim=-1)]

    def sample(self) -> torch.Tensor:
        return torch.stack([p.sample() for p in self.parts], -1)

    def mode(self) -> torch.Tensor:
        return torch.stack([p.mode() for p in self.parts], -1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return sum(p.log_prob(actions[..., i]) for i, p in enumerate(self.parts))  # type: ignore[return-value]

    def entropy(self) -> torch.Tensor:
        return sum(p.entropy() for p in self.parts)  # type: ignore[return-value]

    def kl(self, other: MultiCategorical) -> torch.Tensor:
        return sum(p.kl(q) for p, q in zip(self.parts, other.parts))  # type: ignore[return-value]


class DiagGaussian:
    """Diagonal Gaussian; log-prob, entropy and KL sum over the last (action) dim."""

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor):
        self.mean = mean
        self.log_std = log_std.expand_as(mean)

    @property
    def std(self) -> torch.Tensor:
        return self.log_std.exp()

    def sample(self) -> torch.Tensor:
        return (self.mean + self.std * torch.randn_like(self.mean)).detach()

    def mode(self) -> torch.Tensor:
        return self.mean

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        z = (actions - self.mean) * torch.exp(-self.log_std)
        return (-0.5 * z.pow(2) - self.log_std - _LOG_SQRT_2PI).sum(-1)

    def entropy(self) -> torch.Tensor:
        return (self.log_std + 0.5 + _LOG_SQRT_2PI).sum(-1)

    def kl(self, other: DiagGaussian) -> torch.Tensor:
        var, other_var = torch.exp(2 * self.log_std), torch.exp(2 * other.log_std)
        return (other.log_std - self.log_std + (var + (self.mean - other.mean).pow(2)) / (2 * other_var) - 0.5).sum(-1)


def log1m_tanh_sq(u: torch.Tensor) -> torch.Tensor:
    """``log(1 − tanh(u)²) = 2·(log 2 − u − softplus(−2u))``, stable for large ``|u|``."""
    return 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))


class SquashedDiagGaussian:
    """``y = center + scale · tanh(u)``, ``u ~ N(mean, std²)``: a Gaussian squashed into ``[low, high]``.

    ``log p(y) = log N(u) − Σ log(scale · (1 − tanh(u)²))`` (change of variables). ``log_prob(y)``
    inverts with ``atanh`` after clamping ``tanh(u)`` to ``±(1 − 1e-6)``; the same function scores
    fresh samples and stored ones, so PPO's ratio stays exactly 1 before an update even where the
    float32 ``tanh`` saturates. ``entropy()`` is the pre-squash Gaussian's (the squashed entropy has
    no closed form; it is only used as a bonus), ``kl`` is exact (KL is invariant under bijections).
    """

    eps = 1e-6

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor, low: torch.Tensor, high: torch.Tensor):
        self.base = DiagGaussian(mean, log_std)
        self.center = (high + low) / 2
        self.scale = (high - low) / 2

    def squash(self, u: torch.Tensor) -> torch.Tensor:
        return self.center + self.scale * torch.tanh(u)

    def sample(self) -> torch.Tensor:
        return self.squash(self.base.sample())

    def mode(self) -> torch.Tensor:
        return self.squash(self.base.mean)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        t = ((actions - self.center) / self.scale).clamp(-1 + self.eps, 1 - self.eps)
        u = torch.atanh(t)
        return self.base.log_prob(u) - (log1m_tanh_sq(u) + torch.log(self.scale)).sum(-1)

    def entropy(self) -> torch.Tensor:
        return self.base.entropy()

    def kl(self, other: SquashedDiagGaussian) -> torch.Tensor:
        return self.base.kl(other.base)


Distribution = Union[Categorical, MultiCategorical, DiagGaussian, SquashedDiagGaussian]


# ---------------------------------------------------------------------------- actor-critic
def _is_image(observation_space: gym.Space) -> bool:
    return isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 3


class Trunk(nn.Module):
    """encoder -> (Linear -> activation) for each width in ``net_arch`` (none when empty);
    ``out_features`` is the width. :meth:`sequence` is the one definition of what ``forward``
    applies, in order; :mod:`rlsuite.acting` compiles the same list.

    ``autocast_dtype`` (set by :class:`ActorCritic`'s ``precision``) runs the trunk under autocast in
    that dtype (bf16), its output cast back to float32 so that heads, distributions and losses stay
    in float32."""

    autocast_dtype: torch.dtype | None = None

    def __init__(self, observation_space: gym.Space, net_arch: Sequence[int], activation: str, ortho_init: bool,
                 encoder: str | None = None, freeze_encoder: bool = True):
        super().__init__()
        self.encoder, width = build_encoder(observation_space, pretrained=encoder, freeze=freeze_encoder)
        self.layers = nn.ModuleList()
        for hidden in net_arch:
            layer = nn.Linear(width, int(hidden))
            if ortho_init:
                layer_init(layer, math.sqrt(2))
            self.layers.append(layer)
            width = int(hidden)
        self.activation = get_activation(activation)()
        self.out_features = width

    def sequence(self) -> list[nn.Module]:
        """The modules ``forward`` applies one after another: encoder, then each layer and the activation."""
        modules: list[nn.Module] = [self.encoder]
        for layer in self.layers:
            modules += [layer, self.activation]
        return modules

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.autocast_dtype is None:
            return self._apply_sequence(obs)
        with torch.autocast(obs.device.type, dtype=self.autocast_dtype):
            return self._apply_sequence(obs).float()

    def _apply_sequence(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.sequence():
            x = module(x)
        return x


class ActorCritic(nn.Module):
    """Policy and value function for Discrete, MultiDiscrete and Box action spaces.

    ``net_arch`` defaults to ``[64, 64]`` for vector observations and ``[]`` for images (the CNN's
    512 features feed the heads); ``shared`` defaults to separate trunks for vectors and one shared
    CNN for images (the usual practice, SB3 and CleanRL alike). ``vf_net_arch`` gives the critic a
    different MLP when the trunks are separate. ``ortho_init``: hidden layers gain √2, policy output
    0.01, value output 1 (and conv layers √2), as in OpenAI baselines. ``channels_last`` (image
    observations only) keeps the conv weights, hence the encoders' input batches, in NHWC layout;
    ``precision`` ``"bfloat16"`` runs the trunks under bf16 autocast (see :class:`Trunk`).
    """

    action_low: torch.Tensor  # buffers (Box actions only), registered in __init__
    action_high: torch.Tensor

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        net_arch: Sequence[int] | None = None,
        activation: str = "tanh",
        shared: bool | None = None,
        ortho_init: bool = True,
        log_std_init: float = 0.0,
        squash: bool = False,
        vf_net_arch: Sequence[int] | None = None,
        encoder: str | None = None,
        freeze_encoder: bool = True,
        channels_last: bool = False,
        precision: str = "float32",
    ):
        super().__init__()
        image = _is_image(observation_space)
        net_arch = list(net_arch) if net_arch is not None else ([] if image else [64, 64])
        shared = bool(image) if shared is None else bool(shared)
        self.observation_space, self.action_space = observation_space, action_space
        self.shared = shared
        # encoder: a `rlsuite fit` run whose encoder replaces the default one (rlsuite.backbones.encoders)
        self.actor_trunk = Trunk(observation_space, net_arch, activation, ortho_init, encoder, freeze_encoder)
        if shared:
            self.critic_trunk: Trunk | None = None
            critic_width = self.actor_trunk.out_features
        else:
            vf_arch = list(vf_net_arch) if vf_net_arch is not None else net_arch
            self.critic_trunk = Trunk(observation_space, vf_arch, activation, ortho_init, encoder, freeze_encoder)
            critic_width = self.critic_trunk.out_features
        if ortho_init:  # conv layers inside the encoders (MLP layers already are), not pretrained ones
            keep = {id(m) for m in self.actor_trunk.encoder.modules()} if encoder else set()
            keep |= {id(m) for m in self.critic_trunk.encoder.modules()} if encoder and self.critic_trunk else set()
            for module in self.modules():
                if isinstance(module, nn.Conv2d) and id(module) not in keep:
                    layer_init(module, math.sqrt(2))

        self.squash = bool(squash)
        self.log_std: nn.Parameter | None = None
        if isinstance(action_space, gym.spaces.Discrete):
            n_outputs = int(action_space.n)
        elif isinstance(action_space, gym.spaces.MultiDiscrete):
            self.nvec = [int(n) for n in np.asarray(action_space.nvec).reshape(-1)]
            n_outputs = sum(self.nvec)
        elif isinstance(action_space, gym.spaces.Box):
            self._box_shape = tuple(action_space.shape)
            n_outputs = int(np.prod(self._box_shape))
            self.log_std = nn.Parameter(torch.full((n_outputs,), float(log_std_init)))
            low = np.asarray(action_space.low, np.float32).reshape(-1)
            high = np.asarray(action_space.high, np.float32).reshape(-1)
            if squash and not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
                raise ValueError("squash=True needs finite action bounds")
            self.register_buffer("action_low", torch.from_numpy(low))
            self.register_buffer("action_high", torch.from_numpy(high))
            self._low_np, self._high_np = low, high
            self._clip = bool(np.all(np.isfinite(low)) and np.all(np.isfinite(high)))
        else:
            raise TypeError(f"ActorCritic supports Discrete, MultiDiscrete and Box actions, got {action_space}")
        self.actor_head = nn.Linear(self.actor_trunk.out_features, n_outputs)
        self.critic_head = nn.Linear(critic_width, 1)
        if ortho_init:
            layer_init(self.actor_head, 0.01)
            layer_init(self.critic_head, 1.0)
        trunks = [self.actor_trunk] + ([self.critic_trunk] if self.critic_trunk is not None else [])
        if channels_last and image:  # after the initialization, which writes row-major weights; the
            # encoders cast their input batches to the weights' layout (rlsuite.nets.cnn.float_input)
            self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # 4-D (conv) weights only
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        for trunk in trunks:
            trunk.autocast_dtype = PRECISIONS[precision]

    # ------------------------------------------------------------------ the network
    def features(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Actor and critic features; the point to override for a recurrent core."""
        actor = self.actor_trunk(obs)
        critic = actor if self.critic_trunk is None else self.critic_trunk(obs)
        return actor, critic

    def heads(self, actor_features: torch.Tensor, critic_features: torch.Tensor) -> tuple[DistParams, torch.Tensor]:
        out = self.actor_head(actor_features)
        value = self.critic_head(critic_features).squeeze(-1)
        if self.log_std is not None:
            return (out, self.log_std.expand_as(out)), value
        return out, value

    def forward(self, obs: torch.Tensor) -> tuple[DistParams, torch.Tensor]:
        return self.heads(*self.features(obs))

    def make_distribution(self, dist_params: DistParams) -> Distribution:
        if isinstance(dist_params, tuple):
            mean, log_std = dist_params
            if self.squash:
                return SquashedDiagGaussian(mean, log_std, self.action_low, self.action_high)
            return DiagGaussian(mean, log_std)
        if isinstance(self.action_space, gym.spaces.MultiDiscrete):
            return MultiCategorical(dist_params, self.nvec)
        return Categorical(dist_params)

    def actor_parameters(self) -> list[nn.Parameter]:
        """The policy's own parameters (trunk, head, log-std), for agents that train it apart from V."""
        params = list(self.actor_trunk.parameters()) + list(self.actor_head.parameters())
        return params + ([self.log_std] if self.log_std is not None else [])

    def critic_parameters(self) -> list[nn.Parameter]:
        """The value function's own parameters (separate trunks), for agents that fit V apart."""
        trunk = self.critic_trunk if self.critic_trunk is not None else self.actor_trunk
        return list(trunk.parameters()) + list(self.critic_head.parameters())

    # ------------------------------------------------------------------ the policy protocol
    # What collection and the updates call, for feed-forward and recurrent policies alike: the state is
    # None here; :class:`rlsuite.recurrent_policy.RecurrentActorCritic` carries a hidden state instead.
    recurrent = False

    def initial_state(self, n_envs: int) -> PolicyState:
        """The state before the first step of ``n_envs`` episodes: None (nothing to carry)."""
        return None

    def step(self, obs: torch.Tensor, state: PolicyState = None, episode_start: torch.Tensor | None = None,
             deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, PolicyState]:
        """``(actions, log_probs, values, new_state)`` for one step of a batch of envs; ``episode_start``
        (bool, per env) marks envs whose episode begins at ``obs`` (a recurrent policy zeroes their state)."""
        actions, log_probs, values = self.act(obs, deterministic)
        return actions, log_probs, values, None

    def sequence(self, obs: torch.Tensor, actions: torch.Tensor, state0: PolicyState = None,
                 episode_starts: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(log_probs, entropy, values)`` of stored ``actions`` under the current parameters, for
        rows ``obs`` that are B sequences of T steps, time-major and flat ``(T·B, ...)``, started from
        ``state0`` with ``episode_starts (T, B)``; a feed-forward policy scores every row on its own."""
        return self.evaluate_actions(obs, actions)

    # ------------------------------------------------------------------ what agents call
    def distribution(self, obs: torch.Tensor) -> Distribution:
        """The policy alone (skips the critic trunk when the trunks are separate)."""
        out = self.actor_head(self.actor_trunk(obs))
        if self.log_std is not None:
            return self.make_distribution((out, self.log_std.expand_as(out)))
        return self.make_distribution(out)

    def value(self, obs: torch.Tensor, state: PolicyState = None, episode_start: torch.Tensor | None = None
              ) -> torch.Tensor:
        """V(obs) for one step (``state``/``episode_start`` as in :meth:`step`; unused here)."""
        if self.critic_trunk is None:
            return self.critic_head(self.actor_trunk(obs)).squeeze(-1)
        return self.critic_head(self.critic_trunk(obs)).squeeze(-1)

    def act(self, obs: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(actions, log_probs, values)`` in one forward pass (actions before clipping)."""
        params, values = self(obs)
        dist = self.make_distribution(params)
        actions = dist.mode() if deterministic else dist.sample()
        return actions, dist.log_prob(actions), values

    def evaluate_actions(
        self, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(log_probs, entropy, values)`` of stored actions under the current parameters."""
        params, values = self(obs)
        dist = self.make_distribution(params)
        return dist.log_prob(actions), dist.entropy(), values

    def env_actions(self, actions: np.ndarray) -> np.ndarray:
        """What the env receives: Gaussian samples clipped to finite Box bounds; else unchanged."""
        if self.log_std is not None and not self.squash and self._clip:
            return np.clip(actions, self._low_np, self._high_np).reshape(-1, *self._box_shape)
        if self.log_std is not None:
            return actions.reshape(-1, *self._box_shape)
        return actions

    @property
    def action_shape(self) -> tuple[int, ...]:
        """Per-env shape of the stored actions (``()`` for Discrete)."""
        if isinstance(self.action_space, gym.spaces.Discrete):
            return ()
        if isinstance(self.action_space, gym.spaces.MultiDiscrete):
            return (len(self.nvec),)
        return (int(np.prod(self._box_shape)),)

    @property
    def action_dtype(self) -> Any:
        return np.float32 if self.log_std is not None else np.int64
