"""Each speed switch computes the same thing with the trick off: the trained weights agree.

Fused Adam and the multi-tensor RMSprop reorder floating-point work, so agreement is to rounding
(not bit for bit); the Numba acting path is tested against the torch policy in tests/test_acting.py.
"""

from __future__ import annotations

import pytest
import torch

import rlsuite


def _weights(agent, module: str) -> torch.Tensor:
    return torch.nn.utils.parameters_to_vector(getattr(agent, module).parameters()).detach()


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
