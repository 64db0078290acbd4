"""NAS as an episode: one decision per step, the trained child's accuracy as the final reward.

Step t picks option ``a_t`` of decision t (layer t // K, key t % K of the search space). The
observation is what Zoph & Le's controller reads: the previous decision (one-hot over
``max options + 1``, the extra slot being the start token) and the position (one-hot over the
decisions). The action space is ``Discrete(max options)``; a decision with fewer options takes
``a_t mod n`` (the built-in spaces give every decision the same number). Rewards are 0 until the
last decision, then the child's validation accuracy (or MnasNet's ``acc · (FLOPs/T)^w``).

:class:`NASVectorEnv` steps N episodes in lockstep (every episode has the same length), so the N
architectures of a step finish together and are evaluated as one batch: cached ones are read
back, the others are trained in parallel by the evaluator's executor. It keeps Gymnasium's
same-step autoreset contract (the returned observation after the last decision is the next
episode's first).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector.utils import batch_space
from rlsuite.envs.nas.evaluate import Evaluator, reward_of
from rlsuite.envs.nas.space import SearchSpace


class DecisionCoder:
    """Observation layout and decoding shared by the single and the vector env."""

    def __init__(self, space: SearchSpace):
        self.space = space
        self.n_options = max(space.sizes)
        self.start_token = self.n_options
        self.length = space.n_decisions
        self.observation_space = gym.spaces.Box(0.0, 1.0, (self.n_options + 1 + self.length,), np.float32)
        self.action_space = gym.spaces.Discrete(self.n_options)

    def observe(self, previous: np.ndarray, position: int) -> np.ndarray:
        """``previous`` (N,) decision indices (or the start token) at ``position`` -> (N, obs_dim)."""
        obs = np.zeros((len(previous), self.observation_space.shape[0]), np.float32)
        obs[np.arange(len(previous)), previous] = 1.0
        obs[:, self.n_options + 1 + position] = 1.0
        return obs

    def option(self, action: int, position: int) -> int:
        return int(action) % self.space.sizes[position]


class NASEnv(gym.Env[np.ndarray, np.int64]):
    """One controller episode = one architecture (a single env; the vector env batches children)."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, space: SearchSpace, evaluator: Evaluator, flops_target: float | None = None,
                 mnas_w: float = -0.07):
        self.coder = DecisionCoder(space)
        self.space, self.evaluator = space, evaluator
        self.flops_target, self.mnas_w = flops_target, mnas_w
        self.observation_space = self.coder.observation_space
        self.action_space = self.coder.action_space
        self.decisions: list[int] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.decisions = []
        return self.coder.observe(np.array([self.coder.start_token]), 0)[0], {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        position = len(self.decisions)
        self.decisions.append(self.coder.option(int(action), position))
        if len(self.decisions) < self.coder.length:
            return self.coder.observe(np.array([self.decisions[-1]]), len(self.decisions))[0], 0.0, False, False, {}
        arch = tuple(self.decisions)
        result = self.evaluator.evaluate([arch])[0]
        obs = self.coder.observe(np.array([self.coder.start_token]), 0)[0]
        info = {"val_acc": result["val_acc"], "flops": result["flops"], "architecture": self.space.describe(arch)}
        return obs, reward_of(result, self.flops_target, self.mnas_w), True, False, info

    def close(self) -> None:
        self.evaluator.close()


class NASVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` controller episodes in lockstep; their children are evaluated as one batch."""

    def __init__(self, num_envs: int, space: SearchSpace, evaluator: Evaluator, flops_target: float | None = None,
                 mnas_w: float = -0.07):
        self.coder = DecisionCoder(space)
        self.space, self.evaluator = space, evaluator
        self.flops_target, self.mnas_w = flops_target, mnas_w
        self.num_envs = int(num_envs)
        self.single_observation_space = self.coder.observation_space
        self.single_action_space = self.coder.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}
        self.render_mode = None
        self.decisions = np.zeros((self.num_envs, self.coder.length), np.int64)
        self.position = 0

    def _start(self) -> np.ndarray:
        self.position = 0
        return self.coder.observe(np.full(self.num_envs, self.coder.start_token), 0)

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        return self._start(), {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        t = self.position
        self.decisions[:, t] = [self.coder.option(a, t) for a in np.asarray(actions).reshape(-1)]
        self.position += 1
        rewards = np.zeros(self.num_envs, np.float64)
        done = np.full(self.num_envs, self.position == self.coder.length)
        if not done[0]:
            return self.coder.observe(self.decisions[:, t], self.position), rewards, done, np.zeros_like(done), {}
        archs = [tuple(int(d) for d in row) for row in self.decisions]
        results = self.evaluator.evaluate(archs)
        rewards[:] = [reward_of(r, self.flops_target, self.mnas_w) for r in results]
        return self._start(), rewards, done, np.zeros(self.num_envs, bool), {}

    def close_extras(self, **kwargs: Any) -> None:
        self.evaluator.close()


def controller_architectures(agent: Any, space: SearchSpace, n: int, seed: int,
                             deterministic: bool = False) -> list[tuple[int, ...]]:
    """``n`` architectures the controller (any agent with ``act``) emits, decision by decision as in
    :class:`NASEnv`. Sampled ones draw from torch's generator seeded by ``seed`` inside a fork, so
    they repeat with the seed and never move the caller's random stream."""
    import torch

    coder = DecisionCoder(space)
    out = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _ in range(n):
            begin_episode = getattr(agent, "begin_episode", None)
            if begin_episode is not None:
                begin_episode()  # a recurrent controller starts every architecture from its zero state
            obs = coder.observe(np.array([coder.start_token]), 0)
            decisions: list[int] = []
            for t in range(coder.length):
                action = np.asarray(agent.act(obs, deterministic=deterministic)).reshape(-1)[0]
                decisions.append(coder.option(int(action), t))
                if t + 1 < coder.length:
                    obs = coder.observe(np.array([decisions[-1]]), t + 1)
            out.append(tuple(decisions))
    return out
