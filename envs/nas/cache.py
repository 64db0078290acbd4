"""The SQLite table of trained children, keyed by canonical architecture (:meth:`SearchSpace.key`).

Every child is written (and committed) the moment its training finishes, so a search killed at any
point keeps every finished child, and a resumed search reads them back instead of training again.
The file is opened per operation with a busy timeout, so several searches may share one cache.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

SCHEMA = """CREATE TABLE IF NOT EXISTS children (
    key TEXT PRIMARY KEY, val_acc REAL NOT NULL, test_acc REAL, flops INTEGER, params INTEGER,
    seconds REAL, created REAL)"""
FIELDS = ("val_acc", "test_acc", "flops", "params", "seconds")


def default_cache_path(dataset: str) -> Path:
    """``$RLSUITE_NAS_CACHE`` if set, else ``~/.cache/rlsuite/nas-<dataset>.sqlite``."""
    env = os.environ.get("RLSUITE_NAS_CACHE")
    if env:
        return Path(env)
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rlsuite"
    return root / f"nas-{dataset}.sqlite"


class ChildCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60.0)

    def get_many(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        with self._connect() as db:
            for key in set(keys):
                row = db.execute(f"SELECT {', '.join(FIELDS)} FROM children WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    out[key] = dict(zip(FIELDS, row))
        return out

    def put(self, result: dict[str, Any]) -> None:
        with self._connect() as db:  # commits on exit: the child is durable before the next one starts
            db.execute("INSERT OR REPLACE INTO children (key, val_acc, test_acc, flops, params, seconds, created) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (result["key"], *(result.get(f) for f in FIELDS), time.time()))

    def __len__(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM children").fetchone()[0])

    def rows(self) -> list[dict[str, Any]]:
        with self._connect() as db:
            return [{"key": r[0], **dict(zip(FIELDS, r[1:]))}
                    for r in db.execute(f"SELECT key, {', '.join(FIELDS)} FROM children ORDER BY created")]


def spec_of(key: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(key)["spec"]
    return spec
