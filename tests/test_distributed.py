"""rlsuite.distributed on real local Ray (2 CPUs): the executor, the launcher=ray sweep, A3C's
parameter-server backend, Ray Tune (ASHA, PBT), clean shutdown and the two-node cluster path."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest

pytest.importorskip("ray")

from rlsuite.executors import JobError, make_executor  # noqa: E402

pytestmark = pytest.mark.ray


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is refused")
    return x


def die_once(marker: str) -> int:
    """SIGKILLs its own worker the first time (the marker file does not exist yet), then returns its pid."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


# ------------------------------------------------------------------------- the executor
@pytest.mark.usefixtures("ray_local")
def test_ray_executor_yields_every_result_and_names_a_failing_job():
    with make_executor("ray", workers=2) as executor:
        results = dict(executor.map_unordered(square, list(range(6))))
        assert results == {i: i * i for i in range(6)}
        with pytest.raises(JobError, match="job 3 failed: ValueError: three is refused") as info:
            list(executor.map_unordered(fail_on_three, list(range(5))))
        assert info.value.index == 3


@pytest.mark.usefixtures("ray_local")
def test_ray_executor_resubmits_the_job_of_a_worker_that_died(tmp_path):
    with make_executor("ray", workers=2) as executor:
        results = dict(executor.map_unordered(die_once, [str(tmp_path / "died")]))
        assert executor.resubmitted == 1 and list(results) == [0]


# ------------------------------------------------------------------------- launcher=ray
@pytest.mark.usefixtures("ray_local")
def test_a_ray_sweep_of_four_seeds_gives_four_run_dirs_and_four_leaderboard_rows(tmp_path, capsys):
    from rlsuite.cli import main
    from rlsuite.eval.leaderboard import Leaderboard

    board = tmp_path / "board.db"
    code = main(["train", "-m", "agent=a2c", "env=CartPole-v1", "seed=0,1,2,3", "total_steps=64",
                 "agent.n_steps=8", "eval_episodes=2", "logger=[jsonl]", "launcher=ray",
                 f"runs_root={tmp_path / 'runs'}", f"leaderboard={board}"])
    assert code == 0
    run_dirs = sorted((tmp_path / "runs").iterdir())
    assert len(run_dirs) == 4
    assert sorted(d.name.split("-s")[1][0] for d in run_dirs) == ["0", "1", "2", "3"]
    for d in run_dirs:
        assert (d / "model.safetensors").is_file() and json.loads((d / "eval.json").read_text())["train_steps"] == 64
    with Leaderboard(str(board)) as lb:
        rows = lb.query()
    assert sorted(int(r["seed"]) for r in rows) == [0, 1, 2, 3]
    assert capsys.readouterr().out.count("mean return") == 4


# ------------------------------------------------------------------------- A3C on a parameter server
@pytest.mark.usefixtures("ray_local")
def test_async_a3c_applies_exactly_the_updates_asked_with_bounded_staleness():
    from rlsuite import make_agent

    agent = make_agent("a3c", "CartPole-v1", seed=0, tuned=False, backend="ray", n_workers=2, n_envs=2, t_max=5)
    agent.learn(400)  # 400 / (5 × 2) = 40 updates
    stats = agent.async_stats
    assert agent.updates == 40 and stats["applied"] == 40 and int(agent.worker_updates.sum()) == 40
    assert max(stats["staleness"]) <= 2 and sum(stats["staleness"].values()) == 40
    assert agent.steps == 10 * (40 + stats["dropped"])
    assert all(np.isfinite(p.detach().numpy()).all() for p in agent.model.parameters())


# ------------------------------------------------------------------------- Ray Tune
def tiny_search(tmp_path, scheduler: str, **extra):
    from rlsuite.distributed.tune import load_search

    overrides = [f"scheduler={scheduler}", f"storage={tmp_path}", "name=t", "total_steps=256", "num_samples=4",
                 "fixed={n_steps: 16, n_envs: 2, net_arch: [16]}", "agent=a2c",
                 "space={lr: {loguniform: [1.0e-5, 1.0e-1]}}", *[f"{k}={v}" for k, v in extra.items()]]
    return load_search("ppo_cartpole", overrides)


@pytest.mark.slow  # ~40 s on the loaded 2-core machine (Tune starts a trial actor per trial)
@pytest.mark.usefixtures("ray_local")
def test_asha_stops_weak_trials_early_and_the_best_config_is_written(tmp_path):
    import yaml

    from rlsuite.distributed.tune import tune_search

    spec = tiny_search(tmp_path, "asha", iterations=4, asha="{grace_period: 1, reduction_factor: 2}")
    outcome = tune_search(spec)
    iterations = sorted(t["iterations"] for t in outcome["trials"])
    assert len(iterations) == 4 and iterations[-1] == 4 and iterations[0] < 4  # some trial was stopped
    written = yaml.safe_load(outcome["path"].read_text())
    assert set(written["hyperparameters"]) == {"lr"} and written["train"].startswith("rlsuite train agent=a2c")


@pytest.mark.slow
@pytest.mark.usefixtures("ray_local")
def test_a_pbt_trial_restarts_from_a_checkpoint(tmp_path):
    from rlsuite.distributed.tune import tune_search

    spec = tiny_search(tmp_path, "pbt", iterations=6, num_samples=2,
                       pbt="{perturbation_interval: 2, quantile_fraction: 0.5}")
    outcome = tune_search(spec)
    restored = [step for t in outcome["trials"] for step in t["restored_from_step"] if step >= 0]
    assert restored, outcome["trials"]  # an exploiting trial loaded a safetensors checkpoint
    assert all(step > 0 for step in restored)


def test_a_bad_search_is_refused_in_one_line():
    from rlsuite.distributed.tune import load_search
    from rlsuite.errors import ConfigError

    with pytest.raises(ConfigError, match="Did you mean: scheduler"):
        load_search("ppo_cartpole", ["schedular=asha"])
    with pytest.raises(ConfigError, match="agent 'ppo' has no key 'lrr'"):
        load_search("ppo_cartpole", ["space={lrr: {uniform: [0, 1]}}"])
    with pytest.raises(ConfigError, match="loguniform needs low > 0"):
        load_search("ppo_cartpole", ["space={lr: {loguniform: [0, 1]}}"])
