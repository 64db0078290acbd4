"""Classic bandit strategies, the baselines of RL²'s table 1 (Duan et al. 2016), run on many
Bernoulli bandits at once: every strategy maps the per-arm pull counts and successes of all
bandits, shape ``(bandits, k)``, to one arm per bandit, and :func:`run_strategy` plays ``n`` pulls.

* random — uniform arm.
* greedy — the arm with the highest posterior mean (s + 1) / (c + 2) under a Beta(1, 1) prior.
* ε-greedy — greedy, but a uniform arm with probability ε.
* UCB1 (Auer et al. 2002) — each arm once, then argmax  s/c + c_ucb · sqrt(2 ln t / c).
* UCB1 with a Beta(1, 1) prior — argmax (s + 1)/(c + 2) + c_ucb · sqrt(2 ln(t + 1) / (c + 2)), no
  forced first pull of every arm. The paper's UCB1 column (6.6 at n = 10, k = 50; 84.3 at n = 100,
  k = 50) cannot come from textbook UCB1, which spends the first k pulls on each arm once (at k = 50
  that is half of the n = 100 pulls at random); the paper does not give its variant, this is our
  reading, reported beside the textbook one.
* Thompson sampling — argmax of one draw from each arm's Beta(s + 1, c − s + 1) posterior.
* Gittins index (Gittins 1979) — argmax of each arm's discounted Gittins index under its Beta
  posterior, from a table computed by calibration (:func:`gittins_table`); the discount γ is the
  hyperparameter (the trials are undiscounted and finite; the paper does not give its γ either).
* Bayes-optimal (n ≤ 20) — the exact optimum of the task distribution itself (independent U[0, 1]
  arms, n pulls): dynamic programming over posterior states (:func:`bayes_optimal_value`). No
  strategy, learned or not, earns more on average; the paper's n = 10, k = 50 RL² figure (6.8)
  lies above it (6.714), i.e. within its evaluation noise, not a reachable mean.

Ties are broken uniformly at random. The paper tuned each strategy's hyperparameter; so does
:func:`tune`, on meta-training bandits, before the held-out evaluation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from rlsuite.errors import ConfigError

Strategy = Callable[[np.ndarray, np.ndarray, int, np.random.Generator], np.ndarray]
TIE_NOISE = 1e-9  # smaller than any gap between distinct posterior means with n <= 10,000 pulls


def _argmax_random_ties(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.argmax(values + TIE_NOISE * rng.random(values.shape), axis=1)


def posterior_mean(counts: np.ndarray, successes: np.ndarray) -> np.ndarray:
    return (successes + 1.0) / (counts + 2.0)


def ucb1_index(counts: np.ndarray, successes: np.ndarray, t: int, c: float = 1.0) -> np.ndarray:
    """s/c + c_ucb·sqrt(2 ln t / c) for arms pulled before, +inf for the rest (pulled first)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        index = successes / counts + c * np.sqrt(2.0 * np.log(max(t, 1)) / counts)
    return np.where(counts > 0, index, np.inf)


def ucb1_prior_index(counts: np.ndarray, successes: np.ndarray, t: int, c: float = 1.0) -> np.ndarray:
    """Posterior mean under Beta(1, 1) plus c_ucb·sqrt(2 ln(t + 1) / (c + 2)): the prior counts as
    two pseudo-pulls, so unpulled arms have a finite index."""
    return posterior_mean(counts, successes) + c * np.sqrt(2.0 * np.log(t + 1.0) / (counts + 2.0))


