"""A lean synchronous vector env with same-step autoreset.

Gymnasium's ``SyncVectorEnv`` spends tens of microseconds per step on generic info merging and
copies; at CartPole scale that is more than the env itself. This class keeps Gymnasium's vector
API and its same-step autoreset contract (on an episode end the returned obs is already the reset
obs; ``info["final_obs"]`` / ``info["_final_obs"]`` hold the true final observations), with the
infos merged only when an env returned some.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector.utils import batch_space


class LeanSyncVectorEnv(gym.vector.VectorEnv):
    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]]):
        self.envs = [fn() for fn in env_fns]
        self.num_envs = len(self.envs)
        first = self.envs[0]
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(first.observation_space, self.num_envs)
        self.action_space = batch_space(first.action_space, self.num_envs)
        self.metadata = dict(first.metadata)
        self.metadata["autoreset_mode"] = gym.vector.AutoresetMode.SAME_STEP
        self.render_mode = first.render_mode
        self.spec = first.spec
        shape = (self.num_envs, *(first.observation_space.shape or ()))
        self._obs = np.zeros(shape, dtype=first.observation_space.dtype)
        self._rewards = np.zeros(self.num_envs, dtype=np.float64)
        self._terminated = np.zeros(self.num_envs, dtype=bool)
        self._truncated = np.zeros(self.num_envs, dtype=bool)

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        seeds: list[int | None]
        if isinstance(seed, Sequence):
            seeds = list(seed)
        else:
            seeds = [None if seed is None else int(seed) + i for i in range(self.num_envs)]
        infos: list[dict[str, Any]] = []
        for i, env in enumerate(self.envs):
            self._obs[i], info = env.reset(seed=seeds[i], options=options)
            infos.append(info)
        return self._obs.copy(), _merge(infos, self.num_envs)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        infos: list[dict[str, Any]] = []
        final_obs: dict[int, Any] = {}
        for i, env in enumerate(self.envs):
            obs, reward, terminated, truncated, info = env.step(actions[i])
            self._rewards[i] = reward
            self._terminated[i] = terminated
            self._truncated[i] = truncated
            if terminated or truncated:
                final_obs[i] = (obs, info)
                obs, info = env.reset()
            self._obs[i] = obs
            infos.append(info)
        merged = _merge(infos, self.num_envs)
        if final_obs:
            fo = np.empty(self.num_envs, dtype=object)
            fi = np.empty(self.num_envs, dtype=object)
            mask = np.zeros(self.num_envs, dtype=bool)
            for i, (obs, info) in final_obs.items():
                fo[i], fi[i], mask[i] = obs, info, True
            merged.update(final_obs=fo, _final_obs=mask, final_info=fi, _final_info=mask)
        return self._obs.copy(), self._rewards.copy(), self._terminated.copy(), self._truncated.copy(), merged

    def render(self) -> Any:
        return tuple(env.render() for env in self.envs)

    def close_extras(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()


def _merge(infos: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """Gymnasium's vector info layout: ``info[key]`` an array over envs, ``info["_" + key]`` a mask."""
    if not any(infos):
        return {}
    merged: dict[str, Any] = {}
    for i, info in enumerate(infos):
        for key, value in info.items():
            if key not in merged:
                dtype = type(value) if isinstance(value, (bool, int, float, np.number)) else object
                merged[key] = np.zeros(n, dtype=dtype) if dtype is not object else np.empty(n, dtype=object)
                merged["_" + key] = np.zeros(n, dtype=bool)
            merged[key][i] = value
            merged["_" + key][i] = True
    return merged


class SingleEnvView(gym.Env):
    """Env 0 of a one-env vector env as a plain Gymnasium env: what evaluation steps when a run
    trained on a plugin's vector backend (``env.backend=envpool``), so it is scored on the env it
    learned on. Infos are env 0's entries; at an episode end ``obs`` is the true final observation
    (the vector env's same-step autoreset keeps it in ``info["final_obs"]``)."""

    def __init__(self, vec: gym.vector.VectorEnv):
        if vec.num_envs != 1:
            raise ValueError(f"SingleEnvView needs a one-env vector env, got {vec.num_envs} envs")
        self.vec = vec
        self.observation_space = vec.single_observation_space
        self.action_space = vec.single_action_space

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        obs, info = self.vec.reset(seed=seed, options=options)
        return obs[0], _first(info)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.vec.step(np.asarray([action]))
        done = bool(terminated[0] or truncated[0])
        first = _first(info)
        final = info.get("final_obs")
        out = final[0] if done and final is not None else obs[0]
        return out, float(reward[0]), bool(terminated[0]), bool(truncated[0]), first

    def close(self) -> None:
        self.vec.close()


def _first(info: dict[str, Any]) -> dict[str, Any]:
    """Env 0's entries of a vector env's info dict (nested dicts too; the ``_key`` masks dropped)."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key.startswith("_"):
            continue
        if isinstance(value, dict):
            out[key] = _first(value)
        elif isinstance(value, np.ndarray | list | tuple) and len(value) == 1:
            out[key] = value[0]
    return out
