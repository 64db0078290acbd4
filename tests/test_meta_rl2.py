"""RL²: hidden state reset exactly at trial starts and carried across the episodes inside a trial,
training re-runs reproduce what acting saw, held-out tasks, resume; the recurrent core."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rlsuite.agents.rl2 import RL2

from rlsuite.errors import ConfigError
from rlsuite.nets.recurrent import RecurrentCore
from tests.learning import assert_quorum

SMALL = dict(net={"recurrent_hidden": 8}, episodes_per_trial=3, trials_per_iteration=4, n_minibatches=2, n_epochs=2)


def test_hidden_state_resets_only_between_trials():
    agent = RL2("tabular_mdp/s4-a2-h3", seed=0, device="cpu", **SMALL)
    tasks = agent.split.train_tasks(agent.rng, 4)
    trials = agent.run_trials(tasks, agent.rng)
    states, inputs = trials.states_in, trials.inputs  # (L, B, hidden), (L, B, in)
    assert states.shape == (9, 4, 8)
    assert torch.count_nonzero(states[0]) == 0  # trial start: zero state, zero previous action/reward/done
    assert torch.count_nonzero(inputs[0, :, 4:]) == 0
    for t in range(1, 9):  # every later step continues from the previous one, episode boundaries included
        _, expected = agent.net.core.step(inputs[t - 1], states[t - 1].unsqueeze(0))
        torch.testing.assert_close(states[t], expected[0])
        assert torch.count_nonzero(states[t]) > 0
    for t in (3, 6):  # first step of episodes 2 and 3: done flag and the last reward of the episode before
        assert (inputs[t, :, -1] == 1).all() and (inputs[t - 1, :, -1] == 0).all()
        np.testing.assert_allclose(inputs[t, :, -2].numpy(), trials.rewards[t - 1])
        assert (inputs[t, :, :4].argmax(1) == 0).all()  # each episode starts in state 0 again
    again = agent.run_trials(tasks, agent.rng)  # the next trial starts from zero again
    assert torch.count_nonzero(again.states_in[0]) == 0


@pytest.mark.parametrize(("critic", "time_input"),
                         [("shared", False), ("shared", True), ("separate", False), ("detached", False)])
def test_training_recomputes_what_acting_saw(critic, time_input):
    agent = RL2("bandits/k3-n6", seed=1, device="cpu", critic=critic, time_input=time_input, **SMALL)
    trials = agent.run_trials(agent.split.train_tasks(agent.rng, 4), agent.rng)
    log_probs, values, _ = agent.evaluate_sequences(trials.inputs, trials.actions)
    torch.testing.assert_close(log_probs, trials.log_probs, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(values, trials.values, rtol=1e-5, atol=1e-5)
    assert trials.episode_returns().shape == (3, 4)
    assert (agent.net.value_core is not None) == (critic == "separate")
    if critic != "shared":  # the value alone: no gradient may reach the policy's core or actor
        values.sum().backward()
        assert all(p.grad is None for p in [*agent.net.core.parameters(), *agent.net.actor.parameters()])
        assert agent.net.critic.weight.grad is not None
    if time_input:  # the last input column is t / (episodes × horizon), the same for every trial
        length = trials.inputs.shape[0]
        expected = (torch.arange(length, dtype=torch.float32) / length).view(-1, 1).expand(length, 4)
        torch.testing.assert_close(trials.inputs[..., -1], expected)
        agent.act(np.zeros(agent.observation_space.shape, dtype=np.float32))  # the one-step API sees it too


def test_unknown_critic_is_one_clear_error():
    with pytest.raises(ConfigError, match="'critic' for agent 'rl2': 'seperate'.*Did you mean: separate"):
        RL2("bandits/k3-n6", seed=0, device="cpu", critic="seperate", **SMALL)


@pytest.mark.parametrize("critic", ["separate", "detached"])
def test_trpo_outer_step_stays_in_the_trust_region_and_adam_fits_only_the_value(critic):
    """outer_optimizer=trpo: the policy's step keeps the mean KL(π_old ‖ π_new) over the trials'
    valid steps within max_kl and improves the surrogate when accepted; the value fit never moves
    the policy's parameters."""
    agent = RL2("bandits/k3-n6", seed=1, device="cpu", critic=critic, outer_optimizer="trpo", max_kl=0.02,
                **{**SMALL, "trials_per_iteration": 16})
    adam_held = {id(p) for group in agent.optimizer.param_groups for p in group["params"]}
    assert adam_held.isdisjoint(id(p) for p in agent.policy_params)
    assert {id(p) for p in agent.net.parameters()} == adam_held | {id(p) for p in agent.policy_params}
    trials = agent.run_trials(agent.split.train_tasks(agent.rng, 16), agent.rng)
    with torch.no_grad():
        old_dist, _ = agent.net.trials(trials.inputs)
    before = [p.detach().clone() for p in agent.net.parameters()]
    stats = dict(agent.update(trials))
    with torch.no_grad():
        new_dist, _ = agent.net.trials(trials.inputs)
    mask = torch.as_tensor(trials.mask)
    kl = float((torch.distributions.kl_divergence(old_dist, new_dist) * mask).sum() / mask.sum())
    assert stats["train/accepted"] == 1.0 and 0 < kl <= 0.02 * (1 + 1e-4)
    assert abs(kl - stats["train/kl"]) < 1e-6  # the line search's KL is the one measured here
    advantages, _, _ = agent.advantages(trials)
    ratio = torch.exp(new_dist.log_prob(trials.actions) - trials.log_probs)
    assert float((ratio * advantages * mask).sum()) > float((advantages * mask).sum())  # the surrogate rose
    moved = [not torch.equal(a, b) for a, b in zip(before, agent.net.parameters())]
    assert all(moved)  # the policy by the trust-region step, the value function by Adam


