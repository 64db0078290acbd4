"""On-policy agents vs Stable-Baselines3 / sb3-contrib and the other peers, side by side in one process.

Each row trains rlsuite's agent and SB3's with identical (rl-baselines3-zoo) hyperparameters on the
same seeds, alternating ours / SB3 per seed so both see the same machine load, single-threaded
torch on CPU. Reported per row: greedy evaluation mean ± std over seeds (20 episodes each, seeds
1000..1019), training steps/s (learn() wall time only) and the steps/s ratio ours / SB3.

    python benchmarks/onpolicy.py --quick          # PPO, A2C, TRPO on CartPole, 2 seeds (< 10 min)
    python benchmarks/onpolicy.py                  # + PPO LunarLander-v3 and Pendulum-v1, 5 seeds
    python benchmarks/onpolicy.py --rows ppo_pendulum --seeds 0 1 2
    python benchmarks/onpolicy.py --quick --rows ppo_cartpole --cores 1   # one core for every library

The PPO rows also run the peers of ``peers.py`` (``--peers``, default SBX, Tianshou, TorchRL, CleanRL)
after SB3 on every seed, from the same recipe; a peer not installed (``pip install .[peers]``), unable
to run here, or without the row's action space is recorded as ``<row>_<peer>_skipped``. Reported per
peer: ``<row>_<peer>_sps``, ``<row>_<peer>_mean``, ``<row>_sps_vs_<peer>``, and the fastest peer
(SB3 included) as ``<row>_best_peer`` with ``<row>_sps_vs_best_peer``. The defaults compile PPO's
minibatch step where the budget repays it (the CartPole row's does). ``--compiled`` / ``--eager`` also
run rlsuite's PPO with ``runtime.compiled_update`` true / false after the defaults on every seed (a
compilation inside the timed ``learn``), reported as ``<row>_compiled_sps`` / ``<row>_eager_sps``,
``..._sps_vs_best_peer`` and the other ratios with ``_compiled`` / ``_eager`` in their names
(``--eager`` is on with ``--quick``).

SB3's zoo entry for Pendulum uses gSDE, which rlsuite does not have: both sides run it without
(``use_sde=False``), so the configs stay identical. The last line printed is one JSON object.

``--switches`` measures what each speed switch of the on-policy agents buys instead: rlsuite alone,
per seed the defaults and then each switch off in turn (``runtime.numba_acting=false``,
``runtime.fused_optimizer=false``, ``runtime.flat_parameters=false``), back to back; reported is the
median over seeds of steps/s(on) ÷ steps/s(off).

    python benchmarks/onpolicy.py --switches --rows ppo_cartpole a2c_cartpole trpo_cartpole
    python benchmarks/onpolicy.py --switches flat_parameters --rows ppo_cartpole --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import rlsuite

try:
    from . import peers
    from .common import CLOCKS, evaluate_greedy, sb3_greedy
except ImportError:  # run as a script: python benchmarks/<name>.py
    import peers  # type: ignore[no-redef]
    from common import CLOCKS, evaluate_greedy, sb3_greedy


def lin(value: float) -> Callable[[float], float]:
    return lambda progress_remaining: progress_remaining * value


# name: (env, steps, rlsuite agent, rlsuite hparams, sb3 class path, sb3 kwargs, n_envs)
ROWS: dict[str, tuple[str, int, str, dict[str, Any], str, dict[str, Any], int]] = {
    "ppo_cartpole": ("CartPole-v1", 100_000, "ppo",
                     dict(n_envs=8, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
                          lr=1e-3, anneal_lr=True, clip_range=0.2, anneal_clip=True),
                     "stable_baselines3:PPO",
                     dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
                          learning_rate=lin(1e-3), clip_range=lin(0.2)), 8),
    "a2c_cartpole": ("CartPole-v1", 500_000, "a2c", dict(n_envs=8, ent_coef=0.0),
                     "stable_baselines3:A2C", dict(ent_coef=0.0), 8),
    "trpo_cartpole": ("CartPole-v1", 100_000, "trpo",
                      dict(n_envs=2, n_steps=512, critic_batch_size=512, cg_damping=1e-3, gae_lambda=0.98, gamma=0.99,
                           critic_lr=1e-3, critic_epochs=20),
                      "sb3_contrib:TRPO",
                      dict(n_steps=512, batch_size=512, cg_damping=1e-3, gae_lambda=0.98, gamma=0.99,
                           learning_rate=1e-3, n_critic_updates=20), 2),
    "ppo_lunarlander": ("LunarLander-v3", 1_000_000, "ppo",
                        dict(n_envs=16, n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4,
                             ent_coef=0.01),
                        "stable_baselines3:PPO",
                        dict(n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4, ent_coef=0.01), 16),
    "ppo_pendulum": ("Pendulum-v1", 100_000, "ppo",
                     dict(n_envs=4, n_steps=1024, batch_size=64, gae_lambda=0.95, gamma=0.9, n_epochs=10, ent_coef=0.0,
                          lr=1e-3, clip_range=0.2),
                     "stable_baselines3:PPO",
                     dict(n_steps=1024, batch_size=64, gae_lambda=0.95, gamma=0.9, n_epochs=10, ent_coef=0.0,
                          learning_rate=1e-3, clip_range=0.2, use_sde=False), 4),
}
QUICK_ROWS = ["ppo_cartpole", "a2c_cartpole", "trpo_cartpole"]


# Seconds for steps/s: wall time by default; ``--clock cpu`` takes this process's CPU time instead,
# which other processes competing for the cores inflate far less (everything here is single-threaded
# and in-process: torch, Numba, the vector envs of both libraries).
clock = CLOCKS["wall"]

# The on-policy speed switches: each off in turn against the defaults (all on).
SWITCHES = ("numba_acting", "fused_optimizer", "flat_parameters")


def run_ours(row: str, seed: int, **overrides: Any) -> tuple[float, float]:
    env_id, steps, agent_name, hparams, *_ = ROWS[row]
    agent = rlsuite.make_agent(agent_name, env=env_id, tuned=False, seed=seed, device="cpu", **{**hparams, **overrides})
    t0 = clock()
    agent.learn(steps)
    sps = steps / (clock() - t0)
    mean = rlsuite.evaluate(agent, episodes=20, seed=1000).mean
    agent.close()
    return float(mean), sps


def run_sb3(row: str, seed: int) -> tuple[float, float]:
    import importlib

    from stable_baselines3.common.env_util import make_vec_env

    env_id, steps, _, _, cls_path, kwargs, n_envs = ROWS[row]
    module, cls_name = cls_path.split(":")
    cls = getattr(importlib.import_module(module), cls_name)
    env = make_vec_env(env_id, n_envs=n_envs, seed=seed)
    model = cls("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **kwargs)
    t0 = clock()
    model.learn(steps)
    sps = steps / (clock() - t0)
    mean = float(np.mean(evaluate_greedy(sb3_greedy(model), env_id)))
    env.close()
    return mean, sps


# Peers beside SB3 on the PPO rows (benchmarks/peers.py), same recipe in rlsuite's key names; each
# skipped with its reason when not installed, unable to run here, or without the row's action space.
PEERS = "sbx,tianshou,torchrl,cleanrl"


def run_peer(peer: str, row: str, seed: int) -> tuple[float, float] | str:
    """(greedy mean, learn steps/s) of ``peer`` on ``row``, or the reason it is skipped."""
    env_id, steps, agent_name, hparams, *_ = ROWS[row]
    reason = peers.PEERS[peer].skip_reason(agent_name)
    if reason:
        return reason
    try:
        trained = peers.train(peer, agent_name, env_id, hparams, seed, steps)
    except LookupError as err:  # the adapter does not cover this row (e.g. continuous actions)
        return str(err).split(": ", 1)[-1]
    mean = float(np.mean(evaluate_greedy(trained.act, env_id)))
    return mean, steps / trained.learn_s


def summarize(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def run_switches(rows: list[str], seeds: list[int], clock_name: str, switches: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {"seeds": seeds, "torch_threads": torch.get_num_threads(), "clock": clock_name}
    print(f"{'row':16s} {'switch off':16s} {'on sps':>9s} {'off sps':>9s} {'on/off':>7s} {'on mean':>8s} "
          f"{'off mean':>8s}", flush=True)
    for row in rows:
        for switch in switches:
            on_sps, off_sps, on_means, off_means = [], [], [], []
            for seed in seeds:
                m, s = run_ours(row, seed)
                on_means.append(m)
                on_sps.append(s)
                m, s = run_ours(row, seed, runtime={switch: False})
                off_means.append(m)
                off_sps.append(s)
                print(f"  {row} {switch}=false seed {seed}: on {on_means[-1]:.1f} @ {on_sps[-1]:.0f} sps | "
                      f"off {m:.1f} @ {s:.0f} sps", flush=True)
            key = f"{row}_{switch}"
            result[f"{key}_on_sps"] = statistics.median(on_sps)
            result[f"{key}_off_sps"] = statistics.median(off_sps)
            result[f"{key}_speedup"] = statistics.median(a / b for a, b in zip(on_sps, off_sps))
            result[f"{key}_on_mean"], result[f"{key}_off_mean"] = float(np.mean(on_means)), float(np.mean(off_means))
            print(f"{row:16s} {switch:16s} {result[f'{key}_on_sps']:9.0f} {result[f'{key}_off_sps']:9.0f} "
                  f"{result[f'{key}_speedup']:7.2f} {result[f'{key}_on_mean']:8.1f} {result[f'{key}_off_mean']:8.1f}",
                  flush=True)
    return result


def record_peers(result: dict[str, Any], row: str, ours_sps: list[float],
                 runs: dict[str, list[tuple[float, float]]]) -> None:
    """Per peer: mean return, median steps/s and ours ÷ theirs (per seed, then the median); then the
    fastest peer by median steps/s and ``<row>_sps_vs_best_peer`` against it."""
    for peer, pairs in runs.items():
        if not pairs or peer == "sb3":  # SB3's keys are written below, as before
            continue
        result[f"{row}_{peer}_mean"] = float(np.mean([m for m, _ in pairs]))
        result[f"{row}_{peer}_sps"] = statistics.median(s for _, s in pairs)
        result[f"{row}_sps_vs_{peer}"] = statistics.median(o / s for o, (_, s) in zip(ours_sps, pairs))
    ran = {peer: statistics.median(s for _, s in pairs) for peer, pairs in runs.items() if pairs}
    if ran:
        best = max(ran, key=ran.__getitem__)
        result[f"{row}_best_peer"] = best
        result[f"{row}_sps_vs_best_peer"] = statistics.median(o / s for o, (_, s) in zip(ours_sps, runs[best]))


def record_variant(result: dict[str, Any], row: str, variant: str, variant_runs: list[tuple[float, float]],
                   runs: dict[str, list[tuple[float, float]]]) -> None:
    """``<row>_<variant>_*``: rlsuite with ``runtime.compiled_update`` forced (``compiled``: true, its
    compilation inside the timed ``learn``; ``eager``: false) against the same peers, as
    :func:`record_peers` does for the defaults."""
    sps = [s for _, s in variant_runs]
    sub: dict[str, Any] = {}
    record_peers(sub, row, sps, runs)
    result[f"{row}_{variant}_mean"] = float(np.mean([m for m, _ in variant_runs]))
    result[f"{row}_{variant}_sps"] = statistics.median(sps)
    for key in ("sps_vs_best_peer", "best_peer", *(f"sps_vs_{peer}" for peer in runs)):
        if f"{row}_{key}" in sub:
            result[f"{row}_{variant}_{key}"] = sub[f"{row}_{key}"]
    sb3 = runs.get("sb3")
    if sb3:
        result[f"{row}_{variant}_sps_vs_sb3"] = statistics.median(o / s for o, (_, s) in zip(sps, sb3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CartPole rows, 2 seeds")
    parser.add_argument("--rows", nargs="*", default=None, choices=sorted(ROWS))
    parser.add_argument("--seeds", nargs="*", type=int, default=None)
    parser.add_argument("--no-sb3", action="store_true", help="only rlsuite (no ratios)")
    parser.add_argument("--peers", default=PEERS, help="peers beside SB3 on the PPO rows (comma-separated; '' none)")
    parser.add_argument("--switches", nargs="*", choices=SWITCHES, default=None,
                        help="each speed switch (default: all) off vs on (rlsuite only)")
    parser.add_argument("--compiled", action="store_true",
                        help="also run rlsuite's PPO with runtime.compiled_update=true (keys <row>_compiled_*)")
    parser.add_argument("--eager", action="store_true",
                        help="also run rlsuite's PPO with runtime.compiled_update=false (keys <row>_eager_*; "
                             "on with --quick)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="steps/s from wall time or from this process's CPU time (for a busy machine)")
    parser.add_argument("--cores", type=int, default=None,
                        help="pin the process to this many CPU cores (1: one core for every library, JAX included)")
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    try:
        cores = peers.pin_to_cores(args.cores) if args.cores else None
    except ValueError as error:
        parser.error(str(error))
    torch.set_num_threads(1)
    rows = args.rows or (QUICK_ROWS if args.quick else list(ROWS))
    args.eager = args.eager or args.quick
    variants = {"compiled": True} if args.compiled else {}
    if args.eager:
        variants["eager"] = False
    seeds = args.seeds if args.seeds is not None else ([0, 1] if args.quick else [0, 1, 2, 3, 4])
    if args.switches is not None:
        print(json.dumps(run_switches(rows, seeds, args.clock, args.switches or list(SWITCHES))))
        return

    result: dict[str, Any] = {"seeds": seeds, "torch_threads": torch.get_num_threads(), "clock": args.clock,
                              "cores": cores}
    print(f"{'row':16s} {'steps':>8s} {'ours mean±std':>16s} {'sb3 mean±std':>16s} {'ours sps':>9s} "
          f"{'sb3 sps':>9s} {'ratio':>6s}", flush=True)
    peer_names = [p for p in args.peers.split(",") if p]
    named = (["sb3"] if not args.no_sb3 else []) + peer_names
    result["versions"] = {"torch": torch.__version__, **peers.versions(named)}
    for row in rows:
        ours_means, ours_sps, sb3_means, sb3_sps = [], [], [], []
        variant_runs: dict[str, list[tuple[float, float]]] = {variant: [] for variant in variants}
        peer_runs: dict[str, list[tuple[float, float]]] = {}
        for seed in seeds:
            m, s = run_ours(row, seed)
            ours_means.append(m)
            ours_sps.append(s)
            line = f"  {row} seed {seed}: ours {m:.1f} @ {s:.0f} sps"
            for variant, compiled in variants.items() if ROWS[row][2] == "ppo" else ():
                variant_runs[variant].append(run_ours(row, seed, runtime={"compiled_update": compiled}))
                line += f" | ours {variant} {variant_runs[variant][-1][0]:.1f} @ {variant_runs[variant][-1][1]:.0f} sps"
            if not args.no_sb3:
                m, s = run_sb3(row, seed)
                sb3_means.append(m)
                sb3_sps.append(s)
                line += f" | sb3 {m:.1f} @ {s:.0f} sps"
            for peer in peer_names if ROWS[row][2] == "ppo" else []:
                outcome = run_peer(peer, row, seed)
                if isinstance(outcome, str):
                    result[f"{row}_{peer}_skipped"] = outcome
                    continue
                peer_runs.setdefault(peer, []).append(outcome)
                line += f" | {peer} {outcome[0]:.1f} @ {outcome[1]:.0f} sps"
            print(line, flush=True)
        record_peers(result, row, ours_sps, {"sb3": list(zip(sb3_means, sb3_sps)), **peer_runs})
        for variant, done in variant_runs.items():
            if done:
                record_variant(result, row, variant, done, {"sb3": list(zip(sb3_means, sb3_sps)), **peer_runs})
        mean, std = summarize(ours_means)
        result[f"{row}_mean"], result[f"{row}_std"] = mean, std
        result[f"{row}_sps"] = statistics.median(ours_sps)
        sb3_text, ratio_text = "-", "-"
        if sb3_means:
            sb3_mean, sb3_std = summarize(sb3_means)
            result[f"{row}_sb3_mean"], result[f"{row}_sb3_std"] = sb3_mean, sb3_std
            result[f"{row}_sb3_sps"] = statistics.median(sb3_sps)
            # Ratio per seed (same load for the pair), then the median over seeds.
            result[f"{row}_sps_vs_sb3"] = statistics.median(o / s for o, s in zip(ours_sps, sb3_sps))
            sb3_text = f"{sb3_mean:.1f}±{sb3_std:.1f}"
            ratio_text = f"{result[f'{row}_sps_vs_sb3']:.2f}"
        print(f"{row:16s} {ROWS[row][1]:8d} {f'{mean:.1f}±{std:.1f}':>16s} {sb3_text:>16s} "
              f"{result[f'{row}_sps']:9.0f} {result.get(f'{row}_sb3_sps', float('nan')):9.0f} {ratio_text:>6s}",
              flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
