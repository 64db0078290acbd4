"""What the non-finite guard (rlsuite.nonfinite, on by default) costs in training speed.

Two agents with the same seed and config, one with the guard on and one with it off, train in
alternating chunks in one process (on/off, then off/on, ...), so both see the same machine load.
The guard changes no computation, so both follow the same trajectory bit for bit (checked at the
end). Reported: steps/s of each chunk, the per-pair ratio off/on − 1 (the guard's overhead), its
median and spread. Single-threaded torch on CPU, the zoo's CartPole hyperparameters.

    python benchmarks/nonfinite_guard.py                  # PPO CartPole, 8 pairs of 16,384-step chunks
    python benchmarks/nonfinite_guard.py --agent dqn --chunk 8192 --pairs 5

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

import rlsuite


def timed_chunk(agent: rlsuite.Agent, steps: int) -> float:
    start = time.perf_counter()
    agent.learn(steps)
    return steps / (time.perf_counter() - start)


def weights(agent: rlsuite.Agent) -> list[torch.Tensor]:
    """Every parameter of every network the agent holds."""
    return [p for module in vars(agent).values() if isinstance(module, torch.nn.Module) for p in module.parameters()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agent", default="ppo")
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--chunk", type=int, default=16_384, help="env steps per timed chunk")
    parser.add_argument("--pairs", type=int, default=8, help="on/off pairs (order alternates)")
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
        print(f"pair {pair}: on {sps[True][-1]:,.0f} sps, off {sps[False][-1]:,.0f} sps, "
              f"overhead {100 * overheads[-1]:+.2f} %", flush=True)
    same = all(torch.equal(a, b) for a, b in zip(weights(agents[True]), weights(agents[False])))
    result = {
        "agent": args.agent, "env": args.env, "chunk_steps": args.chunk, "pairs": args.pairs,
        "sps_on_median": statistics.median(sps[True]), "sps_off_median": statistics.median(sps[False]),
        "overhead_median": statistics.median(overheads), "overhead_min": min(overheads),
        "overhead_max": max(overheads), "same_weights_on_and_off": same,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
