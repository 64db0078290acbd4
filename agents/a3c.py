"""A3C: asynchronous advantage actor-critic (Mnih et al. 2016, Algorithm S3), truly asynchronous.

``n_workers`` processes (``torch.multiprocessing``) each own an env and a local copy θ' of the
actor-critic; the global θ and the optimizer's statistics live in shared memory and every worker
applies its gradients to them lock-free (Hogwild, Recht et al. 2011)::

    global shared θ, shared optimizer statistics, shared step counter T
    each worker (in parallel, no locks around the parameter update):
        repeat until T >= budget:
            θ' ← θ                                               (sync the local copy)
            run the policy π(·|s; θ') for up to t_max steps (or until the budget runs out),
                storing s_t, a_t, r_t;  T ← T + 1 per env step
            R = 0 at a terminal state, V(s; θ') otherwise        (the bootstrap)
            for i = t-1 … 0:  R ← r_i + γR;  A_i = R − V(s_i; θ')
            g = ∇θ' [ −Σ log π(a_i|s_i) A_i − β H(π(·|s_i)) + c_v (R_i − V(s_i))² ]
            clip ‖g‖ to max_grad_norm, then apply g to the SHARED θ with the SHARED optimizer

The returns and advantages are :func:`rlsuite.buffers.gae` with λ = ``gae_lambda`` (1.0, the
paper's n-step returns); the network is :class:`rlsuite.policies.ActorCritic`.

Launching is separate from the algorithm: :class:`A3CWorker` is a plain object that only needs a
parameter store with ``pull``/``push`` (:class:`SharedParameters` here), a step budget with
``claim``/``count_update`` (:class:`SharedCounters`) and a ``report`` callable, so another launcher
can host the same worker without touching the algorithm. The agent's
:meth:`A3C.train_until` starts the processes, forwards their episode returns and losses to the
logger, drives ``self.steps`` from the shared counter (checkpoints and evaluations run in the main
process while the workers keep going), and shuts down cleanly: on Ctrl-C every worker is terminated
and joined before ``KeyboardInterrupt`` propagates (workers ignore SIGINT, so only the main process
decides); when a worker raises, the others are stopped and :class:`WorkerError` names the worker and
carries its traceback; a worker that loses its parent exits by itself. No orphan processes.
``start_method``: ``fork`` (``auto`` picks it where it exists; nothing is pickled, starts in ms) or
``spawn``/``forkserver`` (the script needs the ``if __name__ == "__main__":`` guard, and a custom env
factory must be picklable).

``backend=ray`` runs the same actor-learner step (:class:`SegmentLearner`) in Ray actors around a
parameter-server actor instead (:mod:`rlsuite.distributed.a3c`: on one machine or a cluster, bounded
staleness, exactly the number of updates the budget asks).

Reproducibility: asynchronous training is NOT bit-reproducible. The interleaving of Hogwild updates
depends on the OS scheduler, so two runs with one seed differ, and a resumed run continues from the
checkpoint's weights, optimizer statistics and counters but does not replay the uninterrupted run.
Seeds still fix each worker's env and sampling streams (derived from (seed, worker, steps)).

Deviations from the paper (common practice, documented):
* A worker may step ``n_envs`` copies of its env in lockstep (batched forward passes, ``t_max ×
  n_envs`` transitions per update; the CartPole settings use 8); ``n_envs=1`` is the paper's one env
  per worker. Vector observations get separate policy and value MLPs (practice); images share the CNN.
* The rollout does not stop at an episode end: a worker always collects ``t_max`` steps, and
  returns restart at episode boundaries (0 after a termination, V(final obs) after a time-limit
  truncation) — as in A2C / Stable-Baselines3.
* The loss averages over the steps of a rollout (the paper sums), and ``vf_coef`` scales the squared
  error, as in A2C practice.
* RMSProp (the paper's shared-statistics variant) is PyTorch's: ε is added outside the square root,
  default ε = 1e-5 (practice) where the paper uses 0.1 inside it. ``optimizer=adam`` is offered
  (shared moments and step counts), which the CartPole settings use (with lr 2e-3 and no entropy
  bonus, ``ent_coef=0`` as in rl-zoo3's A2C CartPole settings; the default keeps the paper's 0.01).
* The learning rate is annealed linearly to 0 over the budget as in the paper (``anneal_lr``), but
  not sampled from a log-uniform range: it is a plain hyperparameter.
* The global step counter counts every env step across workers exactly (a lock guards the counter,
  not the parameters).
* Networks live on the CPU whatever ``device`` says: Hogwild needs the shared parameters in host
  shared memory, and the paper's workers are CPU threads.
"""

