"""rlsuite.nets.twin_tanh: the fused actor/critic tanh trunks equal the plain ones, to second order."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from rlsuite.nets.twin_tanh import _TwinTanhTrunks, twin_tanh_trunks
from rlsuite.policies import ActorCritic

OBS = gym.spaces.Box(-np.inf, np.inf, (5,), np.float32)


@pytest.mark.parametrize("widths", [[7], [6, 4], [5, 5, 3]])
def test_first_and_second_order_gradients(widths):
    gen = torch.Generator().manual_seed(0)
    shapes, last = [], 3
    for w in widths:
        shapes += [(w, last), (w,)]
        last = w
    params = [torch.randn(s, dtype=torch.double, generator=gen, requires_grad=True) for s in shapes * 2]
    x = torch.randn(4, 3, dtype=torch.double, generator=gen, requires_grad=True)

    def fn(x, *p):
        return _TwinTanhTrunks.apply(x, len(shapes), *p)

    assert torch.autograd.gradcheck(fn, (x, *params))
    assert torch.autograd.gradgradcheck(fn, (x, *params))


def test_matches_separate_trunks_and_handles_an_unused_output():
    torch.manual_seed(0)
    actor = [nn.Linear(5, 16), nn.Linear(16, 16)]
    critic = [nn.Linear(5, 16), nn.Linear(16, 16)]
    x = torch.randn(32, 5)
    a, c = twin_tanh_trunks(x, actor, critic)
    ref_a = torch.tanh(actor[1](torch.tanh(actor[0](x))))
    ref_c = torch.tanh(critic[1](torch.tanh(critic[0](x))))
    torch.testing.assert_close(a, ref_a, atol=1e-6, rtol=0)
    torch.testing.assert_close(c, ref_c, atol=1e-6, rtol=0)
    grads = torch.autograd.grad(a.square().sum(), [p for m in actor + critic for p in m.parameters()],
                                allow_unused=True, materialize_grads=True)
    ref = torch.autograd.grad(ref_a.square().sum(), [p for m in actor for p in m.parameters()])
    for g, r in zip(grads[:4], ref):
        torch.testing.assert_close(g, r, atol=1e-5, rtol=1e-4)
    assert all(float(g.abs().max()) == 0.0 for g in grads[4:])  # the critic gets zero gradients
    with torch.no_grad():  # acting path: same numbers without the autograd node
        a2, c2 = twin_tanh_trunks(x, actor, critic)
    assert torch.equal(a2, a.detach()) and torch.equal(c2, c.detach())


def test_actor_critic_uses_it_and_functional_call_second_order_works():
    policy = ActorCritic(OBS, gym.spaces.Discrete(3))
    assert policy.twin_trunks
    assert not ActorCritic(OBS, gym.spaces.Discrete(3), shared=True).twin_trunks
    assert not ActorCritic(OBS, gym.spaces.Discrete(3), activation="relu").twin_trunks
    assert not ActorCritic(OBS, gym.spaces.Discrete(3), vf_net_arch=[32]).twin_trunks
    obs = torch.randn(16, 5)
    actions = torch.randint(0, 3, (16,))

    def loss(params):
        logits, value = torch.func.functional_call(policy, params, (obs,))
        return -policy.make_distribution(logits).log_prob(actions).mean() + value.square().mean()

    theta = dict(policy.named_parameters())
    inner = torch.autograd.grad(loss(theta), list(theta.values()), create_graph=True)
    adapted = {k: v - 0.1 * g for (k, v), g in zip(theta.items(), inner)}
    meta = torch.autograd.grad(loss(adapted), list(theta.values()))
    policy.twin_trunks = False  # the same MAML step through the plain trunks
    inner_ref = torch.autograd.grad(loss(theta), list(theta.values()), create_graph=True)
    adapted_ref = {k: v - 0.1 * g for (k, v), g in zip(theta.items(), inner_ref)}
    meta_ref = torch.autograd.grad(loss(adapted_ref), list(theta.values()))
    for g, r in zip(meta, meta_ref):
        torch.testing.assert_close(g, r, atol=1e-5, rtol=1e-4)
