"""End to end through the command line: rlsuite PPO and SB3 PPO trained on CartPole for three
seeds each with identical hyperparameters, evaluated, compared on the leaderboard (table, JSON,
self-contained HTML), plotted; plus training-time evaluation and evaluation videos.

Small budgets keep it fast: this checks the plumbing and what every row stores, not final scores
(docs/leaderboard.md has the full-size 100k-step comparison)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rlsuite
from rlsuite.envspec import env_spec_from
from rlsuite.eval.leaderboard import Leaderboard

pytest.importorskip("stable_baselines3")

STEPS = 1024  # four rollouts of 8 envs x 32 steps
# rl-zoo3's PPO CartPole-v1 settings, spelled in each agent's keys (the same values for both).
SHARED = ["agent.n_envs=8", "agent.gamma=0.98", "agent.batch_size=256"]
RLSUITE_PPO = [
    *SHARED,
    "agent=ppo", "agent.n_steps=32", "agent.gae_lambda=0.8", "agent.n_epochs=20", "agent.ent_coef=0.0",
    "agent.lr=1e-3", "agent.anneal_lr=true", "agent.clip_range=0.2", "agent.anneal_clip=true",
]  # fmt: skip
SB3_PPO = [
    *SHARED,
    "agent=sb3", "agent.algo=ppo", "agent.kwargs.n_steps=32", "agent.kwargs.gae_lambda=0.8",
    "agent.kwargs.n_epochs=20", "agent.kwargs.ent_coef=0.0", "agent.kwargs.learning_rate=lin_0.001",
    "agent.kwargs.clip_range=lin_0.2",
]  # fmt: skip


def start_cli(*args: str, cwd: Path) -> subprocess.Popen:
    """``rlsuite <args>`` in its own process (one torch thread, as in the tests)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "rlsuite.cli", *args]
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, f"{' '.join(proc.args)} failed:\n{out}\n{err}"
    return out


def rlsuite_main(capsys: pytest.CaptureFixture, *args: str) -> str:
    """The CLI's ``main`` in this process (what the console script calls), returning its stdout."""
    from rlsuite.cli import main

    capsys.readouterr()
    assert main(list(args)) == 0
    return capsys.readouterr().out


