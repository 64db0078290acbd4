"""NAS results in task terms: `rlsuite train` prints the best architecture found with its accuracy,
writes it as a spec file, and `rlsuite fit model=cnn arch=<that file>` trains it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rlsuite.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def table_results() -> dict[tuple[int, ...], dict]:
    from rlsuite.envs.nas.evaluate import table_path

    data = json.loads(table_path("mnist1d-table").read_text())
    return {tuple(int(c) for c in arch): dict(zip(data["fields"], values)) for arch, values in data["archs"].items()}


def test_train_prints_and_writes_the_best_architecture_and_fit_trains_it(tmp_path):
    done = cli("train", "agent=reinforce", "env=nas/mnist1d-table", "total_steps=180", "eval_episodes=5",
               f"runs_root={tmp_path / 'runs'}", f"leaderboard={tmp_path / 'lb.sqlite'}", "logger=[jsonl]",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run_dir = next((tmp_path / "runs").iterdir())
    task = json.loads((run_dir / "eval.json").read_text())["extra"]["task"]
    arch = tuple(task["details"]["architecture"])
    table = table_results()
    # the reported accuracy is the table's for that architecture, and no child the search trained beat it
    assert task["metrics"]["best_val_acc"] == pytest.approx(table[arch]["val_acc"])
    assert task["metrics"]["best_test_acc"] == pytest.approx(table[arch]["test_acc"])
    children = json.loads((run_dir / "nas_search.json").read_text())["children"]
    assert len(children) == task["metrics"]["children_trained"] >= 2
    assert max(c["result"]["val_acc"] for c in children) <= task["metrics"]["best_val_acc"]
    assert task["metrics"]["best_val_acc"] >= task["metrics"]["greedy_val_acc"]
    # printed: the architecture, its accuracy, the spec file
    line = next(ln for ln in done.stdout.splitlines() if "task eval" in ln)
    assert task["details"]["describe"] in line and f"validation accuracy {table[arch]['val_acc']:.4f}" in line
    spec_file = run_dir / "best_arch.yaml"
    assert str(spec_file) in done.stdout
    spec = yaml.safe_load(spec_file.read_text())
    assert spec == task["details"]["spec"] and spec["dims"] == 1

    fitted = cli("fit", "model=cnn", "data=mnist1d", f"arch={spec_file}", "epochs=1", "logger=[jsonl]",
                 f"runs_root={tmp_path / 'fits'}", cwd=tmp_path)
    assert fitted.returncode == 0, fitted.stderr
    fit_dir = next((tmp_path / "fits").iterdir())
    from rlsuite.backbones import load
    from rlsuite.backbones.spec import ArchSpec

    assert load(fit_dir).spec == ArchSpec.from_dict(spec)  # the searched architecture is what was trained
    assert '"accuracy"' in fitted.stdout

    # a later `rlsuite eval` still knows what the search found (nas_search.json)
    shown = cli("eval", f"run={run_dir}", "episodes=3", "submit=false", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "best architecture" in shown.stdout and "children the search trained" in shown.stdout
    again = json.loads(next(run_dir.glob("eval-*.json")).read_text())["extra"]["task"]
    assert again["metrics"]["children_trained"] == len(children)
    assert again["metrics"]["best_val_acc"] >= max(c["result"]["val_acc"] for c in children)
    assert again["details"]["describe"] in shown.stdout
