"""rlsuite.update and Agent.finish_update: the typed update statistics, checked by the base class's
non-finite guard and logged every ``log_interval`` updates, for every agent alike."""

from __future__ import annotations

import math

import pytest
import torch

import rlsuite
from rlsuite.errors import NonFiniteError
from rlsuite.loggers import Logger
from rlsuite.update import UpdateStats


class Records(Logger):
    """A logger that keeps what it is given."""

    def __init__(self) -> None:
        self.records: list[dict[str, float]] = []

    def record(self, metrics: dict[str, float]) -> None:
        self.records.append(metrics)


def test_stats_keep_order_average_repeated_names_and_skip_none():
    stats = UpdateStats({"loss/a": torch.tensor(1.0), "grad norm": None, "train/lr": 0.5})
    stats.add({"loss/a": torch.tensor(3.0), "grad norm": torch.tensor(2.0)})
    assert [name for name, _ in stats] == ["loss/a", "train/lr", "loss/a", "grad norm"]
    assert float(stats["loss/a"]) == 2.0
    assert set(stats.metrics()) == {"loss/a", "train/lr"}  # a name without a group is checked, not logged


def test_finish_update_logs_the_mean_every_log_interval_updates():
    agent = rlsuite.make_agent("a2c", env="CartPole-v1", seed=0, device="cpu", n_envs=2, n_steps=4, log_interval=3)
    agent.logger = logger = Records()
    for update in range(6):
        agent.updates = update
        agent.finish_update(UpdateStats({"loss/policy": torch.tensor(float(update))}))
    # updates 0 | 1, 2, 3 | 4, 5 (not yet due)
    assert logger.records == [{"loss/policy": 0.0}, {"loss/policy": 2.0}]
    agent.close()


def test_finish_update_names_the_first_non_finite_value():
    agent = rlsuite.make_agent("a2c", env="CartPole-v1", seed=0, device="cpu", n_envs=2, n_steps=4)
    stats = UpdateStats({"loss/policy": torch.tensor(1.0), "loss/value": torch.tensor(math.inf),
                         "grad norm": torch.tensor(math.nan)})
    with pytest.raises(NonFiniteError) as info:
        agent.finish_update(stats)
    assert info.value.source == "loss/value"
    agent.nonfinite.enabled = False
    agent.finish_update(stats)  # the off switch: no check
    agent.close()


@pytest.mark.parametrize("name, env, hparams", [
    ("ppo", "CartPole-v1", dict(n_envs=2, n_steps=32, batch_size=16, n_epochs=2)),
    ("trpo", "CartPole-v1", dict(n_envs=2, n_steps=32, critic_batch_size=32)),
    ("reinforce", "CartPole-v1", dict(batch_episodes=1)),
    ("dqn", "CartPole-v1", dict(learning_starts=32, train_freq=4, batch_size=16, buffer_size=500)),
    ("ddpg", "Pendulum-v1", dict(learning_starts=32, batch_size=16, buffer_size=500, log_interval=10)),
    ("sac", "Pendulum-v1", dict(learning_starts=32, batch_size=16, buffer_size=500, log_interval=10)),
])
def test_every_agent_logs_its_losses_through_the_base_class(name, env, hparams):
    agent = rlsuite.make_agent(name, env=env, tuned=False, seed=0, device="cpu", net={"widths": [16]}, **hparams)
    agent.logger = logger = Records()
    agent.learn(128)
    assert logger.records and any(key.startswith("loss/") for key in logger.records[-1])
    assert all(math.isfinite(value) for record in logger.records for value in record.values())
    agent.close()
