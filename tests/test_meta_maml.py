"""MAML-RL: the maths by hand, the meta-gradient against finite differences (second order matches,
first order does not), the TRPO step's KL bound, held-out tasks, checkpoints and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rlsuite.agents.maml import MAML, discounted_returns, fit_linear_baseline
from torch.nn.utils import parameters_to_vector, vector_to_parameters

import rlsuite
from rlsuite.errors import ConfigError
from rlsuite.meta.sampling import Episodes

TINY = dict(net={"widths": [3], "activation": "tanh"}, meta_batch_size=2, trajectories_per_task=3)


def test_discounted_returns_by_hand():
    rewards = torch.tensor([[1.0], [2.0], [3.0]])  # (H, N)
    np.testing.assert_allclose(discounted_returns(rewards, 0.5)[:, 0], [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3])


def test_linear_baseline_recovers_a_linear_target_and_ignores_masked_steps():
    gen = torch.Generator().manual_seed(0)
    obs = torch.rand(1, 10, 4, 2, generator=gen)  # (T, H, N, d)
    t = (torch.arange(10.0) / 100).view(1, 10, 1)
    target = 2 * obs[..., 0] - obs[..., 1] ** 2 + 3 * t + 0.5
    mask = torch.ones(1, 10, 4)
    mask[:, 7:, 1] = 0  # a trajectory that ended at step 7
    garbage = target.clone()
    garbage[:, 7:, 1] = 1e3  # whatever sits in masked steps must not matter
    fitted = fit_linear_baseline(obs, garbage, mask, ridge=1e-8)
    assert torch.allclose(fitted * mask, target * mask, atol=1e-3)


def make_tiny_problem(first_order: bool = False):
    """A 2-task problem with fixed (not sampled) episodes, in float64."""
    agent = MAML("navigation2d/h5", seed=0, device="cpu", first_order=first_order, **TINY)
    agent.policy.double()
    gen = torch.Generator().manual_seed(1)

    def episodes() -> Episodes:
        return Episodes(obs=torch.randn(2, 5, 3, 2, generator=gen, dtype=torch.float64),
                        actions=torch.randn(2, 5, 3, 2, generator=gen, dtype=torch.float64) * 0.5,
                        rewards=torch.randn(2, 5, 3, generator=gen, dtype=torch.float64),
                        mask=torch.ones(2, 5, 3, dtype=torch.float64))

    return agent, episodes(), episodes()


def meta_gradient_and_fd(first_order: bool):
    agent, train, valid = make_tiny_problem(first_order)
    objective = agent.meta_objective(train, valid)
    params = list(agent.params().values())
    surrogate, kl = objective(True)
    assert kl.item() == pytest.approx(0.0, abs=1e-12)  # at θ_old the adapted policies are the old ones
    grad = parameters_to_vector(torch.autograd.grad(surrogate, params))
    theta = parameters_to_vector(params).detach().clone()
    fd = torch.zeros_like(theta)
    eps = 1e-6
    for j in range(len(theta)):
        values = []
        for sign in (1, -1):
            with torch.no_grad():
                vector_to_parameters(theta + sign * eps * torch.eye(len(theta), dtype=theta.dtype)[j], params)
            values.append(objective(False)[0].item())
        fd[j] = (values[0] - values[1]) / (2 * eps)
    return grad, fd


def test_second_order_meta_gradient_matches_finite_differences():
    grad, fd = meta_gradient_and_fd(first_order=False)
    assert fd.abs().max() > 1e-3  # a real gradient, not zero against zero
    torch.testing.assert_close(grad, fd, rtol=1e-5, atol=1e-7)


def test_first_order_meta_gradient_drops_the_second_order_term():
    grad_fo, fd = meta_gradient_and_fd(first_order=True)
    grad_so, _ = meta_gradient_and_fd(first_order=False)
    # FOMAML's gradient is ∇L at θ' with the inner step's Jacobian taken as I: close, not equal.
    assert (grad_fo - fd).abs().max() > 1e-3
    cos = torch.nn.functional.cosine_similarity(grad_fo, grad_so, dim=0)
    assert 0.5 < cos.item() < 0.9999


def test_trpo_meta_step_respects_the_kl_bound_and_improves():
    agent = MAML("navigation2d/h10", seed=3, device="cpu", max_kl=1e-3, **TINY)
    tasks = agent.split.train_tasks(agent.rng, 2)
    train = agent.sample(tasks, agent.per_task(agent.params(), 2), agent.rng)
    adapted = {k: p.detach() for k, p in agent.adapted(train, agent.advantages(train), False).items()}
    valid = agent.sample(tasks, adapted, agent.rng)
    objective = agent.meta_objective(train, valid)
    before = objective(False)[0].item()
    info = agent.meta_update(train, valid)
    after, kl = objective(False)
    assert info["accepted"] == 1.0 and after.item() > before
    assert 0 < kl.item() <= 1e-3 * (1 + 1e-9) and kl.item() == pytest.approx(info["kl"])
    # The full natural-gradient step targets KL ≈ max_kl; the accepted one is a fraction of it.
    assert kl.item() > 1e-3 * 0.8**15


def test_first_order_metric_switch_equals_the_full_metric_without_adaptation_and_keeps_the_kl_bound():
    """``fisher_through_inner_step=false`` only drops ∂θ'/∂θ from the trust region's metric: with a
    zero inner step (θ' = θ) both metrics are the same matrix and the steps agree to rounding; with
    adaptation the accepted step still satisfies the exact post-adaptation KL bound."""

    def step(inner_lr: float, full_metric: bool):
        agent = MAML("navigation2d/h10", seed=3, device="cpu", max_kl=1e-3, inner_lr=inner_lr,
                     fisher_through_inner_step=full_metric, **TINY)
        tasks = agent.split.train_tasks(agent.rng, 2)
        train = agent.sample(tasks, agent.per_task(agent.params(), 2), agent.rng)
        agent.policy.double()
        train = Episodes(train.obs.double(), train.actions.double(), train.rewards.double(), train.mask.double())
        objective = agent.meta_objective(train, train)  # θ_old is the parameters before the step
        info = agent.meta_update(train, train)
        return parameters_to_vector(agent.params().values()).detach(), info, objective

    full, _, _ = step(0.0, True)
    cheap, _, _ = step(0.0, False)
    torch.testing.assert_close(cheap, full, rtol=1e-9, atol=1e-12)
    _, info, objective = step(0.1, False)
    assert info["accepted"] == 1.0 and 0 < objective(False)[1].item() <= 1e-3 * (1 + 1e-9)


def test_meta_training_never_sees_held_out_tasks_and_improves_adaptation():
    agent = MAML("navigation2d/h10", seed=0, device="cpu", **TINY)
    held_out = set(agent.split.test_tasks(1000).seeds.tolist())
    seen: set[int] = set()
    for _ in range(4):
        agent.meta_iteration()
        seen |= set(agent.last_task_seeds.tolist())
    assert len(seen) == 8 and not seen & held_out
    result = agent.meta_test(n_tasks=5, steps=2, n_traj=4)
    assert set(result["tasks"]) <= held_out and len(result["returns"]) == 3
    assert result["step_sizes"] == [0.1, 0.05]


def test_checkpoint_resume_equals_uninterrupted():
    steps_per_iteration = 2 * 3 * 10 * 2
    straight = MAML("navigation2d/h10", seed=2, device="cpu", **TINY).learn(3 * steps_per_iteration)
    first = MAML("navigation2d/h10", seed=2, device="cpu", **TINY).learn(2 * steps_per_iteration)
    state = first.state_dict(include_training_state=True)
    resumed = MAML("navigation2d/h10", seed=7, device="cpu", **TINY)
    resumed.load_state_dict(state)
    resumed.learn(steps_per_iteration)
    assert resumed.steps == straight.steps == 3 * steps_per_iteration
    for a, b in zip(straight.policy.parameters(), resumed.policy.parameters()):
        assert torch.equal(a, b)


def test_bad_config_is_one_clear_error():
    with pytest.raises(ConfigError, match="inner_steps"):
        MAML("navigation2d", device="cpu", inner_steps=2)
    with pytest.raises(rlsuite.errors.IncompatibleEnvError):
        MAML("Pendulum-v1", device="cpu")


def test_cli_train_and_evaluate(tmp_path):
    run = rlsuite.train(["agent=maml", "env=navigation2d/h10", "total_steps=240", "agent.meta_batch_size=2",
                         "agent.trajectories_per_task=3", "agent.net.widths=[8]", "eval_episodes=2",
                         f"runs_root={tmp_path}", "submit=false", "logger=[jsonl]"])
    assert run.agent.steps == 240 and (run.dir / "model.safetensors").is_file()
    assert run.eval is not None and run.eval.episodes == 2
    loaded = rlsuite.load(run.dir)
    for a, b in zip(loaded.policy.parameters(), run.agent.policy.parameters()):
        assert torch.equal(a, b)


def test_gauss_newton_metric_equals_the_autograd_hessian_of_the_kl():
    """The speed switch ``gauss_newton_metric`` computes the trust region's metric as Jᵀ F J; at θ_old
    it is the Hessian of the post-adaptation KL that autograd gets by differentiating the KL's
    gradient through the inner step (second order), on random vectors and on the whole step."""
    agent, train, valid = make_tiny_problem()
    objective, _, gauss_newton_metric = agent.meta_closures(train, valid)
    params = list(agent.params().values())
    _, kl = objective(True)
    grad_kl = parameters_to_vector(torch.autograd.grad(kl, params, create_graph=True))
    product = gauss_newton_metric()
    gen = torch.Generator().manual_seed(2)
    for _ in range(3):
        v = torch.randn(grad_kl.shape, generator=gen, dtype=torch.float64)
        autograd_hv = parameters_to_vector(torch.autograd.grad(grad_kl @ v, params, retain_graph=True))
        assert autograd_hv.abs().max() > 1e-3
        torch.testing.assert_close(product(v), autograd_hv, rtol=1e-8, atol=1e-10)

    def step(gauss_newton: bool) -> torch.Tensor:
        agent, train, valid = make_tiny_problem()
        agent.config.gauss_newton_metric = gauss_newton
        info = agent.meta_update(train, valid)
        assert info["accepted"] == 1.0
        return parameters_to_vector(agent.params().values()).detach()

    torch.testing.assert_close(step(True), step(False), rtol=1e-7, atol=1e-9)
