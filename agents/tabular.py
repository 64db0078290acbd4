"""Tabular Q-learning, SARSA and Expected SARSA (Sutton & Barto 2018, sections 6.4-6.6).

For every step (s, a, r, s') of an ε-greedy behaviour policy:

    Q(s, a) ← Q(s, a) + α [ target − Q(s, a) ]

    Q-learning       target = r + γ max_a' Q(s', a')                 (off-policy: learns Q*)
    SARSA            target = r + γ Q(s', a'),  a' ~ ε-greedy(s')     (a' is then really taken)
    Expected SARSA   target = r + γ Σ_a' π_ε(a'|s') Q(s', a')

The bootstrap term is dropped when s' is terminal; after a time-limit truncation it is kept (the
episode was cut, not finished). ε decays linearly from ``exploration_initial_eps`` to
``exploration_final_eps`` over the first ``exploration_fraction`` of training.

Step size. By default it follows the visit counts (``lr_schedule=visits``, the polynomial rate of
Even-Dar & Mansour 2003):

    α(s, a) = lr / n(s, a)^ω,   ω = ``lr_power``, n(s, a) = updates of (s, a) so far (this one included)

For 1/2 < ω ≤ 1 the rates satisfy Robbins-Monro (Σ α = ∞, Σ α² < ∞), so Q-learning converges to Q*
on any finite MDP explored forever, whereas a constant α keeps a noise floor of order α on a
stochastic env (constant α = 0.1 leaves FrozenLake's greedy policy at ~46 % success instead of ~74 %).
Even-Dar & Mansour show ω = 1 (the 1/n sample average) needs time exponential in 1/(1 − γ) and any
ω < 1 polynomial time; a smaller ω forgets the early, wrong bootstrap targets faster but averages the
noise more slowly. The default ω = 0.7 was measured (dev-notes/benchmarks-lab-notes.md, "Tabular step sizes"): on
FrozenLake at 150k-200k steps ω = 0.6 and 0.7 reach the optimal policy (74.0 % success), ω = 0.8 is
less reliable and ω = 1 stays near 51 %; on the random MDPs of tests/test_tabular.py ω = 0.7 and 0.8
land closer to Q* than ω = 0.6. The visit counts are part of the agent's state (checkpoints, resume).

``lr_schedule=linear`` is the classic constant step size: α = ``lr`` throughout, or decaying
linearly from ``lr`` to ``lr_final`` over the run (e.g. ``agent.lr_schedule=linear agent.lr=0.1``).

Greedy ties are broken uniformly at random (an all-zero table must not always pick action 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from rlsuite import schedules
from rlsuite.agent import Agent, AgentConfig
from rlsuite.constraints import Range, domain, finite, non_negative, one_of, positive, probability
from rlsuite.offpolicy import Transition, run_step_loop
from rlsuite.update import UpdateStats


@dataclass
class TabularConfig(AgentConfig):
    # visits: the scale of lr / n(s, a)^lr_power; linear: the initial step size
    lr: float = field(default=1.0, metadata=positive)
    lr_final: float | None = field(default=None, metadata=non_negative)  # linear schedule only; None: constant lr
    # step size α: visits (lr / n(s, a)^lr_power per state-action) or linear (lr to lr_final over the run)
    lr_schedule: str = field(default="visits", metadata=one_of("visits", "linear"))
    # ω of the visit-count schedule, in (1/2, 1] so the rates satisfy Robbins-Monro
    lr_power: float = field(default=0.7, metadata=domain(Range(gt=0.5, le=1.0)))
    exploration_initial_eps: float = field(default=1.0, metadata=probability)
    exploration_final_eps: float = field(default=0.05, metadata=probability)
    exploration_fraction: float = field(default=0.5, metadata=probability)
    # initial value of every Q(s, a) (above the true values: optimism drives exploration)
    init_q: float = field(default=0.0, metadata=finite)


class TabularAgent(Agent[TabularConfig]):
    """Shared table, ε-greedy behaviour and step sizes; subclasses define the TD target."""

    Config = TabularConfig
    observation_spaces = (gym.spaces.Discrete,)
    action_spaces = (gym.spaces.Discrete,)
    space_hint = (
        "Tabular agents need discrete observations and actions (FrozenLake, CliffWalking, Taxi); try dqn or ppo."
    )
    persistent = ("q_table", "visits", "pending_actions")
    persistent_for_acting = ("q_table",)

    def setup(self) -> None:
        cfg = self.config
        obs_space, action_space = self.observation_space, self.action_space
        assert isinstance(obs_space, gym.spaces.Discrete) and isinstance(action_space, gym.spaces.Discrete)
        n_states, n_actions = int(obs_space.n), int(action_space.n)
        self.obs_offset = int(obs_space.start)
        self.q_table = np.full((n_states, n_actions), cfg.init_q, dtype=np.float64)
        self.visits = np.zeros((n_states, n_actions), dtype=np.int64)
        # SARSA commits to a' when it updates; that action is the next one taken (-1: none pending).
        self.pending_actions = np.full(cfg.n_envs, -1, dtype=np.int64)

    # ------------------------------------------------------------------ policy
    @property
    def epsilon(self) -> float:
        cfg = self.config
        return schedules.linear(cfg.exploration_initial_eps, cfg.exploration_final_eps, cfg.exploration_fraction,
                                self.progress)

    def greedy(self, states: np.ndarray, random_ties: bool = True) -> np.ndarray:
        q = self.q_table[states]
        if not random_ties:
            return q.argmax(axis=1)
        best = q == q.max(axis=1, keepdims=True)
        return (self.rng.random(q.shape) * best).argmax(axis=1)

    def epsilon_greedy(self, states: np.ndarray) -> np.ndarray:
        actions = self.greedy(states)
        explore = self.rng.random(len(states)) < self.epsilon
        if explore.any():
            actions[explore] = self.rng.integers(0, self.q_table.shape[1], size=int(explore.sum()))
        return actions

    def act(self, obs: Any, deterministic: bool = True) -> Any:
        states = np.atleast_1d(np.asarray(obs, dtype=np.int64)) - self.obs_offset
        actions = self.greedy(states, random_ties=False) if deterministic else self.epsilon_greedy(states)
        return int(actions[0]) if np.ndim(obs) == 0 else actions

    def explore(self, obs: np.ndarray) -> np.ndarray:
        states = np.asarray(obs, dtype=np.int64) - self.obs_offset
        actions = self.epsilon_greedy(states)
        pending = self.pending_actions >= 0
        actions[pending] = self.pending_actions[pending]
        return actions

    def on_segment_start(self) -> None:
        self.pending_actions[:] = -1

    # ------------------------------------------------------------------ learning
    def step_sizes(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        cfg = self.config
        if cfg.lr_schedule == "visits":
            return cfg.lr / self.visits[states, actions].astype(np.float64) ** cfg.lr_power
        final = cfg.lr if cfg.lr_final is None else cfg.lr_final
        return np.full(len(states), schedules.linear(cfg.lr, final, 1.0, self.progress))

    def bootstrap_values(self, next_states: np.ndarray, ended: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def observe(self, t: Transition) -> None:
        states = np.asarray(t.obs, dtype=np.int64) - self.obs_offset
        next_states = np.asarray(t.next_obs, dtype=np.int64) - self.obs_offset
        actions = np.asarray(t.actions, dtype=np.int64)
        ended = t.terminated | t.truncated
        bootstrap = self.bootstrap_values(next_states, ended)
        targets = t.rewards + self.config.gamma * (~t.terminated) * bootstrap
        np.add.at(self.visits, (states, actions), 1)  # duplicates across parallel envs each count
        alpha = self.step_sizes(states, actions)
        # np.add.at: parallel envs may update the same (s, a) in one step.
        np.add.at(self.q_table, (states, actions), alpha * (targets - self.q_table[states, actions]))
        self.finish_update(UpdateStats({"train/epsilon": self.epsilon, "train/lr": float(alpha.mean())}))

    def train_until(self, until_step: int) -> None:
        run_step_loop(self, until_step)


class QLearning(TabularAgent):
    """Tabular Q-learning (Watkins 1989): off-policy TD control with an ε-greedy behaviour policy."""

    name = "q_learning"
    description = "Tabular Q-learning (off-policy TD control), epsilon-greedy with decaying epsilon/step size"

    def bootstrap_values(self, next_states: np.ndarray, ended: np.ndarray) -> np.ndarray:
        return self.q_table[next_states].max(axis=1)


class Sarsa(TabularAgent):
    """Tabular SARSA (Rummery & Niranjan 1994): on-policy TD control."""

    name = "sarsa"
    description = "Tabular SARSA (on-policy TD control), epsilon-greedy with decaying epsilon/step size"

    def bootstrap_values(self, next_states: np.ndarray, ended: np.ndarray) -> np.ndarray:
        next_actions = self.epsilon_greedy(next_states)
        # Within an episode a' is the action taken next; after an episode end it only bootstraps
        # (a truncated episode) and the new episode picks its own first action.
        self.pending_actions[:] = np.where(ended, -1, next_actions)
        return self.q_table[next_states, next_actions]


class ExpectedSarsa(TabularAgent):
    """Tabular Expected SARSA (van Seijen et al. 2009): the expectation over the ε-greedy policy."""

    name = "expected_sarsa"
    description = "Tabular Expected SARSA (expectation over the epsilon-greedy policy)"

    def bootstrap_values(self, next_states: np.ndarray, ended: np.ndarray) -> np.ndarray:
        q = self.q_table[next_states]
        n_actions = q.shape[1]
        best = q == q.max(axis=1, keepdims=True)
        # π_ε: ε spread over all actions, 1 − ε spread over the greedy ties.
        probs = self.epsilon / n_actions + (1.0 - self.epsilon) * best / best.sum(axis=1, keepdims=True)
        return (probs * q).sum(axis=1)