def test_trpo_outer_step_refuses_a_shared_critic():
    with pytest.raises(ConfigError, match="critic separate or detached with outer_optimizer=trpo"):
        RL2("bandits/k3-n6", seed=0, device="cpu", critic="shared", outer_optimizer="trpo", **SMALL)


def test_held_out_tasks_unseen_and_resume_equals_uninterrupted():
    per_iteration = 4 * 3 * 6
    straight = RL2("bandits/k3-n6", seed=2, device="cpu", **SMALL).learn(3 * per_iteration)
    held_out = set(straight.split.test_tasks(1000).seeds.tolist())
    assert not set(straight.last_task_seeds.tolist()) & held_out
    first = RL2("bandits/k3-n6", seed=2, device="cpu", **SMALL).learn(2 * per_iteration)
    state = first.state_dict(include_training_state=True)  # the checkpoint, taken when first stops
    resumed = RL2("bandits/k3-n6", seed=9, device="cpu", **SMALL)
    resumed.load_state_dict(state)
    resumed.learn(per_iteration)
    for a, b in zip(straight.net.parameters(), resumed.net.parameters()):
        assert torch.equal(a, b)
    result = straight.meta_test(n_tasks=20)
    assert len(result["episode_returns"]) == 3 and 0 <= result["trial_return"] <= 18


def test_recurrent_core_step_equals_sequence_and_reset_rows():
    torch.manual_seed(0)
    for kind in ("gru", "lstm"):
        core = RecurrentCore(3, 5, kind)
        x = torch.randn(4, 2, 3)
        seq, _ = core(x, core.initial_state(2))
        state = core.initial_state(2)
        for t in range(4):
            out, state = core.step(x[t], state)
            torch.testing.assert_close(out, seq[t])
        reset = RecurrentCore.reset(state, torch.tensor([True, False]))
        h = reset[0] if isinstance(reset, tuple) else reset
        h_before = state[0] if isinstance(state, tuple) else state
        assert torch.count_nonzero(h[:, 0]) == 0 and torch.equal(h[:, 1], h_before[:, 1])
    with pytest.raises(ValueError, match="accepted: gru, lstm"):
        RecurrentCore(3, 5, "rnn")


@pytest.mark.slow
def test_rl2_learns_to_explore_bandits():
    """k = 5, n = 10: random earns 5.0, the paper's RL² 6.7; >= 2 of 3 seeds above 5.8 after 160 updates."""

    def score(seed: int) -> float:
        agent = RL2("bandits/k5-n10", seed=seed, device="cpu", lr=3e-3)
        agent.learn(160 * 256 * 10)
        return float(agent.meta_test(1000)["trial_return"])

    assert_quorum("rl2 bandits k5-n10", score, (0, 1, 2), threshold=5.8)
