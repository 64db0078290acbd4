"""``init_from=`` / :meth:`Agent.initialize_from`: a new run starts from a saved model's networks
(same agent, same shapes; the env may differ), with its own counters, optimizer and replay."""

from __future__ import annotations

import pytest
import torch

import rlsuite
from rlsuite.errors import ConfigError


def _flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in module.state_dict().values()])


def test_rl2_on_100_pull_bandits_starts_from_a_10_pull_run(tmp_path):
    short = rlsuite.train(["agent=rl2", "env=bandits/k5-n10", "total_steps=640", "agent.trials_per_iteration=64",
                           "eval_episodes=5", "submit=false", f"run_dir={tmp_path / 'n10'}", "logger=[jsonl]"])
    saved = _flat(short.agent.net)
    long = rlsuite.make_agent("rl2", env="bandits/k5-n100", seed=1, device="cpu", trials_per_iteration=64)
    assert not torch.equal(_flat(long.net), saved)
    assert long.initialize_from(tmp_path / "n10") == ["net"]
    assert torch.equal(_flat(long.net), saved)
    assert long.steps == 0 and long.updates == 0 and not long.optimizer.state  # its own counters and Adam
    long.learn(64 * 100)  # and it trains from there
    assert not torch.equal(_flat(long.net), saved)


def test_dqn_takes_the_q_network_and_sets_its_target_from_it(tmp_path):
    donor = rlsuite.make_agent("dqn", env="CartPole-v1", seed=0, device="cpu", tuned=False, learning_starts=50)
    donor.learn(300)
    donor.save(tmp_path / "model")
    agent = rlsuite.make_agent("dqn", env="CartPole-v1", seed=5, device="cpu", tuned=False)
    assert agent.initialize_from(tmp_path / "model.safetensors") == ["q_net"]
    assert torch.equal(_flat(agent.q_net), _flat(donor.q_net))
    assert torch.equal(_flat(agent.target_net), _flat(donor.q_net))
    assert len(agent.buffer) == 0 and agent.steps == 0


def test_a_model_of_another_agent_or_shape_is_refused_with_the_reason(tmp_path):
    rlsuite.make_agent("dqn", env="CartPole-v1", seed=0, device="cpu", tuned=False).save(tmp_path / "dqn")
    ppo = rlsuite.make_agent("ppo", env="CartPole-v1", seed=0, device="cpu", tuned=False)
    with pytest.raises(ConfigError, match="holds a dqn model; this run trains ppo"):
        ppo.initialize_from(tmp_path / "dqn.safetensors")
    wider = rlsuite.make_agent("dqn", env="CartPole-v1", seed=0, device="cpu", tuned=False, net={"widths": [32]})
    with pytest.raises(ConfigError, match="does not fit this agent's networks"):
        wider.initialize_from(tmp_path / "dqn.safetensors")
    with pytest.raises(ConfigError, match="does not exist"):
        wider.initialize_from(tmp_path / "missing")


def test_an_on_policy_agent_takes_its_policy_and_observation_statistics(tmp_path):
    donor = rlsuite.make_agent("ppo", env="CartPole-v1", seed=0, device="cpu", tuned=False, n_steps=32, batch_size=32)
    donor.learn(64)
    donor.save(tmp_path / "ppo")
    agent = rlsuite.make_agent("ppo", env="CartPole-v1", seed=2, device="cpu", tuned=False, n_steps=32, batch_size=32)
    assert agent.initialize_from(tmp_path / "ppo.safetensors") == ["policy", "obs_normalizer"]
    assert torch.equal(_flat(agent.policy), _flat(donor.policy))
