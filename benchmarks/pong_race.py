"""Pong against the clock: ``rlsuite train agent=ppo env=Pong`` on EnvPool to a mean score of +20.

The run is the CLI a user types (a subprocess); this script watches its ``metrics.jsonl`` and
reports the score curve — the mean game score of the last 20 training episodes — against the wall
time since launch (start-up, Numba compilation and all) and against frames (one agent step is 4
frames), the time and frames at which that mean first reached +18 and +20 (20 episodes at least),
and the score at the time limit. The run ends at its step budget (then the CLI's final evaluation
and leaderboard entry follow), at ``--minutes`` (interrupted), or with ``--stop-at-target`` once the
mean reaches +20. The machine's load average is sampled once a minute while it runs.

CPU recipe: CleanRL ``ppo_atari.py`` (8 envs x 128 steps, 4 epochs of 4 minibatches, clip 0.1,
entropy 0.01, value 0.5, gradient norm 0.5, Adam 2.5e-4, the Nature CNN) with the learning rate
held at 2.5e-4 instead of annealed over 10M steps (that schedule would still be at 2.06e-4 after
the 1.8M steps an hour gives here); bf16 autocast where the CPU has AVX512-BF16 or AMX, else
float32; two torch threads. Env config ``Pong``: Machado protocol (sticky actions 0.25).

GPU recipe (``--gpu``): the batch shape of rl_games' ``ppo_pong_envpool.yaml`` (the fastest published
Pong run, about 2 minutes to +20): 24 envs x 256 steps, 3 epochs of 768-sample minibatches, Adam
3e-4, gamma 0.999, clip 0.2, value coefficient 1, gradient norm 10, on ``device=cuda`` with bf16;
without rl_games' KL-adaptive learning rate and value normalisation. Goal: +20 within 5 minutes.

    python benchmarks/pong_race.py --minutes 60 --save      # the CPU row: the machine to itself for an hour
    python benchmarks/pong_race.py --gpu --save             # one GPU (also: benchmarks/atari.py --gpu)
    python benchmarks/pong_race.py --analyze RUN_DIR --launched 2026-12-06T20:57:28Z --save  # a run made by hand

The last line printed is one JSON object (``pong_score_at_limit``, ``pong_minutes_to_18``,
``pong_minutes_to_20``, ``pong_frames_to_20``, ...; ``null`` where a threshold was not reached).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

try:
    from .common import cpu_description, library_versions
except ImportError:  # run as a script: python benchmarks/<name>.py
    from common import cpu_description, library_versions  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
RESULT_FILE = ROOT / "docs" / "results" / "data" / "atari_pong_race.json"
WINDOW = 20  # the score: mean over the last 20 training episodes
FRAMES_PER_STEP = 4
THRESHOLDS = (18.0, 20.0)
VERSIONED = ("torch", "envpool", "ale-py", "gymnasium", "numpy")
CPU_RECIPE = ["agent.anneal_lr=false", "threads=2"]
GPU_RECIPE = ["device=cuda", "agent.n_envs=24", "agent.n_steps=256", "agent.n_epochs=3", "agent.n_minibatches=8",
              "agent.lr=3e-4", "agent.anneal_lr=false", "agent.gamma=0.999", "agent.clip_range=0.2",
              "agent.vf_coef=1.0", "agent.max_grad_norm=10.0"]


def cpu_has_bf16() -> bool:
    """Whether this CPU runs bf16 matrix products natively (AVX512-BF16 or AMX): else bf16 autocast
    would be emulated and slower than float32."""
    try:
        flags = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags"))
    except (OSError, StopIteration):
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def episodes(run_dir: Path) -> list[tuple[int, float, float]]:
    """(agent step, episode score, unix time) of every training episode the run has logged."""
    path = run_dir / "metrics.jsonl"
    out = []
    if path.is_file():
        for line in path.read_text().splitlines():
            if '"train/episode_return"' in line:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:  # a line being written
                    continue
                out.append((int(rec["step"]), float(rec["train/episode_return"]), float(rec["time"])))
    return out


def score_curve(eps: list[tuple[int, float, float]], launched: float) -> list[tuple[float, int, float, int]]:
    """(minutes since launch, agent step, mean score of the last <= 20 episodes, episodes in that mean)
    after every episode."""
    curve = []
    for i, (step, _, t) in enumerate(eps):
        window = [score for _, score, _ in eps[max(0, i + 1 - WINDOW): i + 1]]
        curve.append(((t - launched) / 60.0, step, sum(window) / len(window), len(window)))
    return curve


def first_reach(curve: list[tuple[float, int, float, int]], threshold: float) -> tuple[float, int] | None:
    """(minutes, agent step) where the mean of a full 20-episode window first reached ``threshold``."""
    return next(((m, s) for m, s, mean, n in curve if n >= WINDOW and mean >= threshold), None)


def thinned(points: list[list[float]], most: int = 300) -> list[list[float]]:
    """At most ``most`` points, evenly spaced along the list, the last one kept."""
    if len(points) <= most:
        return points
    stride = len(points) / most
    return [points[int(i * stride)] for i in range(most)] + [points[-1]]


class LoadSampler(threading.Thread):
    """The 1-minute load average, once a minute, while a run is timed (what else ran beside it)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0 if not self.samples else 60):
            self.samples.append(float(Path("/proc/loadavg").read_text().split()[0]))


