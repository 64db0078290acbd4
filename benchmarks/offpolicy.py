"""Off-policy agents side by side with Stable-Baselines3, in one process, same hyperparameters.

    python benchmarks/offpolicy.py            # full: 5 seeds each (DQN CartPole 50k, TD3 + DDPG + SAC Pendulum 20k)
    python benchmarks/offpolicy.py --quick    # 2 DQN seeds, 1 TD3 seed, 1 SAC seed
    python benchmarks/offpolicy.py --update-timing-only   # ms per TD3 and DQN update, SB3 / eager / compiled
    python benchmarks/offpolicy.py --agents dqn --seeds 10 --libs rlsuite   # DQN CartPole seeds 0-9, rlsuite only
    python benchmarks/offpolicy.py --quick --agents sac --steps 2000        # SAC only, a shortened budget

Hyperparameters are rl-zoo3's, read from ``configs/env/<env>.yaml`` (``hparams.<agent>``) and
handed to both libraries. Both run single-threaded torch, sequentially (SB3 then rlsuite for each
seed, so background load hits both alike), from the same seeds; wall and CPU time (the fairer
measure on a shared machine) cover construction + ``learn``. Evaluation is the same loop for both:
greedy actions, ``--eval-episodes`` episodes reset with seeds 1000, 1001, ... A DQN seed counts
as solved at a mean ≥ 475, a Pendulum seed at ≥ −200. ``--precisions float32,bfloat16`` also times
rlsuite TD3 with bf16 autocast updates.
The last line printed is one JSON object with the summary.
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
    from .common import evaluate_greedy, sb3_greedy
except ImportError:  # run as a script: python benchmarks/<name>.py
    from common import evaluate_greedy, sb3_greedy

CONFIGS = Path(rlsuite.__file__).resolve().parent.parent / "configs" / "env"
TASKS = {  # agent -> (env id, steps, solved threshold)
    "dqn": ("CartPole-v1", 50_000, 475.0),
    "td3": ("Pendulum-v1", 20_000, -200.0),
    "ddpg": ("Pendulum-v1", 20_000, -200.0),
    "sac": ("Pendulum-v1", 20_000, -200.0),
}


# rl-zoo3 dqn.yml CartPole-v1 as published: the env config's own recipe departs from it (3-step
# returns, which SB3 lacks, and 64 updates per round), so the like-for-like comparison pins it here.
ZOO_DQN_CARTPOLE = dict(lr=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
                        target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
                        exploration_final_eps=0.04, net_arch=[256, 256])


def zoo_hparams(agent: str, env_id: str) -> dict[str, Any]:
    if agent == "dqn" and env_id == "CartPole-v1":
        return dict(ZOO_DQN_CARTPOLE)
    hp = dict(yaml.safe_load((CONFIGS / f"{env_id}.yaml").read_text())["hparams"][agent])
    hp.pop("total_steps", None)  # the recipe's budget; TASKS fixes the steps this benchmark runs
    return hp


def sb3_model(agent: str, env_id: str, hp: dict[str, Any], seed: int) -> Any:
    """The SB3 model with the same zoo hyperparameters (SB3 names)."""
    from stable_baselines3 import DDPG, DQN, SAC, TD3
    from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

    env = gym.make(env_id)
    common = dict(learning_rate=hp["lr"], buffer_size=hp["buffer_size"], learning_starts=hp["learning_starts"],
                  batch_size=hp["batch_size"], gamma=hp["gamma"], train_freq=hp["train_freq"],
                  gradient_steps=hp["gradient_steps"], policy_kwargs=dict(net_arch=list(hp["net_arch"])),
                  seed=seed, device="cpu", verbose=0)
    if agent == "dqn":
        return DQN("MlpPolicy", env, target_update_interval=hp["target_update_interval"],
                   exploration_fraction=hp["exploration_fraction"],
                   exploration_final_eps=hp["exploration_final_eps"], **common)
    if agent == "sac":  # automatic entropy tuning with SB3's default target −|A|, as rlsuite's
        return SAC("MlpPolicy", env, tau=hp.get("tau", 0.005), ent_coef="auto", **common)
    n_actions = env.action_space.shape[0]
    noise_cls = NormalActionNoise if hp.get("action_noise", "normal") == "normal" else OrnsteinUhlenbeckActionNoise
    noise = noise_cls(np.zeros(n_actions), hp["noise_std"] * np.ones(n_actions))
    cls = TD3 if agent == "td3" else DDPG
    return cls("MlpPolicy", env, tau=hp.get("tau", 0.005), action_noise=noise, **common)


def run_one(lib: str, agent: str, seed: int, eval_episodes: int, precision: str = "float32",
            steps_override: int | None = None) -> dict[str, Any]:
    """One seed of one library (``sb3``, ``rlsuite`` or ``rlsuite-compiled``), trained and evaluated."""
    env_id, steps, solved_at = TASKS[agent]
    steps = steps_override or steps
    hp = zoo_hparams(agent, env_id)
    torch.manual_seed(seed)
    t0, c0 = time.perf_counter(), time.process_time()
    if lib == "sb3":
        model = sb3_model(agent, env_id, hp, seed)
        model.learn(steps)
        act = sb3_greedy(model)
    else:
        extra: dict[str, Any] = {"precision": precision} if agent in ("ddpg", "td3") else {}
        if agent != "sac":
            extra["compiled_update"] = lib == "rlsuite-compiled"
        model = rlsuite.make_agent(agent, env=env_id, tuned=False, seed=seed, device="cpu", **hp, **extra)
        model.learn(steps)
        act = model.act
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    returns = evaluate_greedy(act, env_id, eval_episodes)
    label = lib if lib == "sb3" or agent in ("dqn", "sac") or precision == "float32" else f"{lib}-{precision}"
    row = {"lib": label, "agent": agent, "env": env_id, "seed": seed, "steps": steps, "wall_s": round(wall, 2),
           "cpu_s": round(cpu, 2), "eval_mean": round(float(returns.mean()), 2),
           "eval_std": round(float(returns.std()), 2),
           "solved": bool(returns.mean() >= solved_at)}
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
    ours = {p: rlsuite.make_agent("td3", env="Pendulum-v1", tuned=False, seed=0, device="cpu", **hp, precision=p)
            for p in ("float32", "bfloat16")}
    ours["compiled"] = rlsuite.make_agent("td3", env="Pendulum-v1", tuned=False, seed=0, device="cpu", **hp,
                                          compiled_update=True)
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


def dqn_update_timing(blocks: int = 5, per_block: int = 100) -> dict[str, float]:
    """Milliseconds per DQN gradient update (zoo CartPole: batch 64, [256, 256], Adam, clipping), eager
    vs compiled, interleaved block by block; plus the compile time of the compiled agent's first round."""
    hp = {**ZOO_DQN_CARTPOLE, "learning_starts": 256, "train_freq": 256, "gradient_steps": 1}
    agents = {}
    for name, compiled in (("eager", False), ("compiled", True)):
        agents[name] = rlsuite.make_agent("dqn", env="CartPole-v1", tuned=False, seed=0, device="cpu", **hp,
                                          compiled_update=compiled)
        agents[name].learn(300)  # fills the buffer past learning_starts, no update yet
    t = time.perf_counter()
    agents["compiled"].train(1)
    compile_s = time.perf_counter() - t
    agents["eager"].train(1)
    totals = dict.fromkeys(agents, 0.0)
    for _ in range(blocks):
        for name, agent in agents.items():
            t = time.perf_counter()
            agent.train(per_block)
            totals[name] += time.perf_counter() - t
    n = blocks * per_block
    out = {f"dqn_update_ms_{k}": round(v / n * 1e3, 3) for k, v in totals.items()}
    out["dqn_update_compiled_vs_eager"] = round(totals["compiled"] / totals["eager"], 3)
    out["dqn_first_compiled_update_s"] = round(compile_s, 1)
    print(json.dumps(out), flush=True)
    return out


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for agent in TASKS:
        sb3_wall = [r["wall_s"] for r in rows if r["agent"] == agent and r["lib"] == "sb3"]
        for lib in dict.fromkeys(r["lib"] for r in rows if r["agent"] == agent):
            mine = [r for r in rows if r["agent"] == agent and r["lib"] == lib]
            means = np.array([r["eval_mean"] for r in mine])
            walls = np.array([r["wall_s"] for r in mine])
            out.append({"agent": agent, "lib": lib, "env": mine[0]["env"], "steps": mine[0]["steps"],
                        "seeds": len(mine), "solved": sum(r["solved"] for r in mine),
                        "mean": round(float(means.mean()), 1), "std": round(float(means.std()), 1),
                        "wall_s": round(float(walls.mean()), 1),
                        "wall_vs_sb3": round(float(walls.sum() / sum(sb3_wall)), 3) if sb3_wall else None})
    return out


