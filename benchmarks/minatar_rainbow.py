"""Rainbow vs. DQN on MinAtar Breakout: learning curves over 3 seeds (CPU, one thread per run).

    python benchmarks/minatar_rainbow.py --steps 40000 --seeds 0 1 2 --workers 3

Both agents take their tuned values from ``configs/env/MinAtar-Breakout.yaml`` (``hparams.dqn`` /
``hparams.rainbow``) with the same budget overrides (``BUDGET``): one update every 4 steps (the
"Revisiting Rainbow" MinAtar setting; the MinAtar paper updates every step), learning from step
2000, and for DQN ε from 1
to 0.01 over the first 10% of the run. Runs go in parallel worker processes. The curve is the
mean training-episode return in windows of ``--window`` steps; the final score is a greedy
evaluation over 10 episodes. Writes ``docs/rainbow_minatar.png``; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

BUDGET = dict(train_freq=4, learning_starts=2000, exploration_fraction=0.1, exploration_final_eps=0.01)
ENV = "MinAtar-Breakout"


class EpisodeRecorder:
    """A logger that keeps (step, return) of every training episode."""

    def __init__(self) -> None:
        self.episodes: list[tuple[int, float]] = []

    def log(self, values: dict, step: int) -> None:
        if "train/episode_return" in values:
            self.episodes.append((int(step), float(values["train/episode_return"])))

    def record(self, values: dict) -> None:
        pass

    def flush(self, step: int) -> None:
        pass

    def close(self) -> None:
        pass


def run_one(agent_name: str, seed: int, steps: int) -> dict:
    import torch

    import rlsuite
    from rlsuite.config import agent_overrides, compose

    torch.set_num_threads(1)
    hparams = agent_overrides(compose([f"agent={agent_name}", f"env={ENV}"]))
    hparams.update(BUDGET)
    agent = rlsuite.make_agent(agent_name, env=ENV, tuned=False, seed=seed, device="cpu", **hparams)
    agent.logger = EpisodeRecorder()
    t0 = time.perf_counter()
    agent.learn(steps)
    wall = time.perf_counter() - t0
    result = rlsuite.evaluate(agent, episodes=10, seed=10_000)
    return {"agent": agent_name, "seed": seed, "wall_s": wall, "sps": steps / wall, "eval_mean": result.mean,
            "episodes": agent.logger.episodes}


def curve(episodes: list[tuple[int, float]], steps: int, window: int) -> np.ndarray:
    """Mean return of the episodes that ended in each window (carried forward when none did)."""
    ends = np.array([s for s, _ in episodes]) if episodes else np.zeros(0)
    rets = np.array([r for _, r in episodes]) if episodes else np.zeros(0)
    out, last = [], 0.0
    for lo in range(0, steps, window):
        sel = (ends > lo) & (ends <= lo + window)
        last = float(rets[sel].mean()) if sel.any() else last
        out.append(last)
    return np.array(out)


def plot(results: list[dict], steps: int, window: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    x = np.arange(window, steps + 1, window)
    for name, color in (("rainbow", "tab:red"), ("dqn", "tab:blue")):
        curves = np.stack([curve(r["episodes"], steps, window) for r in results if r["agent"] == name])
        mean = curves.mean(0)
        for c in curves:
            ax.plot(x, c, color=color, alpha=0.25, lw=0.8)
        final = np.mean([r["eval_mean"] for r in results if r["agent"] == name])
        ax.plot(x, mean, color=color, lw=2.2, label=f"{name} (mean of {len(curves)} seeds; greedy eval {final:.1f})")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"training episode return (window {window // 1000}k steps)")
    ax.set_title(f"MinAtar Breakout: Rainbow vs DQN ({steps // 1000}k steps, update every 4 steps)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--window", type=int, default=5000)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "rainbow_minatar.png"))
    args = parser.parse_args()
    t0 = time.perf_counter()
    jobs = [(name, seed) for name in ("rainbow", "dqn") for seed in args.seeds]  # longest first
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(run_one, name, seed, args.steps) for name, seed in jobs]
        results = []
        for fut in futures:
            res = fut.result()
            print(f"{res['agent']:8s} seed {res['seed']}: eval {res['eval_mean']:.2f}  "
                  f"last-window {curve(res['episodes'], args.steps, args.window)[-1]:.2f}  "
                  f"{res['wall_s']:.0f}s ({res['sps']:.0f} steps/s)", flush=True)
            results.append(res)
    plot(results, args.steps, args.window, Path(args.out))
    summary: dict = {"env": ENV, "steps": args.steps, "seeds": args.seeds, "budget": BUDGET,
                     "total_wall_s": round(time.perf_counter() - t0, 1)}
    for name in ("rainbow", "dqn"):
        mine = [r for r in results if r["agent"] == name]
        last = [float(curve(r["episodes"], args.steps, args.window)[-4:].mean()) for r in mine]
        summary[name] = {"eval_mean": [r["eval_mean"] for r in mine], "final_train_return": last,
                         "sps": [round(r["sps"], 1) for r in mine]}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
