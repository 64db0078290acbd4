"""The results page's side-by-side table (every peer per row) from the logs of the two benchmarks.

    python benchmarks/offpolicy.py --quick > off.log
    python benchmarks/onpolicy.py --quick --rows ppo_cartpole > on.log
    python benchmarks/peers_table.py off.log on.log --command "<the commands above>"

Each log's last line is the benchmark's JSON summary; several off-policy logs may be given (e.g. one
per agent). Writes ``docs/results/data/peers_side_by_side.json``, which ``scripts/docs_site.py``
renders on the results page: one line per benchmark row, one cell per library (off-policy: wall s
per seed of construction + learn, greedy mean, seeds solved; on-policy: learn steps/s and greedy
mean), a skipped library with its reason, and rlsuite against the fastest peer that ran.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from pathlib import Path
from typing import Any

try:
    from .common import cpu_model
    from .offpolicy import summarize
    from .onpolicy import ROWS
    from .peers import PEERS
except ImportError:  # run as a script: python benchmarks/<name>.py
    from common import cpu_model  # type: ignore[no-redef]
    from offpolicy import summarize  # type: ignore[no-redef]
    from onpolicy import ROWS  # type: ignore[no-redef]
    from peers import PEERS  # type: ignore[no-redef]

OUT = Path(__file__).resolve().parent.parent / "docs" / "results" / "data" / "peers_side_by_side.json"
LIBS = ["rlsuite", *PEERS]


def skipped_cell(lib: str, reason: str) -> str:
    """A skipped library's cell; a peer whose release cannot run here shows that reason (it holds installed or not)."""
    if lib in PEERS and PEERS[lib].unusable:
        return "skipped: its release cannot run here (see Versions)"
    return f"skipped: {reason}"
NAMES = {"rlsuite": "rlsuite", **{p.name: p.label for p in PEERS.values()}}
ROW_NAMES = {"dqn": "DQN", "td3": "TD3", "ddpg": "DDPG", "sac": "SAC", "sac_discrete": "discrete SAC"}


