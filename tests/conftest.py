"""Shared test set-up: one torch thread per test process (tests run two at a time under xdist),
a private leaderboard and offline wandb, and GPU tests skipped without CUDA."""

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


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (no GPU on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