def test_rlsuite_ppo_and_sb3_ppo_on_the_leaderboard(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the rich table unabridged
    db = tmp_path / "leaderboard.db"
    common = ["env=CartPole-v1", f"total_steps={STEPS}", "seed=0,1,2", f"leaderboard={db}", "logger=[jsonl]",
              "eval_episodes=5", "device=cpu"]  # fmt: skip
    # Both multiruns at once (two processes, each training its three seeds in turn).
    procs = [start_cli("train", "-m", *agent, *common, cwd=tmp_path) for agent in (RLSUITE_PPO, SB3_PPO)]
    printed = "".join(finish(p) for p in procs)
    run_dirs = [tmp_path / d for d in re.findall(r"^run (\S+): eval", printed, flags=re.M)]
    assert len(run_dirs) == 6

    table = rlsuite_main(capsys, "leaderboard", "env=CartPole-v1", f"leaderboard={db}")
    assert "sb3-ppo" in table and re.search(r"\bppo\b", table.replace("sb3-ppo", ""))

    rows = json.loads(rlsuite_main(capsys, "leaderboard", "env=CartPole-v1", "format=json", f"leaderboard={db}"))
    assert isinstance(rows, list) and {r["agent"] for r in rows} == {"ppo", "sb3-ppo"}
    for row in rows:  # one ranked group per agent: three seeds with one config hash
        assert row["n_runs"] == 3 and sorted(row["seeds"]) == [0, 1, 2], rows
        assert row["env_id"] == "CartPole-v1" and row["protocol"] == "gymnasium"
        assert row["env_version"].startswith("v1 gymnasium ")  # id suffix + the providing package's version
        assert re.fullmatch(r"[0-9a-f]{12}", row["config_hash"])
        assert row["train_steps"] >= STEPS and row["frames"] == row["train_steps"] and row["episodes"] == 15
    assert rows[0]["config_hash"] != rows[1]["config_hash"]
    raw = Leaderboard(db).query(env="CartPole-v1")
    assert len(raw) == 6 and all(r["extra"]["eval_seed"] == 100_000 and len(r["returns"]) == 5 for r in raw)

    page = tmp_path / "leaderboard.html"
    rlsuite_main(capsys, "leaderboard", "format=html", f"out={page}", f"leaderboard={db}")
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "sb3-ppo" in html and "<table" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, flags=re.I)  # self-contained
    assert "data:image/png;base64," in html  # its plots are embedded

    curves = tmp_path / "curves.png"
    rlsuite_main(capsys, "plot", *map(str, run_dirs), "--out", str(curves))
    assert curves.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and curves.stat().st_size > 10_000
    from rlsuite.eval.plots import run_identity

    assert {run_identity(d)[0] for d in run_dirs} == {"ppo", "sb3-ppo"}  # curves labelled as on the leaderboard

    # A later evaluation of a saved run, with a video; its row carries the training config's hash.
    sb3_run = next(d for d in run_dirs if d.name.startswith("sb3-"))
    video = tmp_path / "episode.gif"
    later_db = tmp_path / "later.db"
    out = rlsuite_main(capsys, "eval", f"run={sb3_run}", "episodes=2", "seed=7", "record=true", f"video={video}",
                       f"leaderboard={later_db}", "submit=true")  # fmt: skip
    assert "video:" in out and video.stat().st_size > 1000 and video.read_bytes()[:3] == b"GIF"
    (later,) = Leaderboard(later_db).query()
    trained = next(r for r in raw if Path(r["run_dir"]).name == sb3_run.name)
    assert later["agent"] == "sb3-ppo" and later["config_hash"] == trained["config_hash"]
    assert later["train_steps"] == trained["train_steps"] and later["extra"]["eval_seed"] == 7


def test_training_time_evaluation_logs_and_keeps_the_best_model(tmp_path):
    run = rlsuite.train([
        "agent=q_learning", "env=FrozenLake-v1", "total_steps=6000", "eval_every=1500", "eval_episodes=20",
        "logger=[jsonl]", f"run_dir={tmp_path / 'run'}", "submit=false", "agent.lr=0.2",
    ])  # fmt: skip
    lines = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    evals = [(r["step"], r["eval/mean_return"]) for r in lines if "eval/mean_return" in r]
    assert [s for s, _ in evals] == [1500, 3000, 4500, 6000, 6000]  # four during training + the final one
    best_path = run.dir / "best_model.safetensors"
    assert best_path.is_file()
    best = rlsuite.load(best_path)
    # The kept model is the one that scored best during training (first of equals), re-evaluated the same way.
    during = evals[:-1]
    best_step, best_score = max(during, key=lambda e: (e[1], -e[0]))
    assert best.steps == best_step
    assert rlsuite.evaluate(best, episodes=20, seed=100_000).mean == pytest.approx(best_score)


def test_record_writes_an_mp4_of_an_evaluation_episode(tmp_path):
    pytest.importorskip("imageio_ffmpeg")

    class PushLeft:  # any object with act() and env_spec can be evaluated
        env_spec = env_spec_from("CartPole-v1")

        def act(self, obs, deterministic=True):
            return np.zeros(len(obs), dtype=np.int64)

    res = rlsuite.evaluate(PushLeft(), episodes=2, seed=3, record=tmp_path / "episode.mp4")
    path = Path(res.video)
    assert path.suffix == ".mp4" and path.stat().st_size > 1000
    assert path.read_bytes()[4:8] == b"ftyp"  # an MP4 container
    import imageio.v3 as iio

    frames = iio.imread(path)  # the first episode, one frame per step: (T, H, W, 3) RGB
    assert frames.shape[0] == res.lengths[0] and frames.shape[-1] == 3
    assert frames.std() > 0  # a picture, not a blank frame
