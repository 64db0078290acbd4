"""A3C across machines: a parameter-server actor and asynchronous gradient workers on Ray
(``agent=a3c agent.backend=ray``), beside the Hogwild processes of :mod:`.hogwild`.

The algorithm is the same (Algorithm S3: each worker runs up to ``t_max`` steps with its copy θ' and
computes the clipped gradient of the same loss, :class:`.learner.SegmentLearner`); only the
place of θ differs. θ and its optimizer live in one :class:`ParameterServer` actor, which applies
gradients one at a time (no Hogwild races: an update is atomic). The driver keeps every worker busy::

    give each worker θ (version v); it computes g on its next t_max × n_envs steps
    loop until the number of updates asked is applied:
        ray.wait for the first finished gradient (computed with version v_g)
        staleness = v_now − v_g;  staleness ≤ max_staleness: the server applies g (v_now += 1)
                                   else: g is dropped (its env steps still count)
        hand that worker the current θ for its next gradient

The gradient goes from the worker to the server through the object store (the driver passes
references). Exactly ``ceil(budget / (t_max × n_envs))`` updates are applied; ``max_staleness``
(default: ``n_workers``) bounds how old the weights behind an applied gradient may be, which Hogwild
does not. A dead worker is replaced (fresh envs, seed ``derive_seed(seed, 1 + i, restarts)``) and
the run goes on. Not bit-reproducible, like the Hogwild backend (completion order varies).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
import ray
import torch
from ray.exceptions import RayActorError, RayTaskError

from rlsuite import distributed, seeding

from .learner import A3CConfig, SegmentLearner, build_policy, make_optimizer

if TYPE_CHECKING:  # the agent imports this module lazily, not the reverse
    from . import A3C


class ParameterServer:
    """θ and its optimizer (a Ray actor). Calls run one at a time, so every update is atomic."""

    def __init__(self, spaces: tuple[Any, Any], cfg: A3CConfig, model_state: dict[str, torch.Tensor],
                 optimizer_state: dict[str, Any] | None):
        torch.set_num_threads(1)
        self.model = build_policy(*spaces, cfg)
        self.model.load_state_dict(model_state)
        self.optimizer = make_optimizer(self.model, cfg)
        if optimizer_state is not None and optimizer_state.get("state"):
            self.optimizer.load_state_dict(optimizer_state)
        self.params = list(self.model.parameters())
        self.version = 0

    def weights(self) -> list[np.ndarray]:
        return [p.detach().numpy().copy() for p in self.params]

    def apply(self, grads: list[np.ndarray], computed_with: int, lr: float, max_staleness: int) -> tuple[bool, int]:
        """Apply ``grads`` unless they are more than ``max_staleness`` versions old; (applied, staleness)."""
        staleness = self.version - computed_with
        if staleness > max_staleness:
            return False, staleness
        for p, g in zip(self.params, grads):
            p.grad = torch.from_numpy(np.array(g))  # object-store arrays are read-only: copy
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        self.version += 1
        return True, staleness

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return self.model.state_dict(), self.optimizer.state_dict()


class GradientWorker:
    """One actor-learner (a Ray actor): its envs and θ'; :meth:`compute` returns one gradient."""

    def __init__(self, worker_id: int, env_spec: Any, cfg: A3CConfig, spaces: tuple[Any, Any], seed: int,
                 start_steps: int, check_finite: bool):
        torch.set_num_threads(1)  # Ray's OMP_NUM_THREADS is per task; torch must be told
        seeding.seed_everything(seeding.derive_seed(seed, 1 + worker_id, start_steps))
        local = build_policy(*spaces, cfg)
        envs = env_spec.make_vec(cfg.n_envs, seed=seeding.derive_seed(seed, 1 + worker_id), training=True)
        reset_seed = seeding.derive_seed(seed, 1 + worker_id, start_steps, 1)
        obs, _ = envs.reset(seed=[reset_seed + i for i in range(cfg.n_envs)])
        self.episodes: list[tuple[float, int]] = []
        self.learner = SegmentLearner(local, envs, obs, cfg, self._report, worker_id)
        self.learner.check_finite = check_finite

    def _report(self, message: tuple) -> None:
        if message[0] == "episode":
            self.episodes.append((float(message[2]), int(message[3])))

    def pid(self) -> int:
        return os.getpid()

    def compute(self, weights: list[np.ndarray], version: int, global_steps: int) -> tuple[list[np.ndarray], dict]:
        learner = self.learner
        with torch.no_grad():
            for p, w in zip(learner.params, weights):
                p.copy_(torch.from_numpy(np.array(w)))
        stats = learner.gradient(lambda n: True, lambda: global_steps)
        grads = [p.grad.numpy().copy() if p.grad is not None else np.zeros(tuple(p.shape), np.float32)
                 for p in learner.params]
        info = {"version": version, "steps": learner.steps_taken, "episodes": self.episodes, "stats": stats or {}}
        self.episodes = []
        return grads, info


