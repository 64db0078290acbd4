"""Evaluation statistics: IQM, optimality gap, percentile and stratified bootstrap CIs, performance
profiles, probability of improvement and sample-efficiency curves.

Follows Agarwal et al. 2021, "Deep RL at the Edge of the Statistical Precipice" (the ``rliable``
library): the interquartile mean (IQM) is the mean of the middle 50% of scores
(``scipy.stats.trim_mean(x, 0.25)``), confidence intervals are percentile bootstrap intervals, and
across several tasks runs are resampled *within* each task (stratified bootstrap) before the
aggregate is recomputed.

Every function is deterministic for a given ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats as _sps

from rlsuite.errors import ConfigError

__all__ = [
    "DEFAULT_N_BOOT",
    "aggregate",
    "bootstrap_ci",
    "hierarchical_bootstrap_ci",
    "iqm",
    "is_binary",
    "mean",
    "median",
    "optimality_gap",
    "performance_profile",
    "performance_profile_ci",
    "probability_of_improvement",
    "probability_of_improvement_ci",
    "sample_efficiency_curve",
    "stratified_bootstrap_ci",
    "summarize",
]

#: Bootstrap resamples used everywhere a CI is shown (table, JSON, HTML figures), so they agree.
DEFAULT_N_BOOT = 2000

# A statistic: ``stat(x) -> float``; the ones in :data:`_VECTORISED` also take ``axis=`` and return
# an array (typed ``Any`` because numpy's reductions are not typed precisely enough to say more).
Stat = Callable[..., Any]


def _as_1d(x: Sequence[float] | np.ndarray, what: str = "scores") -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if a.size == 0:
        raise ConfigError(f"{what}: need at least one value, got none")
    if not np.all(np.isfinite(a)):
        raise ConfigError(f"{what}: values must be finite (found NaN or inf)")
    return a


def iqm(x: Sequence[float] | np.ndarray, axis: int | None = None) -> float | np.ndarray:
    """Interquartile mean: the mean of the middle 50% of ``x``.

    Same semantics as ``scipy.stats.trim_mean(x, 0.25)`` (and rliable): ``int(0.25 * n)`` values
    are cut from each end. ``axis=None`` flattens and returns a float; an integer ``axis`` returns
    an array (used by the vectorised bootstrap).
    """
    a = np.asarray(x, dtype=np.float64)
    if axis is None:
        return float(_sps.trim_mean(a.reshape(-1), 0.25))
    return np.asarray(_sps.trim_mean(a, 0.25, axis=axis))


def mean(x: Sequence[float] | np.ndarray, axis: int | None = None) -> float | np.ndarray:
    """Arithmetic mean (axis-aware, like :func:`iqm`)."""
    r = np.mean(np.asarray(x, dtype=np.float64), axis=axis)
    return float(r) if axis is None else np.asarray(r)


def median(x: Sequence[float] | np.ndarray, axis: int | None = None) -> float | np.ndarray:
    """Median (axis-aware, like :func:`iqm`)."""
    r = np.median(np.asarray(x, dtype=np.float64), axis=axis)
    return float(r) if axis is None else np.asarray(r)


def optimality_gap(x: Sequence[float] | np.ndarray, axis: int | None = None, gamma: float = 1.0) -> float | np.ndarray:
    """Optimality gap (rliable): mean shortfall below ``gamma`` (1.0 = human level)."""
    a = np.asarray(x, dtype=np.float64)
    r = np.mean(gamma - np.minimum(a, gamma), axis=axis)
    return float(r) if axis is None else np.asarray(r)


# Statistics known to accept ``axis=`` and reduce along it; others are applied row by row.
_VECTORISED: dict[object, Stat] = {
    iqm: iqm,
    mean: mean,
    median: median,
    optimality_gap: optimality_gap,
    np.mean: mean,
    np.median: median,
}


def _apply_rows(stat: Stat, mat: np.ndarray) -> np.ndarray:
    """Apply ``stat`` to every row of ``mat`` -> 1-D array of length ``mat.shape[0]``."""
    fn = _VECTORISED.get(stat)
    if fn is not None:
        return np.asarray(fn(mat, axis=1), dtype=np.float64)
    return np.fromiter((float(stat(row)) for row in mat), dtype=np.float64, count=mat.shape[0])


def _percentile_interval(samples: np.ndarray, conf: float) -> tuple[float, float]:
    if not 0.0 < conf < 1.0:
        raise ConfigError(f"conf must be in (0, 1), got {conf}")
    alpha = (1.0 - conf) / 2.0
    lo, hi = np.percentile(samples, [100.0 * alpha, 100.0 * (1.0 - alpha)])
    return float(lo), float(hi)


def bootstrap_ci(
    x: Sequence[float] | np.ndarray,
    stat: Stat = iqm,
    n_boot: int = 2000,
    conf: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``stat`` over a 1-D sample.

    Draws ``n_boot`` resamples of ``x`` with replacement, all at once, as
    ``np.random.default_rng(seed).integers(0, n, size=(n_boot, n))`` and returns the
    ``(1 - conf) / 2`` and ``(1 + conf) / 2`` percentiles (numpy's linear interpolation) of the
    resampled statistic. A single value gives the degenerate interval ``(x, x)``.
    """
    a = _as_1d(x)
    if n_boot < 1:
        raise ConfigError(f"n_boot must be >= 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(n_boot, a.size))
    return _percentile_interval(_apply_rows(stat, a[idx]), conf)


def _stratified_samples(
    scores: Mapping[str, Sequence[float] | np.ndarray], stat: Stat, n_boot: int, seed: int
) -> np.ndarray:
    if not scores:
        raise ConfigError("stratified bootstrap: need scores for at least one task")
    if n_boot < 1:
        raise ConfigError(f"n_boot must be >= 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    parts = []
    for task in sorted(scores):  # sorted: the same draws whatever the dict order
        a = _as_1d(scores[task], f"scores[{task!r}]")
        parts.append(a[rng.integers(0, a.size, size=(n_boot, a.size))])
    return _apply_rows(stat, np.concatenate(parts, axis=1))


def stratified_bootstrap_ci(
    scores: Mapping[str, Sequence[float] | np.ndarray],
    stat: Stat = iqm,
    n_boot: int = 2000,
    conf: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Stratified percentile bootstrap CI of an aggregate across tasks (rliable).

    ``scores[task]`` holds one score per run. Each bootstrap replicate resamples the runs of every
    task with replacement, separately (tasks are strata; tasks are visited in sorted order, each
    drawing ``rng.integers(0, n_task, size=(n_boot, n_task))`` from one generator), pools the
    resampled scores of all tasks and applies ``stat`` (IQM by default) to the pool.
    """
    return _percentile_interval(_stratified_samples(scores, stat, n_boot, seed), conf)


def hierarchical_bootstrap_ci(
    runs: Sequence[Sequence[float] | np.ndarray],
    stat: Stat = iqm,
    n_boot: int = 2000,
    conf: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """CI of ``stat`` over the pooled episode returns of several runs (seeds) of one agent on one env.

    Two-stage bootstrap: each replicate resamples the *runs* with replacement, then the episodes
    within each chosen run, pools them and applies ``stat``. Seed-to-seed variation therefore
    widens the interval (runs, not episodes, are the independent units), and a single run still gets
    an honest episode-level interval instead of a zero-width one.
    """
    arrs = [_as_1d(r, f"runs[{i}]") for i, r in enumerate(runs)]
    if not arrs:
        raise ConfigError("hierarchical bootstrap: need at least one run")
    if n_boot < 1:
        raise ConfigError(f"n_boot must be >= 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    n_runs = len(arrs)
    pick = rng.integers(0, n_runs, size=(n_boot, n_runs))
    sizes = {a.size for a in arrs}
    if len(sizes) == 1:  # common case: same episode count per run -> fully vectorised
        mat = np.stack(arrs)  # (R, E)
        e = mat.shape[1]
        ep = rng.integers(0, e, size=(n_boot, n_runs, e))
        pooled = mat[pick[:, :, None], ep].reshape(n_boot, n_runs * e)
        samples = _apply_rows(stat, pooled)
    else:
        samples = np.empty(n_boot, dtype=np.float64)
        for b in range(n_boot):
            chosen = [arrs[j] for j in pick[b]]
            pooled = np.concatenate([a[rng.integers(0, a.size, size=a.size)] for a in chosen])
            samples[b] = float(stat(pooled))
    return _percentile_interval(samples, conf)


def summarize(
    x: Sequence[float] | np.ndarray, seed: int = 0, n_boot: int = 2000, conf: float = 0.95
) -> dict[str, float | int]:
    """Summary of one sample of episode returns.

    Returns ``mean``, ``std`` (population, ``ddof=0``, as numpy/SB3 report it), ``median``, ``iqm``,
    ``iqm_ci_low``/``iqm_ci_high`` (percentile bootstrap, :func:`bootstrap_ci`), ``min``, ``max``
    and ``n``.
    """
    a = _as_1d(x, "returns")
    lo, hi = bootstrap_ci(a, iqm, n_boot=n_boot, conf=conf, seed=seed)
    return {
        "mean": float(np.mean(a)),
        "std": float(np.std(a)),
        "median": float(np.median(a)),
        "iqm": float(iqm(a)),
        "iqm_ci_low": lo,
        "iqm_ci_high": hi,
        "min": float(np.min(a)),
        "max": float(np.max(a)),
        "n": int(a.size),
    }


def is_binary(x: Sequence[float] | np.ndarray) -> bool:
    """Whether every value is exactly 0 or 1: episode returns of a success/failure task (FrozenLake,
    a sparse goal reward), where the mean over episodes is a success rate."""
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    return a.size > 0 and bool(np.all((a == 0.0) | (a == 1.0)))


def aggregate(
    scores: Mapping[str, Sequence[float] | np.ndarray],
    n_boot: int = 2000,
    conf: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Aggregate metrics across tasks (rliable): IQM, mean, median and optimality gap (vs 1.0).

    ``scores[task]`` = per-run (ideally human-normalized) scores. Each metric comes with a
    stratified bootstrap CI: keys ``iqm``, ``iqm_ci_low``, ``iqm_ci_high``, ``mean``, ...
    """
    pooled = np.concatenate([_as_1d(v, f"scores[{k!r}]") for k, v in sorted(scores.items())])

    out: dict[str, float] = {"n_tasks": float(len(scores)), "n_runs": float(pooled.size)}
    for name, fn in (("iqm", iqm), ("mean", mean), ("median", median), ("optimality_gap", optimality_gap)):
        lo, hi = stratified_bootstrap_ci(scores, fn, n_boot=n_boot, conf=conf, seed=seed)
        out[name] = float(fn(pooled))
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = lo, hi
    return out


def performance_profile(
    scores: Mapping[str, Sequence[float] | np.ndarray], taus: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Score distribution (performance profile): for each ``tau``, the fraction of runs with score > tau.

    The fraction is taken within each task and then averaged over tasks (rliable's
    ``run_score_distribution``), so every task weighs the same whatever its number of runs.
    """
    t = np.asarray(taus, dtype=np.float64).reshape(-1)
    if not scores:
        raise ConfigError("performance profile: need scores for at least one task")
    fracs = [np.mean(_as_1d(v, f"scores[{k!r}]")[:, None] > t[None, :], axis=0) for k, v in sorted(scores.items())]
    return np.mean(np.stack(fracs), axis=0)


def performance_profile_ci(
    scores: Mapping[str, Sequence[float] | np.ndarray],
    taus: Sequence[float] | np.ndarray,
    n_boot: int = 500,
    conf: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise stratified-bootstrap CI band ``(low, high)`` for :func:`performance_profile`."""
    t = np.asarray(taus, dtype=np.float64).reshape(-1)
    rng = np.random.default_rng(seed)
    acc = np.zeros((n_boot, t.size))
    for k in sorted(scores):
        a = _as_1d(scores[k], f"scores[{k!r}]")
        res = a[rng.integers(0, a.size, size=(n_boot, a.size))]  # (B, n)
        acc += np.mean(res[:, :, None] > t[None, None, :], axis=1)
    acc /= len(scores)
    alpha = (1.0 - conf) / 2.0
    lo, hi = np.percentile(acc, [100 * alpha, 100 * (1 - alpha)], axis=0)
    return lo, hi


def probability_of_improvement(
    x: Mapping[str, Sequence[float] | np.ndarray], y: Mapping[str, Sequence[float] | np.ndarray]
) -> float:
    """P(X > Y) (rliable): the probability that a run of X scores above a run of Y on the same task,
    ties counting one half (the Mann-Whitney U statistic over ``n·m``), averaged over the tasks both
    have. ``x[task]``, ``y[task]``: one score per run."""
    tasks = sorted(set(x) & set(y))
    if not tasks:
        raise ConfigError("probability of improvement: the two entries share no task")
    per_task = []
    for t in tasks:
        a, b = _as_1d(x[t], f"x[{t!r}]"), _as_1d(y[t], f"y[{t!r}]")
        diff = a[:, None] - b[None, :]
        per_task.append(float(np.mean((diff > 0) + 0.5 * (diff == 0))))
    return float(np.mean(per_task))


def probability_of_improvement_ci(
    x: Mapping[str, Sequence[float] | np.ndarray],
    y: Mapping[str, Sequence[float] | np.ndarray],
    n_boot: int = DEFAULT_N_BOOT,
    conf: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Stratified percentile bootstrap CI of :func:`probability_of_improvement`: each replicate
    resamples X's runs and Y's runs within every shared task, independently."""
    if n_boot < 1:
        raise ConfigError(f"n_boot must be >= 1, got {n_boot}")
    tasks = sorted(set(x) & set(y))
    if not tasks:
        raise ConfigError("probability of improvement: the two entries share no task")
    rng = np.random.default_rng(seed)
    acc = np.zeros(n_boot)
    for t in tasks:
        a, b = _as_1d(x[t], f"x[{t!r}]"), _as_1d(y[t], f"y[{t!r}]")
        ra = a[rng.integers(0, a.size, size=(n_boot, a.size))]
        rb = b[rng.integers(0, b.size, size=(n_boot, b.size))]
        diff = ra[:, :, None] - rb[:, None, :]
        acc += np.mean((diff > 0) + 0.5 * (diff == 0), axis=(1, 2))
    return _percentile_interval(acc / len(tasks), conf)


def sample_efficiency_curve(
    scores: Mapping[float, Mapping[str, Sequence[float] | np.ndarray]],
    stat: Stat = iqm,
    n_boot: int = DEFAULT_N_BOOT,
    conf: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """rliable's sample-efficiency curve: ``stat`` (IQM) of the run scores at each training budget,
    with a stratified bootstrap CI at every budget. ``scores[budget][task]`` = one score per run
    evaluated after ``budget`` steps (or frames). Returns ``(budgets, point, ci_low, ci_high)``,
    budgets ascending; a budget with a single run per task has a zero-width CI."""
    if not scores:
        raise ConfigError("sample-efficiency curve: need scores for at least one budget")
    budgets = np.asarray(sorted(scores), dtype=np.float64)
    point, low, high = (np.empty(budgets.size) for _ in range(3))
    for i, b in enumerate(sorted(scores)):
        by_task = scores[b]
        pooled = np.concatenate([_as_1d(v, f"scores[{b!r}][{k!r}]") for k, v in sorted(by_task.items())])
        point[i] = float(stat(pooled))
        low[i], high[i] = stratified_bootstrap_ci(by_task, stat, n_boot=n_boot, conf=conf, seed=seed)
    return budgets, point, low, high
