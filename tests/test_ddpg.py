"""DDPG / TD3: the mathematics on tiny hand-checkable inputs (clipped double-Q target, tanh scaling to
the Box bounds, Polyak updates, policy-delay counting, target-smoothing noise clipping, OU noise),
the update wired to that mathematics, presets/config, checkpoints and bit-identical resume, and
learning tests (Pendulum-v1 ≥ −250) that must actually learn."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch
from rlsuite.agents.ddpg import (
    DDPG,
    TD3,
    OrnsteinUhlenbeckNoise,
    scale_action,
    smoothed_target_actions,
    td3_target,
    unscale_action,
)
from torch import nn

import rlsuite
from rlsuite.buffers import to_torch
from rlsuite.errors import IncompatibleEnvError
from rlsuite.targets import polyak_update
from tests.learning import assert_quorum, seed_sets

torch.set_num_threads(1)

TINY = dict(net={"widths": [16, 16]}, batch_size=8, learning_starts=10, buffer_size=1000)


# --------------------------------------------------------------------------- pure mathematics


def test_td3_target_takes_min_of_twin_critics_and_masks_terminals():
    rewards = torch.tensor([1.0, 0.5, -1.0])
    discounts = torch.tensor([0.9, 0.0, 0.9])  # the second transition terminated
    next_q = torch.tensor([[2.0, 3.0, -4.0],  # Q'_1(s', ã)
                           [1.5, 4.0, -2.0]])  # Q'_2(s', ã)
    # y = r + γ(1 − d) min(Q'_1, Q'_2): 1 + 0.9·1.5, 0.5 + 0, −1 + 0.9·(−4)
    expected = torch.tensor([2.35, 0.5, -4.6])
    torch.testing.assert_close(td3_target(rewards, discounts, next_q), expected)
    # one critic (DDPG): the plain bootstrap
    torch.testing.assert_close(td3_target(rewards, discounts, next_q[1:]), torch.tensor([2.35, 0.5, -2.8]))


def test_scale_action_maps_tanh_range_to_box_bounds():
    low, high = np.array([-2.0, 0.0]), np.array([2.0, 10.0])
    normalized = np.array([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0], [0.5, -0.5]])
    env_actions = scale_action(normalized, low, high)
    np.testing.assert_allclose(env_actions, [[-2.0, 0.0], [2.0, 10.0], [0.0, 5.0], [1.0, 2.5]])
    np.testing.assert_allclose(unscale_action(env_actions, low, high), normalized)


def test_actor_actions_stay_inside_asymmetric_bounds():
    env = gym.wrappers.RescaleAction(gym.make("Pendulum-v1"), min_action=np.float32(0.5), max_action=np.float32(3.0))
    agent = DDPG(env, seed=0, device="cpu", **TINY)
    with torch.no_grad():  # saturate the tanh both ways
        agent.actor.mlp.net[-1].bias.fill_(100.0)
    obs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(agent.act(obs), 3.0)
    with torch.no_grad():
        agent.actor.mlp.net[-1].bias.fill_(-100.0)
    np.testing.assert_allclose(agent.act(obs), 0.5)
    assert agent.act(obs[0]).shape == (1,)  # a single observation gives a single action
    noisy = agent.act(obs, deterministic=False)
    assert np.all(noisy >= 0.5) and np.all(noisy <= 3.0)


def test_polyak_update_is_the_convex_combination():
    online, target = nn.Linear(2, 1), nn.Linear(2, 1)
    with torch.no_grad():
        online.weight.copy_(torch.tensor([[1.0, 2.0]]))
        online.bias.fill_(4.0)
        target.weight.copy_(torch.tensor([[3.0, -2.0]]))
        target.bias.fill_(0.0)
    polyak_update(online, target, tau=0.25)  # θ' ← 0.25 θ + 0.75 θ'
    torch.testing.assert_close(target.weight, torch.tensor([[2.5, -1.0]]))
    torch.testing.assert_close(target.bias, torch.tensor([1.0]))
    polyak_update(online, target, tau=0.0)  # no-op
    torch.testing.assert_close(target.bias, torch.tensor([1.0]))
    polyak_update(online, target, tau=1.0)  # DQN's hard copy
    assert torch.equal(target.weight, online.weight) and torch.equal(target.bias, online.bias)
    with pytest.raises(ValueError):
        polyak_update(online, target, tau=1.5)


def test_target_smoothing_noise_is_clipped_then_actions_clipped():
    target_actions = torch.tensor([0.9, -0.2, 0.0, -0.95])
    noise = torch.tensor([5.0, -5.0, 1.0, -0.1])  # standard normal draws; × 0.2 = [1, −1, 0.2, −0.02]
    smoothed = smoothed_target_actions(target_actions, noise_std=0.2, noise_clip=0.5, noise=noise)
    # noise clipped to ±0.5 → [0.5, −0.5, 0.2, −0.02]; sums [1.4, −0.7, 0.2, −0.97] clipped to [−1, 1]
    torch.testing.assert_close(smoothed, torch.tensor([1.0, -0.7, 0.2, -0.97]))
    torch.manual_seed(0)
    base = torch.zeros(100_000)
    drawn = smoothed_target_actions(base, noise_std=0.2, noise_clip=0.5)
    assert drawn.abs().max() <= 0.5 and (drawn.abs() == 0.5).any()  # clipping happens, and binds
    assert abs(drawn.std().item() - 0.2) < 0.01  # mostly inside ±2.5σ, so std ≈ σ


def test_ornstein_uhlenbeck_mean_reverts_and_resets_per_env():
    ou = OrnsteinUhlenbeckNoise((2, 1), sigma=0.0, theta=0.15, dt=0.01)
    ou.state[:] = 1.0
    x = ou(np.random.default_rng(0))
    np.testing.assert_allclose(x, 1.0 - 0.15 * 0.01)  # x + θ(0 − x)dt
    ou.reset(np.array([True, False]))
    np.testing.assert_allclose(ou.state[:, 0], [0.0, 1.0 - 0.15 * 0.01])
    # σ > 0: stationary std σ/√(2θ) (dt small) and positive autocorrelation
    ou = OrnsteinUhlenbeckNoise((1,), sigma=0.3, theta=0.15, dt=0.01)
    rng = np.random.default_rng(1)
    xs = np.array([ou(rng)[0] for _ in range(60_000)])[5_000:]
    assert 0.25 < xs.std() / (0.3 / np.sqrt(2 * 0.15)) < 1.75
    assert np.corrcoef(xs[:-1], xs[1:])[0, 1] > 0.99


# --------------------------------------------------------------------------- the update


def _filled_agent(cls: type, **kw) -> DDPG:
    agent = cls("Pendulum-v1", seed=0, device="cpu", **{**TINY, **kw})
    agent.learn(20)  # learning_starts=10: the buffer has data and a few updates happened
    return agent


def test_policy_delay_counts_critic_updates():
    agent = _filled_agent(TD3)
    assert agent.config.policy_delay == 2
    batch = to_torch(agent.buffer.sample(8))
    actor_changed, target_changed = [], []
    for _ in range(6):
        actor_before = copy.deepcopy(agent.actor.state_dict())
        target_before = copy.deepcopy(agent.critic_target.state_dict())
        updates_before = agent.updates
        agent.update(batch)
        assert agent.updates == updates_before + 1  # every call is one critic update
        actor_changed.append(any(not torch.equal(v, agent.actor.state_dict()[k]) for k, v in actor_before.items()))
        target_changed.append(any(not torch.equal(v, agent.critic_target.state_dict()[k])
                                  for k, v in target_before.items()))
    expected = [(agent.updates - 6 + i + 1) % 2 == 0 for i in range(6)]
    assert actor_changed == expected and target_changed == expected
    ddpg = _filled_agent(DDPG)
    before = copy.deepcopy(ddpg.actor.state_dict())
    ddpg.update(batch)
    assert all(not torch.equal(v, ddpg.actor.state_dict()[k]) for k, v in before.items() if v.ndim == 2)


def _constant_critics(critics: nn.Module, values: list[float]) -> None:
    with torch.no_grad():
        for q, value in zip(critics.qs, values):
            for p in q.parameters():
                p.zero_()
            q.net[-1].bias.fill_(value)


def test_update_uses_clipped_double_q_target():
    agent = _filled_agent(TD3, gamma=0.9, log_interval=1)
    _constant_critics(agent.critic_target, [1.0, 3.0])  # min over critics: 1
    _constant_critics(agent.critic, [0.5, 2.0])
    batch = to_torch(agent.buffer.sample(8))
    y = batch.rewards + batch.discounts * 1.0
    expected = ((0.5 - y) ** 2).mean() + ((2.0 - y) ** 2).mean()
    records = []
    agent.logger = type("L", (), {"record": lambda self, m: records.append(m)})()
    agent.finish_update(agent.update(batch))
    assert records and records[0]["loss/critic"] == pytest.approx(expected.item(), rel=1e-5)
    torch.testing.assert_close(batch.discounts, torch.full((8,), 0.9))  # Pendulum never terminates: γ everywhere


def test_presets_and_zoo_config():
    assert TD3.preset == {"twin_critics": True, "policy_delay": 2, "target_noise": 0.2, "target_noise_clip": 0.5}
    agent = DDPG("Pendulum-v1", seed=0, device="cpu", **TINY)
    assert len(agent.critic.qs) == 1 and agent.config.policy_delay == 1 and agent.config.target_noise == 0
    assert len(TD3("Pendulum-v1", seed=0, device="cpu", **TINY).critic.qs) == 2
    from rlsuite.config import compose

    cfg = compose(["agent=td3", "env=Pendulum-v1"])
    assert cfg.agent.learning_starts == 10_000 and list(cfg.agent.net.widths) == [400, 300]
    assert cfg.agent.gamma == 0.98 and cfg.agent.twin_critics and cfg.agent.policy_delay == 2


def test_rejects_discrete_actions():
    with pytest.raises(IncompatibleEnvError, match="continuous"):
        rlsuite.make_agent("td3", env="CartPole-v1")


def test_save_load_acts_identically(tmp_path):
    agent = _filled_agent(TD3, action_noise="ornstein_uhlenbeck")
    obs = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    path = agent.save(tmp_path / "model")
    loaded = rlsuite.load(path, device="cpu")
    assert isinstance(loaded, TD3)
    np.testing.assert_array_equal(loaded.act(obs), agent.act(obs))


def test_resume_is_bit_identical(tmp_path):
    common = ["agent=td3", "env=Pendulum-v1", "device=cpu", "seed=3", "checkpoint_every=150", "logger=[]",
              "eval_episodes=1", "submit=false", "agent.net.widths=[16,16]", "agent.batch_size=16",
              "agent.learning_starts=100", "agent.action_noise=ornstein_uhlenbeck"]
    full = rlsuite.train([*common, "total_steps=300", f"run_dir={tmp_path / 'full'}"])
    half = rlsuite.train([*common, "total_steps=150", f"run_dir={tmp_path / 'half'}"])
    resumed = rlsuite.train([f"resume={half.dir}", "total_steps=300"])
    assert resumed.agent.steps == full.agent.steps == 300 and resumed.agent.updates == full.agent.updates
    for name in ("actor", "critic", "critic_target"):
        a, b = getattr(full.agent, name).state_dict(), getattr(resumed.agent, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_bfloat16_precision_updates():
    agent = _filled_agent(TD3, runtime={"precision": "bfloat16"})
    before = copy.deepcopy(agent.critic.state_dict())
    agent.update(to_torch(agent.buffer.sample(8)))
    assert agent.critic.qs[0].net[0].weight.dtype == torch.float32  # fp32 master weights
    assert any(not torch.equal(v, agent.critic.state_dict()[k]) for k, v in before.items())


@pytest.mark.gpu
def test_cuda_update_runs_on_device():
    agent = TD3("Pendulum-v1", seed=0, device="cuda", n_envs=2, **TINY)
    agent.learn(40)
    assert next(agent.critic.parameters()).is_cuda and agent.updates > 0
    assert agent.act(np.zeros((2, 3), np.float32)).shape == (2, 1)


# --------------------------------------------------------------------------- learning

# Small nets and an early start keep these at a few seconds of updates each; the zoo budget
# (20k steps, [400, 300], start 10k) is in benchmarks/offpolicy.py.
FAST = dict(net={"widths": [64, 64]}, gamma=0.98, learning_starts=1000, batch_size=128, buffer_size=20_000)


def pendulum_return(name: str, steps: int, seed: int) -> float:
    agent = rlsuite.make_agent(name, env="Pendulum-v1", tuned=False, seed=seed, device="cpu", **FAST)
    agent.learn(steps)
    return rlsuite.evaluate(agent, episodes=10, seed=1000).mean


@pytest.mark.parametrize("seeds", seed_sets())
@pytest.mark.parametrize(("name", "steps"), [("ddpg", 6000), ("td3", 9000)])
def test_learns_pendulum(name, steps, seeds):
    assert_quorum(f"{name}_pendulum", lambda seed: pendulum_return(name, steps, seed), seeds, threshold=-250)
