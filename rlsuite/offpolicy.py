"""The shared collection loop for step-wise (off-policy and tabular) agents.

Every off-policy agent runs the same loop: choose actions for the current observations, step the
vector env, hand the transition to the agent (replay buffer or table update), let the agent train
when it is due, and keep the books (episode returns, resume points, checkpoints, evaluation).
Agents only provide ``explore(obs)`` and ``observe(transition)``; :class:`StepAgent` spells out
everything the loop uses (the rest comes from :class:`rlsuite.agent.Agent`).

Exploration hints are an env feature, not an agent setting: an env may put ``info["exploration_hint"]``
(a bool mask over its discrete actions: the actions an expert rule deems good from this state, e.g.
those with positive reward) into its reset and step infos, as the localization env does for Caicedo &
Lazebnik's (2015) guided exploration (its ``guided_exploration`` kwarg). The loop keeps the infos that
came with the current observations in ``agent.last_infos``; :func:`random_actions` draws an agent's
exploratory actions among the hinted ones wherever the env hints some, and uniformly elsewhere (DQN
and its variants explore through it; an env that publishes no hint leaves exploration uniform).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from rlsuite.nonfinite import NonFiniteWatch, check_env_step


@dataclass
class Transition:
    """One vector-env step. ``next_obs`` is the true successor (the final obs where an episode
    ended), ``reset_obs`` what the agent sees next (already reset where an episode ended)."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    reset_obs: np.ndarray
    infos: dict[str, Any]

    @property
    def episode_end(self) -> np.ndarray:
        return self.terminated | self.truncated


HINT_KEY = "exploration_hint"


def exploration_hint(infos: dict[str, Any], n_envs: int, n_actions: int) -> np.ndarray | None:
    """``(n_envs, n_actions)`` bool masks from the vector infos' ``exploration_hint`` entries (all
    False for envs that gave none), or ``None`` when no env gave one."""
    present = infos.get("_" + HINT_KEY)
    if present is None or not np.any(present) or len(present) != n_envs:  # none, or infos of another batch
        return None
    hint = np.zeros((n_envs, n_actions), dtype=bool)
    for i in np.flatnonzero(present):
        hint[i] = np.asarray(infos[HINT_KEY][i], dtype=bool).reshape(n_actions)
    return hint


