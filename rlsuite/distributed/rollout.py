"""Rollout workers for the on-policy agents (PPO, A2C, TRPO, REINFORCE): ``runtime.workers=N``.

The agent's ``n_envs`` are split between ``N`` Ray actors. Each actor holds a copy of the agent built
from the same config (its share of the envs, ``runtime.workers=0``) and collects rollouts with the *same* code
as the local path, :meth:`rlsuite.onpolicy.OnPolicyAgent.collect_rollout`. One iteration::

    driver: weights ← ray.put(policy weights, observation statistics)      (once per iteration)
    every worker: load weights; collect_rollout (n_steps × its envs, GAE); return the batch,
                  tagged with the weights version it was collected with
    driver: gather the batches into the agent's buffer (env columns in worker order); update()

Equivalence: worker ``i`` resets its envs with the seeds the local vector env gives the same env
columns (``derive_seed(seed, steps) + column``) and samples actions from its own RNG, seeded with the
agent's seed for worker 0 and ``derive_seed(seed, 1 + i)`` for the others. So ``runtime.workers=1`` collects
exactly the batches of the local vector env, and each worker's batch equals what a local agent with
that seed and those env columns collects (``tests/test_distributed_rollout.py``).

Synchronous: every batch carries the version it was collected with and the driver only learns from
batches of the current weights (the version is checked). Differences from the local path:

* the reward normalizer's running statistics live in each worker (per-env state; the driver's copy
  is not updated); observation statistics are merged exactly (parallel Welford) after each iteration;
* a worker that dies (its process killed, its node lost) is replaced by a fresh actor, seeded
  ``derive_seed(seed, 1 + i, restarts)``, which resets its envs and collects the batch again; the run
  goes on. ``replaced`` counts them;
* resume points do not cut episodes inside the workers; a resumed run continues from the checkpoint's
  weights and statistics with freshly reset worker envs (not bit-identical to an uninterrupted run).
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any

import numpy as np
import ray
import torch
from ray.exceptions import RayActorError

from rlsuite import distributed, seeding
from rlsuite.buffers import RolloutBatch
from rlsuite.errors import RLSuiteError
from rlsuite.running_stats import merge_running_stats

if TYPE_CHECKING:  # the on-policy loop imports this module lazily, not the reverse
    from rlsuite.onpolicy import OnPolicyAgent

__all__ = ["RolloutWorker", "RolloutWorkers", "merge_running_stats", "train_with_rollout_workers"]

MAX_FAILURES_IN_A_ROW = 3  # a worker that cannot even start (a bad env) stops the run instead of looping
BUFFER_FIELDS = ("obs", "actions", "rewards", "terminated", "truncated", "values", "log_probs", "advantages",
                 "returns")


class EpisodeRecorder:
    """The worker agent's logger: keeps finished episodes for the driver, drops the rest."""

    def __init__(self) -> None:
        self.episodes: list[tuple[float, int]] = []

    def log(self, metrics: dict[str, float], step: int) -> None:
        if "train/episode_return" in metrics:
            self.episodes.append((float(metrics["train/episode_return"]), int(metrics["train/episode_length"])))

    def record(self, metrics: dict[str, float]) -> None:
        pass

    def flush(self, step: int) -> None:
        pass

    def close(self) -> None:
        pass


def _no_optimizer(agent: OnPolicyAgent, *args: Any, **kwargs: Any) -> None:
    return None


def collector_class(cls: type[OnPolicyAgent]) -> type[OnPolicyAgent]:
    """``cls`` without optimizers (its ``adam``/``rmsprop`` build none): a rollout worker never updates,
    and the first torch optimizer of a process imports ``torch._dynamo``, ~2 s of every worker's start
    on this machine. Everything that collects (policy, normalizers, envs, seeds) is built as before."""
    return type(f"{cls.__name__}Collector", (cls,), {"adam": _no_optimizer, "rmsprop": _no_optimizer})


