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
    _legend_label,
    group_name,
    learning_curve_groups,
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


def _linear_run(
    root: Path, name: str, steps: list[int], offset: float, lr: float = 0.001, last_step: int | None = None
) -> Path:
    """A run whose training return is ``step / 100 + offset`` at every logged step (exact under
    linear interpolation), with a real-looking ``config.yaml``; ``last_step`` adds an evaluation
    line after the last episode (the run went on to there)."""
    run = root / name
    run.mkdir(parents=True)
    lines = [json.dumps({"step": s, "train/episode_return": s / 100 + offset}) for s in steps]
    if last_step is not None:
        lines.append(json.dumps({"step": last_step, "eval/mean_return": 0.0}))
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    (run / "config.yaml").write_text(
        f"seed: 0\ntotal_steps: {steps[-1]}\nagent:\n  name: ppo\n  lr: {lr}\n  n_envs: 8\nenv:\n  id: CartPole-v1\n"
    )
    return run


def test_curves_of_unequal_runs_keep_each_groups_full_range(tmp_path):
    """A 300-step run next to two long ones: the line spans 30,000 steps, not 300."""
    short = _linear_run(tmp_path, "short", list(range(50, 301, 50)), offset=0.0)
    long_b = _linear_run(tmp_path, "long_b", [50, *range(1000, 30_001, 1000)], offset=10.0, last_step=30_500)
    long_c = _linear_run(tmp_path, "long_c", [50, *range(1000, 29_001, 1000)], offset=20.0)
    tuned = _linear_run(tmp_path, "tuned", [50, *range(1000, 30_001, 1000)], offset=-50.0, lr=0.0003)
    groups = learning_curve_groups([short, long_b, long_c, tuned], smooth=1)

    # grouped as the leaderboard groups (agent + config): the changed lr is its own line
    assert [(g.env, g.label, sorted(g.runs)) for g in groups] == [
        ("CartPole-v1", "ppo lr=0.0003", ["tuned"]),
        ("CartPole-v1", "ppo lr=0.001", ["long_b", "long_c", "short"]),
    ]
    g = groups[1]
    assert g.grid[0] == 50 and g.grid[-1] == 30_500  # the union of the runs' ranges
    assert g.coverage() == [(3, 300.0), (2, 29_000.0), (1, 30_500.0)]
    at = {x: i for i, x in enumerate(g.grid.tolist())}
    assert g.mean[at[300.0]] == pytest.approx((3 + 13 + 23) / 3)  # all three runs
    assert g.mean[at[29_000.0]] == pytest.approx((300 + 310) / 2)  # the two long runs
    assert g.mean[at[30_500.0]] == pytest.approx(310.0)  # only long_b: its last return, held ...
    assert np.isnan(g.low[at[30_500.0]]) and np.isnan(g.high[at[30_500.0]])  # ... and no band
    both = g.n_runs >= 2
    assert np.all(g.low[both] <= g.mean[both] + 1e-9) and np.all(g.mean[both] <= g.high[both] + 1e-9)
    # a stretch averaging two runs gets a band between their two values (bootstrap over those runs)
    assert g.low[at[29_000.0]] == pytest.approx(300.0) and g.high[at[29_000.0]] == pytest.approx(310.0)
    assert np.isnan(g.curves[g.runs.index("short"), at[29_000.0]])  # no data past its end
    assert _legend_label(g) == "ppo lr=0.001 (n=3 to 300, n=2 to 29k, n=1 to 30.5k)"
    assert _legend_label(groups[0]) == "ppo lr=0.0003 (n=1)"
    _check_png(plot_learning_curves([short, long_b, long_c, tuned], tmp_path / "unequal.png"), min_bytes=8_000)


def test_group_names_keep_configs_apart():
    rows = [
        {"agent": "ppo", "env_id": "CartPole-v1", "protocol": "default", "config_hash": "aaaa1111bbbb", "mean": 500.0},
        {"agent": "ppo", "env_id": "CartPole-v1", "protocol": "default", "config_hash": "cccc2222dddd", "mean": 100.0},
        {"agent": "dqn", "env_id": "CartPole-v1", "protocol": "default", "config_hash": "eeee3333ffff", "mean": 50.0},
    ]
    scores, _ = scores_from_rows(rows)
    assert {k: v["CartPole-v1"].tolist() for k, v in scores.items()} == {
        "ppo aaaa1111": [500.0], "ppo cccc2222": [100.0], "dqn": [50.0],
    }  # fmt: skip
    assert group_name(rows[2], rows) == "dqn"
