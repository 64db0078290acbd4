"""DQN (Mnih et al. 2015) and every Rainbow ingredient (Hessel et al. 2018) as independent flags.

One agent, Dopamine-style: ``double``, ``dueling``, ``prioritized``, ``noisy``, ``distributional``
and ``n_step`` each switch one ingredient on, every combination runs, and ``agent=rainbow`` is the
preset with all of them on. The algorithm, with the flags where they act::

    initialise Q_θ (dueling: Q = V + A − mean_a A; noisy: NoisyLinear layers; distributional: C51
    logits over n_atoms on [v_min, v_max]), target Q_θ⁻ ← Q_θ, replay D (prioritized: sum tree)
    for every env step t:
        a = uniform random before learning_starts, else ε-greedy(Q_θ) with ε linear over
            exploration_fraction (noisy: ε = 0, a fresh noise sample per step explores instead)
        store (s, a, r, s', terminated) in D; D returns n-step windows
            R = Σ_{k<n} γ^k r_{t+k},  discount γ^n (0 if the episode terminated inside the window)
        when t is a multiple of train_freq and t > learning_starts, gradient_steps times:
            sample a batch (prioritized: P(i) ∝ p_i^α, weights w_i = (N P(i))^−β / max w, β → 1)
            a* = argmax_a Q_θ⁻(s', a)          (double: argmax_a Q_θ(s', a), evaluated by Q_θ⁻)
            y  = R + discount · Q_θ⁻(s', a*)   (distributional: project R + discount · z of
                                                 Z_θ⁻(s', a*) onto the support, cross-entropy loss)
            loss = mean_i w_i · huber|mse(y − Q_θ(s, a))   then Adam with gradient-norm clipping
            prioritized: p_i ← |y − Q| (distributional: KL(target ‖ Z_θ(s, a)))
        target: hard copy every target_update_interval steps, or (tau < 1) Polyak after each update

The mathematics lives in small pure functions (:func:`bootstrap_q`, :func:`td_targets`,
:func:`c51_target_distribution`) that the tests check on hand-made tensors; the step loop, replay
buffers, heads, the categorical projection and schedules are shared from ``rlsuite``.

Deviations from the papers (all common practice, mostly Stable-Baselines3's; with the flags off the
schedule and the update are SB3's DQN exactly, which ``tests/test_dqn_semantics.py`` checks against
SB3's own code):
* Adam instead of RMSProp for DQN, with SB3's eps 1e-8 (Rainbow uses Adam with ε 1.5e-4: ``optimizer_eps``).
* ``learning_starts`` steps of uniformly random actions (SB3), also with noisy nets.
* The hard target copy counts env steps (SB3's ``target_update_interval``), not updates; with
  ``tau < 1`` the target moves by Polyak averaging after every gradient step instead.
* Huber loss by default (the Nature paper's "error clipping" is exactly that); ``loss: mse`` too.
* The step budget is exact: ``learn(n)`` stops after ``n`` env steps. SB3 always completes its last
  ``train_freq`` rollout, so it runs past the budget and trains one round more when ``n`` is not a
  multiple of ``train_freq`` (zoo CartPole: 50,176 steps and 193 rounds of updates vs our 50,000 and 192).
* With a uniform buffer the ``gradient_steps`` batches of one training round are drawn in one
  call (i.i.d. uniform either way; it saves per-call overhead); PER samples before every update.
* The last hidden layer belongs to the head (``QHead(hidden=...)``): with ``dueling`` the value and
  advantage streams each get their own hidden layer (Wang et al.), with ``noisy`` it is noisy too
  (Rainbow: all fully connected layers noisy); the conv/MLP body below it stays plain.
* ``net.dropout`` (after every hidden fully connected layer, Caicedo & Lazebnik's Q-network) is off
  by default. Where the env publishes ``info["exploration_hint"]`` (the localization env's guided
  exploration, its ``guided_exploration`` kwarg), the ε-random and ``learning_starts`` actions are
  drawn among the hinted actions (:func:`rlsuite.offpolicy.random_actions`); an env without hints
  leaves them uniform, as in the papers.
* C51 priorities use the KL divergence (the paper's choice) computed exactly; Dopamine uses the
  cross-entropy, which differs by the target's entropy.

Speed: on the CPU a plain MLP Q-network (no dueling, noisy, C51 or dropout) picks its greedy actions
through :class:`rlsuite.acting.NumbaGreedy` (one compiled call instead of a torch forward of a batch
of one; ``runtime.numba_acting=false`` switches it off), reading the weights again after every
training round and every load. A compiled update (rlsuite.compiled_update, the same weights to
rounding) runs the gradient step — loss, gradient, clipping, Adam, Polyak target — as one
``torch.compile``d function; with uniform replay and no noisy nets, the steps of a training round run
as one compiled ``torch.while_loop`` call over the round's batches (``runtime.compiled_loop``: one
compilation however many steps, dynamo's per-call cost paid once per round), kept on disk for later
processes (``runtime.compile_cache``, rlsuite.compile_cache: loaded in ~1 s). By default
(``runtime.compiled_update`` unset) a CPU run on vector observations compiles it when its budget
plans at least :attr:`DQN.compiled_update_pays_after` gradient steps; ``true`` / ``false`` force it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlsuite import schedules
from rlsuite.acting import NumbaGreedy
from rlsuite.agent import Agent, AgentConfig
from rlsuite.buffers import PrioritizedReplayBuffer, ReplayBatch, make_replay_buffer, to_torch
from rlsuite.compiled_update import CompiledUpdate, compile_by_default, compiled_update
from rlsuite.config import NetConfig
from rlsuite.constraints import (
    Range,
    Relation,
    at_least_one,
    domain,
    finite,
    non_negative,
    one_of,
    positive,
    probability,
    section,
)
from rlsuite.losses import c51_cross_entropy, elementwise_td_loss
from rlsuite.nets import MLP, NoisyLinear, QHead, build_encoder, categorical_projection, expected_q
from rlsuite.offpolicy import Transition, random_actions, run_step_loop
from rlsuite.targets import polyak_update
from rlsuite.update import Optimizers, UpdateStats


@dataclass
class DQNConfig(AgentConfig):
    lr: float = field(default=1e-4, metadata=positive)
    gamma: float = field(default=0.99, metadata=probability)
    batch_size: int = field(default=32, metadata=at_least_one)
    buffer_size: int = field(default=100_000, metadata=at_least_one)
    learning_starts: int = field(default=1000, metadata=non_negative)
    # env steps (summed over envs) between training rounds
    train_freq: int = field(default=4, metadata=at_least_one)
    gradient_steps: int = field(default=1, metadata=non_negative)  # updates per training round
    # env steps between hard target copies (tau >= 1)
    target_update_interval: int = field(default=1000, metadata=at_least_one)
    # < 1: Polyak averaging after every update instead of hard copies
    tau: float = field(default=1.0, metadata=domain(Range(gt=0, le=1)))
    exploration_fraction: float = field(default=0.1, metadata=probability)
    exploration_initial_eps: float = field(default=1.0, metadata=probability)
    exploration_final_eps: float = field(default=0.05, metadata=probability)
    max_grad_norm: float | None = field(default=10.0, metadata=positive)  # None: no clipping
    loss: str = field(default="huber", metadata=one_of("huber", "mse"))  # TD loss (C51 uses its cross-entropy)
    optimizer_eps: float = field(default=1e-8, metadata=positive)  # Adam's ε
    n_envs: int = field(default=1, metadata=at_least_one)
    # Rainbow ingredients
    double: bool = False  # double DQN: the online net picks a* at s', the target net evaluates it
    dueling: bool = False  # dueling head: separate V and A streams, Q = V + A − mean_a A
    prioritized: bool = False  # prioritized replay: sample P(i) ∝ p_i^α, with importance weights
    alpha: float = field(default=0.6, metadata=non_negative)  # PER priority exponent
    # PER importance-weight exponent, annealed linearly to 1 over training
    beta0: float = field(default=0.4, metadata=probability)
    # added to |δ| so no transition gets zero probability
    per_eps: float = field(default=1e-6, metadata=positive)
    noisy: bool = False  # NoisyNet layers in the head explore instead of ε-greedy (ε = 0)
    # NoisyNet's σ0: the noise scales start at σ0/√fan-in (factorised Gaussian noise)
    sigma0: float = field(default=0.5, metadata=non_negative)
    distributional: bool = False  # C51: a categorical return distribution per action, cross-entropy loss
    n_atoms: int = field(default=51, metadata=domain(Range(ge=2)))  # C51's number of return atoms N
    v_min: float = field(default=-10.0, metadata=finite)  # C51's lowest support atom V_min (return units)
    v_max: float = field(default=10.0, metadata=finite)  # C51's highest support atom V_max (return units)
    # n of the n-step return Σ_{k<n} γ^k r_{t+k}, bootstrapped from s_{t+n} with discount γ^n
    n_step: int = field(default=1, metadata=at_least_one)
    # net.widths: hidden sizes for vector observations (the last one is the head's); image observations
    # take the Nature/MinAtar CNN; net.dropout: after every hidden fully connected layer while training
    net: NetConfig = field(default_factory=lambda: NetConfig(widths=[64, 64], activation="relu"),
                           metadata=section(NetConfig))

    net_keys: ClassVar[tuple[str, ...]] = ("widths", "dropout", "encoder", "freeze_encoder")

    relations: ClassVar[tuple[Relation, ...]] = (
        Relation("v_max > v_min when distributional", ("distributional", "v_min", "v_max"),
                 lambda c: not c.distributional or c.v_max > c.v_min),
    )


# ----------------------------------------------------------------------------- the mathematics
def bootstrap_q(q_target_next: torch.Tensor, q_online_next: torch.Tensor | None = None) -> torch.Tensor:
    """Value of s' to bootstrap from, ``(B, A) -> (B,)``: ``max_a Q⁻(s', a)``, or with double DQN
    (``q_online_next`` given) ``Q⁻(s', argmax_a Q(s', a))`` — the online net picks, the target
    net evaluates (van Hasselt et al. 2016)."""
    chooser = q_target_next if q_online_next is None else q_online_next
    best = chooser.argmax(dim=1, keepdim=True)
    return q_target_next.gather(1, best).squeeze(1)


def td_targets(rewards: torch.Tensor, discounts: torch.Tensor, next_values: torch.Tensor) -> torch.Tensor:
    """``y = R + discount · V(s')`` with the replay's n-step return ``R`` and ``discount`` = γ^n
    (0 after a termination, so terminal states do not bootstrap)."""
    return rewards + discounts * next_values


def c51_target_distribution(
    next_logits_target: torch.Tensor,
    rewards: torch.Tensor,
    discounts: torch.Tensor,
    support: torch.Tensor,
    next_logits_online: torch.Tensor | None = None,
) -> torch.Tensor:
    """C51 target ``(B, N)``: pick ``a* = argmax_a E[Z⁻(s', a)]`` (double: by the online net's
    expectation), then project ``R + discount · z`` of ``Z⁻(s', a*)`` onto the support."""
    next_probs = next_logits_target.softmax(dim=-1)  # (B, A, N)
    chooser = next_probs if next_logits_online is None else next_logits_online.softmax(dim=-1)
    best = (chooser * support).sum(-1).argmax(dim=1)  # (B,)
    chosen = next_probs[torch.arange(len(best), device=best.device), best]  # (B, N)
    return categorical_projection(chosen, rewards, discounts, support)


# ----------------------------------------------------------------------------- the network
class QNetwork(nn.Module):
    """Body (conv encoder or flatten + MLP) -> :class:`QHead`. The head owns the last hidden layer,
    so dueling streams and noisy layers cover every fully connected layer above the convolutions:
    with no flags this is exactly the Nature DQN (conv -> fc 512 -> Q) or an MLP Q-network."""

    def __init__(self, observation_space: gym.Space, n_actions: int, cfg: DQNConfig, channels_last: bool = True):
        super().__init__()
        net = cfg.net
        encoder, features = build_encoder(observation_space, pretrained=net.encoder, freeze=net.freeze_encoder)
        fc = getattr(encoder, "fc", None)
        if isinstance(fc, nn.Sequential):  # conv encoders: their fc layer moves into the head
            hidden: int | None
            features, hidden = cast(nn.Linear, fc[0]).in_features, cast(int, encoder.features_dim)
            encoder.fc = nn.Identity()
            self.body: nn.Module = encoder
        else:
            arch = [int(w) for w in net.widths or []]
            hidden = arch[-1] if arch else None
            body = MLP(features, arch[:-1], dropout=net.dropout)
            self.body = nn.Sequential(encoder, body) if len(arch) > 1 else encoder
            features = arch[-2] if len(arch) > 1 else features
        n_atoms = cfg.n_atoms if cfg.distributional else 1
        self.head = QHead(features, n_actions, dueling=cfg.dueling, noisy=cfg.noisy, n_atoms=n_atoms,
                          hidden=hidden, sigma0=cfg.sigma0, dropout=net.dropout)

        self.noisy_layers = [m for m in self.modules() if isinstance(m, NoisyLinear)]
        self.channels_last = channels_last and len(observation_space.shape or ()) == 3
        if self.channels_last:
            # the conv weights (fc weights are 2-D); memory_format is public but missing from torch's stubs
            self.body.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.dropout_layers = [m for m in self.modules() if isinstance(m, nn.Dropout)]

    def dropout_active(self, active: bool) -> None:
        """Switch only the dropout layers between train and eval mode (noisy layers keep theirs)."""
        for layer in self.dropout_layers:
            layer.train(active)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q values ``(B, A)``, or C51 logits ``(B, A, n_atoms)``."""
        return self.head(self.body(obs))  # the CNN casts obs to its weights' layout (rlsuite.nets.cnn.float_input)

    def reset_noise(self) -> None:
        """A fresh noise sample for every NoisyLinear (no-op without noisy layers)."""
        for layer in self.noisy_layers:
            layer.reset_noise()


# ----------------------------------------------------------------------------- the agent
class DQN(Agent[DQNConfig]):
    """Deep Q-learning with independently switchable Rainbow ingredients (see the module docstring)."""

    name = "dqn"
    description = "DQN with double/dueling/prioritized/noisy/C51/n-step flags (all on = rainbow)"
    Config = DQNConfig
    observation_spaces = (gym.spaces.Box, gym.spaces.Discrete)
    action_spaces = (gym.spaces.Discrete,)
    space_hint = "DQN needs discrete actions; for continuous control try ddpg, td3 or ppo."
    persistent = ("q_net", "target_net", "optimizer", "buffer")
    persistent_for_acting = ("q_net",)
    runtime_keys = ("fused_optimizer", "channels_last", "compiled_update", "compiled_loop", "compile_cache",
                    "numba_acting")
    # runtime.compiled_update's default compiles the update of a run planning this many gradient steps:
    # compiling the round's loop takes ~6-10 s (~20 s more on a machine's first run; later processes load
    # it from the disk cache in ~1 s) and each step then saves ~0.7 ms of the eager ~1.27 ms (zoo
    # CartPole network, one core; docs/agents/dqn.md)
    compiled_update_pays_after: ClassVar[int] = 10_000

    def setup(self) -> None:
        cfg = self.config
        self.n_actions = int(cast(gym.spaces.Discrete, self.action_space).n)
        self.frames_per_step = self.env_spec.frames_per_step()  # logged as train/frames
        channels_last = self.runtime.channels_last
        self.q_net = QNetwork(self.observation_space, self.n_actions, cfg, channels_last).to(self.device)
        self.target_net = QNetwork(self.observation_space, self.n_actions, cfg, channels_last).to(self.device)
        self.sync_targets()
        self.target_net.requires_grad_(False)
        self.target_net.dropout_active(False)  # bootstrap targets from the whole network
        self.params = list(self.q_net.parameters())
        self.optimizer = self.optimizers.adam(self.params, cfg.lr, eps=cfg.optimizer_eps)
        self.support = torch.linspace(cfg.v_min, cfg.v_max, cfg.n_atoms, device=self.device)
        # runtime.compiled_update true: compiled now; unset: on_budget decides once the budget is known
        self.compiled_step = self.compile_update() if self.runtime.compiled_update else None
        self.buffer = make_replay_buffer(
            cfg.buffer_size, self.observation_space, self.action_space, n_envs=cfg.n_envs, n_step=cfg.n_step,
            gamma=cfg.gamma, prioritized=cfg.prioritized, alpha=cfg.alpha, seed=self.seed,
            pin_memory=self.device.type == "cuda",
        )
        if cfg.prioritized:
            cast(PrioritizedReplayBuffer, self.buffer).eps = cfg.per_eps
        plain = not (cfg.dueling or cfg.noisy or cfg.distributional or cfg.net.dropout > 0)
        self.numba_greedy = NumbaGreedy.for_network([self.q_net.body, self.q_net.head.advantage], self.q_net,
                                                    self.observation_space, self.device) \
            if self.runtime.numba_acting and plain else None
        self.numba_greedy_at = self.updates  # the update count its weights were read at

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.numba_greedy_at = -1  # new weights: read them again before acting

    def sync_targets(self) -> None:
        self.target_net.load_state_dict(self.q_net.state_dict())

    # ------------------------------------------------------------------ acting
    @property
    def epsilon(self) -> float:
        """ε of ε-greedy now; 0 with noisy nets, whose parameter noise does the exploring."""
        cfg = self.config
        if cfg.noisy:
            return 0.0
        return schedules.linear(cfg.exploration_initial_eps, cfg.exploration_final_eps,
                                cfg.exploration_fraction, self.progress)

    @torch.no_grad()
    def greedy(self, obs: np.ndarray, noise: bool) -> np.ndarray:
        """argmax_a Q(s, a) for a batch; ``noise=False`` acts with the noisy layers' mean weights."""
        if self.numba_greedy is not None:  # a plain network: no noise, no dropout to switch
            if self.numba_greedy_at != self.updates:
                self.numba_greedy.refresh()
                self.numba_greedy_at = self.updates
            return self.numba_greedy(obs)
        x = torch.as_tensor(obs, device=self.device)
        mean_weights = self.config.noisy and not noise
        if mean_weights:  # eval() makes NoisyLinear use its mean weights (toggled only when it matters)
            self.q_net.eval()
        self.q_net.dropout_active(False)
        out = self.q_net(x)
        self.q_net.dropout_active(True)
        if mean_weights:
            self.q_net.train()
        q = expected_q(out, self.support) if self.config.distributional else out
        return q.argmax(dim=1).cpu().numpy()

    def epsilon_greedy(self, obs: np.ndarray, epsilon: float, infos: dict[str, Any] | None = None) -> np.ndarray:
        """ε-greedy actions; the random ones among the hinted actions where ``infos`` (the vector
        infos that came with ``obs``) carry the env's exploration hints."""
        n = len(obs)
        random_mask = self.rng.random(n) < epsilon
        actions = random_actions(self.rng, self.n_actions, n, infos)
        if not random_mask.all():  # skip the forward pass when every env explores anyway
            self.q_net.reset_noise()
            actions = np.where(random_mask, actions, self.greedy(obs, noise=self.config.noisy))
        return actions

    def act(self, obs: Any, deterministic: bool = True) -> Any:
        obs = np.asarray(obs)
        single = obs.ndim == len(self.observation_space.shape or ())
        batch = obs[None] if single else obs
        if deterministic:
            actions = self.greedy(batch, noise=False)
        else:
            actions = self.epsilon_greedy(batch, self.epsilon)
        return actions[0] if single else actions

    def greedy_policy_module(self) -> nn.Module:
        """What ``act(obs, deterministic=True)`` computes, as a module (for ``rlsuite export``)."""
        from rlsuite.export import ArgmaxQ

        return ArgmaxQ(self.q_net, self.support if self.config.distributional else None)

    def explore(self, obs: np.ndarray) -> np.ndarray:
        infos = self.last_infos  # they came with obs: any exploration hints in them are about these states
        if self.steps < self.config.learning_starts:
            return random_actions(self.rng, self.n_actions, len(obs), infos)
        return self.epsilon_greedy(obs, self.epsilon, infos)

    # ------------------------------------------------------------------ learning
    def observe(self, t: Transition) -> None:
        cfg = self.config
        self.buffer.add(t.obs, t.actions, t.rewards, t.next_obs, t.terminated, t.truncated)
        prev = self.steps - len(t.actions)
        if cfg.tau >= 1.0 and self.steps // cfg.target_update_interval > prev // cfg.target_update_interval:
            self.update_target(1.0)
        rounds = self.steps // cfg.train_freq - prev // cfg.train_freq
        if rounds > 0 and self.steps > cfg.learning_starts:
            self.finish_update(self.update(rounds * cfg.gradient_steps))

    def sample_batches(self, n_updates: int) -> Iterator[ReplayBatch]:
        """``n_updates`` batches as torch tensors on the device (see the deviations)."""
        cfg, buffer = self.config, self.buffer
        if cfg.prioritized:
            beta = cfg.beta0 + (1.0 - cfg.beta0) * self.progress
            for _ in range(n_updates):
                yield to_torch(cast(PrioritizedReplayBuffer, buffer).sample(cfg.batch_size, beta=beta), self.device)
            return
        big = self.sample_round(n_updates)
        for i in range(n_updates):
            part = slice(i * cfg.batch_size, (i + 1) * cfg.batch_size)
            yield type(big)(*(x[part] for x in big))

    def compile_update(self, quiet: bool = False) -> CompiledUpdate | None:
        cfg = self.config
        return compiled_update(
            True, self.q_loss, {"q_net": self.q_net, "target_net": self.target_net}, self.optimizer,
            unsupported="dropout masks would come from the compiled kernels' own RNG" if cfg.net.dropout > 0 else None,
            max_grad_norm=cfg.max_grad_norm or 0.0, targets=[(self.q_net, self.target_net)] if cfg.tau < 1.0 else (),
            tau=cfg.tau, name="DQN update", quiet=quiet,
            # the loop on disk, keyed by everything the loss reads: the agent's whole config (compile_cache)
            cache_context=f"{type(self).__qualname__} {cfg!r} {self.runtime!r}" if self.runtime.compile_cache else None)

    def on_budget(self) -> None:
        """``runtime.compiled_update`` unset: compile the update of a CPU run on vector observations whose
        budget plans enough gradient steps to repay the compilation."""
        cfg = self.config
        learning = self.budget_end - max(self.budget_start, cfg.learning_starts)
        planned = max(learning, 0) // cfg.train_freq * cfg.gradient_steps
        vector_obs = len(self.observation_space.shape or ()) == 1
        if self.compiled_step is None and vector_obs:
            self.compiled_step = compile_by_default(self.runtime.compiled_update, planned,
                                                    self.compiled_update_pays_after, self.device,
                                                    lambda: self.compile_update(quiet=True))

    def sample_round(self, n_updates: int) -> ReplayBatch:
        """The ``n_updates`` batches of a round from a uniform buffer, one after another in one batch."""
        return to_torch(self.buffer.sample(self.config.batch_size * n_updates), self.device)

    def update(self, n_updates: int) -> UpdateStats:
        """One training round: ``n_updates`` gradient steps, each on a fresh minibatch."""
        cfg = self.config
        stats = UpdateStats({"train/epsilon": self.epsilon})
        if self.compiled_step is not None and self.runtime.compiled_loop and not (cfg.prioritized or cfg.noisy):
            # the round's steps in one compiled loop (nothing changes between them but the weights)
            losses, _, grad_norms = self.compiled_step.steps(n_updates, self.sample_round(n_updates))
            self.updates += n_updates
            return stats.add({"loss/q": losses.mean(), "grad norm": None if grad_norms is None else grad_norms.max()})
        for batch in self.sample_batches(n_updates):
            self.q_net.reset_noise()
            self.target_net.reset_noise()
            if self.compiled_step is not None:  # the same step, compiled (rlsuite.compiled_update)
                loss, priorities, grad_norm = self.compiled_step(batch)
            else:
                loss, priorities = self.q_loss(batch)
                grad_norm = self.step(self.optimizer, loss, cfg.max_grad_norm)
                if cfg.tau < 1.0:
                    self.update_target(cfg.tau)
            if cfg.prioritized:
                per = cast(PrioritizedReplayBuffer, self.buffer)
                per.update_priorities(batch.indices.cpu().numpy(), priorities.cpu().numpy())
            stats.add({"loss/q": loss, "grad norm": grad_norm})
            self.updates += 1
        return stats

    def q_loss(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The minibatch loss ``mean_i w_i · loss_i`` (w = 1 without PER) and the new priorities."""
        loss_fn = self.distributional_loss if self.config.distributional else self.td_loss
        loss_per_sample, priorities = loss_fn(batch)
        return (batch.weights * loss_per_sample).mean(), priorities

    def td_loss(self, batch: Any, nets: tuple[nn.Module, nn.Module] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample Huber/MSE TD loss and |δ| for the priorities (``nets``: (online, target) to use
        instead of the agent's own, for :meth:`probe_learning_cost`)."""
        q_net, target_net = nets or (self.q_net, self.target_net)
        actions = batch.actions.long().view(-1, 1)
        if self.config.double:  # one online forward over s and s' together
            both = q_net(torch.cat([batch.obs, batch.next_obs]))
            q_all, q_online_next = both.split(len(actions))
            q_online_next = q_online_next.detach()
        else:
            q_all, q_online_next = q_net(batch.obs), None
        with torch.no_grad():
            next_values = bootstrap_q(target_net(batch.next_obs), q_online_next)
            targets = td_targets(batch.rewards, batch.discounts, next_values)
        td_error = targets - q_all.gather(1, actions).squeeze(1)
        return elementwise_td_loss(td_error, self.config.loss), td_error.detach().abs()

    def distributional_loss(self, batch: Any, nets: tuple[nn.Module, nn.Module] | None = None
                            ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample C51 cross-entropy and KL(target ‖ prediction) for the priorities."""
        q_net, target_net = nets or (self.q_net, self.target_net)
        actions = batch.actions.long()
        if self.config.double:
            both = q_net(torch.cat([batch.obs, batch.next_obs]))
            logits, online_next = both.split(len(actions))
            online_next = online_next.detach()
        else:
            logits, online_next = q_net(batch.obs), None
        with torch.no_grad():
            target = c51_target_distribution(target_net(batch.next_obs), batch.rewards, batch.discounts,
                                             self.support, online_next)
        log_probs = logits[torch.arange(len(actions), device=actions.device), actions].log_softmax(dim=-1)
        cross_entropy = c51_cross_entropy(log_probs, target)
        kl = cross_entropy.detach() + torch.special.xlogy(target, target).sum(dim=-1)
        return cross_entropy, kl.clamp_min(0.0)

    def probe_learning_cost(self, repeats: int = 3) -> float | None:
        """Seconds per env step that learning adds once ``learning_starts`` is passed: one training
        round (``gradient_steps`` updates of a ``batch_size`` batch: forward, backward, clipping, Adam)
        timed on copies of the networks and a synthetic batch, divided by ``train_freq``. Touches no
        state of the agent (its networks, optimizer, buffer and RNGs stay as they were)."""
        cfg = self.config
        if cfg.gradient_steps == 0:
            return 0.0
        q_net, target_net = copy.deepcopy(self.q_net), copy.deepcopy(self.target_net)
        optimizers = Optimizers(fused=self.runtime.fused_optimizer)  # the agent's own packings stay untouched
        optimizer = optimizers.adam(q_net.parameters(), cfg.lr, eps=cfg.optimizer_eps)
        b = cfg.batch_size
        obs = torch.zeros((b, *(self.observation_space.shape or ())),
                          dtype=torch.from_numpy(np.zeros(0, self.observation_space.dtype)).dtype, device=self.device)
        zeros = torch.zeros(b, device=self.device)
        batch = ReplayBatch(obs, torch.zeros(b, dtype=torch.long, device=self.device), zeros, obs.clone(),
                            zeros + cfg.gamma, torch.zeros(b, dtype=torch.long), zeros + 1.0)
        loss_fn = self.distributional_loss if cfg.distributional else self.td_loss
        seconds = []
        for _ in range(repeats + 1):  # the first pass warms up allocations and kernels
            start = time.perf_counter()
            optimizers.step(optimizer, loss_fn(batch, (q_net, target_net))[0].mean(), cfg.max_grad_norm)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            seconds.append(time.perf_counter() - start)
        return float(np.median(seconds[1:])) * cfg.gradient_steps / cfg.train_freq

    def update_target(self, tau: float) -> None:
        """θ⁻ ← θ (tau = 1) or θ⁻ ← (1 − τ) θ⁻ + τ θ."""
        polyak_update(self.q_net, self.target_net, min(tau, 1.0))

    def train_until(self, until_step: int) -> None:
        run_step_loop(self, until_step)


class Rainbow(DQN):
    """Rainbow (Hessel et al. 2018): DQN with all six ingredients on. Env configs' tuned ``dqn``
    values apply unless the env config has its own ``rainbow`` entry."""

    name = "rainbow"
    description = "Rainbow: DQN + double, dueling, prioritized replay, noisy nets, C51, 3-step returns"
    preset = dict(double=True, dueling=True, prioritized=True, noisy=True, distributional=True, n_step=3)
    hparams_from = "dqn"


__all__ = ["DQN", "DQNConfig", "QNetwork", "Rainbow", "bootstrap_q", "c51_target_distribution", "td_targets"]
