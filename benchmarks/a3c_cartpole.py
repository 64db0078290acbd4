"""A3C on CartPole-v1: rlsuite's Hogwild A3C (2 worker processes and 1, for the parallel speed-up)
against Stable-Baselines3's A2C (SB3 has no A3C; A2C is its synchronous sibling), side by side in one
process, single-threaded torch.

    python benchmarks/a3c_cartpole.py --seeds 0 1 2 3 --steps 120000

Each run trains for ``--steps`` env steps and is evaluated greedily over 20 episodes (seeds
1000..1019). rlsuite A3C uses the tuned ``hparams.a3c`` of configs/env/CartPole-v1.yaml; SB3 A2C the
rl-zoo3 CartPole settings (8 envs, ent_coef 0, otherwise SB3 defaults: n_steps 5, RMSProp 7e-4), at
the same budget. The last line is a JSON object with per-seed results and the speed ratios.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

try:
    from .common import evaluate_greedy, sb3_greedy
except ImportError:  # run as a script: python benchmarks/<name>.py
    from common import evaluate_greedy, sb3_greedy

A3C = dict(optimizer="adam", lr=2e-3, n_envs=8, t_max=5, ent_coef=0.0, gamma=0.99)


def run_rlsuite(seed: int, steps: int, n_workers: int) -> tuple[float, float]:
    import rlsuite

    agent = rlsuite.make_agent("a3c", env="CartPole-v1", tuned=False, seed=seed, device="cpu", n_workers=n_workers,
                               **A3C)
    t0 = time.perf_counter()
    agent.learn(steps)
    wall = time.perf_counter() - t0
    return wall, rlsuite.evaluate(agent, episodes=20, seed=1000).mean


def run_sb3_a2c(seed: int, steps: int) -> tuple[float, float]:
    from stable_baselines3 import A2C
    from stable_baselines3.common.env_util import make_vec_env

    model = A2C("MlpPolicy", make_vec_env("CartPole-v1", n_envs=8, seed=seed), ent_coef=0.0, seed=seed,
                device="cpu")
    t0 = time.perf_counter()
    model.learn(steps)
    wall = time.perf_counter() - t0
    return wall, float(np.mean(evaluate_greedy(sb3_greedy(model), "CartPole-v1")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--steps", type=int, default=120_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for seed in args.seeds:
        row = {"seed": seed}
        for label, fn in (("a3c_2w", lambda s: run_rlsuite(s, args.steps, 2)),
                          ("a3c_1w", lambda s: run_rlsuite(s, args.steps, 1)),
                          ("sb3_a2c", lambda s: run_sb3_a2c(s, args.steps))):
            wall, ret = fn(seed)
            row[label] = {"wall_s": round(wall, 2), "sps": round(args.steps / wall), "eval_mean": ret}
            print(f"seed {seed} {label:8s} {wall:7.1f} s  {args.steps / wall:8.0f} steps/s  eval {ret:6.1f}",
                  flush=True)
        rows.append(row)

    def mean(label: str, key: str) -> float:
        return float(np.mean([r[label][key] for r in rows]))

    summary = {
        "steps": args.steps,
        "seeds": args.seeds,
        "runs": rows,
        "a3c_2w_eval_mean": mean("a3c_2w", "eval_mean"),
        "a3c_2w_solved": sum(r["a3c_2w"]["eval_mean"] >= 475 for r in rows),
        "a3c_1w_eval_mean": mean("a3c_1w", "eval_mean"),
        "sb3_a2c_eval_mean": mean("sb3_a2c", "eval_mean"),
        "sb3_a2c_solved": sum(r["sb3_a2c"]["eval_mean"] >= 475 for r in rows),
        "speed_2w_vs_1w": round(mean("a3c_1w", "wall_s") / mean("a3c_2w", "wall_s"), 3),
        "speed_a3c_2w_vs_sb3_a2c": round(mean("sb3_a2c", "wall_s") / mean("a3c_2w", "wall_s"), 3),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
