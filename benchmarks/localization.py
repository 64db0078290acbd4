"""Active object localization (issue 14; Caicedo & Lazebnik 2015) on generated cluttered scenes.

    python benchmarks/localization.py --quick          # one-object scenes, a smaller set, 3 seeds
    python benchmarks/localization.py --multi          # one to three objects per image: AP at IoU 0.5
    python benchmarks/localization.py --ablation no_guided,no_history
    python benchmarks/localization.py --run runs/<dqn-localization-...>   # evaluate a trained run
    python benchmarks/localization.py --run runs/<...> --scene-seed 7     # ... on fresh scenes, same CNN
    python benchmarks/localization.py --run runs/<...> --baselines random  # only the random baseline beside it
    python benchmarks/localization.py --run runs/<...> --fresh-scenes 1 2 --out docs/results/data/<name>.json

Per seed: DQN (the env config's paper hyperparameters) is trained on the training images, then the
test protocol (<= 200 steps per image, corner restarts after 40 steps without a trigger, inhibition
of return) runs greedily on the held-out test images. Beside it, on the same images and the same
CNN: a random agent through the same protocol, a fixed centred box and a sliding window scored by
the CNN's classifier head. Metrics are defined in ``envs/localization/evaluation.py``. The last line
printed is JSON; ``--out`` also writes it to a file (the figure script reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import torch
from rlsuite.envs.localization import LocalizationEnv
from rlsuite.envs.localization.evaluation import (
    agent_policy,
    center_box,
    random_policy,
    run_protocol,
    sliding_window,
    summarize,
)
from rlsuite.envs.localization.task import load_task

import rlsuite
from rlsuite.config import env_defaults
from rlsuite.registry import get_agent

try:
    from .common import cpu_description
except ImportError:  # run as a script: python benchmarks/<name>.py
    from common import cpu_description  # type: ignore[no-redef]

ABLATIONS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {  # name: (agent overrides, env overrides)
    "paper": ({}, {}),
    "no_guided": ({}, {"guided_exploration": False}),  # the env publishes no hint: uniform exploration
    "no_history": ({}, {"history": 0}),
}


def run_seed(dataset: str, data: dict[str, Any], seed: int, steps: int, agent_kw: dict[str, Any],
             env_kw: dict[str, Any], test_images: int | None) -> dict[str, Any]:
    task = load_task(dataset, **data)
    config = "localization-" + dataset
    start = time.process_time()
    # the env config's paper hyperparameters, on this benchmark's scene set (env kwargs)
    tuned, _ = env_defaults(get_agent("dqn"), config)
    agent = rlsuite.make_agent("dqn", env={"plugin": "localization", "id": f"localization/{dataset}",
                                           "kwargs": {**data, **env_kw}, "name": config},
                               seed=seed, tuned=False, **{**tuned, **agent_kw})
    agent.learn(total_steps=steps)
    train_cpu = time.process_time() - start
    env = LocalizationEnv(task=task, training=False, **env_kw)
    start = time.process_time()
    summary = summarize(run_protocol(env, agent_policy(agent), test_images))
    return {**summary, "seed": seed, "train_steps": steps, "train_cpu_s": round(train_cpu, 1),
            "eval_cpu_s": round(time.process_time() - start, 1)}


def standard_errors(results: list[Any], resamples: int = 1000, seed: int = 0) -> dict[str, float]:
    """Bootstrap standard errors over test images (images resampled with replacement) of recall,
    AP and median steps: the image is the unit the test set samples."""
    import numpy as np

    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {"recall_iou50": [], "ap50": [], "median_steps": []}
    for _ in range(resamples):
        sample = [results[i] for i in rng.integers(0, len(results), len(results))]
        summary = summarize(sample)
        for key, values in draws.items():
            if summary[key] == summary[key]:  # a resample with no detection has no median (nan)
                values.append(summary[key])
    return {f"{key}_se": round(float(np.std(values, ddof=1)), 4) for key, values in draws.items()}


BASELINES = ("random", "center_box", "sliding_window")


def evaluate_run(run: str, scene_seed: int | None = None, test_images: int | None = None,
                 baselines: tuple[str, ...] = BASELINES) -> dict[str, Any]:
    """An existing ``rlsuite train`` run: its agent through the test protocol on its own test images
    (or, with ``scene_seed``, on fresh generated scenes with the same feature CNN), with bootstrap
    standard errors over images, beside the random, centred-box and sliding-window baselines (those
    in ``baselines``) on the same images and CNN."""
    import dataclasses

    agent = rlsuite.load(run)
    spec = agent.env_spec
    if spec.plugin != "localization":
        raise SystemExit(f"{run} is a run on {spec.label}, not a localization env")
    if scene_seed is not None:
        spec = dataclasses.replace(spec, kwargs={**spec.kwargs, "scene_seed": scene_seed})
    env = spec.make(training=False)
    assert isinstance(env, LocalizationEnv)
    env.task.features.cache.clear()  # CNN evaluations counted from a cold cache
    start = time.process_time()
    agent_results = run_protocol(env, agent_policy(agent), test_images)
    eval_cpu = round(time.process_time() - start, 1)
    runners = {
        "random": lambda: summarize(run_protocol(env, random_policy(0), test_images)),
        "center_box": lambda: summarize(center_box(env.task)),
        "sliding_window": lambda: summarize(sliding_window(env.task)),
    }
    return {"run": str(run), "env": spec.label, "kwargs": spec.kwargs, "train_steps": agent.steps,
            "scene_seed": scene_seed, **summarize(agent_results), **standard_errors(agent_results),
            "eval_cpu_s": eval_cpu, "baselines": {name: runners[name]() for name in baselines}}


def fresh_scenes_result(run: str, scene_seeds: list[int], test_images: int | None,
                        baselines: tuple[str, ...]) -> dict[str, Any]:
    """The docs' results file (docs/results/data/) of one run evaluated on its own test scenes and on
    the scenes of each of ``scene_seeds`` (same agent, same feature CNN)."""
    import platform
    from datetime import date

    evaluations = [evaluate_run(run, None, test_images, baselines)]
    evaluations += [evaluate_run(run, seed, test_images, baselines) for seed in scene_seeds]
    first = evaluations[0]
    data_seed = first["kwargs"].get("data_seed", 0)
    rows = []
    for e in evaluations:
        seed = e["scene_seed"]
        scenes = f"own test scenes (seed {data_seed})" if seed is None else f"new scenes, seed {seed}"
        row = [scenes, str(e["images"]), f"{e['recall_iou50']:.3f} ± {e['recall_iou50_se']:.3f}",
               f"{e['ap50']:.3f} ± {e['ap50_se']:.3f}", f"{e['median_steps']:g} ± {e['median_steps_se']:.1f}",
               f"{e['cnn_evals_per_image']:.0f}"]
        row += [f"{e['baselines'][b]['recall_iou50']:.3f}" for b in baselines]
        rows.append(row)
    command = (f"python benchmarks/localization.py --run <run dir> --fresh-scenes {' '.join(map(str, scene_seeds))}"
               f" --baselines {','.join(baselines)}" + (f" --test-images {test_images}" if test_images else ""))
    return {
        "title": "Localization on fresh scenes: one trained agent on its own test scenes and on scenes of new seeds",
        "agents": ["dqn"], "tasks": ["localization"],
        "command": command,
        "date": date.today().isoformat(),
        "hardware": f"{cpu_description()} shared with other jobs, torch on one thread",
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "columns": ["test scenes", "images", "recall IoU≥0.5 ± s.e.", "AP50 ± s.e.", "median steps ± s.e.",
                    "CNN evals / image", *[f"{b.replace('_', ' ')}: recall" for b in baselines]],
        "rows": rows,
        "notes": f"The run: `rlsuite train agent=dqn env=localization-shapes seed=0` ({first['train_steps']:,} steps, "
                 "the env config's recipe; the default scene set: 400 training / 100 test images). Each row runs the "
                 "test protocol on the test split of the scenes named (env.kwargs.scene_seed replaces the scenes, "
                 "never the agent or its feature CNN). Standard errors: bootstrap over test images (1,000 "
                 "resamples).",
        "evaluations": evaluations,
    }


VARIANT_LABELS = {"paper": "DQN, paper settings", "no_guided": "DQN without guided exploration",
                  "no_history": "DQN without the action history"}
BASELINE_LABELS = {"random": "random agent (same protocol)", "center_box": "fixed centred box (mean training size)",
                   "sliding_window": "sliding window (4 scales x 3 aspects, stride 1/4, CNN head, NMS 0.3)"}
RESULT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "results", "data",
                           "localization_shapes.json")


def results_file(out: dict[str, Any], command: str) -> dict[str, Any]:
    """The docs' results file (docs/results/data/localization_shapes.json) of a training run of this script."""
    import platform
    from datetime import date

    def cell(x: float, spec: str = ".2f") -> str:
        return "-" if x != x or x == float("inf") else format(x, spec)

    rows = []
    for name, label in VARIANT_LABELS.items():
        if name not in out:
            continue
        runs = out[name]["runs"]
        rows.append([label, " / ".join(cell(r["recall_iou50"]) for r in runs), cell(out[name]["recall_iou50"]),
                     cell(out[name]["ap50"]), cell(out[name]["mean_iou_at_trigger"]),
                     " / ".join(f"{r['median_steps']:g}" for r in runs),
                     cell(statistics.mean(r["cnn_evals_per_image"] for r in runs), ",.0f"),
                     cell(out[name]["cnn_evals_per_detection"], ",.0f")])
    for name, label in BASELINE_LABELS.items():
        b = out["baselines"][name]
        rows.append([label, cell(b["recall_iou50"]), cell(b["recall_iou50"]), cell(b["ap50"], ".3g"),
                     cell(b["mean_iou_at_trigger"]), cell(b["median_steps"], "g") if name == "random" else "-",
                     cell(b["cnn_evals_per_image"], ",.0f"), cell(b["cnn_evals_per_detection"], ",.0f")])
    return {
        "title": f"Active localization on generated cluttered scenes: {out['test_images']} held-out test images",
        "agents": ["dqn"], "tasks": ["localization"], "command": command, "date": date.today().isoformat(),
        "hardware": f"{cpu_description()}, torch on one thread",
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "columns": ["method", "recall IoU>=0.5 (per seed)", "mean", "AP50", "mean IoU at trigger",
                    "median steps (per seed)", "CNN evals / image", "CNN evals / detection"],
        "rows": rows,
        "notes": (f"{out['train_images']} training / {out['test_images']} held-out test images of 64x64 generated "
                  "scenes (one target shape among digit distractors and strokes); DQN with the env config's paper "
                  f"settings, {out['steps']:,} training steps per seed, seeds {', '.join(map(str, out['seeds']))}. "
                  "Test protocol: at most 200 steps per image, corner restarts after 40 steps without a trigger, "
                  f"inhibition of return. {out['wall_s']:.0f} s wall for the whole command."),
    }


