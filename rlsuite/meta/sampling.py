"""Roll out a batch of tasks × trajectories on a :class:`~rlsuite.meta.tasks.VecTaskEnv` with one
policy call per time step for the whole batch; the result is laid out task-first for per-task
maths (baselines, inner gradient steps)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from rlsuite.meta.tasks import TaskSet, VecTaskEnv


@dataclass
class Episodes:
    """``obs (T, H, N, obs_dim)``, ``actions (T, H, N, …)``, ``rewards`` and ``mask (T, H, N)`` for T
    tasks, horizon H and N trajectories per task. ``mask`` is 1 while the episode is running (2D
    navigation can end early at its goal); rewards are already 0 where it is 0."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    mask: torch.Tensor

    def task(self, i: int) -> Episodes:
        return Episodes(self.obs[i], self.actions[i], self.rewards[i], self.mask[i])

    def returns(self) -> torch.Tensor:
        """Undiscounted return of each trajectory, ``(T, N)``."""
        return self.rewards.sum(dim=-2)

    @property
    def n_steps(self) -> int:
        return int(np.prod(self.rewards.shape))


# act(obs of shape (T, N, obs_dim)) -> actions of shape (T, N, …), as a tensor
ActFn = Callable[[torch.Tensor], torch.Tensor]


def sample_episodes(vec: VecTaskEnv, tasks: TaskSet, n_traj: int, act: ActFn, rng: np.random.Generator,
                    device: torch.device | str = "cpu") -> Episodes:
    n_tasks, horizon = len(tasks), vec.horizon
    vec.set_tasks(tasks.params, n_traj)
    obs = vec.reset()
    obs_steps, action_steps, reward_steps, mask_steps = [], [], [], []
    with torch.no_grad():
        for _ in range(horizon):
            obs_t = torch.as_tensor(obs, device=device).view(n_tasks, n_traj, -1)
            actions = act(obs_t)
            rows = actions.reshape(n_tasks * n_traj, *actions.shape[2:]).cpu().numpy()
            obs_next, reward, alive, _ = vec.step(rows, vec.draw_noise(rng))
            obs_steps.append(obs_t)
            action_steps.append(actions)
            reward_steps.append(torch.as_tensor(reward, dtype=torch.float32).view(n_tasks, n_traj))
            mask_steps.append(torch.as_tensor(alive, dtype=torch.float32).view(n_tasks, n_traj))
            obs = obs_next
    return Episodes(
        obs=torch.stack(obs_steps, dim=1),
        actions=torch.stack(action_steps, dim=1),
        rewards=torch.stack(reward_steps, dim=1).to(device),
        mask=torch.stack(mask_steps, dim=1).to(device),
    )