from __future__ import annotations

import multiprocessing as std_mp
import os
import queue as queue_lib
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.multiprocessing as mp
from torch import nn

from rlsuite import seeding
from rlsuite.agent import Agent, AgentConfig
from rlsuite.buffers import gae
from rlsuite.constraints import at_least_one, finite, non_negative, one_of, positive, probability, widths
from rlsuite.envspec import EnvSpec
from rlsuite.errors import ConfigError, NonFiniteError, RLSuiteError
from rlsuite.nonfinite import NonFiniteWatch, check_env_step
from rlsuite.offpolicy import EpisodeTracker, true_next_obs
from rlsuite.policies import ActorCritic


class WorkerError(RLSuiteError, RuntimeError):
    """An A3C worker raised or died; the message names the worker and its error."""


@dataclass
class A3CConfig(AgentConfig):
    lr: float = field(default=7e-4, metadata=positive)
    n_workers: int = field(default=2, metadata=at_least_one)
    t_max: int = field(default=5, metadata=at_least_one)  # steps per worker between updates (Atari: 20)
    ent_coef: float = field(default=0.01, metadata=finite)
    vf_coef: float = field(default=0.5, metadata=non_negative)
    max_grad_norm: float = field(default=40.0, metadata=positive)
    gae_lambda: float = field(default=1.0, metadata=probability)  # 1.0: the paper's n-step returns
    # rmsprop: shared statistics; adam: shared moments
    optimizer: str = field(default="rmsprop", metadata=one_of("rmsprop", "adam"))
    rms_alpha: float = field(default=0.99, metadata=probability)  # RMSProp's smoothing constant
    optimizer_eps: float = field(default=1e-5, metadata=positive)  # RMSProp's / Adam's ε
    anneal_lr: bool = True  # linear to 0 over the budget, as in the paper
    # None: ActorCritic's default ([64, 64] for vectors, [] on a CNN)
    net_arch: list[int] | None = field(default=None, metadata=widths)
    activation: str = "tanh"  # checked by rlsuite.nets when the networks are built
    # one trunk for actor and critic; None: shared CNN for images (as the paper), separate MLPs for vectors
    shared: bool | None = None
    # auto: fork where available, else spawn
    start_method: str = field(default="auto", metadata=one_of("auto", "fork", "spawn", "forkserver"))
    # updates between a worker's loss reports (averaged over them)
    log_interval: int = field(default=20, metadata=at_least_one)
    # hogwild: worker processes on this machine; ray: a parameter-server actor and gradient workers on
    # Ray, on one machine or a cluster (rlsuite.distributed.a3c; pip install "rlsuite[ray]")
    backend: str = field(default="hogwild", metadata=one_of("hogwild", "ray"))
    # ray backend: the oldest weights an applied gradient may come from, in updates (0: n_workers)
    max_staleness: int = field(default=0, metadata=non_negative)


# ---------------------------------------------------------------------------- shared state
def make_optimizer(model: nn.Module, cfg: A3CConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=cfg.lr, alpha=cfg.rms_alpha, eps=cfg.optimizer_eps)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, eps=cfg.optimizer_eps)  # adam (the config's choices)


def share_optimizer_state(optimizer: torch.optim.Optimizer) -> None:
    """Move the optimizer's statistics (moments and per-parameter step counts) to shared memory.

    PyTorch creates optimizer state lazily at the first step, which would happen privately inside
    each worker; so missing state is created here first, by one step on zero gradients (Adam and
    RMSProp then change no weight; they are restored anyway) with the step counts reset to 0.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if any(len(optimizer.state[p]) == 0 for p in params):
        saved = [(p.detach().clone(), p.grad) for p in params]
        for p in params:
            p.grad = torch.zeros_like(p)
        optimizer.step()
        with torch.no_grad():
            for p, (data, grad) in zip(params, saved):
                p.copy_(data)
                p.grad = grad
                optimizer.state[p]["step"].zero_()
    for state in optimizer.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor):
                value.share_memory_()


class SharedParameters:
    """The Hogwild parameter store: the global model θ and its optimizer, both in shared memory.

    ``pull`` copies θ into a worker's local model; ``push`` points the shared parameters' ``.grad``
    at the local gradients and steps the shared optimizer, in place and without a lock: concurrent
    pushes interleave element-wise, as Hogwild intends.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer):
        self.model, self.optimizer = model, optimizer
        self.tensors = list(model.parameters())  # listed once: Module.parameters() is slow per call

    def share_memory(self) -> None:
        self.model.share_memory()
        share_optimizer_state(self.optimizer)

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:  # per process: param_groups are not shared
            group["lr"] = lr

    @torch.no_grad()
    def pull(self, local: Sequence[torch.Tensor]) -> None:
        """Copy θ into a worker's local parameters ``local`` (in ``model.parameters()`` order)."""
        for mine, shared in zip(local, self.tensors):
            mine.copy_(shared)

    def push(self, local: Sequence[torch.Tensor]) -> None:
        """Apply the gradients of ``local`` to θ with the shared optimizer, lock-free."""
        for mine, shared in zip(local, self.tensors):
            shared.grad = mine.grad
        self.optimizer.step()


