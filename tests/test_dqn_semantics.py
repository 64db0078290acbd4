"""DQN against Stable-Baselines3's DQN, the reference its CartPole benchmark compares with.

With identical hyperparameters the two must do the same things at the same env steps: uniform
random actions before ``learning_starts``, ε from the same linear schedule, a hard target copy every
``target_update_interval`` env steps, ``gradient_steps`` updates at the end of every ``train_freq``
steps once more than ``learning_starts`` steps were taken, and each update must move the weights
identically (Huber loss, max-norm-10 gradient clipping, Adam with eps 1e-8, no bootstrap on
terminations). These tests run both libraries' real code for a few hundred steps and compare.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rlsuite

sb3 = pytest.importorskip("stable_baselines3")

SCHEDULE = dict(learning_starts=40, train_freq=16, gradient_steps=3, target_update_interval=10, batch_size=8,
                buffer_size=1000, exploration_fraction=0.5, exploration_final_eps=0.1, lr=1e-3, gamma=0.99)


def rlsuite_events(total: int, **hp) -> list[tuple]:
    """('target', step) and ('train', step, n_updates) in the order rlsuite's DQN does them."""
    agent = rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, seed=0, device="cpu", net={"widths": [8]}, **hp)
    events: list[tuple] = []
    update, update_target = agent.update, agent.update_target
    agent.update = lambda n: (events.append(("train", agent.steps, n)), update(n))[1]
    agent.update_target = lambda tau: (events.append(("target", agent.steps)), update_target(tau))[1]
    agent.learn(total)
    return events


def sb3_events(total: int, monkeypatch, **hp) -> list[tuple]:
    """The same events from SB3's DQN (its target copy is ``polyak_update`` in ``_on_step``)."""
    from stable_baselines3.dqn import dqn as sb3_dqn

    hp = dict(hp)
    model = sb3.DQN("MlpPolicy", "CartPole-v1", learning_rate=hp.pop("lr"), seed=0, device="cpu",
                    policy_kwargs=dict(net_arch=[8]), **hp)
    events: list[tuple] = []
    polyak, train = sb3_dqn.polyak_update, model.train

    def target_copy(params, target_params, tau):
        params = list(params)
        if params and params[0].requires_grad:  # the q-net copy, not the (empty) batch-norm stats
            events.append(("target", model.num_timesteps))
        polyak(params, target_params, tau)

    monkeypatch.setattr(sb3_dqn, "polyak_update", target_copy)
    model.train = lambda gradient_steps, batch_size: (events.append(("train", model.num_timesteps, gradient_steps)),
                                                      train(gradient_steps, batch_size))[1]
    model.learn(total)
    return events


def test_target_copies_and_training_rounds_happen_at_the_same_steps_as_sb3(monkeypatch):
    total = 16 * 13  # a whole number of train_freq rounds (see the next test for other budgets)
    ours, theirs = rlsuite_events(total, **SCHEDULE), sb3_events(total, monkeypatch, **SCHEDULE)
    assert ours == theirs
    # and what that is, spelled out: copies every 10 steps, rounds from the first multiple of 16 past 40
    assert [e[1] for e in ours if e[0] == "target"] == list(range(10, total + 1, 10))
    assert [e[1:] for e in ours if e[0] == "train"] == [(t, 3) for t in range(48, total + 1, 16)]


def test_budget_is_exact_where_sb3_finishes_its_last_round(monkeypatch):
    """SB3 always completes a ``train_freq`` rollout, so a budget that is not a multiple of it runs
    past ``total_timesteps`` with one more training round; rlsuite stops at the budget (documented)."""
    total = 16 * 13 - 5
    ours, theirs = rlsuite_events(total, **SCHEDULE), sb3_events(total, monkeypatch, **SCHEDULE)
    assert theirs[-1] == ("train", 16 * 13, 3)
    assert [e for e in theirs if e[1] <= total] == ours


