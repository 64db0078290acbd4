"""Plots (PNG through matplotlib's Agg backend): learning curves across seeds and aggregate plots.

* :func:`plot_learning_curves` — ``metrics.jsonl`` of several runs, grouped by agent and env, mean
  across seeds with a 95% bootstrap CI band; one panel per env.
* :func:`plot_aggregate` — IQM with stratified-bootstrap 95% CIs per agent, and the performance
  profile (fraction of runs above each score), as in rliable.
* :func:`plot_ranked` — per-env IQM bars with CIs for leaderboard rows (used by the HTML export).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlsuite.errors import ConfigError
from rlsuite.eval.stats import (
    DEFAULT_N_BOOT,
    iqm,
    performance_profile,
    performance_profile_ci,
    stratified_bootstrap_ci,
)

__all__ = [
    "CurveGroup",
    "aggregate_iqm",
    "group_name",
    "learning_curve_groups",
    "plot_aggregate",
    "plot_learning_curves",
    "plot_ranked",
    "read_metrics",
    "run_agent_config",
    "run_identity",
    "scores_from_rows",
]

_RUN_DIR_RE = re.compile(r"^(?P<agent>[^-]+)-(?P<env>.+)-s(?P<seed>\d+)(?:-(?P<time>.*))?$")


def _pyplot() -> Any:  # imported lazily: matplotlib costs ~0.5 s and the CLI often does not plot
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: str | Path | io.IOBase) -> Any:
    plt = _pyplot()
    try:
        if isinstance(out, str | Path):
            out = Path(out)
            out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return out


# --------------------------------------------------------------------------- learning curves


def read_metrics(run_dir: str | Path, metric: str, x: str = "steps") -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` arrays from ``run_dir/metrics.jsonl``: lines holding both the x key and ``metric``.

    ``x="steps"`` reads the ``step`` (or ``steps``) key, ``x="frames"`` the ``frames`` key. Blank or
    truncated lines (a run still being written) are skipped. Sorted by x.
    """
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise ConfigError(f"no metrics.jsonl in {run_dir}")
    xkeys = {"steps": ("step", "steps"), "frames": ("frames",)}.get(x)
    if xkeys is None:
        raise ConfigError(f"x must be 'steps' or 'frames', got '{x}'")
    xs, ys = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(rec, dict) or rec.get(metric) is None:
                continue
            xv = next((rec[k] for k in xkeys if rec.get(k) is not None), None)
            if xv is None:
                continue
            try:
                xs.append(float(xv))
                ys.append(float(rec[metric]))
            except (TypeError, ValueError):
                continue
    xa, ya = np.asarray(xs), np.asarray(ys)
    order = np.argsort(xa, kind="stable")
    return xa[order], ya[order]


def last_x(run_dir: str | Path, x: str = "steps") -> float:
    """The largest ``x`` (step or frame count) on any line of ``run_dir/metrics.jsonl``, whatever its
    metrics: how far the run got (``-inf`` when no line has one)."""
    xkeys = {"steps": ("step", "steps"), "frames": ("frames",)}.get(x, ())
    best = -np.inf
    path = Path(run_dir) / "metrics.jsonl"
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                for k in xkeys:
                    if isinstance(rec.get(k), int | float):
                        best = max(best, float(rec[k]))
    return best


def _read_config(run_dir: Path) -> dict[str, Any]:
    for name in ("config.yaml", ".hydra/config.yaml"):
        cfg_path = run_dir / name
        if cfg_path.is_file():
            try:
                import yaml

                cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
            except Exception:  # noqa: BLE001 - an unreadable config falls back to the dir name
                cfg = None
            return cfg if isinstance(cfg, dict) else {}
    return {}


