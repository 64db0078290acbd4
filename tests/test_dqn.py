"""DQN family: the target mathematics on hand-checkable tensors, every flag combination, the
Rainbow preset, checkpoints and resume, and a CartPole learning test."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
import torch
from rlsuite.agents.dqn import (
    DQN,
    DQNConfig,
    QNetwork,
    Rainbow,
    bootstrap_q,
    c51_target_distribution,
    td_targets,
)
from torch.nn import functional as F

import rlsuite
from rlsuite.buffers import ReplayBuffer
from rlsuite.config import NetConfig
from rlsuite.losses import elementwise_td_loss
from rlsuite.nets import NoisyLinear
from tests.learning import assert_quorum, seed_sets

TINY = dict(net={"widths": [16]}, batch_size=16, learning_starts=50, buffer_size=2000, train_freq=8,
            target_update_interval=50, n_atoms=11, lr=1e-3)


# ----------------------------------------------------------------------------- targets
def test_double_dqn_target_uses_online_argmax_and_target_value():
    q_online_next = torch.tensor([[5.0, 1.0]])
    q_target_next = torch.tensor([[0.0, 3.0]])
    # double: the online net picks action 0, the target net values it at 0
    assert bootstrap_q(q_target_next, q_online_next).item() == 0.0
    # vanilla: max over the target net
    assert bootstrap_q(q_target_next).item() == 3.0
    y = td_targets(torch.tensor([1.0]), torch.tensor([0.9]), bootstrap_q(q_target_next, q_online_next))
    assert y.item() == pytest.approx(1.0)
    y = td_targets(torch.tensor([1.0]), torch.tensor([0.9]), bootstrap_q(q_target_next))
    assert y.item() == pytest.approx(1.0 + 0.9 * 3.0)


def test_terminal_transitions_do_not_bootstrap():
    y = td_targets(torch.tensor([2.0, 2.0]), torch.tensor([0.0, 0.99]), torch.tensor([100.0, 100.0]))
    torch.testing.assert_close(y, torch.tensor([2.0, 2.0 + 99.0]))


def test_huber_and_mse_losses():
    td = torch.tensor([0.5, -2.0, 3.0])
    torch.testing.assert_close(elementwise_td_loss(td, "huber"), torch.tensor([0.125, 1.5, 2.5]))
    torch.testing.assert_close(elementwise_td_loss(td, "mse"), torch.tensor([0.25, 4.0, 9.0]))


def brute_force_projection(probs, reward, discount, support):
    """Algorithm 1 of Bellemare et al. 2017, one atom at a time."""
    v_min, v_max, n = float(support[0]), float(support[-1]), len(support)
    dz = (v_max - v_min) / (n - 1)
    out = np.zeros(n)
    for j in range(n):
        tz = min(max(reward + discount * float(support[j]), v_min), v_max)
        b = (tz - v_min) / dz
        lo, hi = int(np.floor(b + 1e-9)), int(np.ceil(b - 1e-9))
        if lo == hi:
            out[lo] += probs[j]
        else:
            out[lo] += probs[j] * (hi - b)
            out[hi] += probs[j] * (b - lo)
    return out


def test_c51_target_matches_brute_force_with_clipping_terminals_and_double():
    support = torch.linspace(-2.0, 2.0, 5)  # atoms -2 -1 0 1 2
    g = torch.Generator().manual_seed(0)
    logits_target = torch.randn(4, 3, 5, generator=g, dtype=torch.float64)
    logits_online = torch.randn(4, 3, 5, generator=g, dtype=torch.float64)
    # rewards push atoms outside [-2, 2] (row 0: +1.5 shifts the top atoms past v_max, row 1 below
    # v_min), row 2 is terminal (all mass on the clipped reward), row 3 lands between atoms
    rewards = torch.tensor([1.5, -1.7, 0.3, 0.25], dtype=torch.float64)
    discounts = torch.tensor([0.9, 0.9, 0.0, 0.5], dtype=torch.float64)
    for online in (None, logits_online):
        got = c51_target_distribution(logits_target, rewards, discounts, support.double(), online)
        chooser = (logits_target if online is None else online).softmax(-1)
        best = (chooser * support.double()).sum(-1).argmax(1)
        for i in range(4):
            probs = logits_target[i, best[i]].softmax(-1).numpy()
            want = brute_force_projection(probs, float(rewards[i]), float(discounts[i]), support.numpy())
            np.testing.assert_allclose(got[i].numpy(), want, atol=1e-12)
            assert got[i].sum().item() == pytest.approx(1.0)
    # the terminal row puts everything on the atoms around r = 0.3: 0.7 on 0 and 0.3 on 1
    got = c51_target_distribution(logits_target, rewards, discounts, support.double())
    np.testing.assert_allclose(got[2].numpy(), [0, 0, 0.7, 0.3, 0], atol=1e-12)


def test_n_step_returns_and_discounts_from_the_replay():
    """Rewards 1, 2, 3, 4 with a termination after the 4th step; n = 3, γ = 0.5."""
    gamma, n = 0.5, 3
    buf = ReplayBuffer(100, (1,), np.float32, n_step=n, gamma=gamma, seed=0)
    rewards = [1.0, 2.0, 3.0, 4.0]
    for t, r in enumerate(rewards):
        buf.add(np.array([[t]], np.float32), np.array([0]), np.array([r]), np.array([[t + 1]], np.float32),
                np.array([t == 3]), np.array([False]))
    batch = buf.sample(64)
    seen = set()
    for obs, ret, nxt, disc in zip(batch.obs[:, 0], batch.rewards, batch.next_obs[:, 0], batch.discounts):
        t = int(obs)
        k = min(n, 4 - t)
        want = sum(gamma**i * rewards[t + i] for i in range(k))
        assert ret == pytest.approx(want) and nxt == t + k
        assert disc == pytest.approx(0.0 if t + k == 4 else gamma**n)
        seen.add(t)
    assert seen == {0, 1, 2, 3}
    # the TD target of t = 0 with V(s_3) = 10: 1 + 0.5·2 + 0.25·3 + 0.125·10
    y = td_targets(torch.tensor([1 + 1 + 0.75]), torch.tensor([0.125]), torch.tensor([10.0]))
    assert y.item() == pytest.approx(4.0)


# ----------------------------------------------------------------------------- network
def test_dueling_network_mean_over_actions_is_the_value():
    space = gym.spaces.Box(-1, 1, (4,), np.float32)
    net = QNetwork(space, 3, DQNConfig(dueling=True, net=NetConfig(widths=[8, 8])))
    x = torch.randn(5, 4)
    q = net(x)
    value = net.head.value(net.body(x)).squeeze(-1)
    torch.testing.assert_close(q.mean(dim=1), value)


def test_noisy_network_is_plain_linear_without_noise_and_acts_on_mean_weights():
    agent = rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, device="cpu", noisy=True, net={"widths": [8]})
    layers = [m for m in agent.q_net.modules() if isinstance(m, NoisyLinear)]
    assert len(layers) == 2  # both fully connected layers of the head
    x = torch.randn(6, 4)
    for layer in layers:
        layer.zero_noise()
    hidden, out = layers
    want = F.linear(torch.relu(F.linear(x, hidden.weight_mu, hidden.bias_mu)), out.weight_mu, out.bias_mu)
    torch.testing.assert_close(agent.q_net(x), want)
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    greedy = agent.act(obs)
    for layer in layers:
        layer.reset_noise()
    np.testing.assert_array_equal(agent.act(obs), greedy)  # deterministic: noise ignored
    assert agent.epsilon == 0.0  # no ε-greedy on top of noisy nets


def test_plain_dqn_network_is_an_mlp_and_atari_gets_nature_cnn():
    agent = rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, device="cpu", net={"widths": [32, 16]})
    linears = [m for m in agent.q_net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(4, 32), (32, 16), (16, 2)]
    assert agent.frames_per_step == 1
    obs_space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    net = QNetwork(obs_space, 6, DQNConfig())
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == 1_684_128 + 512 * 6 + 6  # Nature DQN exactly
    assert net(torch.zeros(2, 4, 84, 84, dtype=torch.uint8)).shape == (2, 6)


def test_act_single_and_batch_and_rejects_continuous_actions():
    agent = rlsuite.make_agent("rainbow", env="CartPole-v1", tuned=False, device="cpu", **TINY)
    obs = np.zeros(4, np.float32)
    assert np.ndim(agent.act(obs)) == 0
    assert agent.act(np.zeros((3, 4), np.float32), deterministic=False).shape == (3,)
    with pytest.raises(rlsuite.IncompatibleEnvError, match="discrete actions"):
        rlsuite.make_agent("dqn", env="Pendulum-v1")


# ----------------------------------------------------------------------------- every combination
FLAGS = ("double", "dueling", "prioritized", "noisy", "distributional")


@pytest.mark.parametrize("combo", list(itertools.product([False, True], repeat=5)),
                         ids=lambda c: "".join("DdPNC"[i] if on else "-" for i, on in enumerate(c)))
@pytest.mark.parametrize("n_step", [1, 3])
def test_every_flag_combination_trains(combo, n_step):
    flags = dict(zip(FLAGS, combo))
    agent = rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, seed=1, device="cpu", n_step=n_step, **flags,
                               **TINY)
    before = [p.detach().clone() for p in agent.q_net.parameters()]
    agent.learn(300)
    assert agent.steps == 300 and agent.updates == (300 - 56) // 8 + 1
    assert all(not torch.equal(a, b) for a, b in zip(before, agent.q_net.parameters()))
    assert all(torch.isfinite(p).all() for p in agent.q_net.parameters())
    if flags["prioritized"]:  # priorities were written back (not all at the initial max)
        leaves = agent.buffer.tree.leaves()[: agent.buffer.capacity]
        assert len(np.unique(leaves[leaves > 0])) > 10
    assert agent.act(np.zeros((2, 4), np.float32)).shape == (2,)
    agent.close()


def test_rainbow_preset_and_registry():
    agent = rlsuite.make_agent("rainbow", env="CartPole-v1", tuned=False, device="cpu", **TINY)
    assert isinstance(agent, Rainbow) and isinstance(agent, DQN)
    cfg = agent.config
    assert (cfg.double, cfg.dueling, cfg.prioritized, cfg.noisy, cfg.distributional, cfg.n_step) == (
        True, True, True, True, True, 3)
    assert agent.q_net(torch.zeros(1, 4)).shape == (1, 2, 11)  # C51 logits
    from rlsuite.config import compose

    composed = compose(["agent=rainbow", "env=CartPole-v1"])  # inherits the tuned dqn values
    assert composed.agent.lr == pytest.approx(2.3e-3) and composed.agent.noisy is True


def test_polyak_and_hard_target_updates():
    agent = rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, device="cpu", **TINY)
    online = [p.detach().clone() for p in agent.q_net.parameters()]
    with torch.no_grad():
        for p in agent.target_net.parameters():
            p.zero_()
    agent.update_target(0.25)
    for t, o in zip(agent.target_net.parameters(), online):
        torch.testing.assert_close(t, 0.25 * o)
    agent.update_target(1.0)
    for t, o in zip(agent.target_net.parameters(), online):
        torch.testing.assert_close(t, o)


# ----------------------------------------------------------------------------- persistence
def test_save_load_and_bit_identical_resume(tmp_path, monkeypatch):
    """Rainbow (PER, noise, n-step) killed right after its step-200 checkpoint and resumed ends
    bit for bit where the uninterrupted run does."""
    from rlsuite.run import TrainHooks

    common = ["agent=rainbow", "env=CartPole-v1", "device=cpu", "logger=[]", "eval_episodes=1", "submit=false",
              "agent.learning_starts=50", "agent.net.widths=[16]", "agent.n_atoms=11", "agent.batch_size=16",
              "agent.buffer_size=2000", "agent.train_freq=4", "agent.gradient_steps=1", "total_steps=400",
              "checkpoint_every=200"]
    full = rlsuite.train([*common, f"run_dir={tmp_path / 'a'}"])
    save = TrainHooks.save_checkpoint

    def save_then_die(self, agent):
        save(self, agent)
        raise KeyboardInterrupt

    monkeypatch.setattr(TrainHooks, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        rlsuite.train([*common, f"run_dir={tmp_path / 'b'}"])
    monkeypatch.undo()
    resumed = rlsuite.train([f"resume={tmp_path / 'b'}"])
    assert resumed.agent.steps == 400 and resumed.agent.updates == full.agent.updates
    for p, q in zip(full.agent.q_net.parameters(), resumed.agent.q_net.parameters()):
        assert torch.equal(p, q)
    loaded = rlsuite.load(tmp_path / "a")
    obs = np.random.default_rng(1).normal(size=(32, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.act(obs), full.agent.act(obs))


# ----------------------------------------------------------------------------- learning
# The rl-zoo3 recipe (bursts of updates every train_freq steps) at a smaller scale: a 128-unit net,
# 64-step rounds of 32 updates, double DQN, 30k steps (benchmarks/offpolicy.py runs the zoo config).
# The target net follows by Polyak averaging (τ = 0.01 per update) at lr 1e-3: with the zoo's hard
# copies every 10 steps at lr 2.3e-3, seeds collapsed (greedy 500 / 22 / 500 / 101 / 100 on seeds
# 0-4); with this recipe no seed of 0-5 ended below 216 (500 / 500 / 293 / 500 / 217 / 500,
# docs/tests.md). DQN on CartPole forgets: at a fixed budget some seeds sit between 200 and 475, so
# the threshold is "learned to balance", 200 (ten times a random policy's 22), not "solved" (475).
# The eager update: these seeds' outcomes are chaotic in float rounding, and the compiled step (the
# default at this budget: 14,496 gradient steps) rounds differently — under this machine's four float
# variants it gave 500 / 500 / 101, 500 / 214 / 94, 500 / 500 / 101 and 493 / 500 / 500, one seed
# too close to the threshold to be portable. The compiled step is the same update to rounding
# (tests/test_compiled_update.py); the CartPole recipe's five seeds run it (benchmarks/recipes.py).
DQN_CARTPOLE = dict(lr=1e-3, tau=0.01, batch_size=64, learning_starts=1000, train_freq=64, gradient_steps=32,
                    exploration_fraction=0.16, exploration_final_eps=0.04, net={"widths": [128, 128]}, double=True)


def dqn_cartpole_return(seed: int) -> float:
    agent = rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, seed=seed, device="cpu", **DQN_CARTPOLE,
                               runtime={"compiled_update": False})
    agent.learn(30_000)
    return rlsuite.evaluate(agent, episodes=10, seed=1000).mean


@pytest.mark.parametrize("seeds", seed_sets())
def test_dqn_learns_cartpole(seeds):
    assert_quorum("dqn_cartpole", dqn_cartpole_return, seeds, threshold=200)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_rainbow_runs_on_cuda():
    agent = rlsuite.make_agent("rainbow", env="CartPole-v1", tuned=False, device="cuda", **TINY)
    agent.learn(300)
    assert all(p.is_cuda for p in agent.q_net.parameters()) and agent.support.is_cuda
    assert agent.act(np.zeros((2, 4), np.float32)).shape == (2,)