def test_epsilon_schedule_matches_sb3_and_warmup_actions_are_uniform(monkeypatch):
    from stable_baselines3.common.utils import LinearSchedule

    total = 400
    agent = rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, seed=0, device="cpu", net={"widths": [8]},
                               **SCHEDULE)
    sb3_eps = LinearSchedule(1.0, SCHEDULE["exploration_final_eps"], SCHEDULE["exploration_fraction"])
    seen: list[tuple[int, float]] = []
    greedy_calls: list[int] = []
    explore, greedy = agent.explore, agent.greedy
    agent.explore = lambda obs: (seen.append((agent.steps, agent.epsilon)), explore(obs))[1]
    agent.greedy = lambda obs, noise: (greedy_calls.append(agent.steps), greedy(obs, noise))[1]
    agent.learn(total)
    # SB3 acts at num_timesteps = t with the ε its _on_step computed from progress_remaining = 1 - t/total
    np.testing.assert_allclose([eps for _, eps in seen], [sb3_eps(1.0 - t / total) for t, _ in seen], atol=1e-12)
    assert [t for t, _ in seen] == list(range(total))
    assert min(greedy_calls) >= SCHEDULE["learning_starts"]  # the Q-network never acts before learning starts


def test_updates_move_the_weights_exactly_like_sb3():
    """Same online and target weights, same batch (terminal and bootstrapping transitions, a few huge
    inputs so the gradient norm is clipped): ten updates give the same weights in both libraries.
    (Ten, not one: Adam's first steps are nearly sign(gradient), which would hide target errors.)"""
    from stable_baselines3.common.logger import Logger
    from stable_baselines3.common.type_aliases import ReplayBufferSamples

    from rlsuite.buffers.replay import ReplayBatch

    torch.manual_seed(0)
    hp = dict(lr=1e-2, gamma=0.9, batch_size=32, net={"widths": [16, 16]}, learning_starts=0)
    agent = rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, seed=0, device="cpu", **hp)
    model = sb3.DQN("MlpPolicy", "CartPole-v1", learning_rate=hp["lr"], gamma=hp["gamma"], seed=0, device="cpu",
                    policy_kwargs=dict(net_arch=[16, 16]))
    model.set_logger(Logger(folder=None, output_formats=[]))  # train() logs; learn() would set this up
    # both nets' Linear layers in forward order: Linear(4, 16), Linear(16, 16), Linear(16, 2)
    # a target net that differs from the online net, so bootstrapping from the wrong one would show
    with torch.no_grad():
        for p in agent.target_net.parameters():
            p.copy_(0.1 * torch.randn_like(p))
    for ours_net, theirs_net in ((agent.q_net, model.q_net), (agent.target_net, model.q_net_target)):
        ours = [m for m in ours_net.modules() if isinstance(m, torch.nn.Linear)]
        theirs = [m for m in theirs_net.modules() if isinstance(m, torch.nn.Linear)]
        assert [m.weight.shape for m in theirs] == [m.weight.shape for m in ours]
        for a, b in zip(ours, theirs):
            b.load_state_dict(a.state_dict())

    g = torch.Generator().manual_seed(1)
    obs, next_obs = torch.randn(32, 4, generator=g), torch.randn(32, 4, generator=g)
    obs[:4] *= 2000  # big activations: weight gradients far above max_grad_norm = 10
    actions = torch.randint(0, 2, (32,), generator=g)
    rewards = torch.rand(32, generator=g)
    rewards[:4] = torch.tensor([1.0, 50.0, -30.0, 20.0])
    terminated = (torch.rand(32, generator=g) < 0.25).float()

    ours_batch = ReplayBatch(obs, actions, rewards, next_obs, hp["gamma"] * (1 - terminated),
                             torch.arange(32), torch.ones(32))
    sb3_batch = ReplayBufferSamples(obs, actions.view(-1, 1), next_obs, terminated.view(-1, 1), rewards.view(-1, 1))
    agent.sample_batches = lambda n: iter([ours_batch] * n)
    model.replay_buffer.sample = lambda batch_size, env=None: sb3_batch

    # clipping must be active, or max_grad_norm would go untested: the unclipped norm of the first update
    q = agent.q_net(obs).gather(1, actions.view(-1, 1)).squeeze(1)
    with torch.no_grad():
        target = rewards + ours_batch.discounts * agent.target_net(next_obs).max(dim=1).values
    grads = torch.autograd.grad(torch.nn.functional.smooth_l1_loss(q, target), list(agent.q_net.parameters()))
    assert torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])) > 2 * agent.config.max_grad_norm

    before = [p.detach().clone() for p in agent.q_net.parameters()]
    agent.update(10)
    model.train(gradient_steps=10, batch_size=32)
    theirs = [p for m in model.q_net.modules() if isinstance(m, torch.nn.Linear) for p in (m.weight, m.bias)]
    for mine, ref, old in zip(agent.q_net.parameters(), theirs, before):
        assert not torch.equal(mine, old)
        torch.testing.assert_close(mine, ref, rtol=1e-5, atol=1e-6)
