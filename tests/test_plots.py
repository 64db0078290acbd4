"""Plots: learning curves from synthetic metrics.jsonl across seeds, aggregate plots."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from rlsuite.errors import ConfigError
from rlsuite.eval.plots import (
    plot_aggregate,
    plot_learning_curves,
    plot_ranked,
    read_metrics,
    run_identity,
    scores_from_rows,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _keep(path: Path) -> None:
    """Copy a plot to $RLSUITE_PLOT_DIR (when set) to look at it."""
    where = os.environ.get("RLSUITE_PLOT_DIR")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(where) / path.name)


def _check_png(path: Path, min_bytes: int = 15_000) -> tuple[int, int]:
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > min_bytes
    img = matplotlib.image.imread(path)
    assert img.shape[0] > 200 and img.shape[1] > 300
    assert img[..., :3].std() > 0.05  # not a blank canvas
    _keep(path)
    return img.shape[0], img.shape[1]


def _make_run(root: Path, name: str, agent: str, env: str, seed: int, level: float, n: int = 120, cfg=True):
    run = root / name
    run.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    lines = []
    step = 0
    for i in range(n):
        step += int(rng.integers(800, 1200))  # episodes end at irregular steps, different per seed
        ret = level * (1 - np.exp(-step / 40_000)) + rng.normal(0, abs(level) * 0.08)
        lines.append(json.dumps({"step": step, "frames": 4 * step, "train/episode_return": float(ret)}))
        if i % 10 == 0:  # lines without the metric (losses, sps) are skipped
            lines.append(json.dumps({"step": step, "loss/td": 0.1, "train/sps": 900.0}))
    lines.append('{"step": 99999999, "train/episode_ret')  # a truncated last line (run still writing)
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    if cfg:
        (run / "config.yaml").write_text(f"agent:\n  name: {agent}\n  lr: 0.001\nenv:\n  id: {env}\nseed: {seed}\n")
    return run


@pytest.fixture
def runs(tmp_path):
    out = []
    for s in range(3):
        out.append(_make_run(tmp_path, f"dqn-CartPole-v1-s{s}-20240101-1200{s}", "dqn", "CartPole-v1", s, 400.0))
        out.append(_make_run(tmp_path, f"run{s}", "ppo", "CartPole-v1", 10 + s, 480.0))
        # no config.yaml: agent/env/seed from the directory name
        out.append(_make_run(tmp_path, f"ppo-Acrobot-v1-s{s}-20240101-1300{s}", "", "", s, -100.0, n=80, cfg=False))
    return out


def test_read_metrics_and_identity(runs):
    xs, ys = read_metrics(runs[0], "train/episode_return")
    assert xs.size == 120 and np.all(np.diff(xs) > 0) and np.isfinite(ys).all()
    fx, _ = read_metrics(runs[0], "train/episode_return", x="frames")
    np.testing.assert_array_equal(fx, 4 * xs)
    assert run_identity(runs[0]) == ("dqn", "CartPole-v1", 0)
    assert run_identity(runs[1]) == ("ppo", "CartPole-v1", 10)
    assert run_identity(runs[2]) == ("ppo", "Acrobot-v1", 0)
    with pytest.raises(ConfigError, match="steps' or 'frames"):
        read_metrics(runs[0], "train/episode_return", x="time")


def test_learning_curves_png(runs, tmp_path):
    out = plot_learning_curves(runs, tmp_path / "figs" / "curves.png")
    assert out == tmp_path / "figs" / "curves.png"
    h, w = _check_png(out)
    assert w > h  # two env panels side by side
    out2 = plot_learning_curves(runs[:3:1], tmp_path / "curves_frames.png", x="frames", group_by="run")
    _check_png(out2)


def test_learning_curves_errors(runs, tmp_path):
    with pytest.raises(ConfigError, match="no 'eval/mean_return' values"):
        plot_learning_curves(runs, tmp_path / "x.png", metric="eval/mean_return")
    with pytest.raises(ConfigError, match="no metrics.jsonl"):
        plot_learning_curves([tmp_path], tmp_path / "x.png")
    with pytest.raises(ConfigError):
        plot_learning_curves([], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_aggregate_png(tmp_path):
    rng = np.random.default_rng(0)
    games = ["Pong", "Breakout", "Seaquest", "Qbert", "Alien"]
    scores = {
        "dqn": {g: rng.normal(0.8, 0.3, 5) for g in games},
        "rainbow": {g: rng.normal(1.6, 0.5, 5) for g in games},
        "ppo": {g: rng.normal(1.1, 0.4, 5) for g in games},
    }
    out = plot_aggregate(scores, tmp_path / "aggregate.png", xlabel="human-normalized score", n_boot=500)
    _check_png(out)


def test_plots_from_leaderboard_rows(tmp_path):
    from rlsuite.eval.leaderboard import Leaderboard

    with Leaderboard(tmp_path / "lb.db") as lb:
        for agent, level in (("dqn", 10.0), ("ppo", 19.0)):
            for game in ("ALE/Pong-v5", "ALE/Boxing-v5"):
                for s in range(3):
                    lb.add({"agent": agent, "env_id": game, "seed": s, "returns": [level + s, level - s, level]})
        rows = lb.query()
        ranked = lb.ranked(n_boot=200)
    scores, label = scores_from_rows(rows)
    assert label == "human-normalized score" and set(scores) == {"dqn", "ppo"}
    # every seed's mean return is 19: human-normalized (19 + 20.7) / (14.6 + 20.7)
    assert scores["ppo"]["ALE/Pong-v5"] == pytest.approx([(19.0 + 20.7) / 35.3] * 3)
    raw, raw_label = scores_from_rows(ranked, normalized="raw")
    assert raw_label == "mean episode return" and len(raw["dqn"]["ALE/Boxing-v5"]) == 3
    _check_png(plot_aggregate(rows, tmp_path / "agg_rows.png", n_boot=300))
    _check_png(plot_ranked(ranked, tmp_path / "ranked.png"), min_bytes=8_000)
