"""benchmarks/pong_race.py's arithmetic: the 20-episode score, when it first reaches a threshold
(never on fewer than 20 episodes), the score at the time limit and frames = 4 x agent steps."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import pong_race

LAUNCHED = 1_000_000.0


def write_run(run_dir: Path, scores: list[float]) -> None:
    """A metrics.jsonl as `rlsuite train` writes it: one episode a minute, 1,000 agent steps apart,
    with the loss records in between that the reader must skip."""
    lines = []
    for i, score in enumerate(scores):
        t = LAUNCHED + 60.0 * (i + 1)
        lines.append(json.dumps({"step": 1000 * (i + 1), "train/sps": 500.0, "time": t - 1}))
        lines.append(json.dumps({"step": 1000 * (i + 1), "train/episode_return": score,
                                 "train/episode_length": 900.0, "time": t}))
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")


def test_the_score_is_the_mean_of_the_last_20_episodes(tmp_path: Path) -> None:
    write_run(tmp_path, [-21.0] * 10 + [21.0] * 30)
    curve = pong_race.score_curve(pong_race.episodes(tmp_path), LAUNCHED)
    assert [round(c[0], 6) for c in curve[:2]] == [1.0, 2.0]  # minutes since launch
    assert curve[0][2:] == (-21.0, 1) and curve[9][2:] == (-21.0, 10)
    assert curve[19][2:] == (0.0, 20)  # 10 x -21 and 10 x +21
    assert curve[29][2:] == (21.0, 20)


def test_a_threshold_needs_a_full_window(tmp_path: Path) -> None:
    # the first 5 episodes average +20, but that is not a 20-episode mean. The last -21 is episode
    # 17 (1-based, one a minute): the window ending at episode 36 holds it once (21 - 42 / 20 = 18.9),
    # the one ending at 37 not at all (21)
    write_run(tmp_path, [20.0] * 5 + [-21.0] * 12 + [21.0] * 40)
    result = pong_race.summarize(tmp_path, LAUNCHED, minutes=60.0)
    assert result["pong_minutes_to_18"] == 36.0
    assert result["pong_frames_to_18"] == 36 * 1000 * 4
    assert result["pong_minutes_to_20"] == 37.0
    assert result["pong_score_at_limit"] == 21.0 and result["frames_at_limit"] == 57_000 * 4


def test_the_score_at_the_limit_ignores_later_episodes(tmp_path: Path) -> None:
    write_run(tmp_path, [-21.0] * 30 + [21.0] * 30)
    result = pong_race.summarize(tmp_path, LAUNCHED, minutes=30.0)
    assert result["pong_score_at_limit"] == -21.0
    assert result["pong_minutes_to_18"] == 49.0  # reached after the limit: the report still says when
    assert result["frames_at_limit"] == 30_000 * 4


def test_thinned_keeps_the_ends() -> None:
    points = [[float(i), float(i)] for i in range(1000)]
    thin = pong_race.thinned(points, most=100)
    assert len(thin) == 101 and thin[0] == points[0] and thin[-1] == points[-1]
    assert pong_race.thinned(points[:50], most=100) == points[:50]
