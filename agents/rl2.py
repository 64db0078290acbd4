"""RL² (Duan et al. 2016): a recurrent policy whose hidden state is the learning algorithm.

    repeat (iteration):
        draw trials_per_iteration meta-training tasks; on each run one *trial*: episodes_per_trial
        episodes of that task, all trials stepped together as one batch
            input_t = [obs_t, previous action (one-hot if discrete), previous reward, previous done]
            h_t = GRU(input_t, h_{t-1});  π(a|h_t), V(h_t)
            h is zero at the start of a trial and is *kept* across the episodes inside it
        advantages by GAE(γ, λ) over the whole trial (episode ends inside a trial do not cut the
        return: the objective is the trial's total reward); the trial's last step is terminal
        PPO (clipped surrogate, value loss, entropy bonus) for n_epochs over minibatches of whole
        trials, each minibatch re-running the GRU over its trials from the zero state (full BPTT over
        the trial, which is at most a few hundred steps here)

The paper used TRPO (``outer_optimizer=trpo``: one natural-gradient step of the policy per
iteration with the mean KL over all steps of all trials bounded by ``max_kl``, the GRU re-run over
whole trials at every point the line search tries, then the value function fitted by Adam); the
default is PPO, as garage's RL2PPO. Its GRU was 256 units; we
default to 64 as garage does. What matters more on bandits is the batch: with 1,024 trials per
update (the bandit recipe, configs/env/bandits.yaml) every seed settles within 2.5 % of the
Bayes-optimal strategy, with 256 some settle 4-9 % under it, whatever the GRU's size
(benchmarks/meta.py). Meta-test (:meth:`RL2.meta_test`): total reward per trial on held-out tasks,
and the mean return of each episode inside the trial (adaptation: episode 2 > episode 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal, kl_divergence

from rlsuite.agent import Agent, AgentConfig
from rlsuite.buffers.rollout import gae
from rlsuite.config import NetConfig
from rlsuite.constraints import Relation, at_least_one, finite, non_negative, one_of, positive, probability, section
from rlsuite.errors import ConfigError
from rlsuite.losses import clipped_surrogate_loss, entropy_bonus, masked_mean, normalize_advantages, value_loss
from rlsuite.meta import MetaSplit, task_distribution
from rlsuite.meta.protocol import MetaEvaluation
from rlsuite.meta.tasks import TaskSet
from rlsuite.nets.recurrent import RecurrentCore, State
from rlsuite.trust_region import trust_region_step
from rlsuite.update import UpdateStats

CRITICS = ("shared", "separate", "detached")


@dataclass
class RL2Config(AgentConfig):
    gamma: float = field(default=0.99, metadata=probability)
    gae_lambda: float = field(default=0.95, metadata=probability)
    # episodes per trial, the hidden state kept across them (bandits: one episode of n pulls)
    episodes_per_trial: int = field(default=1, metadata=at_least_one)
    # meta-training tasks per iteration, one trial on each, all stepped together as one batch
    trials_per_iteration: int = field(default=256, metadata=at_least_one)
    lr: float = field(default=1e-3, metadata=positive)
    n_epochs: int = field(default=5, metadata=at_least_one)
    n_minibatches: int = field(default=4, metadata=at_least_one)
    clip_range: float = field(default=0.2, metadata=positive)
    ent_coef: float = field(default=0.0, metadata=finite)
    vf_coef: float = field(default=0.5, metadata=non_negative)
    max_grad_norm: float | None = field(default=0.5, metadata=positive)  # None: no clipping
    normalize_advantage: bool = True
    # fixes the held-out tasks, the same for every agent seed
    task_split_seed: int = field(default=0, metadata=non_negative)
    # What the value function reads (see RL2Net): "shared" (the policy's recurrent core, trained by
    # both losses), "separate" (its own recurrent core) or "detached" (the policy core's features
    # with the value loss's gradient stopped, so only the policy loss shapes the memory).
    critic: str = field(default="shared", metadata=one_of(*CRITICS))
    # An input the paper does not have: the fraction of the trial elapsed, t / (episodes × horizon).
    # Both heads then know how many pulls/steps are left (how much exploring can still pay off).
    time_input: bool = False
    # The outer optimizer: "ppo" (clipped epochs over minibatches of trials, as garage's RL2PPO) or
    # "trpo" (the paper's: one natural-gradient step of the policy per iteration, the mean KL bounded
    # by max_kl; the value function then trains on its own loss by Adam, n_epochs × n_minibatches)
    outer_optimizer: str = field(default="ppo", metadata=one_of("ppo", "trpo"))
    max_kl: float = field(default=0.01, metadata=positive)  # trust-region radius δ (trpo)
    cg_iters: int = field(default=10, metadata=at_least_one)  # conjugate-gradient iterations (trpo)
    cg_damping: float = field(default=1e-5, metadata=non_negative)  # CG damping λ: (H + λI) s = g (trpo)
    # the recurrent core: net.recurrent (gru | lstm) of net.recurrent_hidden units
    net: NetConfig = field(default_factory=lambda: NetConfig(recurrent="gru", recurrent_hidden=64),
                           metadata=section(NetConfig))

    net_keys: ClassVar[tuple[str, ...]] = ("recurrent", "recurrent_hidden")
    renamed_keys: ClassVar[dict[str, str]] = {"hidden_size": "net.recurrent_hidden", "core": "net.recurrent"}
    relations: ClassVar[tuple[Relation, ...]] = (
        Relation("a recurrent core (net.recurrent: gru or lstm)", ("net.recurrent",), lambda c: c.net.recurrent),
        Relation("trials_per_iteration >= n_minibatches", ("trials_per_iteration", "n_minibatches"),
                 lambda c: c.trials_per_iteration >= c.n_minibatches),
        # with a shared core the value loss would move the policy outside the trust region
        Relation("critic separate or detached with outer_optimizer=trpo", ("outer_optimizer", "critic"),
                 lambda c: c.outer_optimizer != "trpo" or c.critic != "shared"),
    )


NetState = tuple[State, State | None]  # (policy core state, value core state when critic="separate")


class RL2Net(nn.Module):
    """Recurrent core + linear actor and critic heads (a diagonal Gaussian for ``Box`` actions).

    With ``critic="shared"`` the value loss also trains the policy's core. Over long trials (100
    pulls, 10 × 10 MDP steps) its targets are tens of reward units against a policy gradient of
    normalized advantages, so the value regression dominates the core's gradient and the policy
    stays at random (dev-notes/benchmarks-lab-notes.md, Meta-RL); "separate" and "detached" keep it out."""

    def __init__(self, obs_dim: int, action_space: gym.Space, hidden: int, core: str, critic: str = "shared",
                 time_input: bool = False):
        super().__init__()
        self.time_input = time_input
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        self.action_dim = int(action_space.n) if isinstance(action_space, gym.spaces.Discrete) \
            else int(np.prod(action_space.shape or (1,)))
        in_dim = obs_dim + self.action_dim + 2 + int(time_input)
        self.core = RecurrentCore(in_dim, hidden, core)
        self.value_core = RecurrentCore(in_dim, hidden, core) if critic == "separate" else None
        self.detach_value = critic == "detached"
        self.actor = nn.Linear(hidden, self.action_dim)
        self.critic = nn.Linear(hidden, 1)
        self.log_std = None if self.discrete else nn.Parameter(torch.zeros(self.action_dim))

    def encode_action(self, action: torch.Tensor) -> torch.Tensor:
        if self.discrete:
            return nn.functional.one_hot(action.long(), self.action_dim).float()
        return action.float()

    def initial_state(self, batch: int, device: torch.device | str) -> NetState:
        value_state = None if self.value_core is None else self.value_core.initial_state(batch, device)
        return self.core.initial_state(batch, device), value_state

    def step(self, x: torch.Tensor, state: NetState) -> tuple[Distribution, torch.Tensor, NetState]:
        """One time step for a batch: ``x (batch, in_dim)`` → policy, value, next state."""
        features, policy_state = self.core.step(x, state[0])
        value_features, value_state = features, None
        if self.value_core is not None:
            assert state[1] is not None
            value_features, value_state = self.value_core.step(x, state[1])
        dist, value = self.heads(features, value_features)
        return dist, value, (policy_state, value_state)

    def trials(self, x: torch.Tensor) -> tuple[Distribution, torch.Tensor]:
        """Whole trials ``x (time, batch, in_dim)`` from the zero state (what :meth:`step` saw)."""
        policy_state, value_state = self.initial_state(x.shape[1], x.device)
        features, _ = self.core(x, policy_state)
        value_features = features
        if self.value_core is not None:
            assert value_state is not None
            value_features, _ = self.value_core(x, value_state)
        return self.heads(features, value_features)

    def heads(self, features: torch.Tensor, value_features: torch.Tensor) -> tuple[Distribution, torch.Tensor]:
        out = self.actor(features)
        value = self.critic(value_features.detach() if self.detach_value else value_features).squeeze(-1)
        if self.discrete:
            return Categorical(logits=out), value
        assert self.log_std is not None
        return Independent(Normal(out, self.log_std.exp().expand_as(out)), 1), value


@dataclass
class Trials:
    """One batch of trials, time-major ``(L, B, …)`` with L = episodes × horizon."""

    inputs: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    values: torch.Tensor
    rewards: np.ndarray
    mask: np.ndarray
    states_in: torch.Tensor  # the GRU hidden state each step started from (for tests)
    horizon: int

    def episode_returns(self) -> np.ndarray:
        """``(episodes, B)``: the return of each episode of each trial."""
        return self.rewards.reshape(-1, self.horizon, self.rewards.shape[1]).sum(axis=1)


class RL2(Agent[RL2Config]):
    """RL²: a GRU policy over trials of several episodes, trained over whole trials by PPO (or TRPO)."""

    name = "rl2"
    description = "RL² (Duan et al. 2016): GRU policy reading (obs, prev action, reward, done), PPO or TRPO over trials"
    Config = RL2Config
    observation_spaces = (gym.spaces.Box,)
    space_hint = "rl2 needs a task-distribution env: bandits/k5-n10, tabular_mdp, navigation2d"
    meta_protocol = "meta-trial"  # what rlsuite.evaluate / rlsuite eval / train's final eval run
    persistent = ("net", "optimizer")
    persistent_for_acting = ("net",)

    def setup(self) -> None:
        cfg = self.config
        self.distribution = task_distribution(self.env_spec, self.name)
        self.split = MetaSplit(self.distribution, cfg.task_split_seed)
        self.vec = self.distribution.make_vec()
        obs_dim = int(np.prod(self.observation_space.shape or (1,)))
        core = cfg.net.recurrent
        assert core is not None  # the config's relation requires a recurrent core
        self.net = RL2Net(obs_dim, self.action_space, cfg.net.recurrent_hidden, core, cfg.critic,
                          cfg.time_input).to(self.device)
        # PPO: one Adam over everything; TRPO: Adam over the value function only (the policy takes
        # trust-region steps)
        self.policy_params = [*self.net.core.parameters(), *self.net.actor.parameters(),
                              *([self.net.log_std] if self.net.log_std is not None else [])]
        trained_by_adam = self.net.parameters() if cfg.outer_optimizer == "ppo" else \
            [*(self.net.value_core.parameters() if self.net.value_core is not None else []),
             *self.net.critic.parameters()]
        self.optimizer = self.optimizers.adam(trained_by_adam, cfg.lr)
        self.last_task_seeds = np.zeros(0, dtype=np.int64)
        self._act_state: State | None = None

    # ----------------------------------------------------------------- trials
    def run_trials(self, tasks: TaskSet, rng: np.random.Generator, deterministic: bool = False) -> Trials:
        """One trial per task: ``episodes_per_trial`` episodes, hidden state reset only at the start."""
        cfg, vec, net = self.config, self.vec, self.net
        batch = len(tasks)
        vec.set_tasks(tasks.params, 1)
        state = net.initial_state(batch, self.device)  # a new trial: the only reset
        prev_action = torch.zeros(batch, net.action_dim, device=self.device)
        prev_reward = torch.zeros(batch, 1, device=self.device)
        prev_done = torch.zeros(batch, 1, device=self.device)
        cols: dict[str, list[Any]] = {k: [] for k in ("inputs", "actions", "log_probs", "values", "rewards",
                                                      "mask", "states")}
        trial_length = cfg.episodes_per_trial * vec.horizon
        with torch.no_grad():
            for _ in range(cfg.episodes_per_trial):
                obs = vec.reset()  # a new episode of the same task; the hidden state carries on
                done = False
                while not done:
                    parts = [torch.as_tensor(obs, device=self.device), prev_action, prev_reward, prev_done]
                    if net.time_input:
                        parts.append(torch.full((batch, 1), len(cols["inputs"]) / trial_length, device=self.device))
                    x = torch.cat(parts, 1)
                    policy_state = state[0]
                    cols["states"].append(policy_state if isinstance(policy_state, torch.Tensor) else policy_state[0])
                    dist, value, state = net.step(x, state)
                    if deterministic:
                        action = dist.mode
                    else:
                        action = dist.sample()
                    obs, reward, alive, done = vec.step(action.cpu().numpy(), vec.draw_noise(rng))
                    for key, val in (("inputs", x), ("actions", action), ("log_probs", dist.log_prob(action)),
                                     ("values", value), ("rewards", reward), ("mask", alive)):
                        cols[key].append(val)
                    prev_action = net.encode_action(action)
                    prev_reward = torch.as_tensor(reward, dtype=torch.float32, device=self.device).view(-1, 1)
                    prev_done = torch.full((batch, 1), float(done), device=self.device)
        return Trials(
            inputs=torch.stack(cols["inputs"]), actions=torch.stack(cols["actions"]),
            log_probs=torch.stack(cols["log_probs"]), values=torch.stack(cols["values"]),
            rewards=np.stack(cols["rewards"]).astype(np.float32), mask=np.stack(cols["mask"]).astype(np.float32),
            states_in=torch.cat(cols["states"]), horizon=vec.horizon,
        )

    def evaluate_sequences(self, inputs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Log-probs, values and entropies of whole trials, the GRU re-run from the zero state."""
        dist, values = self.net.trials(inputs)
        return dist.log_prob(actions), values, dist.entropy()

    # ----------------------------------------------------------------- PPO or TRPO over trials
    def update(self, trials: Trials) -> UpdateStats:
        cfg = self.config
        advantages, returns, mask = self.advantages(trials)
        if cfg.outer_optimizer == "trpo":
            return self.trpo_update(trials, advantages, returns, mask)
        batch = trials.inputs.shape[1]
        stats = UpdateStats()
        for _ in range(cfg.n_epochs):
            order = torch.randperm(batch)
            for idx in order.chunk(cfg.n_minibatches):
                log_probs, values_new, entropy = self.evaluate_sequences(trials.inputs[:, idx], trials.actions[:, idx])
                m = mask[:, idx]
                ratio = torch.exp(log_probs - trials.log_probs[:, idx])
                policy_loss = clipped_surrogate_loss(ratio, advantages[:, idx], cfg.clip_range, mask=m)
                v_loss = value_loss(values_new, returns[:, idx], mask=m)
                entropy_mean = entropy_bonus(entropy, mask=m)
                loss = policy_loss + cfg.vf_coef * v_loss - cfg.ent_coef * entropy_mean
                grad_norm = self.step(self.optimizer, loss, cfg.max_grad_norm)
                stats.add({"loss/policy": policy_loss, "loss/value": v_loss, "grad norm": grad_norm,
                           "loss/entropy": entropy_mean})
        return stats

    def trpo_update(self, trials: Trials, advantages: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor
                    ) -> UpdateStats:
        """The paper's outer step: maximize E[π_θ/π_old · Â] (+ c_ent H) over all trials subject to
        mean KL(π_old ‖ π_θ) ≤ max_kl (rlsuite.trust_region, the GRU re-run over whole trials at every
        trial point), then fit the value function by Adam."""
        cfg = self.config
        inputs, actions = trials.inputs, trials.actions
        with torch.no_grad():
            old_dist, _ = self.net.trials(inputs)

        def objective(differentiable: bool) -> tuple[torch.Tensor, torch.Tensor]:
            with torch.set_grad_enabled(differentiable):  # the line search needs values only
                dist, _ = self.net.trials(inputs)
                ratio = torch.exp(dist.log_prob(actions) - trials.log_probs)
                surrogate = masked_mean(ratio * advantages, mask) + cfg.ent_coef * entropy_bonus(dist.entropy(), mask)
                return surrogate, masked_mean(kl_divergence(old_dist, dist), mask)

        info = trust_region_step(self.policy_params, objective, max_kl=cfg.max_kl, cg_iters=cfg.cg_iters,
                                 cg_damping=cfg.cg_damping)
        stats = UpdateStats({"loss/surrogate": info["surrogate"], "Fisher quadratic form sᵀFs": info["quadratic form"],
                             "train/kl": info["kl"], "train/step_fraction": info["step_fraction"],
                             "train/accepted": info["accepted"]})
        for _ in range(cfg.n_epochs):
            for idx in torch.randperm(inputs.shape[1]).chunk(cfg.n_minibatches):
                _, values_new, _ = self.evaluate_sequences(inputs[:, idx], actions[:, idx])
                v_loss = value_loss(values_new, returns[:, idx], mask=mask[:, idx])
                stats.add({"loss/value": v_loss, "grad norm": self.step(self.optimizer, v_loss, cfg.max_grad_norm)})
        return stats

    def advantages(self, trials: Trials) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """GAE advantages (normalized over the valid steps when ``normalize_advantage``), the λ-returns
        and the mask of valid steps, each ``(L, B)``."""
        cfg = self.config
        values = trials.values.cpu().numpy()
        next_values = np.concatenate([values[1:], np.zeros_like(values[:1])])
        terminated = np.zeros_like(values, dtype=bool)
        terminated[-1] = True  # the trial ends; episode ends inside it do not cut the return
        adv_np, ret_np = gae(trials.rewards, values, next_values, terminated, terminated, cfg.gamma, cfg.gae_lambda)
        advantages = torch.as_tensor(adv_np, device=self.device)
        returns = torch.as_tensor(ret_np, device=self.device)
        mask = torch.as_tensor(trials.mask, device=self.device)
        if cfg.normalize_advantage:
            advantages = normalize_advantages(advantages, mask)
        return advantages, returns, mask

    # ----------------------------------------------------------------- the Agent loop
    def start_segment(self) -> None:
        """No Gymnasium vector env: trials step the batched task env themselves."""

    def train_until(self, until_step: int) -> None:
        cfg = self.config
        while self.steps < until_step:
            prev = self.steps
            tasks = self.split.train_tasks(self.rng, cfg.trials_per_iteration)
            self.last_task_seeds = tasks.seeds
            trials = self.run_trials(tasks, self.rng)
            self.steps += int(trials.rewards.size)
            self.episodes += cfg.episodes_per_trial * len(tasks)
            stats = self.update(trials)
            self.finish_update(stats.add({"meta/trial_return": float(trials.rewards.sum(axis=0).mean())}))
            self.updates += 1
            self.after_step(prev)

    def act(self, obs: Any, deterministic: bool = True) -> Any:
        """One step of a single-trial stream (``env=…`` Gymnasium evaluation): the hidden state and
        previous action/reward are not visible through this API, so each call starts a fresh trial
        unless :meth:`meta_test` is used. Provided so generic evaluation runs."""
        obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        single = obs_t.dim() == 1
        obs_t = obs_t.unsqueeze(0) if single else obs_t
        zeros = torch.zeros(obs_t.shape[0], self.net.action_dim + 2 + int(self.net.time_input), device=self.device)
        with torch.no_grad():
            fresh_trial = self.net.initial_state(obs_t.shape[0], self.device)
            dist, _, _ = self.net.step(torch.cat([obs_t, zeros], 1), fresh_trial)
            action = dist.mode if deterministic else dist.sample()
        out = action.cpu().numpy()
        return out[0] if single else out

    def meta_test(self, n_tasks: int = 1000, seed: int = 100_000) -> dict[str, Any]:
        """Mean total reward per trial on ``n_tasks`` held-out tasks, and each episode's mean return;
        repeatable for a ``seed`` (a forked torch stream, so evaluating never moves training's)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            trials = self.run_trials(self.split.test_tasks(n_tasks), np.random.default_rng(seed))
        totals = trials.rewards.sum(axis=0)
        sem = float(totals.std(ddof=1) / np.sqrt(len(totals))) if len(totals) > 1 else 0.0
        return {"trial_return": float(totals.mean()), "sem": sem, "trial_returns": totals.tolist(),
                "episode_returns": [float(r) for r in trials.episode_returns().mean(axis=1)]}

    def meta_evaluate(self, n_tasks: int, seed: int, adapt_steps: int | None = None) -> MetaEvaluation:
        """The ``meta-trial`` protocol for :func:`rlsuite.evaluate`: each task's score is the total
        reward of one trial of ``episodes_per_trial`` episodes."""
        if adapt_steps is not None:
            raise ConfigError("adapt_steps applies to gradient-based meta-learners (maml); rl2 adapts inside a "
                              "trial (agent.episodes_per_trial)")
        result = self.meta_test(n_tasks, seed)
        episodes = self.config.episodes_per_trial
        per_episode = " / ".join(f"{r:.2f}" for r in result["episode_returns"])
        return MetaEvaluation(
            protocol=f"meta-trial/e{episodes}",
            scores=np.asarray(result["trial_returns"]),
            env_steps=np.full(n_tasks, episodes * self.vec.horizon),
            summary=(f"mean total reward per trial on {n_tasks} held-out tasks: {result['trial_return']:.3f} "
                     f"± {result['sem']:.3f}; per episode: {per_episode}"),
            details={"episodes_per_trial": episodes, "trial_return": result["trial_return"], "sem": result["sem"],
                     "episode_returns": result["episode_returns"]},
        )
