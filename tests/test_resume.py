"""Resume: a run killed with SIGKILL and resumed ends bit-identical to one never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

from rlsuite import checkpoint

ARGS = ["agent=sarsa", "env=FrozenLake-v1", "total_steps=60000", "checkpoint_every=15000", "seed=5",
        "logger=[jsonl]", "log_every=2000", "eval_episodes=20", "submit=false"]


def _train(*extra, cwd):
    return subprocess.Popen([sys.executable, "-m", "rlsuite.cli", "train", *ARGS, *extra], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _metrics(run_dir):
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for line in lines:  # wall-clock values differ between any two runs
        line.pop("time", None)
        line.pop("train/sps", None)
        line.pop("train/eta_s", None)
    return [line for line in lines if len(line) > 1]  # a line that held only timings


def test_sigkill_then_resume_is_bit_identical(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    ref = _train(f"run_dir={straight}", cwd=tmp_path)
    proc = _train(f"run_dir={killed}", cwd=tmp_path)
    ckpt = killed / "checkpoints" / "latest.safetensors"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and checkpoint.load_state(ckpt)["counters"]["steps"] >= 30000:
            os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert ref.wait() == 0, ref.stderr.read()
    resumed_from = checkpoint.load_state(ckpt)["counters"]["steps"]
    assert 30000 <= resumed_from < 60000

    resumed = subprocess.run([sys.executable, "-m", "rlsuite.cli", "train", f"resume={killed}"], cwd=tmp_path,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr

    a = checkpoint.load_state(straight / "model.safetensors")
    b = checkpoint.load_state(killed / "model.safetensors")
    assert np.array_equal(a["parts"]["q_table"], b["parts"]["q_table"])
    full_a = checkpoint.load_state(straight / "checkpoints" / "latest.safetensors")
    full_b = checkpoint.load_state(ckpt)
    assert np.array_equal(full_a["parts"]["visits"], full_b["parts"]["visits"])
    assert full_a["rng"]["agent"] == full_b["rng"]["agent"]
    assert _metrics(straight) == _metrics(killed)
    assert json.loads((straight / "eval.json").read_text())["returns"] == \
        json.loads((killed / "eval.json").read_text())["returns"]
