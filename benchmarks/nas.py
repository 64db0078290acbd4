"""NAS search methods compared on one budget of child trainings: the RL controller vs random search vs
regularized evolution (the report of issue 13).

    python benchmarks/nas.py --quick                 # tabular (envs/nas/data/mnist1d-table.json), 20 seeds
    python benchmarks/nas.py --live --seeds 3        # children really trained on MNIST-1D (slow)

Tabular: every method searches ``nas/mnist1d-table`` (512 architectures, each trained once, fixed
seed) with a budget of ``--budget`` distinct children (default 10 % of the space) on ``--seeds``
seeds. The controller is ``--agent`` (REINFORCE + LSTM + EMA baseline, the env config's hparams;
``--agent-kwargs`` JSON overrides them). Saves a plot of the best validation accuracy found vs
children (mean and 95 % t-interval over seeds) and of the controller's mean sample accuracy over
its samples (docs/nas_tabular.png). The JSON last line has the means over seeds at the end of the
budget (``rl_best_acc``, ``random_best_acc``, ``evolution_best_acc``), the 95 % bootstrap interval
of the RL − random difference of means (``rl_vs_random_ci_low`` / ``_high``), the same against
evolution, the mean accuracy of the controller's last 20 % of samples and of uniform sampling
(the space's mean), and ``seeds``.

Live (``--live``): the same three methods on ``nas/mnist1d`` (1.7 M architectures, children trained
for real through the cache and ``--executor``/``--workers``), then the best architecture of each
method is retrained with ``rlsuite fit`` (``--final-epochs``, early stopping) for its test
accuracy, next to the backbones' hand-designed ``mnist1d`` preset trained the same way.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.stats
import torch
from rlsuite.envs.nas import SearchSpace, make_evaluator
from rlsuite.envs.nas.evaluate import load_table
from rlsuite.envs.nas.search import SearchResult, controller_search, random_search, regularized_evolution

ROOT = Path(__file__).resolve().parents[1]


def t_interval(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95 % t-interval over axis 0 (seeds), ignoring NaN (seeds without data there)."""
    n = np.sum(~np.isnan(rows), 0)
    mean = np.nanmean(rows, 0)
    sd = np.nanstd(rows, 0, ddof=1) if len(rows) > 1 else np.zeros_like(mean)
    half = np.where(n > 1, scipy.stats.t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(np.maximum(n, 1)), 0.0)
    return mean, mean - half, mean + half