def read_log(path: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The summary (the last JSON line) and the per-run lines (off-policy: one per library and seed).
    An off-policy log cut short (no summary line) is summarised from the runs it finished."""
    lines = [json.loads(line) for line in Path(path).read_text().splitlines() if line.startswith("{")]
    runs = [line for line in lines if "lib" in line and "agent" in line]
    if runs and "summary" not in lines[-1]:
        return {"summary": []}, runs
    return lines[-1], runs


def budget_note(result: dict[str, Any]) -> str:
    """The budget cell's note on the CPU a run had: pinned to cores (``--cores``: every library had
    only those), torch threads beyond one (``--threads``)."""
    cores, threads = result.get("cores"), result.get("torch_threads", 1)
    note = f", one core per library (--cores {len(cores)})" if cores and len(cores) == 1 else \
        (f", pinned to {len(cores)} cores" if cores else "")
    return note + (f", torch threads {threads}" if threads > 1 else "")


def offpolicy_rows(result: dict[str, Any], runs: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    if runs:  # the runs that finished (a log cut short has no summary line), and the skipped libraries
        ran = {(r["agent"], r["lib"]) for r in runs}
        skipped = [s for s in result["summary"] if "skipped" in s and (s["agent"], s["lib"]) not in ran]
        result = {**result, "summary": summarize(runs) + skipped}
    cpu: dict[tuple[str, str], float] = {}
    for run in runs:
        if "cpu_s" in run:
            cpu[(run["agent"], run["lib"])] = cpu.get((run["agent"], run["lib"]), 0.0) + run["cpu_s"]
    by_agent: dict[str, dict[str, dict[str, Any]]] = {}
    for s in result["summary"]:
        by_agent.setdefault(s["agent"], {})[s["lib"]] = s
    for agent, libs in by_agent.items():
        first = next(iter(libs.values()))
        seeds = max((s.get("seeds", 0) for s in libs.values()), default=0)
        cells, walls = [], {}
        for lib in LIBS:
            s = libs.get(lib)
            if s is None:
                cells.append("not run")
            elif "skipped" in s:
                cells.append(skipped_cell(lib, s["skipped"]))
            else:
                cells.append(f"{s['wall_s']} s · {s['mean']} ({s['solved']}/{s['seeds']} solved)")
                walls[lib] = sum(s["walls"])
        peers_ran = {lib: w for lib, w in walls.items() if lib != "rlsuite"}
        verdict = "-"
        if "rlsuite" in walls and peers_ran:
            fastest = min(peers_ran, key=peers_ran.__getitem__)
            verdict = f"{walls['rlsuite'] / peers_ran[fastest]:.2f}× the wall of {NAMES[fastest]}"
            if (agent, "rlsuite") in cpu and (agent, fastest) in cpu:
                verdict += f" ({cpu[(agent, 'rlsuite')] / cpu[(agent, fastest)]:.2f}× its CPU time)"
        rows.append([f"{ROW_NAMES.get(agent, agent)} {first['env']}",
                     f"{first['steps'] // 1000}k steps, {seeds} seed(s){budget_note(result)}", *cells, verdict])
    return rows


def onpolicy_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    rows_run = sorted({k[: -len("_sps")] for k in result if k.endswith("_sps") and k.count("_") == 2})
    for row in rows_run:
        cells = []
        for lib in LIBS:
            prefix = row if lib == "rlsuite" else f"{row}_{lib}"
            if f"{prefix}_sps" in result:
                cells.append(f"{result[f'{prefix}_sps']:.0f} steps/s · {result[f'{prefix}_mean']:.1f}")
            elif f"{row}_{lib}_skipped" in result:
                cells.append(skipped_cell(lib, result[f"{row}_{lib}_skipped"]))
            else:
                cells.append("not run")
        best = result.get(f"{row}_best_peer")
        verdict = f"{result[f'{row}_sps_vs_best_peer']:.2f}× the steps/s of {NAMES[best]}" if best else "-"
        env_id, steps, agent, *_ = ROWS[row]
        rows.append([f"{agent.upper()} {env_id}",
                     f"{steps // 1000}k steps, {len(result['seeds'])} seed(s){budget_note(result)}", *cells, verdict])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logs", nargs="+", help="logs of offpolicy.py / onpolicy.py (last line: the JSON summary)")
    parser.add_argument("--command", required=True, help="the commands that produced the logs (recorded)")
    parser.add_argument("--notes", default="", help="appended to the table's notes")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--append", action="store_true",
                        help="keep the stored rows (one with the same row and budget is replaced) and commands")
    args = parser.parse_args()
    rows: list[list[str]] = []
    versions: dict[str, str] = {}
    stored = json.loads(args.out.read_text()) if args.append and args.out.exists() else None
    for path in args.logs:
        result, runs = read_log(path)
        versions.update(result.get("versions", {}))
        versions.update({p.name: p.unusable for p in PEERS.values() if p.unusable and p.name in versions})
        rows.extend(offpolicy_rows(result, runs) if "summary" in result else onpolicy_rows(result))
    if stored is not None:
        replaced = {tuple(row[:2]) for row in rows}
        rows = [row for row in stored["rows"] if tuple(row[:2]) not in replaced] + rows
        versions = {**stored.get("versions", {}), **versions}
        args.command = f"{stored['command']}; {args.command}"
        args.notes = f"{stored['notes']} {args.notes}".strip()
    data = {
        "title": "Side by side with every peer (same recipe, same seeds, alternating in one process)",
        "agents": ["dqn", "td3", "sac", "ppo", "sb3"],
        "command": args.command,
        "date": datetime.date.today().isoformat(),
        "hardware": f"{cpu_model()} ({os.cpu_count()} cores), one thread per library (torch threads 1; JAX on one "
                    "thread); CPU only",
        "versions": versions,
        "columns": ["row", "budget", *[NAMES[lib] for lib in LIBS], "rlsuite vs fastest peer"],
        "rows": rows,
        "notes": ("Off-policy cells: wall seconds per seed (construction + learn) · greedy mean return over 20 "
                  "episodes (seeds solved); the last column also compares this process's CPU time. "
                  "On-policy cells: learn steps/s (median over seeds) · greedy mean. "
                  "SBX's wall includes JAX compiling its updates on the first model of each algorithm in the "
                  "process, Tianshou's the Numba compilation of its vector replay buffer: both are what a user "
                  "sees once per process. " + args.notes).strip() if stored is None else args.notes,
    }
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
