"""The non-finite guard: stop training at the first NaN/±inf instead of training on garbage.

On by default (SB3 has the same checks as an opt-in wrapper, ``VecCheckNan``). Two kinds of check:

* **What the env returns** (:func:`check_env_step`, called by the shared loops after every
  ``envs.step`` and on reset observations): observations with a floating dtype and rewards (as the
  float32 values the agent learns from, so a reward that overflows float32 counts too). One
  compiled pass over each array per step; the env index is looked up only on failure.
* **What an update computes** (:class:`NonFiniteWatch`): the base class
  (:meth:`rlsuite.agent.Agent.finish_update`) adds every tensor of the ``UpdateStats`` an update
  returns (losses, gradient norms) to ``agent.nonfinite`` and checks them once, next to the
  update's logging, so every value of the update is checked with one host sync (free on CPU; on a
  GPU it lands where the logging syncs anyway). A non-finite loss almost always shows up in the
  gradient norm as well; the first value in update order is the one reported.

Either raises :class:`rlsuite.errors.NonFiniteError` naming the step, the source and (for env
values) the env index. The update that saw it does not reach a checkpoint: checkpoints are written
after the loop's step/update hook, which the error skips, so the last one on disk is from before.
Off switch: ``check_finite=false`` (train key), ``make_agent(..., check_finite=False)`` or
``agent.nonfinite.enabled = False``.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np
import torch

from rlsuite.errors import NonFiniteError


@nb.njit(cache=True, nogil=True)
def _all_finite(values: np.ndarray) -> bool:  # pragma: no cover - compiled
    for x in values.flat:  # noqa: SIM110 - numba compiles this early-exit loop, not all() over a generator
        if not np.isfinite(x):
            return False
    return True


def all_finite(values: np.ndarray) -> bool:
    """Whether every element is finite (integer and bool arrays always are)."""
    if values.dtype.kind not in "fc":
        return True
    return bool(_all_finite(values))


def _first_bad(values: np.ndarray) -> tuple[int, float]:
    """(env index, value) of the first non-finite entry of an ``(n_envs, ...)`` array."""
    flat = np.asarray(values).reshape(len(values), -1)
    env = int(np.flatnonzero(~np.isfinite(flat).all(axis=1))[0])
    row = flat[env]
    return env, float(row[~np.isfinite(row)][0])


def check_env_step(obs: np.ndarray, rewards: np.ndarray | None, step: int, what: str = "observation") -> None:
    """Raise :class:`NonFiniteError` if ``obs`` or ``rewards`` (leading dim = envs) hold NaN/±inf.
    ``step`` is the agent's step count including this vector step; ``what`` names the observation
    (``observation``, ``final observation``, ``reset observation``)."""
    if rewards is not None and not all_finite(rewards):
        env, value = _first_bad(rewards)
        raise NonFiniteError(f"env reward is {value} at step {step} (env index {env})", step=step,
                             source="env reward", env_index=env)
    if not all_finite(obs):
        env, value = _first_bad(obs)
        raise NonFiniteError(f"env {what} holds {value} at step {step} (env index {env})", step=step,
                             source=f"env {what}", env_index=env)


class NonFiniteWatch:
    """Scalars of one update (losses, gradient norms), checked together with one host sync."""

    def __init__(self, enabled: bool = True):
        self.enabled = bool(enabled)
        self._names: list[str] = []
        self._values: list[torch.Tensor] = []

    def add(self, name: str, value: torch.Tensor | None) -> None:
        """Remember a scalar tensor (no sync, no copy) for the next :meth:`check`; ``None`` (e.g. no
        gradient norm where nothing is clipped) is skipped."""
        if self.enabled and value is not None:
            self._names.append(name)
            self._values.append(value)

    def check(self, step: int, updates: Any = None) -> None:
        """Check everything added since the last check, then forget it. ``updates``: the agent's
        update counter, for the message."""
        names, values = self._names, self._values
        if not values:
            return
        self._names, self._values = [], []
        with torch.no_grad():
            try:  # the common case: 0-d tensors of one dtype and device
                stacked = torch.stack(values)
            except RuntimeError:
                stacked = torch.stack([v.reshape(()).float().cpu() for v in values])
            finite = torch.isfinite(stacked)
            if bool(finite.all()):
                return
            first = int((~finite).nonzero()[0, 0])
            name, value = names[first], float(values[first])
        at = f"step {step}" + (f", update {updates}" if updates is not None else "")
        raise NonFiniteError(f"{name} is {value} at {at}", step=step, source=name)


__all__ = ["NonFiniteWatch", "all_finite", "check_env_step"]
