"""Meta-World ML1 as a task distribution: the batched env equals plain Meta-World envs step for step,
meta-training tasks come only from ML1's train list and held-out tasks only from its test list, the
plugin builds like the other meta envs, MAML and RL² run on it, and a missing package is one line."""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest

metaworld = pytest.importorskip("metaworld")

from rlsuite.envs.meta import MetaWorldML1  # noqa: E402

from rlsuite.envspec import env_spec_from  # noqa: E402
from rlsuite.errors import ConfigError, InsufficientMemoryError, UnknownNameError  # noqa: E402
from rlsuite.meta import MetaSplit, TaskEnv, task_distribution  # noqa: E402


def goal_of(task) -> tuple[float, ...]:
    """A Meta-World task's random vector (object and goal position): what makes tasks differ."""
    return tuple(pickle.loads(task.data)["rand_vec"])


@pytest.fixture(scope="module")
def reference_ml1():
    """Meta-World's own benchmark, built here independently of the plugin's cached one."""
    return metaworld.ML1("reach-v3", seed=0)


def test_vec_env_equals_plain_metaworld_step_for_step(reference_ml1):
    dist = MetaWorldML1(horizon=60)
    vec = dist.make_vec()
    tasks = {"index": np.array([3, 7]), "held_out": np.array([0, 1])}  # train task 3, test task 7
    vec.set_tasks(tasks, repeats=2)
    obs = vec.reset()
    refs = [reference_ml1.train_classes["reach-v3"]() for _ in range(4)]
    ref_tasks = [reference_ml1.train_tasks[3]] * 2 + [reference_ml1.test_tasks[7]] * 2
    ref_obs = []
    for env, task in zip(refs, ref_tasks):
        env.set_task(task)
        ref_obs.append(env.reset(seed=0)[0])
    np.testing.assert_array_equal(obs, np.asarray(ref_obs, dtype=np.float32))
    assert obs.shape == (4, 39) and not obs[:, -3:].any()  # the goal is not observed (ML1)

    rng = np.random.default_rng(0)
    reached = np.zeros(4, dtype=bool)
    done = False
    while not done:
        # Rows 0 and 2 act at random beyond the bounds (clipped to [-1, 1]); rows 1 and 3 steer the
        # hand to the goal, so success is reached and must stay reported once reached.
        actions = rng.uniform(-1.5, 1.5, size=(4, 4))
        for b in (1, 3):
            actions[b, :3] = 50 * (refs[b]._target_pos - refs[b].tcp_center)
        obs, reward, alive, done = vec.step(actions, vec.draw_noise(rng))
        assert alive.all()
        for b, env in enumerate(refs):
            o, r, terminated, truncated, info = env.step(np.clip(actions[b], -1, 1))
            assert reward[b] == r and not terminated and not truncated
            np.testing.assert_array_equal(obs[b], o.astype(np.float32))
            reached[b] |= bool(info["success"])
        np.testing.assert_array_equal(vec.success, reached)
    assert vec.t == 60 and reached[[1, 3]].all() and not reached[[0, 2]].any()
    vec.reset()
    assert not vec.success.any()


def test_train_tasks_only_from_ml1_train_list_and_held_out_only_from_its_test_list(reference_ml1):
    dist = task_distribution(env_spec_from("metaworld_ml1/h5"))
    train_goals = {goal_of(t) for t in reference_ml1.train_tasks}
    test_goals = [goal_of(t) for t in reference_ml1.test_tasks]
    split = MetaSplit(dist, seed=0)
    vec = dist.make_vec()

    held_out = split.test_tasks(120)
    assert held_out.params["held_out"].all()
    np.testing.assert_array_equal(held_out.params["index"], np.arange(120) % 50)  # all 50, in order
    vec.set_tasks(held_out.params)
    assert [goal_of(vec.row_task(b)) for b in range(50)] == test_goals
    assert split.is_held_out(held_out.seeds).all()

    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(5):
        train = split.train_tasks(rng, 100)
        assert not train.params["held_out"].any() and not split.is_held_out(train.seeds).any()
        np.testing.assert_array_equal(train.params["index"], train.seeds % 50)
        rebuilt = dist.params_for_seeds(train.seeds)  # a task is its seed
        np.testing.assert_array_equal(rebuilt["index"], train.params["index"])
        vec.set_tasks(train.params)
        goals = {goal_of(vec.row_task(b)) for b in range(100)}
        assert goals <= train_goals and not goals & set(test_goals)
        seen |= goals
    assert len(seen) == 50  # every train goal is drawn

    # What the row envs actually run after a reset: a held-out and a training task.
    vec.set_tasks({"index": np.array([5, 5]), "held_out": np.array([1, 0])})
    vec.reset()
    assert tuple(vec.envs[0]._last_rand_vec) == test_goals[5]
    assert tuple(vec.envs[1]._last_rand_vec) == goal_of(reference_ml1.train_tasks[5])
    drawn = dist.sample_params(np.random.default_rng(0), 200)  # TaskEnv's fresh tasks: training ones
    assert not drawn["held_out"].any() and set(drawn["index"].tolist()) <= set(range(50))


