"""Meta-RL task envs: the batched envs equal scalar references written from the papers' text,
step for step with the same random numbers; the task contract and the disjoint meta-test split."""

from __future__ import annotations

import numpy as np
import pytest
from rlsuite.envs.meta import BernoulliBandits, Navigation2D, RandomMDPs

from rlsuite.envspec import env_spec_from
from rlsuite.errors import ConfigError, IncompatibleEnvError
from rlsuite.meta import MetaSplit, TaskEnv, task_distribution


# ----------------------------------------------------------------- scalar references (one task, plain Python)
def bandit_step(p: np.ndarray, arm: int, u: float) -> float:
    return 1.0 if u < p[arm] else 0.0


def mdp_step(mean: np.ndarray, trans: np.ndarray, s: int, a: int, u: float, z: float) -> tuple[int, float]:
    acc = 0.0
    for nxt in range(trans.shape[-1]):  # walk the CDF
        acc += trans[s, a, nxt]
        if u < acc:
            break
    return nxt, mean[s, a] + z


def nav_step(pos: list[float], goal: np.ndarray, action: np.ndarray, scale: float = 1.0
             ) -> tuple[list[float], float, bool]:
    pos = [pos[i] + min(max(scale * float(action[i]), -0.1), 0.1) for i in range(2)]
    dx, dy = pos[0] - goal[0], pos[1] - goal[1]
    return pos, -((dx * dx + dy * dy) ** 0.5), abs(dx) < 0.01 and abs(dy) < 0.01


def run_batch(dist, n_tasks: int, repeats: int, action_fn, seed: int = 0):
    rng = np.random.default_rng(seed)
    tasks = dist.sample_params(rng, n_tasks)
    vec = dist.make_vec()
    vec.set_tasks(tasks, repeats)
    obs = vec.reset()
    trace = [(obs, None, None, None)]
    done = False
    while not done:
        actions = action_fn(rng, vec.n_rows)
        noise = vec.draw_noise(rng)
        obs, reward, alive, done = vec.step(actions, noise)
        trace.append((obs, reward, actions, noise, alive))
    return tasks, trace


