"""Tabular recipes: train one agent on one env config over several seeds, evaluate each greedily.

    python benchmarks/tabular.py --agent q_learning --env FrozenLake-v1 --steps 200000 --seeds 0 1 2 3 4 \
        [--episodes 2000] [agent.key=value ...]

Training uses the env config's tuned hyperparameters (``configs/env/<env>.yaml``, ``hparams.<agent>``;
its ``total_steps`` is the budget unless ``--steps`` is given) with any ``key=value`` overrides on top.
Prints one line per seed and a JSON last line. ``--exact`` replaces the sampled evaluation by the
exact expected return of the greedy policy, computed from the env's model (toy-text envs' ``P``
table) over its time limit: the number 2,000 sampled episodes estimate, without their noise.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import gymnasium as gym
import numpy as np
import yaml

import rlsuite
from rlsuite.config import configs_dir


def env_recipe(agent: str, env: str) -> dict[str, Any]:
    """hparams.<agent> of configs/env/<env>.yaml (including its total_steps budget)."""
    node = yaml.safe_load((configs_dir() / "env" / f"{env}.yaml").read_text())
    return dict((node.get("hparams") or {}).get(agent) or {})


def exact_return(env: str, policy: np.ndarray) -> float:
    """Expected undiscounted return of a deterministic tabular policy from the start distribution,
    over the env's step limit (dynamic programming on its known model)."""
    node = yaml.safe_load((configs_dir() / "env" / f"{env}.yaml").read_text())
    model = gym.make(node["id"], **(node.get("kwargs") or {}))
    table, horizon = model.unwrapped.P, model.spec.max_episode_steps
    n = len(table)
    value = np.zeros(n)
    for _ in range(horizon):
        value = np.array([sum(p * (r + (0.0 if done else value[s2])) for p, s2, r, done in table[s][policy[s]])
                          for s in range(n)])
    return float(model.unwrapped.initial_state_distrib @ value)


def parse_value(text: str) -> Any:
    return yaml.safe_load(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--env", required=True)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--no-recipe", action="store_true", help="class defaults instead of the env config's")
    parser.add_argument("--exact", action="store_true", help="exact expected return of the greedy policy")
    parser.add_argument("overrides", nargs="*", help="key=value hyperparameters on top of the recipe")
    args = parser.parse_args()

    hparams = {} if args.no_recipe else env_recipe(args.agent, args.env)
    budget = hparams.pop("total_steps", None)
    for item in args.overrides:
        key, value = item.split("=", 1)
        hparams[key.removeprefix("agent.")] = parse_value(value)
    steps = args.steps if args.steps is not None else budget
    if steps is None:
        raise SystemExit("no budget: give --steps or total_steps in the env config's hparams")

    results = []
    for seed in args.seeds:
        start = time.perf_counter()
        agent = rlsuite.make_agent(args.agent, env=args.env, seed=seed, **hparams).learn(steps)
        if args.exact:
            result = exact_return(args.env, agent.q_table.argmax(axis=1))
        else:
            result = float(rlsuite.evaluate(agent, episodes=args.episodes, seed=1000).mean)
        results.append(result)
        print(f"seed {seed}: {result:.4f}  ({time.perf_counter() - start:.1f} s)", flush=True)
    print(json.dumps({"agent": args.agent, "env": args.env, "steps": steps, "hparams": hparams,
                      "evaluation": "exact" if args.exact else f"{args.episodes} episodes", "seeds": args.seeds,
                      "results": results}))


if __name__ == "__main__":
    main()