def markdown(summary: list[dict[str, Any]]) -> str:
    lines = ["| agent | library | env, steps | seeds solved | eval mean ± std over seeds | wall s / seed | vs SB3 |",
             "|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['agent']} | {s['lib']} | {s['env']}, {s['steps'] // 1000}k | {s['solved']}/{s['seeds']} "
                     f"| {s['mean']} ± {s['std']} | {s['wall_s']} | {s['wall_vs_sb3']}× |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 DQN seeds, 1 TD3, 1 SAC seed (within --agents)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--agents", default="dqn,td3,ddpg,sac")
    parser.add_argument("--steps", type=int, default=None, help="override every task's env steps (a shorter check)")
    parser.add_argument("--libs", default="sb3,rlsuite,rlsuite-compiled",
                        help="which libraries to run (comma-separated; rlsuite-compiled: compiled_update=true)")
    parser.add_argument("--json", default=None, help="also write the summary JSON to this path")
    parser.add_argument("--precisions", default="float32,bfloat16", help="rlsuite TD3 update precisions to time")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--update-timing-only", action="store_true", help="only the interleaved TD3 update timing")
    args = parser.parse_args()
    torch.set_num_threads(1)
    agents = args.agents.split(",")
    seeds = {a: list(range(args.seeds)) for a in agents}
    if args.quick:
        quick = {"dqn": [0, 1], "td3": [0], "sac": [0]}
        seeds = {a: quick[a] for a in agents if a in quick}
    t_start = time.perf_counter()
    libs = args.libs.split(",")
    timing = update_timing() if args.update_timing_only or ("td3" in seeds and "sb3" in libs) else {}
    if args.update_timing_only or ("dqn" in seeds and "rlsuite-compiled" in libs):
        timing.update(dqn_update_timing())
    if args.update_timing_only:
        print(json.dumps(timing))
        return
    rows: list[dict[str, Any]] = []
    for agent, agent_seeds in seeds.items():
        precisions = args.precisions.split(",") if agent == "td3" else ["float32"]
        for seed in agent_seeds:
            if "sb3" in libs:
                rows.append(run_one("sb3", agent, seed, args.eval_episodes, steps_override=args.steps))
            for precision in precisions if "rlsuite" in libs else []:
                rows.append(run_one("rlsuite", agent, seed, args.eval_episodes, precision, args.steps))
            if "rlsuite-compiled" in libs and agent != "sac":
                rows.append(run_one("rlsuite-compiled", agent, seed, args.eval_episodes, steps_override=args.steps))
    summary = summarize(rows)
    print(markdown(summary))
    pick = {(s["agent"], s["lib"]): s for s in summary}
    result: dict[str, Any] = {"mode": "quick" if args.quick else "full",
                              "total_wall_s": round(time.perf_counter() - t_start, 1), "summary": summary, **timing}
    if ("dqn", "rlsuite") in pick:
        dqn = pick[("dqn", "rlsuite")]
        result.update(dqn_cartpole_solved=dqn["solved"], dqn_cartpole_seeds=dqn["seeds"],
                      dqn_cartpole_mean=dqn["mean"], dqn_cartpole_wall_vs_sb3=dqn["wall_vs_sb3"])
    for agent in ("td3", "ddpg", "sac"):
        if (agent, "rlsuite") in pick:
            s = pick[(agent, "rlsuite")]
            result.update({f"{agent}_pendulum_mean": s["mean"], f"{agent}_pendulum_solved": s["solved"],
                           f"{agent}_pendulum_seeds": s["seeds"], f"{agent}_pendulum_wall_vs_sb3": s["wall_vs_sb3"]})
            if (agent, "sb3") in pick:
                result[f"{agent}_pendulum_mean_sb3"] = pick[(agent, "sb3")]["mean"]
        if (agent, "rlsuite-bfloat16") in pick:
            s = pick[(agent, "rlsuite-bfloat16")]
            result.update({f"{agent}_bf16_pendulum_mean": s["mean"],
                           f"{agent}_bf16_pendulum_wall_vs_sb3": s["wall_vs_sb3"]})
    for agent, task in (("dqn", "dqn_cartpole"), ("td3", "td3_pendulum"), ("ddpg", "ddpg_pendulum")):
        if (agent, "rlsuite-compiled") in pick:
            s = pick[(agent, "rlsuite-compiled")]
            result.update({f"{task}_compiled_solved": s["solved"], f"{task}_compiled_mean": s["mean"],
                           f"{task}_compiled_wall_vs_sb3": s["wall_vs_sb3"]})
            if (agent, "rlsuite") in pick:
                result[f"{task}_compiled_wall_vs_eager"] = round(s["wall_s"] / pick[(agent, "rlsuite")]["wall_s"], 3)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