def test_bandits_equal_scalar_reference():
    dist = BernoulliBandits(k=4, n=12)
    tasks, trace = run_batch(dist, 3, 2, lambda rng, b: rng.integers(0, 4, size=b))
    assert len(trace) == 13
    for obs, reward, actions, noise, _ in trace[1:]:
        assert obs.shape == (6, 1) and not obs.any()
        for b in range(6):
            assert reward[b] == bandit_step(tasks["p"][b // 2], int(actions[b]), noise["u"][b])


def test_bandit_reward_rate_matches_p():
    dist = BernoulliBandits(k=2, n=1)
    vec = dist.make_vec()
    vec.set_tasks({"p": np.array([[0.2, 0.7]])}, repeats=20_000)
    vec.reset()
    rng = np.random.default_rng(1)
    _, reward, _, done = vec.step(np.ones(20_000, dtype=np.int64), vec.draw_noise(rng))
    assert done and abs(reward.mean() - 0.7) < 0.015


def test_mdps_equal_scalar_reference():
    dist = RandomMDPs(n_states=4, n_actions=3, horizon=10)
    tasks, trace = run_batch(dist, 3, 2, lambda rng, b: rng.integers(0, 3, size=b), seed=3)
    state = [0] * 6
    assert (trace[0][0].argmax(axis=1) == 0).all()
    for obs, reward, actions, noise, _ in trace[1:]:
        for b in range(6):
            i = b // 2
            state[b], r = mdp_step(tasks["reward_mean"][i], tasks["transitions"][i], state[b], int(actions[b]),
                                   noise["u"][b], noise["z"][b])
            assert reward[b] == pytest.approx(r, abs=1e-12)
            assert obs[b].argmax() == state[b] and obs[b].sum() == 1
    assert len(trace) == 11


def test_mdp_task_distribution_moments():
    params = RandomMDPs().sample_params(np.random.default_rng(0), 400)
    assert params["transitions"].shape == (400, 10, 5, 10)
    np.testing.assert_allclose(params["transitions"].sum(-1), 1.0)
    assert abs(params["reward_mean"].mean() - 1.0) < 0.02 and abs(params["reward_mean"].std() - 1.0) < 0.02
    # Dirichlet(1) over 10 states: each entry has mean 1/10 and variance (1/10)(9/10)/11.
    assert abs(params["transitions"].var() - 0.09 / 11) < 3e-4


@pytest.mark.parametrize("normalized, scale", [(False, 1.0), (True, 0.1)])
def test_navigation_equals_scalar_reference_and_stops_at_goal(normalized: bool, scale: float):
    dist = Navigation2D(normalized_actions=normalized)
    assert dist.make_vec().action_space.high[0] == pytest.approx(0.1 / scale)
    tasks, trace = run_batch(dist, 4, 2, lambda rng, b: rng.normal(0, 0.2 / scale, size=(b, 2)))
    pos = [[0.0, 0.0] for _ in range(8)]
    alive = [True] * 8
    for obs, reward, actions, _, alive_before in trace[1:]:
        for b in range(8):
            assert alive_before[b] == alive[b]
            if not alive[b]:
                assert reward[b] == 0.0
                continue
            pos[b], r, reached = nav_step(pos[b], tasks["goal"][b // 2], actions[b], scale)
            alive[b] = not reached
            assert reward[b] == pytest.approx(r, abs=1e-12)
            np.testing.assert_allclose(obs[b], pos[b], atol=1e-6)
    assert len(trace) == 101

    vec = dist.make_vec()  # a goal one step away: reached at step 1, frozen with reward 0 after
    vec.set_tasks({"goal": np.array([[0.05, -0.02]])})
    vec.reset()
    obs, reward, alive, _ = vec.step(np.array([[0.05, -0.02]]) / scale, {})
    assert alive[0] and reward[0] == pytest.approx(0.0, abs=1e-12) and not vec.alive[0]
    obs2, reward2, alive2, _ = vec.step(np.array([[0.1, 0.1]]) / scale, {})
    assert not alive2[0] and reward2[0] == 0.0 and np.allclose(obs2, obs)


def test_oracle_observes_goal():
    vec = Navigation2D(oracle=True).make_vec()
    vec.set_tasks({"goal": np.array([[0.3, -0.4]])})
    np.testing.assert_allclose(vec.reset(), [[0.0, 0.0, 0.3, -0.4]], atol=1e-7)


def test_split_is_seeded_and_disjoint():
    dist = Navigation2D()
    a, b = MetaSplit(dist, seed=0), MetaSplit(dist, seed=0)
    np.testing.assert_array_equal(a.test_tasks(40).params["goal"], b.test_tasks(40).params["goal"])
    assert not np.allclose(a.test_tasks(40).params["goal"], MetaSplit(dist, seed=1).test_tasks(40).params["goal"])
    # A task is its seed: rebuilding from the seed gives the same parameters.
    tasks = a.train_tasks(np.random.default_rng(0), 50)
    np.testing.assert_array_equal(dist.params_for_seeds(tasks.seeds)["goal"], tasks.params["goal"])
    held_out = a.test_tasks(1000)
    rng = np.random.default_rng(7)
    for _ in range(20):
        train = a.train_tasks(rng, 500)
        assert not a.is_held_out(train.seeds).any()
        assert not np.isin(train.params["goal"][:, 0], held_out.params["goal"][:, 0]).any()
    assert a.is_held_out(held_out.seeds).all()


def test_split_rejects_a_held_out_seed_even_if_drawn():
    dist = BernoulliBandits()
    split = MetaSplit(dist, seed=0)
    would_draw = np.random.default_rng(5).integers(0, 2**63, size=3, dtype=np.int64)
    split._test_set.add(int(would_draw[1]))  # pretend the generator hits a held-out seed
    train = split.train_tasks(np.random.default_rng(5), 3)
    assert int(would_draw[1]) not in set(train.seeds.tolist())
    assert train.seeds[0] == would_draw[0] and train.seeds[1] == would_draw[2]


def test_task_env_contract():
    env = env_spec_from("bandits/k7-n3").make()
    assert isinstance(env, TaskEnv) and env.action_space.n == 7
    task = {"p": np.array([[0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]])}
    env.set_task(task)
    env.reset(seed=0)
    np.testing.assert_array_equal(env.get_task()["p"], task["p"])
    rewards = []
    for _ in range(3):
        _, r, terminated, truncated, _ = env.step(1)
        rewards.append(r)
    assert rewards == [1.0, 1.0, 1.0] and terminated and not truncated
    env.set_task(None)  # back to a fresh task per reset, repeatable by seed
    env.reset(seed=4)
    first = env.get_task()["p"].copy()
    env.reset(seed=4)
    np.testing.assert_array_equal(env.get_task()["p"], first)


def test_plugin_ids_and_errors():
    assert task_distribution(env_spec_from("tabular_mdp/s6-a2-h5")).n_states == 6
    dist = task_distribution(env_spec_from("navigation2d"))
    assert dist.horizon == 100 and not dist.oracle
    with pytest.raises(IncompatibleEnvError, match="task-distribution env"):
        task_distribution(env_spec_from("CartPole-v1"), "maml")
    with pytest.raises(ConfigError, match="cannot build bandits"):
        task_distribution(env_spec_from({"plugin": "bandits", "id": None, "kwargs": {"arms": 3}}))


def test_halfcheetah_tasks_equal_a_plain_gymnasium_env_step_for_step():
    pytest.importorskip("mujoco")
    import gymnasium as gym
    from rlsuite.envs.meta import HalfCheetahDir, HalfCheetahVel

    for dist in (HalfCheetahVel(horizon=5), HalfCheetahDir(horizon=5)):
        rng = np.random.default_rng(0)
        tasks = dist.sample_params(rng, 2)
        vec = dist.make_vec()
        vec.set_tasks(tasks, 1)
        obs = vec.reset()
        refs = [gym.make("HalfCheetah-v5") for _ in range(2)]
        ref_obs = [env.reset(seed=vec.resets * 1_000_003 + b)[0] for b, env in enumerate(refs)]
        np.testing.assert_allclose(obs, ref_obs, rtol=1e-6)
        done = False
        while not done:
            actions = rng.uniform(-1.5, 1.5, size=(2, 6))  # beyond the bounds: clipped to [-1, 1]
            obs, reward, _, done = vec.step(actions, vec.draw_noise(rng))
            for b, env in enumerate(refs):
                a = np.clip(actions[b], -1, 1)
                o, _, _, _, info = env.step(a)
                goal = tasks["velocity"][b] if dist.kind == "vel" else None
                expected = (-abs(info["x_velocity"] - goal) if goal is not None
                            else tasks["direction"][b] * info["x_velocity"]) - 0.05 * float(a @ a)
                assert reward[b] == pytest.approx(expected, rel=1e-9)
                np.testing.assert_allclose(obs[b], o, rtol=1e-5, atol=1e-6)
        assert vec.t == 5
        oracle = type(dist)(horizon=5, oracle=True).make_vec()  # the same physics, the goal appended
        oracle.set_tasks(tasks, 1)
        goal_column = tasks["velocity" if dist.kind == "vel" else "direction"]
        oracle_obs = oracle.reset()
        np.testing.assert_allclose(oracle_obs[:, :-1], np.asarray(ref_obs), rtol=1e-6)
        np.testing.assert_allclose(oracle_obs[:, -1], goal_column, rtol=1e-6)
        assert oracle.observation_space.shape == (vec.observation_space.shape[0] + 1,)
    assert set(np.unique(HalfCheetahDir().sample_params(np.random.default_rng(1), 50)["direction"])) == {-1.0, 1.0}
    velocity = HalfCheetahVel().sample_params(np.random.default_rng(1), 1000)["velocity"]
    assert velocity.min() >= 0 and velocity.max() <= 2 and abs(velocity.mean() - 1) < 0.05
