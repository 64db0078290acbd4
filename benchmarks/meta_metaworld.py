"""MAML-RL on Meta-World ML1 (issue 16), a reduced budget that fits a CPU: held-out return and success
rate after 0 and 1 gradient steps, before and after meta-training.

    nice -n 10 python benchmarks/meta_metaworld.py --iterations 20 --horizon 150
    nice -n 10 python benchmarks/meta_metaworld.py --iterations 20 --horizon 150 --inner-steps 0   # pretrained

Meta-training tasks come from ML1's 50 train goals, the evaluation from its 50 test goals (the first
``--test-tasks`` of them). Needs the metaworld extra. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any


def meta_test(agent: Any, tasks: int, trajectories: int, seed: int) -> dict[str, Any]:
    result = agent.meta_test(tasks, steps=1, seed=seed, n_traj=trajectories)
    return {"returns": [round(r, 1) for r in result["returns"]], "success": [round(s, 3) for s in result["success"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-name", default="reach-v3")
    parser.add_argument("--horizon", type=int, default=150, help="Meta-World's max_path_length is 500")
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--meta-batch", type=int, default=10, help="tasks per meta-iteration (garage: 20-25)")
    parser.add_argument("--trajectories", type=int, default=10, help="per task and gradient step (garage: 10)")
    parser.add_argument("--test-tasks", type=int, default=10, help="held-out tasks (Meta-World has 50)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[128, 128])
    parser.add_argument("--activation", default="tanh")
    parser.add_argument("--inner-lr", type=float, default=0.1)
    parser.add_argument("--inner-steps", type=int, default=1,
                        help="1: MAML; 0: the multi-task TRPO policy without adaptation in meta-training (pretrained)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    from rlsuite.agents.maml import MAML

    torch.set_num_threads(1)
    env = {"plugin": "metaworld_ml1", "kwargs": {"env_name": args.env_name, "horizon": args.horizon}}
    agent = MAML(env, seed=args.seed, device="cpu", net={"widths": args.hidden, "activation": args.activation},
                 meta_batch_size=args.meta_batch, trajectories_per_task=args.trajectories, inner_lr=args.inner_lr,
                 inner_steps=args.inner_steps, test_step_sizes=[args.inner_lr])
    eval_seed = 100_000 + args.seed
    t0, cpu0 = time.perf_counter(), time.process_time()
    before = meta_test(agent, args.test_tasks, args.trajectories, eval_seed)
    print("before meta-training", before, flush=True)
    curve = []
    for i in range(args.iterations):
        info = agent.meta_iteration()
        curve.append([round(info["meta/return_before"], 1), round(info["meta/return_after"], 1)])
        print(f"meta-iteration {i + 1}: train return before/after the inner step {curve[-1]}", flush=True)
    after = meta_test(agent, args.test_tasks, args.trajectories, eval_seed)
    print("after meta-training", after, flush=True)
    summary = {
        "env": f"metaworld_ml1/{args.env_name}", "horizon": args.horizon, "meta_iterations": args.iterations,
        "meta_batch_size": args.meta_batch, "trajectories_per_task": args.trajectories,
        "held_out_tasks": args.test_tasks, "hidden_sizes": args.hidden, "activation": args.activation,
        "inner_lr": args.inner_lr, "inner_steps": args.inner_steps, "seed": args.seed, "env_steps": agent.steps,
        "held_out_before_training": before, "held_out_after_training": after, "train_curve": curve,
        "wall_seconds": round(time.perf_counter() - t0, 1), "cpu_seconds": round(time.process_time() - cpu0, 1),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
