"""Meta-RL: the task-distribution contract (:mod:`rlsuite.meta.tasks`), the meta-test protocol
(:mod:`rlsuite.meta.protocol`) and the bandit baselines (:mod:`rlsuite.meta.bandit_baselines`)."""

from __future__ import annotations

from typing import Any

from rlsuite.errors import IncompatibleEnvError
from rlsuite.meta.tasks import MetaSplit, TaskDistribution, TaskEnv, TaskSet, VecTaskEnv

__all__ = ["MetaSplit", "TaskDistribution", "TaskEnv", "TaskSet", "VecTaskEnv", "task_distribution"]


def task_distribution(env_spec: Any, agent_name: str = "this agent") -> TaskDistribution:
    """The task distribution behind an env spec (``env=navigation2d``, ``env=bandits/k5-n10``)."""
    from rlsuite.registry import get_env_plugin

    plugin = get_env_plugin(env_spec.plugin) if env_spec.rebuildable else None
    if plugin is None or not hasattr(plugin, "distribution"):
        raise IncompatibleEnvError(
            f"agent '{agent_name}' needs a task-distribution env (navigation2d, bandits/k5-n10, tabular_mdp), "
            f"got {env_spec.label}"
        )
    return plugin.distribution(env_spec.id, **dict(env_spec.kwargs))