class SharedCounters:
    """The global step counter T (exact, under its lock) and per-worker update counts."""

    def __init__(self, ctx: Any, n_workers: int, steps: int = 0):
        self.steps = ctx.Value("q", int(steps))
        # One slot per worker, written only by that worker: no lock needed.
        self.worker_updates = ctx.Array("q", int(n_workers), lock=False)

    def claim(self, n: int, until_step: int) -> bool:
        """Reserve ``n`` env steps of the budget; False once the budget is spent."""
        with self.steps.get_lock():
            if self.steps.value >= until_step:
                return False
            self.steps.value += n
            return True

    def read_steps(self) -> int:
        """The counter without its lock (an aligned 64-bit read), so that a worker terminated while
        holding the lock can never block the main process's shutdown."""
        return int(self.steps.get_obj().value)

    def count_update(self, worker_id: int) -> None:
        self.worker_updates[worker_id] += 1

    @property
    def updates(self) -> int:
        return int(sum(self.worker_updates[:]))


# ---------------------------------------------------------------------------- the mathematics
def n_step_targets(rewards: np.ndarray, values: np.ndarray, last_values: np.ndarray, terminated: np.ndarray,
                   truncated: np.ndarray, final_values: np.ndarray, gamma: float,
                   lam: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Advantages and returns of a ``(T, N)`` rollout segment.

    ``R`` bootstraps from ``last_values`` = V(s_T) at the end of the segment, restarts at episode
    ends (0 after a termination, ``final_values`` = V(final obs) after a truncation), and
    ``R_t = r_t + γ R_{t+1}``; with ``lam = 1`` the advantages are ``R_t − V(s_t)`` (the paper's
    n-step estimate), otherwise GAE(λ).
    """
    next_values = np.empty_like(values)
    next_values[:-1] = values[1:]
    next_values[-1] = last_values
    cut = truncated & ~terminated
    next_values[cut] = final_values[cut]
    return gae(rewards, values, next_values, terminated, terminated | truncated, gamma, lam)


def a3c_loss(log_probs: torch.Tensor, entropy: torch.Tensor, values: torch.Tensor, advantages: torch.Tensor,
             returns: torch.Tensor, ent_coef: float, vf_coef: float) -> tuple[torch.Tensor, dict[str, float]]:
    """``−mean(log π · A) − β·mean(H) + c_v·mean((R − V)²)``; A and R are constants."""
    policy_loss = -(log_probs * advantages).mean()
    entropy_mean = entropy.mean()
    value_loss = (returns - values).pow(2).mean()
    loss = policy_loss - ent_coef * entropy_mean + vf_coef * value_loss
    stats = {"loss/policy": policy_loss.item(), "loss/value": value_loss.item(), "loss/entropy": entropy_mean.item()}
    return loss, stats


def build_policy(observation_space: gym.Space, action_space: gym.Space, cfg: A3CConfig) -> ActorCritic:
    return ActorCritic(observation_space, action_space, net_arch=cfg.net_arch, activation=cfg.activation,
                       shared=cfg.shared)


# ---------------------------------------------------------------------------- one actor-learner
class A3CWorker:
    """One actor-learner of Algorithm S3, independent of how it is launched (see module docstring).

    ``report`` receives ``("episode", worker_id, return, length)`` and ``("losses", worker_id,
    {name: mean})`` tuples. ``budget`` = (start, end) of the global step budget, for the lr schedule.
    """

    def __init__(self, worker_id: int, env_spec: EnvSpec, cfg: A3CConfig, spaces: tuple[gym.Space, gym.Space],
                 seed: int, params: SharedParameters, counters: SharedCounters,
                 report: Callable[[tuple], None], budget: tuple[int, int]):
        self.worker_id, self.env_spec, self.cfg, self.spaces = worker_id, env_spec, cfg, spaces
        self.seed, self.params, self.counters, self.report = seed, params, counters, report
        self.budget = budget
        self.parent_pid: int | None = None  # set by a process launcher: stop when that parent is gone
        self.check_finite = True  # the non-finite guard (rlsuite.nonfinite), before anything is pushed

    def run(self, until_step: int) -> None:
        """Collect and push updates until the global counter reaches ``until_step``."""
        cfg, wid = self.cfg, self.worker_id
        torch.set_num_threads(1)
        start = self.budget[0]
        seeding.seed_everything(seeding.derive_seed(self.seed, 1 + wid, start))  # this worker's sampling
        local = build_policy(*self.spaces, cfg)  # θ'
        envs = self.env_spec.make_vec(cfg.n_envs, seed=seeding.derive_seed(self.seed, 1 + wid), training=True)
        try:
            reset_seed = seeding.derive_seed(self.seed, 1 + wid, start, 1)
            seeds = [reset_seed + i for i in range(cfg.n_envs)]  # one per env (Gymnasium's annotation: int)
            obs, _ = envs.reset(seed=seeds)  # type: ignore[arg-type]
            self._loop(local, envs, obs, until_step)
        finally:
            envs.close()

    def _loop(self, local: ActorCritic, envs: gym.vector.VectorEnv, obs: np.ndarray, until_step: int) -> None:
        cfg, wid = self.cfg, self.worker_id
        rollout = SegmentLearner(local, envs, obs, cfg, self.report, wid)
        rollout.check_finite = self.check_finite
        stats_sum: dict[str, float] = {}
        n_stats = 0
        span = max(self.budget[1] - self.budget[0], 1)
        while self.parent_pid is None or os.getppid() == self.parent_pid:
            self.params.pull(rollout.params)  # θ' ← θ
            stats = rollout.gradient(lambda n: self.counters.claim(n, until_step), self.counters.read_steps)
            if stats is None:
                break  # the budget is spent
            if cfg.anneal_lr:
                done = (self.counters.read_steps() - self.budget[0]) / span
                self.params.set_lr(cfg.lr * max(1.0 - done, 0.0))
            self.params.push(rollout.params)  # lock-free Hogwild step on the shared θ
            self.counters.count_update(wid)
            for key, value in stats.items():
                stats_sum[key] = stats_sum.get(key, 0.0) + value
            n_stats += 1
            if n_stats >= cfg.log_interval:
                self.report(("losses", wid, {k: s / n_stats for k, s in stats_sum.items()}))
                stats_sum, n_stats = {}, 0
        if n_stats:
            self.report(("losses", wid, {k: s / n_stats for k, s in stats_sum.items()}))


class SegmentLearner:
    """A worker's envs and local network θ': :meth:`gradient` runs up to ``t_max`` steps and leaves the
    clipped gradient of the A3C loss in θ'.grad. Shared by the Hogwild workers and the Ray backend
    (:mod:`rlsuite.distributed.a3c`), which differ only in where θ comes from and where g goes."""

    def __init__(self, local: ActorCritic, envs: gym.vector.VectorEnv, obs: np.ndarray, cfg: A3CConfig,
                 report: Callable[[tuple], None], worker_id: int):
        self.local, self.envs, self.obs, self.cfg = local, envs, obs, cfg
        self.report, self.worker_id = report, worker_id
        T, N = cfg.t_max, cfg.n_envs
        self.obs_buf = np.zeros((T, *obs.shape), dtype=obs.dtype)
        self.action_buf = np.zeros((T, N, *local.action_shape), dtype=local.action_dtype)
        self.rewards = np.zeros((T, N), np.float32)
        self.values = np.zeros((T, N), np.float32)
        self.final_values = np.zeros((T, N), np.float32)
        self.terminated = np.zeros((T, N), bool)
        self.truncated = np.zeros((T, N), bool)
        self.tracker = EpisodeTracker(N)
        self.params = list(local.parameters())
        self.watch = NonFiniteWatch()
        self.check_finite = True
        self.steps_taken = 0  # env steps of the last gradient (t × n_envs)

    def gradient(self, claim: Callable[[int], bool], global_steps: Callable[[], int]) -> dict[str, float] | None:
        """Collect while ``claim(n_envs)`` grants steps (at most ``t_max``), then backpropagate the loss.
        Returns the loss statistics, or None when no step was granted."""
        cfg, local, wid = self.cfg, self.local, self.worker_id
        T, N = cfg.t_max, cfg.n_envs
        obs = self.obs
        t = 0
        while t < T and claim(N):
            with torch.no_grad():
                action_tensor, _, v = local.act(torch.as_tensor(obs))
            actions = action_tensor.numpy()
            next_obs, r, term, trunc, infos = self.envs.step(local.env_actions(actions))
            if self.check_finite:
                check_env_step(next_obs, np.asarray(r, np.float32), global_steps())
            self.obs_buf[t], self.action_buf[t], self.rewards[t], self.values[t] = obs, actions, r, v.numpy()
            self.terminated[t], self.truncated[t] = term, trunc
            cut = np.asarray(trunc, bool) & ~np.asarray(term, bool)
            if cut.any():  # bootstrap a time-limit truncation from V(final obs)
                with torch.no_grad():
                    self.final_values[t] = local.value(torch.as_tensor(true_next_obs(next_obs, infos))).numpy()
            for episode_return, length in self.tracker.update(self.rewards[t], term | trunc, infos):
                self.report(("episode", wid, episode_return, length))
            obs = next_obs
            t += 1
        self.obs = obs
        self.steps_taken = t * N
        if t == 0:
            return None
        with torch.no_grad():
            last_values = local.value(torch.as_tensor(obs)).numpy()
        advantages, returns = n_step_targets(self.rewards[:t], self.values[:t], last_values, self.terminated[:t],
                                             self.truncated[:t], self.final_values[:t], cfg.gamma, cfg.gae_lambda)
        log_probs, entropy, v = local.evaluate_actions(
            torch.as_tensor(self.obs_buf[:t].reshape(t * N, *obs.shape[1:])),
            torch.as_tensor(self.action_buf[:t].reshape(t * N, *local.action_shape)))
        loss, stats = a3c_loss(log_probs, entropy, v, torch.as_tensor(advantages.reshape(-1)),
                               torch.as_tensor(returns.reshape(-1)), cfg.ent_coef, cfg.vf_coef)
        for p in self.params:
            p.grad = None
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm)
        if self.check_finite:  # a bad gradient never leaves the worker
            self.watch.add("loss", loss)
            self.watch.add("grad norm", grad_norm)
            self.watch.check(global_steps())
        return stats


def _worker_process(worker: A3CWorker, until_step: int, messages: Any, parent_pid: int) -> None:
    """Process entry point: run the worker, report a crash with its traceback, exit non-zero."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    worker.parent_pid = parent_pid
    try:
        worker.run(until_step)
        messages.put(("done", worker.worker_id))
    except NonFiniteError as err:  # re-raised as itself in the main process
        messages.put(("nonfinite", worker.worker_id, err.args[0], err.step, err.source, err.env_index))
        messages.close()
        messages.join_thread()
        os._exit(1)
    except BaseException as err:  # noqa: BLE001 - everything goes back to the main process
        messages.put(("error", worker.worker_id, f"{type(err).__name__}: {err}", traceback.format_exc()))
        messages.close()
        messages.join_thread()
        os._exit(1)


# ---------------------------------------------------------------------------- the agent
class A3C(Agent):
    """Asynchronous advantage actor-critic with Hogwild workers (see the module docstring)."""

    name = "a3c"
    description = "A3C (Mnih et al. 2016): asynchronous Hogwild actor-learner processes, shared RMSProp/Adam"
    Config = A3CConfig
    observation_spaces = (gym.spaces.Box, gym.spaces.Discrete)
    action_spaces = (gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.Box)
    persistent = ("model", "optimizer")
    persistent_for_acting = ("model",)

    def setup(self) -> None:
        cfg = self.config
        methods = std_mp.get_all_start_methods()
        if cfg.start_method == "auto":
            self.start_method = "fork" if "fork" in methods else "spawn"
        elif cfg.start_method in methods:
            self.start_method = cfg.start_method
        else:
            raise ConfigError(f"agent.start_method '{cfg.start_method}' is not available here; "
                              f"accepted: auto, {', '.join(methods)}")
        self.model = build_policy(self.observation_space, self.action_space, cfg)  # the global θ (CPU)
        self.optimizer = make_optimizer(self.model, cfg)
        self.params = SharedParameters(self.model, self.optimizer)
        self.worker_updates = np.zeros(cfg.n_workers, np.int64)

    def act(self, obs: Any, deterministic: bool = True) -> Any:
        obs = np.asarray(obs)
        single = obs.shape == self.observation_space.shape
        batch = torch.as_tensor(obs[None] if single else obs)
        with torch.no_grad():
            action_tensor, _, _ = self.model.act(batch, deterministic=deterministic)
        actions = self.model.env_actions(action_tensor.numpy())
        return actions[0] if single else actions

    def start_segment(self) -> None:
        """Workers own their envs; the main process builds none."""

    def train_until(self, until_step: int) -> None:
        if self.steps >= until_step:
            return
        cfg = self.config
        if cfg.backend == "ray":
            from rlsuite.distributed.a3c import train_async

            train_async(self, until_step)
            return
        ctx: Any = mp.get_context(self.start_method)  # a SpawnContext/ForkContext (BaseContext lacks Process)
        self.params.share_memory()  # again after a checkpoint load replaced the optimizer state
        counters = SharedCounters(ctx, cfg.n_workers, self.steps)
        messages = ctx.Queue()
        budget = (self.budget_start, max(self.budget_end, until_step))
        spaces = (self.observation_space, self.action_space)
        workers = [A3CWorker(i, self.env_spec, cfg, spaces, self.seed, self.params, counters, messages.put, budget)
                   for i in range(cfg.n_workers)]
        for worker in workers:
            worker.check_finite = self.nonfinite.enabled
        procs = [ctx.Process(target=_worker_process, args=(w, until_step, messages, os.getpid()),
                             name=f"a3c-worker-{w.worker_id}", daemon=True) for w in workers]
        base_updates = self.updates
        try:
            for p in procs:
                p.start()
            self._monitor(procs, messages, counters, base_updates)
        finally:
            _stop(procs)
            self.steps, self.updates = counters.read_steps(), base_updates + counters.updates
            self.worker_updates += np.asarray(counters.worker_updates[:], np.int64)
            messages.close()
            messages.cancel_join_thread()

    def _monitor(self, procs: list[Any], messages: Any, counters: SharedCounters, base_updates: int) -> None:
        """Forward worker reports until all are done; raise WorkerError when one fails."""
        done: set[int] = set()
        while len(done) < len(procs):
            try:
                self._handle(messages.get(timeout=0.05), done)
            except queue_lib.Empty:
                pass
            prev = self.steps
            self.steps, self.updates = counters.read_steps(), base_updates + counters.updates
            if self.steps > prev:
                self.after_step(prev)
            for i, p in enumerate(procs):
                if i not in done and not p.is_alive() and p.exitcode != 0:
                    self._drain(messages, done, timeout=1.0)  # its traceback may still be in the pipe
                    raise WorkerError(f"A3C worker {i} (pid {p.pid}) died with {_exit_reason(p.exitcode)}")
        self._drain(messages, done, timeout=0.0)

    def _drain(self, messages: Any, done: set[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._handle(messages.get(timeout=max(deadline - time.monotonic(), 0.0) or 0.001), done)
            except queue_lib.Empty:
                return

    def _handle(self, msg: tuple, done: set[int]) -> None:
        kind, wid = msg[0], msg[1]
        if kind == "episode":
            self.log_episode(msg[2], msg[3])
        elif kind == "losses":
            self.logger.record(msg[2])
        elif kind == "done":
            done.add(wid)
        elif kind == "nonfinite":
            raise NonFiniteError(f"{msg[2]} in A3C worker {wid}", step=msg[3], source=msg[4], env_index=msg[5])
        elif kind == "error":
            raise WorkerError(f"A3C worker {wid} failed: {msg[2]}\n--- worker {wid} traceback ---\n{msg[3]}")


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"signal {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


def _stop(procs: list[Any], grace: float = 5.0) -> None:
    """Terminate the workers still running and join them all (SIGKILL after ``grace`` seconds)."""
    for p in procs:
        if p.pid is not None and p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        if p.pid is None:
            continue
        p.join(max(deadline - time.monotonic(), 0.0))
        if p.is_alive():
            p.kill()
            p.join()
