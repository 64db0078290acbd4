"""Tabulate the learning tests' per-seed results under the float-rounding variants (docs/tests.md).

Measure (from the project root; each run reruns every seed of every learning test under four
rounding variants of one machine and keeps the per-variant logs in ``$TMPDIR/tmp.*/``)::

    TMPDIR=/tmp/fv bash ../shared/tools/float_variants.sh                 # default seeds 0-2
    TMPDIR=/tmp/fv-slow bash ../shared/tools/float_variants.sh $(grep -l assert_quorum tests/test_*.py) -m slow

then copy each ``<variant>.jsonl`` to ``docs/results/learning-tests/<seeds>-<variant>.jsonl`` (``<seeds>``
is ``default`` or ``slow``) and regenerate the page::

    python benchmarks/learning_tests_table.py docs/results/learning-tests --write docs/tests.md

The page's tables sit between the ``<!-- learning-tests:begin -->`` / ``end`` markers and are never
edited by hand. A test's *quorum margin* is, under its worst variant, how far the ``need``-th best seed
lies above the threshold: the room before the quorum breaks. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

BEGIN, END = "<!-- learning-tests:begin -->", "<!-- learning-tests:end -->"
SEED_SETS = {"default": "seeds 0-2 (default suite)", "slow": "seeds 3-5 (`-m slow`)"}


def load(folder: Path) -> dict[str, dict[str, dict[str, list[dict]]]]:
    """test -> seed set -> variant -> rows (one per seed)."""
    table: dict[str, dict[str, dict[str, list[dict]]]] = defaultdict(lambda: defaultdict(dict))
    for path in sorted(folder.glob("*.jsonl")):
        seed_set, _, variant = path.stem.partition("-")
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                table[row["test"]][seed_set].setdefault(variant, []).append(row)
    return table


def quorum_margin(rows: list[dict]) -> float:
    """The ``need``-th best result minus the threshold (negative: the quorum is broken)."""
    results = sorted((r["result"] for r in rows), reverse=True)
    need = rows[0]["need"]
    return results[need - 1] - rows[0]["threshold"]


def render(table: dict[str, dict[str, dict[str, list[dict]]]]) -> tuple[str, dict[str, dict[str, float]]]:
    summary: dict[str, dict[str, float]] = {}
    lines = ["| test | threshold | quorum | " + " | ".join(f"quorum margin, {v}" for v in SEED_SETS.values()) + " |",
             "|---|---|---|" + "---|" * len(SEED_SETS)]
    details: list[str] = []
    for test in sorted(table):
        sets = table[test]
        first = next(iter(next(iter(sets.values())).values()))[0]
        margins = {s: min(quorum_margin(rows) for rows in sets[s].values()) for s in SEED_SETS if s in sets}
        summary[test] = {s: round(m, 4) for s, m in margins.items()}
        cells = [f"{margins[s]:+.4g}" if s in margins else "not run" for s in SEED_SETS]
        head = f"| `{test}` | ≥ {first['threshold']:g} | {first['need']} of {first['of']} | "
        lines.append(head + " | ".join(cells) + " |")
        details.append(f"\n### {test}\n")
        details.append(f"Threshold ≥ {first['threshold']:g}; at least {first['need']} of {first['of']} seeds.\n")
        for seed_set, label in SEED_SETS.items():
            if seed_set not in sets:
                continue
            seeds = sorted({r["seed"] for rows in sets[seed_set].values() for r in rows})
            columns = " | ".join(f"seed {s}" for s in seeds)
            details.append(f"\n{label}:\n\n| variant | {columns} | quorum margin |")
            details.append("|---|" + "---|" * (len(seeds) + 1))
            for variant in sorted(sets[seed_set], key=lambda v: (v != "native", v)):
                rows = sets[seed_set][variant]
                by_seed = {r["seed"]: r["result"] for r in rows}
                cells = [f"{by_seed[s]:.4g}" if s in by_seed else "" for s in seeds]
                details.append(f"| {variant} | " + " | ".join(cells) + f" | {quorum_margin(rows):+.4g} |")
    return "\n".join(lines) + "\n\n## Per test\n" + "\n".join(details) + "\n", summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of <seeds>-<variant>.jsonl logs")
    parser.add_argument("--write", type=Path, help="rewrite the tables between the markers of this page")
    args = parser.parse_args()
    text, summary = render(load(args.folder))
    if args.write:
        page = args.write.read_text()
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
        args.write.write_text(pattern.sub(lambda _: f"{BEGIN}\n{text}{END}", page))
    else:
        print(text)
    broken = [t for t, m in summary.items() if any(v < 0 for v in m.values())]
    print(json.dumps({"tests": len(summary), "broken": broken, "quorum_margins": summary}))


if __name__ == "__main__":
    main()