def sample_from_masks(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly drawn index per row among the True entries of ``masks`` (rows with none: 0)."""
    counts = masks.sum(axis=1)
    pick = np.floor(rng.random(len(masks)) * np.maximum(counts, 1)).astype(np.int64)
    # index of the pick-th True entry of each row
    return (masks.cumsum(axis=1) <= pick[:, None]).sum(axis=1).clip(max=masks.shape[1] - 1) * (counts > 0)


def random_actions(rng: np.random.Generator, n_actions: int, n_envs: int, infos: dict[str, Any] | None = None
                   ) -> np.ndarray:
    """One uniformly random action per env; for the envs whose ``infos`` (the vector infos that came
    with the current observations) hint some actions, uniform among the hinted ones instead. Without
    hints it draws exactly ``rng.integers(0, n_actions, n_envs)``."""
    actions = rng.integers(0, n_actions, size=n_envs)
    hint = exploration_hint(infos, n_envs, n_actions) if infos else None
    if hint is not None:
        actions = np.where(hint.any(axis=1), sample_from_masks(hint, rng), actions)
    return actions


def true_next_obs(next_obs: np.ndarray, infos: dict[str, Any]) -> np.ndarray:
    """With same-step autoreset, ``next_obs`` holds reset observations where episodes ended; put the
    final observations back for those envs (copying only when something ended)."""
    mask = infos.get("_final_obs")
    if mask is None or not np.any(mask):
        return next_obs
    real = next_obs.copy()
    for i in np.flatnonzero(mask):
        real[i] = infos["final_obs"][i]
    return real


class EpisodeTracker:
    """Running returns and lengths per env. Atari plugins report the unclipped reward in
    ``info["raw_reward"]`` and the real game end in ``info["game_over"]``; when present, those are
    what is logged, so the curve shows full-game scores rather than clipped per-life returns."""

    def __init__(self, n_envs: int):
        self.returns = np.zeros(n_envs, dtype=np.float64)
        self.lengths = np.zeros(n_envs, dtype=np.int64)

    def reset(self) -> None:
        self.returns[:] = 0.0
        self.lengths[:] = 0

    def update(self, rewards: np.ndarray, ended: np.ndarray, infos: dict[str, Any]) -> list[tuple[float, int]]:
        step_rewards = np.asarray(rewards, dtype=np.float64).copy()
        game_over = ended.copy()
        if "raw_reward" in infos:
            step_rewards = np.where(infos["_raw_reward"], infos["raw_reward"], step_rewards).astype(np.float64)
        if "game_over" in infos:
            game_over = np.where(infos["_game_over"], infos["game_over"], game_over).astype(bool)
        if "final_info" in infos:  # the step infos of envs that just ended (infos holds their reset info)
            for i in np.flatnonzero(infos["_final_info"]):
                final = infos["final_info"][i]
                step_rewards[i] = final.get("raw_reward", rewards[i])
                game_over[i] = bool(final.get("game_over", True))
        self.returns += step_rewards
        self.lengths += 1
        done = []
        for i in np.flatnonzero(game_over & ended):
            done.append((float(self.returns[i]), int(self.lengths[i])))
            self.returns[i] = 0.0
            self.lengths[i] = 0
        return done


class StepAgent(Protocol):
    """What :func:`run_step_loop` calls on an agent. An :class:`rlsuite.agent.Agent` subclass
    satisfies it by implementing :meth:`explore` and :meth:`observe`; the base class has the rest."""

    envs: gym.vector.VectorEnv | None
    obs: np.ndarray | None
    last_infos: dict[str, Any]  # the vector infos that came with ``obs`` (reset or step)
    steps: int
    nonfinite: NonFiniteWatch

    def explore(self, obs: np.ndarray) -> np.ndarray:
        """Actions for the current observations of every env, exploration included."""
        ...

    def observe(self, t: Transition) -> None:
        """Take one vector-env step into account: store it, update a table, train when due."""
        ...

    def cut_due(self, next_steps: int) -> bool: ...

    def log_episode(self, episode_return: float, episode_length: int) -> None: ...

    def after_step(self, prev_steps: int) -> None: ...

    def start_segment(self) -> None: ...


def run_step_loop(agent: StepAgent, until_step: int) -> None:
    """Step ``agent.envs`` until ``agent.steps >= until_step``; see the module docstring."""
    assert agent.envs is not None and agent.obs is not None
    n_envs = agent.envs.num_envs
    tracker = EpisodeTracker(n_envs)
    guard = agent.nonfinite
    if guard.enabled:
        check_env_step(agent.obs, None, agent.steps, "reset observation")
    while agent.steps < until_step:
        actions = agent.explore(agent.obs)
        next_obs, rewards, terminated, truncated, infos = agent.envs.step(actions)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        cut = agent.cut_due(agent.steps + n_envs)
        if cut:  # a resume point: cut every episode here, bootstrapping like a time limit
            truncated = truncated | ~terminated
        ended = terminated | truncated
        transition = Transition(
            obs=agent.obs,
            actions=actions,
            rewards=np.asarray(rewards, dtype=np.float32),
            next_obs=true_next_obs(next_obs, infos),
            terminated=terminated,
            truncated=truncated,
            reset_obs=next_obs,
            infos=infos,
        )
        if guard.enabled:  # before anything is stored or learned from
            check_env_step(transition.next_obs, transition.rewards, agent.steps + n_envs)
            if transition.next_obs is not next_obs:  # episodes ended: the reset observations too
                check_env_step(next_obs, None, agent.steps + n_envs, "reset observation")
        prev_steps = agent.steps
        agent.steps += n_envs
        agent.observe(transition)
        for episode_return, length in tracker.update(transition.rewards, ended, infos):
            agent.log_episode(episode_return, length)
        agent.obs = next_obs
        agent.last_infos = infos
        agent.after_step(prev_steps)
        if cut:
            tracker.reset()
            agent.start_segment()
            if guard.enabled:
                check_env_step(agent.obs, None, agent.steps, "reset observation")
