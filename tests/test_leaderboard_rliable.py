"""rliable's figures on the HTML leaderboard: probability of improvement, optimality gap, sample efficiency."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

from rlsuite.cli import main
from rlsuite.eval.export import export
from rlsuite.eval.leaderboard import Leaderboard
from rlsuite.eval.plots_rliable import improvement_pairs, optimality_gaps, sample_efficiency_scores
from rlsuite.eval.stats import iqm


def _write_run(root: Path, name: str, finals: float, steps: int = 10_000) -> Path:
    """A run directory whose metrics.jsonl climbs linearly to ``finals`` (eval every 1000 steps)."""
    run = root / name
    run.mkdir(parents=True)
    with open(run / "metrics.jsonl", "w") as f:
        for s in range(1000, steps + 1, 1000):
            f.write(json.dumps({"step": s, "eval/mean_return": finals * s / steps}) + "\n")
    return run


def _board(tmp_path: Path) -> Path:
    path = tmp_path / "lb.db"
    with Leaderboard(path) as lb:
        for agent, finals in (("ppo", (480.0, 500.0, 450.0, 500.0, 470.0)), ("dqn", (300.0, 350.0, 200.0))):
            for seed, final in enumerate(finals):
                run = _write_run(tmp_path / "runs", f"{agent}-s{seed}", final)
                lb.add(dict(agent=agent, env_id="CartPole-v1", env_version="gymnasium 1.0", protocol="default",
                            config_hash="c0ffee", seed=seed, train_steps=10_000, frames=10_000,
                            returns=[final] * 4, run_dir=str(run)))
    return path


def test_improvement_pairs_and_sample_efficiency_from_rows(tmp_path):
    with Leaderboard(_board(tmp_path)) as lb:
        rows = lb.ranked()
    pairs = improvement_pairs(rows, n_boot=200)
    # ppo's runs (450..500) all beat dqn's (200..350): P = 1 exactly, CI [1, 1]
    assert [(p["x"], p["y"], p["p"], p["ci_low"], p["ci_high"]) for p in pairs] == [("ppo", "dqn", 1.0, 1.0, 1.0)]
    curves = sample_efficiency_scores(rows)["CartPole-v1"]
    assert sorted(curves) == ["dqn", "ppo"] and len(curves["ppo"]) == 10
    # at budget 5000 every ppo run is at half its final score
    half = curves["ppo"][5000.0]["CartPole-v1"]
    assert half.tolist() == pytest.approx([240.0, 250.0, 225.0, 250.0, 235.0])
    assert iqm(half) == pytest.approx(np.mean([235.0, 240.0, 250.0]))
    gaps = optimality_gaps({"a": {"t": [0.5, 1.2, 0.9]}}, n_boot=100)
    assert gaps["a"][0] == pytest.approx((0.5 + 0.0 + 0.1) / 3)


def test_html_leaderboard_has_the_rliable_figures(tmp_path):
    board = _board(tmp_path)
    out = tmp_path / "lb.html"
    assert main(["leaderboard", f"leaderboard={board}", "format=html", f"out={out}"]) == 0
    page = out.read_text()
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert any(c.startswith("Probability of improvement") and "ppo &gt; dqn: 1.00 [1.00, 1.00]" in c
               for c in captions)
    assert any(c.startswith("Sample efficiency") for c in captions)
    assert any("performance profile" in c for c in captions)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == len(captions) >= 4
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert export([], "html") and "Probability" not in export([], "html")
