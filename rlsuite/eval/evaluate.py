"""``rlsuite.evaluate``: run an agent for N episodes on fixed evaluation seeds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlsuite.eval.protocols import get_protocol
from rlsuite.eval.stats import summarize


@dataclass
class EvalResult:
    """Returns of ``episodes`` evaluation episodes and their statistics (IQM with a 95% bootstrap CI)."""

    returns: np.ndarray
    lengths: np.ndarray
    mean: float
    std: float
    median: float
    iqm: float
    iqm_ci: tuple[float, float]
    episodes: int
    seed: int
    protocol: str
    env_id: str
    deterministic: bool = True
    video: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["returns"] = [float(r) for r in self.returns]
        d["lengths"] = [int(n) for n in self.lengths]
        d["iqm_ci"] = [float(c) for c in self.iqm_ci]
        return d

    def __repr__(self) -> str:
        lo, hi = self.iqm_ci
        return (f"EvalResult(mean={self.mean:.2f}, std={self.std:.2f}, iqm={self.iqm:.2f} "
                f"[{lo:.2f}, {hi:.2f}], episodes={self.episodes}, protocol={self.protocol})")


def evaluate(
    agent: Any,
    env: Any = None,
    episodes: int = 20,
    seed: int = 100_000,
    deterministic: bool = True,
    protocol: str = "gymnasium",
    record: str | Path | None = None,
    adapt_steps: int | None = None,
    task: bool = False,
    out_dir: str | Path | None = None,
) -> EvalResult:
    """Evaluate ``agent`` on ``env`` (default: the env it was trained on, evaluation variant).

    Episode i is reset with seed ``seed + i``, so results are repeatable and never share seeds with
    training. ``record`` writes a video (MP4 or GIF by suffix) of the first episode.

    Meta-learners (agents with a ``meta_protocol``: maml, rl2) are evaluated by their meta-test
    protocol instead, which ``protocol="gymnasium"`` (the default) also selects: ``episodes`` is then
    the number of held-out tasks, one score each; ``adapt_steps`` is MAML's number of gradient steps.

    ``task=True`` also runs the env plugin's own evaluation (:meth:`rlsuite.env_plugin.EnvPlugin.evaluate_task`,
    e.g. recall and AP for localization, the best architecture for NAS) where it has one; its
    :class:`~rlsuite.env_plugin.TaskResult` lands in ``result.extra["task"]`` (as a dict) and the
    files it writes go under ``out_dir``.
    """
    from rlsuite.errors import ConfigError

    if episodes < 1:
        raise ConfigError(f"episodes must be >= 1, got {episodes}")
    proto = get_protocol(protocol)
    if proto.meta or getattr(agent, "meta_protocol", None):
        return _evaluate_meta(agent, env, episodes, seed, proto.name, record, adapt_steps)
    if adapt_steps is not None:
        raise ConfigError(f"adapt_steps applies to meta-learners (maml); agent '{agent.name}' is not one")
    from rlsuite.envspec import env_spec_from

    spec = env_spec_from(env) if env is not None else agent.env_spec
    render_mode = "rgb_array" if record else None
    if spec.rebuildable:
        single = spec.make(training=False, render_mode=render_mode, **proto.env_kwargs)
    else:
        if record:
            raise ConfigError("record= needs an env rlsuite can rebuild with render_mode='rgb_array' (a name or id)")
        single = spec.make(training=False)
    rng = np.random.default_rng(seed)
    single.action_space.seed(seed)  # ε-greedy evaluation actions repeat with the evaluation seed
    frames_per_step = spec.frames_per_step(**proto.env_kwargs)
    returns, lengths, frames = [], [], []
    for i in range(episodes):
        obs, _ = single.reset(seed=seed + i)
        begin_episode = getattr(agent, "begin_episode", None)  # any object with act() evaluates
        if begin_episode is not None:
            begin_episode()  # e.g. a recurrent policy's state starts each episode at zero
        total, steps, done = 0.0, 0, False
        while not done:
            if record and i == 0:
                frames.append(single.render())
            if proto.epsilon > 0 and rng.random() < proto.epsilon:
                action = single.action_space.sample()
            else:
                action = agent.act(np.asarray(obs)[None], deterministic=deterministic)[0]
            obs, reward, terminated, truncated, info = single.step(action)
            total += float(info.get("raw_reward", reward))
            steps += 1
            done = terminated or truncated or (proto.max_episode_steps is not None and steps >= proto.max_episode_steps)
        returns.append(total)
        lengths.append(steps)
    if spec.rebuildable:
        single.close()
    video = None
    if record and frames:
        from rlsuite.eval.video import write_video

        video = str(write_video(frames, Path(record)))
    s = summarize(np.asarray(returns), seed=seed)
    extra: dict[str, Any] = {"frames_per_step": frames_per_step}
    if task:
        task_result = evaluate_task(agent, spec, episodes, seed, out_dir)
        if task_result is not None:
            extra["task"] = task_result.to_dict()
    return EvalResult(
        returns=np.asarray(returns, dtype=np.float64),
        lengths=np.asarray(lengths, dtype=np.int64),
        mean=s["mean"],
        std=s["std"],
        median=s["median"],
        iqm=s["iqm"],
        iqm_ci=(s["iqm_ci_low"], s["iqm_ci_high"]),
        episodes=episodes,
        seed=seed,
        protocol=proto.name,
        env_id=spec.id or spec.label,
        deterministic=deterministic,
        video=video,
        extra=extra,
    )


def evaluate_task(agent: Any, spec: Any, episodes: int, seed: int, out_dir: str | Path | None = None) -> Any:
    """The env plugin's own evaluation of ``agent`` (a :class:`~rlsuite.env_plugin.TaskResult`), or
    ``None`` where the env has none (plain Gymnasium envs, envs users bring as instances)."""
    if not spec.rebuildable:
        return None
    from rlsuite import registry

    plugin = registry.get_env_plugin(spec.plugin)
    return plugin.evaluate_task(agent, spec, episodes=episodes, seed=seed,
                                out_dir=Path(out_dir) if out_dir is not None else None)


def _evaluate_meta(agent: Any, env: Any, tasks: int, seed: int, protocol: str, record: Any,
                   adapt_steps: int | None) -> EvalResult:
    """The agent's meta-test protocol on ``tasks`` held-out tasks (rlsuite.meta.protocol)."""
    from rlsuite.errors import ConfigError
    from rlsuite.meta.protocol import MetaEvaluation

    own = getattr(agent, "meta_protocol", None)
    if own is None:
        raise ConfigError(f"protocol '{protocol}' is a meta-test protocol of meta-learners (maml, rl2); "
                          f"agent '{agent.name}' is not one")
    if protocol not in ("gymnasium", own):
        raise ConfigError(f"agent '{agent.name}' is evaluated by its meta-test protocol '{own}' "
                          f"(protocol=gymnasium selects it too), got protocol={protocol}")
    if env is not None or record:
        raise ConfigError("a meta-test protocol runs on the held-out tasks of the agent's own task distribution: "
                          "env= and video recording are not available")
    result: MetaEvaluation = agent.meta_evaluate(tasks, seed, adapt_steps)
    s = summarize(np.asarray(result.scores, dtype=np.float64), seed=seed)
    spec = agent.env_spec
    return EvalResult(
        returns=np.asarray(result.scores, dtype=np.float64),
        lengths=np.asarray(result.env_steps, dtype=np.int64),
        mean=s["mean"], std=s["std"], median=s["median"], iqm=s["iqm"], iqm_ci=(s["iqm_ci_low"], s["iqm_ci_high"]),
        episodes=tasks,
        seed=seed,
        protocol=result.protocol,
        env_id=spec.id or spec.label,
        deterministic=False,  # adaptation needs sampled actions (MAML's gradient, RL²'s exploration)
        extra={"meta": result.details, "summary": result.summary, "frames_per_step": 1},
    )


