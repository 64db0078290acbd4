"""Meta-RL benchmarks (issue 16): RL² and its baselines on bandits and MDPs, MAML on 2D navigation and HalfCheetah.

    python benchmarks/meta.py --bandit-baselines        # n ∈ {10, 100} × k ∈ {5, 10, 50}, 1,000 held-out bandits
    python benchmarks/meta.py --quick                   # the issue's quick JSON (bandits n=10 k=5, 2D nav reduced)
    python benchmarks/meta.py --nav --iterations 100    # the 2D-navigation table: MAML, pretrained, oracle, random
    python benchmarks/meta.py --rl2 n10-k5 --rl2-trials 1024 --rl2-updates 300 --rl2-eval-streams 20  # one cell
    python benchmarks/meta.py --rl2 n100-k5 --rl2-critic detached   # RL² at n = 100 (also --rl2-mdp 10)
    python benchmarks/meta.py --rl2 n100-k5 --rl2-critic detached --rl2-pretrain-n10 200   # from a 10-pull policy
    python benchmarks/meta.py --cheetah --cheetah-rl2-updates 100   # HalfCheetah velocity, reduced budget

The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rlsuite.envs.meta import BernoulliBandits

from rlsuite.config import env_defaults
from rlsuite.meta import MetaSplit
from rlsuite.meta.bandit_baselines import baseline_table

PAPER_TABLE1 = {  # Duan et al. 2016, table 1: Random, Gittins, TS, OTS, UCB1, ε-greedy, greedy, RL²
    (10, 5): (5.0, 6.6, 5.7, 6.5, 6.7, 6.6, 6.6, 6.7),
    (10, 10): (5.0, 6.6, 5.5, 6.2, 6.7, 6.6, 6.6, 6.7),
    (10, 50): (5.1, 6.5, 5.2, 5.5, 6.6, 6.5, 6.5, 6.8),
    (100, 5): (49.9, 78.3, 74.7, 77.9, 78.0, 75.4, 74.8, 78.7),
    (100, 10): (49.9, 82.8, 76.7, 81.4, 82.4, 77.4, 77.1, 83.5),
    (100, 50): (49.8, 85.2, 64.5, 67.7, 84.3, 78.3, 78.0, 84.9),
}
PAPER_COLUMNS = ("random", "gittins", "ts", "ots", "ucb1", "epsilon_greedy", "greedy", "rl2")


def bandit_recipe() -> dict[str, Any]:
    """RL²'s bandit recipe, as ``rlsuite train agent=rl2 env=bandits`` runs it (the env config's hparams,
    without its step budget)."""
    from rlsuite.agents.rl2 import RL2

    return env_defaults(RL2, "bandits")[0]


def bandit_baselines(cells: list[tuple[int, int]], bandits: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Our baselines on ``bandits`` held-out bandits per cell (hyperparameters tuned on as many
    meta-training bandits), beside the paper's columns."""
    out: dict[str, Any] = {}
    for n, k in cells:
        split = MetaSplit(BernoulliBandits(k=k, n=n), seed=seed)
        p_train = split.train_tasks(np.random.default_rng(seed), bandits).params["p"]
        p_test = split.test_tasks(bandits).params["p"]
        ours = baseline_table(p_train, p_test, n, seed)
        out[f"n{n}_k{k}"] = {"ours": ours, "paper": dict(zip(PAPER_COLUMNS, PAPER_TABLE1[(n, k)]))}
    return out


