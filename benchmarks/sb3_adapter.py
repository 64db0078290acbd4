"""Overhead of the sb3 adapter: SB3 PPO (rl-zoo CartPole-v1 config) trained directly with
``stable_baselines3.PPO(...).learn`` versus through ``rlsuite.make_agent("sb3", ...)``, in one
process, one torch thread, alternating runs so machine load hits both alike.

    python benchmarks/sb3_adapter.py --steps 20000 --repeats 3

The last line printed is a JSON object: seconds per run for each side and the median ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

ZOO = dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0)


def direct(steps: int, seed: int) -> float:
    from rlsuite.agents.sb3_adapter import linear_schedule
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    model = PPO("MlpPolicy", env, seed=seed, device="cpu", learning_rate=linear_schedule(1e-3),
                clip_range=linear_schedule(0.2), **ZOO)  # fmt: skip
    t0 = time.perf_counter()
    model.learn(steps)
    return time.perf_counter() - t0


def adapter(steps: int, seed: int) -> float:
    import rlsuite

    kwargs = {k: v for k, v in ZOO.items() if k not in ("gamma", "batch_size")}
    agent = rlsuite.make_agent(
        "sb3", env="CartPole-v1", seed=seed, device="cpu", algo="ppo", n_envs=8, gamma=ZOO["gamma"],
        batch_size=ZOO["batch_size"], kwargs={**kwargs, "learning_rate": "lin_0.001", "clip_range": "lin_0.2"},
    )  # fmt: skip
    t0 = time.perf_counter()
    agent.learn(steps)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    direct(2_000, 99), adapter(2_000, 99)  # warm-up: imports, first optimizer
    times: dict[str, list[float]] = {"sb3_direct": [], "rlsuite_sb3_adapter": []}
    for r in range(args.repeats):
        times["sb3_direct"].append(direct(args.steps, r))
        times["rlsuite_sb3_adapter"].append(adapter(args.steps, r))
        print(f"repeat {r}: direct {times['sb3_direct'][-1]:.2f}s, adapter {times['rlsuite_sb3_adapter'][-1]:.2f}s")
    ratios = [a / d for a, d in zip(times["rlsuite_sb3_adapter"], times["sb3_direct"])]
    result = {
        "benchmark": "sb3_adapter_overhead",
        "env": "CartPole-v1",
        "steps": args.steps,
        "seconds": {k: [round(t, 3) for t in v] for k, v in times.items()},
        "steps_per_s": {k: round(args.steps / statistics.median(v)) for k, v in times.items()},
        "adapter_over_direct_median_ratio": round(statistics.median(ratios), 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