def run_identity(run_dir: str | Path) -> tuple[str, str, int | None]:
    """``(agent, env, seed)`` of a run: from ``config.yaml`` (``agent.name``, ``env.id``, ``seed``),
    else from the directory name ``<agent>-<env>-s<seed>-<time>``, else ``("?", dirname, None)``."""
    run_dir = Path(run_dir)
    agent = env = None
    seed: int | None = None
    cfg = _read_config(run_dir)
    a, e = cfg.get("agent"), cfg.get("env")
    agent = a.get("name") if isinstance(a, dict) else a
    if isinstance(a, dict) and a.get("algo") and agent:  # adapters: the leaderboard's name (sb3-ppo)
        agent = f"{agent}-{a['algo']}"
    env = (e.get("id") or e.get("name")) if isinstance(e, dict) else e
    seed = cfg.get("seed") if isinstance(cfg.get("seed"), int) else None
    m = _RUN_DIR_RE.match(run_dir.name)
    if m:
        agent = agent or m["agent"]
        env = env or m["env"]
        seed = seed if seed is not None else int(m["seed"])
    return str(agent or "?"), str(env or run_dir.name), seed


def run_agent_config(run_dir: str | Path) -> dict[str, Any]:
    """The run's resolved agent config (the ``agent`` node of ``config.yaml``; ``{}`` without one).

    Runs whose agent configs are equal belong to one curve, as results with one ``config_hash``
    form one leaderboard group: the seed and the budget are not part of it."""
    a = _read_config(Path(run_dir)).get("agent")
    return dict(a) if isinstance(a, dict) else {}


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over the last ``window`` points (shorter at the start)."""
    if window <= 1 or y.size == 0:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    idx = np.arange(1, y.size + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def _mean_band(curves: np.ndarray, n_boot: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over runs (axis 0) and a pointwise 95% percentile-bootstrap band over runs."""
    m = curves.mean(axis=0)
    if curves.shape[0] < 2:
        return m, m, m
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, curves.shape[0], size=(n_boot, curves.shape[0]))
    boots = curves[idx].mean(axis=1)  # (B, G)
    lo, hi = np.percentile(boots, [2.5, 97.5], axis=0)
    return m, lo, hi


@dataclass
class _Run:
    x: np.ndarray  # where the metric was logged
    y: np.ndarray  # its (smoothed) values
    name: str
    end: float  # the last x the run logged anything at


@dataclass
class CurveGroup:
    """The data behind one line of :func:`plot_learning_curves`.

    ``curves[i]`` is run ``i``'s smoothed metric on ``grid``, NaN outside the x range it logged;
    ``n_runs[j]`` how many runs have data at ``grid[j]``; ``mean`` their mean there (the single run
    where ``n_runs`` is 1), ``low``/``high`` the 95% bootstrap band over those runs (NaN where fewer
    than two runs have data).
    """

    env: str
    label: str
    runs: list[str]
    grid: np.ndarray
    curves: np.ndarray
    n_runs: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def coverage(self) -> list[tuple[int, float]]:
        """``[(n, x_end), ...]``: ``n`` runs have data up to ``x_end``, then the next entry."""
        out: list[tuple[int, float]] = []
        for n, xv in zip(self.n_runs.tolist(), self.grid.tolist()):
            if out and out[-1][0] == n:
                out[-1] = (n, xv)
            else:
                out.append((n, xv))
        return out


def _config_labels(configs: list[dict[str, Any]]) -> list[str]:
    """Short labels telling apart an agent's configs: the keys whose values differ (``lr=0.0003``)."""
    if len(configs) < 2:
        return [""] * len(configs)
    keys = sorted({k for c in configs for k in c})
    differ = [k for k in keys if len({json.dumps(c.get(k), sort_keys=True, default=str) for c in configs}) > 1]
    labels = [", ".join(f"{k}={c.get(k)}" for k in differ) for c in configs]
    if len(set(labels)) < len(labels) or any(len(lab) > 40 for lab in labels):  # too long: a hash
        labels = [
            "cfg " + hashlib.sha256(json.dumps(c, sort_keys=True, default=str).encode()).hexdigest()[:8]
            for c in configs
        ]
    return labels