def bayes_optimal_bounds(cells: list[tuple[int, int]], bandits: int = 1000, seed: int = 0, streams: int = 20
                         ) -> dict[str, Any]:
    """The most any strategy can earn: the exact Bayes-optimal mean over the task distribution, and
    the Bayes-optimal strategy on our held-out bandits (the baselines' reward stream, and the mean
    over ``streams`` reward streams: the expectation on this test set without the draws' noise)."""
    from rlsuite.meta.bandit_baselines import bayes_optimal, bayes_optimal_value, run_strategy

    out: dict[str, Any] = {}
    for n, k in cells:
        p_test = MetaSplit(BernoulliBandits(k=k, n=n), seed=seed).test_tasks(bandits).params["p"]
        means = [float(run_strategy(bayes_optimal(n, k), p_test, n, np.random.default_rng(seed + 1 + i)).mean())
                 for i in range(streams)]
        paper = PAPER_TABLE1[(n, k)][-1]
        out[f"n{n}_k{k}"] = {"distribution": bayes_optimal_value(n, k), "held_out": means[0],
                             "held_out_streams_mean": float(np.mean(means)), "held_out_streams_min": min(means),
                             "held_out_streams_max": max(means), "paper_rl2": paper, "goal": 0.99 * paper}
        print(f"Bayes-optimal n={n} k={k}: distribution {bayes_optimal_value(n, k):.3f}, held-out {means[0]:.3f} "
              f"(mean of {streams} streams {np.mean(means):.3f}, {min(means):.3f}-{max(means):.3f}); "
              f"goal >= {0.99 * paper:.3f}", flush=True)
    return out


PAPER_NAV = {  # Finn et al. 2017, 2D navigation, mean return over 40 test tasks after 0/1/2/3 steps
    "maml": [-40.4, -11.7, -3.3, -3.2], "pretrained": [-40.8, -19.7, -11.7, -8.5],
    "random_init": [-82.7, -58.0], "oracle": [-2.3],
}


PAPER_CHEETAH = {  # Finn et al. 2017, HalfCheetah velocity (horizon 200), returns after 0/1/2 steps
    "maml": [-129.5, -78.6, -66.6], "pretrained": [-158.0, -135.4], "oracle": [-54.5],
}


def maml_table(env: str, iterations: int, seed: int, hidden: list[int], activation: str, meta_batch: int,
               trajectories: int, test_tasks: int = 40, steps: int = 3,
               rows: tuple[str, ...] = ("maml", "pretrained", "oracle"), test_trajectories: tuple[int, ...] = (),
               **maml_kwargs: Any) -> dict[str, Any]:
    """Meta-train MAML, the multi-task pretrained policy and the oracle (the task in the
    observation) on task env ``env`` for ``iterations`` meta-iterations each; evaluate them and a
    random initialization on held-out tasks, sampling ``trajectories`` per task and gradient step
    (``returns``) and also each of ``test_trajectories`` (``returns_by_trajectories``)."""
    import torch
    from rlsuite.agents.maml import MAML

    torch.set_num_threads(1)
    common = dict(seed=seed, device="cpu", net={"widths": hidden, "activation": activation},
                  meta_batch_size=meta_batch, trajectories_per_task=trajectories, **maml_kwargs)
    runs = {"maml": (env, 1), "pretrained": (env, 0),
            "oracle": ({"plugin": env, "kwargs": {"oracle": True}}, 0)}
    out: dict[str, Any] = {}
    random_init = MAML(env, **common)
    out["random_init"] = {"returns": random_init.meta_test(test_tasks, steps=1, n_traj=trajectories)["returns"]}
    for name in rows:
        task_env, inner_steps = runs[name]
        agent = MAML(task_env, inner_steps=inner_steps, **common)
        curve, t0, cpu0 = [], time.perf_counter(), time.process_time()
        for _ in range(iterations):
            info = agent.meta_iteration()
            curve.append([round(info["meta/return_before"], 2), round(info["meta/return_after"], 2)])
        seconds = (time.perf_counter() - t0) / iterations
        cpu_seconds = (time.process_time() - cpu0) / iterations
        tests = {n: agent.meta_test(test_tasks, steps=0 if name == "oracle" else steps, n_traj=n)
                 for n in dict.fromkeys((trajectories, *test_trajectories))}
        by_trajectories = {n: test["returns"] for n, test in tests.items()}
        # the standard error of each mean over the tasks (goal distances make the tasks' returns differ
        # by several units, so a 40-task mean is uncertain by about one unit)
        standard_errors = {n: [float(np.std(r, ddof=1) / np.sqrt(len(r))) if len(r) > 1 else 0.0
                               for r in test["per_task"]] for n, test in tests.items()}
        out[name] = {"returns": by_trajectories[trajectories], "returns_by_trajectories": by_trajectories,
                     "standard_errors_by_trajectories": standard_errors,
                     "seconds_per_meta_iteration": seconds, "cpu_seconds_per_meta_iteration": cpu_seconds,
                     "curve": curve, "env_steps": agent.steps}
        print(name, {n: [f"{r:.2f} ± {e:.2f}" for r, e in zip(returns, standard_errors[n])]
                     for n, returns in by_trajectories.items()},
              f"{seconds:.2f} s/iteration wall, {cpu_seconds:.2f} CPU", flush=True)
    return out


