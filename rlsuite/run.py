"""``rlsuite.train``: what ``rlsuite train`` does. One run = one directory:

    runs/<agent>-<env>-s<seed>-<time>/
        config.yaml                 the resolved config
        metrics.jsonl               one JSON object per line
        checkpoints/latest.safetensors   everything needed to continue (written atomically)
        model.safetensors           the final model (weights for acting)
        best_model.safetensors      best training-time evaluation (when eval_every > 0)
        eval.json                   the final evaluation
        tb/ wandb/                  when those loggers are on

Resume points: every ``checkpoint_every`` steps the loops cut episodes in flight (as time-limit
truncations, which bootstrap), the run writes a checkpoint, and the envs are reseeded from
(seed, steps). A run that is killed and resumed from that checkpoint therefore replays exactly what
the uninterrupted run does from there on (bit for bit on CPU).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from rlsuite import checkpoint
from rlsuite.agent import Agent
from rlsuite.config import TrainConfig, agent_overrides, check_train_config, compose, config_error
from rlsuite.cost import ESTIMATE_AFTER, EtaModel, available_memory, estimate_due_at, format_bytes
from rlsuite.envspec import EnvSpec
from rlsuite.errors import CheckpointError, ConfigError, NonFiniteError
from rlsuite.eval.evaluate import EvalResult, evaluate
from rlsuite.loggers import ConsoleLogger, JsonlLogger, Logger, MultiLogger, TensorBoardLogger, WandbLogger, duration
from rlsuite.registry import env_version, get_agent

CHECKPOINT = Path("checkpoints") / "latest.safetensors"


@dataclass
class Run:
    """The outcome of :func:`train`."""

    dir: Path
    config: DictConfig
    agent: Agent
    eval: EvalResult | None
    leaderboard_id: int | None = None


def crossed(prev: int, now: int, every: int) -> bool:
    return every > 0 and now // every > prev // every


def config_hash(agent_config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(agent_config, sort_keys=True, default=str).encode()).hexdigest()[:12]




class TrainHooks:
    """What happens between steps during a run: averaged logs, evaluations, resume points, the ETA."""

    def __init__(self, run_dir: Path, cfg: DictConfig, logger: MultiLogger, best: float | None = None,
                 eta: EtaModel | None = None):
        self.run_dir, self.cfg, self.logger = run_dir, cfg, logger
        self.best_eval = best
        self.eta = eta
        self.estimate_due_at: int | None = None  # the step after which the one-line estimate is printed

    def start_eta(self, agent: Agent) -> None:
        """Price the run: probe the learning phase (if the agent can), start timing from here."""
        end = int(self.cfg.total_steps)
        warmup = agent.learning_starts_step
        cost = agent.probe_learning_cost() if agent.steps < warmup < end else None
        self.eta = EtaModel(end, learning_starts=warmup, learning_cost=cost)
        self.eta.update(agent.steps)
        self.estimate_due_at = estimate_due_at(agent.steps, end)

    def report_progress(self, agent: Agent) -> None:
        """Steps/s and the ETA (plus, once, the one-line estimate) every ``log_every`` steps."""
        remaining = None
        if self.eta is not None:
            self.eta.update(agent.steps)
            remaining = self.eta.remaining_seconds()
            if remaining is not None and self.estimate_due_at is not None and agent.steps >= self.estimate_due_at:
                self.estimate_due_at = None
                self.logger.note(estimate_line(self.eta, agent.steps))
        agent.log_sps({"train/eta_s": remaining} if remaining is not None else None)

    def resume_point_due(self, prev_steps: int, next_steps: int) -> bool:
        return crossed(prev_steps, next_steps, int(self.cfg.checkpoint_every))

    def after_step(self, agent: Agent, prev_steps: int) -> None:
        cfg = self.cfg
        if crossed(prev_steps, agent.steps, int(cfg.log_every)):
            self.report_progress(agent)
            self.logger.flush(agent.steps)
        if crossed(prev_steps, agent.steps, int(cfg.eval_every)):
            self.evaluate_during_training(agent)
        if self.resume_point_due(prev_steps, agent.steps):
            self.logger.flush(agent.steps)
            self.save_checkpoint(agent)

    def evaluate_during_training(self, agent: Agent) -> None:
        res = evaluate(agent, episodes=int(self.cfg.eval_episodes), seed=int(self.cfg.eval_seed))
        self.logger.log({"eval/mean_return": res.mean, "eval/iqm": res.iqm}, agent.steps)
        if self.best_eval is None or res.mean > self.best_eval:
            self.best_eval = res.mean
            agent.save(self.run_dir / "best_model.safetensors")

    def save_checkpoint(self, agent: Agent) -> None:
        state = agent.state_dict(include_training_state=True)
        jsonl = self.logger.get(JsonlLogger)
        wandb = self.logger.get(WandbLogger)
        state["run"] = {
            "jsonl_offset": jsonl.offset() if isinstance(jsonl, JsonlLogger) else None,
            "wandb_id": wandb.run_id if isinstance(wandb, WandbLogger) else None,
            "best_eval": self.best_eval,
        }
        checkpoint.save_state(self.run_dir / CHECKPOINT, state)


def estimate_line(eta: EtaModel, step: int) -> str:
    """The one-line estimate printed once the first steps are measured."""
    remaining = eta.remaining_seconds() or 0.0
    rate = eta.rate() or 0.0
    text = f"estimated time: {duration(remaining)} more (measured {rate:,.0f} steps/s at step {step:,}"
    if step <= eta.learning_starts < eta.end_step:
        if eta.learning_cost is not None:
            learning_rate = 1.0 / (1.0 / rate + eta.learning_cost) if rate > 0 else 0.0
            text += f" while the buffer fills; ~{learning_rate:,.0f} steps/s once learning starts at step " \
                    f"{eta.learning_starts:,}, from a timed training round"
        else:
            text += f"; learning from step {eta.learning_starts:,} is not priced yet, the ETA will follow"
    return text + ")"


def cost_summary(agent: Agent, cfg: DictConfig) -> str:
    """What the run will cost, printed before it starts: steps (and frames), preallocated memory,
    device (with a hint where a GPU is present but unused)."""
    import torch

    total = int(cfg.total_steps)
    steps = f"{max(total - agent.steps, 0):,} agent steps" + (f" (from step {agent.steps:,})" if agent.steps else "")
    frames_per_step = agent.env_spec.frames_per_step()
    if frames_per_step > 1:
        steps += f" = {max(total - agent.steps, 0) * frames_per_step:,} frames"
    parts = [f"{cfg.agent.name} {cfg.env.name or cfg.env.id}: {steps}"]
    memory = agent.preallocated_bytes()
    if memory:
        available = available_memory()
        what = ", ".join(f"{name} {format_bytes(n)}" for name, n in memory.items())
        parts.append(what + (f" (of {format_bytes(available)} available)" if available is not None else ""))
    device = f"device {agent.device}"
    if agent.device.type == "cpu" and torch.cuda.is_available():
        device += " (a GPU is present: device=cuda would use it)"
    parts.append(device)
    if estimate_due_at(agent.steps, total) is not None:
        parts.append(f"estimated time after the first {ESTIMATE_AFTER:,} steps")
    return "; ".join(parts)


def default_run_dir(cfg: DictConfig) -> Path:
    """``run_dir``, else a new ``<runs_root>/<agent>-<env>-s<seed>-<time>`` name."""
    if cfg.run_dir:
        return Path(cfg.run_dir)
    env_label = str(cfg.env.name or cfg.env.id).replace("/", "_")
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{int(time.time() * 1e6) % 1_000_000:06d}"
    return Path(cfg.runs_root) / f"{cfg.agent.name}-{env_label}-s{cfg.seed}-{stamp}"


def create_run_dir(run_dir: Path, config_yaml: str) -> None:
    """Create ``run_dir`` and write its ``config.yaml``; a path that cannot be created or written is
    one ConfigError, and nothing created on the way is left behind."""
    existed = [p for p in (run_dir, *run_dir.parents) if p.exists()]
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        checkpoint.atomic_write_bytes(run_dir / "config.yaml", config_yaml.encode())
    except OSError as err:
        for created in (run_dir, *run_dir.parents):  # innermost first; only the empty ones we made
            if created in existed or not created.is_dir():
                break
            try:
                created.rmdir()
            except OSError:
                break
        reason = err.strerror or str(err)
        raise ConfigError(f"cannot create the run directory {run_dir}: {reason} "
                          "(choose a writable place with run_dir=<path> or runs_root=<path>)") from err


def _build_loggers(cfg: DictConfig, run_dir: Path, start_step: int, run_state: dict[str, Any]) -> MultiLogger:
    loggers: list[Logger] = []
    for name in cfg.logger:
        if name == "console":
            loggers.append(ConsoleLogger(int(cfg.total_steps), f"{cfg.agent.name} {cfg.env.name}", start_step))
        elif name == "jsonl":
            loggers.append(JsonlLogger(run_dir / "metrics.jsonl", truncate_at=run_state.get("jsonl_offset")))
        elif name == "tensorboard":
            loggers.append(TensorBoardLogger(run_dir / "tb", purge_step=start_step or None))
        elif name == "wandb":
            container = OmegaConf.to_container(cfg, resolve=True)
            assert isinstance(container, dict)
            loggers.append(WandbLogger(run_dir, {str(k): v for k, v in container.items()}, run_dir.name,
                                       resume_id=run_state.get("wandb_id")))
    return MultiLogger(loggers, log_every=int(cfg.log_every))


def _load_run(run_dir: Path, overrides: list[str]) -> tuple[DictConfig, dict[str, Any]]:
    """The saved config (with allowed overrides applied) and the latest checkpoint of a run."""
    cfg_path = checkpoint.run_config_path(run_dir)
    try:
        cfg = OmegaConf.load(cfg_path)
    except Exception as err:
        raise CheckpointError(f"{cfg_path} is unreadable: {str(err).splitlines()[0]}") from err
    if not isinstance(cfg, DictConfig):
        raise CheckpointError(f"{cfg_path} does not hold a run config")
    state = checkpoint.load_state(run_dir / CHECKPOINT)
    allowed = {"total_steps", "logger", "log_every", "device", "threads", "eval_episodes", "submit", "leaderboard",
               "check_finite"}
    for item in overrides:
        key, _, value = item.partition("=")
        if key == "resume":
            continue
        if key not in allowed:
            raise ConfigError(f"'{key}' cannot change when resuming; accepted: {', '.join(sorted(allowed))}")
        try:  # typed like a fresh run's keys (TrainConfig), so total_steps=abc is one clear line
            typed = OmegaConf.merge(OmegaConf.structured(TrainConfig), {key: yaml.safe_load(value) if value else None})
        except (OmegaConfBaseException, yaml.YAMLError) as err:
            raise config_error(err) if isinstance(err, OmegaConfBaseException) else ConfigError(
                f"invalid value for '{key}': {value}") from err
        assert isinstance(typed, DictConfig)
        OmegaConf.update(cfg, key, typed[key], merge=True)
    check_train_config(cfg)
    return cfg, state


def train(overrides: list[str] | DictConfig | None = None) -> Run:
    """Compose the config, train, save, evaluate and (by default) submit to the leaderboard."""
    overrides = overrides if overrides is not None else []
    resume_state: dict[str, Any] | None = None
    if isinstance(overrides, DictConfig):
        cfg = overrides
    else:
        resume = next((o.split("=", 1)[1] for o in overrides if o.startswith("resume=")), None)
        if resume:
            cfg, resume_state = _load_run(Path(resume), overrides)
            cfg.resume = resume
        else:
            cfg = compose(overrides)
    if int(cfg.get("threads", 1)) > 0:
        import torch

        torch.set_num_threads(int(cfg.threads))
    # Build the agent before creating anything on disk: a bad config or env fails with nothing written.
    cls = get_agent(cfg.agent.name)
    env_kwargs = OmegaConf.to_container(cfg.env.kwargs, resolve=True)  # plain lists/dicts: checkpoints, plugins
    assert isinstance(env_kwargs, dict)
    env_spec = EnvSpec(plugin=cfg.env.plugin, id=cfg.env.id, kwargs={str(k): v for k, v in env_kwargs.items()},
                       name=cfg.env.name, backend=cfg.env.get("backend"))
    agent = cls(env_spec, agent_overrides(cfg), seed=int(cfg.seed), device=str(cfg.device), runtime=cfg.get("runtime"))
    if uses_ray(agent):  # the run's ray.* settings decide where Ray runs (rlsuite.distributed)
        from rlsuite import distributed

        # no actor waiting forever
        distributed.init(cfg, require=distributed.agent_requirement(agent.config, agent.runtime))
    if cfg.get("init_from") and not resume_state:  # another run's networks as this run's start (a resume has its own)
        agent.initialize_from(str(cfg.init_from))
    run_dir = Path(cfg.resume) if resume_state else default_run_dir(cfg)
    if not resume_state:
        create_run_dir(run_dir, OmegaConf.to_yaml(cfg))
    run_state: dict[str, Any] = {}
    if resume_state:
        agent.load_state_dict(resume_state)
        run_state = resume_state.get("run", {})
    logger = _build_loggers(cfg, run_dir, agent.steps, run_state)
    agent.logger = logger
    agent.hooks = TrainHooks(run_dir, cfg, logger, best=run_state.get("best_eval"))
    agent.nonfinite.enabled = bool(cfg.get("check_finite", True))
    logger.note(cost_summary(agent, cfg))
    agent.hooks.start_eta(agent)
    try:
        if resume_state:
            agent.budget_end = int(cfg.total_steps)
            agent.continue_training()
        else:
            agent.learn(int(cfg.total_steps))
        logger.flush(agent.steps)
        agent.hooks.save_checkpoint(agent)
        agent.save(run_dir / "model.safetensors")
        result = evaluate(agent, episodes=int(cfg.eval_episodes), seed=int(cfg.eval_seed), protocol=str(cfg.protocol),
                          task=True, out_dir=run_dir)
        task_metrics = result.extra.get("task", {}).get("metrics", {})
        logger.log({"eval/mean_return": result.mean, "eval/iqm": result.iqm,
                    **{f"task/{k}": v for k, v in task_metrics.items() if v is not None}}, agent.steps)
    except NonFiniteError as err:  # say where the run and its last good checkpoint are
        latest = run_dir / CHECKPOINT
        saved = f"last good checkpoint: {latest}" if latest.is_file() else "no checkpoint written yet"
        err.where = f" Run directory: {run_dir} ({saved})."
        raise
    finally:
        logger.close()
        agent.close()
    summary = {**result.to_dict(), "agent": agent.leaderboard_name, "train_steps": agent.steps,
               "config_hash": agent_config_hash(agent)}
    checkpoint.atomic_write_bytes(run_dir / "eval.json", json.dumps(summary, indent=2).encode())
    row_id = submit_result(cfg, run_dir, agent, result) if cfg.submit else None
    return Run(dir=run_dir, config=cfg, agent=agent, eval=result, leaderboard_id=row_id)


def uses_ray(agent: Agent) -> bool:
    """Whether the agent trains on Ray: rollout workers (``runtime.workers``) or A3C's ``backend=ray``."""
    return bool(agent.runtime.workers) or getattr(agent.config, "backend", None) == "ray"


