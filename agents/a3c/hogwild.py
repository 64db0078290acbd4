"""A3C's Hogwild back-end (Recht et al. 2011): worker processes on this machine apply their
gradients lock-free to θ and the optimizer's statistics in shared memory.

:class:`A3CWorker` is a plain object that only needs a parameter store with ``pull``/``push``
(:class:`SharedParameters`), a step budget with ``claim``/``count_update`` (:class:`SharedCounters`)
and a ``report`` callable, so another launcher can host the same worker.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlsuite import seeding
from rlsuite.envspec import EnvSpec
from rlsuite.errors import NonFiniteError
from rlsuite.policies import ActorCritic

from .learner import A3CConfig, SegmentLearner, build_policy


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