def maml_navigation(iterations: int, seed: int, hidden: list[int], activation: str, meta_batch: int,
                    trajectories: int, **kwargs: Any) -> dict[str, Any]:
    """The 2D-navigation table: 40 held-out tasks, 20 trajectories per task and gradient step."""
    return maml_table("navigation2d", iterations, seed, hidden, activation, meta_batch, trajectories, **kwargs)


def metric_switch_timing(iterations: int = 4, rounds: int = 2, seed: int = 0) -> dict[str, Any]:
    """What ``gauss_newton_metric`` buys: CPU seconds per MAML meta-iteration on 2D navigation
    ([64, 64] tanh, 20 tasks × 20 trajectories) with the switch on and off, alternating rounds of
    ``iterations`` each after one warm-up iteration, both from the same seed."""
    import torch
    from rlsuite.agents.maml import MAML

    torch.set_num_threads(1)
    cpu: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for switch in (True, False):
            agent = MAML("navigation2d", seed=seed, device="cpu", net={"widths": [64, 64], "activation": "tanh"},
                         gauss_newton_metric=switch)
            agent.meta_iteration()
            start = time.process_time()
            for _ in range(iterations):
                agent.meta_iteration()
            cpu[switch].append((time.process_time() - start) / iterations)
    on, off = float(np.median(cpu[True])), float(np.median(cpu[False]))
    print(f"gauss_newton_metric: on {on:.2f}, off {off:.2f} CPU-s per meta-iteration ({off / on:.2f}x)", flush=True)
    return {"cpu_seconds_on": on, "cpu_seconds_off": off, "speedup": off / on, "rounds": cpu}


PAPER_TABLE2 = {10: {"random": 100.1, "psrl": 138.1, "ucrl2": 146.6, "rl2": 156.2},
                25: {"random": 250.2, "psrl": 408.8, "ucrl2": 424.1, "rl2": 445.7}}


UCRL2_SCALES = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


