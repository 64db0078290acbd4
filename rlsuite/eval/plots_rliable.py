"""rliable's comparison plots for leaderboard entries (used by the HTML export).

* :func:`plot_probability_of_improvement` — P(X > Y) with a stratified-bootstrap 95% CI for each
  entry against the best-ranked entry of its env and protocol (:func:`improvement_pairs`).
* :func:`plot_sample_efficiency` — the IQM across runs of the evaluation score at each training
  budget, with a stratified-bootstrap 95% CI band, read from the runs' ``metrics.jsonl``
  (:func:`sample_efficiency_scores`): ``eval/mean_return`` where the runs evaluated during training,
  else the training episode returns averaged per budget window.
* :func:`optimality_gaps` — optimality gap with its CI per entry, for normalized scores.

Scores are those of :func:`rlsuite.eval.plots.scores_from_rows` (one score per run), so the numbers
agree with the ranked table.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from rlsuite.errors import ConfigError
from rlsuite.eval.plots import _pyplot, _save, group_name, read_metrics
from rlsuite.eval.stats import (
    DEFAULT_N_BOOT,
    optimality_gap,
    probability_of_improvement,
    probability_of_improvement_ci,
    sample_efficiency_curve,
    stratified_bootstrap_ci,
)

__all__ = [
    "improvement_pairs",
    "optimality_gaps",
    "plot_probability_of_improvement",
    "plot_sample_efficiency",
    "sample_efficiency_scores",
]

#: Budgets (evenly spaced up to the shortest run's last step) on a sample-efficiency curve.
N_BUDGETS = 10


def improvement_pairs(
    rows: Sequence[Mapping[str, Any]], n_boot: int = DEFAULT_N_BOOT, seed: int = 0
) -> list[dict[str, Any]]:
    """For each (env, protocol) section of ranked ``rows`` with two or more entries: the first-ranked
    entry X against every other entry Y, ``{"env_id", "x", "y", "p", "ci_low", "ci_high"}`` with
    ``p`` = P(X > Y) over their run scores (:func:`rlsuite.eval.stats.probability_of_improvement`)."""
    sections: dict[tuple[Any, Any], list[Mapping[str, Any]]] = {}
    for r in rows:
        if r.get("run_scores"):
            sections.setdefault((r["env_id"], r.get("protocol")), []).append(r)
    out = []
    for (env, _), entries in sections.items():
        entries = sorted(entries, key=lambda r: r.get("rank") or 0)
        best = entries[0]
        for other in entries[1:]:
            x, y = {env: best["run_scores"]}, {env: other["run_scores"]}
            lo, hi = probability_of_improvement_ci(x, y, n_boot=n_boot, seed=seed)
            out.append({"env_id": env, "x": group_name(best, rows), "y": group_name(other, rows),
                        "x_runs": len(best["run_scores"]), "y_runs": len(other["run_scores"]),
                        "p": probability_of_improvement(x, y), "ci_low": lo, "ci_high": hi})
    return out


def plot_probability_of_improvement(pairs: Sequence[Mapping[str, Any]], out: str | Path | io.IOBase) -> Any:
    """Horizontal intervals of P(X > Y), one line per pair (rliable's figure); 0.5 marks no difference."""
    if not pairs:
        raise ConfigError("plot_probability_of_improvement: no pair of entries to compare")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(pairs) + 1.4))
    for i, p in enumerate(pairs):
        ax.plot([p["ci_low"], p["ci_high"]], [i, i], color="tab:blue", lw=6, alpha=0.35, solid_capstyle="butt")
        ax.plot([p["p"]], [i], "o", color="tab:blue")
    labels = [f"{p['env_id']}: {p['x']} (n={p['x_runs']}) > {p['y']} (n={p['y_runs']})" for p in pairs]
    ax.set_yticks(range(len(pairs)), labels, fontsize="small")
    ax.invert_yaxis()
    ax.axvline(0.5, color="gray", ls="--", lw=1)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("P(X > Y): chance a run of X scores above a run of Y (95% stratified bootstrap CI)")
    ax.set_title("Probability of improvement over the other entries", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, out)


