"""Off-policy agents side by side with their peers, in one process, same recipes, same seeds.

    python benchmarks/offpolicy.py            # full: 5 seeds each (DQN CartPole 50k, TD3 + DDPG + SAC Pendulum
                                              # 20k, discrete SAC CartPole 50k)
    python benchmarks/offpolicy.py --quick    # 2 DQN seeds, 1 seed of TD3, SAC, discrete SAC
    python benchmarks/offpolicy.py --update-timing-only   # per TD3 and DQN update (eager, compiled), per DQN act
    python benchmarks/offpolicy.py --agents dqn --seeds 10 --libs rlsuite   # DQN CartPole seeds 0-9, rlsuite only
    python benchmarks/offpolicy.py --quick --agents sac --steps 2000        # SAC only, a shortened budget
    python benchmarks/offpolicy.py --quick --agents dqn,td3 --cores 1   # one core for every library (JAX included)
    python benchmarks/offpolicy.py --quick --agents dqn --libs rlsuite,rlsuite-torch-acting   # what numba_acting buys

Libraries (``--libs``, default every one): rlsuite and the peers of ``peers.py`` (SB3, SBX, Tianshou,
TorchRL, CleanRL); a peer that is not installed (``pip install .[peers]``), cannot run here, or lacks
the algorithm is recorded as skipped with its reason. Hyperparameters are rl-zoo3's, read from
``configs/env/<env>.yaml`` (``hparams.<agent>``; discrete SAC: the CartPole recipe of ``agent=sac``)
and handed to every library. By default torch runs one thread and JAX one XLA thread; JAX still
dispatches asynchronously and runs independent parts of an update side by side, so SBX uses about 1.7
cores of CPU time per second of wall on 2 cores. ``--cores 1`` pins the process to one core (the
same CPU for every library), ``--threads N`` gives torch N threads. They run one after
another per seed (so background load hits all alike), from the same seeds; wall time covers
construction + ``learn`` (for SBX that includes JAX's compilation on the process's first model of
each algorithm: what a user sees; later seeds in the same process reuse it), steps/s the learn call
only. Evaluation is the same loop for all: greedy actions, ``--eval-episodes`` episodes reset with
seeds 1000, 1001, ... A CartPole seed counts as solved at a mean ≥ 475, a Pendulum seed at ≥ −200.
``--precisions float32,bfloat16`` also times rlsuite TD3 with bf16 autocast updates.
The last line printed is one JSON object with the summary, the versions and the ratios
``<agent>_<env>_wall_vs_<peer>`` (rlsuite's wall over the peer's; below 1 is faster).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml

import rlsuite

try:
    from . import peers
    from .common import evaluate_greedy
except ImportError:  # run as a script: python benchmarks/<name>.py
    import peers  # type: ignore[no-redef]
    from common import evaluate_greedy

CONFIGS = Path(rlsuite.__file__).resolve().parent.parent / "configs" / "env"
TASKS = {  # agent -> (env id, steps, solved threshold)
    "dqn": ("CartPole-v1", 50_000, 475.0),
    "td3": ("Pendulum-v1", 20_000, -200.0),
    "ddpg": ("Pendulum-v1", 20_000, -200.0),
    "sac": ("Pendulum-v1", 20_000, -200.0),
    "sac_discrete": ("CartPole-v1", 50_000, 475.0),  # rlsuite's agent=sac on a discrete env
}
# per seed in this order; a peer not installed is skipped
LIBS = "sb3,sbx,tianshou,torchrl,cleanrl,rlsuite,rlsuite-compiled,rlsuite-eager"
COMPILED_AGENTS = ("dqn", "td3", "ddpg")  # the agents with runtime.compiled_update (DQN's default may compile)
RLSUITE_LIBS = ("rlsuite", "rlsuite-compiled", "rlsuite-eager", "rlsuite-torch-acting")
# rlsuite with runtime.compiled_update forced on / off (the defaults compile where the budget repays it)
VARIANTS = {"rlsuite-compiled": "compiled", "rlsuite-eager": "eager"}


# rl-zoo3 dqn.yml CartPole-v1 as published: the env config's own recipe departs from it (3-step
# returns, which SB3 lacks, and 64 updates per round), so the like-for-like comparison pins it here.
ZOO_DQN_CARTPOLE = dict(lr=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
                        target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
                        exploration_final_eps=0.04, net={"widths": [256, 256]})


def zoo_hparams(agent: str, env_id: str) -> dict[str, Any]:
    if agent == "dqn" and env_id == "CartPole-v1":
        return dict(ZOO_DQN_CARTPOLE)
    recipes = yaml.safe_load((CONFIGS / f"{env_id}.yaml").read_text())["hparams"]
    hp = dict(recipes["sac" if agent == "sac_discrete" else agent])
    hp.pop("total_steps", None)  # the recipe's budget; TASKS fixes the steps this benchmark runs
    if agent == "sac_discrete":  # the SAC agent's defaults, spelled out for the peers
        hp = {"gamma": 0.99, "gradient_steps": 1, "tau": 0.005, **hp}
    return hp


def sb3_model(agent: str, env_id: str, hp: dict[str, Any], seed: int) -> Any:
    """The SB3 model with the same zoo hyperparameters (SB3 names), untrained (for the update timing)."""
    from stable_baselines3 import TD3
    from stable_baselines3.common.noise import NormalActionNoise

    assert agent == "td3", "the update timing compares TD3 only"
    env = gym.make(env_id)
    n_actions = env.action_space.shape[0]
    return TD3("MlpPolicy", env, learning_rate=hp["lr"], buffer_size=hp["buffer_size"],
               learning_starts=hp["learning_starts"], batch_size=hp["batch_size"], gamma=hp["gamma"],
               train_freq=hp["train_freq"], gradient_steps=hp["gradient_steps"], tau=hp.get("tau", 0.005),
               policy_kwargs=dict(net_arch=peers.widths(hp)), seed=seed, device="cpu", verbose=0,
               action_noise=NormalActionNoise(np.zeros(n_actions), hp["noise_std"] * np.ones(n_actions)))


def run_one(lib: str, agent: str, seed: int, eval_episodes: int, precision: str = "float32",
            steps_override: int | None = None) -> dict[str, Any]:
    """One library's run of ``agent``'s task: construction + learn timed, then the shared greedy evaluation.
    ``rlsuite-compiled`` / ``rlsuite-eager`` is rlsuite with ``runtime.compiled_update`` true / false (DQN,
    DDPG/TD3; the defaults compile DQN where its budget repays it), ``rlsuite-torch-acting``
    DQN with ``runtime.numba_acting=false`` (its greedy actions from the torch network). A peer that is
    skipped (not installed, cannot run, lacks the algorithm) gives a row with ``skipped``."""
    env_id, steps, solved_at = TASKS[agent]
    steps = steps_override or steps
    hp = zoo_hparams(agent, env_id)
    base = {"lib": lib, "agent": agent, "env": env_id, "seed": seed, "steps": steps}
    if lib in peers.PEERS:
        reason = peers.PEERS[lib].skip_reason(agent)
        if reason:
            print(json.dumps({**base, "skipped": reason}), flush=True)
            return {**base, "skipped": reason}
    torch.manual_seed(seed)
    c0 = time.process_time()
    if lib in RLSUITE_LIBS:
        runtime: dict[str, Any] = {"precision": precision} if agent in ("ddpg", "td3") else {}
        if lib in VARIANTS:
            runtime["compiled_update"] = lib == "rlsuite-compiled"
        if lib == "rlsuite-torch-acting":
            runtime["numba_acting"] = False
        name = "sac" if agent == "sac_discrete" else agent
        t0 = time.perf_counter()
        model = rlsuite.make_agent(name, env=env_id, tuned=False, seed=seed, device="cpu", runtime=runtime, **hp)
        t1 = time.perf_counter()
        model.learn(steps)
        act, build_s, learn_s = model.act, t1 - t0, time.perf_counter() - t1
    else:
        trained = peers.train(lib, agent, env_id, hp, seed, steps)
        act, build_s, learn_s = trained.act, trained.build_s, trained.learn_s
    cpu = time.process_time() - c0
    wall = build_s + learn_s
    returns = evaluate_greedy(act, env_id, eval_episodes)
    label = lib if lib != "rlsuite" or agent not in ("ddpg", "td3") or precision == "float32" else f"{lib}-{precision}"
    row = {**base, "lib": label, "wall_s": round(wall, 2), "learn_s": round(learn_s, 2), "cpu_s": round(cpu, 2),
           "sps": round(steps / learn_s, 1), "eval_mean": round(float(returns.mean()), 2),
           "eval_std": round(float(returns.std()), 2), "solved": bool(returns.mean() >= solved_at)}
    print(json.dumps(row), flush=True)
    return row


def update_timing(blocks: int = 5, per_block: int = 50) -> dict[str, float]:
    """Milliseconds per TD3 gradient update (zoo Pendulum settings: batch 256, [400, 300]) for SB3
    and rlsuite (float32, bfloat16), interleaved block by block so load from other processes falls on
    all alike. End-to-end runs measure the same thing plus env steps; this isolates the update."""
    from rlsuite.buffers import to_torch

    hp = {**zoo_hparams("td3", "Pendulum-v1"), "learning_starts": 300}
    sb3 = sb3_model("td3", "Pendulum-v1", hp, seed=0)
    sb3.learn(400)
    ours = {p: rlsuite.make_agent("td3", env="Pendulum-v1", tuned=False, seed=0, device="cpu", **hp,
                                  runtime={"precision": p})
            for p in ("float32", "bfloat16")}
    ours["compiled"] = rlsuite.make_agent("td3", env="Pendulum-v1", tuned=False, seed=0, device="cpu", **hp,
                                          runtime={"compiled_update": True})
    for agent in ours.values():
        agent.learn(400)
    totals = {"sb3": 0.0, **dict.fromkeys(ours, 0.0)}
    for _ in range(blocks):
        t = time.perf_counter()
        sb3.train(gradient_steps=per_block, batch_size=hp["batch_size"])
        totals["sb3"] += time.perf_counter() - t
        for precision, agent in ours.items():
            t = time.perf_counter()
            for _ in range(per_block):
                agent.update(to_torch(agent.buffer.sample(hp["batch_size"])))
            totals[precision] += time.perf_counter() - t
    n = blocks * per_block
    out = {f"td3_update_ms_{k}": round(v / n * 1e3, 3) for k, v in totals.items()}
    out["td3_update_fp32_vs_sb3"] = round(totals["float32"] / totals["sb3"], 3)
    out["td3_update_bf16_vs_sb3"] = round(totals["bfloat16"] / totals["sb3"], 3)
    out["td3_update_compiled_vs_sb3"] = round(totals["compiled"] / totals["sb3"], 3)
    out["td3_update_compiled_vs_eager"] = round(totals["compiled"] / totals["float32"], 3)
    print(json.dumps(out), flush=True)
    return out


def train_round(agent: Any, n_updates: int) -> None:
    """``n_updates`` gradient steps of a DQN agent, as its training loop takes them (guard and logging)."""
    agent.finish_update(agent.update(n_updates))


def dqn_update_timing(blocks: int = 5, per_block: int = 100) -> dict[str, float]:
    """Milliseconds per DQN gradient update (zoo CartPole: batch 64, [256, 256], Adam, clipping), eager
    vs compiled, interleaved block by block; plus the compile time of the compiled agent's first round."""
    hp = {**ZOO_DQN_CARTPOLE, "learning_starts": 256, "train_freq": 256, "gradient_steps": 1}
    agents = {}
    for name, compiled in (("eager", False), ("compiled", True)):
        agents[name] = rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, seed=0, device="cpu", **hp,
                                          runtime={"compiled_update": compiled})
        agents[name].learn(300)  # fills the buffer past learning_starts, no update yet
    t = time.perf_counter()
    train_round(agents["compiled"], 1)
    compile_s = time.perf_counter() - t
    train_round(agents["eager"], 1)
    totals = dict.fromkeys(agents, 0.0)
    for _ in range(blocks):
        for name, agent in agents.items():
            t = time.perf_counter()
            train_round(agent, per_block)
            totals[name] += time.perf_counter() - t
    n = blocks * per_block
    out = {f"dqn_update_ms_{k}": round(v / n * 1e3, 3) for k, v in totals.items()}
    out["dqn_update_compiled_vs_eager"] = round(totals["compiled"] / totals["eager"], 3)
    out["dqn_first_compiled_update_s"] = round(compile_s, 1)
    print(json.dumps(out), flush=True)
    return out


