"""A VAE pretrained on MinAtar frames (random policy) as a frozen encoder for DQN, against DQN's
own end-to-end CNN (MinAtarCNN), over several seeds at a small budget.

    python benchmarks/backbones_minatar.py --game Breakout --steps 100000 --seeds 0 1 2 \
        --out docs/backbones_minatar_encoder.png

1. ``--frames`` observations from a uniformly random policy (sticky actions as in the env config);
2. ``rlsuite fit model=vae`` on them (Bernoulli likelihood: the frames are 0/1 grids);
3. ``rlsuite train agent=dqn env=MinAtar-<game>`` with the env config's tuned DQN hyperparameters,
   once as is and once with ``agent.net.encoder=<vae run>`` (frozen; fc 128 on the VAE's posterior mean,
   so the Q head has the same width as the end-to-end network's);
4. a learning-curve plot (mean and bootstrap band over seeds) and a JSON last line with the final
   evaluation returns.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def collect_frames(game: str, n: int, seed: int) -> np.ndarray:
    from rlsuite.envs.minatar import MinAtarEnv

    env = MinAtarEnv(game.lower() if game != "SpaceInvaders" else "space_invaders", sticky_action_prob=0.1)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    frames = np.empty((n, *obs.shape), np.float32)
    for i in range(n):
        frames[i] = obs
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        if terminated or truncated:
            obs, _ = env.reset(seed=int(rng.integers(2**31)))
    return frames


def plot(dirs: dict[str, list[Path]], out: Path, title: str, smooth: int = 20) -> Path:
    """Training episode return against steps: per variant the mean over seeds of the smoothed
    curves (interpolated on a common grid), with the range across seeds shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlsuite.eval.plots import read_metrics

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, run_dirs in dirs.items():
        series = [read_metrics(d, "train/episode_return") for d in run_dirs]
        hi = min(float(xs[-1]) for xs, _ in series)
        grid = np.linspace(0, hi, 200)
        kernel = np.ones(smooth) / smooth
        ys = np.stack([np.interp(grid, xs, np.convolve(np.pad(y, (smooth - 1, 0), mode="edge"), kernel, "valid"))
                       for xs, y in series])
        line = ax.plot(grid, ys.mean(0), label=f"{name} (n={len(run_dirs)})")[0]
        ax.fill_between(grid, ys.min(0), ys.max(0), color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"training episode return (moving average of {smooth})")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def runs_by_variant(runs: Path) -> tuple[dict[str, list[Path]], dict[str, list[float]]]:
    """Finished DQN runs under ``runs``, split by whether their config loads an encoder."""
    import yaml

    dirs: dict[str, list[Path]] = {"end-to-end CNN": [], "frozen VAE encoder": []}
    finals: dict[str, list[float]] = {name: [] for name in dirs}
    for d in sorted(runs.glob("dqn-*")):
        if (d / "eval.json").is_file():
            agent = yaml.safe_load((d / "config.yaml").read_text())["agent"]
            name = "frozen VAE encoder" if agent.get("encoder") else "end-to-end CNN"
            dirs[name].append(d)
            finals[name].append(float(json.loads((d / "eval.json").read_text())["mean"]))
    return {k: v for k, v in dirs.items() if v}, {k: v for k, v in finals.items() if v}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="Breakout")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--vae-epochs", type=int, default=15)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--runs", default=None)
    parser.add_argument("--vae-run", default=None, help="reuse this VAE fit run instead of collecting and fitting")
    parser.add_argument("--out", default="docs/backbones_minatar_encoder.png")
    parser.add_argument("--plot-only", action="store_true", help="only plot the finished runs under --runs")
    args = parser.parse_args()
    if args.plot_only:
        dirs, finals = runs_by_variant(Path(args.runs))
        seeds = len(next(iter(dirs.values())))
        plot(dirs, Path(args.out), f"DQN on MinAtar {args.game}, {seeds} seeds, {args.steps:,} steps")
        print(json.dumps({"final_eval": finals, "final_mean": {k: float(np.mean(v)) for k, v in finals.items()},
                          "plot": args.out}))
        return

    import rlsuite
    from rlsuite.backbones import fit

    runs = Path(args.runs or tempfile.mkdtemp(prefix="rlsuite-minatar-encoder-"))
    runs.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.vae_run:
        vae_dir = Path(args.vae_run)
        vae_metrics = json.loads((vae_dir / "eval.json").read_text())
    else:
        frames = collect_frames(args.game, args.frames, seed=12345)
        np.savez_compressed(runs / "frames.npz", x=frames, y=np.zeros(len(frames), np.int64))
        vae = fit(["model=vae", f"data={runs / 'frames.npz'}", f"epochs={args.vae_epochs}",
                   f"latent_dim={args.latent}", "patience=0", f"runs_root={runs}", "logger=[jsonl]", "iw_samples=10"])
        vae_dir, vae_metrics = vae.dir, vae.metrics
    out: dict[str, object] = {"game": args.game, "steps": args.steps, "seeds": args.seeds, "frames": args.frames,
                              "vae": {k: vae_metrics[k] for k in ("test_elbo", "recon_mse", "pca_recon_mse")},
                              "vae_s": round(time.perf_counter() - t0, 1)}
    variants = {"end-to-end CNN": [], "frozen VAE encoder": [f"agent.net.encoder={vae_dir}", "agent.net.widths=[128]"]}
    dirs: dict[str, list[Path]] = {name: [] for name in variants}
    finals: dict[str, list[float]] = {name: [] for name in variants}
    for seed in args.seeds:
        for name, extra in variants.items():
            t = time.perf_counter()
            run = rlsuite.train(["agent=dqn", f"env=MinAtar-{args.game}", f"total_steps={args.steps}", f"seed={seed}",
                                 "logger=[jsonl]", "submit=false", "eval_episodes=10", f"runs_root={runs}",
                                 "log_every=5000", *extra])
            dirs[name].append(run.dir)
            finals[name].append(float(run.eval.mean))
            print(f"{name} seed {seed}: eval {run.eval.mean:.2f} ({time.perf_counter() - t:.0f} s)", flush=True)
    curves = plot(dirs, Path(args.out), f"DQN on MinAtar {args.game}, {len(args.seeds)} seeds, {args.steps:,} steps")
    out.update(final_eval=finals, final_mean={k: float(np.mean(v)) for k, v in finals.items()},
               plot=str(curves), total_s=round(time.perf_counter() - t0, 1), runs=str(runs))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
