"""Tabulate the per-seed results of the learning tests (docs/tests.md).

    RLSUITE_LEARNING_LOG=/tmp/learning.jsonl python -m pytest -m "slow or not slow" <learning tests>
    python benchmarks/learning_tests_table.py /tmp/learning.jsonl

With ``RLSUITE_LEARNING_LOG`` set, every learning test runs all its seeds (no early stop) and appends
one JSON line per seed (tests/learning.py). This prints one markdown table per test (seed → result,
threshold, whether it passed) and a JSON last line with the counts.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def main() -> None:
    rows: dict[str, list[dict]] = defaultdict(list)
    for path in sys.argv[1:]:
        with open(path) as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    rows[row["test"]].append(row)
    summary = {}
    for test, results in rows.items():
        results.sort(key=lambda r: r["seed"])
        threshold, need, of = results[0]["threshold"], results[0]["need"], results[0]["of"]
        passed = sum(r["result"] >= threshold for r in results)
        summary[test] = {"passed": passed, "seeds": len(results)}
        print(f"### {test}\n\nthreshold ≥ {threshold:g}, quorum {need} of {of} seeds; "
              f"{passed} of {len(results)} seeds reached it\n")
        print("| seed | result | reached | seconds (loaded machine) |\n|---|---|---|---|")
        for r in results:
            reached = "yes" if r["result"] >= threshold else "no"
            print(f"| {r['seed']} | {r['result']:.4g} | {reached} | {r['seconds']} |")
        print()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
