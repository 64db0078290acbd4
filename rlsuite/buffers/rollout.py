"""On-policy rollout storage with GAE(λ) in Numba."""

from __future__ import annotations

from typing import Any, NamedTuple

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def _gae_kernel(rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray, terminated: np.ndarray,
                episode_end: np.ndarray, gamma: np.float32, lam: np.float32, adv: np.ndarray, ret: np.ndarray) -> None:
    T, N = rewards.shape
    for n in range(N):
        a_next = 0.0
        for t in range(T - 1, -1, -1):
            nonterm = 0.0 if terminated[t, n] else 1.0
            cont = 0.0 if episode_end[t, n] else 1.0
            delta = rewards[t, n] + gamma * next_values[t, n] * nonterm - values[t, n]
            a_next = delta + gamma * lam * cont * a_next
            adv[t, n] = a_next
            ret[t, n] = a_next + values[t, n]


def gae(rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray, terminated: np.ndarray,
        episode_end: np.ndarray, gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Generalized advantage estimation over a ``(T, N)`` rollout.

    ``next_values[t]`` is the value of the state after step ``t``: ``values[t+1]`` inside an
    episode, ``V(final_obs)`` after a truncation, anything after a termination (it is masked).
    ``delta_t = r_t + γ·next_values_t·(1 − terminated_t) − values_t`` and
    ``A_t = delta_t + γλ·(1 − episode_end_t)·A_{t+1}`` (``A_T = 0``); returns ``(A, A + values)``
    as float32 arrays.  1-D inputs are treated as one env.
    """
    r = np.asarray(rewards, np.float32)
    squeeze = r.ndim == 1

    def two_d(x: np.ndarray, dtype: Any) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=dtype)
        return x[:, None] if squeeze else x

    r = two_d(r, np.float32)
    v = two_d(values, np.float32)
    nv = two_d(next_values, np.float32)
    term = two_d(terminated, np.bool_)
    end = two_d(episode_end, np.bool_) | term
    adv = np.empty_like(r)
    ret = np.empty_like(r)
    _gae_kernel(r, v, nv, term, end, np.float32(gamma), np.float32(lam), adv, ret)
    if squeeze:
        return adv[:, 0], ret[:, 0]
    return adv, ret


class RolloutBatch(NamedTuple):
    obs: np.ndarray
    actions: np.ndarray
    log_probs: np.ndarray
    values: np.ndarray
    advantages: np.ndarray
    returns: np.ndarray


class RolloutBuffer:
    """``n_steps × n_envs`` on-policy storage; :meth:`compute_advantages` fills GAE and returns."""

    def __init__(self, n_steps: int, n_envs: int, obs_shape: tuple[int, ...], obs_dtype: Any = np.float32,
                 action_shape: tuple[int, ...] = (), action_dtype: Any = np.int64) -> None:
        self.n_steps = int(n_steps)
        self.n_envs = int(n_envs)
        self.obs_shape = tuple(obs_shape)
        self.action_shape = tuple(action_shape)
        T, N = self.n_steps, self.n_envs
        self.obs = np.zeros((T, N, *self.obs_shape), obs_dtype)
        self.actions = np.zeros((T, N, *self.action_shape), action_dtype)
        self.rewards = np.zeros((T, N), np.float32)
        self.terminated = np.zeros((T, N), np.bool_)
        self.truncated = np.zeros((T, N), np.bool_)
        self.values = np.zeros((T, N), np.float32)
        self.log_probs = np.zeros((T, N), np.float32)
        self.trunc_values = np.zeros((T, N), np.float32)
        self.advantages = np.zeros((T, N), np.float32)
        self.returns = np.zeros((T, N), np.float32)
        self.pos = 0
        # A recurrent policy's state when the rollout began (None: feed-forward) and which envs began an
        # episode at its first step: with the stored ends, what re-running the policy over it needs.
        self.start_state: Any = None
        self.first_starts = np.ones(N, np.bool_)

    def reset(self) -> None:
        self.pos = 0

    def begin(self, start_state: Any, first_starts: np.ndarray) -> None:
        """Record what a rollout starts from: the policy's state and the envs starting an episode."""
        self.start_state = start_state
        self.first_starts = np.array(first_starts, np.bool_)

    def episode_starts(self) -> np.ndarray:
        """``(T, n_envs)``: whether each stored step begins an episode (the first step's from
        :meth:`begin`, the others' from the previous step's end)."""
        T = self.pos
        starts = np.empty((T, self.n_envs), np.bool_)
        starts[0] = self.first_starts
        starts[1:] = self.terminated[:T - 1] | self.truncated[:T - 1]
        return starts

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, terminated: np.ndarray,
            truncated: np.ndarray, values: np.ndarray, log_probs: np.ndarray,
            next_values: np.ndarray | None = None) -> None:
        """Store one step of all envs; ``next_values`` = V(final obs), used where ``truncated``."""
        if self.pos >= self.n_steps:
            raise IndexError("rollout buffer is full; call reset()")
        t = self.pos
        # ndarray.reshape, not np.reshape: the function's dispatch costs more than the copy at CartPole scale
        self.obs[t] = obs
        self.actions[t] = np.asarray(actions).reshape(self.actions.shape[1:])
        self.rewards[t] = np.asarray(rewards).reshape(-1)
        self.terminated[t] = np.asarray(terminated).reshape(-1)
        self.truncated[t] = np.asarray(truncated).reshape(-1)
        self.values[t] = np.asarray(values).reshape(-1)
        self.log_probs[t] = np.asarray(log_probs).reshape(-1)
        if next_values is None:
            if self.truncated[t].any() and (self.truncated[t] & ~self.terminated[t]).any():
                raise ValueError("next_values (value of the final observation) is needed where truncated")
            self.trunc_values[t] = 0.0
        else:
            self.trunc_values[t] = np.asarray(next_values).reshape(-1)
        self.pos += 1

    def compute_advantages(self, last_values: np.ndarray, gamma: float, lam: float) -> None:
        """GAE over the filled steps; ``last_values`` = V(obs after the last step) per env."""
        T = self.pos
        nv = np.empty((T, self.n_envs), np.float32)
        nv[:-1] = self.values[1:T]
        nv[-1] = np.reshape(last_values, -1)
        trunc = self.truncated[:T] & ~self.terminated[:T]
        nv[trunc] = self.trunc_values[:T][trunc]
        end = self.terminated[:T] | self.truncated[:T]
        adv, ret = gae(self.rewards[:T], self.values[:T], nv, self.terminated[:T], end, gamma, lam)
        self.advantages[:T] = adv
        self.returns[:T] = ret
