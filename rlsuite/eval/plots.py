"""Plots (PNG through matplotlib's Agg backend): learning curves across seeds and aggregate plots.

* :func:`plot_learning_curves` — ``metrics.jsonl`` of several runs, grouped by agent and env, mean
  across seeds with a 95% bootstrap CI band; one panel per env.
* :func:`plot_aggregate` — IQM with stratified-bootstrap 95% CIs per agent, and the performance
  profile (fraction of runs above each score), as in rliable.
* :func:`plot_ranked` — per-env IQM bars with CIs for leaderboard rows (used by the HTML export).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlsuite.errors import ConfigError
from rlsuite.eval.stats import iqm, performance_profile, performance_profile_ci, stratified_bootstrap_ci

__all__ = [
    "read_metrics",
    "run_identity",
    "plot_learning_curves",
    "scores_from_rows",
    "plot_aggregate",
    "plot_ranked",
]

_RUN_DIR_RE = re.compile(r"^(?P<agent>[^-]+)-(?P<env>.+)-s(?P<seed>\d+)(?:-(?P<time>.*))?$")


def _pyplot():  # imported lazily: matplotlib costs ~0.5 s and the CLI often does not plot
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


def run_identity(run_dir: str | Path) -> tuple[str, str, int | None]:
    """``(agent, env, seed)`` of a run: from ``config.yaml`` (``agent.name``, ``env.id``, ``seed``),
    else from the directory name ``<agent>-<env>-s<seed>-<time>``, else ``("?", dirname, None)``."""
    run_dir = Path(run_dir)
    agent = env = None
    seed: int | None = None
    for name in ("config.yaml", ".hydra/config.yaml"):
        cfg_path = run_dir / name
        if not cfg_path.is_file():
            continue
        try:
            import yaml

            cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) or {}
        except Exception:  # noqa: BLE001 - an unreadable config falls back to the dir name
            cfg = {}
        a, e = cfg.get("agent"), cfg.get("env")
        agent = (a.get("name") if isinstance(a, dict) else a) or agent
        if isinstance(a, dict) and a.get("algo") and agent:  # adapters: the leaderboard's name (sb3-ppo)
            agent = f"{agent}-{a['algo']}"
        env = (e.get("id") or e.get("name") if isinstance(e, dict) else e) or env
        seed = cfg.get("seed") if isinstance(cfg.get("seed"), int) else seed
        break
    m = _RUN_DIR_RE.match(run_dir.name)
    if m:
        agent = agent or m["agent"]
        env = env or m["env"]
        seed = seed if seed is not None else int(m["seed"])
    return str(agent or "?"), str(env or run_dir.name), seed


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over the last ``window`` points (shorter at the start)."""
    if window <= 1 or y.size == 0:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    idx = np.arange(1, y.size + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def _mean_band(curves: np.ndarray, n_boot: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds (axis 0) and a pointwise 95% percentile-bootstrap band over seeds."""
    m = curves.mean(axis=0)
    if curves.shape[0] < 2:
        return m, m, m
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, curves.shape[0], size=(n_boot, curves.shape[0]))
    boots = curves[idx].mean(axis=1)  # (B, G)
    lo, hi = np.percentile(boots, [2.5, 97.5], axis=0)
    return m, lo, hi


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

    Runs are identified by :func:`run_identity`; one panel per env, one line per agent (or per run
    with ``group_by="run"``). Each run's ``metric`` is smoothed with a trailing moving average over
    ``smooth`` logged points, interpolated onto a common grid of ``n_points`` x values spanning the
    range every run of the group covers, and the group is drawn as the mean across seeds with a 95%
    bootstrap CI band. ``x`` is ``"steps"`` (agent steps) or ``"frames"``.
    """
    if group_by not in ("agent", "run"):
        raise ConfigError(f"group_by must be 'agent' or 'run', got '{group_by}'")
    if not run_dirs:
        raise ConfigError("plot: give at least one run directory")
    data: dict[str, dict[str, list[tuple[np.ndarray, np.ndarray, str]]]] = {}
    skipped = []
    for rd in run_dirs:
        xs, ys = read_metrics(rd, metric, x)
        agent, env, seed = run_identity(rd)
        if xs.size == 0:
            skipped.append(Path(rd).name)
            continue
        label = agent if group_by == "agent" else f"{agent} s{seed}" if seed is not None else Path(rd).name
        data.setdefault(env, {}).setdefault(label, []).append((xs, _smooth(ys, smooth), Path(rd).name))
    if not data:
        raise ConfigError(f"no '{metric}' values with a '{x}' x-axis in the metrics.jsonl of: {', '.join(skipped)}")

    plt = _pyplot()
    envs = sorted(data)
    ncols = min(len(envs), 3)
    nrows = -(-len(envs) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.8 * nrows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    all_labels = sorted({lab for env in envs for lab in data[env]})
    color_of = {lab: colors[i % len(colors)] for i, lab in enumerate(all_labels)}
    for ax, env in zip(axes.flat, envs):
        for label in sorted(data[env]):
            runs = data[env][label]
            lo_x = max(r[0][0] for r in runs)
            hi_x = min(r[0][-1] for r in runs)
            if hi_x <= lo_x:  # the runs do not overlap: fall back to the union, holding end values
                lo_x, hi_x = min(r[0][0] for r in runs), max(r[0][-1] for r in runs)
            grid = np.linspace(lo_x, hi_x, n_points) if hi_x > lo_x else np.array([lo_x])
            curves = np.stack([np.interp(grid, rx, ry) for rx, ry, _ in runs])
            m, lo, hi = _mean_band(curves)
            c = color_of[label]
            n = len(runs)
            ax.plot(grid, m, color=c, lw=1.8, label=f"{label} (n={n})" if group_by == "agent" else label)
            if n > 1:
                ax.fill_between(grid, lo, hi, color=c, alpha=0.2, lw=0)
        ax.set_title(env)
        ax.set_xlabel("frames" if x == "frames" else "environment steps")
        ax.set_ylabel(metric)
        ax.grid(True, alpha=0.3)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
        ax.legend(fontsize="small", loc="best")
    for ax in list(axes.flat)[len(envs) :]:
        ax.set_visible(False)
    default_title = f"{metric}: mean across seeds, 95% bootstrap CI" if group_by == "agent" else f"{metric} per run"
    fig.suptitle(title or default_title, fontsize=11)
    fig.tight_layout()
    return _save(fig, out)


# --------------------------------------------------------------------------- aggregates


def scores_from_rows(
    rows: Iterable[Mapping[str, Any]], normalized: str = "auto"
) -> tuple[dict[str, dict[str, np.ndarray]], str]:
    """Per-agent, per-env run scores from leaderboard rows (raw ``query`` rows or ``ranked`` rows).

    ``normalized="human"`` uses human-normalized scores (rows without one are dropped), ``"raw"``
    the mean returns, ``"auto"`` human-normalized when every row has one, else raw. Returns
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
            name = str(r["agent"]) + (f" [{r['protocol']}]" if r.get("protocol") not in (None, "default") else "")
            out.setdefault(name, {}).setdefault(str(r["env_id"]), []).extend(vals)
    arrays = {a: {e: np.asarray(v) for e, v in envs.items()} for a, envs in out.items()}
    return arrays, ("human-normalized score" if hns else "mean episode return")


def plot_aggregate(
    scores: Mapping[str, Mapping[str, Sequence[float] | np.ndarray]] | Iterable[Mapping[str, Any]],
    out: str | Path | io.IOBase,
    taus: Sequence[float] | np.ndarray | None = None,
    xlabel: str | None = None,
    title: str | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> Any:
    """IQM with stratified-bootstrap 95% CIs per agent (left) and performance profiles (right).

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
    for i, a in enumerate(agents):
        c = colors[i % len(colors)]
        pooled = np.concatenate([np.asarray(v, float).reshape(-1) for v in scores[a].values()])
        point = iqm(pooled)
        clo, chi = stratified_bootstrap_ci(scores[a], iqm, n_boot=n_boot, seed=seed)
        extent += [clo, chi, point]
        ax1.barh(i, chi - clo, left=clo, height=0.6, color=c, alpha=0.35)
        ax1.plot([point, point], [i - 0.3, i + 0.3], color=c, lw=2.5)
        ax1.annotate(f"{point:.3g}", (chi, i), xytext=(4, 0), textcoords="offset points", va="center", fontsize="small")
        prof = performance_profile(scores[a], taus)
        plo, phi = performance_profile_ci(scores[a], taus, n_boot=min(n_boot, 500), seed=seed)
        ax2.plot(taus, prof, color=c, lw=1.8, label=f"{a} ({len(scores[a])} env, {pooled.size} runs)")
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
    """Per-env horizontal bars: IQM with its 95% CI for every ranked group (agent/protocol/config)."""
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
        sub = sorted((r for r in rows if r["env_id"] == env), key=lambda r: -r["iqm"])
        for i, r in enumerate(sub):
            c = colors[agents.index(r["agent"]) % len(colors)]
            lo, hi = r.get("iqm_ci_low"), r.get("iqm_ci_high")
            ax.barh(i, r["iqm"], color=c, alpha=0.75, height=0.6)
            if lo is not None and hi is not None:
                ax.errorbar(r["iqm"], i, xerr=[[r["iqm"] - lo], [hi - r["iqm"]]], color="black", capsize=3, lw=1)
        labels = [f"{r['agent']} [{r.get('protocol', '')}] {str(r.get('config_hash') or '')[:8]}".strip() for r in sub]
        ax.set_yticks(range(len(sub)), labels, fontsize="small")
        ax.invert_yaxis()
        ax.set_title(env, fontsize=10)
        ax.set_xlabel("IQM episode return (95% CI)")
        ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, out)


def png_bytes(plot_fn: Any, *args: Any, **kwargs: Any) -> bytes:
    """Run a plot function into memory and return the PNG bytes (for embedding)."""
    buf = io.BytesIO()
    plot_fn(*args, out=buf, **kwargs)
    return buf.getvalue()