def figure(result: dict[str, Any], path: str) -> None:
    """Recall at IoU 0.5 and CNN evaluations per image: the agent (each seed) against the baselines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in ABLATIONS if k in result]
    rows = [(f"DQN {n}", [r["recall_iou50"] for r in result[n]["runs"]],
             [r["cnn_evals_per_image"] for r in result[n]["runs"]]) for n in names]
    rows += [(k.replace("_", " "), [b["recall_iou50"]], [b["cnn_evals_per_image"]])
             for k, b in result["baselines"].items()]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    for i, (label, recalls, evals) in enumerate(rows):
        left.bar(i, statistics.mean(recalls), color="C0" if label.startswith("DQN") else "C7")
        left.scatter([i] * len(recalls), recalls, color="k", s=8, zorder=3)
        right.bar(i, statistics.mean(evals), color="C0" if label.startswith("DQN") else "C7")
    for ax, title in ((left, "recall at IoU >= 0.5"), (right, "CNN evaluations per image")):
        ax.set_xticks(range(len(rows)), [r[0] for r in rows], rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
    right.set_yscale("log")
    fig.suptitle(f"localization/{result['dataset']}: {result['test_images']} held-out images, "
                 f"{len(result['seeds'])} seeds, {result['steps']} training steps", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def previous_runs(log: str | None, dataset: str, steps: int, n_test: int) -> dict[tuple[str, int], dict[str, Any]]:
    """Per-run lines ``{"variant": ..., "seed": ...}`` of an earlier log with the same budget and
    test set (a run is deterministic given its seed, so it need not be repeated)."""
    if not log:
        return {}
    found = {}
    with open(log) as f:
        for line in f:
            row = json.loads(line) if line.startswith("{\"variant\"") else None
            if row and row["train_steps"] == steps and row["images"] == n_test and \
                    row.get("dataset", "shapes") == dataset:
                found[row.pop("variant"), row["seed"]] = {k: v for k, v in row.items() if k != "dataset"}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller scene set and budget (< ~15 min)")
    parser.add_argument("--multi", action="store_true", help="one to three objects per image")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None, help="DQN training steps per seed")
    parser.add_argument("--train-images", type=int, default=None)
    parser.add_argument("--test-images", type=int, default=None)
    parser.add_argument("--ablation", default="paper", help=f"comma-separated among {', '.join(ABLATIONS)}")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    parser.add_argument("--save", action="store_true",
                        help="write the docs' results file (docs/results/data/localization_shapes.json)")
    parser.add_argument("--resume", default=None,
                        help="a log of an earlier run of this script: its per-run lines are reused, not rerun")
    parser.add_argument("--figure", default=None, help="draw the results figure (PNG) here")
    parser.add_argument("--from-json", default=None, help="with --figure: draw from a saved result, run nothing")
    parser.add_argument("--run", default=None, help="evaluate this `rlsuite train` run directory (trains nothing)")
    parser.add_argument("--scene-seed", type=int, default=None,
                        help="with --run: fresh generated scenes of this seed, the run's own feature CNN")
    parser.add_argument("--fresh-scenes", type=int, nargs="+", default=None, metavar="SEED",
                        help="with --run: its own test scenes and those of these scene seeds, as a docs results "
                             "file (--out docs/results/data/<name>.json)")
    parser.add_argument("--baselines", default=",".join(BASELINES),
                        help="with --run: comma-separated baselines to run beside the agent (empty: none)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.run:
        chosen = tuple(b for b in args.baselines.split(",") if b)
        unknown = [b for b in chosen if b not in BASELINES]
        if unknown:
            parser.error(f"unknown baseline {unknown[0]!r}; accepted: {', '.join(BASELINES)}")
        if args.fresh_scenes:
            result = fresh_scenes_result(args.run, args.fresh_scenes, args.test_images, chosen)
            if args.out:
                with open(args.out, "w") as f:
                    f.write(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
            print(json.dumps(result))
            return
        print(json.dumps(evaluate_run(args.run, args.scene_seed, args.test_images, chosen)))
        return
    if args.from_json:
        with open(args.from_json) as f:
            figure(json.loads(f.read().strip().splitlines()[-1]), args.figure)
        return

    dataset = "shapes-multi" if args.multi else "shapes"
    n_train = args.train_images or (300 if args.quick else 600)
    n_test = args.test_images or (50 if args.quick else 200)
    steps = args.steps or (20_000 if args.quick else 30_000)  # quick: the env config's budget
    data = {"n_train": n_train, "n_test": n_test}
    start = time.time()
    task = load_task(dataset, **data)
    out: dict[str, Any] = {"dataset": dataset, "train_images": n_train, "test_images": n_test, "steps": steps,
                           "seeds": args.seeds, "machine": "2 shared CPU cores, loaded (CPU seconds reported)"}

    env = LocalizationEnv(task=task, training=False)
    baselines = {
        "random": summarize(run_protocol(env, random_policy(0))),
        "center_box": summarize(center_box(task)),
        "sliding_window": summarize(sliding_window(task)),
    }
    out["baselines"] = baselines
    done = previous_runs(args.resume, dataset, steps, n_test)
    for name in args.ablation.split(","):
        agent_kw, env_kw = ABLATIONS[name]
        runs = []
        for seed in args.seeds:
            if (name, seed) in done:
                runs.append(done[name, seed])
                continue
            runs.append(run_seed(dataset, data, seed, steps, agent_kw, env_kw, None))
            print(json.dumps({"variant": name, "dataset": dataset, **runs[-1]}), flush=True)
        out[name] = {"runs": runs, **{key: statistics.mean(r[key] for r in runs) for key in
                                      ("recall_iou50", "ap50", "mean_iou_at_trigger", "median_steps",
                                       "cnn_evals_per_detection", "objects_found_per_image")}}
    main_variant = out.get("paper") or out[args.ablation.split(",")[0]]
    out.update({
        "recall_iou50": main_variant["recall_iou50"],
        "median_steps": main_variant["median_steps"],
        "ap50": main_variant["ap50"],
        "random_recall_iou50": baselines["random"]["recall_iou50"],
        "center_box_recall_iou50": baselines["center_box"]["recall_iou50"],
        "sliding_window_recall_iou50": baselines["sliding_window"]["recall_iou50"],
        "sliding_window_evals_per_image": baselines["sliding_window"]["cnn_evals_per_image"],
        "wall_s": round(time.time() - start, 1),
    })
    line = json.dumps(out)
    if args.figure:
        figure(out, args.figure)
    if args.out:
        with open(args.out, "w") as f:
            f.write(line + "\n")
    if args.save and not args.multi:
        command = "python benchmarks/localization.py" + (" --quick" if args.quick else "") + \
            (f" --steps {args.steps}" if args.steps else "") + \
            (f" --ablation {args.ablation}" if args.ablation != "paper" else "")
        with open(RESULT_FILE, "w") as f:
            f.write(json.dumps(results_file(out, command), indent=1, ensure_ascii=False) + "\n")
    print(line)


if __name__ == "__main__":
    main()
