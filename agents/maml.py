"""MAML-RL (Finn et al. 2017, section 3.2 and 5.3): meta-learn policy parameters θ such that one
vanilla policy-gradient step on a new task gives a good policy for it.

    repeat (meta-iteration):
        draw meta_batch_size meta-training tasks T_i                              (never held-out ones)
        D_i  ← trajectories_per_task rollouts of π_θ on T_i
        b_i  ← linear feature baseline fitted on D_i (ridge least squares)
        θ'_i = θ + α ∇_θ (1/|D_i|) Σ log π_θ(a|s) (R − b_i(s))                        (inner step, α = inner_lr)
        D'_i ← rollouts of π_θ'_i on T_i; baseline b'_i fitted on D'_i
        L(θ) = mean_i  mean_{D'_i} [ π_θ'_i(θ)(a|s) / π_θ'_i(θ_old)(a|s) · (R − b'_i(s)) ]
        KL(θ) = mean_i mean_{D'_i} KL(π_θ'_i(θ_old) ‖ π_θ'_i(θ))
        θ ← TRPO step on L within KL ≤ max_kl: conjugate gradient on Hessian-vector products of KL,
            both differentiated *through* the inner step θ'_i(θ) (second order);
            ``first_order=true`` treats ∇_θ of the inner loss as a constant (FOMAML).

Adapted parameters are a dict passed to the one policy module by ``torch.func.functional_call``.
Meta-test (:func:`rlsuite.meta.protocol.adaptation_returns`): on held-out tasks, sample, take a
gradient step (``test_step_sizes``: α 0.1 first, then 0.05 as in the paper), sample again, …

``inner_steps=0`` turns the outer loop into plain multi-task TRPO on D_i: the paper's *pretrained*
baseline (and, on ``navigation2d`` with ``env.kwargs.oracle=true``, its *oracle*).

Details from the reference code (cbfinn/maml_rl on rllab, and tristandeleu/pytorch-maml-rl):
returns R are discounted reward-to-go (γ = ``gamma``); the baseline is rllab's
``LinearFeatureBaseline`` (features [o, o², t/100, (t/100)², (t/100)³, 1], ridge 1e-5, raised ×10
when the solve fails); advantages R − b are normalized per task (pytorch-maml-rl); losses average
over all valid time steps of a task. Deviations: the KL is KL(old ‖ new) as in TRPO (pytorch-maml-rl
uses KL(new ‖ old); same second-order term at θ_old); only one inner step in meta-training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal, kl_divergence
from torch.func import functional_call, vmap

from rlsuite.agent import Agent, AgentConfig
from rlsuite.config import NetConfig
from rlsuite.constraints import Each, Range, at_least_one, domain, non_negative, one_of, positive, probability, section
from rlsuite.meta import MetaSplit, task_distribution
from rlsuite.meta.protocol import MetaEvaluation, adaptation_returns
from rlsuite.meta.sampling import Episodes, sample_episodes
from rlsuite.meta.tasks import TaskSet
from rlsuite.nets import MLP
from rlsuite.trust_region import MetricProduct, Objective, trust_region_step
from rlsuite.update import UpdateStats

Params = dict[str, torch.Tensor]


# ----------------------------------------------------------------- pure functions (tested by hand)
def discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """R_t = Σ_k γ^k r_{t+k} along dim -2 (time) of ``(…, H, N)`` rewards."""
    out = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[..., 0, :])
    for t in range(rewards.shape[-2] - 1, -1, -1):
        running = rewards[..., t, :] + gamma * running
        out[..., t, :] = running
    return out


def baseline_features(obs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """rllab's LinearFeatureBaseline features of ``(…, H, N, d)`` observations, zero where masked."""
    o = obs.clamp(-10, 10).double()
    horizon = obs.shape[-3]
    t = (torch.arange(horizon, dtype=torch.float64, device=obs.device) / 100.0).view(-1, 1, 1)
    t = t.expand(*obs.shape[:-1], 1)
    feats = torch.cat([o, o * o, t, t**2, t**3, torch.ones_like(t)], dim=-1)
    return feats * mask.unsqueeze(-1).double()


