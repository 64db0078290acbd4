"""Tabular Q-learning / SARSA / Expected SARSA against dynamic programming on known models."""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import rlsuite
from rlsuite.loops import Transition
from tests.mdp import RandomMDP, model_of, q_value_iteration


def _transition(s, a, r, s2, terminated=False, truncated=False):
    arr = lambda v, dt: np.array([v], dtype=dt)  # noqa: E731
    return Transition(arr(s, np.int64), arr(a, np.int64), arr(r, np.float32), arr(s2, np.int64),
                      arr(terminated, bool), arr(truncated, bool), arr(s2, np.int64), {})


@pytest.mark.parametrize("mdp_seed", [0, 3])
def test_q_learning_converges_to_value_iteration(mdp_seed):
    gamma = 0.8
    env = RandomMDP(n_states=4, seed=mdp_seed)
    terminal = np.zeros(env.n_states, dtype=bool)
    terminal[-1] = True
    q_star = q_value_iteration(env.P, env.R, gamma, terminal)
    agent = rlsuite.make_agent(
        "q_learning", env=lambda: RandomMDP(n_states=4, seed=mdp_seed), seed=0, gamma=gamma,
        exploration_initial_eps=1.0, exploration_final_eps=1.0, lr=1.0, lr_schedule="visits", lr_power=0.7,
    )
    agent.learn(60_000)
    live = slice(0, env.n_states - 1)
    assert np.array_equal(agent.q_table[live].argmax(axis=1), q_star[live].argmax(axis=1))
    assert np.abs(agent.q_table[live] - q_star[live]).max() < 0.05


def test_cliff_walking_sarsa_safe_path_q_learning_cliff_path():
    """Sutton & Barto example 6.6 with a constant ε = 0.1: SARSA learns values close to those of the
    best ε-greedy policy and a safe path away from the cliff edge; Q-learning's greedy policy is the
    optimal path along the edge (−13).

    With a fixed ε, SARSA's fixed point is not unique (ε-greedy improvement is discontinuous,
    Perkins & Precup 2002): the DP ε-optimal policy walks the middle row (value −17.95 from the
    start), SARSA settles on the top row or the middle row, whose values differ by about 1-2.
    """
    P, R, terminal = model_of(gym.make("CliffWalking-v1"))
    q_eps = q_value_iteration(P, R, 1.0, terminal, epsilon=0.1, iters=20_000, tol=1e-9)
    start, cliff_edge_row = 36, range(25, 35)
    hparams = dict(gamma=1.0, exploration_initial_eps=0.1, exploration_final_eps=0.1, lr=0.5, lr_final=0.05)
    sarsa = rlsuite.make_agent("sarsa", env="CliffWalking-v1", tuned=False, seed=0, **hparams).learn(60_000)
    q_learning = rlsuite.make_agent("q_learning", env="CliffWalking-v1", tuned=False, seed=0, **hparams).learn(30_000)
    assert rlsuite.evaluate(q_learning, episodes=1).mean == -13.0  # optimal path along the cliff
    sarsa_return = rlsuite.evaluate(sarsa, episodes=1).mean
    assert sarsa_return in (-15.0, -17.0)  # middle or top row: a safe path
    s, visited = start, []
    for _ in range(20):  # follow SARSA's greedy policy through the known model
        s = int(P[s, sarsa.q_table[s].argmax()].argmax())
        visited.append(s)
    assert not set(visited) & set(cliff_edge_row)
    assert abs(sarsa.q_table[start].max() - q_eps[start].max()) < 2.5
    assert q_eps[start].max() < -17.0  # ε-greedy optimum is worse than the greedy optimum (−13)


def test_td_targets_by_hand():
    """One update of each rule on a hand-made table (γ = 0.5, α = 0.5)."""
    common = dict(gamma=0.5, lr=0.5, exploration_initial_eps=0.2, exploration_final_eps=0.2, exploration_fraction=0.0)
    env = lambda: RandomMDP(n_states=3, n_actions=2, seed=0)  # noqa: E731
    table = np.array([[0.0, 0.0], [2.0, 4.0], [0.0, 0.0]])
    q = rlsuite.make_agent("q_learning", env=env, **common)
    q.q_table[:] = table
    q.observe(_transition(0, 1, 1.0, 1))
    assert q.q_table[0, 1] == pytest.approx(0.5 * (1.0 + 0.5 * 4.0))  # max_a' Q(1, a') = 4
    q.q_table[:] = table
    q.observe(_transition(0, 1, 1.0, 1, terminated=True))
    assert q.q_table[0, 1] == pytest.approx(0.5 * 1.0)  # no bootstrap from a terminal state
    q.q_table[:] = table
    q.observe(_transition(0, 1, 1.0, 1, truncated=True))
    assert q.q_table[0, 1] == pytest.approx(0.5 * (1.0 + 0.5 * 4.0))  # a truncation bootstraps

    e = rlsuite.make_agent("expected_sarsa", env=env, **common)
    e.q_table[:] = table
    e.observe(_transition(0, 1, 1.0, 1))
    expected = 0.8 * 4.0 + 0.2 * (2.0 + 4.0) / 2  # π_ε(greedy) = 0.9, π_ε(other) = 0.1
    assert e.q_table[0, 1] == pytest.approx(0.5 * (1.0 + 0.5 * expected))

    s = rlsuite.make_agent("sarsa", env=env, **common)
    s.q_table[:] = table
    s.observe(_transition(0, 1, 1.0, 1))
    next_action = int(s.pending_actions[0])
    assert s.q_table[0, 1] == pytest.approx(0.5 * (1.0 + 0.5 * table[1, next_action]))
    # The action SARSA bootstrapped from is the one it takes next.
    assert int(s.explore(np.array([1]))[0]) == next_action


def test_tabular_rejects_box_observations():
    with pytest.raises(rlsuite.IncompatibleEnvError, match="observation space is Box"):
        rlsuite.make_agent("q_learning", env="CartPole-v1")


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "rlsuite.cli", *args], cwd=cwd, capture_output=True, text=True)


def test_frozenlake_reaches_optimal_success_rate(tmp_path):
    """The optimal policy of slippery 4x4 FrozenLake succeeds ~74% of the time; within 5%."""
    out = _cli("train", "agent=q_learning", "env=FrozenLake-v1", "total_steps=150000", "eval_episodes=1000",
               "logger=[jsonl]", f"run_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert result["mean"] >= 0.74 * 0.95


def test_taxi_learns(tmp_path):
    out = _cli("train", "agent=sarsa", "env=Taxi-v3", "total_steps=60000", "eval_episodes=100",
               "logger=[jsonl]", f"run_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "run" / "eval.json").read_text())["mean"] >= 7.0
