"""The CLI: composition, multirun, loggers read back, and one clear line for every bad input."""

from __future__ import annotations

import glob
import json
import struct
import subprocess
import sys

import pytest


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rlsuite.cli", *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["train", "agent=dqnn"], "unknown agent 'dqnn'. Did you mean: dqn"),
        (["train", "agent=q_learning", "env=FrozenLak-v1"], "Did you mean: FrozenLake-v1"),
        (["train", "agent=q_learning", "agent.lrr=0.1"],
         "unknown key 'agent.lrr' for agent 'q_learning'. Did you mean: lr"),
        (["train", "agent=q_learning", "agent.lr=fast"], "invalid value for 'agent.lr'"),
        (["train", "agent=dqn", "env=CartPole-v1", "runtime.compiled_update=maybe"],
         "invalid value for 'runtime.compiled_update': Value 'maybe' is not a valid bool (type str); "
         "accepted: one of None, False, True"),
        (["train", "total_step=10"], "unknown key 'total_step'. Did you mean: total_steps"),
        (["train", "seed=abc"], "invalid value for 'seed'"),
        (["train", "agent=q_learning", "env=CartPole-v1"], "cannot handle CartPole-v1: its observation space is Box"),
        (["train", "logger=[consle]"],
         "'consle'; accepted: one of console, jsonl, tensorboard, wandb. Did you mean: console?"),
        (["train", "seed=0,1"], "is a sweep; add -m"),
        (["train", "agent=ppo", "env=CartPole-v1", "distributed.rollout_workers=2", "runtime.workers=1"],
         "distributed.rollout_workers=2 and runtime.workers=1 disagree: they are one setting"),
        (["train", "distributed.rollout_worker=2"],
         "unknown key 'distributed.rollout_worker'. Did you mean: distributed.rollout_workers?"),
        (["train", "nonsense"], "expected key=value"),
        (["train", "resume=/nonexistent/run"], "run directory not found"),
        (["train", "agent=dqn", "env=CartPole-v1", "init_from=/nonexistent/run"],
         "init_from: /nonexistent/run does not exist; accepted: a run directory"),
        (["eval"], "needs run="),
        (["eval", "run=/nonexistent/model"], "does not exist"),
        (["eval", "run=x", "episods=3"], "unknown key 'episods' for rlsuite eval. Did you mean: episodes"),
        (["eval", "run=x", "threads=-1"], "threads must be an integer >= 0 (0: torch's default), got '-1'"),
        (["leaderboard", "format=xml"], "unknown leaderboard format 'xml'. Accepted: table, markdown"),
        (["leaderboard", "format=htm"], "Did you mean: html?"),
        (["list", "agentz"], "invalid choice"),
        ([], "missing command"),
    ],
)
def test_bad_input_gives_one_clear_line(args, expected, tmp_path, monkeypatch, capsys):
    from rlsuite.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expected in lines[0]
    assert not (tmp_path / "runs").exists()  # nothing was created


def test_an_unknown_leaderboard_format_writes_no_database(tmp_path, capsys):
    from rlsuite.cli import main

    database = tmp_path / "lb.sqlite"
    assert main(["leaderboard", "format=xml", f"leaderboard={database}"]) == 2
    assert "unknown leaderboard format 'xml'" in capsys.readouterr().err
    assert not database.exists()  # refused before the database is opened, so not even an empty one


