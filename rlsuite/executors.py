"""Run many independent jobs (NAS children, sweep members) through one small, pluggable interface.

An :class:`Executor` takes a picklable module-level function and a list of inputs and yields
``(index, result)`` pairs *as the jobs finish*, so the caller can record each result (e.g. in the
NAS task's SQLite cache) the moment it exists: a search killed half-way keeps every finished job.

Built in: ``serial`` (in this process; the default, and what tests use) and ``process`` (a pool of
spawned worker processes, each with ``torch.set_num_threads(threads)`` because N workers each using
every core would oversubscribe the machine). ``ray`` is added by :mod:`rlsuite.distributed` when Ray
is installed: :func:`make_executor` looks it up there, and an unknown name is refused in one line.

A job that raises makes :meth:`Executor.map_unordered` raise :class:`JobError` naming the input
index; the results already yielded stay with the caller.
"""

from __future__ import annotations

import importlib
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol, TypeVar

from rlsuite.errors import RLSuiteError, UnknownNameError, suggest

T = TypeVar("T")
R = TypeVar("R")


class JobError(RLSuiteError, RuntimeError):
    """A job run by an executor raised; ``index`` is the position of its input."""

    exit_code = 1

    def __init__(self, message: str, index: int):
        super().__init__(message)
        self.index = index


class Executor(Protocol):
    """What a job runner provides. ``workers`` is how many jobs run at once."""

    workers: int

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """Run ``fn(item)`` for every item; yield ``(index, result)`` in completion order."""
        ...

    def close(self) -> None:
        """Release workers. Idempotent."""
        ...


class SerialExecutor:
    """Runs jobs one after another in this process."""

    workers = 1

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        for index, item in enumerate(items):
            try:
                result = fn(item)
            except Exception as err:  # noqa: BLE001 - re-raised with the job's index
                raise JobError(f"job {index} failed: {type(err).__name__}: {err}", index) from err
            yield index, result

    def close(self) -> None:
        pass

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _init_worker(threads: int) -> None:
    import torch  # the worker is a fresh spawned interpreter

    torch.set_num_threads(threads)


class ProcessExecutor:
    """A pool of ``workers`` spawned processes (spawn, not fork: safe with torch threads and Numba).

    At most ``workers`` jobs are in flight, so a long list does not queue every input up front and
    a caller that stops iterating early leaves no work behind but the running jobs."""

    def __init__(self, workers: int = 2, threads: int = 1):
        if workers < 1 or threads < 1:
            raise ValueError(f"workers and threads must be >= 1, got workers={workers}, threads={threads}")
        self.workers, self.threads = workers, threads
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker, initargs=(self.threads,))
        return self._pool

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        pool = self._get_pool()
        pending: dict[Future[R], int] = {}
        queue = iter(enumerate(items))
        try:
            for index, item in queue:
                pending[pool.submit(fn, item)] = index
                if len(pending) >= self.workers:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    err = future.exception()
                    if err is not None:
                        raise JobError(f"job {index} failed: {type(err).__name__}: {err}", index) from err
                    yield index, future.result()
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending[pool.submit(fn, nxt[1])] = nxt[0]
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# name -> "module:attribute" of a factory taking (workers, **options); optional backends import lazily
EXECUTORS: dict[str, str] = {
    "serial": "rlsuite.executors:_serial",
    "process": "rlsuite.executors:ProcessExecutor",
    "ray": "rlsuite.distributed.executor:RayExecutor",
}


def _serial(workers: int = 1, **_: Any) -> SerialExecutor:
    return SerialExecutor()


def make_executor(name: str, workers: int = 1, **options: Any) -> Executor:
    """Build the executor called ``name`` (``serial``, ``process``, ``ray``)."""
    if name not in EXECUTORS:
        raise UnknownNameError(f"unknown executor '{name}'.{suggest(name, EXECUTORS)} Accepted: {', '.join(EXECUTORS)}")
    module_name, attr = EXECUTORS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise UnknownNameError(f"executor '{name}' needs an optional dependency that is not installed ({err.name}); "
                               f"install it with pip install \"rlsuite[{name}]\"") from err
    factory: Callable[..., Executor] = getattr(module, attr)
    return factory(workers=workers, **options)
