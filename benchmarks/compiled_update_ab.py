"""A change to ``rlsuite/compiled_update.py`` measured against an earlier revision of it, in one process.

Three agents of the same recipe train side by side: eager, compiled with the module as it is now,
and compiled with the module as it was at ``--against`` (read with ``git show``, loaded under another
name; the agent builds its ``CompiledUpdate`` from it exactly as it builds the current one). Rounds of
updates alternate between the three, so load from other processes falls on all alike; reported are
the median and minimum per update. For DQN a fourth agent takes the current module one compiled call
per step (``runtime.compiled_loop=false``): ``loop_vs_per_step`` is what the loop buys.

    python benchmarks/compiled_update_ab.py --against e088bfc              # DQN, zoo CartPole recipe
    python benchmarks/compiled_update_ab.py --against e088bfc --agent td3  # TD3, zoo Pendulum recipe

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

import rlsuite
import rlsuite.compiled_update
from rlsuite.buffers import to_torch

try:
    from .offpolicy import zoo_hparams
except ImportError:  # run as a script: python benchmarks/<name>.py
    from offpolicy import zoo_hparams  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent


def module_at(revision: str) -> ModuleType:
    """``rlsuite/compiled_update.py`` as it was at ``revision``, imported as a module of its own."""
    try:
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:rlsuite/compiled_update.py"],
                                check=True, capture_output=True, text=True).stdout
    except subprocess.CalledProcessError as err:
        sys.exit(f"--against {revision}: git cannot show rlsuite/compiled_update.py there ({err.stderr.strip()})")
    path = Path(tempfile.mkdtemp()) / "compiled_update_then.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("compiled_update_then", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def building_with(module: ModuleType) -> Iterator[None]:
    """Agents built inside construct ``module.CompiledUpdate`` where they would construct the current
    one: ``rlsuite.compiled_update.compiled_update`` looks the class up when it is called, so each
    agent keeps its own construction (networks, targets, clipping) and only the step's code differs."""
    current = rlsuite.compiled_update.CompiledUpdate
    rlsuite.compiled_update.CompiledUpdate = module.CompiledUpdate  # type: ignore[misc]
    try:
        yield
    finally:
        rlsuite.compiled_update.CompiledUpdate = current  # type: ignore[misc]


def build(agent: str, then: ModuleType) -> dict[str, Any]:
    """Eager, compiled now and compiled then, on ``agent``'s zoo recipe, past their warm-up."""
    env_id, warm_up = ("CartPole-v1", 1100) if agent == "dqn" else ("Pendulum-v1", 400)
    hp = zoo_hparams(agent, env_id) | ({"learning_starts": 300} if agent == "td3" else {})
    # DQN's compiled loop (runtime.compiled_loop) against the same module's one call per step; the
    # earlier module takes one call per step where it has no loop
    loops = {"eager": False, "then": hasattr(then.CompiledUpdate, "steps"), "now": True, "now_per_step": False}
    agents = {}
    for name in ("eager", "then", "now") + (("now_per_step",) if agent == "dqn" else ()):
        with building_with(then) if name == "then" else contextlib.nullcontext():
            agents[name] = rlsuite.make_agent(agent, env=env_id, tuned=False, seed=0, device="cpu", **hp,
                                              runtime={"compiled_update": name != "eager",
                                                       **({"compiled_loop": loops[name]} if agent == "dqn" else {})})
        agents[name].learn(warm_up)
    if not any(isinstance(value, then.CompiledUpdate) for value in vars(agents["then"]).values()):
        sys.exit(f"{agent} did not build its compiled step from the earlier module")  # nothing would be compared
    return agents


def one_round(agent: Any) -> int:
    """A round of updates as the agent's loop takes them (DQN: one training round of 128; TD3: 20
    updates on fresh minibatches); returns how many."""
    if agent.name == "dqn":
        agent.update(128)
        return 128
    for _ in range(20):
        agent.update(to_torch(agent.buffer.sample(agent.config.batch_size)))
    return 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="the git revision whose compiled_update.py to compare with")
    parser.add_argument("--agent", choices=("dqn", "td3"), default="dqn")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds}: at least 1")
    torch.set_num_threads(1)
    agents = build(args.agent, module_at(args.against))
    for agent in agents.values():
        one_round(agent)  # compiles
    times: dict[str, list[float]] = {name: [] for name in agents}
    for _ in range(args.rounds):
        for name, agent in agents.items():
            t = time.perf_counter()
            n = one_round(agent)
            times[name].append((time.perf_counter() - t) / n * 1e6)
    out: dict[str, Any] = {"agent": args.agent, "against": args.against, "rounds": args.rounds}
    for name, values in times.items():
        out[f"us_per_update_{name}_median"] = round(statistics.median(values), 1)
        out[f"us_per_update_{name}_min"] = round(min(values), 1)
    out["now_vs_then"] = round(out["us_per_update_now_median"] / out["us_per_update_then_median"], 3)
    if "now_per_step" in agents:
        out["loop_vs_per_step"] = round(out["us_per_update_now_median"] / out["us_per_update_now_per_step_median"], 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
