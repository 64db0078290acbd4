"""``rlsuite tune search=<name | file.yaml> [key=value ...]``: a Ray Tune search over an agent's
hyperparameters declared in YAML (``configs/search/ppo_cartpole.yaml`` is the annotated example).

Each trial builds the agent with :func:`rlsuite.make_agent` (the searched keys over ``fixed`` over the
env config's tuned values) and trains ``total_steps`` in ``iterations`` chunks; after each chunk it
reports ``episode_return_mean`` (its last 20 training episodes) and a checkpoint — our own safetensors
+ JSON (:mod:`rlsuite.checkpoint`), the whole training state. Schedulers:

* ``asha``: asynchronous successive halving stops trials whose metric trails at a rung;
* ``pbt``: population-based training; an exploiting trial restarts from a better trial's checkpoint
  (loaded with :func:`rlsuite.checkpoint.load_state`, never a pickle) with perturbed hyperparameters,
  and reports ``restored_from_step``;
* ``fifo``: every trial runs to the end.

The best trial's hyperparameters are written to ``<storage>/<name>/best_config.yaml`` with the
``rlsuite train`` command that reproduces them.
"""

from __future__ import annotations

import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import yaml

from rlsuite import distributed
from rlsuite.config import configs_dir
from rlsuite.errors import ConfigError, suggest

CHECKPOINT_FILE = "agent.safetensors"
TOP_LEVEL = {"agent": str, "env": str, "seed": int, "total_steps": int, "iterations": int, "metric": str,
             "mode": str, "num_samples": int, "scheduler": str, "asha": dict, "pbt": dict, "fixed": dict,
             "space": dict, "storage": str, "name": str, "threads": int}
SCHEDULERS = ("asha", "pbt", "fifo")
DOMAINS = ("loguniform", "uniform", "randint", "choice")


def load_search(search: str, overrides: list[str]) -> dict[str, Any]:
    """The search declaration: ``search`` names ``configs/search/<name>.yaml`` or a file; ``key=value``
    overrides replace top-level keys. Checked here, before Ray starts."""
    path = Path(search)
    if not path.is_file():
        path = configs_dir() / "search" / f"{search}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (configs_dir() / "search").glob("*.yaml"))
        raise ConfigError(f"search '{search}' is neither a file nor a search config.{suggest(search, known)} "
                          f"Accepted: a .yaml path or {', '.join(known)}")
    spec = yaml.safe_load(path.read_text()) or {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"'{item}' is not key=value")
        spec[key] = yaml.safe_load(value)
    for key, value in spec.items():
        if key not in TOP_LEVEL:
            raise ConfigError(f"unknown search key '{key}'.{suggest(key, TOP_LEVEL)} Accepted: {', '.join(TOP_LEVEL)}")
        if value is not None and not isinstance(value, TOP_LEVEL[key]):
            raise ConfigError(f"search key '{key}' must be a {TOP_LEVEL[key].__name__}, got {value!r}")
    for key in ("agent", "env", "space"):
        if not spec.get(key):
            raise ConfigError(f"the search needs '{key}' ({path})")
    spec.setdefault("seed", 0)
    spec.setdefault("total_steps", 50_000)
    spec.setdefault("iterations", 10)
    spec.setdefault("metric", "episode_return_mean")
    spec.setdefault("mode", "max")
    spec.setdefault("num_samples", 8)
    spec.setdefault("scheduler", "asha")
    spec.setdefault("threads", 1)
    if spec["scheduler"] not in SCHEDULERS:
        raise ConfigError(f"scheduler '{spec['scheduler']}' is unknown.{suggest(spec['scheduler'], SCHEDULERS)} "
                          f"Accepted: {', '.join(SCHEDULERS)}")
    if spec["mode"] not in ("max", "min"):
        raise ConfigError(f"mode must be max or min, got {spec['mode']!r}")
    if spec["iterations"] < 1 or spec["total_steps"] < spec["iterations"] or spec["num_samples"] < 1:
        raise ConfigError("need iterations >= 1, total_steps >= iterations and num_samples >= 1")
    _check_agent_keys(spec)
    for key, domain in spec["space"].items():
        _domain(key, domain)  # refuse a bad domain now
    return spec


def _check_agent_keys(spec: dict[str, Any]) -> None:
    import dataclasses

    from rlsuite import registry

    cls = registry.get_agent(spec["agent"])
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    for key in [*spec["space"], *(spec.get("fixed") or {})]:
        if key not in fields:
            raise ConfigError(f"agent '{spec['agent']}' has no key '{key}'.{suggest(key, fields)} "
                              f"Accepted: {', '.join(sorted(fields))}")


def _domain(key: str, domain: Any) -> Any:
    from ray import tune

    if not isinstance(domain, dict) or len(domain) != 1 or next(iter(domain)) not in DOMAINS:
        raise ConfigError(f"space.{key} must be one of {{{' | '.join(f'{d}: ...' for d in DOMAINS)}}}, got {domain!r}")
    kind, args = next(iter(domain.items()))
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise ConfigError(f"space.{key}: choice takes a non-empty list, got {args!r}")
        return tune.choice(args)
    if not isinstance(args, list) or len(args) != 2 or not args[0] < args[1]:
        raise ConfigError(f"space.{key}: {kind} takes [low, high] with low < high, got {args!r}")
    if kind == "loguniform" and args[0] <= 0:
        raise ConfigError(f"space.{key}: loguniform needs low > 0, got {args!r}")
    return getattr(tune, kind)(*args)


