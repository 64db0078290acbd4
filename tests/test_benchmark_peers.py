"""The peer layer of the side-by-side benchmarks (benchmarks/peers.py): a peer that is not installed
is recorded as skipped with its reason, in the adapters and in both benchmark scripts, without
training anything and without any peer installed."""

from __future__ import annotations

import pytest

from benchmarks import offpolicy, onpolicy, peers

GHOST = peers.Peer("ghost", "Ghost", "rlsuite_no_such_peer_module", "rlsuite-no-such-peer-dist")


@pytest.fixture
def ghost_peer(monkeypatch: pytest.MonkeyPatch) -> peers.Peer:
    monkeypatch.setitem(peers.PEERS, "ghost", GHOST)
    monkeypatch.setitem(peers.ALGORITHMS, "ghost", ("ppo", "dqn"))
    return GHOST


def test_a_missing_peer_reports_not_installed(ghost_peer: peers.Peer) -> None:
    assert not ghost_peer.installed()
    assert ghost_peer.version() is None
    assert ghost_peer.skip_reason("dqn") == "not installed"
    assert peers.versions(["ghost"]) == {"ghost": "not installed"}
    with pytest.raises(LookupError, match="ghost: not installed"):
        peers.train("ghost", "dqn", "CartPole-v1", offpolicy.zoo_hparams("dqn", "CartPole-v1"), seed=0, steps=100)


def test_offpolicy_records_a_missing_peer_as_a_skipped_row(ghost_peer: peers.Peer) -> None:
    row = offpolicy.run_one("ghost", "dqn", seed=0, eval_episodes=1)
    assert row["skipped"] == "not installed" and "wall_s" not in row
    summary = offpolicy.summarize([row])
    assert summary == [{"agent": "dqn", "lib": "ghost", "env": "CartPole-v1", "steps": 50_000,
                        "skipped": "not installed"}]
    assert "| dqn | ghost | CartPole-v1, 50k | skipped: not installed |" in offpolicy.markdown(summary)
    assert offpolicy.ratios(summary) == {}


def test_onpolicy_records_a_missing_peer_as_skipped(ghost_peer: peers.Peer) -> None:
    assert onpolicy.run_peer("ghost", "ppo_cartpole", seed=0) == "not installed"
    result: dict = {}
    onpolicy.record_peers(result, "ppo_cartpole", [1000.0], {"sb3": [(500.0, 800.0)], "ghost": []})
    assert result == {"ppo_cartpole_best_peer": "sb3", "ppo_cartpole_sps_vs_best_peer": 1.25}


def test_a_peer_without_the_algorithm_is_skipped_with_that_reason() -> None:
    sb3 = peers.PEERS["sb3"]
    if sb3.installed():  # SB3 is in the bench extra; it has no discrete SAC
        assert sb3.skip_reason("sac_discrete") == "SB3 has no sac_discrete"
    cleanrl = peers.PEERS["cleanrl"]  # the registry's release cannot run beside gymnasium 1.x, installed or not
    assert cleanrl.unusable and cleanrl.skip_reason("dqn") == cleanrl.unusable


def test_pin_to_cores_pins_every_thread_of_the_process() -> None:
    """``--cores 1``: the whole process (its existing threads and the ones they start) on one CPU."""
    import subprocess
    import sys

    code = ("import os, threading; from benchmarks import peers; waiting = threading.Event(); "
            "thread = threading.Thread(target=waiting.wait); thread.start(); "  # a thread that exists before
            "chosen = peers.pin_to_cores(1); "
            "print(chosen == sorted(os.sched_getaffinity(0)), len(chosen), "
            "all(len(os.sched_getaffinity(int(tid))) == 1 for tid in os.listdir('/proc/self/task'))); "
            "waiting.set(); thread.join()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "1", "True"]
    with pytest.raises(ValueError, match="--cores 0: this process may use"):
        peers.pin_to_cores(0)


def test_peers_table_appends_a_pinned_row_beside_the_stored_ones(tmp_path, monkeypatch) -> None:
    import json
    import sys

    from benchmarks import peers_table

    stored = {"title": "t", "command": "first", "notes": "stored notes", "versions": {"sbx": "0.28.0"},
              "rows": [["DQN CartPole-v1", "50k steps, 2 seed(s)", "old"]]}
    out = tmp_path / "side_by_side.json"
    out.write_text(json.dumps(stored))
    run = {"lib": "rlsuite", "agent": "dqn", "env": "CartPole-v1", "seed": 0, "steps": 50_000, "wall_s": 10.0,
           "learn_s": 9.0, "cpu_s": 10.0, "sps": 5000.0, "eval_mean": 500.0, "eval_std": 0.0, "solved": True}
    peer = {**run, "lib": "sbx", "wall_s": 20.0, "cpu_s": 19.0}
    log = tmp_path / "off.log"
    log.write_text("\n".join(json.dumps(line) for line in (
        run, peer, {"mode": "quick", "cores": [0], "versions": {"torch": "x"},
                    "summary": offpolicy.summarize([run, peer])})) + "\n")
    monkeypatch.setattr(sys, "argv", ["peers_table.py", str(log), "--command", "second", "--append", "--out", str(out)])
    peers_table.main()
    data = json.loads(out.read_text())
    assert data["rows"][0] == stored["rows"][0]  # kept
    new = data["rows"][1]
    assert new[:2] == ["DQN CartPole-v1", "50k steps, 1 seed(s), one core per library (--cores 1)"]
    assert new[-1] == "0.50× the wall of SBX (0.53× its CPU time)"
    assert data["command"] == "first; second" and data["notes"] == "stored notes"
    assert data["versions"] == {"sbx": "0.28.0", "torch": "x"}
