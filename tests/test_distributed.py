"""rlsuite.distributed on real local Ray (2 CPUs): the executor, the launcher=ray sweep, A3C's
parameter-server backend, Ray Tune (ASHA, PBT), clean shutdown and the two-node cluster path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("ray")

from rlsuite.executors import JobError, make_executor
from tests.test_executors import fail_on_three, square

pytestmark = pytest.mark.ray


def die_once(marker: str) -> int:
    """SIGKILLs its own worker the first time (the marker file does not exist yet), then returns its pid."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


# ------------------------------------------------------------------------- the executor
@pytest.mark.usefixtures("ray_local")
def test_ray_executor_yields_every_result_and_names_a_failing_job():
    with make_executor("ray", workers=1) as executor:  # two workers: the launcher=ray sweep below
        results = dict(executor.map_unordered(square, list(range(6))))
        assert results == {i: i * i for i in range(6)}
        with pytest.raises(JobError, match="job 3 failed: ValueError: three") as info:
            list(executor.map_unordered(fail_on_three, list(range(5))))
        assert info.value.index == 3


@pytest.mark.slow  # the rollout workers' kill test covers a replaced worker in the default run
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


# ------------------------------------------------------------------------- no hangs
@pytest.mark.usefixtures("ray_local")
@pytest.mark.parametrize("overrides, expected", [
    (["agent=ppo", "runtime.workers=3"], "runtime.workers=3 (one Ray actor per rollout worker) needs 3 CPUs but a "
                                       "local Ray with ray.num_cpus=2 has 2"),
    (["agent=a3c", "agent.backend=ray", "agent.n_workers=3"], "agent.n_workers=3 (A3C's Ray gradient workers) "
                                                              "needs 3 CPUs"),
    (["-m", "agent=ppo", "runtime.workers=2", "seed=0,1", "launcher=ray"],
     "a sweep job (1 CPU, plus 2 for runtime.workers=2 (one Ray actor per rollout worker)) needs 3 CPUs"),
])
def test_more_ray_actors_than_the_cluster_has_cpus_is_one_line_and_nothing_written(overrides, expected, tmp_path,
                                                                                     capsys):
    """Each actor asks for one CPU: more than the cluster has would wait forever, so it is refused first."""
    import time

    from rlsuite.cli import main

    started = time.monotonic()
    assert main(["train", *overrides, "env=CartPole-v1", f"runs_root={tmp_path / 'runs'}"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert expected in line and time.monotonic() - started < 20
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command, expected", [
    (["train", "agent=ppo", "env=CartPole-v1", "runtime.workers=1", "ray.num_cpus=0"],
     "needs 1 CPU but a local Ray with ray.num_cpus=0 has 0"),
    (["train", "agent=ppo", "env=CartPole-v1", "runtime.workers=1", "ray.address=127.0.0.1:1"],
     "cannot reach a Ray cluster at 127.0.0.1:1: connection refused"),
    (["train", "-m", "agent=a2c", "env=CartPole-v1", "seed=0,1", "launcher=ray", "ray.address=127.0.0.1:1"],
     "cannot reach a Ray cluster at 127.0.0.1:1"),
    (["tune", "search=ppo_cartpole", "ray.address=127.0.0.1:1"], "cannot reach a Ray cluster at 127.0.0.1:1"),
])
def test_no_cpus_or_no_cluster_at_the_address_ends_in_one_line_within_seconds(command, expected, tmp_path):
    """A fresh process (no Ray yet): ``ray.init`` would wait forever (0 CPUs) or retry the GCS for
    minutes (nothing listening); both are one line, exit 2, nothing written and no Ray left running."""
    import time

    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RLSUITE_RAY_RECORDS"] = str(tmp_path / "records")
    where = ["storage=" + str(tmp_path / "tune")] if command[0] == "tune" else [f"runs_root={tmp_path / 'runs'}"]
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "rlsuite.cli", *command, *where], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert out.returncode == 2, out.stderr[-2000:]
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("rlsuite: error: ") and expected in line
    assert elapsed < 30, elapsed
    assert list(tmp_path.iterdir()) == []  # no run directory, no tune storage, no Ray record


