"""Recurrent PPO side by side with sb3-contrib's RecurrentPPO on CartPoleNoVel-v1 (CartPole without
velocities), one process, the libraries alternating per seed, the same recipe: rl-zoo3's RecurrentPPO
settings (configs/env/CartPoleNoVel-v1.yaml). Reports the greedy return after training (stateful
evaluation: each episode starts from the zero state) and steps/s. ``rlsuite-per-step`` is rlsuite with
``runtime.segment_unroll=false`` (the stored rollout re-scored one core call per step instead of one
padded call over its episode segments): the row that shows what the segment unroll buys. The last
line is JSON.

    python benchmarks/recurrent_ppo.py                 # 3 seeds, the recipe's 100k steps, all three rows
    python benchmarks/recurrent_ppo.py --quick         # 3 seeds, 10k steps (a smoke run)
    python benchmarks/recurrent_ppo.py --libs rlsuite,rlsuite-per-step --seeds 0 --steps 20000
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    from common import CLOCKS, evaluate_greedy  # type: ignore[import-not-found]
except ImportError:  # imported as a package module
    from .common import CLOCKS, evaluate_greedy

ENV = "CartPoleNoVel-v1"


def ours(seed: int, steps: int, clock: Callable[[], float], segment_unroll: bool = True) -> dict[str, Any]:
    import rlsuite

    agent = rlsuite.make_agent("ppo", env=ENV, seed=seed, device="cpu", runtime={"segment_unroll": segment_unroll})
    start = clock()
    agent.learn(steps)
    seconds = clock() - start
    returns = rlsuite.evaluate(agent, env=ENV, episodes=10, seed=1000).returns
    return {"return": float(np.mean(returns)), "sps": steps / seconds, "seconds": seconds}


def sb3_contrib(seed: int, steps: int, clock: Callable[[], float]) -> dict[str, Any]:
    import rlsuite.envs.gym  # noqa: F401  (registers CartPoleNoVel-v1)
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize
    from torch import nn

    envs = VecNormalize(make_vec_env(ENV, n_envs=8, seed=seed), norm_obs=True, norm_reward=False, gamma=0.98)
    model = RecurrentPPO(
        "MlpLstmPolicy", envs, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
        learning_rate=lambda p: 1e-3 * p, clip_range=lambda p: 0.2 * p, seed=seed, device="cpu",
        policy_kwargs=dict(ortho_init=False, activation_fn=nn.ReLU, lstm_hidden_size=64, enable_critic_lstm=True,
                           net_arch=dict(pi=[64], vf=[64])))
    start = clock()
    model.learn(steps)
    seconds = clock() - start
    envs.training = False  # evaluation reads the running statistics without updating them
    state: Any = None
    first = [True]

    def predict(obs: np.ndarray) -> Any:
        nonlocal state
        action, state = model.predict(envs.normalize_obs(obs), state=state, episode_start=np.array(first),
                                      deterministic=True)
        first[0] = False
        return action

    returns = []
    for i in range(10):  # evaluate_greedy resets each episode; the state restarts with it
        state, first[0] = None, True
        returns.append(float(evaluate_greedy(predict, ENV, episodes=1, seed=1000 + i)[0]))
    return {"return": float(np.mean(returns)), "sps": steps / seconds, "seconds": seconds}


LIBS: dict[str, Callable[[int, int, Callable[[], float]], dict[str, Any]]] = {
    "rlsuite": ours,
    "rlsuite-per-step": lambda seed, steps, clock: ours(seed, steps, clock, segment_unroll=False),
    "sb3_contrib": sb3_contrib,
}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10k steps per run")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    parser.add_argument("--libs", default=",".join(LIBS), help=f"comma-separated, in this order per seed: {LIBS}")
    args = parser.parse_args(argv)
    libs = [name.strip() for name in args.libs.split(",") if name.strip()]
    unknown = [name for name in libs if name not in LIBS]
    if unknown or not libs:
        parser.error(f"unknown --libs {unknown}; accepted: {', '.join(LIBS)}")
    import torch

    torch.set_num_threads(1)  # one thread per library, as the other side-by-side benchmarks
    steps = 10_000 if args.quick else args.steps
    clock = CLOCKS[args.clock]
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in libs}
    for seed in args.seeds:
        for name in libs:
            row = {"seed": seed, **LIBS[name](seed, steps, clock)}
            rows[name].append(row)
            print(f"{name:12s} seed {seed}: return {row['return']:7.1f}  {row['sps']:8.1f} steps/s", flush=True)
    summary = {name: {"return_mean": float(np.mean([r["return"] for r in runs])),
                      "sps_mean": float(np.mean([r["sps"] for r in runs])), "runs": runs}
               for name, runs in rows.items()}
    result: dict[str, Any] = {"benchmark": "recurrent_ppo", "env": ENV, "steps": steps, "clock": args.clock,
                              "torch_threads": 1, **summary}
    if "rlsuite" in summary and "sb3_contrib" in summary:
        result["sps_ratio"] = summary["rlsuite"]["sps_mean"] / summary["sb3_contrib"]["sps_mean"]
    if "rlsuite" in summary and "rlsuite-per-step" in summary:
        result["segment_unroll_speedup"] = summary["rlsuite"]["sps_mean"] / summary["rlsuite-per-step"]["sps_mean"]
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
