"""Proximal Policy Optimization with the clipped surrogate (Schulman et al. 2017, Algorithm 1).

    for iteration = 1, 2, ...:
        run π_θold in N parallel envs for T steps                       (rlsuite.onpolicy)
        compute advantage estimates Â_1..Â_NT with GAE(γ, λ)
        for epoch = 1..K, for each minibatch of size M (a fresh permutation per epoch):
            r_t(θ) = π_θ(a_t|s_t) / π_θold(a_t|s_t)
            L_CLIP = E_t[ min(r_t Â_t, clip(r_t, 1 − ε, 1 + ε) Â_t) ]      (the min is over the products)
            L_VF   = E_t[ (V_θ(s_t) − V_t^targ)² ]
            maximize L_CLIP − c_vf L_VF + c_ent H[π_θ](s_t) by Adam, gradient norm clipped
        θold ← θ

As in common practice (OpenAI baselines, SB3, CleanRL) and not in the paper's pseudo-code:

* advantages are normalized per minibatch (``normalize_advantage``);
* ``clip_range_vf`` optionally clips the value prediction around the rollout's value, taking the
  max of the clipped and unclipped squared errors (baselines' form);
* ``target_kl`` stops the epochs early once the approximate KL ``E[(r − 1) − log r]`` of a
  minibatch exceeds ``1.5 · target_kl`` (checked before that minibatch's step, as in SB3);
* ``anneal_lr`` / ``anneal_clip`` decay the learning rate / ε linearly to 0 over the budget
  (rl-zoo3's ``lin_`` schedules); Adam uses eps 1e-5;
* the value loss is the plain MSE weighted by ``vf_coef`` (SB3's scale, so zoo values carry over).

Atari: ``rlsuite train agent=ppo env=Pong`` uses ``configs/env/Pong.yaml`` (CleanRL's ppo_atari
settings, one shared Nature CNN trunk), with NHWC convolutions (``runtime.channels_last``) by default;
``runtime.precision=bfloat16`` (opt-in, not in the paper) runs the CNN under bf16 autocast.
A compiled update (vector observations, float32, no ``target_kl``) runs each minibatch step —
:meth:`PPO.minibatch_loss`, backward, clipping, Adam — as one ``torch.compile``'d function
(rlsuite.compiled_update), the same weights to rounding. By default (``runtime.compiled_update``
unset) a CPU run compiles it when its budget plans at least :attr:`PPO.compiled_update_pays_after`
minibatch steps; ``true`` / ``false`` force it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from rlsuite.compiled_update import CompiledUpdate, compile_by_default, compiled_update
from rlsuite.constraints import Relation, at_least_one, finite, non_negative, positive
from rlsuite.errors import ConfigError
from rlsuite.losses import approx_kl, clipped_surrogate_loss, entropy_bonus, normalize_advantages, value_loss
from rlsuite.onpolicy import OnPolicyAgent, OnPolicyConfig
from rlsuite.policies import PolicyState
from rlsuite.update import UpdateStats


@dataclass
class PPOConfig(OnPolicyConfig):
    n_steps: int = field(default=2048, metadata=at_least_one)
    batch_size: int = field(default=64, metadata=at_least_one)
    # CleanRL-style alternative: batch_size = n_steps·n_envs / this
    n_minibatches: int | None = field(default=None, metadata=at_least_one)
    n_epochs: int = field(default=10, metadata=at_least_one)
    lr: float = field(default=3e-4, metadata=positive)
    clip_range: float = field(default=0.2, metadata=positive)
    anneal_clip: bool = False  # decay the clipping ε linearly to 0 over the budget
    # clip V(s) to within ± this of the rollout's value, loss max(clipped, unclipped) (None: no clipping)
    clip_range_vf: float | None = field(default=None, metadata=positive)
    ent_coef: float = field(default=0.0, metadata=finite)
    vf_coef: float = field(default=0.5, metadata=non_negative)
    target_kl: float | None = field(default=None, metadata=positive)

    relations: ClassVar[tuple[Relation, ...]] = (
        Relation("a minibatch size in [1, n_steps * n_envs]", ("batch_size", "n_minibatches", "n_steps", "n_envs"),
                 lambda c: 1 <= minibatch_size(c) <= c.n_steps * c.n_envs),
    )


def minibatch_size(cfg: PPOConfig) -> int:
    """``batch_size``, or ``n_steps·n_envs / n_minibatches`` when that is given."""
    return cfg.n_steps * cfg.n_envs // cfg.n_minibatches if cfg.n_minibatches else cfg.batch_size


class PPO(OnPolicyAgent[PPOConfig]):
    """PPO-Clip: GAE, minibatch epochs, value clipping option, target-KL early stop, annealing."""

    name = "ppo"
    description = "PPO-Clip (Schulman et al. 2017): GAE, minibatch epochs, target-KL stop, Atari-ready"
    Config = PPOConfig
    supports_recurrent = True
    runtime_keys = (*OnPolicyAgent.runtime_keys, "compiled_update")
    # runtime.compiled_update's default compiles the minibatch step of a run planning this many of them:
    # compilation takes ~3 s with inductor's cache warm (~14 s on a machine's first run of a network shape)
    # and each step then saves ~0.7-1.0 ms of the eager ~1.3 ms (zoo CartPole recipe, one core;
    # docs/agents/ppo.md)
    compiled_update_pays_after: ClassVar[int] = 5_000

    def setup_optimizers(self) -> None:
        cfg = self.config
        self.batch_size = minibatch_size(cfg)
        if self.policy.recurrent and self.batch_size % cfg.n_steps:
            # a recurrent policy is re-run over whole sequences (one env's rollout): minibatches hold whole ones
            raise ConfigError(f"ppo with net.recurrent={cfg.net.recurrent} takes minibatches of whole env sequences: "
                              f"batch_size must be a multiple of n_steps={cfg.n_steps} (got {self.batch_size})")
        self.optimizer = self.optimizers.adam(self.policy.parameters(), cfg.lr, eps=cfg.optimizer_eps)
        # runtime.compiled_update true: compiled now; unset: on_budget decides once the budget is known
        self.compiled_step = self.compile_update() if self.runtime.compiled_update else None

    def compile_update(self, quiet: bool = False) -> CompiledUpdate | None:
        return compiled_update(
            True, self.minibatch_loss, {"policy": self.policy}, self.optimizer,
            unsupported=compiled_step_unsupported(self), max_grad_norm=self.config.max_grad_norm or 0.0,
            packing=self.optimizers.packing_of(self.optimizer), name="PPO minibatch step", quiet=quiet)

    def on_budget(self) -> None:
        """``runtime.compiled_update`` unset: compile the minibatch step of a CPU run whose budget plans
        enough of them to repay the compilation."""
        cfg = self.config
        rollout = cfg.n_steps * cfg.n_envs
        planned = (self.budget_end - self.budget_start) // rollout * cfg.n_epochs * -(-rollout // self.batch_size)
        if self.compiled_step is None:
            self.compiled_step = compile_by_default(self.runtime.compiled_update, planned,
                                                    self.compiled_update_pays_after, self.device,
                                                    lambda: self.compile_update(quiet=True))

    def minibatch_loss(self, batch: tuple[torch.Tensor, ...], clip_range: float | torch.Tensor, normalize: bool,
                       state0: PolicyState = None, episode_starts: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """L = −L_CLIP + c_vf L_VF − c_ent H on one minibatch ``(obs, actions, old log-probs, old
        values, advantages, returns)``, with the parts and diagnostics."""
        cfg = self.config
        obs, actions, old_log_probs, old_values, advantages, returns = batch
        log_probs, entropy_per_step, values = self.policy.sequence(obs, actions, state0, episode_starts)
        if normalize:
            advantages = normalize_advantages(advantages)
        log_ratio = log_probs - old_log_probs
        ratio = log_ratio.exp()
        policy_loss = clipped_surrogate_loss(ratio, advantages, clip_range)
        v_loss = value_loss(values, returns, old_values, cfg.clip_range_vf)
        entropy = entropy_bonus(entropy_per_step)
        loss = policy_loss + cfg.vf_coef * v_loss - cfg.ent_coef * entropy
        ratio, log_ratio = ratio.detach(), log_ratio.detach()
        return loss, {"loss/policy": policy_loss.detach(), "loss/value": v_loss.detach(),
                      "loss/entropy": entropy.detach(), "kl": approx_kl(ratio, log_ratio),
                      "train/clip_fraction": ((ratio - 1).abs() > clip_range).float().mean()}

    def update(self) -> UpdateStats:
        cfg = self.config
        lr = self.scheduled_lr(cfg.lr, self.optimizer)
        clip_range = cfg.clip_range * (1.0 - self.progress) if cfg.anneal_clip else cfg.clip_range
        data = self.rollout_batch()
        obs, actions = self.tensor(data.obs), self.tensor(data.actions)
        old_log_probs, old_values = self.tensor(data.log_probs), self.tensor(data.values)
        advantages, returns = self.tensor(data.advantages), self.tensor(data.returns)

        # One minibatch holding the whole rollout: self.minibatches does not shuffle it, so the
        # advantages are normalized once here rather than every epoch.
        whole = self.batch_size >= len(old_values)
        if whole and cfg.normalize_advantage:
            advantages = normalize_advantages(advantages)
        normalize = cfg.normalize_advantage and not whole
        columns = (obs, actions, old_log_probs, old_values, advantages, returns)
        stats = UpdateStats({"train/lr": lr})
        n_minibatches, kl = 0, None
        for _ in range(cfg.n_epochs):
            for minibatch, sequences in self.sequence_minibatches(columns, self.batch_size):
                if self.compiled_step is not None:  # the same loss and step, compiled (rlsuite.compiled_update)
                    loss, info, grad_norm = self.compiled_step(minibatch, torch.tensor(clip_range), normalize)
                    kl = info.pop("kl")
                else:
                    loss, info = self.minibatch_loss(minibatch, clip_range, normalize, *sequences)
                    kl = info.pop("kl")
                    if cfg.target_kl is not None and kl > 1.5 * cfg.target_kl:
                        break
                    grad_norm = self.step(self.optimizer, loss, cfg.max_grad_norm)
                stats.add({"loss/policy": info["loss/policy"], "loss/value": info["loss/value"],
                           "grad norm": grad_norm, "loss/entropy": info["loss/entropy"],
                           "train/clip_fraction": info["train/clip_fraction"]})
                n_minibatches += 1
            else:
                continue
            break  # the target-KL stop ends all epochs
        # the KL last measured: before the last step, or the one that stopped the epochs
        return stats.add({"train/minibatches": n_minibatches, "train/approx_kl": kl})


def compiled_step_unsupported(agent: PPO) -> str | None:
    """Why ``runtime.compiled_update`` cannot run this PPO's minibatch step (None: it can)."""
    cfg = agent.config
    if cfg.target_kl is not None:
        return "target_kl checks the KL between the forward pass and the step"
    if agent.policy.recurrent:
        return "a recurrent policy"
    if len(agent.observation_space.shape or ()) != 1 or agent.runtime.precision != "float32":
        return "only vector observations in float32 are compiled"
    return None