def _curve_group(env: str, label: str, runs: list[_Run], n_points: int) -> CurveGroup:
    """Interpolate runs onto a grid and average where they have data.

    A run has data from its first logged value to the last step it logged anything (an episode's
    return stands until the next one ends, so a run that trained to 30k steps but finished its last
    episode at 29.9k still counts at 30k). The grid starts where every run has its first value
    (the first episodes end within a few dozen steps of each other) and ends at the longest run's
    end; every run's end is a grid point, so coverage changes exactly there.
    """
    lo_x = max(float(r.x[0]) for r in runs)
    hi_x = max(r.end for r in runs)
    ends = [r.end for r in runs if r.end >= lo_x]
    grid = np.unique(np.concatenate([np.linspace(lo_x, hi_x, n_points), ends]))
    curves = np.stack([np.where(grid <= r.end, np.interp(grid, r.x, r.y), np.nan) for r in runs])
    has = ~np.isnan(curves)
    n_runs = has.sum(axis=0)
    mean = np.full(grid.size, np.nan)
    low, high = np.full(grid.size, np.nan), np.full(grid.size, np.nan)
    # The set of runs with data changes only at run starts and ends: bootstrap each such stretch
    # over exactly the runs it has.
    patterns, which = np.unique(has.T, axis=0, return_inverse=True)
    for i, pattern in enumerate(patterns):
        cols = np.asarray(which).reshape(-1) == i
        members = np.flatnonzero(pattern)
        m, lo, hi = _mean_band(curves[np.ix_(members, cols)])
        mean[cols] = m
        if members.size >= 2:
            low[cols], high[cols] = lo, hi
    return CurveGroup(env, label, [r.name for r in runs], grid, curves, n_runs, mean, low, high)


def learning_curve_groups(
    run_dirs: Sequence[str | Path],
    x: str = "steps",
    metric: str = "train/episode_return",
    group_by: str = "agent",
    smooth: int = 10,
    n_points: int = 200,
) -> list[CurveGroup]:
    """The data :func:`plot_learning_curves` draws: one :class:`CurveGroup` per line.

    ``group_by="agent"`` groups runs as the leaderboard does, by env, agent and agent config (a
    changed hyperparameter is its own line, labelled by the keys that differ); ``"run"`` gives one
    line per run. Each run's ``metric`` is smoothed with a trailing moving average over ``smooth``
    logged points. Sorted by env, then label.
    """
    if group_by not in ("agent", "run"):
        raise ConfigError(f"group_by must be 'agent' or 'run', got '{group_by}'")
    if not run_dirs:
        raise ConfigError("plot: give at least one run directory")
    by_key: dict[tuple[str, str, str], list[_Run]] = {}
    configs: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}  # (env, agent) -> {config json: config}
    skipped = []
    for rd in run_dirs:
        xs, ys = read_metrics(rd, metric, x)
        agent, env, seed = run_identity(rd)
        if xs.size == 0:
            skipped.append(Path(rd).name)
            continue
        if group_by == "agent":
            cfg = run_agent_config(rd)
            cfg_key = json.dumps(cfg, sort_keys=True, default=str)
            configs.setdefault((env, agent), {})[cfg_key] = cfg
        else:
            cfg_key = f"{agent} s{seed}" if seed is not None else Path(rd).name
        run = _Run(xs, _smooth(ys, smooth), Path(rd).name, max(float(xs[-1]), last_x(rd, x)))
        by_key.setdefault((env, agent, cfg_key), []).append(run)
    if not by_key:
        raise ConfigError(f"no '{metric}' values with a '{x}' x-axis in the metrics.jsonl of: {', '.join(skipped)}")
    label_of: dict[tuple[str, str, str], str] = {}
    for (env, agent), cfgs in configs.items():
        for cfg_key, suffix in zip(cfgs, _config_labels(list(cfgs.values()))):
            label_of[(env, agent, cfg_key)] = f"{agent} {suffix}".strip()
    groups = [
        _curve_group(env, label_of.get((env, agent, key), key), runs, n_points)
        for (env, agent, key), runs in by_key.items()
    ]
    return sorted(groups, key=lambda g: (g.env, g.label))


def _legend_label(g: CurveGroup) -> str:
    """``ppo (n=3)``, or where the runs cover different ranges ``ppo (n=3 to 300, 2 to 30k)``."""
    cov = g.coverage()
    if len(cov) == 1:
        return f"{g.label} (n={cov[0][0]})"
    return f"{g.label} (" + ", ".join(f"n={n} to {_short(xe)}" for n, xe in cov) + ")"


