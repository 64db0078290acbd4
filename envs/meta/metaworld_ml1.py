"""Meta-World ML1 (Yu et al. 2019) as a task distribution: one manipulation env (``reach-v3`` by
default) whose tasks are its object and goal positions, hidden from the observation (ML1 is
partially observable: the goal slots of the 39-dim observation are zeros).

Meta-World's own protocol fixes the tasks: ``metaworld.ML1(env_name, seed)`` draws 50 meta-training
and 50 meta-test goal positions, disjoint. We keep exactly those lists. A task's parameters are
its index into one of them and a flag saying which (``index``, ``held_out``: integer arrays with a
leading task dim, so a task is logged and saved as two numbers):

* meta-training tasks (:meth:`params_for_seeds`) — training seed ``s`` runs train task ``s % 50``;
* held-out tasks (:meth:`held_out_params`, what :meth:`MetaSplit.test_tasks` asks for) — the i-th
  held-out seed of the split runs test task ``i % 50``, so the first 50 held-out tasks are Meta-World's
  50 test tasks, in order.

Rewards are Meta-World's (v2 reward functions, 0…10 per step) and ``success`` is its
``info['success']``; each row keeps the maximum over its episode in :attr:`VecMetaWorld.success`.
Rows never finish early: Meta-World never terminates, and the horizon (default 500, Meta-World's
``max_path_length``; ``metaworld_ml1/h150`` for a shorter one) ends every episode. Actions are
clipped to [−1, 1]⁴ before stepping. The physics is the cost, so each row owns a Meta-World env,
stepped in a loop; resets are deterministic (Meta-World's reset ignores seeds: a task fixes the
initial state). Each env holds its own MuJoCo model with meshes and textures, ≈ 21 MB for reach-v3,
so a batch of 200 rows takes ≈ 4.4 GB; a batch that would not fit in the available memory is refused
before its envs are built (:func:`rlsuite.cost.check_fits`).

Needs the ``metaworld`` extra (``pip install 'rlsuite[metaworld]'``, metaworld 3.1.1 with mujoco 3.3.0).
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import numpy as np

from rlsuite.cost import check_fits
from rlsuite.errors import ConfigError, unknown
from rlsuite.meta.tasks import RowStep, TaskDistribution, TaskParams, VecTaskEnv

INSTALL_HINT = "pip install 'rlsuite[metaworld]'"


def import_metaworld() -> Any:
    """The ``metaworld`` module, or one clear error saying how to install it."""
    try:
        import metaworld
    except ImportError as err:
        raise ConfigError(f"Meta-World ML1 needs the metaworld package ({err}); install it with: "
                          f"{INSTALL_HINT}") from None
    except OSError as err:  # mujoco's shared library: a mujoco 4 install downgraded in place
        raise ConfigError(f"metaworld cannot load mujoco ({err}); repair it with: pip uninstall mujoco-core "
                          f"mujoco-studio && {INSTALL_HINT}") from None
    return metaworld


@functools.lru_cache(maxsize=8)
def ml1_benchmark(env_name: str, seed: int) -> Any:
    """``metaworld.ML1(env_name, seed)``, built once per process (about a second: it builds the env
    and draws the 100 goal positions). The benchmark is only read afterwards (task lists, env class)."""
    return import_metaworld().ML1(env_name, seed=seed)


class MetaWorldML1(TaskDistribution):
    """Meta-World ML1 on ``env_name``; ``benchmark_seed`` is the seed Meta-World draws its train and
    test goal lists from (fixed: the same lists for every agent and split seed)."""

    def __init__(self, env_name: str = "reach-v3", horizon: int = 500, benchmark_seed: int = 0):
        metaworld = import_metaworld()
        if env_name not in metaworld.ML1.ENV_NAMES:
            raise unknown("Meta-World ML1 env (env.kwargs.env_name)", env_name, metaworld.ML1.ENV_NAMES)
        max_path_length = int(metaworld.sawyer_xyz_env.SawyerXYZEnv.max_path_length)
        if not 1 <= int(horizon) <= max_path_length:
            raise ConfigError(f"Meta-World horizon must be in 1..{max_path_length} (its max_path_length), "
                              f"got {horizon}")
        self.env_name, self.horizon, self.benchmark_seed = env_name, int(horizon), int(benchmark_seed)
        self.name = f"metaworld_ml1/{env_name}"

    @property
    def benchmark(self) -> Any:
        return ml1_benchmark(self.env_name, self.benchmark_seed)

    def tasks(self, held_out: bool) -> list[Any]:
        """Meta-World's meta-test list if ``held_out`` else its meta-training list."""
        return list(self.benchmark.test_tasks if held_out else self.benchmark.train_tasks)

    def sample_params(self, rng: np.random.Generator, n: int) -> TaskParams:
        """``n`` meta-training tasks drawn uniformly from Meta-World's train list."""
        index = rng.integers(0, len(self.tasks(held_out=False)), size=n)
        return {"index": index.astype(np.int64), "held_out": np.zeros(n, dtype=np.int64)}

    def params_for_seeds(self, seeds: np.ndarray) -> TaskParams:
        """Training seed ``s`` names train task ``s % 50``."""
        seeds = np.asarray(seeds, dtype=np.int64).ravel()
        if not len(seeds):
            raise ConfigError("asked for zero tasks; n must be >= 1")
        return {"index": seeds % len(self.tasks(held_out=False)), "held_out": np.zeros(len(seeds), dtype=np.int64)}

    def held_out_params(self, seeds: np.ndarray) -> TaskParams:
        """The i-th held-out seed names test task ``i % 50`` (``seeds`` is a prefix of the held-out pool)."""
        n = len(np.asarray(seeds).ravel())
        if not n:
            raise ConfigError("asked for zero tasks; n must be >= 1")
        return {"index": np.arange(n, dtype=np.int64) % len(self.tasks(held_out=True)),
                "held_out": np.ones(n, dtype=np.int64)}

    def make_vec(self) -> VecMetaWorld:
        return VecMetaWorld(self)


