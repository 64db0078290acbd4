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
    # retrained from 3 fresh seeds at the child's budget: real training, near the table's figure
    metrics = task["metrics"]
    assert metrics["retrained_seeds"] == 3 and metrics["retrained_epochs"] == 4
    per_seed = task["details"]["retrained_per_seed"]
    assert len(per_seed) == 3 and len(set(per_seed)) > 1  # fresh initialisations, not one result repeated
    assert metrics["retrained_test_acc"] == pytest.approx(sum(per_seed) / 3)
    assert abs(metrics["retrained_test_acc"] - table[arch]["test_acc"]) < 0.1
    # printed: the architecture, its accuracy, the spec file
    line = next(ln for ln in done.stdout.splitlines() if "task eval" in ln)
    assert task["details"]["describe"] in line and f"validation accuracy {table[arch]['val_acc']:.4f}" in line
    assert f"retrained test accuracy {metrics['retrained_test_acc']:.4f}" in line
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


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_a_bad_retrain_key_is_one_line_and_writes_nothing(tmp_path, value):
    done = cli("train", "agent=reinforce", "env=nas/mnist1d-table", "total_steps=30",
               f"env.kwargs.retrain_seeds={value}", f"runs_root={tmp_path / 'runs'}", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "env.kwargs.retrain_seeds must be an integer >= 0" in done.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_retraining_can_be_switched_off(tmp_path):
    import rlsuite
    from rlsuite.envspec import env_spec_from

    agent = rlsuite.make_agent("reinforce", env=env_spec_from("nas/mnist1d-table", retrain_seeds=0), seed=0)
    metrics = rlsuite.evaluate(agent, episodes=2, seed=1, task=True).extra["task"]["metrics"]
    assert "retrained_test_acc" not in metrics and metrics["best_val_acc"] > 0