@pytest.mark.usefixtures("ray_local")
def test_the_address_probe_accepts_a_ray_gcs_and_refuses_an_open_port_that_is_not_one():
    """A GCS completes the gRPC handshake at once; a port that accepts connections but speaks no gRPC
    (here a bare listening socket) is refused after ``timeout`` seconds, not after Ray's minutes."""
    import socket
    import time

    import ray

    from rlsuite import distributed
    from rlsuite.errors import ConfigError

    distributed.probe_address(ray.get_runtime_context().gcs_address, timeout=10)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(ConfigError, match="the port is open, but no gRPC server"):
            distributed.probe_address(address, timeout=1.5)
        assert 1.0 < time.monotonic() - started < 10
    with pytest.raises(ConfigError, match="must be host:port"):
        distributed.probe_address("localhost", timeout=1)


def train_but_die_once(job: list[str]) -> dict:
    """A sweep job (seed=1 only) whose Ray worker is SIGKILLed once its run directory exists, the first
    time (the marker beside the runs root does not exist yet); otherwise the ordinary job."""
    import threading
    import time
    from pathlib import Path

    from rlsuite.distributed.sweep import train_job

    run_dir = Path(next(item.split("=", 1)[1] for item in job if item.startswith("run_dir=")))
    marker = run_dir.parent.parent / "died"
    if "seed=1" in job and not marker.exists():
        marker.touch()
        threading.Thread(target=train_job, args=([*job, "total_steps=100000"],), daemon=True).start()
        deadline = time.monotonic() + 600  # generous: a loaded machine can take minutes to start the run
        while not run_dir.is_dir() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGKILL)
    return train_job(job)


@pytest.mark.usefixtures("ray_local")
def test_a_sweep_job_whose_worker_dies_is_retried_in_a_clean_directory_and_says_so(tmp_path, capsys):
    """The killed attempt's partial directory is removed before the job runs again there: three seeds
    give three run directories (what plot and resume see) and three leaderboard rows."""
    from rlsuite.config import compose
    from rlsuite.distributed.sweep import run_sweep
    from rlsuite.eval.leaderboard import Leaderboard

    board = tmp_path / "board.db"
    jobs = [["agent=a2c", "env=CartPole-v1", f"seed={seed}", "total_steps=64", "agent.n_steps=8", "eval_episodes=2",
             "logger=[jsonl]", "log_every=8", f"runs_root={tmp_path / 'runs'}", f"leaderboard={board}"]
            for seed in (0, 1, 2)]
    results = run_sweep(jobs, compose(jobs[0]), job_fn=train_but_die_once)
    assert (tmp_path / "died").exists()  # the seed-1 job did lose its worker once
    run_dirs = sorted((tmp_path / "runs").iterdir())
    assert [d.name.split("-s")[1][0] for d in run_dirs] == ["0", "1", "2"]
    assert sorted(r["run_dir"] for r in results) == [str(d) for d in run_dirs]
    for d in run_dirs:
        assert json.loads((d / "eval.json").read_text())["train_steps"] == 64
        steps = [json.loads(line)["step"] for line in (d / "metrics.jsonl").read_text().splitlines()]
        assert max(steps) == 64  # nothing left of the killed attempt's 100k-step run
    err = capsys.readouterr().err
    assert "sweep job 2/3 lost its Ray worker (its worker process died); running it again (attempt 2), " \
           f"its abandoned run directory {tmp_path / 'runs'}" in err
    with Leaderboard(str(board)) as lb:
        assert sorted(int(r["seed"]) for r in lb.query()) == [0, 1, 2]


# ------------------------------------------------------------------------- A3C on a parameter server
@pytest.mark.usefixtures("ray_local")
def test_async_a3c_applies_exactly_the_updates_asked_with_bounded_staleness():
    from rlsuite import make_agent

    agent = make_agent("a3c", "CartPole-v1", seed=0, tuned=False, backend="ray", n_workers=2, n_envs=2, t_max=5)
    agent.learn(200)  # 200 / (5 × 2) = 20 updates
    stats = agent.async_stats
    assert agent.updates == 20 and stats["applied"] == 20 and int(agent.worker_updates.sum()) == 20
    assert max(stats["staleness"]) <= 2 and sum(stats["staleness"].values()) == 20
    assert agent.steps == 10 * (20 + stats["dropped"])
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

    # synch: both trials reach iteration 2 before PBT compares them (asynchronous PBT once let a trial
    # pass its perturbation point before the other had reported, and nothing was exploited)
    spec = tiny_search(tmp_path, "pbt", iterations=4, num_samples=2,
                       pbt="{perturbation_interval: 2, quantile_fraction: 0.5, synch: true}")
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


