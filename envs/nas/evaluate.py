"""What a child is worth: trained live (cached, in parallel through an executor) or looked up in a table.

Both evaluators take a batch of architectures and return one result per architecture (``val_acc``,
``test_acc``, ``flops``, ``params``). ``trained`` counts the distinct children this search has
evaluated: its budget. A repeated architecture is free; a child already in the cache (from another
search, or from this one before a kill) costs no training but still counts toward the budget, so a
resumed search replays the killed one rather than going past it (``LiveEvaluator.newly_trained``
counts actual trainings). ``history`` lists the children in the order they were first evaluated
(best-found-vs-children curves are drawn from it); ``samples`` holds the validation accuracy of
every architecture asked for, repeats included (a controller's samples).

The reward is the validation accuracy, or with ``flops_target`` MnasNet's
``acc · (FLOPs / T)^w`` (Tan et al. 2019; ``w = -0.07``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from rlsuite.envs.nas.cache import ChildCache
from rlsuite.envs.nas.children import ChildJob, ChildProgress, train_child
from rlsuite.envs.nas.space import Architecture, SearchSpace

from rlsuite.errors import ConfigError
from rlsuite.executors import Executor, make_executor

MNAS_W = -0.07


def reward_of(result: dict[str, Any], flops_target: float | None = None, w: float = MNAS_W) -> float:
    acc = float(result["val_acc"])
    if flops_target is None:
        return acc
    return acc * (float(result["flops"]) / float(flops_target)) ** w


class Evaluator(Protocol):
    space: SearchSpace
    trained: int
    history: list[tuple[Architecture, dict[str, Any]]]
    samples: list[float]

    def evaluate(self, archs: list[Architecture]) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


@dataclass
class LiveEvaluator:
    """Trains children for real: cache hits are free; the rest run through ``executor``
    (``serial`` / ``process`` / ``ray``) and are written to the cache as each finishes."""

    space: SearchSpace
    cache: ChildCache
    executor: str = "serial"
    workers: int = 1
    trained: int = 0
    newly_trained: int = 0
    history: list[tuple[Architecture, dict[str, Any]]] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    _runner: Executor | None = None
    progress: ChildProgress = field(default_factory=lambda: ChildProgress("nas children"))

    def evaluate(self, archs: list[Architecture]) -> list[dict[str, Any]]:
        keys = [self.space.key(a) for a in archs]
        known = self.cache.get_many(keys)
        jobs: dict[str, ChildJob] = {}  # one job per distinct missing child
        for arch, key in zip(archs, keys):
            if key not in known and key not in jobs:
                jobs[key] = ChildJob(key, self.space.spec(arch).to_dict(), self.space.dataset, dict(self.space.child))
        if jobs:
            if self._runner is None:
                self._runner = make_executor(self.executor, self.workers)
            self.progress.start_batch(len(jobs))
            for _, result in self._runner.map_unordered(train_child, list(jobs.values())):
                self.cache.put(result)  # durable before anything else happens
                known[result["key"]] = result
                self.newly_trained += 1
                self.progress.child_done(result)
        out = []
        for arch, key in zip(archs, keys):
            if key not in self._seen:
                self._seen.add(key)
                self.trained += 1
                self.history.append((arch, known[key]))
            out.append(known[key])
            self.samples.append(float(known[key]["val_acc"]))
        return out

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None


def table_path(space_name: str) -> Path:
    return Path(str(resources.files("rlsuite.envs.nas") / "data" / f"{space_name}.json"))


def load_table(space: SearchSpace, path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The shipped table of a space: canonical key -> result (built by benchmarks/nas_table.py)."""
    file = Path(path) if path else table_path(space.name)
    if not file.is_file():
        raise ConfigError(f"no tabular benchmark for search space {space.name} at {file}; build it with "
                          f"python benchmarks/nas_table.py --space {space.name}")
    data = json.loads(file.read_text())
    if data.get("child") != space.child or data.get("dataset") != space.dataset:
        raise ConfigError(f"{file} was built with another training protocol than search space {space.name}; "
                          f"rebuild it with python benchmarks/nas_table.py --space {space.name}")
    fields = data["fields"]
    table = {}
    for arch_text, values in data["archs"].items():
        arch = tuple(int(c) for c in arch_text)
        table[space.key(arch)] = dict(zip(fields, values))
    if len(table) != space.size:
        raise ConfigError(f"{file} holds {len(table)} architectures; search space {space.name} has {space.size}")
    return table


@dataclass
class TableEvaluator:
    """Looks children up in the shipped table: a search costs milliseconds; ``trained`` still counts
    the distinct children the search would have had to train."""

    space: SearchSpace
    table: dict[str, dict[str, Any]]
    trained: int = 0
    history: list[tuple[Architecture, dict[str, Any]]] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    def evaluate(self, archs: list[Architecture]) -> list[dict[str, Any]]:
        out = []
        for arch in archs:
            key = self.space.key(arch)
            result = self.table[key]
            if key not in self._seen:
                self._seen.add(key)
                self.trained += 1
                self.history.append((arch, result))
            out.append(result)
            self.samples.append(float(result["val_acc"]))
        return out

    def close(self) -> None:
        pass


# ----------------------------------------------------------------------------- the search's result
SEARCH_FILE = "nas_search.json"  # in the run directory: every child the search evaluated
BEST_ARCH_FILE = "best_arch.yaml"  # the best architecture found, as an `rlsuite fit arch=` spec


def read_search(path: Path) -> dict[str, dict[str, Any]]:
    """The children a run's search recorded (canonical key -> {arch, result}); empty if none."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return {c["key"]: {"arch": tuple(c["arch"]), "result": c["result"]} for c in data.get("children", [])}


def write_search(path: Path, space: SearchSpace, children: dict[str, dict[str, Any]]) -> None:
    from rlsuite.checkpoint import atomic_write_bytes

    rows = [{"key": k, "arch": list(c["arch"]), "describe": space.describe(c["arch"]),
             "result": {f: c["result"][f] for f in ("val_acc", "test_acc", "flops", "params") if f in c["result"]}}
            for k, c in children.items()]
    atomic_write_bytes(path, json.dumps({"space": space.name, "children": rows}, indent=1).encode())


def write_best_arch(path: Path, space: SearchSpace, arch: Architecture, result: dict[str, Any]) -> None:
    """The architecture as a spec file ``rlsuite fit model=cnn data=<dataset> arch=<path>`` trains."""
    import yaml

    from rlsuite.checkpoint import atomic_write_bytes

    header = (f"# best architecture of a search over {space.name} ({space.describe(arch)}): validation accuracy "
              f"{float(result['val_acc']):.4f}, test accuracy {float(result.get('test_acc', float('nan'))):.4f}"
              + (f", retrained test accuracy {float(result['retrained_test_acc']):.4f}"
                 if "retrained_test_acc" in result else "") + "\n"
              f"# train it: rlsuite fit model=cnn data={space.dataset} arch={path}\n")
    atomic_write_bytes(path, (header + yaml.safe_dump(space.spec(arch).to_dict(), sort_keys=False)).encode())