def fit_linear_baseline(obs: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, ridge: float = 1e-5,
                        attempts: int = 5) -> torch.Tensor:
    """Per-task ridge least squares of returns on :func:`baseline_features`; returns the fitted
    values, same shape as ``returns`` (``(T, H, N)``). Solved as the stacked system [X; √λ I] w = [y; 0]
    with ``torch.linalg.lstsq`` (stable where the normal equations are singular), λ × 10 on failure."""
    feats = baseline_features(obs, mask)
    n_tasks, n_feat = feats.shape[0], feats.shape[-1]
    x = feats.reshape(n_tasks, -1, n_feat)
    y = (returns.double() * mask.double()).reshape(n_tasks, -1, 1)
    for attempt in range(attempts):
        lam = ridge * 10**attempt
        reg = (lam**0.5) * torch.eye(n_feat, dtype=torch.float64, device=x.device).expand(n_tasks, -1, -1)
        zeros = torch.zeros(n_tasks, n_feat, 1, dtype=torch.float64, device=x.device)
        weights = torch.linalg.lstsq(torch.cat([x, reg], 1), torch.cat([y, zeros], 1)).solution
        if torch.isfinite(weights).all():
            break
    return (feats @ weights.unsqueeze(1)).squeeze(-1).float()


def normalized_advantages(eps: Episodes, gamma: float, ridge: float) -> torch.Tensor:
    """(R − b) normalized to zero mean, unit std over each task's valid steps; 0 where masked."""
    returns = discounted_returns(eps.rewards, gamma)
    adv = (returns - fit_linear_baseline(eps.obs, returns, eps.mask, ridge)) * eps.mask
    count = eps.mask.sum(dim=(-2, -1), keepdim=True).clamp(min=1)
    mean = adv.sum(dim=(-2, -1), keepdim=True) / count
    var = ((adv - mean) ** 2 * eps.mask).sum(dim=(-2, -1), keepdim=True) / count
    return (adv - mean) / (var.sqrt() + 1e-8) * eps.mask


# ----------------------------------------------------------------- the policy
class MetaPolicy(nn.Module):
    """MLP policy: ``forward`` gives the action means (``Box``: diagonal Gaussian with a learned,
    state-independent ``log_std``) or the logits (``Discrete``). All its parameters adapt."""

    def __init__(self, obs_dim: int, action_space: gym.Space, hidden: list[int], activation: str,
                 init_log_std: float):
        super().__init__()
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        if isinstance(action_space, gym.spaces.Discrete):
            out = int(action_space.n)
        else:
            out = int(np.prod(action_space.shape or (1,)))
        self.net = MLP(obs_dim, list(hidden), out, activation=activation)
        self.log_std = None if self.discrete else nn.Parameter(torch.full((out,), float(init_log_std)))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)

    def distribution(self, out: torch.Tensor, log_std: torch.Tensor | None) -> Distribution:
        """The action distribution for network outputs ``out``; a leading task dim of ``log_std``
        broadcasts over the batch dims between it and the action dim."""
        if self.discrete:
            return Categorical(logits=out, validate_args=False)
        assert log_std is not None
        if log_std.dim() > 1:
            log_std = log_std.view(log_std.shape[0], *([1] * (out.dim() - 2)), log_std.shape[-1])
        return Independent(Normal(out, log_std.exp().expand_as(out), validate_args=False), 1)


