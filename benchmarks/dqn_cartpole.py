"""DQN on CartPole-v1 with the rl-zoo3 hyperparameters: rlsuite vs Stable-Baselines3, side by side
in one process (same machine load for both), single-threaded torch.

    python benchmarks/dqn_cartpole.py --seeds 0 1 2 3 4 --steps 50000

For every seed both libraries train for ``--steps`` env steps and are evaluated greedily over 20
episodes (seeds 1000..1019). The last line is a JSON object with per-seed returns, wall times and
the rlsuite / SB3 wall-time and CPU-time ratios (CPU time is the fairer measure on a shared,
oversubscribed machine).
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

ZOO = dict(lr=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
           target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
           exploration_final_eps=0.04, net_arch=[256, 256])


def run_rlsuite(seed: int, steps: int) -> tuple[float, float, float]:
    import rlsuite

    agent = rlsuite.make_agent("dqn", env="CartPole-v1", seed=seed, device="cpu", **ZOO)
    t0, c0 = time.perf_counter(), time.process_time()
    agent.learn(steps)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, rlsuite.evaluate(agent, episodes=20, seed=1000).mean


def run_sb3(seed: int, steps: int) -> tuple[float, float, float]:
    from stable_baselines3 import DQN

    cfg = dict(ZOO)
    model = DQN("MlpPolicy", "CartPole-v1", learning_rate=cfg.pop("lr"),
                policy_kwargs=dict(net_arch=cfg.pop("net_arch")), seed=seed, device="cpu", **cfg)
    t0, c0 = time.perf_counter(), time.process_time()
    model.learn(steps)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, float(np.mean(evaluate_greedy(sb3_greedy(model), "CartPole-v1")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--no-sb3", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out: dict = {"steps": args.steps, "rlsuite": {}, "sb3": {}}
    for seed in args.seeds:
        runners = [("rlsuite", run_rlsuite)] + ([] if args.no_sb3 else [("sb3", run_sb3)])
        for lib, runner in runners:
            wall, cpu, ret = runner(seed, args.steps)
            out[lib][seed] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "eval_mean": ret}
            print(f"{lib:8s} seed {seed}: {wall:.1f}s wall, {cpu:.1f}s cpu, return {ret:.1f}", flush=True)
    ours = [v["wall_s"] for v in out["rlsuite"].values()]
    out["rlsuite_solved"] = sum(v["eval_mean"] >= 475 for v in out["rlsuite"].values())
    if out["sb3"]:
        theirs = [v["wall_s"] for v in out["sb3"].values()]
        out["sb3_solved"] = sum(v["eval_mean"] >= 475 for v in out["sb3"].values())
        out["wall_ratio_rlsuite_over_sb3"] = round(float(np.sum(ours) / np.sum(theirs)), 3)
        cpu_ours = sum(v["cpu_s"] for v in out["rlsuite"].values())
        cpu_theirs = sum(v["cpu_s"] for v in out["sb3"].values())
        out["cpu_ratio_rlsuite_over_sb3"] = round(cpu_ours / cpu_theirs, 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
