"""Leaderboard store: round trip, ranking, concurrency, corruption/foreign refusal, migrations, exports."""

from __future__ import annotations

import csv
import html
import io
import json
import multiprocessing as mp
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from rlsuite.errors import ConfigError, LeaderboardError
from rlsuite.eval.export import _num
from rlsuite.eval.human_scores import human_normalized
from rlsuite.eval.leaderboard import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    Leaderboard,
    default_leaderboard_path,
    env_matches,
    export,
    render_table,
)
from rlsuite.eval.stats import iqm, stratified_bootstrap_ci


def _result(agent="dqn", env="CartPole-v1", seed=0, returns=(1.0, 2.0, 3.0, 4.0), **kw):
    r = dict(
        agent=agent,
        env_id=env,
        env_version="gymnasium 1.0",
        protocol="default",
        config_hash="cafe1234",
        seed=seed,
        train_steps=100_000,
        frames=100_000,
        returns=list(returns),
        run_dir=f"runs/{agent}-{env}-s{seed}",
    )
    r.update(kw)
    return r


# --------------------------------------------------------------------------- location


def test_default_path(monkeypatch, tmp_path):
    monkeypatch.setenv("RLSUITE_LEADERBOARD", str(tmp_path / "x" / "lb.db"))
    assert default_leaderboard_path() == tmp_path / "x" / "lb.db"
    monkeypatch.delenv("RLSUITE_LEADERBOARD")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_leaderboard_path() == tmp_path / "data" / "rlsuite" / "leaderboard.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_leaderboard_path() == tmp_path / "home" / ".local" / "share" / "rlsuite" / "leaderboard.db"
    # Leaderboard() with no path uses it and creates the parent directories
    monkeypatch.setenv("RLSUITE_LEADERBOARD", str(tmp_path / "deep" / "er" / "lb.db"))
    with Leaderboard() as lb:
        assert lb.path == tmp_path / "deep" / "er" / "lb.db" and lb.path.exists()


# --------------------------------------------------------------------------- round trip


def test_add_query_round_trip(tmp_path):
    path = tmp_path / "lb.db"
    with Leaderboard(path) as lb:
        rid = lb.add(_result(notes="first", my_key=[1, 2]))
        rid2 = lb.add(_result(agent="ppo", env="ALE/Pong-v5", protocol="machado", returns=[20.0, 21.0, 20.0]))
        assert (rid, rid2) == (1, 2)
    with Leaderboard(path) as lb:  # reopen: persisted, schema current, WAL on
        rows = lb.query()
        assert lb.schema_version() == SCHEMA_VERSION
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    con.close()
    r = rows[0]
    assert (r["agent"], r["env_id"], r["env_version"], r["protocol"], r["config_hash"]) == (
        "dqn", "CartPole-v1", "gymnasium 1.0", "default", "cafe1234",
    )  # fmt: skip
    assert (r["seed"], r["train_steps"], r["frames"], r["episodes"]) == (0, 100_000, 100_000, 4)
    assert r["returns"] == [1.0, 2.0, 3.0, 4.0]
    assert r["mean"] == 2.5 and r["median"] == 2.5 and r["iqm"] == 2.5
    assert r["std"] == pytest.approx(np.std([1, 2, 3, 4]))
    assert r["iqm_ci_low"] <= 2.5 <= r["iqm_ci_high"]
    assert r["human_normalized"] is None and r["notes"] == "first"
    assert r["extra"] == {"my_key": [1, 2]} and r["created_at"]
    pong = rows[1]
    assert pong["human_normalized"] == pytest.approx(human_normalized("Pong", np.mean([20, 21, 20])))
    assert pong["protocol"] == "machado"


