"""What a run will cost before it starts: memory it preallocates, and how long it will take.

Two parts, both used by every agent:

* **Memory.** :func:`check_fits` refuses a preallocation (a replay buffer) that cannot fit in the
  memory available now, with one line saying how much it needs, how much there is and what to
  change. Replay storage is allocated lazily by the OS (``np.zeros``), so without this check a
  buffer larger than memory fails hours into a run, when its pages are first written.
* **Time.** :class:`EtaModel` projects the wall time of a run from what it has measured so far. Off-policy
  agents run two phases at very different speeds: ``learning_starts`` steps of acting only (the
  buffer filling), then acting plus a training round every ``train_freq`` steps. A rate measured
  during the first phase says nothing about the second, so the agent also measures one training
  round on a synthetic batch before the run starts (:meth:`rlsuite.agent.Agent.probe_learning_cost`),
  and the model adds that cost per step for the learning phase until the phase has been measured
  itself. Rates come from a trailing window, so the ETA follows changes in machine load.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from rlsuite.errors import InsufficientMemoryError

# What the rest of the process needs beside a preallocated store (networks, envs, batches, Python).
HEADROOM_BYTES = 512 * 2**20


def format_bytes(n: float) -> str:
    """``7.06 GB`` (decimal units, as ``free -h`` and cloud sizes use)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{int(n)} B"


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_memory() -> int | None:
    """Bytes this process can still allocate without swapping: the kernel's ``MemAvailable``, lowered
    to the cgroup's remaining limit inside a container. ``None`` where neither can be read."""
    candidates: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                candidates.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    limit = _read_int(Path("/sys/fs/cgroup/memory.max"))  # cgroup v2 ("max" = no limit -> None)
    usage = _read_int(Path("/sys/fs/cgroup/memory.current"))
    if limit is None:  # cgroup v1
        limit = _read_int(Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
        usage = _read_int(Path("/sys/fs/cgroup/memory/memory.usage_in_bytes"))
    if limit is not None and usage is not None and limit < 2**60:
        candidates.append(max(limit - usage, 0))
    return min(candidates) if candidates else None


def check_fits(what: str, needed: int, *, per_item: int, items: int, key: str, unit: str = "items",
               available: int | None = None) -> None:
    """Raise :class:`InsufficientMemoryError` when ``needed`` bytes (``items`` × ``per_item``) do not
    fit in the available memory minus :data:`HEADROOM_BYTES`; ``key`` is the setting to change."""
    free = available_memory() if available is None else available
    if free is None:
        return
    usable = free - HEADROOM_BYTES
    if needed <= usable:
        return
    fits = max(usable // max(per_item, 1), 0)
    change = (f"set {key}={_round_down(fits)} or lower" if fits > 0 else f"lower {key}") + " or free memory"
    raise InsufficientMemoryError(
        f"{what} of {items:,} {unit} needs {format_bytes(needed)} but only {format_bytes(free)} of memory is "
        f"available ({format_bytes(HEADROOM_BYTES)} kept for the rest of the run); {change}"
    )


def _round_down(n: int) -> int:
    """Two significant digits, rounded down: 431,977 -> 430000."""
    if n < 100:
        return int(n)
    scale = 10 ** (len(str(int(n))) - 2)
    return int(n) // scale * scale


ESTIMATE_AFTER = 1000  # steps measured before the first estimate of the run's time


def estimate_due_at(start_step: int, end_step: int, after: int = ESTIMATE_AFTER) -> int | None:
    """The step after which the one-line time estimate is printed, or ``None`` when the run has no more
    than ``after`` steps left: an estimate would arrive with the run's end and say nothing."""
    return start_step + after if end_step - start_step > after else None


class EtaModel:
    """Remaining wall time of a run with an optional acting-only warm-up phase (see the module docstring).

    ``learning_starts``: the step where learning begins (0: no warm-up); ``learning_cost``: seconds
    per env step that learning adds once it runs, measured by a probe (``None``: unknown, the ETA
    then only covers what has been measured). :meth:`update` takes (time, step) samples; rates come
    from the samples of the current phase within a trailing window of ``window`` samples."""

    def __init__(self, end_step: int, learning_starts: int = 0, learning_cost: float | None = None,
                 window: int = 20, clock: Callable[[], float] = time.perf_counter):
        self.end_step, self.learning_starts = int(end_step), int(learning_starts)
        self.learning_cost = learning_cost
        self.clock = clock
        self.samples: deque[tuple[float, int]] = deque(maxlen=window)

    def update(self, step: int, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        in_learning = step > self.learning_starts
        if self.samples and (self.samples[-1][1] > self.learning_starts) != in_learning:
            # entering the learning phase: keep only the boundary sample, so the next rate is its own
            self.samples = deque([self.samples[-1]], maxlen=self.samples.maxlen)
        self.samples.append((now, int(step)))

    def rate(self) -> float | None:
        """Steps per second over the current phase's samples (None before two samples)."""
        if len(self.samples) < 2:
            return None
        (t0, s0), (t1, s1) = self.samples[0], self.samples[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 and s1 > s0 else None

    def remaining_seconds(self) -> float | None:
        if not self.samples:
            return None
        step = self.samples[-1][1]
        rate = self.rate()
        if rate is None:
            return None
        remaining = max(self.end_step - step, 0)
        if step > self.learning_starts:  # the current phase is learning, and its rate was measured
            return remaining / rate
        warmup_left = min(self.learning_starts - step, remaining)
        per_learning_step = 1.0 / rate + (self.learning_cost or 0.0)
        return warmup_left / rate + (remaining - warmup_left) * per_learning_step

    def complete(self) -> bool:
        """Whether the estimate covers the whole run (False: the learning phase is not priced yet)."""
        if not self.samples:
            return False
        step = self.samples[-1][1]
        return step > self.learning_starts or self.learning_cost is not None or self.learning_starts >= self.end_step
