"""The leaderboard: an embedded SQLite store of evaluation results.

One file (default: :func:`default_leaderboard_path`), opened in WAL mode with a busy timeout so that
many evaluation processes can append at once: every write is one short ``BEGIN IMMEDIATE``
transaction, retried with jittered back-off while the database is locked.

Safety: before anything is written the file must pass three checks — the 16-byte SQLite header,
``PRAGMA quick_check`` and rlsuite's ``PRAGMA application_id`` (plus the ``rlsuite_meta`` table).
A file that fails any of them (not SQLite, corrupt, another program's database, or a newer schema)
raises :class:`rlsuite.errors.LeaderboardError` and is left byte-for-byte untouched.

Schema versions live in ``PRAGMA user_version``; :data:`MIGRATIONS` lists one function per step
(index ``i`` upgrades version ``i`` to ``i + 1``) and an older database is upgraded, in one
transaction, when it is opened.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import math
import os
import platform
import random
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from rlsuite.errors import ConfigError, LeaderboardError
from rlsuite.eval.export import export, render_table  # re-exported: the CLI imports them from here
from rlsuite.eval.human_scores import canonical_game, human_normalized
from rlsuite.eval.ranking import MIN_RUNS_FOR_CI, ci_note, rank_rows  # re-exported
from rlsuite.eval.stats import DEFAULT_N_BOOT, summarize

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "MIN_RUNS_FOR_CI",
    "SCHEMA_VERSION",
    "Leaderboard",
    "ci_note",
    "default_leaderboard_path",
    "env_matches",
    "export",
    "rank_rows",
    "render_table",
]

ENV_VAR = "RLSUITE_LEADERBOARD"
APPLICATION_ID = 0x524C5342  # "RLSB"
SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 30.0  # sqlite's own wait for a lock, per statement
LOCK_DEADLINE_S = 120.0  # our retry loop's total patience


# --------------------------------------------------------------------------- location


def default_leaderboard_path() -> Path:
    """Where the leaderboard lives unless told otherwise.

    ``$RLSUITE_LEADERBOARD`` when set; else the per-user data directory:
    ``$XDG_DATA_HOME/rlsuite/leaderboard.db`` (default ``~/.local/share/rlsuite/leaderboard.db``) on
    Linux, ``~/Library/Application Support/rlsuite/leaderboard.db`` on macOS and
    ``%LOCALAPPDATA%\\rlsuite\\leaderboard.db`` on Windows. A ``leaderboard=<path>`` on the command
    line (an explicit ``Leaderboard(path)``) overrides both.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "rlsuite" / "leaderboard.db"


# --------------------------------------------------------------------------- schema + migrations


def _m1_create(conn: sqlite3.Connection) -> None:
    """v0 -> v1: the marker table and the results table."""
    conn.execute("CREATE TABLE rlsuite_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO rlsuite_meta VALUES ('app', 'rlsuite'), ('kind', 'leaderboard')")
    conn.execute(
        """CREATE TABLE results (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            agent TEXT NOT NULL,
            env_id TEXT NOT NULL,
            env_version TEXT NOT NULL DEFAULT '',
            protocol TEXT NOT NULL DEFAULT 'default',
            config_hash TEXT NOT NULL DEFAULT '',
            seed INTEGER,
            train_steps INTEGER,
            episodes INTEGER NOT NULL,
            returns TEXT NOT NULL,
            mean REAL NOT NULL,
            std REAL,
            median REAL,
            iqm REAL,
            iqm_ci_low REAL,
            iqm_ci_high REAL,
            run_dir TEXT,
            notes TEXT,
            extra TEXT NOT NULL DEFAULT '{}'
        )"""
    )


def _m2_frames_hns(conn: sqlite3.Connection) -> None:
    """v1 -> v2: ``frames`` and ``human_normalized`` columns; backfill HNS for Atari rows."""
    conn.execute("ALTER TABLE results ADD COLUMN frames INTEGER")
    conn.execute("ALTER TABLE results ADD COLUMN human_normalized REAL")
    for rid, env_id, mean in conn.execute("SELECT id, env_id, mean FROM results").fetchall():
        if canonical_game(env_id) is not None and mean is not None:
            conn.execute("UPDATE results SET human_normalized = ? WHERE id = ?", (human_normalized(env_id, mean), rid))


