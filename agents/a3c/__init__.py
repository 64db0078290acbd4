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
can host the same worker without touching the algorithm. The package: :mod:`.learner` (the
algorithm), :mod:`.hogwild` (the processes), :mod:`.ray_backend` (Ray), this module (the agent). The agent's
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
parameter-server actor instead (:mod:`rlsuite.agents.a3c.ray_backend`: on one machine or a cluster, bounded
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

import contextlib
import multiprocessing as std_mp
import os
import queue as queue_lib
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.multiprocessing as mp

from rlsuite.agent import Agent
from rlsuite.errors import ConfigError, NonFiniteError

from .hogwild import (
    A3CWorker,
    SharedCounters,
    SharedParameters,
    _exit_reason,
    _stop,
    _worker_process,
    share_optimizer_state,
)
from .learner import (
    A3CConfig,
    SegmentLearner,
    WorkerError,
    build_policy,
    make_optimizer,
    n_step_targets,
)

__all__ = ["A3C", "A3CConfig", "A3CWorker", "SegmentLearner", "SharedCounters", "SharedParameters", "WorkerError",
           "build_policy", "make_optimizer", "n_step_targets", "share_optimizer_state"]


# ---------------------------------------------------------------------------- the agent
class A3C(Agent[A3CConfig]):
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
        # backend=ray: updates asked/applied/dropped, workers replaced, staleness histogram of the last run
        self.async_stats: dict[str, Any] = {}

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
            from .ray_backend import train_async

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
            with contextlib.suppress(queue_lib.Empty):
                self._handle(messages.get(timeout=0.05), done)
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