def optimality_gaps(
    scores: Mapping[str, Mapping[str, Sequence[float] | np.ndarray]], gamma: float = 1.0,
    n_boot: int = DEFAULT_N_BOOT, seed: int = 0,
) -> dict[str, tuple[float, float | None, float | None]]:
    """``{entry: (gap, ci_low, ci_high)}``: the optimality gap (mean shortfall below ``gamma``, 1.0 =
    human level for human-normalized scores) of every run score, with its stratified-bootstrap CI
    (``None`` when no task has two runs)."""
    out: dict[str, tuple[float, float | None, float | None]] = {}
    for name in sorted(scores):
        pooled = np.concatenate([np.asarray(v, float).reshape(-1) for v in scores[name].values()])
        gap = float(optimality_gap(pooled, gamma=gamma))
        if max(np.asarray(v).size for v in scores[name].values()) < 2:
            out[name] = (gap, None, None)
            continue

        def stat(x: np.ndarray, axis: int | None = None) -> Any:
            return optimality_gap(x, axis=axis, gamma=gamma)

        lo, hi = stratified_bootstrap_ci(scores[name], stat, n_boot=n_boot, seed=seed)
        out[name] = (gap, lo, hi)
    return out


def _run_curve(run_dir: str) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = read_metrics(run_dir, "eval/mean_return")
    if xs.size < 2:
        xs, ys = read_metrics(run_dir, "train/episode_return")
    return xs, ys


def sample_efficiency_scores(
    rows: Sequence[Mapping[str, Any]], n_budgets: int = N_BUDGETS
) -> dict[str, dict[str, dict[float, dict[str, np.ndarray]]]]:
    """``{env: {entry: {budget: {env: run scores}}}}`` from the ``run_dirs`` of ranked ``rows``. A
    run's score at a budget is its mean record in the window ending there; budgets are evenly spaced
    up to the shortest run's last step, so every run contributes at every budget. Entries whose runs
    have no readable ``metrics.jsonl`` are left out."""
    out: dict[str, dict[str, dict[float, dict[str, np.ndarray]]]] = {}
    for r in rows:
        curves = []
        for d in r.get("run_dirs") or []:
            try:
                xs, ys = _run_curve(str(d))
            except ConfigError:
                continue
            if xs.size:
                curves.append((xs, ys))
        if not curves:
            continue
        end = min(float(xs[-1]) for xs, _ in curves)
        if end <= 0:
            continue
        edges = np.linspace(0.0, end, n_budgets + 1)
        per_budget: dict[float, dict[str, np.ndarray]] = {}
        for lo, hi in pairwise(edges):
            vals = [float(ys[(xs > lo) & (xs <= hi)].mean()) for xs, ys in curves if np.any((xs > lo) & (xs <= hi))]
            if len(vals) == len(curves):
                per_budget[float(hi)] = {str(r["env_id"]): np.asarray(vals)}
        if per_budget:
            out.setdefault(str(r["env_id"]), {})[group_name(r, rows)] = per_budget
    return out


def plot_sample_efficiency(
    curves: Mapping[str, Mapping[str, Mapping[float, Mapping[str, Sequence[float] | np.ndarray]]]],
    out: str | Path | io.IOBase, n_boot: int = 500, seed: int = 0,
) -> Any:
    """One panel per env: for every entry the IQM across runs at each budget with its 95%
    stratified-bootstrap band (:func:`rlsuite.eval.stats.sample_efficiency_curve`)."""
    if not curves:
        raise ConfigError("plot_sample_efficiency: no runs with metrics to plot")
    plt = _pyplot()
    envs = sorted(curves)
    fig, axes = plt.subplots(1, len(envs), figsize=(6 * len(envs), 3.6), squeeze=False)
    for ax, env in zip(axes[0], envs):
        for name in sorted(curves[env]):
            budgets, point, lo, hi = sample_efficiency_curve(curves[env][name], n_boot=n_boot, seed=seed)
            n_runs = len(next(iter(curves[env][name][budgets[0]].values())))
            ax.plot(budgets, point, marker=".", label=f"{name} (n={n_runs})")
            ax.fill_between(budgets, lo, hi, alpha=0.2, lw=0)
        ax.set_title(env, fontsize=10)
        ax.set_xlabel("agent steps")
        ax.set_ylabel("IQM across runs of the return")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", loc="best")
    fig.suptitle("Sample efficiency (95% stratified bootstrap CI)", fontsize=11)
    fig.tight_layout()
    return _save(fig, out)
