"""Learning curves of each agent family, stored for the documentation (issue 30).

Each family trains its env config's recipe the way ``rlsuite train`` does (``rlsuite.train([...])``
with ``eval_every``) and records the evaluation every ``eval_every`` steps: the mean return of
``--eval-episodes`` held-out episodes (reset with seeds 100000.., train.yaml's ``eval_seed``), or
for the meta-learners (rl2, maml) their meta-test on that many held-out tasks (``rlsuite.evaluate``
selects it). The training-time evaluations do not change the training. The result goes to
``docs/results/data/curves_<family>.json`` (a results table plus the ``curves`` points), from which
``scripts/make_figures.py`` draws ``docs/results/figures/curves_<family>.png``.

    python benchmarks/curves.py --family ppo                 # one family, seeds 0 1
    python benchmarks/curves.py --family ddpg --seeds 0      # the Pendulum family is the slowest
    python benchmarks/curves.py --family rl2 --family maml   # meta-test return vs meta-training steps
    python benchmarks/curves.py --list                       # families, agents, envs and budgets
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "docs" / "results" / "data"

# family (the docs page) -> [(agent, env config, total steps, eval_every)]; budgets are the env
# configs' recipes (configs/env/<env>.yaml, hparams.<agent>.total_steps).
FAMILIES: dict[str, list[tuple[str, str, int, int]]] = {
    "tabular": [("q_learning", "Taxi-v3", 100_000, 10_000), ("expected_sarsa", "Taxi-v3", 100_000, 10_000)],
    "dqn": [("dqn", "CartPole-v1", 50_000, 5_000)],
    "ddpg": [("ddpg", "Pendulum-v1", 20_000, 2_000), ("td3", "Pendulum-v1", 20_000, 2_000)],
    "reinforce": [("reinforce", "CartPole-v1", 50_000, 5_000)],
    "a2c": [("a2c", "CartPole-v1", 500_000, 50_000)],
    "ppo": [("ppo", "CartPole-v1", 100_000, 10_000)],
    "trpo": [("trpo", "CartPole-v1", 100_000, 10_000)],
    # meta-training steps: rl2 on bandits is 2,560 env steps per update (256 trials of 10 pulls), 400
    # updates as bandits.yaml's recipe; maml on navigation2d is 160,000 per meta-iteration (40 tasks x
    # 20 trajectories x 100 steps, before and after the inner step), 30 meta-iterations
    "rl2": [("rl2", "bandits", 1_024_000, 102_400)],
    "maml": [("maml", "navigation2d", 4_800_000, 480_000)],
}


@dataclass(frozen=True)
class Evaluation:
    """What one point of a family's curves is: its figure's y label and title, the results notes'
    sentence describing it, and the default number of evaluation episodes (held-out tasks)."""

    episodes: int
    ylabel: str
    title: str
    point: str  # formatted with {episodes}


GREEDY = Evaluation(10, "greedy evaluation return", "greedy evaluation during training",
                    "Each point: the mean undiscounted return of {episodes} greedy episodes reset with seeds 100000.. "
                    "(held out from training), evaluated during the run without changing it")
# meta-learners are evaluated by their meta-test protocol (rlsuite.evaluate selects it); a trial
# return's std across bandits is about 2, so 1,000 bandits give a standard error under 0.1
EVALUATIONS: dict[str, Evaluation] = {
    "rl2": Evaluation(
        1000, "trial return, held-out bandits", "meta-test on held-out bandits during meta-training",
        "Each point: the meta-trial protocol, the mean total reward of one trial (10 pulls of 5 arms, actions "
        "sampled, hidden state carried through the trial) on each of {episodes:,} held-out bandits (the MetaSplit "
        "test pool; on its first 1,000 a random policy scores 4.97 and the Gittins index 6.58 in "
        "meta_bandit_baselines.json), evaluated during the run without changing it"),
    "maml": Evaluation(
        40, "return after 3 adaptation steps", "meta-test on held-out tasks during meta-training",
        "Each point: the meta-adaptation protocol on {episodes} held-out goals (the MetaSplit test pool): 20 "
        "trajectories per goal with the meta-learned policy, then 3 policy-gradient steps (step sizes 0.1, then "
        "0.05), each followed by 20 new trajectories; the point is the mean return of the last ones, evaluated "
        "during the run without changing it"),
}


def run_seed(agent: str, env: str, steps: int, eval_every: int, seed: int, eval_episodes: int) -> dict[str, Any]:
    """One ``rlsuite train`` run: its evaluations during training (step, mean return) and at the end."""
    import rlsuite

    with tempfile.TemporaryDirectory(prefix="curves-") as tmp:
        start = time.perf_counter()
        run = rlsuite.train([
            f"agent={agent}", f"env={env}", f"seed={seed}", f"total_steps={steps}", "device=cpu", "threads=1",
            "logger=[jsonl]", f"runs_root={tmp}", "submit=false", f"eval_episodes={eval_episodes}",
            f"eval_every={eval_every}",
        ])
        wall = time.perf_counter() - start
        points = []
        for line in (run.dir / "metrics.jsonl").read_text().splitlines():
            row = json.loads(line)
            if "eval/mean_return" in row and row.get("step") is not None:
                points.append([int(row["step"]), round(float(row["eval/mean_return"]), 2)])
    # the final evaluation is logged at the last step too: keep one point per step
    curve = list({step: [step, value] for step, value in points}.values())
    return {"final": round(float(run.eval.mean), 2), "steps": int(run.agent.steps), "wall_s": round(wall, 1),
            "curve": curve}


def versions() -> dict[str, str]:
    import gymnasium
    import numpy
    import torch

    import rlsuite

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "gymnasium": gymnasium.__version__, "rlsuite": getattr(rlsuite, "__version__", "not recorded")}


def family_result(family: str, seeds: list[int], eval_episodes: int, command: str) -> dict[str, Any]:
    evaluation = EVALUATIONS.get(family, GREEDY)
    rows, curves = [], {}
    for agent, env, steps, eval_every in FAMILIES[family]:
        runs = {}
        for seed in seeds:
            runs[seed] = run_seed(agent, env, steps, eval_every, seed, eval_episodes)
            print(f"  {env}/{agent} seed {seed}: final {runs[seed]['final']} ({runs[seed]['wall_s']} s)", flush=True)
        finals = [r["final"] for r in runs.values()]
        spread = f" ± {statistics.stdev(finals):.1f}" if len(finals) > 1 else ""
        rows.append([agent, env, f"{steps:,}", f"{eval_every:,}", " / ".join(f"{f:.1f}" for f in finals),
                     f"{statistics.mean(finals):.1f}{spread}", " / ".join(f"{r['wall_s']:.0f}" for r in runs.values())])
        curves[f"{env}/{agent}"] = {"env": env, "agent": agent, "steps": steps,
                                    "seeds": {str(s): r["curve"] for s, r in runs.items()}}
    agents = sorted({agent for agent, *_ in FAMILIES[family]})
    return {
        "title": f"Learning curves: {', '.join(agents)} ({evaluation.title})",
        "agents": agents,
        "tasks": [],
        "command": command,
        "date": date.today().isoformat(),
        "hardware": f"{os.cpu_count()}-core {platform.machine()} CPU shared with other jobs, torch on one thread "
                    "(wall times not comparable)",
        "versions": versions(),
        "columns": ["agent", "env config", "steps", "eval every", "final return per seed", "mean ± std",
                    "wall s per seed"],
        "rows": rows,
        "notes": f"{evaluation.point.format(episodes=eval_episodes)}; seeds {', '.join(map(str, seeds))}; "
                 "hyperparameters from the env config's recipe.",
        "figure": f"figures/curves_{family}.png",
        "ylabel": evaluation.ylabel,
        "curves": curves,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", action="append", default=[], choices=list(FAMILIES))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--eval-episodes", type=int, default=None,
                   help="episodes (meta-learners: held-out tasks) per evaluation; default 10, rl2 1000, maml 40")
    p.add_argument("--out-dir", type=Path, default=DATA)
    p.add_argument("--list", action="store_true")
    args = p.parse_args()
    if args.list:
        for family, rows in FAMILIES.items():
            print(family + ": " + "; ".join(f"{a} on {e}, {s:,} steps, eval every {k:,}" for a, e, s, k in rows))
        return
    if not args.family:
        sys.exit("give --family (repeatable) or --list")
    for family in args.family:
        command = f"python benchmarks/curves.py --family {family} --seeds {' '.join(map(str, args.seeds))}"
        eval_episodes = EVALUATIONS.get(family, GREEDY).episodes
        if args.eval_episodes is not None and args.eval_episodes != eval_episodes:
            eval_episodes = args.eval_episodes
            command += f" --eval-episodes {eval_episodes}"
        result = family_result(family, args.seeds, eval_episodes, command)
        args.out_dir.mkdir(parents=True, exist_ok=True)
        path = args.out_dir / f"curves_{family}.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    main()
