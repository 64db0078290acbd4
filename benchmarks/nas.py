"""NAS search methods compared on one budget of queries: the RL controller vs random search vs
regularized evolution vs a surrogate-model search (issues 13 and 28).

    python benchmarks/nas.py --quick                     # tabular, 200 trials (seeds 1000-1199)
    python benchmarks/nas.py --quick --workers 2 --save  # the same over 2 processes; writes the results file
    python benchmarks/nas.py --plot-only docs/results/data/nas_mnist1d_table.json   # redraw docs/nas_tabular.png
    python benchmarks/nas.py --live --seeds 3            # children really trained on MNIST-1D (slow)

Tabular: every method searches ``nas/mnist1d-table`` (512 architectures, each trained once, fixed
seed) with a budget of ``--budget`` queries (default 10 % of the space, 51) on ``--seeds`` trials.
A query is a distinct architecture evaluated; a repeated one is answered from the table at no cost,
the same rule for every method (as NAS-Bench-101 comparisons count queries). The controller is
``--agent`` (default PPO on the recurrent controller, the env config's hparams, tuned on seeds
100-119; ``--agent-kwargs`` JSON overrides them). The JSON last line has the means over trials at
the end of the budget (``rl_best_acc``, ``random_best_acc``, ``evolution_best_acc``,
``surrogate_best_acc``), the 95 % bootstrap intervals of the RL − other differences of means
(``rl_vs_random_ci_low`` / ``_high``, ``rl_vs_evolution_ci_*``, ``rl_vs_surrogate_ci_*``), the
fraction of trials that found the table's best, and ``trials``. ``--save`` writes
``docs/results/data/nas_mnist1d_table.json`` (the table the docs site renders, and the best-found
curves: mean and 95 % t-interval per method and query) and draws ``docs/nas_tabular.png`` from it.

Live (``--live``): the same methods on ``nas/mnist1d`` (1.7 M architectures, children trained
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
from rlsuite.envs.nas.search import (
    SearchResult,
    controller_search,
    random_search,
    regularized_evolution,
    surrogate_search,
)

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


METHODS = ("rl", "random", "evolution", "surrogate")


def search_one_seed(task: dict[str, Any], seed: int) -> dict[str, SearchResult]:
    """Every method on one seed (one trial), each with a fresh evaluator: the same budget of distinct
    children for all of them."""
    space, budget, evaluator_kwargs = task["space"], task["budget"], task["evaluator_kwargs"]
    out = {"rl": controller_search(task["env"], budget, seed, task["agent"], env_kwargs=evaluator_kwargs,
                                   **task["agent_kwargs"])}
    for name, method in (("random", random_search), ("evolution", regularized_evolution),
                         ("surrogate", surrogate_search)):
        if name not in task["methods"]:
            continue
        ev = make_evaluator(space, **evaluator_kwargs)
        kwargs = {"population": task["population"], "sample_size": task["sample_size"]} if name == "evolution" else {}
        out[name] = method(ev, budget, seed, **kwargs)
        ev.close()
    return out


def _worker_init() -> None:
    torch.set_num_threads(1)


def _search_chunk(task: dict[str, Any], seeds: list[int]) -> list[dict[str, SearchResult]]:
    return [search_one_seed(task, seed) for seed in seeds]


def run_methods(task: dict[str, Any], seeds: list[int], workers: int) -> dict[str, list[SearchResult]]:
    """All methods on every seed; ``workers`` > 1 spreads contiguous chunks of seeds over that many
    processes (each imports torch once, not once per trial)."""
    start = time.perf_counter()
    per_seed: list[dict[str, SearchResult]] = []
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        chunks = [list(c) for c in np.array_split(seeds, min(len(seeds), 4 * workers)) if len(c)]
        with ProcessPoolExecutor(workers, initializer=_worker_init) as pool:
            for done in pool.map(_search_chunk, [task] * len(chunks), chunks):
                per_seed += done
                print(f"{len(per_seed)}/{len(seeds)} trials ({time.perf_counter() - start:.0f} s)", flush=True)
    else:
        for seed in seeds:
            per_seed.append(search_one_seed(task, seed))
            print(f"seed {seed}: " + "  ".join(f"{k} {v.best:.3f}" for k, v in per_seed[-1].items())
                  + f"  ({time.perf_counter() - start:.1f} s)", flush=True)
    return {name: [trial[name] for trial in per_seed] for name in per_seed[0]}


def curves(results: dict[str, list[SearchResult]], budget: int) -> dict[str, dict[str, list[float]]]:
    """Best-so-far accuracy vs distinct children, mean and 95 % t-interval over trials, per method."""
    out = {}
    for name, runs in results.items():
        mean, lo, hi = t_interval(np.stack([r.best_curve(budget) for r in runs]))
        out[name] = {"mean": [round(float(v), 5) for v in mean], "low": [round(float(v), 5) for v in lo],
                     "high": [round(float(v), 5) for v in hi]}
    return out


LABELS = {"rl": "RL controller", "random": "random search", "evolution": "regularized evolution",
          "surrogate": "surrogate (BANANAS-lite)"}


def plot(stored: dict[str, Any], path: Path) -> None:
    """The best-found curves of a stored results file (``curves``: method -> mean/low/high per child)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, (name, curve) in enumerate(stored["curves"].items()):
        x = np.arange(1, len(curve["mean"]) + 1)
        ax.plot(x, curve["mean"], color=f"C{i}", label=LABELS.get(name, name))
        ax.fill_between(x, curve["low"], curve["high"], color=f"C{i}", alpha=0.2)
    if stored.get("table_best_acc") is not None:
        ax.axhline(stored["table_best_acc"], color="grey", linestyle=":", label="best in the table")
    ax.set(xlabel="distinct architectures evaluated (queries)", ylabel="best validation accuracy found",
           title=f"{stored['env']}: mean and 95 % CI over {stored['summary']['trials']} trials", ylim=(0.75, 0.925))
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def summary(results: dict[str, list[SearchResult]], uniform_mean: float, table_best: float | None) -> dict[str, Any]:
    best = {k: np.array([r.best for r in v]) for k, v in results.items()}
    out: dict[str, Any] = {f"{k}_best_acc": round(float(v.mean()), 5) for k, v in best.items()}
    for other in ("random", "evolution", "surrogate"):
        if other in best:
            lo, hi = diff_ci(best["rl"], best[other])
            out[f"rl_vs_{other}_ci_low"], out[f"rl_vs_{other}_ci_high"] = round(lo, 5), round(hi, 5)
    for k, v in best.items():
        out[f"{k}_best_acc_ci"] = [round(float(b[0]), 5) for b in t_interval(v[:, None])[1:]]
        if table_best is not None:
            out[f"{k}_found_table_best"] = round(float(np.mean(v >= table_best - 1e-9)), 4)
    late = [np.mean(r.samples[int(0.8 * len(r.samples)):]) for r in results["rl"]]
    out.update(rl_children=float(np.mean([len(r.children) for r in results["rl"]])),
               rl_samples=float(np.mean([len(r.samples) for r in results["rl"]])),
               rl_sample_acc_last20pct=round(float(np.mean(late)), 5), uniform_sample_acc=uniform_mean,
               trials=len(results["rl"]))
    return out