def race(overrides: list[str], run_dir: Path, minutes: float, stop_at_target: bool) -> tuple[float, int, list[float]]:
    """Run the CLI; returns (launch time, exit code, load samples)."""
    command = [sys.executable, "-m", "rlsuite.cli", "train", "agent=ppo", "env=Pong", "env.backend=envpool",
               f"run_dir={run_dir}", *overrides]
    print(" ".join(["rlsuite", *command[3:]]), flush=True)
    sampler = LoadSampler()
    sampler.start()
    launched = time.time()
    proc = subprocess.Popen(command, cwd=ROOT)
    while proc.poll() is None:
        time.sleep(5)
        over_time = time.time() - launched > minutes * 60
        curve = score_curve(episodes(run_dir), launched)
        reached = stop_at_target and first_reach(curve, THRESHOLDS[-1]) is not None
        if over_time or reached:
            proc.send_signal(signal.SIGINT)  # the CLI stops at once ("rlsuite: interrupted")
            proc.wait()
    sampler.stopped.set()
    return launched, int(proc.returncode), sampler.samples


def summarize(run_dir: Path, launched: float, minutes: float) -> dict[str, Any]:
    curve = score_curve(episodes(run_dir), launched)
    if not curve:
        raise SystemExit(f"{run_dir}/metrics.jsonl holds no finished training episode")
    within = [c for c in curve if c[0] <= minutes] or curve[:1]
    result: dict[str, Any] = {
        "minutes": minutes, "episodes": len(curve), "last_episode_minutes": round(curve[-1][0], 2),
        "pong_score_at_limit": round(within[-1][2], 2), "frames_at_limit": within[-1][1] * FRAMES_PER_STEP,
        "best_score": round(max((c[2] for c in curve if c[3] >= WINDOW), default=curve[-1][2]), 2),
    }
    for threshold in THRESHOLDS:
        hit = first_reach(curve, threshold)
        key = f"{threshold:.0f}"
        result[f"pong_minutes_to_{key}"] = round(hit[0], 2) if hit else None
        result[f"pong_frames_to_{key}"] = hit[1] * FRAMES_PER_STEP if hit else None
    # the run's own final evaluation (eval.json), or a later `rlsuite eval` of it (eval-<protocol>-<time>.json)
    evaluations = sorted(run_dir.glob("eval*.json"), key=lambda path: path.stat().st_mtime)
    if evaluations:
        ev = json.loads(evaluations[-1].read_text())
        result.update(final_eval_mean=ev.get("mean"), final_eval_episodes=ev.get("episodes"),
                      final_eval_file=evaluations[-1].name)
    result["_curve"] = curve
    return result


def hardware(device: str) -> str:
    if device != "cuda":
        return cpu_description()
    import torch

    return f"{cpu_description()}, {torch.cuda.get_device_name(0)}"


