"""Recurrent actor-critics behind the policy protocol of :mod:`rlsuite.policies` (``initial_state`` /
``step`` / ``value`` / ``sequence``), for the on-policy agents.

One class, two layouts (``rlsuite.onpolicy.recurrent_settings`` picks them from the config):

* **memory** (sb3-contrib's ``RecurrentPPO`` ``MlpLstmPolicy`` with ``enable_critic_lstm``): for
  partially observed tasks. ``obs → encoder → LSTM/GRU → MLP(net_arch) → policy head`` and a second
  core of its own for the critic, ``obs → encoder → LSTM/GRU → MLP(vf_net_arch) → value``.
* **controller** (Zoph & Le's autoregressive NAS controller): ``x_t = E·obs_t`` (a learned embedding;
  for one-hot tokens such as the NAS env's previous decision and position, the sum of their embedding
  vectors), ``h_t = LSTM/GRU(x_t, h_{t−1})``, ``logits_t = W·h_t``; the critic is an MLP on ``obs_t``,
  so a value baseline never moves the actor.

The state is a tuple of ``(1, n_envs, hidden)`` tensors (the actor core's, then the critic core's);
it lives with the caller (the rollout's with the collector, the evaluation's with the agent), never
in the module, and rows whose ``episode_start`` is set are zeroed before the step, in acting and in
:meth:`RecurrentActorCritic.sequence` alike. ``sequence`` re-runs the cores over stored rollouts from
their start states, one core call per minibatch over the episode segments padded to one length (as
sb3-contrib's RecurrentPPO pads sequences), or with ``runtime.segment_unroll=false`` one call per step
exactly as acting makes them; the log-probabilities it recomputes are those acting sampled with, to
float rounding (tests/test_recurrent_policy.py checks both).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import gymnasium as gym
import torch
from torch import nn

from rlsuite.nets import get_activation, layer_init
from rlsuite.nets.recurrent import RecurrentCore, State
from rlsuite.policies import ActorCritic, Distribution, PolicyState

__all__ = ["RecurrentActorCritic", "reset_rows", "state_rows"]


def reset_rows(state: tuple[torch.Tensor, ...], episode_start: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    """``state`` with the rows where ``episode_start`` (bool, per env) is set zeroed."""
    if episode_start is None:
        return state
    keep = (~episode_start.bool()).to(state[0].dtype).view(1, -1, 1)
    return tuple(part * keep for part in state)


def state_rows(state: PolicyState, rows: torch.Tensor | Sequence[int]) -> PolicyState:
    """The state of the chosen envs (None stays None)."""
    if state is None:
        return None
    return tuple(part[:, rows] for part in state)


def _mlp(width: int, arch: Sequence[int], activation: str, ortho_init: bool) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for hidden in arch:
        layer = nn.Linear(width, int(hidden))
        if ortho_init:
            layer_init(layer, math.sqrt(2))
        layers += [layer, get_activation(activation)()]
        width = int(hidden)
    return nn.Sequential(*layers), width


class RecurrentActorCritic(ActorCritic):
    """A recurrent actor (and, with ``critic_core``, a recurrent critic) for the on-policy agents.

    ``embed_dim``: a linear embedding before the actor's core (None: the encoder's output goes in
    directly); ``net_arch``: the actor's MLP after its core; ``vf_net_arch``: the critic's MLP (after
    its own core with ``critic_core``, else on the observation; default ``net_arch`` with a core,
    [64, 64] without); ``segment_unroll``: how :meth:`sequence` runs the cores (see ``_unroll``)."""

    recurrent = True

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, hidden: int = 64,
                 embed_dim: int | None = 32, core: str = "lstm", net_arch: Sequence[int] = (),
                 vf_net_arch: Sequence[int] | None = None, critic_core: bool = False, activation: str = "tanh",
                 ortho_init: bool = True, log_std_init: float = 0.0, squash: bool = False,
                 segment_unroll: bool = True):
        critic_arch = list(vf_net_arch) if vf_net_arch is not None else (list(net_arch) if critic_core else [64, 64])
        super().__init__(observation_space, action_space, net_arch=[], activation=activation, shared=False,
                         ortho_init=ortho_init, log_std_init=log_std_init, squash=squash,
                         vf_net_arch=[] if critic_core else critic_arch)
        width = self.actor_trunk.out_features
        self.embed = nn.Linear(width, int(embed_dim)) if embed_dim else None
        self.core = RecurrentCore(int(embed_dim) if embed_dim else width, int(hidden), core)
        self.actor_mlp, width = _mlp(int(hidden), net_arch, activation, ortho_init)
        self.actor_head = nn.Linear(width, self.actor_head.out_features)
        if ortho_init:
            layer_init(self.actor_head, 0.01)
        self.critic_core: RecurrentCore | None = None
        self.critic_mlp: nn.Sequential | None = None
        if critic_core:
            assert self.critic_trunk is not None
            self.critic_core = RecurrentCore(self.critic_trunk.out_features, int(hidden), core)
            self.critic_mlp, width = _mlp(int(hidden), critic_arch, activation, ortho_init)
            self.critic_head = nn.Linear(width, 1)
            if ortho_init:
                layer_init(self.critic_head, 1.0)
        self.hidden = int(hidden)
        self.parts_per_core = 2 if core == "lstm" else 1  # (h, c) or h
        self.segment_unroll = bool(segment_unroll)  # runtime.segment_unroll: see _unroll

    def actor_parameters(self) -> list[nn.Parameter]:
        embed = list(self.embed.parameters()) if self.embed is not None else []
        return super().actor_parameters() + embed + list(self.core.parameters()) + list(self.actor_mlp.parameters())

    def critic_parameters(self) -> list[nn.Parameter]:
        extra = [] if self.critic_core is None else list(self.critic_core.parameters())
        extra += [] if self.critic_mlp is None else list(self.critic_mlp.parameters())
        return super().critic_parameters() + extra

    # ------------------------------------------------------------------ the state
    def initial_state(self, n_envs: int) -> tuple[torch.Tensor, ...]:
        cores = 1 if self.critic_core is None else 2
        device = self.actor_head.weight.device
        return tuple(torch.zeros(1, n_envs, self.hidden, device=device) for _ in range(cores * self.parts_per_core))

    def _core_state(self, parts: tuple[torch.Tensor, ...]) -> State:
        return parts[0] if self.parts_per_core == 1 else (parts[0], parts[1])

    def _parts(self, state: State) -> tuple[torch.Tensor, ...]:
        return state if isinstance(state, tuple) else (state,)

    def _step_core(self, core: RecurrentCore, x: torch.Tensor, parts: tuple[torch.Tensor, ...]
                   ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        out, state = core.step(x, self._core_state(parts))
        return out, self._parts(state)

    def _unroll(self, core: RecurrentCore, x: torch.Tensor, parts: tuple[torch.Tensor, ...],
                episode_starts: torch.Tensor) -> torch.Tensor:
        """The core over ``x (T, B, in)`` from ``parts``, zeroing rows at their episode starts;
        ``(T·B, hidden)`` time-major. With ``segment_unroll`` every env's stream is cut at its episode
        starts into segments, padded to one length, and run through the core in one call (the padding
        only ever follows a segment's steps, so it never reaches them); otherwise one call per step, as
        acting steps. The same values either way, to float rounding."""
        if not self.segment_unroll:
            outputs = []
            for t in range(x.shape[0]):
                out, parts = self._step_core(core, x[t], reset_rows(parts, episode_starts[t]))
                outputs.append(out)
            return torch.cat(outputs)
        T, B = episode_starts.shape
        begins = episode_starts.bool().clone()
        first_reset = begins[0].clone()  # an env whose first stored step starts an episode: zero state
        begins[0] = True  # every env's stream begins a segment at t = 0
        index_in_env = begins.long().cumsum(0) - 1  # (T, B): the segment of step t within env b
        per_env = index_in_env[-1] + 1
        first_of_env = per_env.cumsum(0) - per_env  # global id of each env's first segment
        segment = index_in_env + first_of_env  # (T, B) global segment ids
        n_segments = int(per_env.sum())
        time_index = torch.arange(T, device=x.device).view(T, 1).expand(T, B)
        seg_start = torch.full((n_segments,), T, dtype=torch.long, device=x.device)
        seg_start.scatter_reduce_(0, segment.flatten(), time_index.flatten(), reduce="amin")
        position = time_index - seg_start[segment]  # (T, B): the step's place within its segment
        padded = x.new_zeros(int(position.max()) + 1, n_segments, x.shape[-1])
        padded[position, segment] = x
        # segments start from zeros, except each env's first one (the rollout's stored state)
        start_parts = tuple(part.new_zeros(1, n_segments, part.shape[-1]).index_copy(1, first_of_env, kept)
                            for part, kept in zip(parts, reset_rows(parts, first_reset)))
        out, _ = core(padded, self._core_state(start_parts))
        return out[position, segment].reshape(T * B, -1)

    # ------------------------------------------------------------------ the networks
    def _actor_input(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.actor_trunk(obs)
        return self.embed(x) if self.embed is not None else x

    def _distribution(self, core_out: torch.Tensor) -> Distribution:
        out = self.actor_head(self.actor_mlp(core_out))
        if self.log_std is not None:
            return self.make_distribution((out, self.log_std.expand_as(out)))
        return self.make_distribution(out)

    def _split(self, state: tuple[torch.Tensor, ...]) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        return state[:self.parts_per_core], state[self.parts_per_core:]

    def _value(self, obs: torch.Tensor, critic_state: tuple[torch.Tensor, ...]
               ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        assert self.critic_trunk is not None
        features = self.critic_trunk(obs)
        if self.critic_core is not None and self.critic_mlp is not None:
            out, critic_state = self._step_core(self.critic_core, features, critic_state)
            features = self.critic_mlp(out)
        return self.critic_head(features).squeeze(-1), critic_state

    # ------------------------------------------------------------------ the protocol
    def step(self, obs: torch.Tensor, state: PolicyState = None, episode_start: torch.Tensor | None = None,
             deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, PolicyState]:
        state = reset_rows(self.initial_state(obs.shape[0]) if state is None else state, episode_start)
        actor_state, critic_state = self._split(state)
        out, actor_state = self._step_core(self.core, self._actor_input(obs), actor_state)
        dist = self._distribution(out)
        actions = dist.mode() if deterministic else dist.sample()
        values, critic_state = self._value(obs, critic_state)
        return actions, dist.log_prob(actions), values, actor_state + critic_state

    def value(self, obs: torch.Tensor, state: PolicyState = None, episode_start: torch.Tensor | None = None
              ) -> torch.Tensor:
        state = reset_rows(self.initial_state(obs.shape[0]) if state is None else state, episode_start)
        return self._value(obs, self._split(state)[1])[0]

    def sequence(self, obs: torch.Tensor, actions: torch.Tensor, state0: PolicyState = None,
                 episode_starts: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if episode_starts is None:
            raise ValueError("a recurrent policy scores sequences: episode_starts (T, B) is needed")
        T, B = episode_starts.shape
        obs_dims = len(self.observation_space.shape or ())
        if obs.dim() == obs_dims + 2:  # (T, B, ...) -> (T·B, ...)
            obs = obs.flatten(0, 1)
        if actions.dim() == len(self.action_shape) + 2:
            actions = actions.flatten(0, 1)
        actor_state, critic_state = self._split(self.initial_state(B) if state0 is None else state0)
        dist = self._distribution(self._unroll(self.core, self._actor_input(obs).view(T, B, -1), actor_state,
                                               episode_starts))
        assert self.critic_trunk is not None
        features = self.critic_trunk(obs)
        if self.critic_core is not None and self.critic_mlp is not None:
            features = self.critic_mlp(self._unroll(self.critic_core, features.view(T, B, -1), critic_state,
                                                    episode_starts))
        return dist.log_prob(actions), dist.entropy(), self.critic_head(features).squeeze(-1)

    # ------------------------------------------------------------------ what a recurrent policy cannot do
    def features(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise TypeError("a recurrent policy's output depends on the episode so far: use step/sequence")

    def distribution(self, obs: torch.Tensor) -> Distribution:
        raise TypeError("a recurrent policy's output depends on the episode so far: use step/sequence")
