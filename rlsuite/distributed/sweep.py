"""``rlsuite train -m ... launcher=ray``: the multirun jobs as Ray jobs, each exactly what a local
multirun job is (:func:`rlsuite.run.train`: its own run directory, checkpoint, evaluation and
leaderboard row), run on :class:`~rlsuite.distributed.executor.RayExecutor` (one actor per CPU of the
cluster, a job whose worker dies run again) and reported as they finish.

Each job's run directory is named on the driver (``run_dir=``, as the job would name it), so a job whose
worker dies is run again *in the same directory*: the abandoned attempt's directory is removed first
(its partial metrics, checkpoints and files), and the console says that the job was retried. So
``rlsuite plot``, the leaderboard (one row per run directory and seed, the latest) and ``resume`` see
one run per job, never the killed attempt. A job given ``resume=`` or its own ``run_dir=`` keeps it
and nothing is removed.

The CPUs are checked first (:func:`rlsuite.distributed.require_resources`): each job holds one CPU,
plus one per rollout worker it starts (``runtime.workers``); as many jobs run at once as fit.

Paths are made absolute on the driver (``runs_root``, ``run_dir``, ``leaderboard``, also the
``RLSUITE_LEADERBOARD`` default) so every job writes where a local sweep would, whatever the worker's
working directory. On a cluster they must name storage every node sees (a shared filesystem).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray

from rlsuite import distributed
from rlsuite.distributed.executor import RayExecutor

PATH_KEYS = ("runs_root", "run_dir", "leaderboard", "resume")


def train_job(job: list[str]) -> dict[str, Any]:
    """One multirun job in a Ray worker: :func:`rlsuite.run.train`, summarized."""
    from rlsuite.run import train

    run = train(job)
    return {"run_dir": str(run.dir), "mean": None if run.eval is None else run.eval.mean,
            "leaderboard_id": run.leaderboard_id}


def absolute_paths(job: list[str], defaults: dict[str, Any]) -> list[str]:
    """``job`` with its path overrides made absolute, and the driver's default leaderboard/runs root
    written out (a worker elsewhere has another working directory and environment)."""
    out, given = [], set()
    for item in job:
        key, sep, value = item.partition("=")
        if sep and key in PATH_KEYS and value and value != "null":
            item = f"{key}={Path(value).expanduser().resolve()}"
            given.add(key)
        out.append(item)
    for key in ("runs_root", "leaderboard"):
        if key not in given and defaults.get(key):
            out.append(f"{key}={Path(str(defaults[key])).expanduser().resolve()}")
    return out


def name_run_dirs(jobs: list[list[str]]) -> dict[int, Path]:
    """Give each job without ``run_dir=`` or ``resume=`` the run directory it would have named itself
    (appended to the job); returns them by job index."""
    from rlsuite.config import compose
    from rlsuite.run import default_run_dir

    named: dict[int, Path] = {}
    for index, job in enumerate(jobs):
        if any(item.startswith(("run_dir=", "resume=")) for item in job):
            continue
        named[index] = default_run_dir(compose(job)).resolve()
        job.append(f"run_dir={named[index]}")
    return named


def run_sweep(jobs: list[list[str]], cfg: Any, on_result: Callable[[int, dict[str, Any]], None] | None = None,
              job_fn: Callable[[list[str]], dict[str, Any]] = train_job) -> list[dict[str, Any]]:
    """Run ``jobs`` (override lists, as ``-m`` expands them) on Ray; ``cfg`` is the first job's composed
    config (its ``ray`` block, ``threads`` and agent apply). Returns the summaries in job order.
    ``job_fn`` runs one job in a worker (:func:`train_job`)."""
    agent_needs = distributed.agent_requirement(cfg.agent, cfg.get("runtime"))
    per_job = 1 + int(agent_needs[0] if agent_needs else 0)
    distributed.init(cfg, require=(per_job, "a sweep job" + (f" (1 CPU, plus {per_job - 1} for {agent_needs[1]})"
                                                             if agent_needs else ""),
                                   "give Ray more CPUs (ray.num_cpus=N for a Ray started here)"
                                   + (", or lower the workers" if agent_needs else ""), 0.0))
    defaults = {"runs_root": cfg.runs_root,
                "leaderboard": cfg.leaderboard or os.environ.get("RLSUITE_LEADERBOARD")}
    jobs = [absolute_paths(job, defaults) for job in jobs]
    run_dirs = name_run_dirs(jobs)

    def retried(index: int, attempt: int, reason: str) -> None:
        abandoned = run_dirs.get(index)
        removed = abandoned is not None and abandoned.exists()
        if abandoned is not None and removed:
            shutil.rmtree(abandoned, ignore_errors=True)
        print(f"rlsuite: sweep job {index + 1}/{len(jobs)} lost its Ray worker ({reason}); running it again "
              f"(attempt {attempt + 1})" + (f", its abandoned run directory {abandoned} removed" if removed else ""),
              file=sys.stderr, flush=True)

    cpus = int(ray.cluster_resources().get("CPU", 1))
    results: list[dict[str, Any]] = [{} for _ in jobs]
    with RayExecutor(workers=max(1, min(len(jobs), cpus // per_job)), threads=max(int(cfg.threads), 1),
                     on_retry=retried) as executor:
        for index, summary in executor.map_unordered(job_fn, jobs):
            results[index] = summary
            if on_result is not None:
                on_result(index, summary)
    return results