@dataclass
class MAMLConfig(AgentConfig):
    gamma: float = field(default=0.99, metadata=probability)
    inner_lr: float = field(default=0.1, metadata=non_negative)  # α of the meta-training inner step
    # 1: MAML; 0: multi-task TRPO (the "pretrained" baseline)
    inner_steps: int = field(default=1, metadata=one_of(0, 1))
    # FOMAML: the outer step differentiates θ'_i(θ) with the inner gradient held constant (no second order)
    first_order: bool = False
    # The trust region's metric (Hessian of the KL) differentiated through the inner step, as the
    # paper. False (a speed switch): the metric holds the inner gradient constant (∂θ'/∂θ ≈ I); the
    # step direction keeps the full meta-gradient and the line search still checks the exact KL.
    fisher_through_inner_step: bool = True
    # That metric evaluated as Jᵀ F J, J = ∂θ'/∂θ = I − α ∇²L_inner (a speed switch, on by default):
    # at θ_old the KL's gradient in θ' is zero, so this is its exact Hessian, without the third-order
    # graph that differentiating the KL's gradient through the inner step builds. False: autograd.
    gauss_newton_metric: bool = True
    meta_batch_size: int = field(default=20, metadata=at_least_one)  # tasks per meta-iteration
    trajectories_per_task: int = field(default=20, metadata=domain(Range(ge=2)))  # rollouts per task and step (≥ 2)
    # trust-region radius δ: mean KL(π_θ'(θ_old) ‖ π_θ'(θ)) of the adapted policies allowed per meta-step
    max_kl: float = field(default=0.01, metadata=positive)
    # at most this many conjugate-gradient iterations for the step direction H⁻¹g
    cg_iters: int = field(default=10, metadata=at_least_one)
    # damping λ of the conjugate gradient: it solves (H + λI) s = g, H the KL's Hessian
    cg_damping: float = field(default=1e-5, metadata=non_negative)
    # backtracking trials (accepted: KL ≤ max_kl and a better surrogate) before the step is dropped
    line_search_steps: int = field(default=15, metadata=at_least_one)
    # the line search tries fractions 1, this, this², … of the full step
    line_search_shrink: float = field(default=0.8, metadata=domain(Range(gt=0, lt=1)))
    # ridge λ of the linear feature baseline's least squares (raised ×10 when the solve fails)
    baseline_ridge: float = field(default=1e-5, metadata=non_negative)
    # the inner step size of each meta-test adaptation step (the last one repeats for later steps)
    test_step_sizes: list[float] = field(default_factory=lambda: [0.1, 0.05], metadata=domain(Each(Range(ge=0))))
    # fixes the held-out tasks, the same for every agent seed
    task_split_seed: int = field(default=0, metadata=non_negative)
    # the paper's 2 × 100 ReLU
    net: NetConfig = field(default_factory=lambda: NetConfig(widths=[100, 100], activation="relu"),
                           metadata=section(NetConfig))

    net_keys: ClassVar[tuple[str, ...]] = ("widths", "activation", "log_std_init")