def test_plugin_builds_through_env_specs_and_rejects_bad_input():
    env = env_spec_from("metaworld_ml1/h5").make()
    assert isinstance(env, TaskEnv) and env.observation_space.shape == (39,) and env.action_space.shape == (4,)
    env.set_task({"index": np.array([2]), "held_out": np.array([0])})
    env.reset(seed=0)
    np.testing.assert_array_equal(env.get_task()["index"], [2])
    for t in range(5):
        _, reward, terminated, truncated, _ = env.step(np.zeros(4))
        assert terminated == (t == 4) and not truncated and 0 <= reward <= 10

    configured = task_distribution(env_spec_from("metaworld_ml1"))  # configs/env/metaworld_ml1.yaml
    assert configured.env_name == "reach-v3" and configured.horizon == 500
    push = task_distribution(env_spec_from("metaworld_ml1/push-v3-h150"))
    assert push.env_name == "push-v3" and push.horizon == 150 and push.name == "metaworld_ml1/push-v3"
    by_kwargs = task_distribution(env_spec_from({"plugin": "metaworld_ml1", "kwargs": {"env_name": "push-v3"}}))
    assert by_kwargs.env_name == "push-v3" and by_kwargs.horizon == 500

    with pytest.raises(UnknownNameError, match="unknown Meta-World ML1 env.*'reach-v2'.*Did you mean: reach-v3"):
        task_distribution(env_spec_from({"plugin": "metaworld_ml1", "kwargs": {"env_name": "reach-v2"}}))
    with pytest.raises(ConfigError, match=r"horizon must be in 1\.\.500"):
        task_distribution(env_spec_from("metaworld_ml1/h501"))
    with pytest.raises(ConfigError, match="cannot build metaworld_ml1"):
        task_distribution(env_spec_from({"plugin": "metaworld_ml1", "kwargs": {"goal": 1}}))


def test_a_batch_of_envs_that_cannot_fit_in_memory_is_refused_before_it_is_built():
    vec = MetaWorldML1(horizon=5).make_vec()
    assert 5e6 < vec.env_bytes < 1e8  # one MuJoCo model with its meshes and textures per row
    vec.set_tasks({"index": np.array([0]), "held_out": np.array([1])}, repeats=10_000_000)
    refused = "Meta-World envs, one per row of 9,999,999 new envs needs .*set tasks × trajectories per batch="
    with pytest.raises(InsufficientMemoryError, match=refused):
        vec.reset()
    assert len(vec.envs) == 1


def test_missing_package_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "metaworld", None)  # what `import metaworld` meets when not installed
    with pytest.raises(ConfigError) as err:
        env_spec_from("metaworld_ml1/h5").make()
    message = str(err.value)
    assert "pip install 'rlsuite[metaworld]'" in message and "\n" not in message


def test_tiny_maml_and_rl2_run_on_metaworld():
    import torch
    from rlsuite.agents.maml import MAML
    from rlsuite.agents.rl2 import RL2

    maml = MAML("metaworld_ml1/h10", seed=0, device="cpu", net={"widths": [8]}, meta_batch_size=2,
                trajectories_per_task=2)
    before = [p.detach().clone() for p in maml.policy.parameters()]
    info = maml.meta_iteration()
    assert maml.steps == 2 * 2 * 2 * 10 and np.isfinite([float(info["meta/return_before"]),
                                                         float(info["meta/return_after"])]).all()
    assert any(not torch.equal(a, b) for a, b in zip(before, maml.policy.parameters()))
    assert not maml.split.is_held_out(maml.last_task_seeds).any()
    test = maml.meta_test(n_tasks=2, steps=1, n_traj=2)
    assert len(test["returns"]) == 2 and len(test["success"]) == 2 and all(0 <= s <= 1 for s in test["success"])
    evaluation = maml.meta_evaluate(n_tasks=2, seed=5, adapt_steps=1)  # what rlsuite eval / the leaderboard show
    assert len(evaluation.details["success_after_steps"]) == 2 and "success" in evaluation.summary

    rl2 = RL2("metaworld_ml1/h10", seed=0, device="cpu", net={"recurrent_hidden": 8}, episodes_per_trial=2,
              trials_per_iteration=2, n_minibatches=2, n_epochs=1)
    before = [p.detach().clone() for p in rl2.net.parameters()]
    rl2.learn(2 * 2 * 10)
    assert rl2.steps == 40 and rl2.updates == 1
    assert any(not torch.equal(a, b) for a, b in zip(before, rl2.net.parameters()))
    result = rl2.meta_test(n_tasks=2)
    assert len(result["episode_returns"]) == 2 and np.isfinite(result["trial_return"])


@pytest.mark.slow
def test_maml_learns_to_adapt_on_metaworld_reach():
    """A reduced MAML run (horizon 100, 6 tasks x 6 trajectories, 10 meta-iterations, ~70 CPU-s a
    seed): the held-out return after one gradient step clears 450; a random initialization gets ~280
    (dev-notes/benchmarks-lab-notes.md, Meta-World ML1)."""
    from rlsuite.agents.maml import MAML

    from tests.learning import DEFAULT_SEEDS, assert_quorum

    def score(seed: int) -> float:
        agent = MAML("metaworld_ml1/h100", seed=seed, device="cpu", net={"widths": [128, 128], "activation": "tanh"},
                     meta_batch_size=6, trajectories_per_task=6, test_step_sizes=[0.1])
        for _ in range(10):
            agent.meta_iteration()
        return agent.meta_test(n_tasks=6, steps=1, seed=100_000 + seed, n_traj=6)["returns"][1]

    assert_quorum("maml metaworld reach h100", score, DEFAULT_SEEDS, threshold=450.0)