class VecMetaWorld(VecTaskEnv):
    """One Meta-World env per row; row ``b``'s task is set from its ``(index, held_out)`` at reset."""

    def __init__(self, distribution: MetaWorldML1):
        super().__init__()
        self.horizon = distribution.horizon
        self.env_class = distribution.benchmark.train_classes[distribution.env_name]
        self.task_lists = (distribution.tasks(held_out=False), distribution.tasks(held_out=True))
        self.envs: list[Any] = [self.env_class()]
        space = self.envs[0].observation_space
        self.observation_space = gym.spaces.Box(space.low.astype(np.float32), space.high.astype(np.float32),
                                                dtype=np.float32)
        self.action_space = self.envs[0].action_space
        self.env_bytes = int(self.envs[0].model.nbuffer + self.envs[0].data.nbuffer)
        self.success = np.zeros(0, dtype=bool)  # per row: did Meta-World report success in this episode

    def row_task(self, b: int) -> Any:
        """The ``metaworld.types.Task`` row ``b`` runs."""
        held_out = int(self.row_params["held_out"][b])
        return self.task_lists[held_out][int(self.row_params["index"][b])]

    def _reset_rows(self) -> np.ndarray:
        missing = self.n_rows - len(self.envs)
        if missing > 0:
            check_fits("Meta-World envs, one per row", missing * self.env_bytes, per_item=self.env_bytes,
                       items=missing, key="tasks × trajectories per batch", unit="new envs")
        while len(self.envs) < self.n_rows:
            self.envs.append(self.env_class())
        obs = []
        for b in range(self.n_rows):
            self.envs[b].set_task(self.row_task(b))
            obs.append(self.envs[b].reset()[0])
        self.success = np.zeros(self.n_rows, dtype=bool)
        return np.stack(obs).astype(np.float32)

    def _step_rows(self, actions: np.ndarray, noise: dict[str, np.ndarray]) -> RowStep:
        actions = np.clip(actions.reshape(self.n_rows, -1), -1.0, 1.0)
        obs, reward = [], np.zeros(self.n_rows)
        for b in range(self.n_rows):
            o, reward[b], _, _, info = self.envs[b].step(actions[b])
            obs.append(o)
            self.success[b] |= bool(info["success"])
        return np.stack(obs).astype(np.float32), reward, np.zeros(self.n_rows, dtype=bool)
