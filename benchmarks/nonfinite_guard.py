"""What the non-finite guard (rlsuite.nonfinite, on by default) costs in training speed.

Two agents with the same seed and config, one with the guard on and one with it off, train in
alternating chunks in one process (on/off, then off/on, ...), so both see the same machine load.
Chunks are timed in CPU time of this process (``time.process_time``): on a shared machine wall
time mostly measures the neighbours' load (±20 % between chunks), CPU time what this process did.
The guard changes no computation, so both follow the same trajectory bit for bit (checked at the
end). Reported: steps per CPU second of each chunk, the per-pair ratio off/on − 1 (the guard's
overhead), its median and spread. Single-threaded torch on CPU, the zoo's CartPole hyperparameters.

The chunk ratios resolve about ±1 %; for PPO the script also times the guard's own work directly
(one env check per vector step, the update's losses and gradient norms added and checked once per
update, on tensors and arrays of the real shapes) and divides it by the measured time per step.

    python benchmarks/nonfinite_guard.py                  # PPO CartPole, 40 pairs of 2,048-step chunks
    python benchmarks/nonfinite_guard.py --agent dqn --chunk 8192 --pairs 5

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

import rlsuite
from rlsuite.nonfinite import NonFiniteWatch, check_env_step


def timed_chunk(agent: rlsuite.Agent, steps: int) -> float:
    """Env steps per CPU second of this process."""
    start = time.process_time()
    agent.learn(steps)
    return steps / (time.process_time() - start)


def weights(agent: rlsuite.Agent) -> list[torch.Tensor]:
    """Every parameter of every network the agent holds."""
    return [p for module in vars(agent).values() if isinstance(module, torch.nn.Module) for p in module.parameters()]


def direct_ppo_cost(agent: rlsuite.Agent, calls: int = 20_000) -> float:
    """CPU seconds the guard spends per env step in PPO with ``agent``'s config, timed directly."""
    cfg = agent.config
    obs = np.zeros((cfg.n_envs, *agent.observation_space.shape), np.float32)
    rewards = np.ones(cfg.n_envs, np.float32)
    start = time.process_time()
    for _ in range(calls):
        check_env_step(obs, rewards, 0)
    env_check = (time.process_time() - start) / calls / cfg.n_envs
    rollout = cfg.n_steps * cfg.n_envs
    # per minibatch: policy, value and entropy losses, grad norm, approximate KL, clip fraction
    values_per_update = 6 * cfg.n_epochs * -(-rollout // agent.batch_size)
    watch, scalar = NonFiniteWatch(), torch.tensor(0.5)
    updates = max(calls // 100, 10)
    start = time.process_time()
    for _ in range(updates):
        for _ in range(values_per_update):
            watch.add("loss", scalar)
        watch.check(0)
    update_check = (time.process_time() - start) / updates / rollout
    return env_check + update_check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agent", default="ppo")
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--chunk", type=int, default=2048, help="env steps per timed chunk")
    parser.add_argument("--pairs", type=int, default=40, help="on/off pairs (order alternates)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    agents = {flag: rlsuite.make_agent(args.agent, env=args.env, seed=0, device="cpu", check_finite=flag)
              for flag in (True, False)}
    timed_chunk(agents[True], 1024)  # warm-up: Numba compilation, first allocations
    timed_chunk(agents[False], 1024)
    sps: dict[bool, list[float]] = {True: [], False: []}
    overheads = []
    for pair in range(args.pairs):
        order = (True, False) if pair % 2 == 0 else (False, True)
        for flag in order:
            sps[flag].append(timed_chunk(agents[flag], args.chunk))
        overheads.append(sps[False][-1] / sps[True][-1] - 1.0)
        print(f"pair {pair}: on {sps[True][-1]:,.0f}, off {sps[False][-1]:,.0f} steps/CPU s, "
              f"overhead {100 * overheads[-1]:+.2f} %", flush=True)
    same = all(torch.equal(a, b) for a, b in zip(weights(agents[True]), weights(agents[False])))
    direct = direct_ppo_cost(agents[True]) if args.agent == "ppo" else None
    result = {
        "agent": args.agent, "env": args.env, "chunk_steps": args.chunk, "pairs": args.pairs,
        "steps_per_cpu_s_on_median": statistics.median(sps[True]),
        "steps_per_cpu_s_off_median": statistics.median(sps[False]),
        "overhead_median": statistics.median(overheads), "overhead_min": min(overheads),
        "overhead_max": max(overheads), "same_weights_on_and_off": same,
        "direct_guard_cpu_us_per_step": None if direct is None else 1e6 * direct,
        "direct_overhead": None if direct is None else direct * statistics.median(sps[True]),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
