"""rlsuite.distributed on this machine: rollout workers, a Ray sweep, NAS-style children, leftovers.

    python benchmarks/distributed.py --quick      # a few minutes on a busy 2-core machine

Measured, all in one process on one local Ray (started once, not timed except where said):

* ``ppo_sps_2workers_vs_1``: PPO on CartPole (n_envs=8, n_steps=512): env steps/s with 2 rollout
  workers over 1, timed over the iterations after the first (actor start-up excluded);
  ``ray_overhead_ms_per_iteration``: one worker's iteration time minus the local vector env's;
* ``sweep4_wall_ray_vs_sequential``: ``rlsuite train -m seed=0,1,2,3`` (A2C, CartPole) with
  ``launcher=ray`` over the same jobs one after another in this process (the Ray side includes its
  actors' start-up, each importing torch);
* ``nas_children_per_min_{1,2}_workers``: small CNNs from an ``ArchSpec`` trained 5 epochs on MNIST-1D
  (``rlsuite.backbones``) through the ``Executor`` interface (``make_executor("ray", workers=...)``),
  after one untimed warm-up child per worker (imports, dataset generation);
* ``leftover_ray_processes``: Ray processes (raylet, GCS, workers) still alive after shutdown: must be 0.

The last line is the JSON of every number.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

CHILD_EPOCHS = 5


def nas_child(arch: dict[str, Any]) -> float:
    """One NAS-style child: build the CNN an ArchSpec describes, train it on MNIST-1D, return test accuracy.
    (Imports inside: a function of __main__ travels to the Ray workers by value.)"""
    import torch
    import torch.nn.functional as F

    from rlsuite.backbones import ArchSpec, SpecCNN, batches, load_dataset

    torch.manual_seed(0)  # the same child gives the same accuracy in any worker
    data = load_dataset("mnist1d", seed=0)
    model = SpecCNN(ArchSpec.from_dict(arch), data.train.x.shape[1:], len(data.classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(CHILD_EPOCHS):
        model.train()
        for x, y in batches(data.train, 64, generator):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        x, y = torch.from_numpy(data.test.x), torch.from_numpy(data.test.y)
        return float((model(x).argmax(1) == y).float().mean())


CHILDREN = [{"convs": [[16, 5, 1, 2], [32, 3, 1, 2]], "hidden": [64], "dims": 1},
            {"convs": [[32, 3, 1, 2], [32, 3, 1, 2]], "hidden": [64], "dims": 1},
            {"convs": [[16, 7, 1, 2]], "hidden": [128], "dims": 1},
            {"convs": [[24, 5, 1, 2], [24, 5, 1, 1]], "hidden": [64], "dims": 1}]


class IterationClock:
    """Hooks recording when each iteration ends (no checkpoints)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.steps: list[int] = []

    def resume_point_due(self, prev: int, now: int) -> bool:
        return False

    def after_step(self, agent: Any, prev: int) -> None:
        self.times.append(time.perf_counter())
        self.steps.append(agent.steps)


def ppo_rate(workers: int, iterations: int) -> tuple[float, float]:
    """(env steps/s, seconds per iteration) over iterations 2..n."""
    from rlsuite import make_agent

    agent = make_agent("ppo", "CartPole-v1", seed=0, tuned=False, n_envs=8, n_steps=512, batch_size=1024,
                       n_epochs=4, runtime={"workers": workers})
    clock = IterationClock()
    agent.hooks = clock
    agent.learn(iterations * 8 * 512)
    agent.close()
    dt = clock.times[-1] - clock.times[0]
    return (clock.steps[-1] - clock.steps[0]) / dt, dt / (len(clock.times) - 1)


def sweep_wall(launcher: str, root: Path, total_steps: int) -> float:
    from rlsuite.cli import main

    args = ["train", "-m", "agent=a2c", "env=CartPole-v1", "seed=0,1,2,3", f"total_steps={total_steps}",
            "eval_episodes=5", "logger=[jsonl]", f"launcher={launcher}", f"runs_root={root / launcher}",
            f"leaderboard={root / 'board.db'}"]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(args) == 0
    assert len(list((root / launcher).iterdir())) == 4
    return time.perf_counter() - start


def children_per_minute(workers: int, children: list[dict[str, Any]]) -> tuple[float, list[float]]:
    from rlsuite.executors import make_executor

    with make_executor("ray", workers=workers) as executor:
        # Not timed: each actor's first child pays the imports and generating MNIST-1D (~3 CPU-s, measured),
        # which a NAS search pays once per worker; the children after it are what the rate measures.
        list(executor.map_unordered(nas_child, children[:workers]))
        start = time.perf_counter()
        results = dict(executor.map_unordered(nas_child, children))
        minutes = (time.perf_counter() - start) / 60
    return len(children) / minutes, [results[i] for i in range(len(children))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from rlsuite import distributed

    started = time.time()
    distributed.init({"num_cpus": 2})
    iterations = 6 if args.quick else 20
    out: dict[str, Any] = {"quick": args.quick, "load_average_1min_at_start": round(os.getloadavg()[0], 1)}
    local_sps, local_iter = ppo_rate(0, iterations)
    one_sps, one_iter = ppo_rate(1, iterations)
    two_sps, _ = ppo_rate(2, iterations)
    out.update(ppo_sps_local=round(local_sps), ppo_sps_1worker=round(one_sps), ppo_sps_2workers=round(two_sps),
               ppo_sps_2workers_vs_1=round(two_sps / one_sps, 2),
               ray_overhead_ms_per_iteration=round(1000 * (one_iter - local_iter), 1),
               local_ms_per_iteration=round(1000 * local_iter, 1))
    print(out, file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        steps = 2000 if args.quick else 10000
        sequential = sweep_wall("local", Path(tmp), steps)
        on_ray = sweep_wall("ray", Path(tmp), steps)
    out.update(sweep4_wall_sequential_s=round(sequential, 1), sweep4_wall_ray_s=round(on_ray, 1),
               sweep4_wall_ray_vs_sequential=round(on_ray / sequential, 2))
    children = CHILDREN if args.quick else CHILDREN * 2
    rate_1, acc_1 = children_per_minute(1, children)
    rate_2, acc_2 = children_per_minute(2, children)
    out.update(nas_children_per_min_1_worker=round(rate_1, 2), nas_children_per_min_2_workers=round(rate_2, 2),
               nas_children_2_vs_1=round(rate_2 / rate_1, 2), nas_child_accuracies=[round(a, 3) for a in acc_2],
               nas_same_results_1_and_2_workers=acc_1 == acc_2)
    distributed.shutdown()
    out["load_average_1min_at_end"] = round(os.getloadavg()[0], 1)
    out["leftover_ray_processes"] = len(distributed.wait_for_no_ray_processes(since=started, timeout=15))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