def train_async(agent: A3C, until_step: int) -> None:
    """:meth:`A3C.train_until` on Ray: see the module docstring."""
    cfg = agent.config
    per_update = cfg.t_max * cfg.n_envs
    asked = max(math.ceil((until_step - agent.steps) / per_update), 0)
    if asked == 0:
        return
    distributed.init()
    distributed.require_agent_cpus(cfg)
    max_staleness = cfg.max_staleness or cfg.n_workers
    spaces = (agent.observation_space, agent.action_space)
    server: Any = ray.remote(ParameterServer).options(num_cpus=0).remote(
        spaces, cfg, agent.model.state_dict(), agent.optimizer.state_dict())
    restarts = [0] * cfg.n_workers
    start_steps = agent.steps

    def start_worker(i: int) -> Any:
        seed = agent.seed if restarts[i] == 0 else seeding.derive_seed(agent.seed, 1 + i, restarts[i])
        actor = ray.remote(GradientWorker).options(num_cpus=1, max_restarts=0)
        return actor.remote(i, agent.env_spec, cfg, spaces, seed, start_steps, agent.nonfinite.enabled)

    workers = [start_worker(i) for i in range(cfg.n_workers)]
    weights = server.weights.remote()
    version = 0
    in_flight: dict[Any, tuple[int, Any]] = {}  # info ref -> (worker, gradient ref)

    def launch(i: int) -> None:
        grad_ref, info_ref = workers[i].compute.options(num_returns=2).remote(weights, version, agent.steps)
        in_flight[info_ref] = (i, grad_ref)

    stats = agent.async_stats = {"asked": asked, "applied": 0, "dropped": 0, "replaced": 0,
                                 "staleness": Counter()}
    span = max(agent.budget_end - agent.budget_start, 1)
    try:
        for i in range(min(cfg.n_workers, asked)):
            launch(i)
        while stats["applied"] < asked:
            (info_ref,), _ = ray.wait(list(in_flight), num_returns=1)
            i, grad_ref = in_flight.pop(info_ref)
            try:
                info = ray.get(info_ref)
            except RayActorError:  # the worker died: a fresh one takes its place
                ray.kill(workers[i])
                restarts[i] += 1
                stats["replaced"] += 1
                workers[i] = start_worker(i)
                launch(i)
                continue
            except RayTaskError as err:  # e.g. NonFiniteError: raised here as itself
                raise (err.cause if isinstance(err.cause, BaseException) else err) from None
            prev = agent.steps
            agent.steps += int(info["steps"])
            for episode_return, length in info["episodes"]:
                agent.log_episode(episode_return, length)
            lr = cfg.lr * max(1.0 - (agent.steps - agent.budget_start) / span, 0.0) if cfg.anneal_lr else cfg.lr
            applied, staleness = ray.get(server.apply.remote(grad_ref, info["version"], lr, max_staleness))
            if applied:
                stats["applied"] += 1
                stats["staleness"][staleness] += 1
                version += 1
                agent.updates += 1
                agent.worker_updates[i] += 1
                agent.logger.record(info["stats"])
            else:
                stats["dropped"] += 1
            weights = server.weights.remote()
            if stats["applied"] + len(in_flight) < asked:
                launch(i)
            if _hooks_need_model(agent, prev):
                _sync(agent, server)
            agent.after_step(prev)
        _sync(agent, server)
    finally:
        for actor in [*workers, server]:
            ray.kill(actor)


def _hooks_need_model(agent: A3C, prev: int) -> bool:
    """Whether this step's hooks evaluate or checkpoint (the driver's θ must be current then)."""
    hooks = agent.hooks
    if hooks is None:
        return False
    every = int(getattr(getattr(hooks, "cfg", None), "eval_every", 0) or 0)
    return bool(hooks.resume_point_due(prev, agent.steps)) or (every > 0 and agent.steps // every > prev // every)


def _sync(agent: A3C, server: Any) -> None:
    model_state, optimizer_state = ray.get(server.state.remote())
    agent.model.load_state_dict(model_state)
    agent.optimizer.load_state_dict(optimizer_state)
