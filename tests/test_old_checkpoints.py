"""Runs written by an older rlsuite still load and resume.

tests/fixtures/old_runs/<name>/ holds the config.yaml and checkpoints/latest.safetensors of tiny real
runs made with the code of 2026-12-06, before the agent configs were split into hyperparameters,
``agent.net.*`` and ``runtime.*`` (made with ``rlsuite train logger=[jsonl] submit=false
eval_episodes=2 device=cpu seed=0`` and, per run: ppo CartPole-v1 total_steps=512 n_envs=2 n_steps=64
batch_size=64 n_epochs=2; dqn CartPole-v1 total_steps=600 learning_starts=200 buffer_size=1000
net_arch=[32,32] train_freq=16 gradient_steps=4; td3 Pendulum-v1 total_steps=400 learning_starts=200
buffer_size=1000 net_arch=[32,32]; trpo CartPole-v1 total_steps=512 n_envs=2 n_steps=128 batch_size=64
n_critic_updates=3). Their saved configs use the old key names; they must keep working.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import rlsuite
from rlsuite import checkpoint
from rlsuite.run import CHECKPOINT

FIXTURES = Path(__file__).parent / "fixtures" / "old_runs"
RUNS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def _tensors(obj: Any, path: str = "") -> dict[str, np.ndarray]:
    """Every tensor/array inside a nested state, keyed by its path."""
    if isinstance(obj, dict):
        return {k: v for key, value in obj.items() for k, v in _tensors(value, f"{path}/{key}").items()}
    if isinstance(obj, (list, tuple)):
        return {k: v for i, value in enumerate(obj) for k, v in _tensors(value, f"{path}/{i}").items()}
    if isinstance(obj, torch.Tensor):
        return {path: obj.detach().cpu().numpy()}
    if isinstance(obj, np.ndarray):
        return {path: obj}
    return {}


def _copy(name: str, tmp_path: Path) -> Path:
    run_dir = tmp_path / name
    shutil.copytree(FIXTURES / name, run_dir)
    return run_dir


def test_fixtures_are_small():
    sizes = [p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file()]
    assert RUNS and max(sizes) < 1_000_000 and sum(sizes) < 1_500_000


@pytest.mark.parametrize("name", RUNS)
def test_old_checkpoint_loads_its_weights(name, tmp_path):
    run_dir = _copy(name, tmp_path)
    saved = checkpoint.load_state(run_dir / CHECKPOINT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # old key names are expected to warn
        agent = rlsuite.load(run_dir / CHECKPOINT, device="cpu")
    try:
        assert agent.steps == saved["counters"]["steps"] > 0
        loaded = _tensors(agent.state_dict()["parts"])
        expected = _tensors(saved["parts"])
        assert loaded, "the agent exposes no weights"
        for key, value in loaded.items():
            assert np.array_equal(value, expected[key]), key
    finally:
        agent.close()


@pytest.mark.parametrize("name", RUNS)
def test_old_run_resumes_and_continues(name, tmp_path, monkeypatch):
    run_dir = _copy(name, tmp_path)
    monkeypatch.chdir(tmp_path)
    saved = checkpoint.load_state(run_dir / CHECKPOINT)
    start = saved["counters"]["steps"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        run = rlsuite.train([f"resume={run_dir}", f"total_steps={start + 200}", "eval_episodes=1", "logger=[jsonl]"])
    resumed = checkpoint.load_state(run_dir / CHECKPOINT)
    assert resumed["counters"]["steps"] >= start + 200 > start
    assert run.agent.steps == resumed["counters"]["steps"]
    assert (run_dir / "model.safetensors").is_file() and (run_dir / "eval.json").is_file()
    before, after = _tensors(saved["parts"]), _tensors(resumed["parts"])
    assert before.keys() == after.keys()
    assert any(not np.array_equal(before[k], after[k]) for k in before), "training did not continue"