class RolloutWorker:
    """A Ray actor collecting rollouts for env columns ``[first_env, first_env + n_envs)`` of an agent."""

    def __init__(self, agent_name: str, env_spec: Any, config: dict[str, Any], agent_seed: int, worker_seed: int,
                 first_env: int, n_envs: int, spaces: tuple[Any, Any], check_finite: bool, threads: int = 1,
                 runtime: dict[str, Any] | None = None):
        from rlsuite import registry

        torch.set_num_threads(threads)  # Ray's OMP_NUM_THREADS is per task; torch must be told
        cls = collector_class(registry.get_agent(agent_name))  # type: ignore[arg-type]
        agent: Any = cls(env_spec, config, seed=worker_seed, device="cpu", spaces=spaces,
                         check_finite=check_finite, runtime={**(runtime or {}), "workers": 0})
        # Built with the whole n_envs (validated as the driver's), then set up again for this worker's
        # share from the same seed: relations over n_envs (PPO's minibatch size) are the driver's business.
        agent.config.n_envs = n_envs
        seeding.seed_everything(worker_seed)
        agent.rng = np.random.default_rng(worker_seed)
        agent.setup()
        self.agent: OnPolicyAgent = agent
        self.recorder = EpisodeRecorder()
        self.agent.logger = self.recorder
        self.agent_seed, self.first_env, self.n_envs = agent_seed, first_env, n_envs

    def pid(self) -> int:
        return os.getpid()

    def reset(self, steps: int) -> None:
        """(Re)build and reset the envs as the local vector env would at ``steps`` (these columns)."""
        agent = self.agent
        agent.steps = steps
        if agent.envs is None:
            agent.envs = agent.env_spec.make_vec(self.n_envs, seed=self.agent_seed + self.first_env, training=True)
        reset_seed = seeding.derive_seed(self.agent_seed, steps)
        seeds = [reset_seed + self.first_env + j for j in range(self.n_envs)]
        agent.obs, _ = agent.envs.reset(seed=seeds)  # type: ignore[arg-type]
        agent.on_segment_start()

    def collect(self, weights: dict[str, Any], version: int, steps: int) -> dict[str, Any]:
        """One rollout with ``weights``; the batch as (T, n_envs) arrays, tagged with ``version``."""
        agent = self.agent
        with torch.no_grad():  # object-store arrays are read-only: copy them into the parameters
            for name, tensor in agent.policy.state_dict().items():
                tensor.copy_(torch.from_numpy(np.array(weights["policy"][name])))
        if weights["obs_rms"] is not None:
            agent.obs_normalizer.load_state_dict(weights["obs_rms"])
        if agent.obs is None:  # after the statistics: the reset observations update them, as locally
            self.reset(steps)
        before = agent.steps
        self.recorder.episodes = []
        agent.collect_rollout()
        buffer = agent.buffer
        T = buffer.pos
        return {"version": version, "steps": agent.steps - before, "episodes": self.recorder.episodes,
                "arrays": {name: getattr(buffer, name)[:T].copy() for name in BUFFER_FIELDS},
                "obs_rms": agent.obs_normalizer.state_dict() if agent.obs_normalizer.enabled else None}


