"""rlsuite.flat_params: parameters packed into one tensor as views, and the ``runtime.flat_parameters``
speed switch of the on-policy agents (same training with it off)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

import rlsuite
from rlsuite.flat_params import FlatParameters

torch.set_num_threads(1)


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def test_parameters_become_views_of_one_tensor_with_their_values():
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    packed = FlatParameters(net.parameters())
    assert packed.flat.numel() == sum(p.numel() for p in net.parameters()) == 3 * 4 + 4 + 4 * 2 + 2
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key])
    with torch.no_grad():
        packed.flat.add_(1.0)  # what an optimizer step on the packed tensor does
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key] + 1.0)


def test_backward_fills_the_packed_gradient_and_prepare_grads_zeroes_it():
    net = _net()
    reference = _net()
    packed = FlatParameters(net.parameters())
    x = torch.randn(5, 3)
    for _ in range(2):  # the second pass must not accumulate onto the first
        packed.prepare_grads()
        net(x).square().sum().backward()
    reference(x).square().sum().backward()
    expected = torch.cat([p.grad.reshape(-1) for p in reference.parameters()])
    torch.testing.assert_close(packed.flat.grad, expected, rtol=0, atol=0)


def test_prepare_grads_repairs_replaced_storage_and_cleared_gradients():
    net = _net()
    packed = FlatParameters(net.parameters())
    params = list(net.parameters())
    target = parameters_to_vector(params) * 2.0
    vector_to_parameters(target, params)  # replaces each parameter's .data
    optimizer = torch.optim.SGD([packed.flat], lr=0.5)
    optimizer.zero_grad()  # sets the packed gradient to None
    for p in params:
        p.grad = None
    packed.prepare_grads()
    torch.testing.assert_close(packed.flat.detach(), target)  # the replaced values were taken back
    net(torch.ones(1, 3)).sum().backward()
    optimizer.step()  # steps the module's parameters again
    torch.testing.assert_close(parameters_to_vector(params), packed.flat.detach())
    assert not torch.equal(packed.flat.detach(), target)


def test_refuses_what_cannot_be_packed():
    net = _net()
    params = list(net.parameters())
    with pytest.raises(ValueError, match="twice"):
        FlatParameters(params + params[:1])
    params[0].requires_grad_(False)
    with pytest.raises(ValueError, match="trainable"):
        FlatParameters(params)
    with pytest.raises(ValueError, match="at least one"):
        FlatParameters([])


def test_packed_clipping_equals_clip_grad_norm():
    agent = rlsuite.make_agent("a2c", env="CartPole-v1", seed=0, n_envs=2, n_steps=4, device="cpu")
    w = nn.Parameter(torch.tensor([3.0, 4.0]))
    packed = FlatParameters([w])
    agent.optimizers.packings[id(packed.flat)] = packed
    agent.step(torch.optim.SGD([packed.flat], lr=1.0), 0.5 * w.square().sum(), max_grad_norm=1.0)
    torch.testing.assert_close(w.detach(), torch.tensor([2.4, 3.2]), atol=1e-6, rtol=0)  # as in test_optim
    agent.close()


@pytest.mark.parametrize("name, kwargs", [
    ("ppo", dict(batch_size=16, n_epochs=3)),
    ("a2c", dict()),  # RMSprop
    ("trpo", dict(critic_epochs=3)),  # the critic's Adam; the actor moves by vector_to_parameters
    ("reinforce", dict()),  # two packed optimizers, actor and baseline
])
def test_flat_parameters_switch_changes_the_layout_not_the_training(name, kwargs):
    params = {}
    for flat in (True, False):
        agent = rlsuite.make_agent(name, env="CartPole-v1", seed=3, n_envs=2, n_steps=16, device="cpu",
                                   runtime={"flat_parameters": flat}, **kwargs)
        assert bool(agent.optimizers.packings) is flat  # the switch takes effect
        agent.learn(128)
        assert agent.updates >= 4
        params[flat] = [p.detach().clone() for p in agent.policy.parameters()]
        agent.close()
    for packed, plain in zip(params[True], params[False]):
        torch.testing.assert_close(packed, plain, atol=1e-5, rtol=1e-4)


def test_a_packed_agent_saves_and_loads_with_its_optimizer_state(tmp_path):
    agent = rlsuite.make_agent("ppo", env="CartPole-v1", seed=1, n_envs=2, n_steps=16, batch_size=16, device="cpu")
    agent.learn(64)
    path = agent.save(tmp_path / "ppo", include_training_state=True)  # safetensors refuses shared storage
    loaded = rlsuite.load(path, device="cpu")
    assert loaded.optimizers.packings  # packed again after loading
    for a, b in zip(agent.policy.parameters(), loaded.policy.parameters()):
        assert torch.equal(a, b)
    saved_moments = agent.optimizer.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(loaded.optimizer.state_dict()["state"][0]["exp_avg"], saved_moments)
    assert loaded.optimizer.param_groups[0]["params"][0] is next(iter(loaded.optimizers.packings.values())).flat