def mdp_baselines(mdps: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Random, PSRL and UCRL2 on ``mdps`` held-out random MDPs, n = 10 and 25 episodes per trial;
    UCRL2's confidence scale is tuned on as many meta-training MDPs first."""
    from rlsuite.envs.meta import RandomMDPs
    from rlsuite.envs.meta.mdp_baselines import run_mdp_strategy

    dist = RandomMDPs()
    split = MetaSplit(dist, seed=seed)
    params = split.test_tasks(mdps).params
    train = split.train_tasks(np.random.default_rng(seed), mdps).params
    out: dict[str, Any] = {}
    for n in (10, 25):
        tuning = {c: float(run_mdp_strategy("ucrl2", dist, train, n, np.random.default_rng(seed), ucrl2_scale=c).mean())
                  for c in UCRL2_SCALES}
        scale = max(tuning, key=lambda c: tuning[c])
        ours = {}
        for strategy in ("random", "psrl", "ucrl2"):
            totals = run_mdp_strategy(strategy, dist, params, n, np.random.default_rng(seed + 1), ucrl2_scale=scale)
            ours[strategy] = {"mean": float(totals.mean()), "sem": float(totals.std(ddof=1) / np.sqrt(mdps))}
        ours["ucrl2"]["hparam"] = scale
        out[f"n{n}"] = {"ours": ours, "paper": PAPER_TABLE2[n], "ucrl2_tuning": tuning}
        print(f"MDP n={n}", {k: round(v["mean"], 1) for k, v in ours.items()}, f"UCRL2 scale {scale}",
              "paper", PAPER_TABLE2[n], flush=True)
    return out


def train_rl2(env: str, updates: int, seed: int, lr: float, test_tasks: int, curve_tasks: int = 200,
              eval_streams: int = 1, init_from: str | None = None, save_to: str | None = None,
              **hparams: Any) -> dict[str, Any]:
    """Train RL² for ``updates`` PPO iterations on ``env``; mean total reward per trial over
    ``test_tasks`` held-out tasks (the meta-trial protocol); the curve evaluates the first
    ``curve_tasks`` of them every 25 updates (reported only, never used to pick a checkpoint).
    ``init_from``: a saved RL² model to start from (``Agent.initialize_from``); ``save_to``: save
    the trained model there."""
    import torch
    from rlsuite.agents.rl2 import RL2

    torch.set_num_threads(1)
    agent = RL2(env, seed=seed, device="cpu", lr=lr, **hparams)
    t0, cpu0, curve = time.perf_counter(), time.process_time(), []
    if init_from:
        agent.initialize_from(init_from)
        curve.append(round(agent.meta_test(curve_tasks, seed=1)["trial_return"], 3))  # where it starts
    per_update = agent.config.trials_per_iteration * agent.config.episodes_per_trial * agent.vec.horizon
    for _ in range(updates):
        agent.learn(per_update)
        curve.append(round(agent.meta_test(curve_tasks, seed=1)["trial_return"], 3) if len(curve) % 25 == 0 else None)
    if save_to:
        agent.save(save_to)
    result = agent.meta_test(test_tasks)
    del result["trial_returns"]
    if eval_streams > 1:  # the same held-out tasks under other action and reward draws
        means = [agent.meta_test(test_tasks, seed=100_000 + i)["trial_return"] for i in range(eval_streams)]
        result.update(streams_mean=float(np.mean(means)), streams_min=min(means), streams_max=max(means))
    result.update(seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - cpu0, updates=updates,
                  env_steps=agent.steps, curve=[c for c in curve if c is not None], lr=lr, init_from=init_from,
                  **hparams)
    print(f"rl2 {env}", round(result["trial_return"], 3), f"{result['seconds']:.0f} s",
          f"streams mean {result['streams_mean']:.3f}" if eval_streams > 1 else "", flush=True)
    return result


def rl2_bandits(n: int, k: int, updates: int, seed: int, lr: float, test_bandits: int = 1000,
                **hparams: Any) -> dict[str, Any]:
    return train_rl2(f"bandits/k{k}-n{n}", updates, seed, lr, test_bandits, **hparams)


def rl2_mdps(episodes: int, updates: int, seed: int, lr: float, test_mdps: int = 1000,
             **hparams: Any) -> dict[str, Any]:
    """RL² on random tabular MDPs (10 states, 5 actions, horizon 10), trials of ``episodes`` episodes."""
    result = train_rl2("tabular_mdp", updates, seed, lr, test_mdps, episodes_per_trial=episodes, **hparams)
    result["paper"] = PAPER_TABLE2[episodes]
    return result


def print_bandit_table(results: dict[str, Any]) -> None:
    print("| n, k | ours: random | greedy | ε-greedy (ε) | UCB1 c=1 | UCB1 tuned (c) | UCB1 prior (c) | TS | "
          "Gittins (γ) | paper: random | greedy | ε-greedy | UCB1 | TS | Gittins | RL² |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for cell, row in results.items():
        o, p = row["ours"], row["paper"]
        n, k = cell[1:].split("_k")
        print(f"| {n}, {k} | {o['random']['mean']:.2f} | {o['greedy']['mean']:.2f} | "
              f"{o['epsilon_greedy']['mean']:.2f} ({o['epsilon_greedy']['hparam']}) | {o['ucb1']['mean']:.2f} | "
              f"{o['ucb1_tuned']['mean']:.2f} ({o['ucb1_tuned']['hparam']}) | "
              f"{o['ucb1_prior']['mean']:.2f} ({o['ucb1_prior']['hparam']}) | {o['thompson']['mean']:.2f} | "
              f"{o['gittins']['mean']:.2f} ({o['gittins']['hparam']}) | "
              f"{p['random']} | {p['greedy']} | {p['epsilon_greedy']} | {p['ucb1']} | {p['ts']} | "
              f"{p['gittins']} | {p['rl2']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bandit-baselines", action="store_true", help="table 1 baselines, all six cells")
    parser.add_argument("--mdp-baselines", action="store_true", help="table 2 baselines: random, PSRL, UCRL2")
    parser.add_argument("--metric-switch", action="store_true",
                        help="CPU time of a MAML meta-iteration with gauss_newton_metric on and off")
    parser.add_argument("--bayes-optimal", action="store_true", help="exact Bayes-optimal bounds of the n=10 cells")
    parser.add_argument("--quick", action="store_true", help="bandits n=10 k=5 and 2D navigation, reduced")
    parser.add_argument("--nav", action="store_true", help="MAML 2D navigation: MAML, pretrained, oracle, random")
    parser.add_argument("--iterations", type=int, default=50, help="meta-iterations per trained row (--nav)")
    parser.add_argument("--rows", nargs="+", default=["maml", "pretrained", "oracle"],
                        help="which trained rows --nav runs (random_init is always evaluated)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--activation", default="tanh")
    parser.add_argument("--meta-batch", type=int, default=20)
    parser.add_argument("--trajectories", type=int, default=20)
    parser.add_argument("--inner-lr", type=float, default=0.1, help="MAML's meta-training inner step α")
    parser.add_argument("--test-trajectories", type=int, nargs="*", default=[40],
                        help="also evaluate with these many trajectories per task and step (the paper's test "
                             "script: 4,000 steps = 40 trajectories)")
    parser.add_argument("--test-tasks", type=int, default=40,
                        help="held-out tasks of the --nav test (the paper: 40; more tasks narrow the estimate)")
    parser.add_argument("--test-step-sizes", type=float, nargs="+", default=[0.1, 0.05],
                        help="MAML's meta-test step sizes (the last one repeats); the paper's text: 0.1 0.05")
    parser.add_argument("--first-order-metric", action="store_true",
                        help="MAML speed switch: fisher_through_inner_step=false (the TRPO metric ignores ∂θ'/∂θ)")
    parser.add_argument("--quick-iterations", type=int, default=20, help="meta-iterations per row (--quick)")
    parser.add_argument("--quick-rl2-updates", type=int, default=300,
                        help="RL² PPO iterations (--quick, with the bandit recipe of configs/env/bandits.yaml)")
    parser.add_argument("--rl2", type=str, nargs="*", default=None, metavar="nN-kK",
                        help="RL² on bandit cells, e.g. --rl2 n10-k5 n100-k5")
    parser.add_argument("--rl2-mdp", type=int, nargs="*", default=None, metavar="EPISODES",
                        help="RL² on random tabular MDPs with trials of these many episodes, e.g. --rl2-mdp 10 25")
    parser.add_argument("--rl2-updates", type=int, default=300)
    parser.add_argument("--rl2-eval-streams", type=int, default=1,
                        help="also average the held-out score over this many action/reward streams")
    parser.add_argument("--rl2-lr", type=float, default=3e-3)
    parser.add_argument("--rl2-critic", default="shared", help="RL² value function: shared, separate, detached")
    parser.add_argument("--rl2-gae-lambda", type=float, default=0.95)
    parser.add_argument("--rl2-gamma", type=float, default=0.99)
    parser.add_argument("--rl2-hidden", type=int, default=64, help="RL² GRU units (the paper: 256)")
    parser.add_argument("--rl2-trials", type=int, default=256,
                        help="RL² trials per PPO update (the bandit recipe: 1,024; the paper: 25,000 at n = 10)")
    parser.add_argument("--rl2-ent-coef", type=float, default=0.0)
    parser.add_argument("--rl2-outer", choices=("ppo", "trpo"), default="ppo",
                        help="RL²'s outer optimizer (the paper: trpo, one KL-bounded step per iteration)")
    parser.add_argument("--rl2-max-kl", type=float, default=0.01, help="RL² trust-region radius (--rl2-outer trpo)")
    parser.add_argument("--rl2-time-input", action="store_true", help="RL² reads the elapsed fraction of the trial")
    parser.add_argument("--rl2-init-from", default=None, help="RL² bandit cells start from this saved RL² model")
    parser.add_argument("--rl2-save", default=None, metavar="DIR",
                        help="save each RL² bandit cell's model as DIR/rl2_k<K>_n<N>.safetensors (for --rl2-init-from)")
    parser.add_argument("--rl2-pretrain-n10", type=int, default=0, metavar="UPDATES",
                        help="a curriculum over trial length: each n = 100 bandit cell starts from a 10-pull policy "
                             "of its k trained first for UPDATES updates by the bandit recipe (1,024 trials, shared "
                             "critic, lr 3e-3)")
    parser.add_argument("--cheetah", action="store_true",
                        help="HalfCheetah velocity (horizon 100): MAML, pretrained, oracle at a reduced budget")
    parser.add_argument("--cheetah-iterations", type=int, default=30)
    parser.add_argument("--cheetah-rows", nargs="+", default=["maml", "pretrained", "oracle"])
    parser.add_argument("--cheetah-meta-batch", type=int, default=20, help="the paper: 40")
    parser.add_argument("--cheetah-trajectories", type=int, default=10, help="the paper: 20")
    parser.add_argument("--cheetah-rl2-updates", type=int, default=0, help="RL² on HalfCheetah velocity (0: not run)")
    parser.add_argument("--cheetah-rl2-trials", type=int, default=64, help="RL² trials (of 2 episodes) per update")
    parser.add_argument("--cheetah-rl2-lr", type=float, default=1e-3)
    parser.add_argument("--bandits", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    summary: dict[str, Any] = {}
    rl2_settings = {"critic": args.rl2_critic, "gae_lambda": args.rl2_gae_lambda, "gamma": args.rl2_gamma,
                    "net": {"recurrent_hidden": args.rl2_hidden}, "ent_coef": args.rl2_ent_coef,
                    "trials_per_iteration": args.rl2_trials, "outer_optimizer": args.rl2_outer,
                    "max_kl": args.rl2_max_kl,
                    "time_input": args.rl2_time_input, "eval_streams": args.rl2_eval_streams}
    maml_settings = {"inner_lr": args.inner_lr, "fisher_through_inner_step": not args.first_order_metric,
                     "test_step_sizes": args.test_step_sizes}
    t0 = time.perf_counter()
    if args.bandit_baselines:
        results = bandit_baselines(sorted(PAPER_TABLE1), args.bandits, args.seed)
        print_bandit_table(results)
        summary["bandit_baselines"] = results
    if args.metric_switch:
        summary["gauss_newton_metric"] = metric_switch_timing(seed=args.seed)
    if args.bayes_optimal:
        summary["bayes_optimal"] = bayes_optimal_bounds([(10, 5), (10, 10), (10, 50)], args.bandits, args.seed)
    if args.mdp_baselines:
        summary["mdp_baselines"] = mdp_baselines(args.bandits, args.seed)
    if args.rl2:
        for cell in args.rl2:
            n, k = (int(part[1:]) for part in cell.split("-"))
            init_from = args.rl2_init_from
            if args.rl2_pretrain_n10 and n > 10:  # the 10-pull stage, saved, then the cell starts from it
                init_from = str(Path(tempfile.mkdtemp()) / f"rl2_k{k}_n10.safetensors")
                summary[f"rl2_bandit_n10_k{k}_pretrain"] = rl2_bandits(
                    10, k, args.rl2_pretrain_n10, args.seed, 3e-3, args.bandits, critic="shared",
                    trials_per_iteration=1024, save_to=init_from)
            save_to = str(Path(args.rl2_save) / f"rl2_k{k}_n{n}.safetensors") if args.rl2_save else None
            summary[f"rl2_bandit_n{n}_k{k}"] = rl2_bandits(n, k, args.rl2_updates, args.seed, args.rl2_lr, args.bandits,
                                                           init_from=init_from, save_to=save_to, **rl2_settings)
    for episodes in args.rl2_mdp or []:
        summary[f"rl2_mdp_n{episodes}"] = rl2_mdps(episodes, args.rl2_updates, args.seed, args.rl2_lr, args.bandits,
                                                           **rl2_settings)
    if args.nav:
        summary["navigation2d"] = maml_navigation(args.iterations, args.seed, args.hidden, args.activation,
                                                  args.meta_batch, args.trajectories, rows=tuple(args.rows),
                                                  test_trajectories=tuple(args.test_trajectories),
                                                  test_tasks=args.test_tasks, **maml_settings)
        summary["navigation2d_paper"] = PAPER_NAV
        summary["navigation2d_settings"] = maml_settings
    if args.cheetah:
        summary["halfcheetah_vel"] = maml_table("halfcheetah_vel", args.cheetah_iterations, args.seed, args.hidden,
                                                args.activation, args.cheetah_meta_batch, args.cheetah_trajectories,
                                                steps=2, rows=tuple(args.cheetah_rows), **maml_settings)
        summary["halfcheetah_vel_paper"] = PAPER_CHEETAH
        summary["halfcheetah_vel_budget"] = {"meta_iterations": args.cheetah_iterations, "horizon": 100,
                                             "meta_batch": args.cheetah_meta_batch,
                                             "trajectories": args.cheetah_trajectories}
    if args.cheetah_rl2_updates:
        summary["rl2_halfcheetah_vel"] = train_rl2(
            "halfcheetah_vel", args.cheetah_rl2_updates, args.seed, args.cheetah_rl2_lr, 100, episodes_per_trial=2,
            curve_tasks=40, **{**rl2_settings, "trials_per_iteration": args.cheetah_rl2_trials})
    if args.quick:
        cell = bandit_baselines([(10, 5)], args.bandits, args.seed)["n10_k5"]["ours"]
        summary["ucb1_bandit_n10_k5"] = cell["ucb1"]["mean"]
        summary["ucb1_tuned_bandit_n10_k5"] = cell["ucb1_tuned"]["mean"]
        summary["ucb1_prior_bandit_n10_k5"] = cell["ucb1_prior"]["mean"]
        summary["gittins_bandit_n10_k5"] = cell["gittins"]["mean"]
        nav = maml_navigation(args.quick_iterations, args.seed, args.hidden, args.activation, args.meta_batch,
                              args.trajectories, steps=2, rows=("maml", "pretrained"), **maml_settings)
        for k in range(3):
            summary[f"maml_nav_step{k}"] = nav["maml"]["returns"][k]
        summary["pretrained_nav_step1"] = nav["pretrained"]["returns"][1]
        summary["random_init_nav_step0"] = nav["random_init"]["returns"][0]
        summary["seconds_per_meta_iteration"] = nav["maml"]["seconds_per_meta_iteration"]
        summary["cpu_seconds_per_meta_iteration"] = nav["maml"]["cpu_seconds_per_meta_iteration"]
        summary["quick_budget"] = {"meta_iterations": args.quick_iterations, "meta_batch": args.meta_batch,
                                   "trajectories": args.trajectories, "hidden": args.hidden, **maml_settings}
        # RL² against the Bayes-optimal strategy on the same held-out bandits, each averaged over
        # 20 action/reward streams (the draws' noise is ~1 % of the value on one stream)
        recipe = bandit_recipe()
        rl2 = rl2_bandits(10, 5, args.quick_rl2_updates, args.seed, recipe.pop("lr"), args.bandits, eval_streams=20,
                          **recipe)
        bayes = bayes_optimal_bounds([(10, 5)], args.bandits, args.seed, streams=20)["n10_k5"]
        summary["rl2_bandit_n10_k5"] = rl2["trial_return"]
        summary["rl2_bandit_n10_k5_streams_mean"] = rl2["streams_mean"]
        summary["bayes_bandit_n10_k5_streams_mean"] = bayes["held_out_streams_mean"]
        summary["bayes_bandit_n10_k5_distribution"] = bayes["distribution"]
        summary["rl2_bandit_n10_k5_vs_bayes"] = rl2["streams_mean"] / bayes["held_out_streams_mean"]
        summary["quick_budget"]["rl2_updates"] = args.quick_rl2_updates
        summary["quick_budget"]["rl2_recipe"] = bandit_recipe()
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    summary["cpu_seconds"] = round(time.process_time(), 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
