"""rlsuite.optim: the lean optimizer step is bit-identical to torch's optimizer.step()."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from rlsuite import optim


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))


def _make(kind: str, params):
    if kind == "adam":
        return torch.optim.Adam(params, lr=1e-2, eps=1e-5, fused=True)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1, fused=True)
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-5)
    if kind == "rmsprop_foreach":
        return torch.optim.RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-5, foreach=True)
    if kind == "sgd_momentum":  # no fast path: falls through to optimizer.step()
        return torch.optim.SGD(params, lr=1e-2, momentum=0.9)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["adam", "adamw", "rmsprop", "rmsprop_foreach", "sgd_momentum"])
def test_lean_step_matches_optimizer_step_bit_for_bit(kind):
    ref, lean = _net(), _net()
    ref_opt, lean_opt = _make(kind, ref.parameters()), _make(kind, lean.parameters())
    gen = torch.Generator().manual_seed(1)
    for i in range(6):
        x = torch.randn(32, 5, generator=gen)
        for net, opt, use_lean in ((ref, ref_opt, False), (lean, lean_opt, True)):
            for group in opt.param_groups:  # a schedule changing lr between steps
                group["lr"] = 1e-2 * (1 - i / 10)
            optim.zero_grad(list(net.parameters()))
            net(x).pow(2).mean().backward()
            optim.clip_grad_norm(list(net.parameters()), 0.5)
            if use_lean:
                if i == 3:  # reloading replaces the state tensors: the lean step must follow them
                    opt.load_state_dict(copy.deepcopy(opt.state_dict()))
                optim.step(opt)
            else:
                opt.step()
    for a, b in zip(ref.parameters(), lean.parameters()):
        assert torch.equal(a, b)
    ref_state, lean_state = ref_opt.state_dict()["state"], lean_opt.state_dict()["state"]
    for key in ref_state:
        for name, value in ref_state[key].items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(lean_state[key][name])), name


def test_lean_step_skips_parameters_without_gradients():
    net = _net()
    opt = _make("adam", net.parameters())
    net(torch.randn(4, 5)).sum().backward()
    optim.step(opt)  # first step: torch initializes the state
    frozen = copy.deepcopy(net[2].weight.detach())
    net[2].weight.grad = None
    net(torch.randn(4, 5)).sum().backward()
    net[2].weight.grad = None
    optim.step(opt)
    assert torch.equal(net[2].weight.detach(), frozen)
    assert int(opt.state[net[2].weight]["step"]) == 1
    assert int(opt.state[net[0].weight]["step"]) == 2


def test_clip_grad_norm_matches_torch():
    a, b = _net(), _net()
    x = torch.randn(8, 5)
    for net in (a, b):
        (net(x) * 100).pow(2).sum().backward()
    na = torch.nn.utils.clip_grad_norm_(list(a.parameters()), 1.0, foreach=True)
    nb = optim.clip_grad_norm(list(b.parameters()), 1.0)
    assert torch.equal(na, nb)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p.grad, q.grad)
