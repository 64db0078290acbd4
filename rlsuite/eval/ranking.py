"""Ranking leaderboard results: one score per run, the IQM across runs (rliable's statistic).

:func:`rank_rows` turns stored result rows (one per evaluation) into one row per result group;
``docs/leaderboard.md`` states the statistic in words. The HTML export's aggregate panel computes
the same numbers with the same functions, so the table, the JSON and the page agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from rlsuite.eval.human_scores import canonical_game, human_normalized
from rlsuite.eval.stats import DEFAULT_N_BOOT, iqm, is_binary, stratified_bootstrap_ci

__all__ = ["GROUP_KEY", "MIN_RUNS_FOR_CI", "ci_note", "rank_rows"]

GROUP_KEY = ("agent", "env_id", "env_version", "protocol", "config_hash")
#: Below this many runs a group's bootstrap CI is flagged: resampling 2-4 run scores can only
#: recombine those few values, so the interval shows less uncertainty than there is.
MIN_RUNS_FOR_CI = 5


def ci_note(n_runs: int) -> str | None:
    """What to say about a group's CI given its number of runs (``None``: nothing to add)."""
    if n_runs <= 1:
        return "1 run: no confidence interval; ranked after entries with several runs (run more seeds)"
    if n_runs < MIN_RUNS_FOR_CI:
        return (
            f"{n_runs} runs: a bootstrap over so few runs understates the uncertainty; "
            f"the real interval is wider (use >= {MIN_RUNS_FOR_CI} seeds)"
        )
    return None


def _latest_per_run(rows: Iterable[Mapping[str, Any]]) -> dict[tuple, list[Mapping[str, Any]]]:
    """Rows grouped by :data:`GROUP_KEY`, one run per seed (a seed evaluated or trained more than
    once counts once, with its latest result; rows without a seed: one run per ``run_dir``); each
    group sorted by seed."""
    latest: dict[tuple, Mapping[str, Any]] = {}
    for i, r in enumerate(rows):
        key = tuple(r.get(k) for k in GROUP_KEY)
        # One seed is one run: a seed trained again (another budget, a rerun in a new directory)
        # replaces its earlier result instead of being pooled with it as a second run.
        if r.get("seed") is not None:
            ident: tuple = ("seed", r.get("seed"))
        else:
            ident = (r.get("run_dir"), None) if r.get("run_dir") else ("#", r.get("id", i))
        prev = latest.get(key + ident)
        if prev is None or (r.get("created_at") or "", r.get("id") or 0) >= (
            prev.get("created_at") or "",
            prev.get("id") or 0,
        ):
            latest[key + ident] = r
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for full_key, r in latest.items():
        groups.setdefault(full_key[: len(GROUP_KEY)], []).append(r)
    for runs in groups.values():
        runs.sort(key=lambda r: (r.get("seed") is None, r.get("seed") or 0, r.get("id") or 0))
    return groups


