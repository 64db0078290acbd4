"""``rlsuite train -m ... launcher=ray``: the multirun jobs as Ray jobs, each exactly what a local
multirun job is (:func:`rlsuite.run.train`: its own run directory, checkpoint, evaluation and
leaderboard row), run on :class:`~rlsuite.distributed.executor.RayExecutor` (one actor per CPU of the
cluster, a job whose worker dies run again) and reported as they finish.

Paths are made absolute on the driver (``runs_root``, ``run_dir``, ``leaderboard``, also the
``RLSUITE_LEADERBOARD`` default) so every job writes where a local sweep would, whatever the worker's
working directory. On a cluster they must name storage every node sees (a shared filesystem).
"""

from __future__ import annotations

import os
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


def run_sweep(jobs: list[list[str]], cfg: Any, on_result: Callable[[int, dict[str, Any]], None] | None = None,
              ) -> list[dict[str, Any]]:
    """Run ``jobs`` (override lists, as ``-m`` expands them) on Ray; ``cfg`` is the first job's composed
    config (its ``ray`` block and ``threads`` apply). Returns the summaries in job order."""
    distributed.init(cfg)
    defaults = {"runs_root": cfg.runs_root,
                "leaderboard": cfg.leaderboard or os.environ.get("RLSUITE_LEADERBOARD")}
    jobs = [absolute_paths(job, defaults) for job in jobs]
    cpus = int(ray.cluster_resources().get("CPU", 1))
    results: list[dict[str, Any]] = [{} for _ in jobs]
    with RayExecutor(workers=max(1, min(len(jobs), cpus)), threads=max(int(cfg.threads), 1)) as executor:
        for index, summary in executor.map_unordered(train_job, jobs):
            results[index] = summary
            if on_result is not None:
                on_result(index, summary)
    return results
