"""The NAS task (envs/nas) and its controller (rlsuite.policies.RecurrentActorCritic, REINFORCE's EMA baseline)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from rlsuite.envs.nas import NASEnv, NASPlugin, SearchSpace
from rlsuite.envs.nas.cache import ChildCache
from rlsuite.envs.nas.env import DecisionCoder, NASVectorEnv
from rlsuite.envs.nas.evaluate import LiveEvaluator, TableEvaluator, load_table
from rlsuite.envs.nas.search import controller_search, random_search, regularized_evolution, surrogate_search

import rlsuite
from rlsuite.backbones.spec import SpecError
from rlsuite.recurrent_policy import RecurrentActorCritic
from tests.learning import assert_quorum, seed_sets

TINY_SPACE = """
dataset: mnist1d
layers: 2
choices: {out: [4], kernel: [3], stride: [1, 2]}
fixed: {dims: 1, hidden: []}
child: {epochs: 1, batch_size: 256, lr: 0.003, seed: 0}
"""


def write_space(tmp_path: Path, text: str, name: str = "tiny") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


# ----------------------------------------------------------------------------- the search space
def test_unfittable_space_is_refused_in_one_line(tmp_path: Path) -> None:
    path = write_space(tmp_path, """
        dataset: mnist1d
        layers: 6
        choices: {out: [8], kernel: [3], stride: [1, 2], pool: [1, 2]}
        fixed: {dims: 1}
        """, "too_deep")
    with pytest.raises(SpecError) as err:
        NASPlugin().make("nas/too_deep", space=str(path))
    message = str(err.value)
    assert "\n" not in message
    assert "does not fit mnist1d inputs (1, 40)" in message and "conv 8 k3 s2 pool 2" in message
    # five pooling layers fit (40 -> 1): the check passes when the most shrinking architecture fits
    SearchSpace.load(str(write_space(tmp_path, """
        dataset: mnist1d
        layers: 5
        choices: {out: [8], kernel: [3], stride: [1], pool: [1, 2]}
        fixed: {dims: 1}
        """, "fits"))).check((1, 40))


def test_space_keys_and_mutation() -> None:
    space = SearchSpace.load("mnist1d-table")
    assert space.size == 512 and space.n_decisions == 9
    archs = list(space.all_architectures())
    assert len({space.key(a) for a in archs}) == 512  # the canonical key tells every architecture apart
    rng = np.random.default_rng(0)
    for arch in archs[:50]:
        child = space.mutate(arch, rng)
        assert sum(a != b for a, b in zip(arch, child)) == 1
    with pytest.raises(Exception, match="unknown NAS search space 'mnist1d-tabel'.*Did you mean: mnist1d-table"):
        SearchSpace.load("mnist1d-tabel")


# ----------------------------------------------------------------------------- cache: kill and resume
SEARCH_SCRIPT = """
import sys, torch
torch.set_num_threads(1)
from rlsuite.envs.nas import SearchSpace
from rlsuite.envs.nas.cache import ChildCache
from rlsuite.envs.nas.evaluate import LiveEvaluator
from rlsuite.envs.nas.search import random_search
space = SearchSpace.load(sys.argv[1])
random_search(LiveEvaluator(space, ChildCache(sys.argv[2])), budget=space.size, seed=0)
"""


def test_cache_survives_a_kill_and_resume_does_not_retrain(tmp_path: Path) -> None:
    space_path = write_space(tmp_path, TINY_SPACE)
    db = tmp_path / "cache.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", SEARCH_SCRIPT, str(space_path), str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if db.exists() and len(ChildCache(db)) >= 1:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the search ended before it could be killed: {proc.stderr.read()!r}"
        os.kill(proc.pid, signal.SIGKILL)  # mid-search, with no chance to clean up
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    before = {row["key"]: row for row in ChildCache(db).rows()}
    space = SearchSpace.load(str(space_path))
    assert 1 <= len(before) < space.size
    evaluator = LiveEvaluator(space, ChildCache(db))
    result = random_search(evaluator, budget=space.size, seed=0)
    assert evaluator.newly_trained == space.size - len(before)  # the finished children were read back
    assert evaluator.trained == space.size
    after = {row["key"]: row for row in ChildCache(db).rows()}
    assert len(after) == space.size == len(result.children)
    for key, row in before.items():
        assert after[key] == row  # untouched
    assert all(0.0 <= r["val_acc"] <= 1.0 for r in after.values())


# ----------------------------------------------------------------------------- the controller
def make_policy(space: SearchSpace, seed: int = 0, core: str = "lstm") -> tuple[RecurrentActorCritic, DecisionCoder]:
    torch.manual_seed(seed)
    coder = DecisionCoder(space)
    return RecurrentActorCritic(coder.observation_space, coder.action_space, hidden=16, embed_dim=8, core=core), coder


@pytest.mark.parametrize("core", ["lstm", "gru"])
def test_controller_log_probs_match_brute_force(core: str) -> None:
    space = SearchSpace.load("mnist1d-table")
    policy, coder = make_policy(space, core=core)
    batch = 3
    state = policy.initial_state(batch)
    previous = np.full(batch, coder.start_token)
    observations, actions, log_probs = [], [], []
    with torch.no_grad():
        for t in range(coder.length):  # sample, as acting does: one step at a time, state carried
            obs = torch.from_numpy(coder.observe(previous, t))
            a, logp, _, state = policy.step(obs, state)
            observations.append(obs)
            actions.append(a)
            log_probs.append(logp)
            previous = a.numpy()
        sampled = torch.stack(log_probs)  # (T, B)
        seq = torch.stack(observations)
        # brute force: for every prefix, the whole-sequence LSTM from the zero state, then log-softmax
        brute = torch.zeros_like(sampled)
        for t in range(coder.length):
            x = policy.embed(seq[: t + 1])
            out, _ = policy.core.rnn(x)  # nn.LSTM/GRU over the full prefix
            brute[t] = torch.log_softmax(policy.actor_head(out[-1]), -1).gather(-1, actions[t][:, None])[:, 0]
        # what training recomputes over the stored rollout
        starts = torch.zeros(coder.length, batch, dtype=torch.bool)
        replayed = policy.sequence(seq, torch.stack(actions), None, starts)[0].view(coder.length, batch)
    torch.testing.assert_close(sampled, brute, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(replayed, sampled, atol=1e-6, rtol=1e-6)


def test_controller_sequence_probabilities_sum_to_one() -> None:
    space = SearchSpace(name="four", dataset="mnist1d", layers=2, choices={"out": [8, 16], "stride": [1, 2]})
    policy, coder = make_policy(space, seed=3)
    total = 0.0
    with torch.no_grad():
        for seq in itertools.product(range(2), repeat=coder.length):
            previous = [coder.start_token, *seq[:-1]]
            obs = torch.stack([torch.from_numpy(coder.observe(np.array([p]), t))[0] for t, p in enumerate(previous)])
            log_probs, _, _ = policy.sequence(obs, torch.tensor(seq), None,
                                              torch.zeros(coder.length, 1, dtype=torch.bool))
            total += float(log_probs.sum().exp())
    assert total == pytest.approx(1.0, abs=1e-5)


def toy_table(space: SearchSpace, target: tuple[int, ...]) -> dict[str, dict[str, float]]:
    """Reward = the fraction of decisions equal to ``target`` (one best sequence, reward 1)."""
    return {space.key(a): {"val_acc": float(np.mean(np.equal(a, target))), "flops": 1.0}
            for a in space.all_architectures()}


TARGET = (1, 0, 1, 1, 0, 0, 1, 0, 1)


@pytest.mark.parametrize("seeds", seed_sets())
def test_reinforce_with_ema_baseline_finds_the_best_sequence(seeds: tuple[int, ...]) -> None:
    space = SearchSpace.load("mnist1d-table")
    table = toy_table(space, TARGET)

    def score(seed: int) -> float:
        agent = rlsuite.make_agent(
            "reinforce", env=lambda: NASEnv(space, TableEvaluator(space, table)), seed=seed,
            net={"recurrent": "lstm", "recurrent_hidden": 32, "embed_dim": 16}, baseline="ema", baseline_decay=0.95,
            gamma=1.0, lr=2e-2,
            ent_coef=1e-3, batch_episodes=4)
        agent.learn(total_steps=9 * 4 * 150)  # 150 batches: seeds 0-7 find it 7/8 (75 batches: 6/8)
        agent.begin_episode()
        env = NASEnv(space, TableEvaluator(space, table))
        obs, _ = env.reset()
        chosen = []
        for _ in range(space.n_decisions):
            action = int(agent.act(obs[None], deterministic=True)[0])
            chosen.append(action)
            obs, reward, *_ = env.step(action)
        return float(reward)

    assert_quorum("reinforce+ema toy NAS", score, seeds, threshold=1.0)


def test_vector_env_evaluates_a_step_of_children_as_one_batch() -> None:
    space = SearchSpace.load("mnist1d-table")
    evaluator = TableEvaluator(space, load_table(space))
    envs = NASVectorEnv(4, space, evaluator)
    obs, _ = envs.reset()
    assert obs.shape == (4, 2 + 1 + 9)
    rng = np.random.default_rng(0)
    for t in range(9):
        obs, rewards, terminated, truncated, _ = envs.step(rng.integers(0, 2, 4))
        assert not truncated.any()
        assert terminated.all() == (t == 8)
    assert len(evaluator.samples) == 4 and (rewards > 0.3).all()
    assert obs[:, 2].all() and obs[:, 3].all()  # start token, position 0: the next episode's first obs


def test_baselines_on_the_table() -> None:
    space = SearchSpace.load("mnist1d-table")
    table = load_table(space)
    best = max(r["val_acc"] for r in table.values())
    result = regularized_evolution(TableEvaluator(space, table), budget=51, seed=0)
    assert len(result.children) == 51 and len(set(result.children)) > 1
    assert result.best <= best
    rand = random_search(TableEvaluator(space, table), budget=51, seed=0)
    assert len(rand.children) == 51 and len(rand.samples) >= 51


def test_recurrent_policy_is_refused_by_agents_without_support() -> None:
    with pytest.raises(rlsuite.errors.ConfigError, match="does not use agent.net.recurrent"):
        rlsuite.make_agent("trpo", env="CartPole-v1", net={"recurrent": "lstm"})
    with pytest.raises(rlsuite.errors.ConfigError, match="whole env sequences"):
        rlsuite.make_agent("ppo", env="CartPole-v1", net={"recurrent": "lstm"}, n_steps=64, batch_size=96)


def test_ppo_trains_the_recurrent_controller_on_the_table() -> None:
    agent = rlsuite.make_agent("ppo", env="nas/mnist1d-table", seed=0)
    agent.learn(total_steps=9 * 10)
    assert agent.updates >= 2


TRIALS_PER_SEED = 5


@pytest.mark.parametrize("seeds", seed_sets())
def test_tuned_controller_beats_random_search_on_the_table(seeds: tuple[int, ...]) -> None:
    """The env config's PPO controller (benchmarks/nas.py's) against random search at the benchmark's
    budget (51 queries): per quorum seed, the mean best accuracy of 5 trials each, paired by trial seed.
    Over 200 trials the gap is about +0.03 (docs/tasks/nas.md); a 5-trial mean difference has a
    standard deviation of about 0.012, so the threshold 0 sits some 2.5 of them below the gap."""
    space = SearchSpace.load("mnist1d-table")
    table = load_table(space)

    def score(seed: int) -> float:
        trials = range(2000 + 10 * seed, 2000 + 10 * seed + TRIALS_PER_SEED)  # not the tuning seeds 100-119
        rl = [controller_search("nas/mnist1d-table", 51, t, "ppo").best for t in trials]
        rand = [random_search(TableEvaluator(space, table), 51, t).best for t in trials]
        return float(np.mean(rl) - np.mean(rand))

    assert_quorum("tuned NAS controller - random search, best accuracy at 51 queries", score, seeds, threshold=0.0)


def test_surrogate_search_finds_good_architectures_within_the_budget() -> None:
    space = SearchSpace.load("mnist1d-table")
    table = load_table(space)
    evaluator = TableEvaluator(space, table)
    result = surrogate_search(evaluator, budget=30, seed=0)
    assert len(result.children) == 30 == evaluator.trained  # every query a distinct architecture
    values = sorted((r["val_acc"] for r in table.values()), reverse=True)
    assert result.best >= values[9]  # within the table's top 10 after 30 of 512 queries
