"""A task env's own evaluation (rlsuite.env_plugin.TaskResult): run by rlsuite.evaluate(task=True),
carried into leaderboard rows and the table; OmegaConf containers in checkpoints."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from rlsuite.env_plugin import EnvPlugin, TaskResult
from rlsuite.errors import ConfigError


def test_task_result_names_its_primary_metric_and_stores_json_numbers():
    result = TaskResult({"recall@0.5": 0.5, "median_steps": math.nan, "per_detection": math.inf}, primary="recall@0.5",
                        summary="recall 0.5", artefacts={"spec": Path("/tmp/x.yaml")})
    assert result.metrics == {"recall@0.5": 0.5, "median_steps": None, "per_detection": None}
    assert result.to_dict()["artefacts"] == {"spec": "/tmp/x.yaml"}
    with pytest.raises(ValueError, match="primary metric 'AP'"):
        TaskResult({"recall": 1.0}, primary="AP", summary="")


def test_envs_without_a_task_evaluation_report_returns_only():
    import rlsuite

    assert EnvPlugin().evaluate_task(None, None, episodes=1, seed=0) is None
    agent = rlsuite.make_agent("q_learning", env="FrozenLake-v1", seed=0)
    assert "task" not in rlsuite.evaluate(agent, episodes=2, task=True).extra


def test_task_metrics_reach_the_leaderboard_row_ranking_and_table(tmp_path):
    import rlsuite
    from rlsuite.eval.export import table_columns
    from rlsuite.eval.leaderboard import Leaderboard
    from rlsuite.run import result_row

    agent = rlsuite.make_agent("reinforce", env="nas/mnist1d-table", seed=0)
    result = rlsuite.evaluate(agent, episodes=4, seed=1, task=True, out_dir=tmp_path)
    best = result.extra["task"]["metrics"]["best_val_acc"]
    assert (tmp_path / "best_arch.yaml").is_file()
    with Leaderboard(tmp_path / "lb.sqlite") as board:
        board.add(result_row(agent, result, tmp_path))
        raw = board.query()
        ranked = board.ranked()
    assert raw[0]["extra"]["task"]["metrics"]["best_val_acc"] == best
    assert ranked[0]["task"] == {"name": "best_val_acc", "mean": best, "n": 1}
    for rows in (raw, ranked):
        column = next(c for c in table_columns(rows) if c[0] == "Task metric")
        assert column[1](rows[0]) == f"best_val_acc {best:.3f}"
    plain = [{**raw[0], "extra": {}}]
    assert all(c[0] != "Task metric" for c in table_columns(plain))


def test_omegaconf_containers_checkpoint_as_plain_lists_and_dicts(tmp_path):
    from rlsuite import checkpoint

    state = {"kwargs": {"classes": OmegaConf.create(["box", "ball"]), "extra": OmegaConf.create({"a": [1, 2]})}}
    checkpoint.save_state(tmp_path / "c.safetensors", state)
    back = checkpoint.load_state(tmp_path / "c.safetensors")
    assert back["kwargs"] == {"classes": ["box", "ball"], "extra": {"a": [1, 2]}}
    assert type(back["kwargs"]["classes"]) is list


def test_eval_env_kwargs_overrides_parse_as_yaml():
    from rlsuite.cli import _env_kwargs

    assert _env_kwargs(["env.kwargs.scene_seed=7", "env.kwargs.classes=[a,b]"]) == {"scene_seed": 7,
                                                                                    "classes": ["a", "b"]}
    with pytest.raises(ConfigError, match="env.kwargs.<key>=<value>"):
        _env_kwargs(["env.kwargs.scene_seed"])
