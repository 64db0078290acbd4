"""Learning tests assert over several seeds: a quorum of seeds must reach the threshold.

One seed at the edge is not a test: another CPU rounds floats differently (fused vs foreach Adam,
another BLAS) and a seed's outcome can flip. So a learning test trains its recipe on a few seeds
and asserts that at least ``need`` of them reach ``threshold`` (docs/tests.md lists every seed's
result, so the margin is visible). The default run uses ``DEFAULT_SEEDS``; the ``slow``-marked twin
of every learning test (``seed_sets``) reruns the same quorum on the disjoint ``SLOW_SEEDS``.

The quorum stops as soon as its outcome is decided (2 of 3 passing on the first two seeds skips the
third), which keeps the default suite short. Set ``RLSUITE_LEARNING_LOG=<file.jsonl>`` to run every
seed regardless and append each result to that file (how docs/tests.md is measured).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence

import pytest

DEFAULT_SEEDS = (0, 1, 2)
SLOW_SEEDS = (3, 4, 5)


def seed_sets() -> list:
    """Parametrize a learning test over the default seeds and, marked ``slow``, the other seeds."""
    return [pytest.param(DEFAULT_SEEDS, id="seeds0-2"),
            pytest.param(SLOW_SEEDS, id="seeds3-5", marks=pytest.mark.slow)]


def assert_quorum(name: str, score: Callable[[int], float], seeds: Sequence[int], threshold: float,
                  need: int | None = None) -> dict[int, float]:
    """Run ``score(seed)`` for the seeds until decided; at least ``need`` (default: all but one) must be
    ``>= threshold``. Returns the results seen, seed → score."""
    need = len(seeds) - 1 if need is None else need
    log = os.environ.get("RLSUITE_LEARNING_LOG")
    results: dict[int, float] = {}
    for seed in seeds:
        start = time.perf_counter()
        results[seed] = float(score(seed))
        if log:
            with open(log, "a") as f:
                f.write(json.dumps({"test": name, "seed": seed, "result": results[seed], "threshold": threshold,
                                    "need": need, "of": len(seeds), "seconds": round(time.perf_counter() - start, 1)})
                        + "\n")
            continue
        passed = sum(r >= threshold for r in results.values())
        failed = len(results) - passed
        if passed >= need or failed > len(seeds) - need:
            break
    passed = sum(r >= threshold for r in results.values())
    assert passed >= need, f"{name}: {passed} of {len(results)} seeds reached {threshold} (need {need}): {results}"
    return results
