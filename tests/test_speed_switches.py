"""Each speed switch computes the same thing with the trick off: the trained weights agree.

Fused Adam and the multi-tensor RMSprop reorder floating-point work, so agreement is to rounding
(not bit for bit); the Numba acting path is tested against the torch policy in tests/test_acting.py.
"""

from __future__ import annotations

import pytest
import torch

import rlsuite


def _weights(agent, module: str) -> torch.Tensor:
    # reshape, not parameters_to_vector's view: channels-last conv weights are not row-major
    return torch.cat([p.detach().reshape(-1) for p in getattr(agent, module).parameters()])


@pytest.mark.parametrize(("name", "env", "module", "optimizer", "steps", "hparams"), [
    ("ppo", "CartPole-v1", "policy", "optimizer",
     512, dict(n_envs=4, n_steps=64, batch_size=64, n_epochs=2, runtime={"numba_acting": False})),
    ("a2c", "CartPole-v1", "policy", "optimizer",
     200, dict(n_envs=4, n_steps=5, optimizer="rmsprop", runtime={"numba_acting": False})),
    ("dqn", "CartPole-v1", "q_net", "optimizer",
     300, dict(learning_starts=100, train_freq=4, batch_size=32, net={"widths": [32, 32]})),
    ("ddpg", "Pendulum-v1", "actor", "actor_optimizer",
     300, dict(learning_starts=100, batch_size=32, net={"widths": [32, 32]})),
])
def test_fused_optimizer_switch_gives_the_same_weights(name, env, module, optimizer, steps, hparams):
    hparams = dict(hparams)
    runtime = hparams.pop("runtime", {})
    trained = []
    for fused in (True, False):
        agent = rlsuite.make_agent(name, env=env, tuned=False, seed=3, device="cpu",
                                   runtime={**runtime, "fused_optimizer": fused}, **hparams)
        multi_tensor = getattr(agent, optimizer).defaults
        assert bool(multi_tensor.get("fused") or multi_tensor.get("foreach")) == fused  # the switch takes effect
        before = _weights(agent, module).clone()
        agent.learn(steps)
        trained.append((before, _weights(agent, module)))
    (start_on, on), (start_off, off) = trained
    assert torch.equal(start_on, start_off)
    assert not torch.equal(on, start_on)  # it trained
    torch.testing.assert_close(on, off, rtol=1e-4, atol=1e-5)


def test_channels_last_switch_gives_the_same_q_values_and_weights():
    """DQN's ``runtime.channels_last`` (NHWC convolutions) against torch's default layout on Pong frames: the
    same network values to rounding, and the same weights after training with the same random actions."""
    pytest.importorskip("ale_py")
    trained = []
    for channels_last in (True, False):
        agent = rlsuite.make_agent("dqn", env="Pong", seed=5, device="cpu", buffer_size=2_000, learning_starts=64,
                                   exploration_initial_eps=1.0, exploration_final_eps=1.0,
                                   runtime={"channels_last": channels_last})
        conv = agent.q_net.body.conv[0].weight
        assert conv.is_contiguous(memory_format=torch.channels_last) == channels_last  # the switch takes effect
        agent.learn(192)  # 32 updates
        frames = torch.from_numpy(agent.buffer.sample(16).obs)
        with torch.no_grad():
            trained.append((_weights(agent, "q_net"), agent.q_net(frames), frames))
    (on, q_on, frames_on), (off, q_off, frames_off) = trained
    assert torch.equal(frames_on, frames_off)  # same data went in
    torch.testing.assert_close(q_on, q_off, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(on, off, rtol=1e-4, atol=1e-5)


def test_ppo_channels_last_switch_gives_the_same_policy_and_weights():
    """PPO's ``runtime.channels_last`` on Pong frames: the same logits and values to rounding, and the same
    weights after a few updates (EnvPool not needed: the ale-py backend)."""
    pytest.importorskip("ale_py")
    trained = []
    for channels_last in (True, False):
        agent = rlsuite.make_agent("ppo", env="Pong", seed=5, device="cpu", tuned=False, n_envs=2, n_steps=32,
                                   batch_size=32, n_epochs=2, runtime={"channels_last": channels_last})
        conv = agent.policy.actor_trunk.encoder.conv[0].weight
        assert conv.is_contiguous(memory_format=torch.channels_last) == channels_last  # the switch takes effect
        agent.learn(128)  # 2 rollouts, 8 minibatch updates
        frames = torch.from_numpy(agent.buffer.obs[:4].reshape(-1, *agent.buffer.obs.shape[2:]))
        with torch.no_grad():
            logits, values = agent.policy(frames)
        trained.append((_weights(agent, "policy"), logits, values))
        agent.close()
    (on, logits_on, values_on), (off, logits_off, values_off) = trained
    torch.testing.assert_close(logits_on, logits_off, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(values_on, values_off, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(on, off, rtol=1e-4, atol=1e-4)


def test_bfloat16_precision_runs_the_trunks_in_bf16_and_the_rest_in_float32():
    """``runtime.precision=bfloat16``: the trunks autocast (their outputs within bf16 rounding of float32),
    heads, log-probs and values in float32, the float32 Numba acting path off; and it trains."""
    agents = {p: rlsuite.make_agent("ppo", env="CartPole-v1", seed=2, device="cpu", n_envs=2, n_steps=32,
                                    batch_size=32, runtime={"precision": p}) for p in ("float32", "bfloat16")}
    fast, plain = agents["bfloat16"], agents["float32"]
    assert fast.numba_actor is None and plain.numba_actor is not None
    obs = torch.randn(64, 4)
    with torch.no_grad():
        features_fast, features_plain = fast.policy.actor_trunk(obs), plain.policy.actor_trunk(obs)
        (logits, values), (logits_plain, values_plain) = fast.policy(obs), plain.policy(obs)
    assert features_fast.dtype == logits.dtype == values.dtype == torch.float32
    torch.testing.assert_close(features_fast, features_plain, rtol=0.02, atol=0.02)  # bf16: 8 bits of mantissa
    torch.testing.assert_close(logits, logits_plain, rtol=0.05, atol=0.05)
    torch.testing.assert_close(values, values_plain, rtol=0.05, atol=0.05)
    before = _weights(fast, "policy").clone()
    fast.learn(256)
    after = _weights(fast, "policy")
    assert torch.isfinite(after).all() and not torch.equal(before, after)
    for agent in agents.values():
        agent.close()
