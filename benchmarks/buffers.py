"""Replay-buffer benchmark: rlsuite vs SB3 ReplayBuffer (both memory modes) vs cpprb, one process.

    python benchmarks/buffers.py            # full: 1M vector transitions, 100k Atari transitions
    python benchmarks/buffers.py --quick    # < 1 min; partly filled buffers of the same capacity
    python benchmarks/buffers.py --quick --save   # also store the table (with this CPU and the library
                                                  # versions) in docs/results/data/replay_buffers.json

Prints a Markdown table (median rates over 7 interleaved rounds) and, as its last line, one JSON
object of ratios (rlsuite ÷ peer, the median over rounds of the per-round ratio).
Sampling is timed up to torch tensors on CPU for rlsuite (sample + to_torch) and SB3 (which
returns tensors); cpprb returns numpy, so rlsuite is timed at the numpy level against it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np

from rlsuite.buffers import make_replay_buffer, to_torch

try:
    from .common import cpu_description, library_versions
except ImportError:  # run as a script: python benchmarks/<name>.py
    from common import cpu_description, library_versions  # type: ignore[no-redef]

warnings.filterwarnings("ignore")
RESULT_FILE = Path(__file__).resolve().parent.parent / "docs" / "results" / "data" / "replay_buffers.json"
COLUMNS = ["shape", "capacity", "filled", "buffer", "add (transitions/s)", "sample → torch (batches/s)",
           "sample → numpy (batches/s)", "PER sample+update (batches/s)", "bytes / transition"]


def bench(fns: dict, reps: int, rounds: int = 7) -> dict[str, list[float]]:
    """Calls per second of each fn in each of `rounds` interleaved rounds of `reps` calls.

    Interleaving keeps the comparison fair on a shared, noisy machine: ratios are taken round by
    round (both sides timed seconds apart) and summarised by their median, see :func:`ratio`."""
    rates: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            rates[name].append(reps / (time.perf_counter() - t0))
    return rates


def median(xs: list[float]) -> float:
    return float(np.median(xs))


def ratio(rates: dict[str, list[float]], ours: str, *peers: str) -> float:
    """Median over rounds of ours ÷ the fastest peer of the same round."""
    return median([rates[ours][i] / max(rates[p][i] for p in peers) for i in range(len(rates[ours]))])


def timed_fill(add, n: int) -> float:
    t0 = time.perf_counter()
    for t in range(n):
        add(t)
    return n / (time.perf_counter() - t0)


def compile_kernels(ospace: gym.Space, aspace: gym.Space, **kwargs) -> None:
    """Add to and sample from a small buffer of the same spaces once, so Numba compiles (or loads
    from its cache) the kernels before any rate is timed: compilation is a once-per-process cost
    that would otherwise count as a second of adding (it made adding read 0.15x SB3's rate)."""
    warm = make_replay_buffer(64, ospace, aspace, n_envs=1, seed=0, **kwargs)
    obs = np.zeros((1, *ospace.shape), ospace.dtype)
    for _ in range(4):
        warm.add(obs, np.zeros((1,), np.int64), np.zeros(1, np.float32), obs, np.zeros(1, bool), np.zeros(1, bool))
    batch = warm.sample(2, beta=0.4) if kwargs.get("prioritized") else warm.sample(2)
    if kwargs.get("prioritized"):
        warm.update_priorities(batch.indices, np.ones(2))


def sb3_bytes(buf) -> int:
    arrays = [getattr(buf, k, None) for k in ("observations", "next_observations", "actions", "rewards", "dones",
                                           "timeouts")]
    return sum(a.nbytes for a in arrays if a is not None)


# ---------------------------------------------------------------- vector (CartPole-shaped)
def vector_data(n: int, rng: np.random.Generator, ep_len: int = 200):
    obs = rng.standard_normal((n + 1, 1, 4)).astype(np.float32)
    act = rng.integers(0, 2, (n, 1))
    rew = np.ones((n, 1), np.float32)
    done = (np.arange(n) % ep_len == ep_len - 1)[:, None]
    return obs, act, rew, done


def run_vector(capacity: int, fill: int, reps: int, rows: list, ratios: dict) -> None:
    from cpprb import PrioritizedReplayBuffer as CPER
    from cpprb import ReplayBuffer as CRB
    from stable_baselines3.common.buffers import ReplayBuffer as SB3RB

    ospace = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
    aspace = gym.spaces.Discrete(2)
    obs, act, rew, done = vector_data(fill, np.random.default_rng(0))
    no = np.zeros((1,), bool)
    info: list[dict] = [{}]
    B = 256
    env_dict = {"obs": {"shape": 4}, "act": {"dtype": np.int64}, "rew": {}, "next_obs": {"shape": 4}, "done": {}}
    compile_kernels(ospace, aspace)
    compile_kernels(ospace, aspace, prioritized=True)
    ours = make_replay_buffer(capacity, ospace, aspace, n_envs=1, seed=0)
    per = make_replay_buffer(capacity, ospace, aspace, n_envs=1, prioritized=True, seed=0)
    sb = {opt: SB3RB(capacity, ospace, aspace, device="cpu", n_envs=1, optimize_memory_usage=opt,
                     handle_timeout_termination=not opt) for opt in (False, True)}
    crb = CRB(capacity, env_dict)
    cper = CPER(capacity, env_dict, alpha=0.6, eps=1e-6)
    names = {False: "SB3 (optimize_memory_usage=False)", True: "SB3 (optimize_memory_usage=True)"}
    res: dict[str, dict[str, float]] = {k: {} for k in ["rlsuite", *names.values(), "cpprb", "rlsuite PER",
                                                         "cpprb PER"]}
    res["rlsuite"]["add"] = timed_fill(lambda t: ours.add(obs[t], act[t], rew[t], obs[t + 1], done[t], no), fill)
    for opt, b in sb.items():
        res[names[opt]]["add"] = timed_fill(
            lambda t, b=b: b.add(obs[t], obs[t + 1], act[t], rew[t], done[t], info), fill)
    res["cpprb"]["add"] = timed_fill(
        lambda t: crb.add(obs=obs[t], act=act[t], rew=rew[t], next_obs=obs[t + 1], done=done[t]), fill)
    res["rlsuite PER"]["add"] = timed_fill(lambda t: per.add(obs[t], act[t], rew[t], obs[t + 1], done[t], no), fill)
    res["cpprb PER"]["add"] = timed_fill(
        lambda t: cper.add(obs=obs[t], act=act[t], rew=rew[t], next_obs=obs[t + 1], done=done[t]), fill)

    r_torch = bench({"rlsuite": lambda: to_torch(ours.sample(B)),
                     names[False]: lambda: sb[False].sample(B), names[True]: lambda: sb[True].sample(B)}, reps)
    for k, v in r_torch.items():
        res[k]["sample"] = median(v)
    r_np = bench({"rlsuite": lambda: ours.sample(B), "cpprb": lambda: crb.sample(B)}, reps)
    for k, v in r_np.items():
        res[k]["sample_np"] = median(v)

    # prioritized: sample + priority update of the sampled batch
    td = np.abs(np.random.default_rng(1).standard_normal((64, B)))
    it = {"i": 0}

    def ours_per() -> None:
        b = per.sample(B, beta=0.4)
        it["i"] += 1
        per.update_priorities(b.indices, td[it["i"] % 64])

    def cpprb_per() -> None:
        b = cper.sample(B, beta=0.4)
        it["i"] += 1
        cper.update_priorities(b["indexes"], td[it["i"] % 64])

    r_per = bench({"rlsuite PER": ours_per, "cpprb PER": cpprb_per}, reps)
    for k, v in r_per.items():
        res[k]["per"] = median(v)

    ratios["uniform_sample_speed_vs_sb3"] = ratio(r_torch, "rlsuite", *names.values())
    ratios["uniform_sample_speed_vs_cpprb"] = ratio(r_np, "rlsuite", "cpprb")
    ratios["uniform_add_speed_vs_sb3"] = res["rlsuite"]["add"] / max(res[n]["add"] for n in names.values())
    ratios["per_speed_vs_cpprb"] = ratio(r_per, "rlsuite PER", "cpprb PER")
    for name, rr in res.items():
        rows.append(("CartPole (4,) f32", capacity, fill, name, rr.get("add"), rr.get("sample"), rr.get("sample_np"),
                     rr.get("per"), None))


# ---------------------------------------------------------------- Atari-shaped frames
def atari_stream(n: int, rng: np.random.Generator, ep_len: int = 1000):
    """Frame-stacked observations of a stream of episodes (reset stack = 4 copies of the first frame)."""
    pool = rng.integers(0, 256, (257, 84, 84), dtype=np.uint8)
    stack = np.repeat(pool[0][None], 4, 0)
    for t in range(n):
        nxt = np.concatenate([stack[1:], pool[(t + 1) % 257][None]])
        term = t % ep_len == ep_len - 1
        yield stack[None], nxt[None], term
        stack = np.repeat(pool[(t + 2) % 257][None], 4, 0) if term else nxt


def run_atari(capacity: int, fill: int, reps: int, rows: list, ratios: dict) -> None:
    """rlsuite's frame storage vs each SB3 memory mode in turn (both SB3 buffers at once would not fit)."""
    from stable_baselines3.common.buffers import ReplayBuffer as SB3RB

    ospace = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    aspace = gym.spaces.Discrete(18)
    B = 32
    a = np.array([3])
    r = np.array([1.0], np.float32)
    no = np.zeros(1, bool)
    info: list[dict] = [{}]
    compile_kernels(ospace, aspace)
    ours = make_replay_buffer(capacity, ospace, aspace, n_envs=1, seed=0)
    data = atari_stream(fill, np.random.default_rng(0))

    def add_ours(t: int) -> None:
        o, nx, d = next(data)
        ours.add(o, a, r, nx, np.array([d]), no)

    res: dict[str, dict[str, float]] = {"rlsuite (frames)": {"add": timed_fill(add_ours, fill), "sample": 0.0,
                                                             "bytes": ours.nbytes / ours.capacity}}
    for opt in (False, True):
        name = f"SB3 (optimize_memory_usage={opt})"
        sb = SB3RB(capacity, ospace, aspace, device="cpu", n_envs=1, optimize_memory_usage=opt,
                   handle_timeout_termination=not opt)
        stream = atari_stream(fill, np.random.default_rng(0))

        def add_sb(t: int, sb=sb, stream=stream) -> None:
            o, nx, d = next(stream)
            sb.add(o, nx, a, r, np.array([d]), info)

        res[name] = {"add": timed_fill(add_sb, fill), "bytes": sb3_bytes(sb) / capacity}
        rr = bench({"ours": lambda: to_torch(ours.sample(B)), "sb3": lambda sb=sb: sb.sample(B)}, reps)
        res[name]["sample"] = median(rr["sb3"])
        res["rlsuite (frames)"]["sample"] = max(res["rlsuite (frames)"]["sample"], median(rr["ours"]))
        res[name]["ratio"] = ratio(rr, "ours", "sb3")
        del sb, add_sb
        gc.collect()

    names = ("SB3 (optimize_memory_usage=False)", "SB3 (optimize_memory_usage=True)")
    ratios["atari_sample_speed_vs_sb3"] = min(res[n]["ratio"] for n in names)
    ratios["atari_bytes_vs_sb3"] = res["rlsuite (frames)"]["bytes"] / res[names[1]]["bytes"]
    ratios["atari_bytes_vs_sb3_default"] = res["rlsuite (frames)"]["bytes"] / res[names[0]]["bytes"]
    ratios["atari_bytes_per_transition"] = res["rlsuite (frames)"]["bytes"]
    for name, rr in res.items():
        rows.append(("Atari (4,84,84) u8", capacity, fill, name, rr.get("add"), rr.get("sample"), None, None,
                     rr.get("bytes")))


def fmt(x: float | None, spec: str = ",.0f") -> str:
    return "–" if x is None else format(x, spec)


def machine() -> str:
    """This CPU's model and core count, and the SIMD level NumPy dispatches to (the kernels that
    differ between machines: SB3's sampling is NumPy fancy indexing, ours Numba-compiled loops)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # NumPy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    simd = next((f for f in ("AVX512_SPR", "AVX512_ICL", "AVX512_SKX", "AVX2") if features.get(f)), "baseline")
    return f"{cpu_description()}, NumPy dispatch up to {simd}"


def save(rows: list, ratios: dict[str, float], command: str) -> None:
    versions = library_versions(("numpy", "numba", "torch", "stable-baselines3", "cpprb"))
    data = {
        "title": "Replay buffers: rlsuite vs SB3 and cpprb (one process, interleaved rounds)",
        "agents": ["dqn", "ddpg", "sac"], "tasks": ["buffers"], "command": command,
        "date": time.strftime("%Y-%m-%d"), "hardware": machine(), "versions": versions,
        "load": f"1-minute load average {os.getloadavg()[0]:.2f} when the run ended (ratios interleave rounds)",
        "columns": COLUMNS,
        "rows": [[shape, f"{cap:,}", f"{fill:,}", name, fmt(add), fmt(smp), fmt(smp_np), fmt(per), fmt(nb, ",.1f")]
                 for shape, cap, fill, name, add, smp, smp_np, per, nb in rows],
        "ratios": {k: round(v, 4) for k, v in ratios.items()},
        "notes": ("Ratios (median over 7 interleaved rounds of rlsuite ÷ the fastest peer of the round): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items() if "bytes_per" not in k)
                  + ". Batch 256 (CartPole shape), 32 (Atari shape); sampling timed up to torch tensors "
                  "against SB3, up to NumPy arrays against cpprb."),
    }
    RESULT_FILE.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {RESULT_FILE}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="partly filled buffers, fewer repetitions (< 1 min)")
    ap.add_argument("--save", action="store_true", help=f"store the results in {RESULT_FILE.name} (docs)")
    args = ap.parse_args()
    vec_cap, atari_cap = 1_000_000, 100_000
    vec_fill, atari_fill, reps = (30_000, 4_000, 200) if args.quick else (vec_cap, atari_cap, 1000)
    rows: list = []
    ratios: dict[str, float] = {}
    t0 = time.perf_counter()
    run_vector(vec_cap, vec_fill, reps, rows, ratios)
    run_atari(atari_cap, atari_fill, max(100, reps // 4), rows, ratios)
    print("| shape | capacity | filled | buffer | add (transitions/s) | sample → torch (batches/s) "
          "| sample → numpy (batches/s) | PER sample+update (batches/s) | bytes / transition |")
    print("|---|---|---|---|---|---|---|---|---|")
    for shape, cap, fill, name, add, smp, smp_np, per, nbytes in rows:
        print(f"| {shape} | {cap:,} | {fill:,} | {name} | {fmt(add)} | {fmt(smp)} | {fmt(smp_np)} | {fmt(per)} "
              f"| {fmt(nbytes, ',.1f')} |")
    print(f"\nbatch 256 (CartPole), 32 (Atari); total {time.perf_counter() - t0:.0f} s")
    if args.save:
        save(rows, ratios, "python benchmarks/buffers.py" + (" --quick" if args.quick else "") + " --save")
    print(json.dumps({k: round(v, 6) for k, v in ratios.items()}))  # 6 digits: 0.25004 must not read as 0.25


if __name__ == "__main__":
    main()
