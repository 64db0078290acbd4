"""The meta-test protocol of gradient-based meta-learners (MAML and the baselines it is compared
with): on held-out tasks, sample trajectories with the current parameters, take one policy-gradient
step per task on them, sample again, … and report the mean return after 0, 1, …, ``steps`` steps.

The agent provides ``params()`` (its meta-learned θ), ``per_task(params, n)`` (θ repeated per task),
``sample(tasks, params_t, rng, n_traj)``, ``advantages(episodes)`` and
``adapt(params_t, episodes, advantages, lr, create_graph)``, all over a leading task dim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlsuite.errors import ConfigError
from rlsuite.meta.tasks import TaskSet


@dataclass
class MetaEvaluation:
    """What a meta-learner's ``meta_evaluate(n_tasks, seed, adapt_steps)`` returns to
    :func:`rlsuite.evaluate`: one score per held-out task and how it was obtained."""

    protocol: str  # the leaderboard label: meta-adaptation/k3, meta-trial/e2
    scores: np.ndarray  # one number per held-out task (return after the last step; trial total)
    env_steps: np.ndarray  # env steps behind each task's score
    summary: str  # one line for the CLI
    details: dict[str, Any] = field(default_factory=dict)  # per-step / per-episode returns, settings


def adaptation_returns(agent: Any, tasks: TaskSet, steps: int, step_sizes: list[float],
                       rng: np.random.Generator, n_traj: int | None = None) -> dict[str, Any]:
    """``{"returns": [mean after 0 steps, after 1, …], "per_task": [[…] per step], "step_sizes": […]}``;
    step k (1-based) uses ``step_sizes[k - 1]``, the last size repeating. Where the task env reports
    a per-row ``success`` (Meta-World), ``"success"`` is the fraction of trajectories that succeeded
    after 0, 1, … steps."""
    if steps < 0 or not step_sizes:
        raise ConfigError("adaptation: steps must be >= 0 and step_sizes non-empty")
    params_t = {name: p.detach() for name, p in agent.per_task(agent.params(), len(tasks)).items()}
    means, per_task, used, success = [], [], [], []
    for k in range(steps + 1):
        eps = agent.sample(tasks, params_t, rng, n_traj)
        task_returns = eps.returns().mean(dim=-1)
        means.append(float(task_returns.mean()))
        per_task.append([float(r) for r in task_returns])
        row_success = getattr(getattr(agent, "vec", None), "success", None)
        if row_success is not None:
            success.append(float(np.mean(row_success)))
        if k == steps:
            break
        lr = float(step_sizes[min(k, len(step_sizes) - 1)])
        used.append(lr)
        adapted = agent.adapt(params_t, eps, agent.advantages(eps), lr, create_graph=False)
        params_t = {name: p.detach() for name, p in adapted.items()}
    result = {"returns": means, "per_task": per_task, "step_sizes": used, "tasks": [int(s) for s in tasks.seeds]}
    return {**result, "success": success} if success else result
