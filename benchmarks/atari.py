"""Atari throughput against Stable-Baselines3 on this CPU, side by side in one process.

Both libraries get the same env: rlsuite's ale-py Atari wrapper (Machado protocol, 4x84x84 uint8,
training variant), so what differs is the agent: acting, storing, sampling, updating. Single-threaded
torch, ours first then SB3 for each row, so both see the same machine load.

* **DQN on Pong during learning** (Nature CNN, batch 32, an update every 4 steps, Adam 1e-4, target
  copy every 1000 steps, ε fixed at 0.01 on both so both run a forward pass per step): ``--warmup``
  random steps fill the buffer (not timed), then ``--dqn-steps`` learning steps are timed. Memory:
  the growth of this process's resident set from step 1,000 (envs built, Numba kernels compiled
  — a one-time cost of tens of MB per process —, first buffer pages touched) to the end of the run
  (buffer capacity = warm-up + timed steps, so the buffer ends full: the growth is the store
  filling plus what training allocates), the growth up to the end of the warm-up alone (the store
  filling: memory per transition, what scales to a 1M buffer), and the replay store's own bytes.
  Each DQN row runs in a freshly spawned process, so neither inherits heap the other already grew.
  SB3 runs with
  ``optimize_memory_usage=True`` and ``handle_timeout_termination=False`` (which SB3 requires with it).
* **PPO on Pong with 8 envs** (CleanRL's Atari settings: 128 steps x 8 envs, 4 epochs of 4 minibatches):
  steps/s over ``--ppo-steps`` steps, SB3 with its ``DummyVecEnv`` over the same 8 envs, ours with
  EnvPool (``env.backend=envpool``) when it is installed, else the same ale-py envs; and ours once more
  with the opt-in ``runtime.precision=bfloat16`` (bf16 autocast trunk), reported as its own ratio.

    python benchmarks/atari.py --quick        # < 10 minutes on a busy 2-core machine
    python benchmarks/atari.py --profile      # cProfile of our DQN learning phase (where the time goes)
    python benchmarks/atari.py --switches     # our DQN/PPO with each speed setting on vs off
                                              # (runtime.channels_last, PPO's opt-in runtime.precision=bfloat16)
    python benchmarks/atari.py --quick --clock cpu   # steps per CPU-second: for a machine others load
    python benchmarks/atari.py --env-only --quick    # 8 Pong envs alone: ale-py backend vs EnvPool

The last line printed is one JSON object (``ppo_pong_sps_vs_sb3``, ``dqn_pong_sps_vs_sb3``,
``dqn_pong_memory_vs_sb3``, ...). ``--gpu`` runs benchmarks/pong_race.py's GPU recipe: the minutes
PPO takes to a mean score of +20 on Pong on one GPU (goal: 5).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import multiprocessing
import pstats
from typing import Any

import numpy as np
import psutil
import torch
from rlsuite.envs.atari import AtariPlugin

import rlsuite

try:
    from .common import CLOCKS
    from .pong_race import main as race_main
except ImportError:  # run as a script: python benchmarks/<name>.py
    from common import CLOCKS
    from pong_race import main as race_main

DQN_HPARAMS = dict(lr=1e-4, batch_size=32, train_freq=4, gradient_steps=1, target_update_interval=1000,
                   gamma=0.99, max_grad_norm=10.0, exploration_initial_eps=0.01, exploration_final_eps=0.01)
# Seconds for steps/s: wall time, or with --clock cpu this process's CPU time (all its threads: torch,
# the emulators, EnvPool's workers), which the neighbours' load on a shared machine inflates far less.
clock = CLOCKS["wall"]
MEMORY_FROM = 1_000  # resident-set growth is measured from this step to the end of the run
PPO_HPARAMS = dict(n_envs=8, n_steps=128, n_epochs=4, n_minibatches=4, lr=2.5e-4, clip_range=0.1, ent_coef=0.01,
                   vf_coef=0.5, gae_lambda=0.95, gamma=0.99, max_grad_norm=0.5)


def rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


def sb3_env(n_envs: int) -> Any:
    from stable_baselines3.common.vec_env import DummyVecEnv

    plugin = AtariPlugin()
    venv = DummyVecEnv([lambda: plugin.make("Pong") for _ in range(n_envs)])
    venv.seed(0)
    return venv


def dqn_ours(warmup: int, steps: int, profile: bool = False, **overrides: Any) -> dict[str, float]:
    agent = rlsuite.make_agent("dqn", env="Pong", seed=0, device="cpu", buffer_size=warmup + steps,
                               learning_starts=warmup, **{**DQN_HPARAMS, **overrides})
    agent.learn(MEMORY_FROM)
    agent.buffer.sample(32)  # compiles the Numba sampling kernel now: a one-time cost, not memory per transition
    before = rss()
    agent.learn(warmup - MEMORY_FROM)  # random actions fill the buffer; not timed
    stored = rss()  # the growth up to here is the store filling alone: memory per transition
    profiler = cProfile.Profile() if profile else None
    start = clock()
    if profiler:
        profiler.enable()
    agent.learn(steps)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(18)
    sps = steps / (clock() - start)
    out = {"sps": sps, "rss_growth": rss() - before, "rss_growth_warmup": stored - before,
           "buffer_bytes": agent.buffer.nbytes}
    agent.close()
    del agent
    return out


def dqn_sb3(warmup: int, steps: int) -> dict[str, float]:
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    class LearningClock(BaseCallback):
        """Time from the first learning step to the end (the warm-up is not timed)."""

        start: float | None = None
        rss_from: int | None = None
        rss_stored: int | None = None

        def _on_step(self) -> bool:
            if self.rss_from is None and self.num_timesteps >= MEMORY_FROM:
                self.rss_from = rss()
            if self.start is None and self.num_timesteps > warmup:
                self.rss_stored = rss()
                self.start = clock()
                self.start_step = self.num_timesteps
            return True

    env = sb3_env(1)
    model = DQN("CnnPolicy", env, seed=0, device="cpu", verbose=0, buffer_size=warmup + steps,
                learning_starts=warmup, learning_rate=DQN_HPARAMS["lr"], batch_size=32, train_freq=4,
                gradient_steps=1, target_update_interval=1000, gamma=0.99, max_grad_norm=10.0,
                exploration_initial_eps=0.01, exploration_final_eps=0.01, optimize_memory_usage=True,
                replay_buffer_kwargs=dict(handle_timeout_termination=False))
    timer = LearningClock()
    model.learn(warmup + steps, callback=timer)
    assert timer.start is not None and timer.rss_from is not None and timer.rss_stored is not None
    sps = (model.num_timesteps - timer.start_step) / (clock() - timer.start)
    before = timer.rss_from
    buf = model.replay_buffer
    buffer_bytes = sum(getattr(buf, name).nbytes for name in ("observations", "actions", "rewards", "dones"))
    out = {"sps": sps, "rss_growth": rss() - before, "rss_growth_warmup": timer.rss_stored - before,
           "buffer_bytes": buffer_bytes}
    env.close()
    del model, buf
    return out


def ppo_ours(steps: int, backend: str | None, **overrides: Any) -> float:
    env: Any = {"plugin": "atari", "id": "ALE/Pong-v5", "backend": backend, "kwargs": {"protocol": "machado"}}
    agent = rlsuite.make_agent("ppo", env=env, seed=0, device="cpu", tuned=False, **{**PPO_HPARAMS, **overrides})
    agent.learn(1024)  # builds the envs and runs one rollout + update (warm-up, not timed)
    # Timed as SB3's learn(reset_num_timesteps=False): training continues from the envs' current
    # state. (A new learn() call starts a segment: the envs are reseeded, which rebuilds an EnvPool.)
    agent.budget_start, agent.budget_end = agent.steps, agent.steps + steps
    start = clock()
    agent.train_until(agent.budget_end)
    sps = steps / (clock() - start)
    agent.close()
    return sps


def ppo_sb3(steps: int) -> float:
    from stable_baselines3 import PPO

    env = sb3_env(8)
    model = PPO("CnnPolicy", env, seed=0, device="cpu", verbose=0, n_steps=128, batch_size=256, n_epochs=4,
                learning_rate=2.5e-4, clip_range=0.1, ent_coef=0.01, vf_coef=0.5, gae_lambda=0.95, gamma=0.99,
                max_grad_norm=0.5)
    model.learn(1024)  # warm-up, not timed
    start = clock()
    model.learn(steps, reset_num_timesteps=False)
    sps = steps / (clock() - start)
    env.close()
    return sps


def env_only(steps: int) -> None:
    """Env stepping alone, 8 Pong envs (training variant), random actions: the ale-py backend (our
    wrapper per env, in this process) vs EnvPool, alternating twice; steps/s by the chosen clock."""
    from rlsuite.envspec import EnvSpec

    rates: dict[str, list[float]] = {"ale": [], "envpool": []}
    rng = np.random.default_rng(0)
    for backend in ("ale", "envpool", "envpool", "ale"):
        venv = EnvSpec(plugin="atari", id="ALE/Pong-v5", kwargs={"protocol": "machado"}, backend=backend).make_vec(
            8, seed=0)
        venv.reset(seed=0)
        actions = rng.integers(6, size=(steps // 8, 8))
        start = clock()
        for a in actions:
            venv.step(a)
        rates[backend].append(steps / (clock() - start))
        venv.close()
        print(f"  {backend}: {rates[backend][-1]:.0f} steps/s", flush=True)
    ale, pool = float(np.median(rates["ale"])), float(np.median(rates["envpool"]))
    print(json.dumps({"ale_env_sps": ale, "envpool_env_sps": pool, "envpool_vs_ale": pool / ale, "steps": steps}))


# --switches: (agent, runtime.<setting>, value with the trick on, value with it off)
SWITCH_ROWS = {
    "dqn_channels_last": ("dqn", "channels_last", True, False),
    "ppo_channels_last": ("ppo", "channels_last", True, False),
    "ppo_bfloat16": ("ppo", "precision", "bfloat16", "float32"),  # opt-in: off is the default
}


def dqn_row(side: str, clock_name: str, warmup: int, steps: int) -> dict[str, float]:
    """One DQN row (``side`` ours or sb3) in the process that runs it: see :func:`fresh_process`."""
    global clock
    clock = CLOCKS[clock_name]
    torch.set_num_threads(1)
    return dqn_ours(warmup, steps) if side == "ours" else dqn_sb3(warmup, steps)


def fresh_process(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in a newly spawned process. The DQN rows run so: a process's heap keeps what an
    earlier run freed, so the second of two rows in one process would find its working memory (batches,
    activations, gradients) already paid for, and its resident-set growth would read low."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def run_switches(rows: list[str], warmup: int, dqn_steps: int, ppo_steps: int, backend: str | None,
                 rounds: int = 2) -> None:
    """Our Pong steps/s with each speed setting on and off, alternating (on, off, off, on, ...) so
    both see the same load; reported per row: the median over rounds of on/off."""
    result: dict[str, Any] = {"rounds": rounds, "warmup": warmup, "dqn_steps": dqn_steps, "ppo_steps": ppo_steps,
                              "ppo_backend": backend or "ale"}
    for row in rows:
        agent, setting, on_value, off_value = SWITCH_ROWS[row]
        on, off = [], []
        for r in range(rounds):
            for flag in ((True, False) if r % 2 == 0 else (False, True)):
                value = on_value if flag else off_value
                sps = (dqn_ours(warmup, dqn_steps, runtime={setting: value})["sps"] if agent == "dqn"
                       else ppo_ours(ppo_steps, backend, runtime={setting: value}))
                (on if flag else off).append(sps)
                print(f"  {row} round {r} runtime.{setting}={value}: {sps:.1f} steps/s", flush=True)
        result[f"{row}_on_sps"], result[f"{row}_off_sps"] = float(np.median(on)), float(np.median(off))
        result[f"{row}_speedup"] = float(np.median([a / b for a, b in zip(on, off)]))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short rows (< 10 min on a busy 2-core machine)")
    parser.add_argument("--warmup", type=int, default=None, help="DQN random steps filling the buffer")
    parser.add_argument("--dqn-steps", type=int, default=None, help="DQN learning steps timed")
    parser.add_argument("--ppo-steps", type=int, default=None, help="PPO steps timed (multiple of 1024)")
    parser.add_argument("--profile", action="store_true", help="cProfile our DQN learning phase only")
    parser.add_argument("--switches", nargs="*", choices=sorted(SWITCH_ROWS), default=None,
                        help="our agents with each speed setting on vs off, alternating (default: all rows)")
    parser.add_argument("--env-only", action="store_true", help="8 Pong envs stepping alone: ale-py vs EnvPool")
    parser.add_argument("--gpu", action="store_true",
                        help="PPO + EnvPool on Pong to +20 on a GPU: benchmarks/pong_race.py --gpu --save")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="steps/s from wall time or from this process's CPU time (for a busy machine)")
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    if args.gpu:  # the time to +20 on one GPU, stored beside the CPU hour's curve
        race_main(["--gpu", "--save"])
        return
    torch.set_num_threads(1)
    warmup = args.warmup or (10_000 if args.quick else 50_000)
    dqn_steps = args.dqn_steps or (1_500 if args.quick else 10_000)
    ppo_steps = args.ppo_steps or (2_048 if args.quick else 10_240)
    if args.profile:
        dqn_ours(warmup, dqn_steps, profile=True)
        return
    try:
        import envpool  # noqa: F401

        backend: str | None = "envpool"
    except ImportError:
        backend = None
    if args.switches is not None:
        run_switches(args.switches or list(SWITCH_ROWS), warmup, dqn_steps, ppo_steps, backend)
        return
    if args.env_only:
        env_only(ppo_steps * 4)
        return
    # torch's first-use allocations are paid here, not by whichever side runs first
    torch.nn.Conv2d(4, 32, 8, 4)(torch.zeros(32, 4, 84, 84)).sum().backward()
    ours, sb3 = fresh_process(dqn_row, "ours", args.clock, warmup, dqn_steps), \
        fresh_process(dqn_row, "sb3", args.clock, warmup, dqn_steps)
    print(f"dqn pong  ours {ours['sps']:7.1f} steps/s  rss +{ours['rss_growth'] / 1e6:7.1f} MB  buffer "
          f"{ours['buffer_bytes'] / 1e6:7.1f} MB | sb3 {sb3['sps']:7.1f} steps/s  rss +{sb3['rss_growth'] / 1e6:7.1f} "
          f"MB  buffer {sb3['buffer_bytes'] / 1e6:7.1f} MB", flush=True)
    ppo, ppo_ref = ppo_ours(ppo_steps, backend), ppo_sb3(ppo_steps)
    ppo_bf16 = ppo_ours(ppo_steps, backend, runtime={"precision": "bfloat16"})  # opt-in; after SB3, its own row
    print(f"ppo pong  ours ({backend or 'ale-py'}) {ppo:7.1f} steps/s, with runtime.precision=bfloat16 "
          f"{ppo_bf16:7.1f} | sb3 (DummyVecEnv) {ppo_ref:7.1f} steps/s", flush=True)
    result = {
        "warmup": warmup, "dqn_steps": dqn_steps, "ppo_steps": ppo_steps, "ppo_backend": backend or "ale",
        "torch_threads": torch.get_num_threads(), "clock": args.clock,
        "dqn_pong_sps": ours["sps"], "dqn_pong_sb3_sps": sb3["sps"],
        "dqn_pong_sps_vs_sb3": ours["sps"] / sb3["sps"],
        "dqn_pong_rss_growth_mb": ours["rss_growth"] / 1e6, "dqn_pong_sb3_rss_growth_mb": sb3["rss_growth"] / 1e6,
        "dqn_pong_memory_vs_sb3": ours["rss_growth"] / max(sb3["rss_growth"], 1),
        # the store filling alone (steps 1,000 to the end of the warm-up, same transitions on both
        # sides): what scales to the configs' 1M-transition buffers
        "dqn_pong_memory_per_transition_vs_sb3": ours["rss_growth_warmup"] / max(sb3["rss_growth_warmup"], 1),
        "dqn_pong_buffer_bytes_vs_sb3": ours["buffer_bytes"] / sb3["buffer_bytes"],
        "ppo_pong_sps": ppo, "ppo_pong_sb3_sps": ppo_ref, "ppo_pong_sps_vs_sb3": ppo / ppo_ref,
        "ppo_pong_bf16_sps": ppo_bf16, "ppo_pong_bf16_sps_vs_sb3": ppo_bf16 / ppo_ref,
    }
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()}))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
