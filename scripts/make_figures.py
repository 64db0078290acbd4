"""Draw the documentation's learning-curve figures from the stored results.

Every results file under docs/results/data/ with a ``curves`` key and a ``figure`` path (relative to
docs/results/) becomes that PNG: one panel per (env, agent) with each seed's evaluation returns
against training steps (or what the panel's ``xlabel`` names) and their mean; the y axis says what
a point is (the optional ``ylabel``, by default the greedy evaluation return). The drawing is
deterministic (no timestamps in the PNG), so a figure can be checked against its data:

    python scripts/make_figures.py            # (re)draw every figure
    python scripts/make_figures.py --check    # exit 1 if a committed figure differs from its data's
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
DATA = RESULTS / "data"
SEED_STYLES = ["--", ":", "-.", (0, (5, 1))]  # one dash pattern per seed, the mean drawn solid


def figure_sources() -> list[tuple[Path, dict[str, Any]]]:
    """(results file, its data) for every stored result that has curves and names a figure."""
    out = []
    for path in sorted(DATA.glob("*.json")):
        data = json.loads(path.read_text())
        if data.get("curves") and data.get("figure"):
            out.append((path, data))
    return out


def draw(data: dict[str, Any]) -> bytes:
    """The PNG bytes of ``data``'s learning curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    panels = list(data["curves"].values())
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.0), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        seeds = panel["seeds"]
        for i, (seed, points) in enumerate(seeds.items()):
            steps, returns = zip(*points, strict=True) if points else ((), ())
            if len(seeds) == 1:  # a single seed is the curve itself
                ax.plot(steps, returns, color="C0", lw=2, label=f"seed {seed}")
            else:
                ax.plot(steps, returns, color="C0", alpha=0.45, lw=1, ls=SEED_STYLES[i % len(SEED_STYLES)],
                        label=f"seed {seed}")
        # the mean over seeds on the steps any seed evaluated, within the range all of them cover
        # (episode-based agents evaluate at slightly different steps per seed: linear interpolation)
        curves = [np.array(points, dtype=float) for points in seeds.values() if points]
        if len(curves) > 1:
            low, high = max(c[0, 0] for c in curves), min(c[-1, 0] for c in curves)
            grid = np.unique(np.concatenate([c[:, 0] for c in curves]))
            grid = grid[(grid >= low) & (grid <= high)]
            means = np.mean([np.interp(grid, c[:, 0], c[:, 1]) for c in curves], axis=0)
            ax.plot(grid, means, color="C0", lw=2, label=f"mean of {len(curves)} seeds")
        ax.set_title(f"{panel['agent']} on {panel['env']}", fontsize=10)
        ax.set_xlabel(panel.get("xlabel", "environment steps"), fontsize=9)
        ax.set_ylabel(data.get("ylabel", "greedy evaluation return"), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for path, data in figure_sources():
        target = RESULTS / data["figure"]
        png = draw(data)
        if args.check:
            if not target.is_file() or target.read_bytes() != png:
                stale.append(f"{target.relative_to(RESULTS.parent.parent)} (from {path.name})")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png)
        print(f"{target.relative_to(RESULTS.parent.parent)} ({len(png) // 1024} KB) from {path.name}")
    if stale:
        print("stale figures (run python scripts/make_figures.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