def _short(v: float) -> str:
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suf}"
    return f"{v:.0f}"


def plot_learning_curves(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    x: str = "steps",
    metric: str = "train/episode_return",
    group_by: str = "agent",
    smooth: int = 10,
    n_points: int = 200,
    title: str | None = None,
) -> Path:
    """Learning curves of several runs as one PNG; returns ``out``.

    One panel per env, one line per group of :func:`learning_curve_groups` (agent + config, or run).
    Each line spans every x its runs cover: solid with a 95% bootstrap band over runs where at least
    two runs have data, dashed where only one does; the legend says how many runs each stretch
    averages. ``x`` is ``"steps"`` (agent steps) or ``"frames"``.
    """
    groups = learning_curve_groups(run_dirs, x=x, metric=metric, group_by=group_by, smooth=smooth, n_points=n_points)
    plt = _pyplot()
    from matplotlib.ticker import FuncFormatter

    envs = sorted({g.env for g in groups})
    ncols = min(len(envs), 3)
    nrows = -(-len(envs) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.8 * nrows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    all_labels = sorted({g.label for g in groups})
    color_of = {lab: colors[i % len(colors)] for i, lab in enumerate(all_labels)}
    for ax, env in zip(axes.flat, envs):
        for g in (g for g in groups if g.env == env):
            c = color_of[g.label]
            if group_by == "run":
                ax.plot(g.grid, g.mean, color=c, lw=1.5, label=g.label)
                continue
            several = g.n_runs >= 2
            single = g.n_runs == 1
            # extend the dashed stretch by one point each side, so it joins the solid line
            joined = single.copy()
            joined[:-1] |= single[1:]
            joined[1:] |= single[:-1]
            label = _legend_label(g)  # one legend entry per group: on the solid line when it has one
            if several.any():
                ax.plot(g.grid, np.where(several, g.mean, np.nan), color=c, lw=1.8, label=label)
                ax.fill_between(g.grid, g.low, g.high, where=several, color=c, alpha=0.2, lw=0)
                label = "_"  # matplotlib leaves labels starting with "_" out of the legend
            if single.any():
                ax.plot(g.grid, np.where(joined, g.mean, np.nan), color=c, lw=1.3, ls="--", label=label)
        ax.set_title(env)
        ax.set_xlabel("frames" if x == "frames" else "environment steps")
        ax.set_ylabel(metric)
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _short(v)))
        ax.legend(fontsize="small", loc="best")
    for ax in list(axes.flat)[len(envs) :]:
        ax.set_visible(False)
    default_title = (
        f"{metric}: mean across runs, 95% bootstrap band (dashed: one run)"
        if group_by == "agent"
        else f"{metric} per run"
    )
    fig.suptitle(title or default_title, fontsize=11)
    fig.tight_layout()
    return _save(fig, out)


# --------------------------------------------------------------------------- aggregates


