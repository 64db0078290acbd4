"""Packaging: a non-editable install works from any directory, and a third-party plugin package
adds an agent and an env that train through the CLI exactly like the built-ins."""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _pip_install(venv_python: Path, source: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv_python), "install", "--no-deps",
         "--no-build-isolation", "--no-index", "-q", str(source)],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh virtual environment with a non-editable install of this checkout. Its dependencies
    (torch, gymnasium, ...) come from the test interpreter's site-packages through a .pth file,
    without that interpreter's editable rlsuite (a .pth line adds a directory, not its finders)."""
    root = tmp_path_factory.mktemp("install")
    source = root / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "runs", "build", "*.egg-info", "__pycache__", "wandb", "benchmarks", "docs"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _pip_install(python, source)
    return root


def _run(root: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(root / "venv" / "bin" / "rlsuite"), *args], cwd=cwd, capture_output=True, text=True)


def test_non_editable_install_works_from_any_directory(venv, tmp_path):
    where = subprocess.run([str(venv / "venv" / "bin" / "python"), "-c",
                            "import rlsuite, rlsuite.configs, rlsuite.agents; print(rlsuite.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    assert str(venv / "venv") in where.stdout  # the installed copy, not the checkout
    out = _run(venv, "list", "agents", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "q_learning" in out.stdout and "sarsa" in out.stdout
    out = _run(venv, "config", "env=Taxi-v3", cwd=tmp_path)  # package data: configs/env/*.yaml
    assert out.returncode == 0 and "id: Taxi-v4" in out.stdout


def test_third_party_plugin_trains_through_the_cli(venv, tmp_path):
    _pip_install(venv / "venv" / "bin" / "python", REPO / "tests" / "plugin_pkg")
    out = _run(venv, "list", "agents", cwd=tmp_path)
    assert "mc_control" in out.stdout and "Every-visit Monte-Carlo control" in out.stdout
    assert "corridor" in _run(venv, "list", "envs", cwd=tmp_path).stdout
    out = _run(venv, "train", "agent=mc_control", "env=corridor", "total_steps=3000", "eval_episodes=5",
               "logger=[jsonl]", f"run_dir={tmp_path / 'run'}", f"leaderboard={tmp_path / 'lb.db'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert result["mean"] == pytest.approx(1.0 - 0.01 * 4)  # straight to the goal: 5 steps
    out = _run(venv, "leaderboard", "format=json", f"leaderboard={tmp_path / 'lb.db'}", cwd=tmp_path)
    rows = json.loads(out.stdout)
    assert rows and rows[0]["agent"] == "mc_control"
