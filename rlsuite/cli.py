"""The ``rlsuite`` command: train | eval | leaderboard | export | list | config | plot.

Bad input gets one line on stderr (what was wrong, what is accepted, the closest names) and exit
code 2; no traceback. Set ``RLSUITE_DEBUG=1`` to see the traceback anyway.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, NoReturn

from rlsuite.errors import ConfigError, RLSuiteError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line instead of usage + message
        raise ConfigError(f"{message} (see 'rlsuite {self.prog.split()[-1]} --help')")


def _kv(items: list[str], accepted: dict[str, Any], command: str) -> dict[str, Any]:
    """Parse key=value pairs for commands that are not Hydra-composed (eval, leaderboard)."""
    import yaml

    from rlsuite.errors import suggest

    out = dict(accepted)
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"expected key=value, got '{item}'")
        if key not in accepted:
            raise ConfigError(
                f"unknown key '{key}' for rlsuite {command}.{suggest(key, accepted)} Accepted: {', '.join(accepted)}"
            )
        try:
            parsed = yaml.safe_load(value) if value else None
        except yaml.YAMLError:
            parsed = value
        default = accepted[key]
        if isinstance(default, bool) and not isinstance(parsed, bool):
            raise ConfigError(f"{key} must be true or false, got '{value}'")
        if isinstance(default, int) and not isinstance(default, bool) and not isinstance(parsed, int):
            raise ConfigError(f"{key} must be an integer, got '{value}'")
        out[key] = parsed
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from rlsuite.config import compose, expand_sweeps, to_yaml
    from rlsuite.run import train

    jobs = expand_sweeps(args.overrides) if args.multirun else [args.overrides]
    if args.cfg:
        for job in jobs:
            print(to_yaml(compose(job)))
        return 0
    if not args.multirun:
        # Compose first so every mistake is reported before anything is created.
        run = train(args.overrides)
        _print_eval(run.dir, run.eval)
        return 0
    composed = [compose(job) for job in jobs if not any(o.startswith("resume=") for o in job)]  # all checked first
    if composed and composed[0].launcher == "ray":  # rlsuite.distributed: the jobs as Ray jobs
        from rlsuite.distributed.sweep import run_sweep

        def report(index: int, summary: dict[str, Any]) -> None:
            print(f"[{index + 1}/{len(jobs)}] {' '.join(jobs[index])}: mean return {summary['mean']:.2f}, "
                  f"{summary['run_dir']}")

        run_sweep(jobs, composed[0], on_result=report)
        return 0
    for i, job in enumerate(jobs):
        print(f"[{i + 1}/{len(jobs)}] {' '.join(job)}")
        run = train(job)
        _print_eval(run.dir, run.eval)
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    try:
        from rlsuite.distributed.tune import load_search, tune_search
    except ImportError as err:
        raise ConfigError(f"rlsuite tune needs Ray Tune ({err.name} is missing): pip install \"rlsuite[ray]\"") from err
    search = [o.split("=", 1)[1] for o in args.overrides if o.startswith("search=")]
    if len(search) != 1:
        raise ConfigError("rlsuite tune takes one search=<name | file.yaml> (e.g. search=ppo_cartpole)")
    import yaml

    ray_settings = {o.split("=", 1)[0][4:]: yaml.safe_load(o.split("=", 1)[1])
                    for o in args.overrides if o.startswith("ray.")}
    rest = [o for o in args.overrides if not o.startswith(("search=", "ray."))]
    spec = load_search(search[0], rest)
    outcome = tune_search(spec, ray_settings or None)
    print(f"best {spec['metric']}: {outcome['metric']} with {outcome['best']}")
    print(f"wrote {outcome['path']}")
    return 0


def _print_eval(run_dir: Path, result: Any) -> None:
    from rlsuite.eval.stats import is_binary

    if "task" in result.extra:  # the task env's own evaluation (rlsuite.env_plugin.TaskResult), first
        print(f"run {run_dir}: task eval: {result.extra['task']['summary']}")
        for name, path in result.extra["task"].get("artefacts", {}).items():
            print(f"  {name}: {path}")

    if "summary" in result.extra:  # a meta-test protocol (maml, rl2): its own one-line summary
        print(f"run {run_dir}: eval ({result.protocol}): {result.extra['summary']}")
        return
    # Episode-level numbers, named as such: the leaderboard's "IQM" is across runs, not episodes,
    # and on 0/1 returns an episode IQM is 0 or 1 whatever the success rate.
    lo, hi = result.iqm_ci
    tail = (
        f"success {100 * result.mean:.0f}%"
        if is_binary(result.returns)
        else f"episode IQM {result.iqm:.2f} [{lo:.2f}, {hi:.2f}]"
    )
    if result.episodes > 1 and len(set(result.returns)) == 1:  # a zero-width interval would read as certainty
        tail += " (every episode returned the same: a deterministic policy on a deterministic env)"
    print(
        f"run {run_dir}: eval over {result.episodes} episodes ({result.protocol}): "
        f"episode mean {result.mean:.2f} ± {result.std:.2f}, {tail}"
    )


def cmd_eval(args: argparse.Namespace) -> int:
    import rlsuite
    from rlsuite import checkpoint
    from rlsuite.run import result_row

    # env.kwargs.<key>=<value>: evaluate on a changed env (e.g. localization's fresh scenes, scene_seed=)
    env_changes = _env_kwargs(o for o in args.overrides if o.startswith("env.kwargs."))
    opts = _kv(
        [o for o in args.overrides if not o.startswith("env.kwargs.")],
        {"run": None, "episodes": None, "seed": 100_000, "protocol": "gymnasium", "deterministic": True,
         "record": False, "video": None, "leaderboard": None, "submit": None, "env": None,
         "adapt_steps": None, "threads": 1},
        "eval",
    )
    threads = opts["threads"]
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ConfigError(f"threads must be an integer >= 0 (0: torch's default), got '{threads}'")
    if threads:
        # one thread, as training's default: acting on one observation at a time gains nothing from
        # more, and on a busy machine torch's spinning worker threads made an Atari evaluation 16x slower
        import torch

        torch.set_num_threads(threads)
    if not opts["run"]:
        raise ConfigError("rlsuite eval needs run=<run directory or model file>")
    if opts["submit"] not in (None, True, False):
        raise ConfigError(f"submit must be true or false, got '{opts['submit']}'")
    episodes = opts["episodes"]
    if episodes is not None and (isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1):
        raise ConfigError(f"episodes must be an integer >= 1, got '{episodes}'")
    target = Path(str(opts["run"]))
    if not target.exists() and not Path(str(target) + ".safetensors").exists():
        raise ConfigError(f"run=<{target}> does not exist (give a run directory or a .safetensors model)")
    agent = rlsuite.load(target, env=opts["env"])
    if env_changes:
        import dataclasses

        agent.env_spec = dataclasses.replace(agent.env_spec, kwargs={**agent.env_spec.kwargs, **env_changes})
    run_dir = target if target.is_dir() else None
    if opts["episodes"] is None:
        opts["episodes"] = _default_eval_episodes(agent, run_dir)
    video = None
    if opts["record"] or opts["video"]:
        video = opts["video"] or str((run_dir or target.parent) / f"eval-{time.strftime('%Y%m%d-%H%M%S')}.mp4")
    result = rlsuite.evaluate(
        agent, episodes=int(opts["episodes"]), seed=int(opts["seed"]), protocol=str(opts["protocol"]),
        deterministic=bool(opts["deterministic"]), record=video,
        adapt_steps=_adapt_steps(opts["adapt_steps"]), task=True, out_dir=run_dir,
    )
    if env_changes:
        result.extra["env_kwargs_changed"] = env_changes
    _print_eval(target, result)
    if video:
        print(f"video: {result.video}")
    row = result_row(agent, result, target)
    summary = {**result.to_dict(), "agent": row["agent"], "train_steps": agent.steps, "config_hash": row["config_hash"]}
    if run_dir is not None:
        out = run_dir / f"eval-{result.protocol.replace('/', '-')}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        checkpoint.atomic_write_bytes(out, json.dumps(summary, indent=2).encode())
    held_back = None if opts["submit"] is not None else _not_submitted_by_default(run_dir, result.episodes, video)
    if held_back:
        print(f"not submitted to the leaderboard: {held_back} (submit=true submits it anyway)")
    elif opts["submit"] is not False:
        from rlsuite.eval.leaderboard import Leaderboard

        with Leaderboard(opts["leaderboard"]) as board:
            row_id = board.add(row)
        print(f"leaderboard row {row_id}")
    return 0


def _not_submitted_by_default(run_dir: Path | None, episodes: int, video: str | None) -> str | None:
    """Why an ``rlsuite eval`` without ``submit=`` stays off the leaderboard, else None. The leaderboard
    keeps one row per run (its latest), so a recording or an evaluation with fewer episodes than the
    run's own final one (``eval.json``) would replace a better-powered entry by accident."""
    if video:
        return "a recording"
    own = None
    if run_dir is not None and (run_dir / "eval.json").is_file():
        try:
            own = int(json.loads((run_dir / "eval.json").read_text()).get("episodes") or 0)
        except (ValueError, TypeError, AttributeError):
            own = None
    if own and episodes < own:
        return f"{episodes} episodes, fewer than the run's own evaluation ({own}), which stays its entry"
    return None