class RolloutWorkers:
    """The driver's side: starts the actors, broadcasts weights, gathers batches, replaces dead workers."""

    def __init__(self, agent: OnPolicyAgent, threads: int = 1):
        cfg = agent.config
        self.agent, self.threads = agent, threads
        n, w = int(cfg.n_envs), int(agent.runtime.workers)
        sizes = [n // w + (1 if i < n % w else 0) for i in range(w)]
        self.columns = [(sum(sizes[:i]), sizes[i]) for i in range(w)]
        self.restarts = [0] * w
        self.failures_in_a_row = [0] * w
        self.replaced = 0
        self.version = 0
        self.actors = [self._start(i) for i in range(w)]

    def _start(self, i: int) -> Any:
        agent = self.agent
        seed = agent.seed if i == 0 and self.restarts[i] == 0 else seeding.derive_seed(agent.seed, 1 + i,
                                                                                         self.restarts[i])
        first, count = self.columns[i]
        config = dataclasses.asdict(agent.config)
        actor = ray.remote(RolloutWorker).options(num_cpus=1, max_restarts=0)
        return actor.remote(agent.name, agent.env_spec, config, agent.seed, seed, first, count,
                            (agent.observation_space, agent.action_space), agent.nonfinite.enabled, self.threads,
                            dataclasses.asdict(agent.runtime))

    def collect(self) -> list[dict[str, Any]]:
        """One batch per worker, all with the current weights (a dead worker is replaced and asked again)."""
        agent = self.agent
        self.version += 1
        weights = ray.put({"policy": {k: v.detach().cpu().numpy() for k, v in agent.policy.state_dict().items()},
                           "obs_rms": agent.obs_normalizer.state_dict() if agent.obs_normalizer.enabled else None})
        refs = [actor.collect.remote(weights, self.version, agent.steps) for actor in self.actors]
        results: list[dict[str, Any]] = []
        for i, ref in enumerate(refs):
            while True:
                try:
                    result = ray.get(ref)
                    break
                except RayActorError as err:
                    self.failures_in_a_row[i] += 1
                    if self.failures_in_a_row[i] > MAX_FAILURES_IN_A_ROW:
                        raise RLSuiteError(f"rollout worker {i} died {self.failures_in_a_row[i]} times in a row; "
                                           f"last error: {str(err).strip().splitlines()[-1]}") from err
                    ray.kill(self.actors[i])
                    self.restarts[i] += 1
                    self.replaced += 1
                    self.actors[i] = self._start(i)
                    ref = self.actors[i].collect.remote(weights, self.version, agent.steps)
            self.failures_in_a_row[i] = 0
            if result["version"] != self.version:
                raise RLSuiteError(f"rollout worker {i} returned a batch of weights version {result['version']}, "
                                   f"expected {self.version}")
            results.append(result)
        return results

    def gather(self, results: list[dict[str, Any]]) -> None:
        """Put the batches into the agent's buffer (or, lengths differing, into ``gathered_batch``)."""
        agent = self.agent
        buffer = agent.buffer
        lengths = {len(r["arrays"]["rewards"]) for r in results}
        if len(lengths) == 1:
            T = lengths.pop()
            for (first, count), result in zip(self.columns, results):
                for name, array in result["arrays"].items():
                    getattr(buffer, name)[:T, first:first + count] = array
            buffer.pos = T
            agent.gathered_batch = None
            return
        parts = []
        for result in results:  # REINFORCE's whole episodes end at different steps in each worker
            arrays = result["arrays"]
            T, count = arrays["rewards"].shape
            parts.append(RolloutBatch(*(arrays[f].reshape(T * count, *arrays[f].shape[2:])
                                        for f in RolloutBatch._fields)))
        agent.gathered_batch = RolloutBatch(*(np.concatenate(column) for column in zip(*parts)))

    def close(self) -> None:
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []


def train_with_rollout_workers(agent: OnPolicyAgent, until_step: int) -> None:
    """:meth:`OnPolicyAgent.train_until` with rollouts collected by ``agent.runtime.workers`` Ray actors."""
    distributed.init()
    distributed.require_agent_cpus(agent.config, agent.runtime)
    pool = RolloutWorkers(agent)
    agent.rollout_workers = pool  # type: ignore[attr-defined]  # for inspection (tests, benchmarks)
    try:
        while agent.steps < until_step:
            rollout_start = agent.steps
            results = pool.collect()
            prior = agent.obs_normalizer.state_dict()
            pool.gather(results)
            for result in results:
                agent.steps += int(result["steps"])
            for result in results:
                for episode_return, length in result["episodes"]:
                    agent.log_episode(episode_return, length)
            if agent.obs_normalizer.enabled:
                agent.obs_normalizer.load_state_dict(merge_running_stats(prior, [r["obs_rms"] for r in results]))
            agent.finish_update(agent.update())
            agent.updates += 1
            agent.after_step(rollout_start)
    finally:
        pool.close()
        agent.gathered_batch = None