def test_add_validates(tmp_path):
    with Leaderboard(tmp_path / "lb.db") as lb:
        with pytest.raises(ConfigError, match="agent"):
            lb.add({"env_id": "CartPole-v1", "returns": [1.0]})
        with pytest.raises(ConfigError, match="returns"):
            lb.add({"agent": "dqn", "env_id": "CartPole-v1"})
        with pytest.raises(ConfigError, match="finite"):
            lb.add(_result(returns=[1.0, float("nan")]))
        with pytest.raises(ConfigError, match="integer"):
            lb.add(_result(seed=1.5))
        assert lb.query() == []
        assert lb.add_many([_result(seed=s) for s in range(3)]) == [1, 2, 3]


def test_env_filter_and_query(tmp_path):
    with Leaderboard(tmp_path / "lb.db") as lb:
        lb.add(_result(env="ALE/Pong-v5"))
        lb.add(_result(env="PongNoFrameskip-v4", protocol="nature"))
        lb.add(_result(env="CartPole-v1", agent="ppo"))
        assert len(lb.query(env="Pong")) == 2
        assert [r["env_id"] for r in lb.query(env="ALE/Pong-v5")] == ["ALE/Pong-v5"]
        assert len(lb.query(env="cartpole")) == 1 and len(lb.query(env="CartPole-v0")) == 0
        assert len(lb.query(agent="ppo")) == 1 and len(lb.query(protocol="nature")) == 1
        assert lb.distinct("agent") == ["dqn", "ppo"]
    assert env_matches("Breakout", "BreakoutNoFrameskip-v4") and not env_matches("Breakout", "ALE/Pong-v5")


def test_ranked_groups_seeds_and_orders_by_iqm(tmp_path):
    rng = np.random.default_rng(0)
    with Leaderboard(tmp_path / "lb.db") as lb:
        runs = {"dqn": [], "ppo": []}
        for agent, mu in (("dqn", 100.0), ("ppo", 300.0)):
            for s in range(3):
                rets = rng.normal(mu, 10.0, 8).round(2)
                runs[agent].append(rets)
                lb.add(_result(agent=agent, seed=s, returns=rets))
        # re-evaluating ppo seed 0 replaces its earlier result in the ranking
        runs["ppo"][0] = np.full(8, 250.0)
        lb.add(_result(agent="ppo", seed=0, returns=runs["ppo"][0]))
        lb.add(_result(agent="dqn", env="Acrobot-v1", returns=[-80.0, -90.0]))
        ranked = lb.ranked(n_boot=500)
    assert [(r["env_id"], r["agent"], r["rank"]) for r in ranked] == [
        ("Acrobot-v1", "dqn", 1), ("CartPole-v1", "ppo", 1), ("CartPole-v1", "dqn", 2),
    ]  # fmt: skip
    ppo = ranked[1]
    assert ppo["n_runs"] == 3 and ppo["seeds"] == [0, 1, 2] and ppo["episodes"] == 24
    run_means = [r.mean() for r in runs["ppo"]]
    assert ppo["run_scores"] == pytest.approx(run_means)
    assert ppo["iqm"] == pytest.approx(np.mean(run_means))  # 3 runs: int(0.25 * 3) = 0 cut from each end
    assert (ppo["iqm_ci_low"], ppo["iqm_ci_high"]) == stratified_bootstrap_ci(
        {"CartPole-v1": ppo["run_scores"]}, iqm, n_boot=500
    )
    assert ppo["iqm_ci_low"] < ppo["iqm"] < ppo["iqm_ci_high"]
    pooled = np.concatenate(runs["ppo"])
    assert ppo["episode_mean"] == pytest.approx(pooled.mean()) and ppo["episode_std"] == pytest.approx(pooled.std())
    assert ppo["success_rate"] is None and "mean" not in ppo and "median" not in ppo
    assert ppo["train_steps"] == 100_000 and ppo["protocol"] == "default" and ppo["config_hash"] == "cafe1234"
    acrobot = ranked[0]  # one run: its mean, no CI
    assert acrobot["iqm"] == -85.0 and acrobot["iqm_ci_low"] is None and acrobot["iqm_ci_high"] is None
    assert acrobot["ci_note"].startswith("1 run")