def agent_config_hash(agent: Agent) -> str:
    """Hash of the agent's full resolved config (same at train time and in a later ``rlsuite eval``)."""
    return config_hash(dataclasses.asdict(agent.config))


def result_row(agent: Agent, result: EvalResult, run_dir: Path | None, seed: int | None = None) -> dict[str, Any]:
    """One leaderboard row: the evaluation plus what makes it comparable (agent name incl. what an
    adapter wraps, env id and version, protocol, config hash, training steps and frames)."""
    frames_per_step = agent.env_spec.frames_per_step()  # of the training env: frames = steps x this
    agent_config = dataclasses.asdict(agent.config)
    return {
        "agent": agent.leaderboard_name,
        "env_id": result.env_id,
        "env_version": env_version(agent.env_spec),
        "protocol": result.protocol,
        "config_hash": config_hash(agent_config),
        "seed": int(agent.seed if seed is None else seed),
        "train_steps": agent.steps,
        "frames": agent.steps * frames_per_step,
        "episodes": result.episodes,
        "returns": [float(r) for r in result.returns],
        "mean": result.mean,
        "std": result.std,
        "median": result.median,
        "iqm": result.iqm,
        "iqm_ci_low": result.iqm_ci[0],
        "iqm_ci_high": result.iqm_ci[1],
        "run_dir": str(run_dir.resolve()) if run_dir is not None else None,
        # seconds since this process started training the agent (None for an agent only loaded)
        "wall_time": time.perf_counter() - agent._t0 if hasattr(agent, "_t0") else None,
        "extra": {"config": agent_config, "eval_seed": result.seed, "frames_per_step": frames_per_step,
                  **({"task": result.extra["task"]} if "task" in result.extra else {})},
    }


def submit_result(cfg: DictConfig, run_dir: Path, agent: Agent, result: EvalResult) -> int:
    """Add one evaluation to the SQLite leaderboard."""
    from rlsuite.eval.leaderboard import Leaderboard

    # Close the connection right away: a later Leaderboard() in this process (multirun) reads the
    # file header with open()/close(), and on POSIX closing any descriptor of the file drops every
    # SQLite lock this process holds on it, which lets another writer reset the WAL under a
    # still-open connection and lose its commits.
    with Leaderboard(cfg.leaderboard) as board:
        return board.add(result_row(agent, result, run_dir, seed=int(cfg.seed)))