# ------------------------------------------------------------------------- shutdown and the cluster path
def run_driver(script: str, timeout: float = 240, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          timeout=timeout, cwd=os.path.dirname(os.path.dirname(__file__)), env=env)


def assert_all_gone(pids: list[int], timeout: float = 20.0) -> None:
    import time

    import psutil

    deadline = time.monotonic() + timeout
    alive = [p for p in pids if psutil.pid_exists(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"Ray processes left behind: {alive}"


@pytest.mark.slow  # ~10 s each; in the default run the ray_local fixture checks a normal exit
@pytest.mark.parametrize("ending", ["exception", "sigint", "sigterm"])
def test_a_driver_that_fails_or_is_interrupted_leaves_no_ray_process(ending):
    """A driver that raises, gets Ctrl-C (SIGINT) or SIGTERM stops the Ray it started, processes and all."""
    out = run_driver(f"""
        import json, os, signal, psutil, ray
        from rlsuite import distributed
        distributed.init({{"num_cpus": 1}})
        actor = ray.remote(num_cpus=1)(type("A", (), {{"pid": lambda self: os.getpid()}})).remote()
        ray.get(actor.pid.remote())
        print(json.dumps([p.pid for p in psutil.Process().children(recursive=True)]), flush=True)
        if "{ending}" == "exception":
            raise RuntimeError("the run failed")
        os.kill(os.getpid(), signal.{ending.upper()})
        import time; time.sleep(30)
    """)
    assert out.returncode != 0
    pids = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(pids) >= 3  # gcs, raylet, the actor's worker, ...
    assert_all_gone(pids)


def session_processes(sid: int) -> list[int]:
    """The live processes of session ``sid``: a driver started with ``start_new_session=True`` and every
    Ray process it started (Ray keeps its session), whoever their parent is by now."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == sid and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except (OSError, psutil.Error):
            continue
    return found


def test_only_the_recorded_processes_of_a_dead_driver_are_stopped(tmp_path, monkeypatch):
    """A record names a driver and the processes of the Ray it started. Once that driver is dead, its
    recorded processes are stopped; a process with a Ray-like title that nobody recorded, a recorded PID
    whose start time differs (a reused PID), and a live driver's processes are all left alone."""
    import psutil

    from rlsuite import distributed

    monkeypatch.setenv("RLSUITE_RAY_RECORDS", str(tmp_path / "records"))
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    dead_driver, live_driver = subprocess.Popen(sleep), subprocess.Popen(sleep)
    left_over = subprocess.Popen(sleep)  # what a SIGKILLed driver's Ray agents are: still running
    decoy = subprocess.Popen(["ray::StandInAgent", "-c", "import time; time.sleep(60)"], executable=sys.executable)
    live_ones = subprocess.Popen(sleep)
    try:
        distributed.record_instance(dead_driver.pid, [left_over.pid, decoy.pid], session_dir="/tmp/ray/session_x")
        reused = json.loads((tmp_path / "records" / f"{dead_driver.pid}.json").read_text())
        reused["processes"][1]["create_time"] -= 1000.0  # the decoy as a PID reused since the record
        (tmp_path / "records" / f"{dead_driver.pid}.json").write_text(json.dumps(reused))
        distributed.record_instance(live_driver.pid, [live_ones.pid])
        dead_driver.kill()
        dead_driver.wait()

        stopped = distributed.stop_abandoned_instances()
        assert stopped == [left_over.pid]
        left_over.wait(timeout=5)  # (already reaped by psutil: the return code is lost)
        assert not psutil.pid_exists(left_over.pid)
        for proc in (decoy, live_ones, live_driver):
            assert proc.poll() is None and psutil.pid_exists(proc.pid)
        assert [p.name for p in (tmp_path / "records").iterdir()] == [f"{live_driver.pid}.json"]
    finally:
        for proc in (dead_driver, live_driver, left_over, decoy, live_ones):
            proc.kill()
            proc.wait()


def test_a_local_start_records_its_processes_and_a_clean_shutdown_drops_the_record(tmp_path):
    out = run_driver("""
        import json, os, psutil
        from rlsuite import distributed
        distributed.init({"num_cpus": 1})
        record = json.loads(distributed._record_path(os.getpid()).read_text())
        children = {p.pid for p in psutil.Process().children(recursive=True)}
        distributed.shutdown()
        print(json.dumps({"record": record, "children": sorted(children),
                          "left": distributed._record_path(os.getpid()).exists()}))
    """, env={**os.environ, "RLSUITE_RAY_RECORDS": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    recorded = {entry["pid"] for entry in result["record"]["processes"]}
    assert len(recorded) >= 4 and recorded <= set(result["children"])  # GCS, raylet, agents, ...: its own
    assert "session_" in result["record"]["session_dir"] and not result["left"]


@pytest.mark.slow  # ~35-45 s on the loaded machine: two drivers, each starting Ray and two actors
def test_a_killed_driver_with_rollout_workers_resumes_from_its_checkpoint_and_leaves_no_ray_process(tmp_path):
    """SIGKILL a `rlsuite train` driver with 2 rollout workers after its first checkpoint; the resumed
    run continues from that checkpoint's step (the metrics written after it start past it) to the full
    budget, and neither driver leaves a Ray process: the killed one's GCS, raylet and workers die with
    it, its agents (which outlive it by a minute) are stopped by the resumed run's distributed.init."""
    import time

    from rlsuite import checkpoint

    run_dir, ckpt = tmp_path / "run", tmp_path / "run" / "checkpoints" / "latest.safetensors"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local Ray of its own

    def driver(*overrides: str, log: str) -> subprocess.Popen:
        with open(tmp_path / log, "w") as out:
            return subprocess.Popen([sys.executable, "-m", "rlsuite.cli", "train", *overrides], cwd=tmp_path,
                                    env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    # 64 steps per iteration, a checkpoint every 4 iterations; the alias of runtime.workers on purpose
    first = driver("agent=ppo", "env=CartPole-v1", "distributed.rollout_workers=2", "agent.n_envs=2",
                   "agent.n_steps=32", "agent.batch_size=64", "agent.n_epochs=2", "total_steps=2048",
                   "checkpoint_every=256", "log_every=64", "ray.num_cpus=2", "logger=[jsonl]", "eval_episodes=2",
                   "submit=false", f"run_dir={run_dir}", log="first.log")
    deadline = time.monotonic() + 120
    while not ckpt.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    started_by_first = session_processes(first.pid)
    first.kill()  # SIGKILL: no atexit, no ray.shutdown
    assert first.wait() == -signal.SIGKILL, (tmp_path / "first.log").read_text()[-2000:]
    assert len(started_by_first) >= 5, started_by_first  # the driver, GCS, raylet, 2 workers, agents
    state = checkpoint.load_state(ckpt)
    resumed_from, offset = state["counters"]["steps"], state["run"]["jsonl_offset"]
    assert 256 <= resumed_from < 2048

    second = driver(f"resume={run_dir}", log="second.log")
    assert second.wait(timeout=240) == 0, (tmp_path / "second.log").read_text()[-3000:]
    assert json.loads((run_dir / "eval.json").read_text())["train_steps"] == 2048
    final = checkpoint.load_state(ckpt)["counters"]
    assert final["steps"] == 2048 and final["updates"] == 2048 // 64  # updates counted on, not from 0
    resumed_lines = (run_dir / "metrics.jsonl").read_bytes()[offset:].decode().splitlines()
    resumed_steps = [json.loads(line)["step"] for line in resumed_lines]
    assert resumed_steps and min(resumed_steps) > resumed_from and max(resumed_steps) == 2048

    leftover: list[int] = []
    for _ in range(50):  # up to 10 s for processes still exiting
        leftover = session_processes(first.pid) + session_processes(second.pid)
        if not leftover:
            break
        time.sleep(0.2)
    assert not leftover, f"Ray processes left behind: {leftover}"


@pytest.mark.slow  # ~40 s: a second Ray (two nodes) in a subprocess
def test_two_simulated_nodes_run_the_executor_and_rollout_workers_through_an_address():
    """ray.cluster_utils.Cluster: two nodes of 1 CPU each; the driver attaches with an address only."""
    out = run_driver("""
        import json, psutil, ray
        from ray.cluster_utils import Cluster
        from rlsuite import distributed, make_agent
        from rlsuite.errors import ConfigError
        from rlsuite.executors import make_executor
        from tests.test_distributed import node_of
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        cluster.add_node(num_cpus=1)
        try:
            distributed.init({"address": cluster.address, "num_cpus": 2})
        except ConfigError as err:
            refused = str(err)
        distributed.init({"address": cluster.address})
        with make_executor("ray", workers=2) as executor:
            nodes = sorted(set(dict(executor.map_unordered(node_of, [0, 1])).values()))
        agent = make_agent("a2c", "CartPole-v1", seed=0, tuned=False, runtime={"workers": 2}, n_envs=2, n_steps=8)
        agent.learn(32)
        pids = [p.pid for p in psutil.Process().children(recursive=True)]
        distributed.shutdown()
        cluster.shutdown()
        print(json.dumps({"nodes": nodes, "steps": agent.steps, "refused": refused, "pids": pids}))
    """)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(result["nodes"]) == 2  # one job on each node
    assert result["steps"] == 32
    assert "has its own resources" in result["refused"]
    assert_all_gone(result["pids"])


def node_of(_: int) -> str:
    import time

    import ray

    time.sleep(1.0)  # both jobs in flight together, so each actor holds its node's one CPU
    return ray.get_runtime_context().get_node_id()


@pytest.mark.slow
@pytest.mark.parametrize("seeds", [(0, 1, 2)])
@pytest.mark.usefixtures("ray_local")
def test_async_a3c_on_a_parameter_server_solves_cartpole(seeds):
    """The Hogwild test's recipe (tests/test_a3c.py) on the Ray backend: 2 gradient workers, 150k steps."""
    import rlsuite
    from tests.learning import assert_quorum
    from tests.test_a3c import CARTPOLE

    def score(seed):
        agent = rlsuite.make_agent("a3c", env="CartPole-v1", tuned=False, seed=seed, n_workers=2, backend="ray",
                                   **{**CARTPOLE, "ent_coef": 0.01})
        agent.learn(150_000)
        assert max(agent.async_stats["staleness"]) <= 2
        return rlsuite.evaluate(agent, episodes=10, seed=1000).mean

    assert_quorum("a3c_ray_cartpole", score, seeds, threshold=475, need=2)


def test_the_parameter_server_applies_fresh_gradients_and_refuses_stale_ones():
    """ParameterServer as a plain object (no Ray): one Adam step per accepted gradient, the
    version counts them, and a gradient older than max_staleness leaves θ untouched."""
    import gymnasium as gym
    import torch
    from rlsuite.agents.a3c import A3CConfig, build_policy
    from rlsuite.agents.a3c.ray_backend import ParameterServer

    from rlsuite.config import NetConfig

    spaces = (gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2))
    cfg = A3CConfig(optimizer="adam", lr=0.1, net=NetConfig(widths=[4]))
    torch.manual_seed(0)
    server = ParameterServer(spaces, cfg, build_policy(*spaces, cfg).state_dict(), None)
    before = server.weights()
    ones = [np.ones_like(w) for w in before]
    assert server.apply(ones, computed_with=0, lr=0.1, max_staleness=1) == (True, 0)
    after_one = server.weights()
    for b, a in zip(before, after_one):  # Adam's first step moves every weight by lr against the gradient sign
        np.testing.assert_allclose(a, b - 0.1, atol=1e-5)
    assert server.apply(ones, computed_with=0, lr=0.1, max_staleness=1) == (True, 1)
    after_two = server.weights()
    assert server.apply(ones, computed_with=0, lr=0.1, max_staleness=1) == (False, 2)  # too stale: dropped
    assert server.version == 2
    for kept, w in zip(after_two, server.weights()):
        np.testing.assert_array_equal(kept, w)


def test_rlsuite_tune_refuses_a_missing_or_unknown_search_in_one_line(capsys):
    from rlsuite.cli import main

    assert main(["tune", "num_samples=2"]) != 0
    assert "takes one search=" in capsys.readouterr().err
    assert main(["tune", "search=ppo_cartpol"]) != 0
    assert "Did you mean: ppo_cartpole" in capsys.readouterr().err
