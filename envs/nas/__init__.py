"""Neural architecture search as an env plugin (Zoph & Le 2017): ``env=nas/<space>``.

    rlsuite train agent=reinforce env=nas/mnist1d            # children trained live (cached)
    rlsuite train agent=reinforce env=nas/mnist1d-table      # rewards looked up in the shipped table
    rlsuite train agent=reinforce env=nas/mnist1d env.kwargs.executor=process env.kwargs.workers=2

``<space>`` is a search space in ``envs/nas/spaces/`` (or ``env.kwargs.space=<file.yaml>``). Spaces
whose name ends in ``-table`` are answered from ``envs/nas/data/<space>.json`` (built by
``benchmarks/nas_table.py``); the others train children through :mod:`rlsuite.executors`
with the SQLite cache ``env.kwargs.cache`` (default ``~/.cache/rlsuite/nas-<dataset>.sqlite``).
``env.kwargs.flops_target=T`` makes the reward MnasNet's ``acc · (FLOPs/T)^-0.07``.

Modules: ``space`` (YAML search spaces, the fit check), ``children`` (one child's training),
``cache`` (SQLite), ``evaluate`` (live and table evaluators, rewards), ``env`` (the Gymnasium env
and its lockstep vector env), ``search`` (random search, regularized evolution, the RL controller
on a budget of child trainings).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from rlsuite.envs.nas.cache import ChildCache, default_cache_path
from rlsuite.envs.nas.env import NASEnv, NASVectorEnv
from rlsuite.envs.nas.evaluate import Evaluator, LiveEvaluator, TableEvaluator, load_table
from rlsuite.envs.nas.space import SearchSpace, builtin_space_names

from rlsuite.backbones.datasets import load_dataset
from rlsuite.env_plugin import EnvPlugin
from rlsuite.errors import ConfigError, suggest

__all__ = ["NASEnv", "NASPlugin", "NASVectorEnv", "SearchSpace", "make_evaluator"]

FAMILY = "nas"


def input_shape_of(dataset: str) -> tuple[int, ...]:
    data = load_dataset(dataset, 0)
    return data.input_shape


def make_evaluator(space: SearchSpace, evaluator: str | None = None, cache: str | None = None,
                   executor: str = "serial", workers: int = 1, table: str | None = None) -> Evaluator:
    """``table`` (the space's shipped table, or the file ``table``) or ``live`` (default for spaces
    not named ``*-table``)."""
    kind = evaluator or ("table" if space.name.endswith("-table") else "live")
    if kind == "table":
        return TableEvaluator(space, load_table(space, table))
    if kind == "live":
        return LiveEvaluator(space, ChildCache(cache or default_cache_path(space.dataset)), executor, int(workers))
    raise ConfigError(f"unknown NAS evaluator '{kind}'.{suggest(kind, ['live', 'table'])} Accepted: live, table")


class NASPlugin(EnvPlugin):
    description = "Neural architecture search (Zoph & Le 2017): one layer decision per step, reward = child accuracy"
    provider = "rlsuite"

    def _space(self, id: str | None, space: str | None) -> SearchSpace:
        name = space or (id.split("/", 1)[1] if id and "/" in id else "mnist1d")
        loaded = SearchSpace.load(name)
        loaded.check(input_shape_of(loaded.dataset))
        return loaded

    def _parts(self, id: str | None, kwargs: dict[str, Any]) -> tuple[SearchSpace, Evaluator, dict[str, Any]]:
        accepted = ("space", "evaluator", "cache", "executor", "workers", "table", "flops_target", "mnas_w")
        for key in kwargs:
            if key not in accepted:
                raise ConfigError(f"unknown nas env kwarg '{key}'.{suggest(key, accepted)} "
                                  f"Accepted: {', '.join(accepted)}")
        space = self._space(id, kwargs.get("space"))
        evaluator = make_evaluator(space, kwargs.get("evaluator"), kwargs.get("cache"),
                                   kwargs.get("executor", "serial"), int(kwargs.get("workers", 1)), kwargs.get("table"))
        reward = {"flops_target": kwargs.get("flops_target"), "mnas_w": float(kwargs.get("mnas_w", -0.07))}
        return space, evaluator, reward

    def make(self, id: str | None, *, training: bool = True, render_mode: str | None = None, **kwargs: Any) -> gym.Env:
        space, evaluator, reward = self._parts(id, kwargs)
        return NASEnv(space, evaluator, **reward)

    def make_vec(self, id: str | None, n_envs: int, *, seed: int, training: bool = True,
                 **kwargs: Any) -> gym.vector.VectorEnv:
        space, evaluator, reward = self._parts(id, kwargs)
        return NASVectorEnv(n_envs, space, evaluator, **reward)

    def ids(self) -> list[str]:
        return [f"{FAMILY}/{name}" for name in builtin_space_names()]

    def handles(self, id: str) -> bool:
        return id.startswith(f"{FAMILY}/")