class MAML(Agent[MAMLConfig]):
    """MAML-RL: VPG inner step with a linear baseline, second-order TRPO outer step."""

    name = "maml"
    description = "MAML-RL (Finn et al. 2017): VPG inner step, second-order TRPO meta-update over task batches"
    Config = MAMLConfig
    observation_spaces = (gym.spaces.Box,)
    action_spaces = (gym.spaces.Box, gym.spaces.Discrete)
    space_hint = "maml needs a task-distribution env: navigation2d, bandits/k5-n10, tabular_mdp"
    meta_protocol = "meta-adaptation"  # what rlsuite.evaluate / rlsuite eval / train's final eval run
    persistent = ("policy",)

    def setup(self) -> None:
        cfg = self.config
        self.distribution = task_distribution(self.env_spec, self.name)
        self.split = MetaSplit(self.distribution, cfg.task_split_seed)
        self.vec = self.distribution.make_vec()
        obs_dim = int(np.prod(self.observation_space.shape or (1,)))
        self.policy = MetaPolicy(obs_dim, self.action_space, list(cfg.net.widths or []), cfg.net.activation,
                                 cfg.net.log_std_init).to(self.device)
        self.last_task_seeds = np.zeros(0, dtype=np.int64)

    # ----------------------------------------------------------------- acting and sampling
    def params(self) -> Params:
        return dict(self.policy.named_parameters())

    def per_task(self, params: Params, n_tasks: int) -> Params:
        """θ repeated along a leading task dim (a differentiable view: gradients flow back to θ)."""
        return {name: p.unsqueeze(0).expand(n_tasks, *p.shape) for name, p in params.items()}

    def dist(self, params_t: Params, obs: torch.Tensor) -> Distribution:
        """π for each task's parameters (leading dim T of ``params_t`` and ``obs``), all tasks in
        one batched call: ``vmap`` over tasks of ``functional_call`` on the one policy module."""

        def net(p: Params, o: torch.Tensor) -> torch.Tensor:
            return functional_call(self.policy, p, (o,))

        return self.policy.distribution(vmap(net)(params_t, obs), params_t.get("log_std"))

    def act(self, obs: Any, deterministic: bool = True) -> Any:
        obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        single = obs_t.dim() == 1
        with torch.no_grad():
            out = self.policy(obs_t.unsqueeze(0) if single else obs_t)
            d = self.policy.distribution(out, self.policy.log_std)
            if deterministic:
                action = out.argmax(-1) if self.policy.discrete else out
            else:
                action = d.sample()
        result = action.cpu().numpy()
        return result[0] if single else result

    def sample(self, tasks: TaskSet, params_t: Params, rng: np.random.Generator, n_traj: int | None = None
               ) -> Episodes:
        """``n_traj`` (default ``trajectories_per_task``) trajectories of every task i with its
        parameters ``params_t[·][i]``."""
        return sample_episodes(self.vec, tasks, n_traj or self.config.trajectories_per_task,
                               lambda obs: self.dist(params_t, obs).sample(), rng, self.device)

    # ----------------------------------------------------------------- the inner step
    def inner_losses(self, params_t: Params, eps: Episodes, advantages: torch.Tensor) -> torch.Tensor:
        """Per task: −mean over its valid steps of log π(a|s)·Â, the vanilla policy-gradient loss."""
        weighted = self.dist(params_t, eps.obs).log_prob(eps.actions) * advantages * eps.mask
        return -weighted.sum(dim=(1, 2)) / eps.mask.sum(dim=(1, 2)).clamp(min=1)

    def adapt(self, params_t: Params, eps: Episodes, advantages: torch.Tensor, lr: float,
              create_graph: bool) -> Params:
        """θ'_i = θ_i − lr ∇ inner_loss_i for every task at once (task losses only touch their own
        slice of ``params_t``, so one backward of the sum gives every task's gradient).
        ``create_graph`` keeps θ' differentiable through the gradient (second order); without it the
        gradient is a constant (first order, or plain evaluation)."""
        params_t = {k: p if p.requires_grad else p.detach().requires_grad_(True) for k, p in params_t.items()}
        loss = self.inner_losses(params_t, eps, advantages).sum()
        grads = torch.autograd.grad(loss, list(params_t.values()), create_graph=create_graph)
        return {name: p - lr * g for (name, p), g in zip(params_t.items(), grads)}

    def advantages(self, eps: Episodes) -> torch.Tensor:
        return normalized_advantages(eps, self.config.gamma, self.config.baseline_ridge)

    # ----------------------------------------------------------------- the outer step
    def adapted(self, train: Episodes, train_adv: torch.Tensor, create_graph: bool) -> Params:
        """θ'_i(θ) for every task (θ itself with ``inner_steps=0``)."""
        theta_t = self.per_task(self.params(), train.obs.shape[0])
        if not self.config.inner_steps:
            return theta_t
        return self.adapt(theta_t, train, train_adv, self.config.inner_lr, create_graph)

    def meta_objective(self, train: Episodes, valid: Episodes) -> Objective:
        """The closure the TRPO step optimizes: (mean over tasks of the post-adaptation surrogate on
        the valid steps, mean KL(π_θ'_i(θ_old) ‖ π_θ'_i(θ))), both as functions of the current θ."""
        return self.meta_closures(train, valid)[0]

    def meta_closures(self, train: Episodes, valid: Episodes
                      ) -> tuple[Objective, Callable[[], torch.Tensor], Callable[[], MetricProduct]]:
        """:meth:`meta_objective` and the KL whose Hessian is the trust region's metric when
        ``fisher_through_inner_step`` is off: the same KL with θ'_i(θ) = θ − α·(inner gradient held
        constant), so the metric is the post-adaptation policies' Fisher matrix, ∂θ'/∂θ taken as I."""
        cfg = self.config
        train_adv, valid_adv = self.advantages(train), self.advantages(valid)
        adapted_old = {k: p.detach() for k, p in self.adapted(train, train_adv, False).items()}
        with torch.no_grad():  # π_θ'_i(θ_old), a constant during the step
            old = self.dist(adapted_old, valid.obs)
            old_log_probs = old.log_prob(valid.actions)
        n_valid = valid.mask.sum(dim=(1, 2)).clamp(min=1)

        def mean_kl(new: Distribution) -> torch.Tensor:
            return ((kl_divergence(old, new) * valid.mask).sum(dim=(1, 2)) / n_valid).mean()

        def objective(differentiable: bool) -> tuple[torch.Tensor, torch.Tensor]:
            new = self.dist(self.adapted(train, train_adv, differentiable and not cfg.first_order), valid.obs)
            ratio = torch.exp(new.log_prob(valid.actions) - old_log_probs)
            surrogate = ((ratio * valid_adv * valid.mask).sum(dim=(1, 2)) / n_valid).mean()
            return surrogate, mean_kl(new)

        def first_order_kl() -> torch.Tensor:
            return mean_kl(self.dist(self.adapted(train, train_adv, False), valid.obs))

        def gauss_newton_metric() -> MetricProduct:
            """v ↦ Jᵀ F J v: the objective's KL Hessian at θ_old (see ``gauss_newton_metric``).
            Per task i, J_i v = v − α H_i v with H_i v = ∇_θ(∇L_i · v); F = the Hessian of the KL in
            θ' at θ'_old; Jᵀ sums the tasks' J_iᵀ w_i. Three double-backward passes of second order."""
            params = list(self.params().values())
            theta_t = self.per_task(self.params(), train.obs.shape[0])
            inner_grads = torch.autograd.grad(self.inner_losses(theta_t, train, train_adv).sum(),
                                              list(theta_t.values()), create_graph=True)
            adapted = {k: p.detach().requires_grad_(True) for k, p in adapted_old.items()}
            kl_grads = torch.autograd.grad(mean_kl(self.dist(adapted, valid.obs)), list(adapted.values()),
                                           create_graph=True)
            sizes = [p.numel() for p in params]

            def dot(xs: Sequence[torch.Tensor], ys: Sequence[torch.Tensor]) -> torch.Tensor:
                return torch.stack([(x * y).sum() for x, y in zip(xs, ys)]).sum()

            def product(v: torch.Tensor) -> torch.Tensor:
                vs = [x.view_as(p) for x, p in zip(v.split(sizes), params)]  # broadcast over tasks
                hv = torch.autograd.grad(dot(inner_grads, vs), list(theta_t.values()), retain_graph=True)
                jv = [x - cfg.inner_lr * h for x, h in zip(vs, hv)]
                fjv = torch.autograd.grad(dot(kl_grads, jv), list(adapted.values()), retain_graph=True)
                hw = torch.autograd.grad(dot(inner_grads, fjv), params, retain_graph=True)  # Σ_i H_i w_i
                return torch.cat([(w.sum(0) - cfg.inner_lr * h).reshape(-1) for w, h in zip(fjv, hw)])

            return product

        return objective, first_order_kl, gauss_newton_metric

    def meta_update(self, train: Episodes, valid: Episodes) -> dict[str, float | torch.Tensor]:
        """One TRPO step on θ for :meth:`meta_objective`."""
        cfg = self.config
        objective, first_order_kl, gauss_newton_metric = self.meta_closures(train, valid)
        metric = None if cfg.fisher_through_inner_step else first_order_kl
        second_order = cfg.inner_steps and not cfg.first_order and cfg.fisher_through_inner_step
        product = gauss_newton_metric() if second_order and cfg.gauss_newton_metric else None
        return trust_region_step(list(self.params().values()), objective, metric_kl=metric, metric_product=product,
                                 max_kl=cfg.max_kl, cg_iters=cfg.cg_iters, cg_damping=cfg.cg_damping,
                                 line_search_steps=cfg.line_search_steps, line_search_shrink=cfg.line_search_shrink)

    def meta_iteration(self) -> UpdateStats:
        cfg = self.config
        tasks = self.split.train_tasks(self.rng, cfg.meta_batch_size)
        self.last_task_seeds = tasks.seeds
        train = self.sample(tasks, self.per_task(self.params(), len(tasks)), self.rng)
        self.steps += train.n_steps
        valid = train
        if cfg.inner_steps:
            adapted = self.adapted(train, self.advantages(train), create_graph=False)
            valid = self.sample(tasks, {k: p.detach() for k, p in adapted.items()}, self.rng)
            self.steps += valid.n_steps
        info = self.meta_update(train, valid)
        self.updates += 1
        return UpdateStats({
            "loss/surrogate": info.pop("surrogate"), "Fisher quadratic form sᵀFs": info.pop("quadratic form"),
            **{f"meta/{key}": value for key, value in info.items()},
            "meta/return_before": train.returns().mean().item(), "meta/return_after": valid.returns().mean().item(),
        })

    # ----------------------------------------------------------------- the Agent loop
    def start_segment(self) -> None:
        """No Gymnasium vector env: meta-iterations step the batched task env themselves."""

    def train_until(self, until_step: int) -> None:
        while self.steps < until_step:
            prev = self.steps
            self.finish_update(self.meta_iteration())
            self.after_step(prev)

    def meta_test(self, n_tasks: int = 40, steps: int = 3, seed: int = 100_000, n_traj: int | None = None
                  ) -> dict[str, Any]:
        """Mean return after 0 … ``steps`` gradient steps on the first ``n_tasks`` held-out tasks;
        repeatable for a ``seed`` (actions are drawn from a torch stream seeded by it, forked so
        that evaluating never moves the training stream)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return adaptation_returns(self, self.split.test_tasks(n_tasks), steps,
                                      list(self.config.test_step_sizes), np.random.default_rng(seed), n_traj)

    def meta_evaluate(self, n_tasks: int, seed: int, adapt_steps: int | None = None) -> MetaEvaluation:
        """The ``meta-adaptation`` protocol for :func:`rlsuite.evaluate`: each task's score is its
        mean return after ``adapt_steps`` (default 3) gradient steps."""
        steps = 3 if adapt_steps is None else int(adapt_steps)
        result = self.meta_test(n_tasks, steps, seed)
        n_traj = self.config.trajectories_per_task
        # standard error of each mean over the tasks (sample std / sqrt(tasks)): what the noise is
        errors = [float(np.std(per, ddof=1) / np.sqrt(len(per))) if len(per) > 1 else float("nan")
                  for per in (np.asarray(p, dtype=np.float64) for p in result["per_task"])]
        curve = " / ".join(f"{r:.2f} ± {se:.2f}" for r, se in zip(result["returns"], errors))
        if "success" in result:  # Meta-World: the fraction of trajectories that succeeded after 0..k steps
            curve += "; success " + " / ".join(f"{x:.0%}" for x in result["success"])
        return MetaEvaluation(
            protocol=f"meta-adaptation/k{steps}",
            scores=np.asarray(result["per_task"][-1]),
            env_steps=np.full(n_tasks, (steps + 1) * n_traj * self.vec.horizon),
            summary=f"mean return ± standard error on {n_tasks} held-out tasks after 0..{steps} gradient steps: "
                    f"{curve}",
            details={"adapt_steps": steps, "returns_after_steps": result["returns"], "standard_errors": errors,
                     "per_task": result["per_task"],
                     "step_sizes": result["step_sizes"], "trajectories_per_task": n_traj, "tasks": result["tasks"],
                     **({"success_after_steps": result["success"]} if "success" in result else {})},
        )
