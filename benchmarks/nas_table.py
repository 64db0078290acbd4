"""Build the NAS tabular benchmark: train every architecture of a search space once (fixed seed) and
write the table shipped as package data (``envs/nas/data/<space>.json``).

    nice -n 10 python benchmarks/nas_table.py --space mnist1d-table --workers 2

Children go through :class:`rlsuite.envs.nas.evaluate.LiveEvaluator` (the SQLite cache, then the
``process`` executor), so a killed build resumes where it stopped (``--cache``). Prints a JSON last
line: architectures, total CPU-seconds of child training, wall seconds, accuracy range.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from rlsuite.envs.nas.cache import ChildCache
from rlsuite.envs.nas.evaluate import LiveEvaluator, table_path
from rlsuite.envs.nas.space import SearchSpace

FIELDS = ["val_acc", "test_acc", "flops", "params", "seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="mnist1d-table")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--executor", default="process")
    parser.add_argument("--cache", default=None, help="SQLite cache (default: runs/nas-table-<space>.sqlite)")
    parser.add_argument("--out", default=None, help="default: the package data file")
    parser.add_argument("--chunk", type=int, default=32, help="architectures handed to the executor at once")
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = SearchSpace.load(args.space)
    cache = ChildCache(args.cache or Path("runs") / f"nas-table-{space.name}.sqlite")
    evaluator = LiveEvaluator(space, cache, args.executor, args.workers)
    archs = list(space.all_architectures())
    start = time.perf_counter()
    results = []
    for i in range(0, len(archs), args.chunk):
        results += evaluator.evaluate(archs[i:i + args.chunk])
        print(f"{min(i + args.chunk, len(archs))}/{len(archs)} trained this run: {evaluator.newly_trained} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    evaluator.close()
    table = {"space": space.name, "dataset": space.dataset, "child": space.child, "fields": FIELDS,
             "archs": {"".join(map(str, a)): [round(r[f], 6) if isinstance(r[f], float) else r[f] for f in FIELDS]
                       for a, r in zip(archs, results)}}
    out = Path(args.out) if args.out else table_path(space.name)
    out.write_text(json.dumps(table, separators=(",", ":")) + "\n")
    val = [r["val_acc"] for r in results]
    print(json.dumps({"space": space.name, "architectures": len(archs), "file": str(out),
                      "bytes": out.stat().st_size, "cpu_seconds": round(sum(r["seconds"] for r in results), 1),
                      "wall_seconds_this_run": round(time.perf_counter() - start, 1),
                      "val_acc_min": min(val), "val_acc_max": max(val), "val_acc_mean": sum(val) / len(val)}))


if __name__ == "__main__":
    main()
