"""A3C: the n-step targets and loss on hand-computed inputs, Hogwild sharing between real processes,
crash and Ctrl-C shutdown without orphans, checkpoints/resume, and CartPole solved by 2 workers."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from rlsuite.agents.a3c import (
    A3C,
    SharedParameters,
    WorkerError,
    n_step_targets,
    share_optimizer_state,
)
from torch import nn

import rlsuite
from tests.learning import assert_quorum, seed_sets

# The tuned CartPole settings (configs/env/CartPole-v1.yaml, hparams.a3c).
CARTPOLE = dict(optimizer="adam", lr=2e-3, n_envs=8, t_max=5, ent_coef=0.0)


def live_children(pid: int) -> set[int]:
    """Pids of the non-zombie child processes of ``pid`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# ---------------------------------------------------------------------------- the mathematics
def test_n_step_targets_hand_computed():
    # One env, γ = 0.5: a termination after step 1, a time-limit truncation after step 2 (V(final) = 8),
    # and V(s_4) = 10 bootstraps the end of the segment.
    rewards = np.array([[1.0], [1.0], [1.0], [1.0]], np.float32)
    values = np.array([[0.5], [0.25], [1.0], [2.0]], np.float32)
    terminated = np.array([[False], [True], [False], [False]])
    truncated = np.array([[False], [False], [True], [False]])
    final_values = np.array([[0.0], [99.0], [8.0], [0.0]], np.float32)  # 99: after a termination, unused
    adv, ret = n_step_targets(rewards, values, np.array([10.0], np.float32), terminated, truncated,
                              final_values, gamma=0.5)
    expected_returns = np.array([1 + 0.5 * 1, 1, 1 + 0.5 * 8, 1 + 0.5 * 10])
    np.testing.assert_allclose(ret[:, 0], expected_returns, rtol=1e-6)
    np.testing.assert_allclose(adv[:, 0], expected_returns - values[:, 0], rtol=1e-6)


def test_n_step_targets_match_brute_force_over_envs():
    rng = np.random.default_rng(0)
    T, N, gamma = 6, 3, 0.9
    rewards = rng.normal(size=(T, N)).astype(np.float32)
    values = rng.normal(size=(T, N)).astype(np.float32)
    final_values = rng.normal(size=(T, N)).astype(np.float32)
    last = rng.normal(size=N).astype(np.float32)
    terminated = rng.random((T, N)) < 0.2
    truncated = (rng.random((T, N)) < 0.2) & ~terminated
    _, ret = n_step_targets(rewards, values, last, terminated, truncated, final_values, gamma)
    for n in range(N):
        R = last[n]
        for t in reversed(range(T)):
            if terminated[t, n]:
                R = 0.0
            elif truncated[t, n]:
                R = final_values[t, n]
            R = rewards[t, n] + gamma * R
            assert ret[t, n] == pytest.approx(R, rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("name", ["adam", "rmsprop"])
def test_share_optimizer_state_creates_zeroed_shared_statistics(name):
    model = nn.Linear(3, 2)
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.Adam(model.parameters()) if name == "adam" else torch.optim.RMSprop(model.parameters())
    share_optimizer_state(opt)
    for p, b in zip(model.parameters(), before):
        torch.testing.assert_close(p.detach(), b)  # no weight moved
        assert p.grad is None
        state = opt.state[p]
        assert float(state["step"]) == 0.0
        assert all(t.is_shared() for t in state.values())


# ---------------------------------------------------------------------------- Hogwild between processes
class TwoScalars(nn.Module):
    """Parameter ``own[i]`` is pushed by worker i only, ``both`` by both workers."""

    def __init__(self):
        super().__init__()
        self.own = nn.ParameterList([nn.Parameter(torch.zeros(())), nn.Parameter(torch.zeros(()))])
        self.both = nn.Parameter(torch.zeros(()))


def _hogwild_worker(i: int, params: SharedParameters, barrier, seen: torch.Tensor, n_updates: int) -> None:
    local = TwoScalars()
    tensors = list(local.parameters())
    barrier.wait()
    for k in range(n_updates):
        params.pull(tensors)
        seen[i, k] = float(local.own[1 - i])  # the other worker's parameter, as this one sees it
        for p in tensors:
            p.grad = None
        (-(local.own[i] + local.both)).backward()  # gradient −1 on own[i] and both, none on own[1-i]
        params.push(tensors)
        time.sleep(0.0005)


def test_workers_update_shared_parameters_concurrently():
    """Two processes push to one shared model: each sees the other's updates while it runs, the
    shared parameters add up both workers' contributions, and the optimizer statistics the main
    process holds are the ones both workers stepped."""
    ctx = mp.get_context("fork")
    model = TwoScalars()
    lr, n_updates = 0.01, 200
    params = SharedParameters(model, torch.optim.Adam(model.parameters(), lr=lr))
    params.share_memory()
    seen = torch.full((2, n_updates), -1.0).share_memory_()
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_hogwild_worker, args=(i, params, barrier, seen, n_updates)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    # Adam on a constant gradient −1 moves a parameter by +lr per step (bias-corrected moments).
    for i in range(2):
        assert model.own[i].item() == pytest.approx(lr * n_updates, rel=1e-3)
        assert float(params.optimizer.state[model.own[i]]["step"]) == n_updates
        # Worker i saw worker 1-i's parameter grow while it was itself updating: concurrent sharing.
        trace = seen[i].numpy()
        assert len(np.unique(trace)) > 10
        assert np.all(np.diff(trace) >= 0) and trace[0] < trace[-1]
    # `both` got steps from both processes through one shared step counter and moment estimate
    # (a Hogwild race can lose an increment now and then, never a whole worker's share).
    shared_steps = float(params.optimizer.state[model.both]["step"])
    assert 1.5 * n_updates < shared_steps <= 2 * n_updates
    # A race can also pair a moment with a stale step count, whose bias correction then overshoots a
    # little (seen: +0.1 % under heavy load), so the upper bound has room.
    assert lr * 1.5 * n_updates < model.both.item() <= lr * 2 * n_updates * 1.02


# ---------------------------------------------------------------------------- shutdown
class CrashingEnv(gym.Wrapper):
    """CartPole that fails after a few steps in the env whose ticket is 1 (one worker's env)."""

    def __init__(self, ticket, how: str):
        super().__init__(gym.make("CartPole-v1"))
        with ticket.get_lock():
            self.number = ticket.value
            ticket.value += 1
        self.how, self.count = how, 0

    def step(self, action):
        self.count += 1
        if self.number == 1 and self.count > 300:
            if self.how == "raise":
                raise RuntimeError("boom in the env")
            os._exit(3)
        return super().step(action)


@pytest.mark.parametrize("how", ["raise", "exit"])
def test_worker_crash_raises_named_error_and_leaves_no_orphans(how):
    ticket = mp.get_context("fork").Value("i", 0)
    agent = rlsuite.make_agent("a3c", env=lambda: CrashingEnv(ticket, how), seed=0, n_workers=2)
    ticket.value = 1  # the agent's probe env took ticket 0; the first worker env now takes 1
    before = live_children(os.getpid())
    t0 = time.monotonic()
    with pytest.raises(WorkerError) as info:
        agent.learn(10**8)
    message = str(info.value)
    assert "A3C worker" in message
    if how == "raise":
        assert "RuntimeError: boom in the env" in message and "Traceback" in message
    else:
        assert "exit code 3" in message
    assert time.monotonic() - t0 < 30
    assert live_children(os.getpid()) <= before  # the healthy worker was stopped and reaped too
    assert agent.steps > 0


def _train_forever(interrupted) -> None:
    """The main process of a training run, forked from the test process (no re-import)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # what a Python program has
    agent = rlsuite.make_agent("a3c", env="CartPole-v1", tuned=False, seed=0, n_workers=2)
    try:
        agent.learn(10**9)
    except KeyboardInterrupt:
        interrupted.value = 1
        raise


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "main-killed"])
def test_interrupting_the_main_process_leaves_no_workers(sig):
    """Ctrl-C: the main process terminates and joins its workers, then raises KeyboardInterrupt.
    SIGKILL of the main process (no chance to clean up): the workers notice and exit on their own."""
    ctx = mp.get_context("fork")
    interrupted = ctx.Value("i", 0)
    main = ctx.Process(target=_train_forever, args=(interrupted,))
    main.start()
    try:
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while len(workers) < 2 and time.monotonic() < deadline and main.is_alive():
            time.sleep(0.05)
            workers = live_children(main.pid)
        assert len(workers) == 2, "the workers did not start"
        time.sleep(0.3)  # let them train
        assert all(alive(pid) for pid in workers)
        os.kill(main.pid, sig)
        main.join(30)
        assert main.exitcode is not None, "the main process did not stop"
        if sig == signal.SIGINT:
            assert interrupted.value == 1  # KeyboardInterrupt reached the caller of learn()
        deadline = time.monotonic() + 15
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(pid) for pid in workers), "orphan worker processes remain"
    finally:
        if main.is_alive():
            main.kill()
            main.join()


@pytest.mark.parametrize("bad", [{"optimizer": "sgd"}, {"start_method": "threads"}, {"n_workers": 0}])
def test_bad_config_is_a_clear_error(bad):
    with pytest.raises(rlsuite.ConfigError, match=next(iter(bad))):
        rlsuite.make_agent("a3c", env="CartPole-v1", **bad)


@pytest.mark.parametrize("env", ["Pendulum-v1", "FrozenLake-v1"])
def test_box_actions_and_discrete_observations(env):
    agent = rlsuite.make_agent("a3c", env=env, tuned=False, seed=0, n_envs=2, t_max=5)
    agent.learn(200)
    assert agent.steps == 200 and 20 <= agent.updates <= 21  # 21: both workers end with a partial rollout
    obs = agent.observation_space.sample()
    single, batch = agent.act(obs), agent.act(np.stack([obs, obs]))
    assert agent.action_space.contains(np.asarray(single, dtype=agent.action_space.dtype))
    assert batch.shape == (2, *agent.action_space.shape)


# ---------------------------------------------------------------------------- checkpoints and runs
def test_save_load_keeps_shared_state_and_training_continues(tmp_path):
    agent = rlsuite.make_agent("a3c", env="CartPole-v1", tuned=False, seed=0, **CARTPOLE)
    agent.learn(4000)
    assert agent.steps == 4000 and agent.updates == agent.worker_updates.sum() > 0
    path = agent.save(tmp_path / "a3c", include_training_state=True)
    loaded = rlsuite.load(path)
    assert isinstance(loaded, A3C) and loaded.steps == 4000 and loaded.updates == agent.updates
    for p, q in zip(agent.model.parameters(), loaded.model.parameters()):
        torch.testing.assert_close(p, q)
        torch.testing.assert_close(agent.optimizer.state[p]["exp_avg_sq"], loaded.optimizer.state[q]["exp_avg_sq"])
    first = next(loaded.model.parameters())
    before = first.detach().clone()
    step_before = float(loaded.optimizer.state[first]["step"])
    loaded.learn(2000)  # the loaded optimizer state is moved to shared memory and stepped by the workers
    assert loaded.steps == 6000
    assert not torch.equal(first.detach(), before)
    assert float(loaded.optimizer.state[first]["step"]) > step_before
    obs = np.zeros((3, 4), np.float32)
    assert loaded.act(obs).shape == (3,) and loaded.act(obs[0]) in (0, 1)


def test_train_run_logs_worker_episodes_checkpoints_and_resumes(tmp_path):
    run_dir = tmp_path / "run"
    common = ["logger=[jsonl]", "submit=false", "eval_episodes=2"]
    # env=CartPole-v1 brings the tuned hparams.a3c of configs/env/CartPole-v1.yaml
    run = rlsuite.train(["agent=a3c", "env=CartPole-v1", "total_steps=6000", "checkpoint_every=3000",
                         "log_every=1000", f"run_dir={run_dir}", *common])
    assert run.agent.steps == 6000 and run.agent.config.n_envs == 8
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert any("train/episode_return" in line for line in lines)
    assert any("loss/policy" in line for line in lines)
    resumed = rlsuite.train([f"resume={run_dir}", "total_steps=9000", *common])
    assert resumed.agent.steps == 9000 and resumed.agent.updates > run.agent.updates


# ---------------------------------------------------------------------------- learning
@pytest.mark.parametrize("seeds", seed_sets())
def test_a3c_two_workers_solve_cartpole(seeds):
    # The paper's entropy bonus and 150k steps: in repeated runs under pytest, the config's ent_coef=0
    # at 120k occasionally collapsed to a ~120-return policy. Hogwild runs are not reproducible (the
    # interleaving of the workers' updates is the OS scheduler's), so a seed cannot pin the outcome:
    # any one of three independent runs must solve, which makes a spurious failure ~1 in 2000 if
    # single runs solve 11 of 12 times (measured before; docs/tests.md has the seeds run since).
    hparams = {**CARTPOLE, "ent_coef": 0.01}
    agents = []

    def score(seed):
        agents.append(rlsuite.make_agent("a3c", env="CartPole-v1", tuned=False, seed=seed, n_workers=2, **hparams))
        agents[-1].learn(150_000)
        return rlsuite.evaluate(agents[-1], episodes=10, seed=1000).mean

    assert_quorum("a3c_cartpole", score, seeds, threshold=475, need=1)
    agent = agents[-1]
    # Both workers contributed updates, and the main process's optimizer statistics count them all.
    assert agent.worker_updates.min() > 0.3 * agent.updates
    step = float(agent.optimizer.state[next(agent.model.parameters())]["step"])
    assert 0.95 * agent.updates <= step <= agent.updates
    assert agent.episodes > 50


@pytest.mark.gpu
def test_device_cuda_keeps_hogwild_parameters_on_cpu():
    agent = rlsuite.make_agent("a3c", env="CartPole-v1", tuned=False, seed=0, device="cuda")
    assert next(agent.model.parameters()).device.type == "cpu"
    agent.learn(1000)
    assert agent.act(np.zeros(4, np.float32)) in (0, 1)