def rank_rows(rows: Iterable[Mapping[str, Any]], n_boot: int = DEFAULT_N_BOOT, seed: int = 0) -> list[dict[str, Any]]:
    """Group result rows by (agent, env_id, env_version, protocol, config_hash) and rank by IQM.

    The statistic is rliable's (Agarwal et al. 2021): every run (seed) gets one **score**, the
    mean of its evaluation episode returns (``run_scores``); the group's ``iqm`` is the
    interquartile mean of those run scores, and ``iqm_ci_low``/``iqm_ci_high`` a 95 % percentile
    bootstrap over runs (:func:`rlsuite.eval.stats.stratified_bootstrap_ci` with the env as the one
    stratum, ``n_boot`` resamples, ``seed``): exactly what the aggregate panel of the HTML page
    computes for one env. With one run there is no CI (``None``); ``ci_note`` says so, and warns
    when fewer than :data:`MIN_RUNS_FOR_CI` runs make the interval too narrow.

    Episode-level numbers are reported as what they are: ``episode_mean``/``episode_std`` over all
    runs' episodes pooled (population std) and, when every return is 0 or 1, ``success_rate``
    (the fraction of successful episodes; else ``None``). ``human_normalized`` (Atari) is the IQM's
    human-normalized score (``hns_ci_*`` its CI), ``run_hns`` the per-run ones. A seed evaluated
    more than once counts once, with its latest result. Sorted by env, protocol, then groups with
    several runs before single-run groups, then IQM descending; ``rank`` counts within (env_id,
    protocol).
    """
    out = []
    for key, runs in _latest_per_run(rows).items():
        g: dict[str, Any] = dict(zip(GROUP_KEY, key))
        per_run = [np.asarray(r.get("returns") or [r["mean"]], dtype=np.float64) for r in runs]
        run_scores = [float(a.mean()) for a in per_run]
        point = float(iqm(run_scores))
        lo: float | None
        hi: float | None
        lo, hi = stratified_bootstrap_ci({g["env_id"]: run_scores}, iqm, n_boot=n_boot, seed=seed)
        if len(runs) < 2:
            lo = hi = None
        episodes = np.concatenate(per_run)
        steps = [r["train_steps"] for r in runs if r.get("train_steps") is not None]
        frames = [r["frames"] for r in runs if r.get("frames") is not None]
        g.update(
            n_runs=len(runs),
            episodes=int(episodes.size),
            seeds=[r.get("seed") for r in runs],
            iqm=point,
            iqm_ci_low=lo,
            iqm_ci_high=hi,
            ci_note=ci_note(len(runs)),
            run_scores=run_scores,
            episode_mean=float(episodes.mean()),
            episode_std=float(episodes.std()),
            success_rate=float(episodes.mean()) if is_binary(episodes) else None,
            train_steps=max(steps) if steps else None,
            train_steps_min=min(steps) if steps else None,
            frames=max(frames) if frames else None,
            run_hns=[r.get("human_normalized") for r in runs],
            human_normalized=None,
            hns_ci_low=None,
            hns_ci_high=None,
            run_dirs=[r.get("run_dir") for r in runs],
            # where and how the runs were produced (None for rows written before schema v4)
            hardware=sorted({" / ".join(str(x) for x in (r.get("cpu"), r.get("gpu")) if x) for r in runs} - {""}),
            versions=[r.get("versions") for r in runs],
            wall_time=[r.get("wall_time") for r in runs],
            ids=[r.get("id") for r in runs],
            last_updated=max((r.get("created_at") or "") for r in runs) or None,
        )
        g["task"] = task_metric(runs)  # a task env's own primary metric (NAS, localization), else None
        if canonical_game(g["env_id"]) is not None:
            g["human_normalized"] = human_normalized(g["env_id"], point)
            if lo is not None and hi is not None:
                g["hns_ci_low"] = human_normalized(g["env_id"], lo)
                g["hns_ci_high"] = human_normalized(g["env_id"], hi)
        out.append(g)
    # A single run has no interval: it ranks after every entry with several runs, whatever its point
    # estimate (a lucky seed must not top entries whose score is measured).
    out.sort(key=lambda g: (g["env_id"], g["protocol"], g["n_runs"] < 2, -g["iqm"], g["agent"]))
    rank = 0
    prev: tuple[Any, Any] | None = None
    for g in out:
        rank = 1 if (g["env_id"], g["protocol"]) != prev else rank + 1
        prev = (g["env_id"], g["protocol"])
        g["rank"] = rank
    return [{"rank": g.pop("rank"), **g} for g in out]


def task_metric(runs: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The primary metric of a task env's own evaluation (``extra.task``, rlsuite.env_plugin.TaskResult)
    averaged over the runs that report it: ``{"name", "mean", "n"}``; ``None`` when none does."""
    found = [(r.get("extra") or {}).get("task") for r in runs]
    tasks: list[dict[str, Any]] = [t for t in found if t and (t.get("metrics") or {}).get(t.get("primary")) is not None]
    if not tasks:
        return None
    name = tasks[0]["primary"]
    values = [float(t["metrics"][name]) for t in tasks if t["primary"] == name]
    return {"name": name, "mean": sum(values) / len(values), "n": len(values)}