def run_trial(config: dict[str, Any], spec: dict[str, Any]) -> None:
    """One trial (a Tune function trainable): train in chunks, report the metric and a checkpoint."""
    import torch
    from ray import tune

    from rlsuite import checkpoint, make_agent
    from rlsuite.distributed.rollout import EpisodeRecorder

    torch.set_num_threads(int(spec["threads"]))
    agent = make_agent(spec["agent"], spec["env"], seed=int(spec["seed"]), **(spec.get("fixed") or {}), **config)
    recorder = EpisodeRecorder()
    agent.logger = recorder
    total, iterations = int(spec["total_steps"]), int(spec["iterations"])
    restored_from = -1
    start = tune.get_checkpoint()
    if start is not None:
        with start.as_directory() as directory:
            state = checkpoint.load_state(Path(directory) / CHECKPOINT_FILE)
        state["config"] = {**state["config"], **config}  # PBT's perturbed values win over the saved ones
        agent.load_state_dict(state)
        restored_from = agent.steps
    agent.budget_start, agent.budget_end = 0, total
    agent.start_segment()
    returns: deque[float] = deque(maxlen=20)
    done = agent.steps * iterations // total
    for iteration in range(done, iterations):
        agent.train_until((iteration + 1) * total // iterations)
        returns.extend(r for r, _ in recorder.episodes)
        recorder.episodes = []
        metrics = {"episode_return_mean": float(sum(returns) / len(returns)) if returns else 0.0,
                   "steps": agent.steps, "restored_from_step": restored_from}
        with tempfile.TemporaryDirectory() as directory:
            checkpoint.save_state(Path(directory) / CHECKPOINT_FILE, agent.state_dict(include_training_state=True))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))
    agent.close()


def _scheduler(spec: dict[str, Any], space: dict[str, Any]) -> Any:
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, PopulationBasedTraining

    options = dict(spec.get(spec["scheduler"]) or {})
    if spec["scheduler"] == "asha":
        return ASHAScheduler(time_attr="training_iteration", max_t=int(spec["iterations"]), **options)
    if spec["scheduler"] == "pbt":
        return PopulationBasedTraining(time_attr="training_iteration", hyperparam_mutations=space, **options)
    return FIFOScheduler()


def tune_search(spec: dict[str, Any], ray_settings: Any = None) -> dict[str, Any]:
    """Run the search; returns ``{"best": {key: value}, "metric": value, "path": best_config.yaml,
    "trials": [{"config", "iterations", "metric", "restored_from_step"}]}``."""
    from ray import tune

    distributed.init(ray_settings, require=(1, "a Tune trial", "give Ray CPUs (ray.num_cpus=N for a Ray started here)",
                                            0.0))
    space = {key: _domain(key, domain) for key, domain in spec["space"].items()}
    storage = Path(spec.get("storage") or "runs/tune").expanduser().resolve()
    name = spec.get("name") or f"{spec['agent']}-{str(spec['env']).replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}"
    trainable = tune.with_resources(tune.with_parameters(run_trial, spec=spec), {"cpu": 1})
    tuner = tune.Tuner(
        trainable, param_space=space,
        tune_config=tune.TuneConfig(metric=spec["metric"], mode=spec["mode"], num_samples=int(spec["num_samples"]),
                                    scheduler=_scheduler(spec, space)),
        run_config=tune.RunConfig(name=name, storage_path=str(storage), verbose=0,
                                  # PBT exploits other trials' recent checkpoints: keep a few more
                                  checkpoint_config=tune.CheckpointConfig(
                                      num_to_keep=8 if spec["scheduler"] == "pbt" else 2)))
    results = tuner.fit()
    best = results.get_best_result(metric=spec["metric"], mode=spec["mode"], scope="all")
    best_metrics = best.metrics or {}
    trials = []
    for i in range(len(results)):
        result = results[i]
        frame = result.metrics_dataframe
        metrics = result.metrics or {}
        trials.append({"config": dict(result.config or {}), "iterations": int(metrics.get("training_iteration", 0)),
                       "metric": metrics.get(spec["metric"]),
                       "restored_from_step": [int(v) for v in frame["restored_from_step"]] if frame is not None
                       and "restored_from_step" in frame else []})
    best_config = {key: _plain(value) for key, value in (best.config or {}).items()}
    overrides = " ".join(f"agent.{k}={v}" for k, v in best_config.items())
    path = storage / name / "best_config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({
        "agent": spec["agent"], "env": spec["env"], "metric": spec["metric"],
        "best_metric": _plain(best_metrics.get(spec["metric"])), "hyperparameters": best_config,
        "train": f"rlsuite train agent={spec['agent']} env={spec['env']} {overrides}"}, sort_keys=False))
    return {"best": best_config, "metric": best_metrics.get(spec["metric"]), "path": path, "trials": trials}


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (for YAML)."""
    return value.item() if hasattr(value, "item") else value
