"""The ``ray`` backend of :mod:`rlsuite.executors`: independent jobs (NAS children, sweep members) on a
pool of Ray actors, results yielded as they finish.

Each actor sets ``torch.set_num_threads(threads)`` when it starts (Ray sets ``OMP_NUM_THREADS`` per
task, and a reused worker would keep its first task's thread count) and asks for ``num_cpus`` CPUs
and ``num_gpus`` GPUs, which may be a fraction (``num_gpus=0.25``: four children share one GPU). An
actor pool keeps the processes (and the imported torch) across jobs, where plain GPU tasks would
start a fresh process each (Ray's ``max_calls=1`` default for GPU tasks).

At most ``workers`` jobs are in flight. A job whose actor dies (its node lost, the process killed)
is resubmitted on a fresh actor, up to ``max_retries`` times (``on_retry`` is told first, e.g. to clear
what the lost attempt wrote); a job that *raises* is not retried and
becomes :class:`rlsuite.executors.JobError` naming its index, as with the other backends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import ray
from ray.exceptions import RayActorError, RayTaskError

from rlsuite import distributed
from rlsuite.executors import JobError

T = TypeVar("T")
R = TypeVar("R")


class JobRunner:
    """One pool member (a Ray actor): runs jobs in a process whose torch thread count is fixed."""

    def __init__(self, threads: int):
        import torch

        torch.set_num_threads(threads)

    def run(self, fn: Callable[[Any], Any], item: Any) -> Any:
        return fn(item)

    def pid(self) -> int:
        import os

        return os.getpid()


class RayExecutor:
    """``workers`` Ray actors running jobs; see the module docstring. ``address``: a cluster to attach
    to (else ``RAY_ADDRESS``, else a local Ray with ``workers`` CPUs is started)."""

    def __init__(self, workers: int = 2, threads: int = 1, num_cpus: float = 1.0, num_gpus: float = 0.0,
                 max_retries: int = 2, address: str | None = None,
                 on_retry: Callable[[int, int, str], None] | None = None):
        if workers < 1 or threads < 1:
            raise ValueError(f"workers and threads must be >= 1, got workers={workers}, threads={threads}")
        if num_cpus < 0 or num_gpus < 0 or max_retries < 0:
            raise ValueError(f"num_cpus, num_gpus and max_retries must be >= 0, got {num_cpus}, {num_gpus}, "
                             f"{max_retries}")
        self.workers, self.threads = workers, threads
        self.num_cpus, self.num_gpus, self.max_retries = num_cpus, num_gpus, max_retries
        self.address = address
        self.resubmitted = 0  # jobs run again because their actor died
        self.on_retry = on_retry  # called (job index, next attempt, why) before a job is run again
        self._actors: list[Any] = []

    def _new_actor(self) -> Any:
        runner = ray.remote(JobRunner).options(num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_restarts=0)
        return runner.remote(self.threads)

    def actors(self) -> list[Any]:
        """The pool (started on first use)."""
        if not self._actors:
            distributed.init({"address": self.address})
            distributed.require_resources(self.num_cpus, f"an executor actor (num_cpus={self.num_cpus:g}, "
                                          f"num_gpus={self.num_gpus:g})", "ask for less per job, or more CPUs/GPUs",
                                          gpus=self.num_gpus)
            self._actors = [self._new_actor() for _ in range(self.workers)]
        return self._actors

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        actors = self.actors()
        fn_ref = ray.put(fn)  # shipped once, not once per job
        idle = list(range(len(actors)))
        pending: dict[Any, tuple[int, int, int]] = {}  # ref -> (job index, actor slot, attempt)
        queue = list(reversed(range(len(items))))
        retry: list[tuple[int, int]] = []  # (job index, attempt) to run again first

        def submit(index: int, attempt: int) -> None:
            slot = idle.pop()
            pending[self._actors[slot].run.remote(fn_ref, items[index])] = (index, slot, attempt)

        try:
            while pending or queue or retry:
                while idle and (retry or queue):
                    index, attempt = retry.pop() if retry else (queue.pop(), 0)
                    submit(index, attempt)
                done, _ = ray.wait(list(pending), num_returns=1)
                ref = done[0]
                index, slot, attempt = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except RayActorError as err:  # the process is gone, not the job's fault: run it again
                    if attempt >= self.max_retries:
                        raise JobError(f"job {index} failed: its worker died {attempt + 1} times ({err})",
                                       index) from err
                    ray.kill(self._actors[slot])
                    self._actors[slot] = self._new_actor()
                    self.resubmitted += 1
                    if self.on_retry is not None:
                        self.on_retry(index, attempt + 1, "its worker process died")
                    retry.append((index, attempt + 1))
                    idle.append(slot)
                    continue
                except RayTaskError as err:
                    cause = err.cause if isinstance(err.cause, BaseException) else err
                    raise JobError(f"job {index} failed: {type(cause).__name__}: {cause}", index) from cause
                idle.append(slot)
                yield index, result
        finally:
            for ref in pending:  # the caller stopped early or a job failed: leave no work behind
                with contextlib.suppress(Exception):  # Ray already gone (shutdown): nothing left to cancel
                    ray.cancel(ref, force=False)

    def close(self) -> None:
        for actor in self._actors:
            ray.kill(actor)
        self._actors = []

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
