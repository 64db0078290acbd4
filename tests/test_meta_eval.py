"""Meta-learners are evaluated by their meta-test protocol everywhere: ``rlsuite.evaluate``, the end
of ``rlsuite train`` and ``rlsuite eval run=... adapt_steps=k``; rows land on the leaderboard under
a meta protocol label that carries the setting (meta-adaptation/k3, meta-trial/e2)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from rlsuite.agents.maml import MAML
from rlsuite.agents.rl2 import RL2

import rlsuite
from rlsuite.cli import main
from rlsuite.errors import ConfigError
from rlsuite.eval.leaderboard import Leaderboard

MAML_TINY = ["agent.meta_batch_size=2", "agent.trajectories_per_task=3", "agent.net.widths=[8]"]
RL2_TINY = ["agent.net.recurrent_hidden=8", "agent.episodes_per_trial=2", "agent.trials_per_iteration=4",
            "agent.n_minibatches=2", "agent.n_epochs=1"]


def test_maml_evaluate_reports_returns_after_each_step_on_held_out_tasks():
    agent = MAML("navigation2d/h10", seed=0, device="cpu", meta_batch_size=2, trajectories_per_task=3,
                 net={"widths": [8]})
    result = rlsuite.evaluate(agent, episodes=4, seed=5, adapt_steps=2)
    meta = result.extra["meta"]
    assert result.protocol == "meta-adaptation/k2" and result.episodes == 4 and not result.deterministic
    assert len(meta["returns_after_steps"]) == 3 and meta["step_sizes"] == [0.1, 0.05]
    # One score per held-out task: its mean return after the last step; the same numbers as meta_test.
    direct = agent.meta_test(n_tasks=4, steps=2, seed=5)
    np.testing.assert_allclose(result.returns, direct["per_task"][-1])
    assert result.mean == pytest.approx(direct["returns"][-1])
    assert set(meta["tasks"]) <= set(agent.split.test_tasks(1000).seeds.tolist())
    assert (result.lengths == 3 * 3 * 10).all()  # 3 samplings (0, 1, 2 steps) x 3 trajectories x horizon 10
    assert rlsuite.evaluate(agent, episodes=4, seed=5).protocol == "meta-adaptation/k3"


def test_rl2_evaluate_reports_trial_totals_and_episode_returns():
    agent = RL2("bandits/k3-n6", seed=0, device="cpu", net={"recurrent_hidden": 8}, episodes_per_trial=2,
                trials_per_iteration=4, n_minibatches=2)
    result = rlsuite.evaluate(agent, episodes=10, seed=3, protocol="meta-trial")
    meta = result.extra["meta"]
    assert result.protocol == "meta-trial/e2" and result.returns.shape == (10,)
    assert ((result.returns >= 0) & (result.returns <= 12)).all()
    assert sum(meta["episode_returns"]) == pytest.approx(result.mean)
    assert result.mean == pytest.approx(agent.meta_test(10, seed=3)["trial_return"])
    with pytest.raises(ConfigError, match="adapt_steps applies to gradient-based"):
        rlsuite.evaluate(agent, episodes=2, adapt_steps=1)


def test_protocol_mismatches_are_one_clear_error():
    maml = MAML("navigation2d/h10", seed=0, device="cpu", meta_batch_size=2, trajectories_per_task=3,
                net={"widths": [8]})
    with pytest.raises(ConfigError, match="meta-test protocol 'meta-adaptation'"):
        rlsuite.evaluate(maml, episodes=2, protocol="meta-trial")
    with pytest.raises(ConfigError, match="env= and video"):
        rlsuite.evaluate(maml, env="navigation2d", episodes=2)
    ordinary = rlsuite.make_agent("q_learning", env="FrozenLake-v1")
    with pytest.raises(ConfigError, match="not one"):
        rlsuite.evaluate(ordinary, episodes=2, protocol="meta-adaptation")
    with pytest.raises(ConfigError, match="adapt_steps applies to meta-learners"):
        rlsuite.evaluate(ordinary, episodes=2, adapt_steps=1)


def test_train_ends_with_the_meta_protocol_and_cli_eval_adapts(tmp_path, capsys):
    db = tmp_path / "lb.db"
    run = rlsuite.train(["agent=maml", "env=navigation2d/h10", "total_steps=120", *MAML_TINY, "eval_episodes=3",
                         f"runs_root={tmp_path}", f"leaderboard={db}", "logger=[jsonl]"])
    assert run.eval is not None and run.eval.protocol == "meta-adaptation/k3" and run.eval.episodes == 3
    saved = json.loads((run.dir / "eval.json").read_text())
    assert len(saved["extra"]["meta"]["returns_after_steps"]) == 4
    capsys.readouterr()
    assert main(["eval", f"run={run.dir}", "episodes=2", "adapt_steps=1", f"leaderboard={db}", "submit=true"]) == 0
    out = capsys.readouterr().out
    assert "meta-adaptation/k1" in out and "after 0..1 gradient steps" in out
    assert main(["eval", f"run={run.dir}", "adapt_steps=two", "submit=false"]) == 2
    assert "adapt_steps must be a non-negative integer" in capsys.readouterr().err

    rl2 = rlsuite.train(["agent=rl2", "env=bandits/k3-n6", "total_steps=48", *RL2_TINY, "eval_episodes=5",
                         f"runs_root={tmp_path}", f"leaderboard={db}", "logger=[jsonl]"])
    assert rl2.eval is not None and rl2.eval.protocol == "meta-trial/e2" and len(rl2.eval.returns) == 5
    with Leaderboard(db) as board:
        rows = board.query()
    assert sorted(r["protocol"] for r in rows) == ["meta-adaptation/k1", "meta-adaptation/k3", "meta-trial/e2"]
    assert {r["episodes"] for r in rows if r["agent"] == "maml"} == {2, 3}


def test_meta_results_readable_task_count_standard_errors_protocol_column(tmp_path, capsys):
    """bandits: train and eval both default to the env config's 1,000 held-out tasks (a standard
    error under 0.1); MAML's summary gives a standard error per step; the default leaderboard view
    keeps the protocol column (adapt steps in its name) however narrow the terminal."""
    from rich.console import Console

    from rlsuite.config import compose
    from rlsuite.eval.export import render_table

    assert compose(["agent=maml", "env=bandits"]).eval_episodes == 1000
    assert compose(["agent=rl2", "env=bandits", "eval_episodes=7"]).eval_episodes == 7
    db = tmp_path / "lb.db"
    run = rlsuite.train(["agent=maml", "env=bandits", "total_steps=40", *MAML_TINY, f"runs_root={tmp_path}",
                         f"leaderboard={db}", "logger=[jsonl]"])
    assert run.eval is not None and run.eval.episodes == 1000
    scores = np.asarray(run.eval.returns)
    assert np.std(scores, ddof=1) / np.sqrt(scores.size) < 0.1
    summary = run.eval.extra["summary"]
    errors = run.eval.extra["meta"]["standard_errors"]
    assert len(errors) == 4 and f"± {errors[-1]:.2f}" in summary and "standard error" in summary
    per_task = np.asarray(run.eval.extra["meta"]["per_task"][0])
    assert errors[0] == pytest.approx(np.std(per_task, ddof=1) / np.sqrt(per_task.size))
    capsys.readouterr()
    assert main(["eval", f"run={run.dir}", "adapt_steps=2", f"leaderboard={db}"]) == 0  # no episodes=
    assert "on 1000 held-out tasks" in capsys.readouterr().out
    with Leaderboard(db) as lb:
        rows = lb.ranked()
    assert {r["protocol"] for r in rows} == {"meta-adaptation/k3", "meta-adaptation/k2"}
    console = Console(width=60, record=True, force_terminal=False)
    render_table(rows, console=console)
    text = console.export_text()
    assert "meta-adaptation/k2" in text and "meta-adaptation/k3" in text


def _same_state(a: object, b: object) -> bool:
    """Nested state dicts (tensors, arrays, generator states) hold equal values."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.parametrize(("agent", "env", "tiny", "every"), [
    ("maml", "navigation2d/h10", MAML_TINY, 120),  # 2 tasks x 3 trajectories x 10 steps, twice per iteration
    ("rl2", "bandits/k3-n6", RL2_TINY, 48),  # 4 trials x 2 episodes x 6 pulls per update
])
def test_eval_every_logs_the_meta_test_during_training_without_changing_it(tmp_path, agent, env, tiny, every):
    # benchmarks/curves.py draws the meta-learners' learning curves from these eval/mean_return rows
    common = [f"agent={agent}", f"env={env}", f"total_steps={3 * every}", *tiny, "eval_episodes=3",
              "submit=false", "logger=[jsonl]", "device=cpu"]
    plain = rlsuite.train([*common, f"runs_root={tmp_path / 'plain'}"])
    evaluated = rlsuite.train([*common, f"runs_root={tmp_path / 'evaluated'}", f"eval_every={every}"])
    rows = [json.loads(line) for line in (evaluated.dir / "metrics.jsonl").read_text().splitlines()]
    points = [(row["step"], row["eval/mean_return"]) for row in rows if "eval/mean_return" in row]
    # one meta-test per eval_every steps, then the final one (the same meta-test at the same step)
    assert [step for step, _ in points] == [every, 2 * every, 3 * every, 3 * every]
    assert evaluated.eval is not None and points[-2][1] == points[-1][1] == evaluated.eval.mean
    assert evaluated.eval.protocol.startswith("meta-")
    plain_rows = [json.loads(line) for line in (plain.dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in plain_rows if "eval/mean_return" in row] == [3 * every]  # eval_every=0: the end
    # evaluating never moved training: same parameters, optimizer and random streams
    assert _same_state(plain.agent.state_dict(), evaluated.agent.state_dict())
