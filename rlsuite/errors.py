"""Typed errors. The CLI prints ``str(err)`` as one line and exits non-zero; the API raises them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RLSuiteError(Exception):
    """Base class of every error rlsuite raises on purpose (bad input, bad files)."""

    exit_code = 2


class ConfigError(RLSuiteError, ValueError):
    """A config key, value or override is wrong."""


class UnknownNameError(ConfigError, KeyError):
    """An agent, env, key or option name that does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class IncompatibleEnvError(RLSuiteError, TypeError):
    """The agent cannot handle the env's observation or action space."""


class CheckpointError(RLSuiteError, OSError):
    """A checkpoint or run directory is missing, truncated, tampered with or foreign."""


class LeaderboardError(RLSuiteError, OSError):
    """The leaderboard database cannot be used (corrupt, foreign, locked)."""


class InsufficientMemoryError(ConfigError):
    """A preallocation (a replay buffer) would not fit in the memory available; raised before the
    run starts, naming what it needs, what is available and the setting to lower."""


class NonFiniteError(RLSuiteError, ArithmeticError):
    """Training met a NaN or ±inf: in what the env returned (observation, reward) or in what an
    update computed (a loss, a gradient norm). Training stops before the bad values reach a
    checkpoint; ``step``, ``source`` and ``env_index`` (env values only) say where it happened.
    ``rlsuite.train`` adds the run directory and the last checkpoint to the message."""

    exit_code = 1  # not bad input: the run diverged or the env misbehaved

    def __init__(self, message: str, *, step: int, source: str, env_index: int | None = None):
        super().__init__(message)
        self.step, self.source, self.env_index = int(step), source, env_index
        self.where = ""  # set by rlsuite.train: the run directory and last checkpoint

    def __str__(self) -> str:
        hint = " (check_finite=false turns this check off)"
        return f"non-finite value: {self.args[0]}; training stopped.{self.where}{hint}"


def suggest(name: str, choices: Iterable[str], n: int = 3) -> str:
    """Return ' Did you mean: a, b?' for close matches of ``name`` (or '' when none is close)."""
    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=n, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)]
    return f" Did you mean: {', '.join(close)}?" if close else ""


def unknown(kind: str, name: str, choices: Iterable[str]) -> UnknownNameError:
    """Build the standard 'unknown X' error: what was wrong, what is accepted, close matches."""
    choices = sorted(set(choices))
    shown = ", ".join(choices[:30]) + (", ..." if len(choices) > 30 else "")
    return UnknownNameError(f"unknown {kind} '{name}'.{suggest(name, choices)} Accepted: {shown}")
