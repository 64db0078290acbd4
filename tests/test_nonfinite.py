"""The non-finite guard: NaN/±inf from the env or in an update stops training with a typed error
that names the step, the source and the env index, and leaves the last checkpoint intact."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlsuite
from rlsuite import checkpoint
from rlsuite.cli import main
from rlsuite.errors import NonFiniteError, RLSuiteError
from rlsuite.nonfinite import NonFiniteWatch, check_env_step


class GoesNonFinite(gym.Wrapper):
    """CartPole that returns ``value`` as its reward (``what="reward"``) or in every observation
    entry (``what="obs"``) from its ``at``-th step on (counted over the instance's life)."""

    def __init__(self, env: gym.Env, at: int, what: str = "reward", value: float = math.nan):
        super().__init__(env)
        self.at, self.what, self.value, self.t = at, what, value, 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        if self.t >= self.at:
            if self.what == "reward":
                reward = self.value
            else:
                obs = np.full_like(obs, self.value)
        return obs, reward, terminated, truncated, info


def make_nonfinite_cartpole(at: int = 10**9, what: str = "reward", value: float = math.nan,
                            render_mode: str | None = None, env_id: str = "CartPole-v1") -> gym.Env:
    return GoesNonFinite(gym.make(env_id, render_mode=render_mode), at, what, value)


gym.register("rlsuite_test/NonFiniteCartPole-v0", entry_point=make_nonfinite_cartpole)


class Factory:
    """Zero-argument env factory: after :meth:`arm`, the ``bad``-th env created (0-based; the
    vector env creates its envs in index order) goes non-finite at step ``at``; the rest stay clean."""

    def __init__(self, at: int, what: str, value: float = math.nan, bad: int = 0, env_id: str = "CartPole-v1"):
        self.at, self.what, self.value, self.bad, self.env_id = at, what, value, bad, env_id
        self.created: int | None = None

    def arm(self) -> None:
        self.created = 0

    def __call__(self) -> gym.Env:
        if self.created is None:  # the agent's probe env, made before arming
            return gym.make(self.env_id)
        index, self.created = self.created, self.created + 1
        return make_nonfinite_cartpole(self.at if index == self.bad else 10**9, self.what, self.value,
                                       env_id=self.env_id)


SMALL = {
    "dqn": dict(learning_starts=40, train_freq=4, batch_size=16, buffer_size=2000, net={"widths": [16]}),
    "ppo": dict(n_steps=64, batch_size=64, n_epochs=2, net={"widths": [16]}),
    "a2c": dict(n_steps=16, net={"widths": [16]}),
    "reinforce": dict(batch_episodes=1, net={"widths": [16]}),
    "trpo": dict(n_steps=64, critic_batch_size=64, net={"widths": [16]}),
    "ddpg": dict(learning_starts=50, batch_size=16, buffer_size=2000, net={"widths": [16]}),
    "a3c": dict(n_workers=2, n_envs=1, t_max=5),
}


def train_until_error(name: str, factory: Factory, steps: int = 600, **hparams) -> NonFiniteError:
    agent = rlsuite.make_agent(name, env=factory, seed=0, device="cpu", **{**SMALL[name], **hparams})
    factory.arm()
    with pytest.raises(NonFiniteError) as info:
        agent.learn(steps)
    return info.value


# ----------------------------------------------------------------------------- the checks themselves
def test_check_env_step_names_source_env_index_and_value():
    obs = np.zeros((3, 4), np.float32)
    rewards = np.zeros(3, np.float32)
    check_env_step(obs, rewards, step=30)  # all finite: nothing happens
    rewards[2] = np.nan
    with pytest.raises(NonFiniteError) as info:
        check_env_step(obs, rewards, step=30)
    err = info.value
    assert (err.step, err.source, err.env_index) == (30, "env reward", 2)
    assert "nan at step 30 (env index 2)" in str(err) and isinstance(err, RLSuiteError)
    rewards[2] = 0.0
    obs[1, 3] = -np.inf
    with pytest.raises(NonFiniteError) as info:
        check_env_step(obs, rewards, step=31, what="reset observation")
    assert (info.value.source, info.value.env_index) == ("env reset observation", 1)
    assert "-inf" in str(info.value)
    check_env_step(np.full((2, 3), 255, np.uint8), None, step=1)  # integer observations are always finite


def test_watch_reports_the_first_non_finite_value_in_update_order_then_forgets():
    watch = NonFiniteWatch()
    watch.add("loss/a", torch.tensor(1.0))
    watch.add("grad norm", torch.tensor(2.0))
    watch.check(step=5)  # finite
    watch.add("loss/a", torch.tensor(1.0))
    watch.add("loss/b", torch.tensor(math.inf, requires_grad=True) * 2)
    watch.add("grad norm", torch.tensor(math.nan))
    with pytest.raises(NonFiniteError) as info:
        watch.check(step=7, updates=3)
    assert info.value.source == "loss/b" and info.value.env_index is None
    assert "loss/b is inf at step 7, update 3" in str(info.value)
    watch.check(step=8)  # the bad values were dropped with the error
    off = NonFiniteWatch(enabled=False)
    off.add("loss/a", torch.tensor(math.nan))
    off.check(step=9)


# ----------------------------------------------------------------------------- through the agents
@pytest.mark.parametrize("name", ["dqn", "ppo"])
def test_nan_reward_stops_training_naming_step_and_env(name):
    # two envs in lockstep; env 1 returns a NaN reward at its 150th step = agent step 300
    err = train_until_error(name, Factory(at=150, what="reward", bad=1), n_envs=2)
    assert (err.step, err.source, err.env_index) == (300, "env reward", 1)


@pytest.mark.parametrize("name, value", [("dqn", math.nan), ("ppo", math.nan), ("dqn", math.inf),
                                         ("ppo", -math.inf)])
def test_non_finite_observation_stops_training(name, value):
    err = train_until_error(name, Factory(at=120, what="obs", value=value), n_envs=1)
    assert err.source in ("env observation", "env final observation") and err.env_index == 0
    # DQN checks the true final observation of an episode too; PPO only what it uses (a terminal
    # observation is never bootstrapped from), so it may see the next step's observation
    assert err.step == 120 if name == "dqn" else err.step in (120, 121)


def test_loss_driven_to_inf_is_caught_in_the_update():
    # a reward of 1e30 is a finite float32, but its square in the MSE loss is not
    err = train_until_error("dqn", Factory(at=60, what="reward", value=1e30), loss="mse")
    assert err.source in ("loss/q", "grad norm") and err.env_index is None and err.step >= 60
    err = train_until_error("ppo", Factory(at=30, what="reward", value=1e30))
    assert err.source == "loss/value" and err.step == 64  # the first update, after a 64-step rollout


@pytest.mark.parametrize("name", ["a2c", "reinforce", "trpo", "ddpg"])
def test_every_gradient_agent_checks_its_update(name):
    env_id = "Pendulum-v1" if name == "ddpg" else "CartPole-v1"
    err = train_until_error(name, Factory(at=60, what="reward", value=1e30, env_id=env_id), steps=2000)
    assert err.env_index is None and err.step >= 60
    assert err.source.startswith(("loss/", "grad norm", "Fisher")), err.source


def test_a3c_worker_hands_the_typed_error_to_the_main_process():
    # every worker process makes its own env 0 from the (forked) factory: all go NaN at their step 30
    err = train_until_error("a3c", Factory(at=30, what="reward"), steps=5000)
    assert err.source == "env reward" and err.env_index == 0 and "in A3C worker" in str(err)


def test_guard_off_trains_through_nan_rewards():
    factory = Factory(at=100, what="reward")
    agent = rlsuite.make_agent("dqn", env=factory, seed=0, device="cpu", check_finite=False, **SMALL["dqn"])
    factory.arm()
    agent.learn(300)
    assert agent.steps == 300
    assert not all(torch.isfinite(p).all() for p in agent.q_net.parameters())  # what the guard prevents


# ----------------------------------------------------------------------------- through the CLI
def test_cli_reports_one_line_and_keeps_the_last_checkpoint(tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["train", "agent=dqn", "env=rlsuite_test/NonFiniteCartPole-v0", "env.kwargs.at=700", "total_steps=1500",
            "checkpoint_every=500", "agent.learning_starts=100", "agent.net.widths=[16]", "logger=[jsonl]",
            "submit=false", f"run_dir={run_dir}", "device=cpu"]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "env reward is nan at step 700 (env index 0)" in err
    ckpt = run_dir / "checkpoints" / "latest.safetensors"
    assert f"Run directory: {run_dir} (last good checkpoint: {ckpt})" in err
    # the checkpoint from step 500 is intact: it loads, and its weights are finite
    state = checkpoint.load_state(ckpt)
    assert state["counters"]["steps"] == 500
    agent = rlsuite.load(ckpt, device="cpu")
    assert all(torch.isfinite(p).all() for p in agent.q_net.parameters())
    # metrics.jsonl holds only finite numbers (strict JSON: no NaN tokens)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert lines and all(json.loads(line, parse_constant=lambda c: pytest.fail(c)) for line in lines)
    ckpt_bytes = ckpt.read_bytes()
    # resuming accepts the checkpoint; the env goes NaN again 700 steps later, which a fresh
    # checkpoint at step 1000 survives, untouched by the failure at step 1200
    assert main(["train", f"resume={run_dir}"]) == 1
    assert "at step 1200 (env index 0)" in capsys.readouterr().err
    assert checkpoint.load_state(ckpt)["counters"]["steps"] == 1000 and ckpt.read_bytes() != ckpt_bytes
    # and with the guard off the run trains on to the end
    assert main(["train", f"resume={run_dir}", "check_finite=false"]) == 0
    assert checkpoint.load_state(ckpt)["counters"]["steps"] == 1500
