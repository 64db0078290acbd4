"""Neural architecture search as an env plugin (Zoph & Le 2017): ``env=nas/<space>``.

    rlsuite train agent=reinforce env=nas/mnist1d            # children trained live (cached)
    rlsuite train agent=reinforce env=nas/mnist1d-table      # rewards looked up in the shipped table
    rlsuite train agent=reinforce env=nas/mnist1d env.kwargs.executor=process env.kwargs.workers=2

``<space>`` is a search space in ``envs/nas/spaces/`` (or ``env.kwargs.space=<file.yaml>``). Spaces
whose name ends in ``-table`` are answered from ``envs/nas/data/<space>.json`` (built by
``benchmarks/nas_table.py``); the others train children through :mod:`rlsuite.executors`
with the SQLite cache ``env.kwargs.cache`` (default ``~/.cache/rlsuite/nas-<dataset>.sqlite``).
``env.kwargs.flops_target=T`` makes the reward MnasNet's ``acc · (FLOPs/T)^-0.07``.
``env.kwargs.retrain_seeds=N`` (default 3; 0 skips it) retrains the best architecture found from N
fresh initialisations at the end, for ``env.kwargs.retrain_epochs`` epochs (default: the child's), and
reports its mean test accuracy.

``rlsuite train`` and ``rlsuite eval`` report the search's result (:meth:`NASPlugin.evaluate_task`):
the best architecture found, its validation accuracy, its test accuracy retrained from fresh seeds,
the children trained; the run
directory gets ``best_arch.yaml`` (``rlsuite fit model=cnn data=<dataset> arch=<run>/best_arch.yaml``
trains it) and ``nas_search.json`` (every child the search evaluated).

Modules: ``space`` (YAML search spaces, the fit check), ``children`` (one child's training),
``cache`` (SQLite), ``evaluate`` (live and table evaluators, rewards), ``env`` (the Gymnasium env
and its lockstep vector env), ``search`` (random search, regularized evolution, the RL controller
on a budget of child trainings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
from rlsuite.envs.nas.cache import ChildCache, default_cache_path
from rlsuite.envs.nas.children import retrain
from rlsuite.envs.nas.env import NASEnv, NASVectorEnv, controller_architectures
from rlsuite.envs.nas.evaluate import (
    BEST_ARCH_FILE,
    SEARCH_FILE,
    Evaluator,
    LiveEvaluator,
    TableEvaluator,
    load_table,
    read_search,
    reward_of,
    write_best_arch,
    write_search,
)
from rlsuite.envs.nas.space import SearchSpace, builtin_space_names

from rlsuite.backbones.datasets import load_dataset
from rlsuite.env_plugin import EnvPlugin, TaskResult
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
        accepted = ("space", "evaluator", "cache", "executor", "workers", "table", "flops_target", "mnas_w",
                    "retrain_seeds", "retrain_epochs")
        for key in kwargs:
            if key not in accepted:
                raise ConfigError(f"unknown nas env kwarg '{key}'.{suggest(key, accepted)} "
                                  f"Accepted: {', '.join(accepted)}")
        for key, low in (("retrain_seeds", 0), ("retrain_epochs", 1)):
            value = kwargs.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
                raise ConfigError(f"env.kwargs.{key} must be an integer >= {low}, got {value!r}")
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

    def evaluate_task(self, agent: Any, env_spec: Any, *, episodes: int, seed: int,
                      out_dir: Path | None = None) -> TaskResult:
        """The search's result: the best architecture found among the children the search trained
        (this process's training envs, plus ``<run>/nas_search.json`` of earlier processes: a resumed
        run or a later ``rlsuite eval``) and ``episodes`` architectures sampled from the trained
        controller (seeded by ``seed``) with its greedy one. Writes ``best_arch.yaml`` (a spec for
        ``rlsuite fit model=cnn arch=``) and ``nas_search.json`` under ``out_dir``."""
        space, evaluator, reward = self._parts(env_spec.id, dict(env_spec.kwargs))
        try:
            search_file = out_dir / SEARCH_FILE if out_dir is not None else None
            searched = read_search(search_file) if search_file is not None else {}
            training = getattr(getattr(agent, "envs", None), "evaluator", None)  # still open at train's final eval
            if training is not None and getattr(training, "space", None) is not None \
                    and training.space.name == space.name:
                for arch, result in training.history:
                    searched[space.key(arch)] = {"arch": tuple(arch), "result": result}
            greedy = controller_architectures(agent, space, 1, seed, deterministic=True)[0]
            sampled = controller_architectures(agent, space, episodes, seed)
            results = evaluator.evaluate([greedy, *sampled])
        finally:
            evaluator.close()
        candidates = dict(searched)
        for arch, result in zip([greedy, *sampled], results):
            candidates.setdefault(space.key(arch), {"arch": arch, "result": result})
        best = max(candidates.values(), key=lambda c: reward_of(c["result"], reward["flops_target"], reward["mnas_w"]))
        arch, result = best["arch"], best["result"]
        kwargs = dict(env_spec.kwargs)
        retrained = retrain(space.spec(arch).to_dict(), space.dataset, dict(space.child),
                            int(kwargs.get("retrain_seeds", 3)), kwargs.get("retrain_epochs")) \
            if int(kwargs.get("retrain_seeds", 3)) > 0 else {}
        sampled_accs = [float(r["val_acc"]) for r in results[1:]]
        metrics = {"best_val_acc": float(result["val_acc"]), "best_test_acc": result.get("test_acc"),
                   "best_flops": result.get("flops"), "best_params": result.get("params"),
                   "children_trained": len(searched), "greedy_val_acc": float(results[0]["val_acc"]),
                   "sampled_mean_val_acc": sum(sampled_accs) / len(sampled_accs),
                   "sampled_distinct": len({space.key(a) for a in sampled}),
                   **{k: v for k, v in retrained.items() if k != "per_seed"}}
        artefacts: dict[str, Path] = {}
        if out_dir is not None:
            if searched:
                write_search(out_dir / SEARCH_FILE, space, searched)
                artefacts["search"] = out_dir / SEARCH_FILE
            write_best_arch(out_dir / BEST_ARCH_FILE, space, arch, {**result, **retrained})
            artefacts["best_arch"] = out_dir / BEST_ARCH_FILE
        test = result.get("test_acc")
        summary = (f"best architecture {space.describe(arch)}: validation accuracy {float(result['val_acc']):.4f}"
                   + (f", test accuracy {float(test):.4f}" if test is not None else "")
                   + (f", retrained test accuracy {retrained['retrained_test_acc']:.4f}"
                      + (f" ± {retrained['retrained_test_acc_se']:.4f}" if retrained["retrained_test_acc_se"] else "")
                      + f" ({retrained['retrained_seeds']} fresh seeds, {retrained['retrained_epochs']} epochs)"
                      if retrained else "")
                   + f" (best of {len(searched)} children the search trained and {len(sampled)} controller samples; "
                   f"greedy choice {float(results[0]['val_acc']):.4f})")
        if "best_arch" in artefacts:
            summary += f"; train it: rlsuite fit model=cnn data={space.dataset} arch={artefacts['best_arch']}"
        details = {"architecture": list(arch), "describe": space.describe(arch), "spec": space.spec(arch).to_dict(),
                   "dataset": space.dataset, "space": space.name,
                   "retrained_per_seed": retrained.get("per_seed", [])}
        return TaskResult(metrics, primary="best_val_acc", summary=summary, artefacts=artefacts, details=details)

    def ids(self) -> list[str]:
        return [f"{FAMILY}/{name}" for name in builtin_space_names()]

    def handles(self, id: str) -> bool:
        return id.startswith(f"{FAMILY}/")