def _m3_indexes(conn: sqlite3.Connection) -> None:
    """v2 -> v3: indexes for the usual filters."""
    conn.execute("CREATE INDEX idx_results_env ON results (env_id, protocol, agent)")
    conn.execute("CREATE INDEX idx_results_agent ON results (agent)")


def _m4_provenance(conn: sqlite3.Connection) -> None:
    """v3 -> v4: where and how a result was produced: ``cpu``, ``gpu``, ``versions`` (JSON of library
    versions) and ``wall_time`` (seconds); NULL for rows written before (unknown, not guessed)."""
    for column, kind in (("cpu", "TEXT"), ("gpu", "TEXT"), ("versions", "TEXT"), ("wall_time", "REAL")):
        conn.execute(f"ALTER TABLE results ADD COLUMN {column} {kind}")


#: ``MIGRATIONS[i]`` upgrades schema version ``i`` to ``i + 1``.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m1_create, _m2_frames_hns, _m3_indexes, _m4_provenance]
SCHEMA_VERSION = len(MIGRATIONS)

COLUMNS: tuple[str, ...] = (
    "id", "created_at", "agent", "env_id", "env_version", "protocol", "config_hash", "seed",
    "train_steps", "frames", "episodes", "returns", "mean", "std", "median", "iqm", "iqm_ci_low",
    "iqm_ci_high", "human_normalized", "run_dir", "notes", "extra", "cpu", "gpu", "versions", "wall_time",
)  # fmt: skip
_INT_COLS = ("seed", "train_steps", "frames", "episodes")
_FLOAT_COLS = ("mean", "std", "median", "iqm", "iqm_ci_low", "iqm_ci_high", "human_normalized", "wall_time")
_STR_COLS = ("agent", "env_id", "env_version", "protocol", "config_hash", "run_dir", "notes", "created_at",
             "cpu", "gpu")
#: Libraries whose versions a result row records.
VERSIONED = ("rlsuite", "torch", "numpy", "gymnasium", "python")


# --------------------------------------------------------------------------- helpers


def _is_lock_error(e: BaseException) -> bool:
    msg = str(e).lower()
    return isinstance(e, sqlite3.OperationalError) and ("locked" in msg or "busy" in msg)


def _env_base(env_id: str) -> str:
    game = canonical_game(env_id)
    if game is not None:
        return "atari:" + game.lower()
    base = env_id.strip().rsplit("/", 1)[-1]
    return re.sub(r"-v\d+$", "", base).lower()


def env_matches(query: str, env_id: str) -> bool:
    """Whether an ``env=`` filter selects a stored ``env_id``.

    Case-insensitive equality always matches. A filter without a version (``Pong``, ``CartPole``)
    also matches every version and spelling of that env (``ALE/Pong-v5``, ``PongNoFrameskip-v4``,
    ``CartPole-v1``); a versioned filter (``ALE/Pong-v5``) matches only itself.
    """
    q = query.strip()
    if q.lower() == env_id.lower():
        return True
    if re.search(r"-v\d+$", q):
        return False
    return _env_base(q) == _env_base(env_id)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _finite(v: Any, key: str) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"leaderboard result: '{key}' must be a number, got {v!r}") from None
    if not math.isfinite(f):
        raise ConfigError(f"leaderboard result: '{key}' must be finite, got {v!r}")
    return f


def _to_int(v: Any, key: str) -> int | None:
    if v is None:
        return None
    try:
        i = int(v)
    except (TypeError, ValueError):
        raise ConfigError(f"leaderboard result: '{key}' must be an integer, got {v!r}") from None
    if i != v and not isinstance(v, str | np.integer):
        raise ConfigError(f"leaderboard result: '{key}' must be an integer, got {v!r}")
    return i


