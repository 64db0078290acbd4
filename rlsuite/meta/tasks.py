"""The task-distribution contract every meta-RL env fulfils, and the meta-train / meta-test split.

A *task distribution* draws task parameters (a bandit's arm probabilities, an MDP's transition
and reward tables, a navigation goal). A task is named by an integer *task seed*: its parameters
are a pure function of that seed (:meth:`TaskDistribution.params_for_seeds`), so a task can be
logged, saved and rebuilt as one number, and "this task was never seen in meta-training" is a
statement about seeds that a test can check.

:class:`MetaSplit` keeps the meta-test tasks apart: it derives a fixed pool of held-out seeds from
``(seed, 'test')`` and draws meta-training seeds from a separate stream, rejecting any seed that is
in the held-out pool. Seeds are 63-bit, so a rejection practically never happens, but the
guarantee does not rest on luck.

A :class:`VecTaskEnv` steps a whole batch — many tasks × several trajectories each — as one NumPy
array operation: row ``b`` runs task ``b // repeats``. All our task envs have a fixed horizon, so
every row starts and ends its episode together; envs that can finish early (2D navigation reaching
its goal) report a per-row ``alive`` mask and give zero reward afterwards. Randomness in the
dynamics comes through :meth:`VecTaskEnv.draw_noise`, so a test can drive a scalar reference with
the very same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from rlsuite.errors import ConfigError

TaskParams = dict[str, np.ndarray]  # every array has a leading task dimension
RowStep = tuple[np.ndarray, np.ndarray, np.ndarray]  # (obs, reward, finished) of every row
SEED_BITS = 63
TEST_POOL = 1000  # held-out seeds per split (the tables use at most 1,000 test tasks)


def _seeds_from(seed_sequence: np.random.SeedSequence, n: int) -> np.ndarray:
    return (seed_sequence.generate_state(n, np.uint64) >> np.uint64(64 - SEED_BITS)).astype(np.int64)


class TaskDistribution:
    """A family of tasks. Subclasses implement :meth:`sample_params` and :meth:`make_vec`."""

    name: str = ""

    def sample_params(self, rng: np.random.Generator, n: int) -> TaskParams:
        """``n`` independent tasks drawn with ``rng`` (arrays with a leading dim ``n``)."""
        raise NotImplementedError

    def make_vec(self) -> VecTaskEnv:
        """A batched env for this distribution (tasks set later with :meth:`VecTaskEnv.set_tasks`)."""
        raise NotImplementedError

    def params_for_seeds(self, seeds: np.ndarray) -> TaskParams:
        """The task named by each seed: one generator per task, so a task never depends on its
        neighbours in the batch."""
        parts = [self.sample_params(np.random.default_rng(int(s)), 1) for s in np.asarray(seeds).ravel()]
        if not parts:
            raise ConfigError("asked for zero tasks; n must be >= 1")
        return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}

    def held_out_params(self, seeds: np.ndarray) -> TaskParams:
        """The held-out tasks named by ``seeds``, the first ``len(seeds)`` of a split's held-out pool
        in order (what :meth:`MetaSplit.test_tasks` asks for). The same draw as meta-training tasks
        by default; a benchmark with a fixed list of test tasks (Meta-World) maps position i to its
        i-th test task instead, so held-out tasks come from that list only."""
        return self.params_for_seeds(seeds)


@dataclass
class TaskSet:
    """A batch of tasks: their seeds (identity) and parameters (arrays with a leading task dim)."""

    seeds: np.ndarray
    params: TaskParams

    def __len__(self) -> int:
        return len(self.seeds)

    def task(self, i: int) -> TaskParams:
        """Task ``i`` alone, keeping a leading dim of 1."""
        return {key: value[i : i + 1] for key, value in self.params.items()}


class MetaSplit:
    """Disjoint, seeded meta-train and meta-test task sets for one distribution."""

    def __init__(self, distribution: TaskDistribution, seed: int, test_pool: int = TEST_POOL):
        self.distribution = distribution
        self.seed = int(seed)
        self.test_seeds = _seeds_from(np.random.SeedSequence([self.seed, 0x7E57]), test_pool)
        self._test_set = {int(s) for s in self.test_seeds}

    def test_tasks(self, n: int) -> TaskSet:
        """The first ``n`` held-out tasks (the same ones for every agent given the same seed)."""
        if not 1 <= n <= len(self.test_seeds):
            raise ConfigError(f"held-out tasks: n must be in 1..{len(self.test_seeds)}, got {n}")
        seeds = self.test_seeds[:n]
        return TaskSet(seeds, self.distribution.held_out_params(seeds))

    def train_tasks(self, rng: np.random.Generator, n: int) -> TaskSet:
        """``n`` fresh meta-training tasks drawn with ``rng``; never a held-out task."""
        seeds = np.empty(n, dtype=np.int64)
        filled = 0
        while filled < n:
            draw = rng.integers(0, 2**SEED_BITS, size=n - filled, dtype=np.int64)
            draw = draw[[int(s) not in self._test_set for s in draw]]
            seeds[filled : filled + len(draw)] = draw
            filled += len(draw)
        return TaskSet(seeds, self.distribution.params_for_seeds(seeds))

    def is_held_out(self, seeds: np.ndarray) -> np.ndarray:
        return np.array([int(s) in self._test_set for s in np.asarray(seeds).ravel()], dtype=bool)


class VecTaskEnv:
    """A batch of ``n_tasks × repeats`` episodes stepped as arrays. Subclasses set the spaces and
    ``horizon`` and implement :meth:`_reset_rows`, :meth:`draw_noise` and :meth:`_step_rows`."""

    observation_space: gym.spaces.Box
    action_space: gym.Space
    horizon: int

    def __init__(self) -> None:
        self.params: TaskParams = {}
        self.row_params: TaskParams = {}
        self.n_rows = 0
        self.t = 0
        self.alive = np.zeros(0, dtype=bool)

    def set_tasks(self, params: TaskParams, repeats: int = 1) -> None:
        """Row ``b`` runs task ``b // repeats`` (task-major order)."""
        self.params = params
        self.row_params = {key: np.repeat(value, repeats, axis=0) for key, value in params.items()}
        self.n_rows = len(next(iter(params.values()))) * repeats

    def reset(self) -> np.ndarray:
        if not self.row_params:
            raise ConfigError("set_tasks() must be called before reset()")
        self.t = 0
        self.alive = np.ones(self.n_rows, dtype=bool)
        return self._reset_rows()

    def step(
        self, actions: np.ndarray, noise: dict[str, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """One step of every row: ``(obs, reward, alive_before, done)``. ``reward`` is zero in rows
        that had already finished; ``done`` is true once the horizon is reached (all rows)."""
        if noise is None:
            raise ConfigError("step() needs the noise from draw_noise(rng) (empty dict for deterministic envs)")
        alive_before = self.alive.copy()
        obs, reward, finished = self._step_rows(np.asarray(actions), noise)
        reward = np.where(alive_before, reward, 0.0)
        self.alive = alive_before & ~finished
        self.t += 1
        return obs, reward, alive_before, self.t >= self.horizon

    def draw_noise(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """The random numbers one step uses (uniforms, normals), one per row."""
        return {}

    def _reset_rows(self) -> np.ndarray:
        raise NotImplementedError

    def _step_rows(self, actions: np.ndarray, noise: dict[str, np.ndarray]) -> RowStep:
        """``(obs, reward, finished)`` for every row (the base class masks finished rows)."""
        raise NotImplementedError


class TaskEnv(gym.Env):
    """One task at a time, as a Gymnasium env (what ``env=navigation2d`` builds for the CLI and for
    agents that are not meta-learners). It runs the batched env with a single row, so there is one
    implementation of each task's dynamics.

    ``set_task`` fixes the task (``None`` goes back to drawing a fresh task at every reset from the
    env's own seeded generator); ``get_task`` returns it for logging; ``sample_tasks`` draws tasks.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, distribution: TaskDistribution):
        self.distribution = distribution
        self.vec = distribution.make_vec()
        self.observation_space = self.vec.observation_space
        self.action_space = self.vec.action_space
        self._fixed: TaskParams | None = None
        self._task: TaskParams | None = None

    def sample_tasks(self, n: int, rng: np.random.Generator | None = None) -> TaskParams:
        return self.distribution.sample_params(rng if rng is not None else self.np_random, n)

    def set_task(self, task: TaskParams | None) -> None:
        self._fixed = None if task is None else {k: np.asarray(v)[:1] for k, v in task.items()}

    def get_task(self) -> TaskParams | None:
        return self._task

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._task = self._fixed if self._fixed is not None else self.sample_tasks(1)
        self.vec.set_tasks(self._task)
        return self.vec.reset()[0], {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        noise = self.vec.draw_noise(self.np_random)
        obs, reward, _, done = self.vec.step(np.asarray(action)[None], noise)
        # The horizon is part of each task's definition (a trial of n pulls, a 10-step MDP episode),
        # not a time limit on an endless task: reaching it terminates, nothing is left to bootstrap.
        terminated = bool(done) or not bool(self.vec.alive[0])
        return obs[0], float(reward[0]), terminated, False, {}
