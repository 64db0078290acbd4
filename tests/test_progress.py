"""Progress output: a live bar in terminals, plain lines every ``log_every`` steps anywhere else."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest

from rlsuite.loggers import ConsoleLogger, duration

LINE = re.compile(
    r"^q_learning FrozenLake-v1: (?P<step>[\d,]+)/200,000 steps \((?P<pct>\d+)%\) \| (?P<sps>[\d,]+) steps/s \| "
    r"return (?P<ret>[-\d.]+|-)(?: \(last \d+ episodes\))? \| ETA (?P<eta>\d+:\d\d:\d\d|-)$"
)


def test_train_with_stdout_a_pipe_prints_a_progress_line_every_log_every_steps(tmp_path):
    """`rlsuite train ... > train.log`: a line per log_every steps arrives while the run goes on."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlsuite.cli", "train", "agent=q_learning", "env=FrozenLake-v1",
         "total_steps=200000", "log_every=500", "logger=[console]", "submit=false",
         f"run_dir={tmp_path / 'run'}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        # the cost summary first, the one-line estimate after 1,000 steps, progress lines between
        lines = [proc.stdout.readline().rstrip("\n") for _ in range(6)]
        # 200k steps take tens of seconds: these lines were flushed by a run still going, not
        # written when it ended
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.communicate()
    assert lines[0] == ("q_learning FrozenLake-v1: 200,000 agent steps; device cpu; "
                        "estimated time after the first 1,000 steps")
    assert lines[2].startswith("estimated time: ")  # printed with the progress line of step 1,000
    lines = lines[1:2] + lines[3:]
    progress = [LINE.match(line) for line in lines]
    assert all(progress), lines
    assert [int(m["step"].replace(",", "")) for m in progress if m] == [500, 1000, 1500, 2000]
    assert [int(m["pct"]) for m in progress if m] == [0, 0, 1, 1]
    assert all(int(m["sps"].replace(",", "")) > 0 and m["eta"] != "-" for m in progress if m)
    assert not any("\x1b[" in line or "\r" in line for line in lines)  # no terminal control codes in a log


def test_plain_progress_line_content():
    buf = io.StringIO()
    log = ConsoleLogger(100_000, "ppo CartPole-v1", live=False, stream=buf)
    for ret in (10.0, 20.0, 30.0):
        log.log({"train/episode_return": ret}, 1_000)
    assert buf.getvalue() == ""  # episodes alone print nothing
    log.log({"train/sps": 500.0}, 20_000)
    log.close()
    assert buf.getvalue() == (
        "ppo CartPole-v1: 20,000/100,000 steps (20%) | 500 steps/s | return 20.00 (last 3 episodes) | ETA 0:02:40\n"
    )
    for i in range(30):  # the recent return averages the last 20 episodes
        log.log({"train/episode_return": float(i)}, 21_000)
    assert log.progress_line(21_000, 0.0).endswith("return 19.50 (last 20 episodes) | ETA -")


def test_live_bar_when_forced():
    buf = io.StringIO()
    log = ConsoleLogger(1_000, "dqn CartPole-v1", live=True, stream=buf)
    log.log({"train/sps": 100.0, "train/episode_return": 5.0}, 500)
    log.close()
    text = buf.getvalue()
    assert "━" in text and "500/1,000 steps" in text and "100 steps/s" in text and "return 5.00" in text
    assert "|" not in text  # the bar, not the plain line


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00:00"), (65.4, "0:01:05"), (3 * 3600 + 7, "3:00:07"),
                                               (90_061, "1d 1:01:01")])  # fmt: skip
def test_duration(seconds, text):
    assert duration(seconds) == text