def results_file(stored_summary: dict[str, Any], task: dict[str, Any], command: str,
                 curve_data: dict[str, Any], table_best: float | None) -> dict[str, Any]:
    """The docs/results/data/ record: the table the site renders, the curves the plot is drawn from."""
    s, budget = stored_summary, task["budget"]
    ci = {k: f"{s[f'{k}_best_acc']:.4f} [{s[f'{k}_best_acc_ci'][0]:.4f}, {s[f'{k}_best_acc_ci'][1]:.4f}]"
          for k in curve_data}
    flat = {f"{k}.{sub}" if isinstance(v, dict) else k: x
            for k, v in task["hparams"].items() for sub, x in (v.items() if isinstance(v, dict) else [(None, v)])}
    hp = ", ".join(f"{k} {v}" for k, v in flat.items())  # nested keys as the CLI spells them: net.recurrent lstm
    described = {"rl": f"RL controller: {task['agent']}, recurrent (LSTM) controller; {hp}",
                 "random": "random search (uniform draws; repeats free)",
                 "evolution": f"regularized evolution (population {task['population']}, sample {task['sample_size']}, "
                              "one-decision mutations)",
                 "surrogate": "surrogate search (BANANAS-lite: ridge ensemble on decisions + pairs, Thompson sampling "
                              "over mutations of the best 5 and random draws; 10 random to start)"}
    rows = [[described[k], ci[k], f"{s[f'{k}_found_table_best']:.3f}"] for k in curve_data]
    rows.append(["best architecture in the table", f"{table_best:.3f}", "1"])
    notes = ("RL − random: 95 % bootstrap interval "
             f"[{s['rl_vs_random_ci_low']:+.4f}, {s['rl_vs_random_ci_high']:+.4f}]; "
             f"RL − regularized evolution: [{s['rl_vs_evolution_ci_low']:+.4f}, {s['rl_vs_evolution_ci_high']:+.4f}]. "
             "Search space envs/nas/spaces/mnist1d-table.yaml: 3 conv layers, each 8 or 32 channels x kernel 3 or 7 x "
             "stride 1 or 2 (512 architectures), every one trained once on MNIST-1D; validation accuracy on 500 "
             "held-out training signals. A query is a distinct architecture: a repeated one is answered from the "
             f"table at no cost, for every method alike; a method stops after {10 * budget} samples. Trials are "
             f"seeds {task['seeds'][0]}-{task['seeds'][-1]}; the controller was tuned on seeds 100-119.")
    return {"title": f"NAS on {task['env']}: best validation accuracy at {budget} queries",
            "agents": [task["agent"]], "tasks": ["nas"], "command": command,
            "date": time.strftime("%Y-%m-%d"),
            "hardware": "2-core x86-64 CPU shared with other jobs, torch CPU build, one thread per process",
            "versions": {"table": "envs/nas/data/mnist1d-table.json (512 architectures, 4 epochs each)"},
            "columns": ["method", f"best validation accuracy at {budget} queries: mean [95 % CI] over "
                        f"{s['trials']} trials", "trials that found the table's best"],
            "rows": rows, "notes": notes, "env": task["env"], "budget": budget, "table_best_acc": table_best,
            "summary": s, "curves": curve_data}