def group_name(row: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> str:
    """A leaderboard group's name in plots: the agent, its protocol when not the default, and its
    config hash when ``rows`` hold that agent with more than one config (so a changed
    hyperparameter is never merged into the default's scores)."""
    agent, protocol = str(row["agent"]), row.get("protocol")
    name = agent + (f" [{protocol}]" if protocol not in (None, "default") else "")
    configs = {r.get("config_hash") or "" for r in rows if str(r["agent"]) == agent and r.get("protocol") == protocol}
    if len(configs) > 1:
        name += f" {str(row.get('config_hash') or '')[:8]}"
    return name


def aggregate_iqm(
    scores: Mapping[str, Mapping[str, Sequence[float] | np.ndarray]], n_boot: int = DEFAULT_N_BOOT, seed: int = 0
) -> dict[str, tuple[float, float | None, float | None]]:
    """``{agent: (iqm, ci_low, ci_high)}``: the IQM of every run score of the agent across tasks and
    its 95% stratified-bootstrap CI (runs resampled within each task), as rliable computes it and
    the aggregate panel draws it; no CI (``None``) when no task has two runs to resample. With one
    task and the same ``n_boot``/``seed`` these are the leaderboard's ``iqm``/``iqm_ci_*``."""
    out: dict[str, tuple[float, float | None, float | None]] = {}
    for a in sorted(scores):
        pooled = np.concatenate([np.asarray(v, float).reshape(-1) for v in scores[a].values()])
        if max(np.asarray(v).size for v in scores[a].values()) < 2:
            out[a] = (float(iqm(pooled)), None, None)
            continue
        lo, hi = stratified_bootstrap_ci(scores[a], iqm, n_boot=n_boot, seed=seed)
        out[a] = (float(iqm(pooled)), lo, hi)
    return out


def scores_from_rows(
    rows: Iterable[Mapping[str, Any]], normalized: str = "auto"
) -> tuple[dict[str, dict[str, np.ndarray]], str]:
    """Per-agent, per-env run scores from leaderboard rows (raw ``query`` rows or ``ranked`` rows).

    A run's score is its mean evaluation return (or its human-normalized score); runs are named by
    :func:`group_name`. ``normalized="human"`` uses human-normalized scores (rows without one are
    dropped), ``"raw"`` the mean returns, ``"auto"`` human-normalized when every row has one, else raw. Returns
    ``({agent: {env: scores}}, label)``.
    """
    rows = list(rows)

    def run_values(r: Mapping[str, Any], hns: bool) -> list[float]:
        if "run_scores" in r:  # a ranked row
            vals = r.get("run_hns") if hns else r.get("run_scores")
            return [float(v) for v in (vals or []) if v is not None]
        v = r.get("human_normalized") if hns else r.get("mean")
        return [] if v is None else [float(v)]

    if normalized not in ("auto", "human", "raw"):
        raise ConfigError(f"normalized must be auto, human or raw, got '{normalized}'")
    hns = normalized == "human" or (normalized == "auto" and bool(rows) and all(run_values(r, True) for r in rows))
    out: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        vals = run_values(r, hns)
        if vals:
            out.setdefault(group_name(r, rows), {}).setdefault(str(r["env_id"]), []).extend(vals)
    arrays = {a: {e: np.asarray(v) for e, v in envs.items()} for a, envs in out.items()}
    return arrays, ("human-normalized score" if hns else "mean episode return")


def plot_aggregate(
    scores: Mapping[str, Mapping[str, Sequence[float] | np.ndarray]] | Iterable[Mapping[str, Any]],
    out: str | Path | io.IOBase,
    taus: Sequence[float] | np.ndarray | None = None,
    xlabel: str | None = None,
    title: str | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
) -> Any:
    """IQM with stratified-bootstrap 95% CIs per agent (left, :func:`aggregate_iqm`) and performance
    profiles (right).

    ``scores[agent][task]`` = per-run scores (human-normalized for Atari); leaderboard rows are
    accepted too (converted by :func:`scores_from_rows`). ``taus`` defaults to 101 points over the
    observed range. Returns ``out``.
    """
    if not isinstance(scores, Mapping):
        scores, label = scores_from_rows(scores)
        xlabel = xlabel or label
    xlabel = xlabel or "score"
    if not scores:
        raise ConfigError("plot_aggregate: no scores to plot")
    agents = sorted(scores)
    allv = np.concatenate([np.asarray(v, float).reshape(-1) for a in agents for v in scores[a].values()])
    if taus is None:
        lo, hi = float(allv.min()), float(allv.max())
        # All scores equal (e.g. every run solved CartPole at 500): pad relative to the value, so
        # the axis does not zoom into a ±1 window with crowded tick labels.
        pad = 0.05 * (hi - lo) if hi > lo else 0.05 * max(abs(hi), 20.0)
        taus = np.linspace(lo - pad, hi + pad, 101)
    taus = np.asarray(taus, float)

    plt = _pyplot()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 0.5 * len(agents) + 3.2))
    extent: list[float] = []
    iqms = aggregate_iqm(scores, n_boot=n_boot, seed=seed)
    for i, a in enumerate(agents):
        c = colors[i % len(colors)]
        n_scores = sum(np.asarray(v).size for v in scores[a].values())
        point, ci_lo, ci_hi = iqms[a]
        clo, chi = (point, point) if ci_lo is None or ci_hi is None else (ci_lo, ci_hi)
        extent += [clo, chi, point]
        if ci_lo is not None:  # a single run per env has no interval to draw
            ax1.barh(i, chi - clo, left=clo, height=0.6, color=c, alpha=0.35)
        ax1.plot([point, point], [i - 0.3, i + 0.3], color=c, lw=2.5)
        note = f"{point:.3g}" if ci_lo is not None else f"{point:.3g} (1 run, no CI)"
        ax1.annotate(note, (chi, i), xytext=(4, 0), textcoords="offset points", va="center", fontsize="small")
        prof = performance_profile(scores[a], taus)
        plo, phi = performance_profile_ci(scores[a], taus, n_boot=min(n_boot, 500), seed=seed)
        ax2.plot(taus, prof, color=c, lw=1.8, label=f"{a} ({len(scores[a])} env, {n_scores} runs)")
        ax2.fill_between(taus, plo, phi, color=c, alpha=0.15, lw=0)
    span_lo, span_hi = min(extent), max(extent)
    pad = 0.15 * (span_hi - span_lo) if span_hi > span_lo else 0.1 * max(abs(span_hi), 1.0)
    ax1.set_xlim(span_lo - pad, span_hi + pad)  # bars' sticky edges would pin zero-width CIs to the frame
    ax1.set_ylim(-0.6, len(agents) - 0.4)
    ax1.set_yticks(range(len(agents)), agents)
    ax1.set_xlabel(f"IQM of {xlabel} (95% stratified bootstrap CI)")
    ax1.set_title("Interquartile mean")
    ax1.grid(True, axis="x", alpha=0.3)
    ax2.set_xlabel(f"{xlabel} (τ)")
    ax2.set_ylabel("fraction of runs with score > τ")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_title("Performance profile")
    ax2.grid(True, alpha=0.3)
    ax2.legend(fontsize="small", loc="best")
    fig.suptitle(title or "Aggregate performance", fontsize=11)
    fig.tight_layout()
    return _save(fig, out)


