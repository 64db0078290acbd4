"""Search methods on one budget, counted in child trainings (distinct architectures evaluated).

* :func:`random_search` — architectures drawn uniformly (Bergstra & Bengio; Li & Talwalkar 2019
  found it a strong NAS baseline).
* :func:`regularized_evolution` — Real et al. 2019, Algorithm 1: a population of the ``population``
  most recent children; each cycle samples ``sample_size`` of them, mutates the best (one decision
  changed), evaluates the child and removes the *oldest* member (aging).
* :func:`controller_search` — any rlsuite agent (by default REINFORCE with the recurrent controller
  and the EMA baseline, the env config's ``hparams``) trained on ``env=nas/<space>`` until the budget
  of distinct children is spent.

A repeated architecture costs no training (the cache / table answers it), so every method's budget is
the same number of distinct children; ``max_samples`` (default 10 × budget) bounds the draws of a
method that keeps repeating itself (a converged controller then ends with fewer children). Each
returns a :class:`SearchResult`: validation accuracies of the distinct children in order (cut at the
budget) and every sample's accuracy.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from rlsuite.envs.nas.evaluate import Evaluator
from rlsuite.envs.nas.space import Architecture


@dataclass
class SearchResult:
    method: str
    children: list[float]  # val accuracy of each distinct child, in the order trained (≤ budget)
    samples: list[float]  # val accuracy of every architecture drawn, repeats included
    best_arch: Architecture | None

    @property
    def best(self) -> float:
        return max(self.children) if self.children else float("nan")

    def best_curve(self, budget: int) -> np.ndarray:
        """Best validation accuracy found after 1..budget children; a search that stopped early (a
        converged controller at its sample cap) keeps its final best for the rest of the budget."""
        running = np.maximum.accumulate(np.asarray(self.children[:budget], np.float64))
        curve = np.full(budget, running[-1] if len(running) else np.nan)
        curve[:len(running)] = running
        return curve


def _result(method: str, evaluator: Evaluator, budget: int) -> SearchResult:
    history = evaluator.history[:budget]
    best = max(history, key=lambda item: item[1]["val_acc"])[0] if history else None
    return SearchResult(method, [float(r["val_acc"]) for _, r in history], list(evaluator.samples), best)


def _announce_budget(evaluator: Evaluator, budget: int) -> None:
    """Progress lines of a live evaluator count children out of the search's budget."""
    progress = getattr(evaluator, "progress", None)
    if progress is not None:
        progress.total = budget


def random_search(evaluator: Evaluator, budget: int, seed: int, max_samples: int | None = None) -> SearchResult:
    _announce_budget(evaluator, budget)
    rng = np.random.default_rng(seed)
    space = evaluator.space
    cap = max_samples or 10 * budget
    draws = 0
    while evaluator.trained < budget and draws < cap:
        evaluator.evaluate([space.random(rng)])
        draws += 1
    return _result("random", evaluator, budget)


def regularized_evolution(evaluator: Evaluator, budget: int, seed: int, population: int = 10, sample_size: int = 3,
                          max_samples: int | None = None) -> SearchResult:
    _announce_budget(evaluator, budget)
    rng = np.random.default_rng(seed)
    space = evaluator.space
    cap = max_samples or 10 * budget
    members: deque[tuple[Architecture, float]] = deque()
    draws = 0
    while len(members) < population and evaluator.trained < budget and draws < cap:
        arch = space.random(rng)
        members.append((arch, float(evaluator.evaluate([arch])[0]["val_acc"])))
        draws += 1
    while evaluator.trained < budget and draws < cap and members:
        picks = rng.choice(len(members), size=min(sample_size, len(members)), replace=False)
        parent = max((members[int(i)] for i in picks), key=lambda m: m[1])[0]
        child = space.mutate(parent, rng)
        members.append((child, float(evaluator.evaluate([child])[0]["val_acc"])))
        members.popleft()  # aging: the oldest dies, not the worst
        draws += 1
    return _result("evolution", evaluator, budget)


def controller_search(env_name: str, budget: int, seed: int, agent: str = "reinforce",
                      env_kwargs: dict[str, Any] | None = None, max_samples: int | None = None,
                      **agent_kwargs: Any) -> SearchResult:
    """Train ``agent`` on ``env_name`` (its env config's hparams, then ``agent_kwargs``) until
    ``budget`` distinct children have been evaluated or ``max_samples`` architectures were drawn."""
    import rlsuite
    from rlsuite import registry
    from rlsuite.config import env_defaults
    from rlsuite.envspec import env_spec_from

    tuned, _ = env_defaults(registry.get_agent(agent), env_name)  # the env config's hparams.<agent>
    tuned.pop("total_steps", None)
    spec = env_spec_from(env_name)
    if env_kwargs:
        spec.kwargs = {**spec.kwargs, **env_kwargs}
    learner = rlsuite.make_agent(agent, env=spec, seed=seed, tuned=False, **{**tuned, **agent_kwargs})
    n_envs = int(getattr(learner.config, "n_envs", 1))
    batch = int(getattr(learner.config, "batch_episodes", 1))
    length = int(np.prod(learner.observation_space.shape or (1,)))  # > decisions per episode; a chunk size only
    cap = max_samples or 10 * budget
    evaluator: Evaluator | None = None
    while evaluator is None or (evaluator.trained < budget and len(evaluator.samples) < cap):
        learner.learn(total_steps=length * max(n_envs, batch))
        envs: Any = learner.envs
        evaluator = envs.evaluator
        _announce_budget(evaluator, budget)
    assert evaluator is not None
    result = _result(agent, evaluator, budget)
    if learner.envs is not None:
        learner.envs.close()
    return result
