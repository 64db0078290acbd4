"""The mathematics of the on-policy agents on tiny inputs with hand-computed or brute-force answers:
GAE vs a plain loop (with truncations), reward-to-go, PPO's clipped objective on the sign cases,
conjugate gradient, TRPO's KL-constrained step, the unbiasedness of a baseline, normalizers, and
the rollout loop's truncation bootstrap."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from rlsuite.agents.reinforce import reward_to_go

import rlsuite
from rlsuite.buffers import RolloutBuffer
from rlsuite.onpolicy import ObsNormalizer, RewardNormalizer, RunningMeanStd
from rlsuite.policies import Categorical
from rlsuite.trust_region import conjugate_gradient

torch.set_num_threads(1)


# ---------------------------------------------------------------------------- GAE and returns
def gae_loop(rewards, values, next_values, terminated, truncated, gamma, lam):
    """The textbook definition, one env, no vectorization: δ_t and a backwards sum that restarts
    at every episode end; next_values[t] is V(s_{t+1}) (the final obs after a truncation)."""
    T = len(rewards)
    adv = np.zeros(T)
    for t in range(T):
        total, discount = 0.0, 1.0
        for k in range(t, T):
            bootstrap = 0.0 if terminated[k] else next_values[k]
            delta = rewards[k] + gamma * bootstrap - values[k]
            total += discount * delta
            if terminated[k] or truncated[k]:
                break
            discount *= gamma * lam
        adv[t] = total
    return adv


def test_rollout_buffer_gae_matches_plain_loop_with_truncations():
    rng = np.random.default_rng(0)
    T, N, gamma, lam = 12, 3, 0.9, 0.8
    buf = RolloutBuffer(T, N, (2,))
    values = rng.normal(size=(T + 1, N)).astype(np.float32)  # V(s_0..s_T)
    final_values = rng.normal(size=(T, N)).astype(np.float32)  # V(final obs) after truncations
    rewards = rng.normal(size=(T, N)).astype(np.float32)
    terminated = np.zeros((T, N), bool)
    truncated = np.zeros((T, N), bool)
    terminated[3, 0] = terminated[8, 1] = True
    truncated[5, 0] = truncated[2, 2] = truncated[9, 2] = True
    for t in range(T):
        buf.add(np.zeros((N, 2)), np.zeros(N), rewards[t], terminated[t], truncated[t], values[t],
                np.zeros(N), final_values[t])
    buf.compute_advantages(values[T], gamma, lam)
    for n in range(N):
        next_values = np.where(truncated[:, n], final_values[:, n], values[1:, n])
        expected = gae_loop(rewards[:, n], values[:T, n], next_values, terminated[:, n], truncated[:, n], gamma, lam)
        np.testing.assert_allclose(buf.advantages[:, n], expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(buf.returns[:, n], expected + values[:T, n], rtol=1e-5, atol=1e-5)


def test_reward_to_go_by_hand():
    # γ = 0.5: G_2 = 4, G_1 = 2 + 0.5·4 = 4, G_0 = 1 + 0.5·4 = 3
    np.testing.assert_allclose(reward_to_go(torch.tensor([1.0, 2.0, 4.0]), 0.5).numpy(), [3.0, 4.0, 4.0])


def test_gae_lambda_one_is_reward_to_go_minus_baseline():
    """REINFORCE's advantage: GAE(λ=1) over a terminated episode is G_t − V(s_t) for any V."""
    rng = np.random.default_rng(1)
    rewards = rng.normal(size=7).astype(np.float32)
    values = rng.normal(size=7).astype(np.float32)
    buf = RolloutBuffer(7, 1, ())
    for t in range(7):
        buf.add(np.zeros(1), np.zeros(1), rewards[t:t + 1], [t == 6], [False], values[t:t + 1], np.zeros(1))
    buf.compute_advantages(np.array([123.0]), 0.97, 1.0)  # last value ignored: the episode terminated
    G = reward_to_go(torch.from_numpy(rewards), 0.97).numpy()
    np.testing.assert_allclose(buf.returns[:, 0], G, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(buf.advantages[:, 0], G - values, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------- TRPO
def test_conjugate_gradient_solves_spd_system():
    torch.manual_seed(0)
    m = torch.randn(20, 20, dtype=torch.float64)
    A = m @ m.T + 0.5 * torch.eye(20, dtype=torch.float64)
    b = torch.randn(20, dtype=torch.float64)
    x = conjugate_gradient(lambda v: A @ v, b, iters=60, residual_tol=1e-20)
    torch.testing.assert_close(x, torch.linalg.solve(A, b), rtol=1e-8, atol=1e-8)
    # Few iterations still give a descent direction for the quadratic (what TRPO relies on).
    x3 = conjugate_gradient(lambda v: A @ v, b, iters=3)
    assert (0.5 * x3 @ A @ x3 - b @ x3) < 0


def test_trpo_accepted_step_respects_kl_and_improves_surrogate():
    agent = rlsuite.make_agent("trpo", env="CartPole-v1", tuned=False, seed=0, device="cpu", n_envs=2, n_steps=256,
                               max_kl=0.01)
    agent.start_segment()
    from rlsuite.onpolicy import collect_rollout, flatten_rollout

    collect_rollout(agent)
    data = flatten_rollout(agent.buffer)
    obs, actions = agent.tensor(data.obs), agent.tensor(data.actions)
    adv = agent.tensor(data.advantages)
    adv = (adv - adv.mean()) / adv.std()
    with torch.no_grad():
        old = agent.policy.distribution(obs)
        old_lp = old.log_prob(actions)
    info = agent.policy_step(obs, actions, adv)
    assert info["accepted"] == 1.0
    with torch.no_grad():
        new = agent.policy.distribution(obs)
        kl = old.kl(new).mean().item()
        surrogate = (torch.exp(new.log_prob(actions) - old_lp) * adv).mean().item()
    assert 0 < kl <= 0.01 + 1e-7
    assert surrogate > 0  # L(θ_old) = E[Â] = 0 for normalized advantages
    assert kl == pytest.approx(info["kl"], rel=1e-5)


def test_trpo_rejects_when_no_step_improves():
    """With all advantages zero no step improves the surrogate: θ must be left unchanged."""
    agent = rlsuite.make_agent("trpo", env="CartPole-v1", tuned=False, seed=0, device="cpu", n_envs=1, n_steps=64)
    obs = torch.randn(64, 4)
    actions = torch.randint(0, 2, (64,))
    before = [p.detach().clone() for p in agent.actor_params]
    info = agent.policy_step(obs, actions, torch.zeros(64) + 1e-9 * torch.randn(64))
    if info["accepted"] == 0.0:
        for p, q in zip(before, agent.actor_params):
            assert torch.equal(p, q)
    else:  # a numerically tiny improvement was found; it must still respect the KL bound
        assert info["kl"] <= 0.01


# ---------------------------------------------------------------------------- baselines
def test_baseline_leaves_policy_gradient_unbiased_on_a_bandit():
    """3-armed bandit, softmax policy: ∇_logits log π(a) = onehot(a) − π. The Monte-Carlo
    estimate of E[(r − b)∇log π] matches the exact gradient Σ_a π_a r̄_a (e_a − π) for a constant
    baseline b, and its variance is lower with b = E[r]."""
    torch.manual_seed(0)
    logits = torch.tensor([0.3, -0.2, 0.5])
    probs = torch.softmax(logits, 0)
    means = torch.tensor([1.0, 2.0, 3.0])
    exact = sum(probs[a] * means[a] * (torch.eye(3)[a] - probs) for a in range(3))
    n = 400_000
    actions = Categorical(logits.expand(n, 3)).sample()
    rewards = means[actions] + torch.randn(n)
    score = torch.nn.functional.one_hot(actions, 3).float() - probs
    estimates = {}
    for b in (0.0, float((probs * means).sum()), 10.0):
        samples = (rewards - b)[:, None] * score
        mean, se = samples.mean(0), samples.std(0) / n**0.5
        assert torch.all((mean - exact).abs() < 4 * se), (b, mean, exact)
        estimates[b] = samples.var(0).sum().item()
    assert estimates[float((probs * means).sum())] < estimates[0.0] < estimates[10.0]


# ---------------------------------------------------------------------------- normalizers
def test_running_mean_std_matches_numpy_over_batches():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(1000, 3))
    rms = RunningMeanStd((3,), epsilon=0.0)
    rms.count = 0.0
    for chunk in np.array_split(data, 17):
        rms.update(chunk)
    np.testing.assert_allclose(rms.mean, data.mean(0), rtol=1e-10)
    np.testing.assert_allclose(rms.var, data.var(0), rtol=1e-10)
    restored = RunningMeanStd((3,))
    restored.load_state_dict(rms.state_dict())
    np.testing.assert_array_equal(restored.mean, rms.mean)


def test_obs_and_reward_normalizers():
    space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    norm = ObsNormalizer(space, enabled=True, clip=5.0)
    norm.update(np.array([[0.0, 10.0], [2.0, 30.0]]))
    out = norm(np.array([[1.0, 20.0], [100.0, 20.0]]))
    np.testing.assert_allclose(out[0], [0.0, 0.0], atol=1e-3)
    assert out[1, 0] == pytest.approx(5.0)  # clipped
    assert out.dtype == np.float32
    rnorm = RewardNormalizer(2, gamma=0.5, enabled=True)
    scaled = rnorm(np.array([1.0, 1.0], np.float32), np.array([False, True]))
    np.testing.assert_array_equal(rnorm.returns, [1.0, 0.0])  # reset where the episode ended
    assert np.all(np.sign(scaled) == 1)
    assert RewardNormalizer(2, 0.5, enabled=False)(np.array([3.0]), np.array([False]))[0] == 3.0


# ---------------------------------------------------------------------------- the rollout loop
class _Timeout(gym.Env):
    """Reward 1 per step, truncated after 3 steps, observation = step count."""

    observation_space = gym.spaces.Box(0, 10, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([float(self.t)], np.float32), 1.0, False, self.t >= 3, {}


def test_rollout_bootstraps_truncation_from_final_observation():
    agent = rlsuite.make_agent("a2c", env=lambda: _Timeout(), seed=0, device="cpu", n_envs=1, n_steps=4,
                               gamma=0.5, gae_lambda=1.0)
    agent.start_segment()
    from rlsuite.onpolicy import collect_rollout

    collect_rollout(agent)
    buf = agent.buffer
    with torch.no_grad():
        v = agent.policy.value(torch.tensor([[0.0], [1.0], [2.0], [3.0]])).numpy()
    np.testing.assert_array_equal(buf.truncated[:, 0], [False, False, True, False])
    np.testing.assert_allclose(buf.trunc_values[2, 0], v[3], rtol=1e-6)  # V(final obs = 3)
    # Return at step 2: r + γ V(final obs); at step 0: 1 + 0.5·(1 + 0.5·(1 + 0.5·V(3))).
    assert buf.returns[2, 0] == pytest.approx(1 + 0.5 * v[3], rel=1e-5)
    assert buf.returns[0, 0] == pytest.approx(1 + 0.5 * (1 + 0.5 * (1 + 0.5 * v[3])), rel=1e-5)
    # Step 3 starts a new episode (obs 0) and bootstraps from V(obs 1) at the rollout end.
    assert buf.obs[3, 0, 0] == 0.0
    assert buf.returns[3, 0] == pytest.approx(1 + 0.5 * v[1], rel=1e-5)


def test_minibatches_cover_every_sample_once_per_epoch_and_keep_rows_together():
    agent = rlsuite.make_agent("ppo", env="CartPole-v1", tuned=False, seed=0, device="cpu", n_envs=1, n_steps=16,
                               batch_size=16)
    ids = torch.arange(10)
    data = torch.arange(10) * 10.0
    batches = list(agent.minibatches((ids, data), 4))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    seen = torch.cat([b[0] for b in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    for mb_ids, mb_data in batches:  # the same permutation for every column
        assert torch.equal(mb_data, mb_ids * 10.0)
    (whole_ids, whole_data), = agent.minibatches((ids, data), 10)  # one batch: no shuffling
    assert whole_ids is ids and whole_data is data
