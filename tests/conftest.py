"""Shared test set-up: one torch thread per test process (tests run two at a time under xdist),
a private leaderboard and compile cache, offline wandb, and GPU tests skipped without CUDA."""

from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("RAY_DISABLE_IMPORT_WARNING", "1")


@pytest.fixture(autouse=True)
def _private_leaderboard(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RLSUITE_LEADERBOARD", str(tmp_path_factory.mktemp("lb") / "leaderboard.db"))


@pytest.fixture(autouse=True)
def _private_compile_cache(tmp_path_factory, monkeypatch):
    """Compiled loops (rlsuite.compile_cache) go to a directory of the test's own, not the user's."""
    monkeypatch.setenv("RLSUITE_COMPILE_CACHE", str(tmp_path_factory.mktemp("compiled")))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (no GPU on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ray_local():
    """One real local Ray on 2 CPUs for the session's `ray` tests; at the end it is shut down and no
    process it started may survive (rlsuite.distributed)."""
    pytest.importorskip("ray")
    import psutil

    from rlsuite import distributed

    distributed.init({"num_cpus": 2})
    yield
    # this test process's Ray processes only: other children, e.g. the resource tracker that the
    # process-executor tests' multiprocessing leaves until exit, are not Ray's to stop
    ray_pids = set(distributed.ray_processes())
    started = [p for p in psutil.Process().children(recursive=True) if p.pid in ray_pids]
    assert started, "the session's Ray processes were not found among this process's children"
    distributed.shutdown()
    _gone, alive = psutil.wait_procs(started, timeout=15)
    assert not alive, f"processes survived the test session's Ray: {[(p.pid, _cmdline(p)) for p in alive]}"


def _cmdline(proc) -> str:
    try:
        return " ".join(proc.cmdline())[:120]
    except Exception as err:  # gone meanwhile, or not ours to read
        return type(err).__name__
