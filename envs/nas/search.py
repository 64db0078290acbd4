"""Search methods on one budget, counted in child trainings (distinct architectures evaluated).

* :func:`random_search` — architectures drawn uniformly (Bergstra & Bengio; Li & Talwalkar 2019
  found it a strong NAS baseline).
* :func:`regularized_evolution` — Real et al. 2019, Algorithm 1: a population of the ``population``
  most recent children; each cycle samples ``sample_size`` of them, mutates the best (one decision
  changed), evaluates the child and removes the *oldest* member (aging).
* :func:`surrogate_search` — a model-based bar in the spirit of BANANAS (White et al. 2021), reduced
  to what a small space needs: a bootstrap ensemble of ridge regressions on the decisions' one-hots
  and their pairwise products predicts accuracy; each step scores the not-yet-evaluated mutations
  (one and two decisions changed) of the best children so far plus random architectures by
  independent Thompson sampling (ensemble mean + std · N(0, 1)) and evaluates the top one.
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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rlsuite.envs.nas.evaluate import Evaluator
from rlsuite.envs.nas.space import Architecture, SearchSpace


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


def arch_features(space: SearchSpace, archs: Sequence[Architecture]) -> np.ndarray:
    """One-hot of every decision and the products of every pair of decisions' one-hots (the
    interactions a layer's choices have with another's), plus a constant column."""
    offsets = np.concatenate([[0], np.cumsum(space.sizes)])
    onehot = np.zeros((len(archs), int(offsets[-1])))
    for row, arch in enumerate(archs):
        onehot[row, offsets[:-1] + np.asarray(arch)] = 1.0
    blocks = [onehot[:, offsets[i]:offsets[i + 1]] for i in range(space.n_decisions)]
    pairs = [(blocks[i][:, :, None] * blocks[j][:, None, :]).reshape(len(archs), -1)
             for i in range(space.n_decisions) for j in range(i + 1, space.n_decisions)]
    return np.concatenate([np.ones((len(archs), 1)), onehot, *pairs], axis=1)


def ridge_ensemble(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, members: int,
                   alpha: float) -> np.ndarray:
    """``members`` ridge weight vectors (columns), each fitted on a bootstrap resample of ``(x, y)``."""
    weights = []
    for _ in range(members):
        rows = rng.integers(0, len(x), len(x))
        xs, ys = x[rows], y[rows]
        # the dual form: n × n instead of features × features (n is at most the budget)
        weights.append(xs.T @ np.linalg.solve(xs @ xs.T + alpha * np.eye(len(xs)), ys - ys.mean()))
    return np.stack(weights, 1)


def surrogate_search(evaluator: Evaluator, budget: int, seed: int, initial: int = 10, members: int = 5,
                     alpha: float = 1.0, parents: int = 5, random_candidates: int = 20) -> SearchResult:
    _announce_budget(evaluator, budget)
    rng = np.random.default_rng(seed)
    space = evaluator.space
    archs: list[Architecture] = []
    accs: list[float] = []
    seen: set[Architecture] = set()

    def evaluate(arch: Architecture) -> None:
        archs.append(arch)
        accs.append(float(evaluator.evaluate([arch])[0]["val_acc"]))
        seen.add(arch)

    draws = 0
    while len(archs) < min(initial, budget, space.size) and draws < 10 * initial:  # distinct random starts
        arch = space.random(rng)
        draws += 1
        if arch not in seen:
            evaluate(arch)
    while evaluator.trained < budget and len(seen) < space.size:
        y = np.asarray(accs)
        weights = ridge_ensemble(arch_features(space, archs), y, rng, members, alpha)
        best_first = [archs[int(i)] for i in np.argsort(-y)[:parents]]
        pool = {space.mutate(space.mutate(a, rng), rng) for a in best_first for _ in range(space.n_decisions)}
        pool |= {neighbour for a in best_first for neighbour in neighbours(space, a)}
        pool |= {space.random(rng) for _ in range(random_candidates)}
        candidates = [a for a in pool if a not in seen]
        if not candidates:
            candidates = [a for a in (space.random(rng) for _ in range(100 * random_candidates)) if a not in seen][:1]
            if not candidates:
                break
        predicted = arch_features(space, candidates) @ weights + y.mean()
        score = predicted.mean(1) + predicted.std(1) * rng.standard_normal(len(candidates))
        evaluate(candidates[int(np.argmax(score))])
    return _result("surrogate", evaluator, budget)


def neighbours(space: SearchSpace, arch: Architecture) -> list[Architecture]:
    """Every architecture one decision away from ``arch``."""
    out = []
    for i, n in enumerate(space.sizes):
        for value in range(n):
            if value != arch[i]:
                out.append((*tuple(arch[:i]), value, *tuple(arch[i + 1:])))
    return out


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