def random_strategy(counts: np.ndarray, successes: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(rng.integers(0, counts.shape[1], size=counts.shape[0]))


def greedy(counts: np.ndarray, successes: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
    return _argmax_random_ties(posterior_mean(counts, successes), rng)


def epsilon_greedy(epsilon: float) -> Strategy:
    def choose(counts: np.ndarray, successes: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
        explore = rng.random(counts.shape[0]) < epsilon
        return np.where(explore, random_strategy(counts, successes, t, rng), greedy(counts, successes, t, rng))

    return choose


def ucb1(c: float = 1.0) -> Strategy:
    def choose(counts: np.ndarray, successes: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
        return _argmax_random_ties(ucb1_index(counts, successes, t, c), rng)

    return choose


def ucb1_prior(c: float = 1.0) -> Strategy:
    def choose(counts: np.ndarray, successes: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
        return _argmax_random_ties(ucb1_prior_index(counts, successes, t, c), rng)

    return choose


def thompson(counts: np.ndarray, successes: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
    return np.argmax(rng.beta(successes + 1.0, counts - successes + 1.0), axis=1)


def gittins_table(gamma: float, n: int, depth: int | None = None, iters: int = 40) -> np.ndarray:
    """Gittins indices G[a, b] of a Bernoulli arm with a Beta(a, b) posterior, for a + b ≤ n + 2
    (every state n pulls from a Beta(1, 1) prior can reach), discount ``gamma``.

    Calibration: G is the retirement reward λ per step at which, from (a, b), playing on optimally
    and retiring for good (λ/(1 − γ)) are worth the same. The optimal-stopping value
        W(a, b) = max(λ/(1 − γ), p + γ (p W(a + 1, b) + (1 − p) W(a, b + 1))),   p = a / (a + b),
    is solved by backward induction over ``depth`` (default n) further pulls, beyond which the arm
    is valued at max(λ, p)/(1 − γ); λ by bisection, all start states at once."""
    if not 0.0 <= gamma < 1.0:
        raise ConfigError(f"Gittins index: gamma must be in [0, 1), got {gamma}")
    depth = n if depth is None else depth
    starts = [(a, b) for a in range(1, n + 2) for b in range(1, n + 3 - a)]
    a0 = np.array([a for a, _ in starts], dtype=np.float64)[:, None]
    b0 = np.array([b for _, b in starts], dtype=np.float64)[:, None]
    low, high = np.zeros(len(starts)), np.ones(len(starts))
    for _ in range(iters):
        lam = (low + high) / 2
        retire = (lam / (1.0 - gamma))[:, None]
        i = np.arange(depth + 1)[None, :]  # successes among the `depth` further pulls
        p = (a0 + i) / (a0 + b0 + depth)
        value = np.maximum(retire, p / (1.0 - gamma))
        for d in range(depth - 1, -1, -1):
            i = np.arange(d + 1)[None, :]
            p = (a0 + i) / (a0 + b0 + d)
            play = p + gamma * (p * value[:, 1:] + (1.0 - p) * value[:, :-1])
            if d == 0:
                break
            value = np.maximum(retire, play)
        keep_playing = play[:, 0] >= retire[:, 0]
        low, high = np.where(keep_playing, lam, low), np.where(keep_playing, high, lam)
    table = np.full((n + 2, n + 2), np.nan)
    table[a0[:, 0].astype(int), b0[:, 0].astype(int)] = (low + high) / 2
    return table


def gittins(gamma: float, n: int) -> Strategy:
    table = gittins_table(gamma, n)

    def choose(counts: np.ndarray, successes: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
        a = (successes + 1).astype(np.int64)
        b = (counts - successes + 1).astype(np.int64)
        return _argmax_random_ties(table[a, b], rng)

    return choose


BAYES_OPTIMAL_MAX_PULLS = 20  # the posterior-state space grows combinatorially with n


def bayes_optimal_q(n: int, k: int) -> Callable[[tuple[tuple[int, int], ...], tuple[int, int], int], float]:
    """The Bayes-optimal action values of n-pull, k-arm Bernoulli bandits with U[0, 1] arms:
    ``q(state, arm, r)`` is the expected reward of the ``r`` pulls left when pulling the arm with
    (successes, failures) ``arm`` now and acting optimally afterwards. Arms are exchangeable, so a
    state is the sorted tuple of the pulled arms' (successes, failures); (0, 0) is a fresh arm."""
    if not 1 <= n <= BAYES_OPTIMAL_MAX_PULLS:
        raise ConfigError(f"Bayes-optimal bandit values: n must be in 1..{BAYES_OPTIMAL_MAX_PULLS}, got {n}")

    def after(state: tuple[tuple[int, int], ...], arm: tuple[int, int], outcome: tuple[int, int]
              ) -> tuple[tuple[int, int], ...]:
        rest = list(state)
        if arm != (0, 0):
            rest.remove(arm)
        return tuple(sorted([*rest, (arm[0] + outcome[0], arm[1] + outcome[1])]))

    @functools.cache
    def value(state: tuple[tuple[int, int], ...], r: int) -> float:
        if r == 0:
            return 0.0
        arms = set(state) | ({(0, 0)} if len(state) < k else set())
        return max(q(state, arm, r) for arm in arms)

    def q(state: tuple[tuple[int, int], ...], arm: tuple[int, int], r: int) -> float:
        p = (arm[0] + 1) / (arm[0] + arm[1] + 2)  # posterior mean under the Beta(1, 1) prior
        return p * (1.0 + value(after(state, arm, (1, 0)), r - 1)) + (1.0 - p) * value(after(state, arm, (0, 1)), r - 1)

    return q


def bayes_optimal_value(n: int, k: int) -> float:
    """The most any strategy can earn on average over the task distribution (exact)."""
    q = bayes_optimal_q(n, k)
    return q((), (0, 0), n)


def bayes_optimal(n: int, k: int) -> Strategy:
    """Plays :func:`bayes_optimal_q`'s argmax (a Python loop over bandits: for small n only)."""
    q = bayes_optimal_q(n, k)

    def choose(counts: np.ndarray, successes: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
        arms = np.stack([successes, counts - successes], axis=-1).astype(np.int64)
        values = np.empty(counts.shape)
        for b in range(counts.shape[0]):
            state = tuple(sorted((int(s), int(f)) for s, f in arms[b] if s + f > 0))
            by_state: dict[tuple[int, int], float] = {}
            for a, (s, f) in enumerate(arms[b]):
                key = (int(s), int(f))
                if key not in by_state:
                    by_state[key] = q(state, key, n - t)
                values[b, a] = by_state[key]
        return _argmax_random_ties(values, rng)

    return choose


def run_strategy(strategy: Strategy, p: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Total reward of ``n`` pulls on each bandit (rows of ``p``, success probabilities)."""
    bandits, k = p.shape
    counts = np.zeros((bandits, k))
    successes = np.zeros((bandits, k))
    total = np.zeros(bandits)
    rows = np.arange(bandits)
    for t in range(n):  # t pulls done so far
        arms = strategy(counts, successes, t, rng)
        reward = (rng.random(bandits) < p[rows, arms]).astype(np.float64)
        counts[rows, arms] += 1.0
        successes[rows, arms] += reward
        total += reward
    return total


def tune(make: Callable[[float], Strategy], grid: Sequence[float], p: np.ndarray, n: int, seed: int) -> float:
    """The hyperparameter in ``grid`` with the highest mean total reward on the bandits ``p``."""
    if not grid:
        raise ConfigError("tune() needs a non-empty grid")
    scores = [run_strategy(make(x), p, n, np.random.default_rng(seed)).mean() for x in grid]
    return float(grid[int(np.argmax(scores))])


EPSILON_GRID = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3)
UCB_GRID = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
GITTINS_GAMMA_GRID = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)


def baseline_table(p_train: np.ndarray, p_test: np.ndarray, n: int, seed: int) -> dict[str, dict[str, float]]:
    """Mean total reward (and its standard error) of each strategy on the held-out bandits
    ``p_test``; ε and the UCB constant are tuned on ``p_train`` first. ``ucb1`` is the textbook
    constant 1, ``ucb1_tuned`` the tuned one, ``ucb1_prior`` the tuned Beta(1, 1)-prior variant."""
    eps = tune(epsilon_greedy, EPSILON_GRID, p_train, n, seed)
    c_ucb = tune(ucb1, UCB_GRID, p_train, n, seed)
    c_prior = tune(ucb1_prior, UCB_GRID, p_train, n, seed)
    gamma = tune(lambda g: gittins(g, n), GITTINS_GAMMA_GRID, p_train, n, seed)
    strategies: dict[str, tuple[Strategy, float | None]] = {
        "random": (random_strategy, None),
        "greedy": (greedy, None),
        "epsilon_greedy": (epsilon_greedy(eps), eps),
        "ucb1": (ucb1(1.0), 1.0),
        "ucb1_tuned": (ucb1(c_ucb), c_ucb),
        "ucb1_prior": (ucb1_prior(c_prior), c_prior),
        "thompson": (thompson, None),
        "gittins": (gittins(gamma, n), gamma),
    }
    if n <= BAYES_OPTIMAL_MAX_PULLS:
        strategies["bayes_optimal"] = (bayes_optimal(n, p_test.shape[1]), None)
    table = {}
    for name, (strategy, hparam) in strategies.items():
        totals = run_strategy(strategy, p_test, n, np.random.default_rng(seed + 1))
        row = {"mean": float(totals.mean()), "sem": float(totals.std(ddof=1) / np.sqrt(len(totals)))}
        if hparam is not None:
            row["hparam"] = hparam
        table[name] = row
    return table