def save(result: dict[str, Any], command: str, config: dict[str, Any], load: list[float], device: str) -> None:
    curve, seed = result["_curve"], str(config.get("seed", 0))
    by_minutes = thinned([[round(m, 3), round(score, 3)] for m, _, score, _ in curve])
    by_frames = thinned([[round(step * FRAMES_PER_STEP / 1e6, 4), round(score, 3)] for _, step, score, _ in curve])
    minutes, limit = result["minutes"], result["minutes"]

    def when(key: str) -> str:
        m, f = result[f"pong_minutes_to_{key}"], result[f"pong_frames_to_{key}"]
        return f"{m:.1f} min ({f / 1e6:.2f}M frames)" if m is not None else f"not reached within {limit:g} min"

    ended = result["last_episode_minutes"]
    at = f"at {minutes:g} min" if ended > minutes else f"at the end of training ({ended:.1f} min, limit {minutes:g})"
    rows = [
        [f"mean score of the last {WINDOW} training episodes {at}",
         f"{result['pong_score_at_limit']:+.2f}", f"{result['frames_at_limit'] / 1e6:.2f}M frames"],
        ["first reached +18 (20-episode mean)", when("18"), ""],
        ["first reached +20 (20-episode mean)", when("20"), "goal: within 60 min on the CPU, 5 min on one GPU"],
        ["best 20-episode mean", f"{result['best_score']:+.2f}", f"{result['episodes']} training episodes"],
    ]
    if result.get("final_eval_mean") is not None:
        rows.append(["final evaluation (full games, unclipped, atari-machado, the training backend)",
                     f"{result['final_eval_mean']:+.2f}", f"{result['final_eval_episodes']} games"])
    data = {
        "title": f"PPO on Pong against the clock ({'one GPU' if device == 'cuda' else 'CPU'})",
        "agents": ["ppo"], "tasks": ["atari"], "command": command,
        "date": time.strftime("%Y-%m-%d"), "hardware": hardware(device),
        "load": (f"1-minute load average sampled each minute: mean {sum(load) / len(load):.2f}, max {max(load):.2f}"
                 if load else "not sampled"),
        "versions": {"python": sys.version.split()[0], **library_versions(VERSIONED)},
        "columns": ["row", "value", "detail"], "rows": rows,
        "notes": (f"Score: the mean game score (Pong: -21..+21) of the last {WINDOW} training episodes, wall time "
                  "counted from the command's launch. Run config: " + json.dumps(config, sort_keys=True)),
        "figure": "figures/atari_pong_race.png",
        "ylabel": f"mean score, last {WINDOW} training episodes",
        "curves": {
            "wall": {"env": "Pong (EnvPool)", "agent": "ppo", "xlabel": "minutes since launch",
                     "seeds": {seed: by_minutes}},
            "frames": {"env": "Pong (EnvPool)", "agent": "ppo", "xlabel": "frames (millions)",
                       "seeds": {seed: by_frames}},
        },
    }
    RESULT_FILE.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {RESULT_FILE.relative_to(ROOT)} (draw its figure: python scripts/make_figures.py)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=None, help="time limit (default: 60 on a CPU, 15 on a GPU)")
    parser.add_argument("--steps", type=int, default=None,
                        help="the run's step budget (default: 1.8M on a CPU, 10M on a GPU)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gpu", action="store_true", help="the GPU recipe on device=cuda; stops at +20")
    parser.add_argument("--stop-at-target", action="store_true", help="interrupt the run once the mean reaches +20")
    parser.add_argument("--run-dir", type=Path, default=None, help="default: runs/pong-race-<time>")
    parser.add_argument("--analyze", type=Path, default=None, help="summarize an existing run directory instead")
    parser.add_argument("--launched", default=None, help="with --analyze: the command's launch time (ISO 8601, UTC)")
    parser.add_argument("--load-log", type=Path, default=None,
                        help="with --analyze: a file of 'HH:MM:SS load1 load5 load15' lines sampled during the run")
    parser.add_argument("--save", action="store_true", help=f"write {RESULT_FILE.relative_to(ROOT)}")
    parser.add_argument("extra", nargs="*", help="more key=value overrides for rlsuite train")
    args = parser.parse_args(argv)
    device = "cuda" if args.gpu else "cpu"
    minutes = args.minutes if args.minutes is not None else (15.0 if args.gpu else 60.0)
    load: list[float] = []
    if args.analyze is not None:
        run_dir = args.analyze
        if args.launched is None:
            raise SystemExit("--analyze needs --launched (the command's launch time, e.g. 2026-12-06T20:57:28Z)")
        launched = dt.datetime.fromisoformat(args.launched.replace("Z", "+00:00")).timestamp()
        if args.load_log is not None:
            load = [float(line.split()[1]) for line in args.load_log.read_text().splitlines() if line.strip()]
        config = {"overrides": "see " + str(run_dir / "config.yaml")}
        command = f"python benchmarks/pong_race.py --analyze <run dir> --launched {args.launched}"
    else:
        if args.gpu:
            import torch

            if not torch.cuda.is_available():
                raise SystemExit("--gpu needs CUDA; this machine has none")
        precision = "bfloat16" if args.gpu or cpu_has_bf16() else "float32"
        steps = args.steps or (10_000_000 if args.gpu else 1_800_000)
        overrides = [*(GPU_RECIPE if args.gpu else CPU_RECIPE), f"runtime.precision={precision}", f"seed={args.seed}",
                     f"total_steps={steps}", "eval_episodes=10", "protocol=atari-machado", *args.extra]
        run_dir = args.run_dir or ROOT / "runs" / f"pong-race-{time.strftime('%Y%m%d-%H%M%S')}"
        launched, code, load = race(overrides, run_dir, minutes, args.stop_at_target or args.gpu)
        print(f"rlsuite train exited with {code}", flush=True)
        config = {"overrides": overrides}
        flags = ["--gpu"] if args.gpu else []
        command = " ".join(["python benchmarks/pong_race.py", *flags, f"--minutes {minutes:g}", "--save"])
    result = summarize(run_dir, launched, minutes)
    if args.save:
        save(result, command, {"seed": args.seed, **config}, load, device)
    summary = {k: v for k, v in result.items() if not k.startswith("_")}
    summary.update(device=device, load_mean=round(sum(load) / len(load), 2) if load else None)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
