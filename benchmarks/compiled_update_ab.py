"""A change to ``rlsuite/compiled_update.py`` measured against an earlier revision of it, in one process.

Three agents of the same recipe train side by side: eager, compiled with the module as it is now,
and compiled with the module as it was at ``--against`` (read with ``git show``, loaded under another
name, given the same networks and optimizer). Rounds of updates alternate between the three, so load
from other processes falls on all alike; reported are the median and minimum per update.

    python benchmarks/compiled_update_ab.py --against e088bfc              # DQN, zoo CartPole recipe
    python benchmarks/compiled_update_ab.py --against e088bfc --agent td3  # TD3, zoo Pendulum recipe

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

import rlsuite
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


def dqn_agents(then: ModuleType) -> tuple[dict[str, Any], Any]:
    agents = {}
    for name in ("eager", "then", "now"):
        agent = rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, seed=0, device="cpu",
                                   runtime={"compiled_update": name != "eager"}, **zoo_hparams("dqn", "CartPole-v1"))
        if name == "then":  # the same construction as agents/dqn.py's, from the earlier module
            agent.compiled_step = then.CompiledUpdate(
                agent.q_loss, {"q_net": agent.q_net, "target_net": agent.target_net}, agent.optimizer,
                max_grad_norm=agent.config.max_grad_norm or 0.0, name="DQN update")
        agent.learn(1100)  # past learning_starts: the first round (and its compilation) is behind
        agents[name] = agent
    return agents, lambda agent: agent.update(128)


def td3_agents(then: ModuleType) -> tuple[dict[str, Any], Any]:
    hp = {**zoo_hparams("td3", "Pendulum-v1"), "learning_starts": 300}
    agents = {}
    for name in ("eager", "then", "now"):
        agent = rlsuite.make_agent("td3", env="Pendulum-v1", tuned=False, seed=0, device="cpu", **hp,
                                   runtime={"compiled_update": name != "eager"})
        if name == "then":  # the same construction as agents/ddpg.py's, from the earlier module
            agent.compiled_critic_step = then.CompiledUpdate(
                agent.critic_loss, {"critic": agent.critic, "critic_target": agent.critic_target,
                                    "actor_target": agent.actor_target}, agent.critic_optimizer, name="critic step")
            agent.compiled_actor_step = then.CompiledUpdate(
                agent.actor_loss, {"actor": agent.actor, "critic": agent.critic}, agent.actor_optimizer,
                targets=[(agent.critic, agent.critic_target), (agent.actor, agent.actor_target)],
                tau=agent.config.tau, name="actor step")
        agent.learn(400)
        agents[name] = agent

    def twenty_updates(agent: Any) -> None:
        for _ in range(20):
            agent.update(to_torch(agent.buffer.sample(hp["batch_size"])))
    return agents, twenty_updates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="the git revision whose compiled_update.py to compare with")
    parser.add_argument("--agent", choices=("dqn", "td3"), default="dqn")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds}: at least 1")
    torch.set_num_threads(1)
    agents, one_round = (dqn_agents if args.agent == "dqn" else td3_agents)(module_at(args.against))
    per_round = 128 if args.agent == "dqn" else 20
    for agent in agents.values():
        one_round(agent)  # compiles
    times: dict[str, list[float]] = {name: [] for name in agents}
    for _ in range(args.rounds):
        for name, agent in agents.items():
            t = time.perf_counter()
            one_round(agent)
            times[name].append((time.perf_counter() - t) / per_round * 1e6)
    out: dict[str, Any] = {"agent": args.agent, "against": args.against, "rounds": args.rounds}
    for name, values in times.items():
        out[f"us_per_update_{name}_median"] = round(statistics.median(values), 1)
        out[f"us_per_update_{name}_min"] = round(min(values), 1)
    out["now_vs_then"] = round(out["us_per_update_now_median"] / out["us_per_update_then_median"], 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
