"""Rollout workers on real local Ray (rlsuite.distributed.rollout): the same batches as the local
vector env at fixed seeds, weights versions, a killed worker replaced, observation statistics merged."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch

pytest.importorskip("ray")

from rlsuite import make_agent
from rlsuite.distributed.rollout import merge_running_stats
from rlsuite.onpolicy import RunningMeanStd, collect_rollout

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_local")]

SMALL = {"n_steps": 16, "n_envs": 4, "net": {"widths": [16]}}


def local_batches(name: str, iterations: int, **hparams) -> list[np.ndarray]:
    agent = make_agent(name, "CartPole-v1", seed=3, tuned=False, **SMALL, **hparams)
    agent.budget_start, agent.budget_end = 0, 10**9
    agent.start_segment()
    out = []
    for _ in range(iterations):
        collect_rollout(agent)
        out.append(np.concatenate([agent.buffer.obs.ravel(), agent.buffer.actions.ravel(),
                                   agent.buffer.advantages.ravel()]))
        agent.update()
        agent.updates += 1
    return out


class BatchSpy:
    """Hooks that record the gathered buffer after every iteration (and can run a callback)."""

    def __init__(self, on_iteration=None):
        self.batches: list[np.ndarray] = []
        self.on_iteration = on_iteration

    def resume_point_due(self, prev: int, now: int) -> bool:
        return False

    def after_step(self, agent, prev: int) -> None:
        b = agent.buffer
        self.batches.append(np.concatenate([b.obs.ravel(), b.actions.ravel(), b.advantages.ravel()]))
        if self.on_iteration is not None:
            self.on_iteration(agent)


@pytest.mark.parametrize("name", ["a2c", pytest.param("ppo", marks=pytest.mark.slow)])
def test_one_rollout_worker_collects_the_local_vector_envs_batches(name):
    """runtime.workers=1 at a fixed seed: every batch (observations, actions, advantages) and the final weights
    equal the local path's, bit for bit (A2C: no shuffling; PPO: one minibatch of everything)."""
    extra = {"batch_size": 64, "n_epochs": 2} if name == "ppo" else {}
    expected = local_batches(name, 3, **extra)
    agent = make_agent(name, "CartPole-v1", seed=3, tuned=False, runtime={"workers": 1}, **SMALL, **extra)
    spy = BatchSpy()
    agent.hooks = spy
    agent.learn(3 * 16 * 4)
    assert agent.steps == 3 * 16 * 4 and agent.updates == 3
    assert len(spy.batches) == 3
    for got, want in zip(spy.batches, expected):
        np.testing.assert_array_equal(got, want)


def test_two_workers_split_the_envs_tag_batches_with_versions_and_a_killed_worker_is_replaced():
    """Worker 0 steps env columns 0-1 with the agent's seed: its half of the first batch equals what a
    local agent with those two envs collects; one weights version per iteration, checked on every batch.
    Worker 1, SIGKILLed after the second update, is replaced and training finishes its budget."""
    import ray

    agent = make_agent("a2c", "CartPole-v1", seed=3, tuned=False, runtime={"workers": 2}, **SMALL)
    versions, first = [], {}

    def on_iteration(a):
        versions.append(a.rollout_workers.version)
        first.setdefault("obs", a.buffer.obs.copy())
        first.setdefault("actions", a.buffer.actions.copy())
        if a.updates == 2:
            os.kill(ray.get(a.rollout_workers.actors[1].pid.remote()), signal.SIGKILL)

    agent.hooks = BatchSpy(on_iteration=on_iteration)
    agent.learn(4 * 16 * 4)
    assert versions == [1, 2, 3, 4]
    assert agent.steps == 4 * 16 * 4 and agent.updates == 4 and agent.rollout_workers.replaced == 1
    assert all(torch.isfinite(p).all() for p in agent.policy.parameters())
    local = make_agent("a2c", "CartPole-v1", seed=3, tuned=False, **{**SMALL, "n_envs": 2})
    local.budget_start, local.budget_end = 0, 10**9
    local.start_segment()
    collect_rollout(local)
    np.testing.assert_array_equal(first["obs"][:, :2], local.buffer.obs)
    np.testing.assert_array_equal(first["actions"][:, :2], local.buffer.actions)
    assert not np.array_equal(first["obs"][:, 2:], first["obs"][:, :2])  # worker 1: other envs


@pytest.mark.slow
def test_reinforce_batches_of_different_lengths_are_gathered():
    agent = make_agent("reinforce", "CartPole-v1", seed=0, tuned=False, runtime={"workers": 2}, n_envs=2, n_steps=200,
                       batch_episodes=1, net={"widths": [16]})
    agent.learn(200)
    assert agent.steps >= 200 and agent.updates >= 1 and agent.episodes >= 2


def test_merged_observation_statistics_equal_one_pass_over_all_observations():
    rng = np.random.default_rng(0)
    prior_data, a, b = rng.normal(size=(7, 3)), rng.normal(1, 2, size=(5, 3)), rng.normal(-1, 1, size=(9, 3))
    prior = RunningMeanStd((3,))
    prior.update(prior_data)
    workers = []
    for data in (a, b):
        w = RunningMeanStd((3,))
        w.load_state_dict(prior.state_dict())
        w.update(data)
        workers.append(w.state_dict())
    merged = merge_running_stats(prior.state_dict(), workers)
    one_pass = RunningMeanStd((3,))
    for data in (prior_data, a, b):
        one_pass.update(data)
    np.testing.assert_allclose(merged["mean"], one_pass.mean, rtol=1e-12)
    np.testing.assert_allclose(merged["var"], one_pass.var, rtol=1e-10)
    assert merged["count"] == pytest.approx(one_pass.count)
    alone = merge_running_stats(prior.state_dict(), workers[:1])  # one worker: its state, exactly
    assert np.array_equal(alone["mean"], workers[0]["mean"]) and np.array_equal(alone["var"], workers[0]["var"])


def test_workers_beyond_n_envs_are_refused_in_one_line():
    from rlsuite.errors import ConfigError

    with pytest.raises(ConfigError, match="exceeds agent.n_envs"):
        make_agent("ppo", "CartPole-v1", tuned=False, runtime={"workers": 3}, n_envs=2)
