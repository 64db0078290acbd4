"""Each speed switch computes the same thing with the trick off: the trained weights agree.

Fused Adam and the multi-tensor RMSprop reorder floating-point work, so agreement is to rounding
(not bit for bit); the Numba acting path is tested against the torch policy in tests/test_acting.py.
"""

from __future__ import annotations

import pytest
import torch

import rlsuite


def _weights(agent, module: str) -> torch.Tensor:
    # reshape, not parameters_to_vector's view: channels-last conv weights are not row-major
    return torch.cat([p.detach().reshape(-1) for p in getattr(agent, module).parameters()])


@pytest.mark.parametrize(("name", "env", "module", "optimizer", "steps", "hparams"), [
    ("ppo", "CartPole-v1", "policy", "optimizer",
     512, dict(n_envs=4, n_steps=64, batch_size=64, n_epochs=2, numba_acting=False)),
    ("a2c", "CartPole-v1", "policy", "optimizer",
     200, dict(n_envs=4, n_steps=5, optimizer="rmsprop", numba_acting=False)),
    ("dqn", "CartPole-v1", "q_net", "optimizer",
     300, dict(learning_starts=100, train_freq=4, batch_size=32, net_arch=[32, 32])),
    ("ddpg", "Pendulum-v1", "actor", "actor_optimizer",
     300, dict(learning_starts=100, batch_size=32, net_arch=[32, 32])),
])
def test_fused_optimizer_switch_gives_the_same_weights(name, env, module, optimizer, steps, hparams):
    trained = []
    for fused in (True, False):
        agent = rlsuite.make_agent(name, env=env, tuned=False, seed=3, device="cpu", fused_optimizer=fused, **hparams)
        multi_tensor = getattr(agent, optimizer).defaults
        assert bool(multi_tensor.get("fused") or multi_tensor.get("foreach")) == fused  # the switch takes effect
        before = _weights(agent, module).clone()
        agent.learn(steps)
        trained.append((before, _weights(agent, module)))
    (start_on, on), (start_off, off) = trained
    assert torch.equal(start_on, start_off)
    assert not torch.equal(on, start_on)  # it trained
    torch.testing.assert_close(on, off, rtol=1e-4, atol=1e-5)


def test_channels_last_switch_gives_the_same_q_values_and_weights():
    """DQN's ``channels_last`` (NHWC convolutions) against torch's default layout on Pong frames: the
    same network values to rounding, and the same weights after training with the same random actions."""
    pytest.importorskip("ale_py")
    trained = []
    for channels_last in (True, False):
        agent = rlsuite.make_agent("dqn", env="Pong", seed=5, device="cpu", buffer_size=2_000, learning_starts=64,
                                   exploration_initial_eps=1.0, exploration_final_eps=1.0,
                                   channels_last=channels_last)
        conv = agent.q_net.body.conv[0].weight
        assert conv.is_contiguous(memory_format=torch.channels_last) == channels_last  # the switch takes effect
        agent.learn(192)  # 32 updates
        frames = torch.from_numpy(agent.buffer.sample(16).obs)
        with torch.no_grad():
            trained.append((_weights(agent, "q_net"), agent.q_net(frames), frames))
    (on, q_on, frames_on), (off, q_off, frames_off) = trained
    assert torch.equal(frames_on, frames_off)  # same data went in
    torch.testing.assert_close(q_on, q_off, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(on, off, rtol=1e-4, atol=1e-5)