def dqn_acting_timing(blocks: int = 5, per_block: int = 2000) -> dict[str, float]:
    """Microseconds per ε-greedy DQN step on one observation (zoo CartPole network [256, 256], ε 0.04):
    the compiled greedy action (runtime.numba_acting) vs the torch forward, interleaved block by block."""
    obs = np.random.default_rng(0).normal(size=(per_block, 1, 4)).astype(np.float32)
    agents = {name: rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, seed=0, device="cpu",
                                       **ZOO_DQN_CARTPOLE, runtime={"numba_acting": numba})
              for name, numba in (("numba", True), ("torch", False))}
    for agent in agents.values():  # first calls (Numba's compilation) outside the timing
        agent.epsilon_greedy(obs[0], 0.04)
    totals = dict.fromkeys(agents, 0.0)
    for _ in range(blocks):
        for name, agent in agents.items():
            t = time.perf_counter()
            for row in obs:
                agent.epsilon_greedy(row, 0.04)
            totals[name] += time.perf_counter() - t
    n = blocks * per_block
    out = {f"dqn_acting_us_{k}": round(v / n * 1e6, 1) for k, v in totals.items()}
    out["dqn_acting_numba_speedup"] = round(totals["torch"] / totals["numba"], 2)
    print(json.dumps(out), flush=True)
    return out


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (agent, library): seeds solved, eval mean over seeds, wall per seed, steps/s, and the
    wall ratio library / SB3 (skipped libraries keep their reason)."""
    out = []
    for agent in TASKS:
        sb3_wall = [r["wall_s"] for r in rows if r["agent"] == agent and r["lib"] == "sb3" and "skipped" not in r]
        for lib in dict.fromkeys(r["lib"] for r in rows if r["agent"] == agent):
            mine = [r for r in rows if r["agent"] == agent and r["lib"] == lib]
            line: dict[str, Any] = {"agent": agent, "lib": lib, "env": mine[0]["env"], "steps": mine[0]["steps"]}
            if "skipped" in mine[0]:
                out.append({**line, "skipped": mine[0]["skipped"]})
                continue
            means = np.array([r["eval_mean"] for r in mine])
            walls = np.array([r["wall_s"] for r in mine])
            out.append({**line, "seeds": len(mine), "solved": sum(r["solved"] for r in mine),
                        "mean": round(float(means.mean()), 1), "std": round(float(means.std()), 1),
                        "wall_s": round(float(walls.mean()), 1), "walls": [r["wall_s"] for r in mine],
                        "cpus": [r["cpu_s"] for r in mine],
                        "sps": round(float(np.median([r["sps"] for r in mine])), 1),
                        "wall_vs_sb3": round(float(walls.sum() / sum(sb3_wall)), 3) if sb3_wall else None})
    return out


def markdown(summary: list[dict[str, Any]]) -> str:
    lines = ["| agent | library | env, steps | seeds solved | eval mean ± std over seeds | wall s / seed | steps/s "
             "| vs SB3 |", "|---|---|---|---|---|---|---|---|"]
    for s in summary:
        head = f"| {s['agent']} | {s['lib']} | {s['env']}, {s['steps'] // 1000}k "
        if "skipped" in s:
            lines.append(head + f"| skipped: {s['skipped']} | | | | |")
            continue
        lines.append(head + f"| {s['solved']}/{s['seeds']} | {s['mean']} ± {s['std']} | {s['wall_s']} | {s['sps']} "
                     f"| {s['wall_vs_sb3']}× |")
    return "\n".join(lines)


def ratios(summary: list[dict[str, Any]]) -> dict[str, Any]:
    """``<agent>_<env>_wall_vs_<peer>``: rlsuite's total wall over the peer's (same seeds, run alternately),
    ``..._cpu_vs_<peer>`` the same for this process's CPU time (less sensitive to other processes), with
    each side's solved count and mean return (``..._mean_<lib>``, ``..._solved_<lib>``);
    ``..._compiled_wall_vs_<peer>`` / ``..._eager_wall_vs_<peer>`` the same for rlsuite with
    ``runtime.compiled_update`` true / false, and ``..._<variant>_wall_vs_defaults`` against the defaults."""
    out: dict[str, Any] = {}
    pick = {(s["agent"], s["lib"]): s for s in summary if "skipped" not in s}
    for agent, (env_id, *_rest) in TASKS.items():
        key = f"{agent}_{env_id.split('-')[0].lower()}"
        for variant_lib, variant in VARIANTS.items():  # runtime.compiled_update forced, against each peer
            forced = pick.get((agent, variant_lib))
            for lib in peers.PEERS if forced is not None else ():
                theirs = pick.get((agent, lib))
                if theirs is not None:
                    out[f"{key}_{variant}_wall_vs_{lib}"] = round(sum(forced["walls"]) / sum(theirs["walls"]), 3)
                    out[f"{key}_{variant}_cpu_vs_{lib}"] = round(sum(forced["cpus"]) / sum(theirs["cpus"]), 3)
        ours = pick.get((agent, "rlsuite"))
        if ours is None:
            continue
        out.update({f"{key}_mean": ours["mean"], f"{key}_solved": ours["solved"], f"{key}_seeds": ours["seeds"]})
        for lib in peers.PEERS:
            theirs = pick.get((agent, lib))
            if theirs is not None:
                out[f"{key}_wall_vs_{lib}"] = round(sum(ours["walls"]) / sum(theirs["walls"]), 3)
                out[f"{key}_cpu_vs_{lib}"] = round(sum(ours["cpus"]) / sum(theirs["cpus"]), 3)
                out[f"{key}_mean_{lib}"], out[f"{key}_solved_{lib}"] = theirs["mean"], theirs["solved"]
        for variant_lib, variant in VARIANTS.items():  # against the defaults, same seeds
            forced = pick.get((agent, variant_lib))
            if forced is not None:
                out.update({f"{key}_{variant}_mean": forced["mean"], f"{key}_{variant}_solved": forced["solved"],
                            f"{key}_{variant}_wall_vs_defaults": round(sum(forced["walls"]) / sum(ours["walls"]), 3)})
        torch_acting = pick.get((agent, "rlsuite-torch-acting"))
        if torch_acting is not None:  # what the compiled greedy action buys, same seeds
            out[f"{key}_numba_acting_speedup"] = round(sum(torch_acting["walls"]) / sum(ours["walls"]), 3)
        bf16 = pick.get((agent, "rlsuite-bfloat16"))
        if bf16 is not None:
            out.update({f"{agent}_bf16_{key.split('_', 1)[1]}_mean": bf16["mean"],
                        f"{agent}_bf16_{key.split('_', 1)[1]}_wall_vs_sb3": bf16["wall_vs_sb3"]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 DQN seeds, 1 seed of the others (within --agents)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--agents", default="dqn,td3,ddpg,sac,sac_discrete")
    parser.add_argument("--steps", type=int, default=None, help="override every task's env steps (a shorter check)")
    parser.add_argument("--libs", default=LIBS, help="which libraries to run (comma-separated, in this order per "
                        "seed; rlsuite-compiled / rlsuite-eager: runtime.compiled_update=true / false; "
                        "rlsuite-torch-acting: DQN with "
                        "runtime.numba_acting=false)")
    parser.add_argument("--json", default=None, help="also write the summary JSON to this path")
    parser.add_argument("--precisions", default="float32,bfloat16", help="rlsuite TD3 update precisions to time")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--update-timing-only", action="store_true", help="only the interleaved TD3 update timing")
    parser.add_argument("--no-update-timing", action="store_true", help="skip the interleaved TD3 update timing")
    parser.add_argument("--cores", type=int, default=None,
                        help="pin the whole process to this many CPU cores (1: one core per library; JAX's "
                             "runtime otherwise overlaps its work on a second core even with one XLA thread)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for rlsuite and the torch peers (JAX keeps its one XLA thread)")
    args = parser.parse_args()
    if args.threads < 1:
        parser.error(f"--threads {args.threads}: give 1 or more")
    try:
        cores = peers.pin_to_cores(args.cores) if args.cores else None
    except ValueError as error:
        parser.error(str(error))
    torch.set_num_threads(args.threads)
    agents = args.agents.split(",")
    unknown = sorted(set(agents) - set(TASKS))
    libs = args.libs.split(",")
    bad_libs = sorted(set(libs) - set(peers.PEERS) - set(RLSUITE_LIBS))
    if unknown or bad_libs:
        parser.error(f"unknown {'agents ' + ','.join(unknown) if unknown else 'libs ' + ','.join(bad_libs)}")
    seeds = {a: list(range(args.seeds)) for a in agents}
    if args.quick:
        quick = {"dqn": [0, 1], "td3": [0], "sac": [0], "sac_discrete": [0]}
        seeds = {a: quick[a] for a in agents if a in quick}
    t_start = time.perf_counter()
    wants_timing = "td3" in seeds and "sb3" in libs and not args.no_update_timing
    timing = update_timing() if args.update_timing_only or wants_timing else {}
    if args.update_timing_only or ("dqn" in seeds and "rlsuite-compiled" in libs and not args.no_update_timing):
        timing.update(dqn_update_timing())
        timing.update(dqn_acting_timing())
    if args.update_timing_only:
        print(json.dumps(timing))
        return
    rows: list[dict[str, Any]] = []
    for agent, agent_seeds in seeds.items():
        precisions = args.precisions.split(",") if agent == "td3" else ["float32"]
        for seed in agent_seeds:
            for lib in libs:
                if (lib in VARIANTS and agent not in COMPILED_AGENTS) or \
                        (lib == "rlsuite-eager" and agent != "dqn") or \
                        (lib == "rlsuite-torch-acting" and agent != "dqn"):
                    continue
                for precision in precisions if lib == "rlsuite" else ["float32"]:
                    rows.append(run_one(lib, agent, seed, args.eval_episodes, precision, args.steps))
    summary = summarize(rows)
    print(markdown(summary))
    result: dict[str, Any] = {"mode": "quick" if args.quick else "full", "cores": cores, "torch_threads": args.threads,
                              "total_wall_s": round(time.perf_counter() - t_start, 1),
                              "versions": {"torch": torch.__version__, **peers.versions([lib for lib in libs
                                                                                        if lib in peers.PEERS])},
                              "summary": summary, **timing, **ratios(summary)}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