@functools.lru_cache(maxsize=1)
def machine_provenance() -> dict[str, Any]:
    """This machine's CPU model, GPU (``None`` without CUDA, or when torch is not loaded: the
    leaderboard CLI does not import it) and the versions of :data:`VERSIONED`."""
    cpu = platform.processor() or None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    torch = sys.modules.get("torch")
    gpu = torch.cuda.get_device_name(0) if torch is not None and torch.cuda.is_available() else None
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED[:-1]:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"cpu": cpu or platform.machine(), "gpu": gpu, "versions": versions}


def normalize_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one result dict and fill what can be derived; returns the column values.

    Needs ``agent``, ``env_id`` and ``returns`` (episode returns; or, failing that, ``mean``).
    Missing ``mean/std/median/iqm/iqm_ci_*`` are computed from ``returns``; ``episodes`` defaults
    to ``len(returns)``; ``human_normalized`` is computed from ``mean`` for the 57 Atari games.
    ``cpu``, ``gpu`` and ``versions`` default to this machine's (:func:`machine_provenance`): a row
    is added where it was evaluated. Keys that are not columns are kept in the ``extra`` JSON object.
    """
    r = dict(result)
    here = machine_provenance()
    for key in ("cpu", "gpu", "versions"):
        r.setdefault(key, here[key])
    versions = r.pop("versions")
    for key in ("agent", "env_id"):
        if not isinstance(r.get(key), str) or not r[key].strip():
            raise ConfigError(f"leaderboard result: '{key}' is required (a non-empty string), got {r.get(key)!r}")
    returns = r.pop("returns", None)
    returns = [] if returns is None else [_finite(x, "returns") for x in np.asarray(returns).reshape(-1)]
    if not returns and r.get("mean") is None:
        raise ConfigError("leaderboard result: needs 'returns' (the episode returns) or at least 'mean'")
    if returns:
        s = summarize(returns, seed=0)
        for k in ("mean", "std", "median", "iqm", "iqm_ci_low", "iqm_ci_high"):
            if r.get(k) is None:
                r[k] = s[k]
    n = r.pop("n", None)
    if r.get("episodes") is None:
        r["episodes"] = len(returns) if returns else (n if n is not None else 1)
    row: dict[str, Any] = {"returns": json.dumps(returns),
                           "versions": None if versions is None else json.dumps(versions, sort_keys=True)}
    for k in _INT_COLS:
        row[k] = _to_int(r.pop(k, None), k)
    for k in _FLOAT_COLS:
        row[k] = _finite(r.pop(k, None), k)
    for k in _STR_COLS:
        v = r.pop(k, None)
        row[k] = None if v is None else str(v)
    row["env_version"] = row["env_version"] or ""
    row["protocol"] = row["protocol"] or "default"
    row["config_hash"] = row["config_hash"] or ""
    row["created_at"] = row["created_at"] or _now()
    if row["human_normalized"] is None and canonical_game(row["env_id"]) is not None:
        row["human_normalized"] = human_normalized(row["env_id"], row["mean"])
    r.pop("id", None)
    extra = r.pop("extra", None) or {}
    if not isinstance(extra, Mapping):
        raise ConfigError(f"leaderboard result: 'extra' must be a mapping, got {type(extra).__name__}")
    extra = {**r, **extra}  # unknown keys are kept, not dropped
    row["extra"] = json.dumps(extra, sort_keys=True, default=str)
    return row


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    d = {k: row[k] for k in row.keys()}  # noqa: SIM118 - iterating a sqlite3.Row yields values, not keys
    d["returns"] = json.loads(d["returns"]) if d.get("returns") else []
    d["extra"] = json.loads(d["extra"]) if d.get("extra") else {}
    d["versions"] = json.loads(d["versions"]) if d.get("versions") else None
    return {k: d.get(k) for k in COLUMNS}


# --------------------------------------------------------------------------- the store


class Leaderboard:
    """An rlsuite leaderboard database (see the module docstring for the guarantees).

    >>> lb = Leaderboard("/tmp/lb.db")                       # doctest: +SKIP
    >>> lb.add({"agent": "dqn", "env_id": "CartPole-v1", "returns": [500.0, 498.0]})  # doctest: +SKIP
    >>> lb.ranked(env="CartPole")                            # doctest: +SKIP
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_leaderboard_path()
        if self.path.is_dir():
            raise LeaderboardError(f"leaderboard path {self.path} is a directory; give a file path")
        self._check_header()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise LeaderboardError(f"cannot create the leaderboard directory {self.path.parent}: {e}") from e
        try:
            self._conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as e:
            raise LeaderboardError(f"cannot open the leaderboard {self.path}: {e}") from e
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._retry(self._validate)  # read-only: nothing is written before this passes
            self._retry(self._enable_wal)
            self._retry(self._init_or_migrate)
        except BaseException:
            self._conn.close()
            raise

    # -- opening -----------------------------------------------------------------------

    def _refuse(self, why: str) -> LeaderboardError:
        return LeaderboardError(
            f"{self.path} {why}; refusing to use it (the file was not modified). "
            f"Move it aside, or pass leaderboard=<path> / set {ENV_VAR} to use another file."
        )

    def _check_header(self) -> None:
        # Reads the file with open()/close() before SQLite opens it. On POSIX, closing a descriptor
        # drops all of this process's locks on the file, so no other Leaderboard connection to the
        # same file may be open in this process at that moment: use ``with Leaderboard(...)`` (or
        # close()) so connections do not outlive their use.
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        except OSError as e:
            raise LeaderboardError(f"cannot read the leaderboard {self.path}: {e}") from e
        if size == 0:
            return  # an empty file is an empty database (also: another process just created it)
        with open(self.path, "rb") as f:
            head = f.read(100)
        if not head.startswith(SQLITE_HEADER):
            raise self._refuse("is not an SQLite database (bad file header)")
        if len(head) < 100:
            raise self._refuse("is a truncated SQLite database")

    def _state(self) -> tuple[int, int, set[str]]:
        """(application_id, user_version, tables), read in one snapshot: as three autocommit reads,
        another process creating the database between them could be seen half done (its tables but
        not yet its application_id) and the file refused as foreign."""
        conn = self._conn
        own_transaction = not conn.in_transaction
        if own_transaction:
            conn.execute("BEGIN")
        try:
            app = conn.execute("PRAGMA application_id").fetchone()[0]
            ver = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            if own_transaction:
                conn.execute("COMMIT")
        return app, ver, tables

    def _check_state(self, app: int, ver: int, tables: set[str]) -> bool:
        """Raise for a foreign/newer database; return True when it is fresh (needs creating)."""
        if app == 0 and ver == 0 and not tables:
            return True
        if app != APPLICATION_ID:
            raise self._refuse(
                f"is an SQLite database of another program (application_id {app:#x}, "
                f"tables: {', '.join(sorted(tables)) or 'none'}), not an rlsuite leaderboard"
            )
        if ver > SCHEMA_VERSION:
            raise self._refuse(
                f"has leaderboard schema v{ver}, newer than this rlsuite understands (v{SCHEMA_VERSION}); "
                "upgrade rlsuite"
            )
        if ver >= 1 and not {"rlsuite_meta", "results"} <= tables:
            raise self._refuse(f"claims leaderboard schema v{ver} but lacks its tables (damaged)")
        return False

    def _validate(self) -> None:
        try:
            check = [r[0] for r in self._conn.execute("PRAGMA quick_check").fetchall()]
            if check != ["ok"]:
                raise self._refuse("is corrupt (PRAGMA quick_check: " + "; ".join(map(str, check[:3])) + ")")
            self._check_state(*self._state())
        except sqlite3.DatabaseError as e:
            if _is_lock_error(e):
                raise
            raise self._refuse(f"is corrupt or not a database ({e})") from e

    def _enable_wal(self) -> None:
        mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError("database is locked (could not switch to WAL)")
        self._conn.execute("PRAGMA synchronous = NORMAL")  # durable in WAL except on power loss

    def _init_or_migrate(self) -> None:
        conn = self._conn
        app, ver, tables = self._state()
        if ver == SCHEMA_VERSION and app == APPLICATION_ID:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            app, ver, tables = self._state()  # again, under the write lock: another process may have won
            fresh = self._check_state(app, ver, tables)
            if fresh:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            for i in range(ver, SCHEMA_VERSION):
                MIGRATIONS[i](conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("INSERT OR REPLACE INTO rlsuite_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- plumbing ----------------------------------------------------------------------

    def _retry(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn``, retrying with jittered exponential back-off while the database is locked."""
        deadline = time.monotonic() + LOCK_DEADLINE_S
        delay = 0.005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if not _is_lock_error(e):
                    raise LeaderboardError(f"leaderboard {self.path}: {e}") from e
                if time.monotonic() > deadline:
                    raise LeaderboardError(
                        f"leaderboard {self.path} stayed locked for {LOCK_DEADLINE_S:.0f} s; "
                        "is another process holding a long transaction?"
                    ) from e
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)

    def _write_rows(self, rows: list[dict[str, Any]]) -> list[int]:
        cols = [c for c in COLUMNS if c != "id"]
        sql = f"INSERT INTO results ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            ids = []
            for row in rows:
                row_id = conn.execute(sql, [row[c] for c in cols]).lastrowid
                if row_id is None:  # an INSERT always sets it; None would mean the row was not written
                    raise LeaderboardError(f"leaderboard {self.path}: the insert reported no row id")
                ids.append(int(row_id))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return ids

    # -- public API --------------------------------------------------------------------

    def add(self, result: Mapping[str, Any]) -> int:
        """Store one evaluation result (see :func:`normalize_result` for the keys); returns its row id."""
        row = normalize_result(result)
        return self._retry(lambda: self._write_rows([row]))[0]

    def add_many(self, results: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store several results in one transaction (all or none); returns their row ids."""
        rows = [normalize_result(r) for r in results]
        return self._retry(lambda: self._write_rows(rows)) if rows else []

    def query(
        self, env: str | None = None, agent: str | None = None, protocol: str | None = None
    ) -> list[dict[str, Any]]:
        """Stored result rows, oldest first, optionally filtered (``env`` as in :func:`env_matches`)."""
        sql, args, where = "SELECT * FROM results", [], []
        if agent is not None:
            where.append("agent = ?")
            args.append(agent)
        if protocol is not None:
            where.append("protocol = ?")
            args.append(protocol)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id"
        rows = self._retry(lambda: self._conn.execute(sql, args).fetchall())
        out = [_decode(r) for r in rows]
        if env is not None:
            out = [r for r in out if env_matches(env, r["env_id"])]
        return out

    def distinct(self, column: str) -> list[str]:
        """Distinct values of ``agent``, ``env_id`` or ``protocol`` (for "did you mean" messages)."""
        if column not in ("agent", "env_id", "protocol", "config_hash"):
            raise ConfigError(f"distinct: unknown column '{column}'")
        sql = f"SELECT DISTINCT {column} FROM results ORDER BY {column}"
        return [r[0] for r in self._retry(lambda: self._conn.execute(sql).fetchall())]

    def ranked(
        self,
        env: str | None = None,
        agent: str | None = None,
        protocol: str | None = None,
        n_boot: int = DEFAULT_N_BOOT,
        seed: int = 0,
    ) -> list[dict[str, Any]]:
        """Results grouped across seeds and ranked by the IQM of per-run mean returns (:func:`rank_rows`)."""
        return rank_rows(self.query(env=env, agent=agent, protocol=protocol), n_boot=n_boot, seed=seed)

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` (``"ok"`` when healthy)."""
        rows = self._retry(lambda: self._conn.execute("PRAGMA integrity_check").fetchall())
        return "; ".join(str(r[0]) for r in rows)

    def schema_version(self) -> int:
        """The database's schema version (``PRAGMA user_version``)."""
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> Leaderboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Leaderboard({str(self.path)!r})"