def retrain(spec: dict[str, Any], epochs: int, seed: int) -> dict[str, Any]:
    from rlsuite.backbones.training import fit

    res = fit(["model=cnn", "data=mnist1d", f"epochs={epochs}", f"seed={seed}", "logger=[]", "runs_root=runs/nas-final",
               f"arch={json.dumps(spec)}"])
    return {"test_accuracy": res.metrics["accuracy"], "val_best": res.metrics["val_best"]}


RESULTS_JSON = ROOT / "docs" / "results" / "data" / "nas_mnist1d_table.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tabular benchmark, 200 trials (the default mode)")
    parser.add_argument("--live", action="store_true", help="children really trained on nas/mnist1d")
    parser.add_argument("--seeds", type=int, default=None, help="trials; default 200 (tabular), 3 (live)")
    parser.add_argument("--seed-offset", type=int, default=None,
                        help="seeds are offset, offset+1, ...; default 1000 (tabular; tuning used 100-119), 0 (live)")
    parser.add_argument("--budget", type=int, default=None, help="distinct children; default 10 %% of the table")
    parser.add_argument("--agent", default="ppo", help="the controller's agent (its hparams: the env config's)")
    parser.add_argument("--agent-kwargs", default="{}", help="JSON overrides of the env config's hparams")
    parser.add_argument("--methods", default=",".join(METHODS[1:]), help="baselines next to the controller")
    parser.add_argument("--population", type=int, default=10)
    parser.add_argument("--sample-size", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="processes the trials are spread over")
    parser.add_argument("--executor", default="process")
    parser.add_argument("--cache", default="runs/nas-live.sqlite")
    parser.add_argument("--final-epochs", type=int, default=30, help="0: no retraining of the best architectures")
    parser.add_argument("--save", action="store_true",
                        help=f"tabular: write the results file {RESULTS_JSON.relative_to(ROOT)} and its plot")
    parser.add_argument("--plot-only", default=None, metavar="RESULTS_JSON", help="redraw the plot of a results file")
    parser.add_argument("--plot", default=None)
    args = parser.parse_args()
    if args.plot_only:
        plot(json.loads(Path(args.plot_only).read_text()), Path(args.plot) if args.plot else ROOT / "docs" /
             "nas_tabular.png")
        return
    torch.set_num_threads(1)
    agent_kwargs = json.loads(args.agent_kwargs)
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(METHODS[1:]))
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; accepted: {', '.join(METHODS[1:])}")
    if "random" not in methods or "evolution" not in methods:
        parser.error("--methods must include random and evolution (the summary compares the controller with both)")
    start = time.perf_counter()
    if args.live:
        env, space = "nas/mnist1d", SearchSpace.load("mnist1d")
        offset = args.seed_offset or 0
        seeds = list(range(offset, offset + (args.seeds or 3)))
        budget = args.budget or 20
        ev_kwargs: dict[str, Any] = {"cache": args.cache, "executor": args.executor, "workers": args.workers}
        uniform, table_best = float("nan"), None
        workers = 1  # the live evaluator already spreads children over --workers
    else:
        env, space = "nas/mnist1d-table", SearchSpace.load("mnist1d-table")
        offset = 1000 if args.seed_offset is None else args.seed_offset
        seeds = list(range(offset, offset + (args.seeds or 200)))
        budget = args.budget or round(0.1 * space.size)
        ev_kwargs = {}
        table = load_table(space).values()
        uniform = float(np.mean([r["val_acc"] for r in table]))
        table_best = max(float(r["val_acc"]) for r in table)
        workers = args.workers
    from rlsuite import registry
    from rlsuite.config import env_defaults

    hparams, _ = env_defaults(registry.get_agent(args.agent), env)
    hparams.pop("total_steps", None)
    hparams.update(agent_kwargs)
    task = {"env": env, "space": space, "budget": budget, "agent": args.agent, "agent_kwargs": agent_kwargs,
            "evaluator_kwargs": ev_kwargs, "methods": methods, "population": args.population,
            "sample_size": args.sample_size, "seeds": seeds, "hparams": hparams}
    results = run_methods(task, seeds, workers)
    out = summary(results, uniform, table_best)
    out.update(mode="live" if args.live else "tabular", budget=budget, agent=args.agent, agent_kwargs=agent_kwargs,
               seed_offset=seeds[0], table_best_acc=table_best)
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
    stored = {"env": env, "budget": budget, "table_best_acc": table_best, "summary": out,
              "curves": curves(results, budget)}
    if args.save and not args.live:
        command = "python benchmarks/nas.py --quick" + (f" --workers {args.workers}" if args.workers > 1 else "") \
            + " --save"
        stored = results_file(out, task, command, stored["curves"], table_best)
        RESULTS_JSON.write_text(json.dumps(stored, indent=1) + "\n")
    default_plot = ROOT / "docs" / ("nas_live.png" if args.live else "nas_tabular.png")
    if args.save or args.live or args.plot:
        plot(stored, Path(args.plot) if args.plot else default_plot)
    out["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