def _env_kwargs(items: Any) -> dict[str, Any]:
    """``env.kwargs.<key>=<value>`` items (values in YAML) as a mapping."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        name = key.removeprefix("env.kwargs.")
        if not sep or not name or "." in name:
            raise ConfigError(f"expected env.kwargs.<key>=<value>, got '{item}'")
        try:
            out[name] = yaml.safe_load(value) if value else None
        except yaml.YAMLError:
            out[name] = value
    return out


def _default_eval_episodes(agent: Any, run_dir: Path | None) -> int:
    """30 episodes; for a meta-learner the held-out task count its run evaluated with at the end of
    training (``eval_episodes``, which a meta env config sets), so train and eval report alike."""
    config = run_dir / "config.yaml" if run_dir is not None else None
    if getattr(agent, "meta_protocol", None) and config is not None and config.is_file():
        import yaml

        count = (yaml.safe_load(config.read_text()) or {}).get("eval_episodes")
        if isinstance(count, int) and not isinstance(count, bool) and count >= 1:
            return count
    return 30


def _adapt_steps(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ConfigError(f"adapt_steps must be a non-negative integer (gradient steps of maml), got '{value}'")
    return value


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from rlsuite.eval.export import checked_format, export, render_table
    from rlsuite.eval.leaderboard import Leaderboard

    opts = _kv(
        args.overrides,
        {"env": None, "agent": None, "protocol": None, "format": "table", "out": None, "leaderboard": None},
        "leaderboard",
    )
    fmt = checked_format(str(opts["format"]), extra=("table",))  # before the database is opened (or created)
    with Leaderboard(opts["leaderboard"]) as board:
        rows = board.ranked(env=opts["env"], agent=opts["agent"], protocol=opts["protocol"])
    if fmt == "table":
        render_table(rows)
        return 0
    text = export(rows, fmt, out=opts["out"])
    if opts["out"]:
        print(f"wrote {opts['out']}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """rlsuite export run=<dir> format=onnx|torchscript [out=<path>]: the greedy policy and its spec."""
    import rlsuite
    from rlsuite.export import FORMATS, ExportError, export_policy

    opts = _kv(args.overrides, {"run": None, "format": "onnx", "out": None}, "export")
    if not opts["run"]:
        raise ConfigError("rlsuite export needs run=<run directory or model file>")
    fmt = str(opts["format"])
    if fmt not in FORMATS:  # before loading anything
        from rlsuite.errors import suggest

        raise ExportError(f"unknown export format '{fmt}'.{suggest(fmt, FORMATS)} Accepted: {', '.join(FORMATS)}")
    target = Path(str(opts["run"]))
    if not target.exists() and not Path(str(target) + ".safetensors").exists():
        raise ConfigError(f"run=<{target}> does not exist (give a run directory or a .safetensors model)")
    agent = rlsuite.load(target)
    out = Path(str(opts["out"])) if opts["out"] else (target if target.is_dir() else target.parent) / "policy"
    path, spec_path = export_policy(agent, out, fmt)
    print(f"wrote {path} and {spec_path}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    if args.what == "envs":
        _list_envs()
        return 0
    from rich.console import Console
    from rich.table import Table

    from rlsuite import registry

    table = Table("agent", "description", title="agents")
    for name, desc in registry.describe_agents():
        table.add_row(name, desc)
    Console().print(table)
    return 0


def _list_envs() -> None:
    """Every name ``env=`` accepts, grouped by plugin, one line each (cut to the terminal's width)."""
    import shutil

    from rlsuite.env_catalog import env_families

    width = shutil.get_terminal_size((120, 24)).columns
    families = env_families()
    pad = min(max(len(name) for family in families for name, _ in family.names) + 2, 30)

    def line(text: str) -> None:
        print(text if len(text) <= width else text[:width - 3] + "...")

    for family in families:
        line(f"{family.plugin}: {family.description}")
        for name, what in family.names:
            line(f"  {name.ljust(pad)} {what}")


def cmd_config(args: argparse.Namespace) -> int:
    from rlsuite.config import compose, to_yaml

    print(to_yaml(compose(args.overrides)))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from rlsuite.eval.plots import plot_learning_curves

    dirs = [Path(p) for p in args.runs]
    missing = [str(p) for p in dirs if not (p / "metrics.jsonl").is_file()]
    if missing:
        raise ConfigError(f"not a run directory with metrics.jsonl: {', '.join(missing)}")
    out = plot_learning_curves(dirs, Path(args.out), x=args.x, metric=args.metric)
    print(f"wrote {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rlsuite", description="Classic RL agents: train, evaluate, compare.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    p = sub.add_parser("train", help="train an agent: rlsuite train agent=dqn env=CartPole-v1 seed=0")
    p.add_argument("-m", "--multirun", action="store_true", help="sweep comma-separated values / range()")
    p.add_argument("--cfg", action="store_true", help="print the composed config and exit")
    p.add_argument("overrides", nargs="*")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("tune", help="Ray Tune search: rlsuite tune search=ppo_cartpole num_samples=8 scheduler=asha")
    p.add_argument("overrides", nargs="*")
    p.set_defaults(func=cmd_tune)
    p = sub.add_parser("eval", help="evaluate: rlsuite eval run=<run dir|model> episodes=30 protocol=gymnasium "
                       "(maml: adapt_steps=3)")
    p.add_argument("overrides", nargs="*")
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("leaderboard", help="show results: rlsuite leaderboard env=CartPole-v1 format=markdown")
    p.add_argument("overrides", nargs="*")
    p.set_defaults(func=cmd_leaderboard)
    p = sub.add_parser("export", help="greedy policy for use outside Python: rlsuite export run=<dir> format=onnx")
    p.add_argument("overrides", nargs="*")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("list", help="rlsuite list agents|envs")
    p.add_argument("what", choices=["agents", "envs"])
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("config", help="print the composed config of a train command")
    p.add_argument("overrides", nargs="*")
    p.set_defaults(func=cmd_config)
    p = sub.add_parser("plot", help="learning curves: rlsuite plot runs/a runs/b --out curves.png")
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", default="curves.png")
    p.add_argument("--x", default="steps", choices=["steps", "frames"])
    p.add_argument("--metric", default="train/episode_return")
    p.set_defaults(func=cmd_plot)
    from rlsuite.backbones.commands import add_commands  # fit | sample (rlsuite.backbones)

    add_commands(sub)
    return parser


def command_names(parser: argparse.ArgumentParser) -> list[str]:
    """The subcommands ``parser`` dispatches to, read from its subparsers (one list, never kept by hand)."""
    return [name for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for name in action.choices]


def _warning_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  line: str | None = None) -> str:
    return f"rlsuite: warning: {message}\n"  # e.g. a deprecated key name: one line, no source excerpt


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    warnings.formatwarning = _warning_line
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            accepted = ", ".join(command_names(parser))
            raise ConfigError(f"missing command; accepted: {accepted} (see 'rlsuite --help')")
        return int(args.func(args) or 0)
    except RLSuiteError as err:
        if os.environ.get("RLSUITE_DEBUG"):
            raise
        print(f"rlsuite: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("rlsuite: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
