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


def test_sigmoid_tanh_is_tanh() -> None:
    from rlsuite.nets.mlp import SigmoidTanh

    x = torch.linspace(-30.0, 30.0, 200_001, requires_grad=True)
    fast, exact = SigmoidTanh()(x), torch.tanh(x)
    torch.testing.assert_close(fast, exact, rtol=0.0, atol=2e-7)
    (grad_fast,) = torch.autograd.grad(fast.sum(), x)
    (grad_exact,) = torch.autograd.grad(exact.sum(), x)
    torch.testing.assert_close(grad_fast, grad_exact, rtol=0.0, atol=1e-6)


@pytest.mark.parametrize("name", ["ppo", "a2c", "trpo"])
def test_fast_tanh_switch_gives_the_same_training(name):
    trained = []
    for fast in (True, False):
        agent = rlsuite.make_agent(name, env="CartPole-v1", tuned=False, seed=3, device="cpu", fast_tanh=fast,
                                   n_envs=4, numba_acting=False)
        kinds = {type(m).__name__ for m in agent.policy.modules()}
        assert ("SigmoidTanh" in kinds) == fast and ("Tanh" in kinds) != fast  # the switch takes effect
        before = _weights(agent, "policy").clone()
        agent.learn(512)
        trained.append((before, _weights(agent, "policy")))
    (start_on, on), (start_off, off) = trained
    assert torch.equal(start_on, start_off)
    assert not torch.equal(on, start_on)
    torch.testing.assert_close(on, off, rtol=1e-3, atol=1e-4)