def _binary(successes: int, episodes: int = 20) -> list[float]:
    """0/1 episode returns (a FrozenLake run) with ``successes`` ones, interleaved."""
    return [1.0 if i * successes // episodes != (i + 1) * successes // episodes else 0.0 for i in range(episodes)]


def test_ranked_value_is_the_iqm_of_per_run_means_computed_by_hand(tmp_path):
    """The statistic of Agarwal et al. 2021: one score per run (its mean return), IQM across runs."""
    assert sum(_binary(14)) == 14 and _binary(14) != sorted(_binary(14))
    with Leaderboard(tmp_path / "lb.db") as lb:
        # FrozenLake, one run succeeding in 14 of 20 episodes: score 0.7. The IQM of its episodes
        # would be 0.9 (cut 5 from each end of six 0s and fourteen 1s: nine 1s and one 0 remain).
        lb.add(_result(agent="sarsa", env="FrozenLake-v1", returns=_binary(14)))
        # Five runs with 14, 12, 17, 9, 15 successes: scores .70 .60 .85 .45 .75; the IQM cuts
        # int(0.25 * 5) = 1 from each end of the sorted scores: (.60 + .70 + .75) / 3.
        for seed, k in enumerate((14, 12, 17, 9, 15)):
            lb.add(_result(agent="q_learning", env="FrozenLake-v1", seed=seed, returns=_binary(k)))
        # CartPole, two PPO runs scoring 231 and 500: IQM (231 + 500) / 2 = 365.5. The pooled
        # episodes' IQM would be 381 (cut 10 of 40 from each end of ten 200s, ten 262s and twenty
        # 500s: ten 262s and ten 500s remain).
        lb.add(_result(agent="ppo", seed=0, returns=[200.0, 262.0] * 10))
        lb.add(_result(agent="ppo", seed=1, returns=[500.0] * 20))
        # Runs with different episode counts weigh the same: scores 100, 10, 50 -> IQM 53.33
        # (3 runs: nothing cut), where the pooled episode mean would be 2300 / 60 = 38.33.
        for seed, rets in enumerate(([100.0] * 10, [10.0] * 30, [50.0] * 20)):
            lb.add(_result(agent="dqn", seed=seed, returns=rets))
        ranked = {(r["env_id"], r["agent"]): r for r in lb.ranked()}

    sarsa = ranked["FrozenLake-v1", "sarsa"]
    assert sarsa["iqm"] == pytest.approx(0.7) and sarsa["success_rate"] == pytest.approx(0.7)
    assert iqm(_binary(14)) == pytest.approx(0.9)  # what the old table showed
    ql = ranked["FrozenLake-v1", "q_learning"]
    assert ql["iqm"] == pytest.approx((0.60 + 0.70 + 0.75) / 3)
    assert ql["success_rate"] == pytest.approx(67 / 100) and ql["episodes"] == 100
    # .70 > .683, but sarsa's .70 is one run: it ranks after the measured five-run entry
    assert ql["n_runs"] == 5 and ql["ci_note"] is None and (sarsa["rank"], ql["rank"]) == (2, 1)
    assert sarsa["n_runs"] == 1 and "ranked after" in sarsa["ci_note"]

    ppo = ranked["CartPole-v1", "ppo"]
    assert ppo["iqm"] == pytest.approx(365.5) and ppo["run_scores"] == pytest.approx([231.0, 500.0])
    assert iqm([200.0, 262.0] * 10 + [500.0] * 20) == pytest.approx(381.0)
    # Resampling two runs gives IQM 231 (both draws the first run, chance 1/4), 365.5 or 500
    # (chance 1/4): the 2.5th and 97.5th percentiles are the two scores. And it is flagged.
    assert (ppo["iqm_ci_low"], ppo["iqm_ci_high"]) == (231.0, 500.0)
    assert ppo["ci_note"].startswith("2 runs") and "wider" in ppo["ci_note"]
    assert ppo["success_rate"] is None
    dqn = ranked["CartPole-v1", "dqn"]
    assert dqn["iqm"] == pytest.approx(160 / 3) and dqn["episode_mean"] == pytest.approx(2300 / 60)
    assert [ppo["rank"], dqn["rank"]] == [1, 2]


def _cell(table_text: str, header: str, agent: str) -> str:
    """The cell under ``header`` in the markdown row of ``agent``."""
    lines = [ln for ln in table_text.splitlines() if ln.startswith("|")]
    heads = [h.strip() for h in lines[0].strip("|").split("|")]
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        if cells[heads.index("Agent")] == agent:
            return cells[heads.index(header)]
    raise AssertionError(f"no row for {agent}")


def _html_cell(page: str, header: str, agent: str) -> str:
    heads = [html.unescape(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", page)]
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", page):
        cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
        if len(cells) == len(heads) and cells[heads.index("Agent")] == agent:  # not a section heading
            return cells[heads.index(header)]
    raise AssertionError(f"no HTML row for {agent}")


def test_table_json_and_html_show_one_statistic(tmp_path):
    with Leaderboard(tmp_path / "lb.db") as lb:
        lb.add(_result(agent="ppo", seed=0, returns=[200.0, 262.0] * 10))
        lb.add(_result(agent="ppo", seed=1, returns=[500.0] * 20))
        for seed, score in enumerate((120.0, 150.0, 90.0, 200.0, 175.0)):
            lb.add(_result(agent="dqn", seed=seed, returns=[score - 5.0, score + 5.0]))
        lb.add(_result(agent="a2c", returns=[30.0, 40.0]))
        rows = lb.ranked()
    md = export(rows, "markdown")
    data = {r["agent"]: r for r in json.loads(export(rows, "json"))}
    page = export(rows, "html")
    console = Console(record=True, width=250)
    render_table(rows, console=console)
    terminal = console.export_text()
    for agent in ("ppo", "dqn", "a2c"):
        r = data[agent]
        assert _cell(md, "IQM", agent) == _html_cell(page, "IQM", agent) == _num(r["iqm"])
        assert _cell(md, "IQM 95% CI", agent) == _html_cell(page, "IQM 95% CI", agent)
        assert _num(r["iqm"]) in terminal
    assert data["ppo"]["iqm"] == 365.5 and _cell(md, "IQM", "ppo") == "365.5"
    assert _cell(md, "IQM 95% CI", "ppo") == "[231.0, 500.0] few runs"
    assert _cell(md, "IQM 95% CI", "dqn") == f"[{_num(data['dqn']['iqm_ci_low'])}, {_num(data['dqn']['iqm_ci_high'])}]"
    assert _cell(md, "IQM 95% CI", "a2c") == "— (1 run)" and data["a2c"]["iqm_ci_low"] is None
    assert (
        _cell(md, "Episode mean ± std", "ppo")
        == f"{_num(data['ppo']['episode_mean'])} ± {_num(data['ppo']['episode_std'])}"
    )
    assert "Median" not in md and "few runs" in md.splitlines()[-1]  # the caption says what the numbers are
    # The HTML page's aggregate panel draws the same numbers as the table (one env: same bootstrap)
    caption = re.search(r"<figcaption>(Aggregate over runs.*?)</figcaption>", page)
    assert caption is not None
    for agent in ("ppo", "dqn"):
        assert (
            f"{agent} {_cell(md, 'IQM', agent)} {_cell(md, 'IQM 95% CI', agent).removesuffix(' few runs')}"
            in html.unescape(caption.group(1))
        )
    assert "a2c 35.00 (1 run, no CI)" in html.unescape(caption.group(1))  # as the table says


# --------------------------------------------------------------------------- concurrency

N_PROCS, N_ROWS = 8, 50


def _writer(path: str, worker: int, barrier) -> None:
    barrier.wait()  # everyone opens (and races to create the schema) at once
    lb = Leaderboard(path)
    for i in range(N_ROWS):
        lb.add(_result(agent=f"w{worker}", seed=i, returns=[float(worker), float(i)], run_dir=f"w{worker}/{i}"))
    lb.close()


def test_concurrent_writers(tmp_path):
    path = tmp_path / "lb.db"  # does not exist yet: creation is raced as well
    # fork where available: the children inherit the imported modules (``import rlsuite`` pulls in
    # torch, ~1.5 s per spawned child on 2 cores); the parent holds no open connection here.
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    barrier = ctx.Barrier(N_PROCS)
    procs = [ctx.Process(target=_writer, args=(str(path), w, barrier)) for w in range(N_PROCS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * N_PROCS
    with Leaderboard(path) as lb:
        rows = lb.query()
        assert lb.integrity_check() == "ok"
        assert lb.schema_version() == SCHEMA_VERSION
    assert len(rows) == N_PROCS * N_ROWS
    got = sorted((r["agent"], r["seed"]) for r in rows)
    assert got == sorted((f"w{w}", i) for w in range(N_PROCS) for i in range(N_ROWS))
    assert all(r["returns"] == [float(r["agent"][1:]), float(r["seed"])] for r in rows)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


# --------------------------------------------------------------------------- refusal


def _foreign_db(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO users (name) VALUES ('alice')")
    con.commit()
    con.close()


def _corrupt_rlsuite_db(path: Path) -> None:
    with Leaderboard(path) as lb:
        lb.add_many([_result(seed=s, returns=list(range(50))) for s in range(40)])
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 3 * page
    data[page : 3 * page] = b"\xde\xad\xbe\xef" * (2 * page // 4)  # wreck b-tree pages 2 and 3
    path.write_bytes(bytes(data))


def _newer_db(path: Path) -> None:
    with Leaderboard(path) as lb:
        lb.add(_result())
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    con.commit()
    con.close()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_text("name,score\nalice,3\n" * 20), "not an SQLite database"),
        (lambda p: p.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 20), "corrupt"),
        (_foreign_db, "another program"),
        (_corrupt_rlsuite_db, "corrupt"),
        (_newer_db, "newer than this rlsuite"),
    ],
    ids=["text-file", "garbage-after-header", "foreign-sqlite", "corrupt-pages", "newer-schema"],
)
def test_bad_files_refused_and_untouched(tmp_path, make, message):
    path = tmp_path / "lb.db"
    make(path)
    before = path.read_bytes()
    with pytest.raises(LeaderboardError, match=message) as ei:
        Leaderboard(path)
    assert str(path) in str(ei.value) and "not modified" in str(ei.value)
    assert path.read_bytes() == before  # never overwritten
    with pytest.raises(LeaderboardError):  # and still refused the second time
        Leaderboard(path)
    assert path.read_bytes() == before


def test_directory_path_refused(tmp_path):
    with pytest.raises(LeaderboardError, match="directory"):
        Leaderboard(tmp_path)


# --------------------------------------------------------------------------- migrations

_V1_SCHEMA = """
CREATE TABLE rlsuite_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO rlsuite_meta VALUES ('app', 'rlsuite'), ('kind', 'leaderboard');
CREATE TABLE results (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, agent TEXT NOT NULL,
    env_id TEXT NOT NULL, env_version TEXT NOT NULL DEFAULT '', protocol TEXT NOT NULL DEFAULT 'default',
    config_hash TEXT NOT NULL DEFAULT '', seed INTEGER, train_steps INTEGER, episodes INTEGER NOT NULL,
    returns TEXT NOT NULL, mean REAL NOT NULL, std REAL, median REAL, iqm REAL, iqm_ci_low REAL,
    iqm_ci_high REAL, run_dir TEXT, notes TEXT, extra TEXT NOT NULL DEFAULT '{}'
);
"""


def test_v1_database_is_migrated_with_rows_intact(tmp_path):
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.executescript(_V1_SCHEMA)
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute("PRAGMA user_version = 1")
    rows_v1 = [
        ("2024-01-01T00:00:00+00:00", "dqn", "ALE/Pong-v5", "nature", 0, 10_000_000, 3, "[19.0, 20.0, 21.0]", 20.0),
        ("2024-01-02T00:00:00+00:00", "ppo", "CartPole-v1", "default", 1, 100_000, 2, "[500.0, 490.0]", 495.0),
    ]
    con.executemany(
        "INSERT INTO results (created_at, agent, env_id, protocol, seed, train_steps, episodes, returns, mean)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows_v1,
    )
    con.commit()
    con.close()

    with Leaderboard(path) as lb:
        assert lb.schema_version() == SCHEMA_VERSION
        rows = lb.query()
        lb.add(_result(frames=400_000))  # the upgraded db takes new rows with the new columns
        assert lb.query()[-1]["frames"] == 400_000
        assert lb.integrity_check() == "ok"
    assert [(r["id"], r["agent"], r["env_id"], r["returns"], r["mean"], r["seed"]) for r in rows] == [
        (1, "dqn", "ALE/Pong-v5", [19.0, 20.0, 21.0], 20.0, 0),
        (2, "ppo", "CartPole-v1", [500.0, 490.0], 495.0, 1),
    ]
    assert rows[0]["created_at"] == "2024-01-01T00:00:00+00:00" and rows[0]["train_steps"] == 10_000_000
    assert rows[0]["frames"] is None
    assert rows[0]["human_normalized"] == pytest.approx((20.0 + 20.7) / 35.3)  # backfilled by v1 -> v2
    assert rows[1]["human_normalized"] is None
    con = sqlite3.connect(path)
    idx = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    meta = dict(con.execute("SELECT key, value FROM rlsuite_meta"))
    con.close()
    assert {"idx_results_env", "idx_results_agent"} <= idx
    assert meta["schema_version"] == str(SCHEMA_VERSION)


# --------------------------------------------------------------------------- output


@pytest.fixture
def ranked_rows(tmp_path):
    with Leaderboard(tmp_path / "lb.db") as lb:
        for s in range(3):
            lb.add(_result(agent="ppo", env="ALE/Pong-v5", seed=s, returns=[19.0 + s, 20.0, 21.0, 18.0]))
            lb.add(_result(agent="dqn", env="ALE/Pong-v5", seed=s, returns=[10.0 + s, 12.0, 15.0, 9.0]))
        return lb.ranked(n_boot=300)


def test_render_table(ranked_rows):
    console = Console(record=True, width=200)
    render_table(ranked_rows, console=console)
    text = console.export_text()
    assert "ranked by IQM" in text and "Human-norm." in text
    assert text.index("ppo") < text.index("dqn")
    assert f"{ranked_rows[0]['iqm']:.2f}" in text
    narrow = Console(record=True, width=80)
    render_table(ranked_rows, console=narrow)
    assert all(len(line) <= 80 for line in narrow.export_text().splitlines())
    empty = Console(record=True)
    render_table([], console=empty)
    assert "No leaderboard results" in empty.export_text()


def test_exports(ranked_rows, tmp_path):
    md = export(ranked_rows, "markdown")
    lines = [ln for ln in md.strip().splitlines() if ln.startswith("|")]
    assert lines[0].startswith("| # | Agent | Env |") and len(lines) == 2 + len(ranked_rows)
    assert "| 1 | ppo | ALE/Pong-v5 |" in lines[2]

    text = export(ranked_rows, "csv", out=tmp_path / "lb.csv")
    assert (tmp_path / "lb.csv").read_text() == text
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [r["agent"] for r in parsed] == ["ppo", "dqn"]
    assert float(parsed[0]["iqm"]) == pytest.approx(ranked_rows[0]["iqm"])
    assert json.loads(parsed[0]["seeds"]) == [0, 1, 2]

    buf = io.StringIO()
    js = export(ranked_rows, "json", out=buf)
    assert buf.getvalue() == js
    data = json.loads(js)
    assert isinstance(data, list) and data[0]["agent"] == "ppo" and data[0]["n_runs"] == 3

    page = export(ranked_rows, "html")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<table>" in page and "<style>" in page and "ppo" in page
    # IQM bars, aggregate + profile, probability of improvement (+ optimality gap in its caption)
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', page)) == 3
    assert "Optimality gap" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # self-contained: nothing fetched

    with pytest.raises(ConfigError, match=r"Did you mean: html\? Accepted: markdown, csv, html, json"):
        export(ranked_rows, "htm")
    assert export([], "json") == "[]\n"


def test_one_seed_trained_twice_is_one_run_and_single_runs_rank_last(tmp_path):
    with Leaderboard(tmp_path / "lb.db") as lb:
        # seed 0 at 1k steps then again at 5k steps in a new directory: one run, the latest (5k)
        lb.add(_result(agent="maml", seed=0, returns=[1.0] * 5, train_steps=1000, run_dir="runs/a"))
        lb.add(_result(agent="maml", seed=0, returns=[3.0] * 5, train_steps=5000, run_dir="runs/b"))
        # a lucky single run above a three-run entry
        lb.add(_result(agent="dqn", seed=0, returns=[900.0] * 5))
        for seed in range(3):
            lb.add(_result(agent="ppo", seed=seed, returns=[100.0 + seed] * 5))
        ranked = {r["agent"]: r for r in lb.ranked()}
    assert ranked["maml"]["n_runs"] == 1 and ranked["maml"]["run_scores"] == [3.0]
    assert ranked["maml"]["train_steps"] == 5000
    assert ranked["ppo"]["rank"] == 1 and ranked["ppo"]["n_runs"] == 3
    assert ranked["dqn"]["iqm"] > ranked["ppo"]["iqm"] and ranked["dqn"]["rank"] == 2
    assert ranked["maml"]["rank"] == 3


def test_rows_record_hardware_versions_wall_time_and_v3_files_migrate(tmp_path):
    path = tmp_path / "lb.db"
    with Leaderboard(path) as lb:
        lb.add(_result(agent="ppo", seed=0, wall_time=12.5))
        lb.add(_result(agent="ppo", seed=1, cpu="Test CPU", gpu="Test GPU", versions={"torch": "0.0"}))
        rows = {r["seed"]: r for r in lb.query()}
        ranked = lb.ranked()[0]
    assert rows[0]["wall_time"] == 12.5 and rows[0]["cpu"] and rows[0]["versions"]["rlsuite"]
    assert rows[0]["versions"]["python"].count(".") == 2 and rows[0]["train_steps"] == rows[0]["frames"] == 100_000
    assert (rows[1]["cpu"], rows[1]["gpu"], rows[1]["versions"]) == ("Test CPU", "Test GPU", {"torch": "0.0"})
    assert "Test CPU / Test GPU" in ranked["hardware"] and ranked["wall_time"] == [12.5, None]

    # a file written by schema v3 (before these columns) opens, keeps its rows, and gains the columns
    old = tmp_path / "v3.db"
    con = sqlite3.connect(old)
    for migrate in MIGRATIONS[:3]:
        migrate(con)
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute("PRAGMA user_version = 3")
    con.execute(
        "INSERT INTO results (created_at, agent, env_id, episodes, returns, mean) VALUES "
        "('2025-01-01T00:00:00', 'dqn', 'CartPole-v1', 2, '[1.0, 3.0]', 2.0)"
    )
    con.commit()
    con.close()
    with Leaderboard(old) as lb:
        assert lb.schema_version() == SCHEMA_VERSION == 4
        (row,) = lb.query()
    assert row["mean"] == 2.0 and row["cpu"] is None and row["versions"] is None and row["wall_time"] is None