def diff_ci(a: np.ndarray, b: np.ndarray, seed: int = 0, n_boot: int = 10_000) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of mean(a) − mean(b), independent resamples of each."""
    rng = np.random.default_rng(seed)
    da = a[rng.integers(0, len(a), (n_boot, len(a)))].mean(1)
    db = b[rng.integers(0, len(b), (n_boot, len(b)))].mean(1)
    lo, hi = np.percentile(da - db, [2.5, 97.5])
    return float(lo), float(hi)


def run_methods(env: str, space: SearchSpace, budget: int, seeds: list[int], agent: str,
                agent_kwargs: dict[str, Any], evaluator_kwargs: dict[str, Any],
                population: int, sample_size: int) -> dict[str, list[SearchResult]]:
    out: dict[str, list[SearchResult]] = {"rl": [], "random": [], "evolution": []}
    for seed in seeds:
        start = time.perf_counter()
        out["rl"].append(controller_search(env, budget, seed, agent, env_kwargs=evaluator_kwargs, **agent_kwargs))
        ev = make_evaluator(space, **evaluator_kwargs)
        out["random"].append(random_search(ev, budget, seed))
        ev.close()
        ev = make_evaluator(space, **evaluator_kwargs)
        out["evolution"].append(regularized_evolution(ev, budget, seed, population, sample_size))
        ev.close()
        print(f"seed {seed}: " + "  ".join(f"{k} {v[-1].best:.3f}" for k, v in out.items())
              + f"  ({time.perf_counter() - start:.1f} s)", flush=True)
    return out


def plot(results: dict[str, list[SearchResult]], budget: int, uniform_mean: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    x = np.arange(1, budget + 1)
    for name, colour in (("rl", "C0"), ("random", "C1"), ("evolution", "C2")):
        rows = np.stack([r.best_curve(budget) for r in results[name]])
        mean, lo, hi = t_interval(rows)
        left.plot(x, mean, color=colour, label=name)
        left.fill_between(x, lo, hi, color=colour, alpha=0.2)
    left.set(xlabel="children trained", ylabel="best validation accuracy", title=title)
    left.legend()
    # a point averages `window` samples of each seed that drew that many (>= 5 seeds, or all of them)
    n = int(np.median([len(r.samples) for r in results["rl"]]))
    window = max(1, min(10, n // 5))
    rows = np.full((len(results["rl"]), n), np.nan)
    for i, r in enumerate(results["rl"]):
        rows[i, :min(n, len(r.samples))] = r.samples[:n]
    n_win = n // window
    means = rows[:, :n_win * window].reshape(len(rows), n_win, window).mean(2)
    keep = np.sum(~np.isnan(means), 0) >= min(5, len(rows))
    mean, lo, hi = (a[keep] for a in t_interval(means))
    xs = ((np.arange(n_win) + 0.5) * window)[keep]
    right.plot(xs, mean, color="C0", label=f"controller samples (mean of {window})")
    right.fill_between(xs, lo, hi, color="C0", alpha=0.2)
    if np.isfinite(uniform_mean):
        right.axhline(uniform_mean, color="C1", linestyle="--", label="uniform sampling (space mean)")
    right.set(xlabel="architectures sampled by the controller", ylabel="validation accuracy")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def summary(results: dict[str, list[SearchResult]], seeds: list[int], uniform_mean: float) -> dict[str, Any]:
    best = {k: np.array([r.best for r in v]) for k, v in results.items()}
    lo, hi = diff_ci(best["rl"], best["random"])
    elo, ehi = diff_ci(best["rl"], best["evolution"])
    late = [np.mean(r.samples[int(0.8 * len(r.samples)):]) for r in results["rl"]]
    return {"rl_best_acc": float(best["rl"].mean()), "random_best_acc": float(best["random"].mean()),
            "evolution_best_acc": float(best["evolution"].mean()),
            "rl_vs_random_ci_low": lo, "rl_vs_random_ci_high": hi,
            "rl_vs_evolution_ci_low": elo, "rl_vs_evolution_ci_high": ehi,
            "rl_children": float(np.mean([len(r.children) for r in results["rl"]])),
            "rl_samples": float(np.mean([len(r.samples) for r in results["rl"]])),
            "rl_sample_acc_last20pct": float(np.mean(late)), "uniform_sample_acc": uniform_mean,
            "seeds": len(seeds)}


def retrain(spec: dict[str, Any], epochs: int, seed: int) -> dict[str, Any]:
    from rlsuite.backbones.training import fit

    res = fit(["model=cnn", "data=mnist1d", f"epochs={epochs}", f"seed={seed}", "logger=[]", "runs_root=runs/nas-final",
               f"arch={json.dumps(spec)}"])
    return {"test_accuracy": res.metrics["accuracy"], "val_best": res.metrics["val_best"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tabular benchmark, 20 seeds (the default mode)")
    parser.add_argument("--live", action="store_true", help="children really trained on nas/mnist1d")
    parser.add_argument("--seeds", type=int, default=None, help="default 20 (tabular), 3 (live)")
    parser.add_argument("--seed-offset", type=int, default=0, help="seeds are offset, offset+1, ... (tuning: 100)")
    parser.add_argument("--budget", type=int, default=None, help="distinct children; default 10 %% of the table")
    parser.add_argument("--agent", default="reinforce")
    parser.add_argument("--agent-kwargs", default="{}", help="JSON overrides of the env config's hparams")
    parser.add_argument("--population", type=int, default=10)
    parser.add_argument("--sample-size", type=int, default=3)
    parser.add_argument("--executor", default="process")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", default="runs/nas-live.sqlite")
    parser.add_argument("--final-epochs", type=int, default=30, help="0: no retraining of the best architectures")
    parser.add_argument("--plot", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    agent_kwargs = json.loads(args.agent_kwargs)
    start = time.perf_counter()
    if args.live:
        env, space = "nas/mnist1d", SearchSpace.load("mnist1d")
        seeds = list(range(args.seed_offset, args.seed_offset + (args.seeds or 3)))
        budget = args.budget or 20
        ev_kwargs: dict[str, Any] = {"cache": args.cache, "executor": args.executor, "workers": args.workers}
        uniform = float("nan")
    else:
        env, space = "nas/mnist1d-table", SearchSpace.load("mnist1d-table")
        seeds = list(range(args.seed_offset, args.seed_offset + (args.seeds or 20)))
        budget = args.budget or round(0.1 * space.size)
        ev_kwargs = {}
        uniform = float(np.mean([r["val_acc"] for r in load_table(space).values()]))
    results = run_methods(env, space, budget, seeds, args.agent, agent_kwargs, ev_kwargs, args.population,
                          args.sample_size)
    out = summary(results, seeds, uniform)
    out.update(mode="live" if args.live else "tabular", budget=budget, agent=args.agent, agent_kwargs=agent_kwargs,
               table_best_acc=max(r["val_acc"] for r in load_table(space).values()) if not args.live else None)
    if args.live and args.final_epochs > 0:
        final = {}
        for name, runs in results.items():
            best_run = max(runs, key=lambda r: r.best)
            assert best_run.best_arch is not None
            final[name] = {"architecture": space.describe(best_run.best_arch), "search_val_acc": best_run.best,
                           **retrain(space.spec(best_run.best_arch).to_dict(), args.final_epochs, 0)}
        from rlsuite.backbones.spec import PRESETS

        final["hand_designed_mnist1d_preset"] = retrain(PRESETS["mnist1d"], args.final_epochs, 0)
        out["final"] = final
    default_plot = ROOT / "docs" / ("nas_live.png" if args.live else "nas_tabular.png")
    plot(results, budget, uniform, Path(args.plot) if args.plot else default_plot,
         f"{env}: {len(seeds)} seeds, budget {budget}")
    out["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
