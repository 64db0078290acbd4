"""The on-policy optimizer step (Agent.step) and its speed switch: torch.optim's
fused Adam / foreach RMSprop (``runtime.fused_optimizer=true``) against torch's defaults."""

from __future__ import annotations

import pytest
import torch

import rlsuite

torch.set_num_threads(1)

SMALL = dict(n_envs=2, n_steps=16, device="cpu")


def test_step_clips_the_global_norm_then_steps():
    agent = rlsuite.make_agent("a2c", env="CartPole-v1", seed=0, **SMALL)
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    w.grad = torch.full((2,), 7.0)  # stale gradients are discarded, not accumulated
    # loss ½|w|² has gradient w = (3, 4), norm 5; clipped to norm 1: (0.6, 0.8); SGD with lr 1.
    agent.step(torch.optim.SGD([w], lr=1.0), 0.5 * w.square().sum(), max_grad_norm=1.0)
    torch.testing.assert_close(w.detach(), torch.tensor([2.4, 3.2]), atol=1e-6, rtol=0)
    w.grad = None
    agent.step(torch.optim.SGD([w], lr=1.0), 0.5 * w.square().sum())  # no clipping: w − w = 0
    torch.testing.assert_close(w.detach(), torch.zeros(2))
    agent.close()


@pytest.mark.parametrize("name, kwargs, option", [
    ("ppo", dict(batch_size=16, n_epochs=3), "fused"),
    ("a2c", dict(), "foreach"),  # RMSprop
    ("a2c", dict(optimizer="adam"), "fused"),
])
def test_fused_optimizer_switch_changes_the_kernels_not_the_training(name, kwargs, option):
    params = {}
    for fused in (True, False):
        agent = rlsuite.make_agent(name, env="CartPole-v1", seed=3, runtime={"fused_optimizer": fused}, **SMALL,
                                   **kwargs)
        assert bool(agent.optimizer.param_groups[0][option]) is fused
        agent.learn(128)
        assert agent.updates >= 4
        params[fused] = [p.detach().clone() for p in agent.policy.parameters()]
        agent.close()
    for fast, plain in zip(params[True], params[False]):
        assert not torch.equal(fast, torch.zeros_like(fast))
        torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-4)
