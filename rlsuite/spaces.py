"""Gymnasium spaces to and from JSON, so a saved agent knows its spaces without building its env."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from rlsuite.errors import CheckpointError


def space_to_json(space: spaces.Space) -> dict[str, Any]:
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "low": space.low.tolist(),
            "high": space.high.tolist(),
            "shape": list(space.shape),
            "dtype": str(space.dtype),
        }
    if isinstance(space, spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist()}
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "n": np.asarray(space.n).tolist()}
    raise TypeError(f"unsupported space {space}")


def space_from_json(d: dict[str, Any]) -> spaces.Space:
    kind = d.get("type")
    if kind == "Discrete":
        return spaces.Discrete(d["n"], start=d.get("start", 0))
    if kind == "Box":
        dtype = np.dtype(d["dtype"])
        low = np.asarray(d["low"], dtype=dtype).reshape(d["shape"])
        high = np.asarray(d["high"], dtype=dtype).reshape(d["shape"])
        return spaces.Box(low=low, high=high, dtype=dtype)
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(d["nvec"])
    if kind == "MultiBinary":
        return spaces.MultiBinary(d["n"])
    raise CheckpointError(f"unknown space type in checkpoint: {kind!r}")


def describe(space: spaces.Space) -> str:
    if isinstance(space, spaces.Box):
        return f"Box(shape={space.shape}, dtype={space.dtype})"
    return repr(space)