def plot_ranked(rows: Sequence[Mapping[str, Any]], out: str | Path | io.IOBase) -> Any:
    """Per-env horizontal bars: the ranked IQM with its 95% CI (none for a single run) for every
    ranked group (agent/protocol/config, with its number of runs)."""
    rows = [r for r in rows if r.get("iqm") is not None]
    if not rows:
        raise ConfigError("plot_ranked: no rows with an IQM")
    envs = sorted({r["env_id"] for r in rows})
    plt = _pyplot()
    heights = [sum(1 for r in rows if r["env_id"] == e) for e in envs]
    fig, axes = plt.subplots(
        len(envs),
        1,
        figsize=(8, sum(0.45 * h + 1.2 for h in heights)),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    agents = sorted({r["agent"] for r in rows})
    for ax, env in zip(axes[:, 0], envs):
        sub = sorted((r for r in rows if r["env_id"] == env), key=lambda r: (r.get("rank") or 0, -r["iqm"]))
        for i, r in enumerate(sub):
            c = colors[agents.index(r["agent"]) % len(colors)]
            lo, hi = r.get("iqm_ci_low"), r.get("iqm_ci_high")
            ax.barh(i, r["iqm"], color=c, alpha=0.75, height=0.6)
            if lo is not None and hi is not None:
                ax.errorbar(r["iqm"], i, xerr=[[r["iqm"] - lo], [hi - r["iqm"]]], color="black", capsize=3, lw=1)
        labels = [
            f"{r['agent']} [{r.get('protocol', '')}] {str(r.get('config_hash') or '')[:8]} (n={r.get('n_runs', '?')})"
            for r in sub
        ]
        ax.set_yticks(range(len(sub)), labels, fontsize="small")
        ax.invert_yaxis()
        ax.set_title(env, fontsize=10)
        ax.set_xlabel("IQM across runs of each run's mean return (95% bootstrap CI over runs)")
        ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, out)


def png_bytes(plot_fn: Any, *args: Any, **kwargs: Any) -> bytes:
    """Run a plot function into memory and return the PNG bytes (for embedding)."""
    buf = io.BytesIO()
    plot_fn(*args, out=buf, **kwargs)
    return buf.getvalue()