def test_bad_input_exit_code_from_a_real_process(tmp_path):
    out = cli("train", "agent=dqnn", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("rlsuite: error: unknown agent 'dqnn'")


def test_corrupt_run_directory_is_refused_and_left_untouched(tmp_path):
    run = tmp_path / "run"
    assert cli("train", "agent=q_learning", "total_steps=2000", "logger=[jsonl]", f"run_dir={run}",
               "eval_episodes=2", "submit=false", cwd=tmp_path).returncode == 0
    ckpt = run / "checkpoints" / "latest.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[:-50])
    snapshot = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    out = cli("train", f"resume={run}", "total_steps=4000", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "truncated" in out.stderr
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == snapshot
    (run / "config.yaml").unlink()
    out = cli("train", f"resume={run}", cwd=tmp_path)
    assert out.returncode == 2 and "not an rlsuite run directory" in out.stderr


def test_config_printing_and_env_id_without_yaml(tmp_path):
    out = cli("config", "agent=sarsa", "env=CliffWalking-v1", "agent.lr=0.25", "seed=3", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "lr: 0.25" in out.stdout and "seed: 3" in out.stdout
    assert "exploration_initial_eps: 0.1" in out.stdout  # env hparams
    out = cli("train", "--cfg", "agent=q_learning", "env=FrozenLake8x8-v1", cwd=tmp_path)  # a Gymnasium id
    assert out.returncode == 0 and "id: FrozenLake8x8-v1" in out.stdout


def test_list_shows_builtins_with_descriptions():
    out = cli("list", "agents")
    assert out.returncode == 0
    for name in ("q_learning", "sarsa", "dqn", "ppo"):
        assert name in out.stdout
    assert "Tabular Q-learning" in out.stdout
    out = cli("list", "envs")
    assert "gym" in out.stdout and "FrozenLake-v1" in out.stdout


def test_list_envs_shows_every_selectable_name_grouped_by_family_one_line_each():
    """Every env config (nas/<space> included), every plugin and its ids or id pattern are listed, each
    on one line under its plugin's header; every concrete name listed is one ``env=`` accepts."""
    import os

    from rlsuite import registry
    from rlsuite.config import configs_dir
    from rlsuite.envspec import resolve_env_node

    out = subprocess.run([sys.executable, "-m", "rlsuite.cli", "list", "envs"], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "100"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert all(len(line) <= 100 for line in lines)
    family, listed = None, {}
    for line in lines:
        if not line.startswith("  "):
            family = line.split(":", 1)[0]
        else:
            listed[line.split()[0]] = family
    assert {line.split(":", 1)[0] for line in lines if not line.startswith(" ")} == set(registry.env_plugin_names())
    root = configs_dir() / "env"
    for path in root.rglob("*.yaml"):
        name = path.relative_to(root).with_suffix("").as_posix()
        assert name in listed, name
        assert listed[name] == resolve_env_node(name)["plugin"]
    for name, plugin in [("nas/mnist1d-table", "nas"), ("localization/voc", "localization"),
                         ("bandits/k<k>-n<n>", "bandits"), ("MinAtar-Breakout", "minatar"), ("ALE/<name>-v5", "atari"),
                         ("tabular_mdp/s<n_states>-a<n_actions>-h<horizon>", "tabular_mdp"), ("classic_control", "gym"),
                         ("halfcheetah_vel", "halfcheetah_vel"), ("metaworld_ml1", "metaworld_ml1")]:
        assert listed.get(name) == plugin, (name, listed.get(name))
    concrete = [name for name in listed if "<" not in name and "(" not in name and name not in (
        "classic_control", "box2d", "mujoco", "toy_text", "phys2d", "tabular", "rlsuite", "unavailable")]
    assert len(concrete) > 30
    for name in concrete:
        assert resolve_env_node(name)["plugin"] == listed[name], name


def test_multirun_runs_every_seed(tmp_path):
    out = cli("train", "-m", "agent=q_learning", "total_steps=1000", "seed=0,1,2", "logger=[jsonl]",
              "eval_episodes=2", "runs_root=runs", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    runs = sorted((tmp_path / "runs").iterdir())
    assert [r.name.split("-s")[-1].split("-")[0] for r in runs] == ["0", "1", "2"]
    for run in runs:
        assert (run / "config.yaml").is_file() and (run / "model.safetensors").is_file()
        assert json.loads((run / "eval.json").read_text())["episodes"] == 2


def _read_wandb(path):
    """Records of a .wandb file (LevelDB log format of protobuf records), read without wandb's API."""
    from wandb.proto import wandb_internal_pb2 as pb

    with open(path, "rb") as f:
        data = f.read()
    pos, block, out, buf = 7, 32768, [], b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if length == 0 and kind == 0:
            pos += left
            continue
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        buf = chunk if kind in (1, 2) else buf + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(buf)
            out.append(record)
            buf = b""
    return out


def test_loggers_write_what_tensorboard_and_wandb_read_back(tmp_path):
    run = tmp_path / "run"
    out = cli("train", "agent=q_learning", "total_steps=4000", "log_every=500", "eval_episodes=3", f"run_dir={run}",
              "logger=[console,jsonl,tensorboard,wandb]", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    jsonl = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    episodes = [m for m in jsonl if "train/episode_return" in m]
    assert episodes and all("step" in m for m in jsonl)

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tb"))
    acc.Reload()
    tb_returns = [e.value for e in acc.Scalars("train/episode_return")]
    assert tb_returns == pytest.approx([m["train/episode_return"] for m in episodes])
    assert [e.step for e in acc.Scalars("train/epsilon")] == [m["step"] for m in jsonl if "train/epsilon" in m]

    (wandb_file,) = glob.glob(str(run / "wandb" / "offline-run-*" / "run-*.wandb"))
    history = [{i.nested_key[0] if i.nested_key else i.key: i.value_json for i in r.history.item}
               for r in _read_wandb(wandb_file) if r.WhichOneof("record_type") == "history"]
    wandb_returns = [float(h["train/episode_return"]) for h in history if "train/episode_return" in h]
    assert wandb_returns == pytest.approx([m["train/episode_return"] for m in episodes])
    assert any("eval/mean_return" in h for h in history)


def test_runs_do_not_keep_the_leaderboard_open(tmp_path):
    """Every leaderboard connection is closed after use. A connection left open would lose commits in
    a multirun: the next Leaderboard() reads the file header with open()/close(), and on POSIX
    closing any descriptor of a file drops all of this process's SQLite locks on it."""
    import os

    import rlsuite

    db = tmp_path / "lb.db"
    for seed in (0, 1):
        rlsuite.train(["agent=q_learning", "total_steps=500", "logger=[jsonl]", "eval_episodes=2",
                       f"seed={seed}", f"leaderboard={db}", f"runs_root={tmp_path / 'runs'}"])
    open_files = {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                  if os.path.exists(f"/proc/self/fd/{fd}")}
    assert not any(path.startswith(str(db)) for path in open_files)
    from rlsuite.eval.leaderboard import Leaderboard

    with Leaderboard(db) as board:
        assert sorted(r["seed"] for r in board.query()) == [0, 1]


def test_resume_checks_override_values_and_user_envs_need_passing_again(tmp_path, monkeypatch, capsys):
    import rlsuite
    from rlsuite.cli import main
    from tests.mdp import RandomMDP

    run = tmp_path / "run"
    rlsuite.train(["agent=q_learning", "total_steps=500", "logger=[jsonl]", "eval_episodes=2", "submit=false",
                   f"run_dir={run}"])
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["train", f"resume={run}", "total_steps=abc"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "invalid value for 'total_steps'" in line
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before

    agent = rlsuite.make_agent("q_learning", env=lambda: RandomMDP(n_states=3))
    agent.save(tmp_path / "model")
    loaded = rlsuite.load(tmp_path / "model")  # acting needs no env...
    assert loaded.act(0) in (0, 1)
    with pytest.raises(rlsuite.RLSuiteError, match=r"user-supplied env.*rlsuite.load\(path, env="):
        loaded.learn(10)  # ...training does, and says how to give it
    rlsuite.load(tmp_path / "model", env=lambda: RandomMDP(n_states=3)).learn(10)


def test_a_deprecated_key_still_works_with_a_one_line_warning(tmp_path):
    out = cli("config", "agent=dqn", "env=CartPole-v1", "agent.adam_eps=1e-4", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "rlsuite: warning: agent key 'adam_eps' is deprecated; use 'optimizer_eps'" in out.stderr.splitlines()
    assert "optimizer_eps: 0.0001" in out.stdout and "adam_eps" not in out.stdout


def test_eval_submits_only_what_cannot_replace_a_better_powered_leaderboard_entry(tmp_path, capsys):
    """The leaderboard keeps a run's latest row. A recording, or an evaluation with fewer episodes than
    the run's own (eval.json), stays off it unless submit=true; one at least as long is submitted."""
    import rlsuite
    from rlsuite.cli import main
    from rlsuite.eval.leaderboard import Leaderboard

    db, run = tmp_path / "lb.db", tmp_path / "run"
    rlsuite.train(["agent=q_learning", "total_steps=2000", "logger=[jsonl]", "eval_episodes=5", f"leaderboard={db}",
                   f"run_dir={run}"])

    def episodes_on_the_board() -> list[int]:
        with Leaderboard(db) as board:
            return [int(r["episodes"]) for r in board.query()]

    assert episodes_on_the_board() == [5]
    capsys.readouterr()
    assert main(["eval", f"run={run}", "episodes=1", f"leaderboard={db}"]) == 0
    assert "not submitted to the leaderboard: 1 episodes, fewer than the run's own evaluation (5)" \
        in capsys.readouterr().out
    assert main(["eval", f"run={run}", "episodes=5", "record=true", f"video={tmp_path / 'ep.gif'}",
                 f"leaderboard={db}"]) == 0
    assert "not submitted to the leaderboard: a recording (submit=true submits it anyway)" in capsys.readouterr().out
    assert (tmp_path / "ep.gif").is_file() and episodes_on_the_board() == [5]

    assert main(["eval", f"run={run}", "episodes=1", "submit=true", f"leaderboard={db}"]) == 0  # asked for
    assert main(["eval", f"run={run}", "episodes=8", f"leaderboard={db}"]) == 0  # better powered: by default
    assert main(["eval", f"run={run}", "episodes=8", "submit=false", f"leaderboard={db}"]) == 0
    assert episodes_on_the_board() == [5, 1, 8]
    with Leaderboard(db) as board:
        (ranked,) = board.ranked()
    assert ranked["ids"] == [3]  # the run counted once, with its latest row
    assert main(["eval", f"run={run}", "submit=maybe"]) == 2
