"""The policy protocol (rlsuite.policies / rlsuite.recurrent_policy): feed-forward state is None; a
recurrent policy's sequence evaluation equals step-by-step acting, states zeroed at episode starts."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlsuite
from rlsuite.errors import ConfigError
from rlsuite.policies import ActorCritic
from rlsuite.recurrent_policy import RecurrentActorCritic
from tests.learning import assert_quorum

OBS = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)


def test_feed_forward_policy_carries_no_state() -> None:
    torch.manual_seed(0)
    policy = ActorCritic(OBS, gym.spaces.Discrete(2))
    obs = torch.randn(5, 3)
    assert policy.initial_state(5) is None
    actions, log_probs, values, state = policy.step(obs, None, torch.ones(5, dtype=torch.bool))
    assert state is None
    seq_log_probs, entropy, seq_values = policy.sequence(obs, actions, None, None)
    torch.testing.assert_close(seq_log_probs, log_probs)
    torch.testing.assert_close(seq_values, values)
    assert entropy.shape == (5,)


@pytest.mark.parametrize("segment_unroll", [True, False])
@pytest.mark.parametrize("core", ["lstm", "gru"])
@pytest.mark.parametrize(("kind", "action_space"), [
    ("memory", gym.spaces.Discrete(3)),
    ("memory", gym.spaces.Box(-1.0, 1.0, (2,), np.float32)),
    ("controller", gym.spaces.Discrete(3)),
])
def test_sequence_equals_step_by_step_acting(core: str, kind: str, action_space: gym.Space,
                                             segment_unroll: bool) -> None:
    torch.manual_seed(1)
    memory = kind == "memory"
    policy = RecurrentActorCritic(OBS, action_space, hidden=8, core=core, embed_dim=None if memory else 4,
                                  net_arch=[16] if memory else [], critic_core=memory, segment_unroll=segment_unroll)
    T, B = 12, 4
    obs = torch.randn(T, B, 3)
    starts = torch.rand(T, B) < 0.25  # episodes begin mid-sequence: the state must be zeroed there
    starts[0, :2] = True  # the other envs continue episodes from a stored, non-zero state
    starts[:, 3] = False  # and one env has no episode start at all: one segment
    with torch.no_grad():
        state0 = tuple(0.5 * torch.randn_like(part) for part in policy.initial_state(B))
    state, acted = state0, []
    with torch.no_grad():
        for t in range(T):
            actions, log_probs, values, state = policy.step(obs[t], state, starts[t])
            acted.append((actions, log_probs, values))
    actions = torch.stack([a for a, _, _ in acted])
    log_probs, entropy, values = policy.sequence(obs.flatten(0, 1), actions.flatten(0, 1), state0, starts)
    torch.testing.assert_close(log_probs.view(T, B), torch.stack([lp for _, lp, _ in acted]), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(values.view(T, B), torch.stack([v for _, _, v in acted]), atol=1e-6, rtol=1e-6)
    assert torch.isfinite(entropy).all()
    log_probs.sum().backward()  # training goes through the cores
    assert policy.core.rnn.weight_hh_l0.grad is not None

    # an episode start really forgets: after a start, the outputs do not depend on what came before
    other = obs.clone()
    first_start = int(torch.nonzero(starts[1:, 0])[0, 0]) + 1 if starts[1:, 0].any() else None
    if first_start is not None:
        other[:first_start, 0] += 1.0
        again, _, _ = policy.sequence(other.flatten(0, 1), actions.flatten(0, 1), state0, starts)
        torch.testing.assert_close(again.view(T, B)[first_start:, 0], log_probs.view(T, B)[first_start:, 0])


def test_a_recurrent_policy_is_refused_at_config_time_where_unsupported() -> None:
    with pytest.raises(ConfigError, match="does not use agent.net.recurrent"):
        rlsuite.make_agent("trpo", env="CartPole-v1", net={"recurrent": "lstm", "recurrent_kind": "memory"})
    with pytest.raises(ConfigError, match="whole env sequences"):
        rlsuite.make_agent("ppo", env="CartPole-v1", net={"recurrent": "lstm"}, n_steps=32, batch_size=48)


@pytest.mark.parametrize("agent_name", ["ppo", "a2c", "reinforce"])
def test_agents_train_and_act_with_a_memory_policy(agent_name: str) -> None:
    agent = rlsuite.make_agent(agent_name, env="CartPoleNoVel-v1", seed=0, tuned=False,
                               net={"recurrent": "gru", "recurrent_kind": "memory", "recurrent_hidden": 8,
                                    "widths": [8]}, n_envs=2, n_steps=8,
                               **({"batch_size": 8, "n_epochs": 2} if agent_name == "ppo" else {}))
    agent.learn(total_steps=64)
    assert agent.rollout_state is not None and agent.rollout_state[0].shape == (1, 2, 8)
    agent.begin_episode()
    obs = np.zeros((1, 2), np.float32)
    assert agent.act(obs).shape == (1,)
    assert agent.act_state is not None


@pytest.mark.slow
@pytest.mark.parametrize("seeds", [(0, 1, 2)])
def test_recurrent_ppo_learns_cartpole_without_velocities(seeds: tuple[int, ...]) -> None:
    """The configs/env/CartPoleNoVel-v1.yaml recipe (rl-zoo3's RecurrentPPO settings) at its 100k
    budget; a feed-forward policy sees one frame of positions and cannot balance the pole for long."""

    def score(seed: int) -> float:
        agent = rlsuite.make_agent("ppo", env="CartPoleNoVel-v1", seed=seed, device="cpu")
        agent.learn()
        return rlsuite.evaluate(agent, episodes=10, seed=1000).mean

    assert_quorum("recurrent_ppo_cartpole_novel", score, seeds, threshold=200)


@pytest.mark.parametrize("core", ["lstm", "gru"])
def test_segment_unroll_gives_the_per_step_values_and_gradients(core: str) -> None:
    """runtime.segment_unroll (one padded core call over the episode segments) against its off
    switch (one call per step): the same log-probabilities, values and gradients to rounding, on
    a PPO-sized minibatch with many episode starts."""
    results = []
    for segment_unroll in (True, False):
        torch.manual_seed(3)
        policy = RecurrentActorCritic(OBS, gym.spaces.Discrete(2), hidden=16, core=core, embed_dim=None,
                                      net_arch=[16], critic_core=True, segment_unroll=segment_unroll)
        generator = torch.Generator().manual_seed(4)
        T, B = 32, 8
        obs = torch.randn(T, B, 3, generator=generator)
        starts = torch.rand(T, B, generator=generator) < 0.1
        actions = torch.randint(0, 2, (T * B,), generator=generator)
        state0 = tuple(0.3 * torch.randn(part.shape, generator=generator) for part in policy.initial_state(B))
        log_probs, entropy, values = policy.sequence(obs, actions, state0, starts)
        (log_probs.sum() + values.square().sum() + entropy.sum()).backward()
        grads = [p.grad.clone() for p in policy.parameters() if p.grad is not None]
        results.append((log_probs.detach(), values.detach(), grads))
    (lp_a, v_a, g_a), (lp_b, v_b, g_b) = results
    torch.testing.assert_close(lp_a, lp_b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(v_a, v_b, atol=1e-5, rtol=1e-5)
    assert len(g_a) == len(g_b) > 0
    for a, b in zip(g_a, g_b):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_segment_unroll_has_an_off_switch_in_the_runtime_config() -> None:
    net = {"recurrent": "gru", "recurrent_kind": "memory", "recurrent_hidden": 8, "widths": [8]}
    on = rlsuite.make_agent("ppo", env="CartPoleNoVel-v1", tuned=False, net=net, n_envs=2, n_steps=8, batch_size=8)
    off = rlsuite.make_agent("ppo", env="CartPoleNoVel-v1", tuned=False, net=net, n_envs=2, n_steps=8, batch_size=8,
                             runtime={"segment_unroll": False})
    assert on.policy.segment_unroll and not off.policy.segment_unroll
