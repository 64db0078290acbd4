"""DQN's compiled greedy action (rlsuite.acting.NumbaGreedy): the same actions as the torch
Q-network, only for the networks it covers, with fresh weights after every training round and load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rlsuite.agents.dqn import DQN

from rlsuite.acting import _run
from rlsuite.checkpoint import load_state

SMALL = dict(net={"widths": [32, 16]}, learning_starts=100, train_freq=50, gradient_steps=5, batch_size=16,
             target_update_interval=50)


def torch_greedy(agent: DQN, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        q = agent.q_net(torch.as_tensor(obs)).numpy()
    return q, q.argmax(axis=1)


def test_greedy_actions_and_q_values_match_the_torch_network():
    agent = DQN("CartPole-v1", seed=0, device="cpu", **SMALL)
    assert agent.numba_greedy is not None
    obs = np.random.default_rng(1).normal(size=(2000, 4)).astype(np.float32) * 3
    q, actions = torch_greedy(agent, obs)
    assert np.array_equal(agent.greedy(obs, noise=False), actions)
    ours = _run(obs, agent.numba_greedy.flat, agent.numba_greedy.program)
    np.testing.assert_allclose(ours, q, rtol=1e-5, atol=1e-5)


def test_weights_are_read_again_after_training_and_after_a_load(tmp_path):
    agent = DQN("CartPole-v1", seed=0, device="cpu", **SMALL)
    obs = np.random.default_rng(2).normal(size=(500, 4)).astype(np.float32)
    before = agent.greedy(obs, noise=False)
    agent.learn(400)  # 6 training rounds of 5 updates
    assert agent.updates > 0
    assert np.array_equal(agent.greedy(obs, noise=False), torch_greedy(agent, obs)[1])
    path = agent.save(tmp_path / "model")
    fresh = DQN("CartPole-v1", seed=1, device="cpu", **SMALL)  # other initial weights, same update count 0
    fresh.load_state_dict(load_state(path))
    assert np.array_equal(fresh.greedy(obs, noise=False), torch_greedy(agent, obs)[1])
    assert not np.array_equal(before, torch_greedy(agent, obs)[1])  # the weights did change


def test_training_acts_the_same_with_the_switch_off():
    """Equivalence: the same seed with runtime.numba_acting on and off stores the same transitions."""
    runs = [DQN("CartPole-v1", seed=3, device="cpu", runtime={"numba_acting": flag}, **SMALL) for flag in (True, False)]
    for agent in runs:
        agent.learn(1500)
    on, off = runs
    assert on.numba_greedy is not None and off.numba_greedy is None
    assert on.updates == off.updates > 0 and on.episodes == off.episodes
    for p, q in zip(on.q_net.parameters(), off.q_net.parameters()):  # the same data, so the same updates
        assert torch.equal(p, q)


@pytest.mark.parametrize("flags", [{"dueling": True}, {"noisy": True}, {"distributional": True},
                                   {"net": {"widths": [32, 16], "dropout": 0.1}}])
def test_networks_it_does_not_cover_keep_the_torch_path(flags):
    agent = DQN("CartPole-v1", seed=0, device="cpu", **{**SMALL, **flags})
    assert agent.numba_greedy is None
    obs = np.zeros((3, 4), np.float32)
    assert agent.greedy(obs, noise=False).shape == (3,)


def test_image_observations_keep_the_torch_path():
    agent = DQN("MinAtar-Breakout", seed=0, device="cpu", learning_starts=10, buffer_size=100)
    assert agent.numba_greedy is None


def test_stages_that_compute_something_else_are_caught_by_the_probe():
    """The last guard: a translation whose output differs from the network's falls back to torch."""
    from rlsuite.acting import NumbaGreedy

    agent = DQN("CartPole-v1", seed=0, device="cpu", **SMALL)
    with pytest.warns(RuntimeWarning, match="compiled greedy path disagrees"):  # the head left out
        assert NumbaGreedy.for_network([agent.q_net.body], agent.q_net, agent.observation_space,
                                       agent.device) is None
