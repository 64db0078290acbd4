"""Plugin discovery: agents and envs come from the entry-point groups ``rlsuite.agents`` and
``rlsuite.envs``. Built-ins register there exactly as a third-party package would.

An env is addressed by an :class:`EnvSpec`: which plugin builds it, which id, which kwargs, so that
training, evaluation, resumed runs and worker processes can all rebuild the same env.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from rlsuite.env_plugin import CallableEnvPlugin, EnvPlugin
from rlsuite.errors import RLSuiteError, unknown

if TYPE_CHECKING:
    from rlsuite.agent import Agent

AGENT_GROUP = "rlsuite.agents"
ENV_GROUP = "rlsuite.envs"


@functools.cache
def _entry_points(group: str) -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=group)}


def refresh() -> None:
    """Forget cached entry points (after installing a plugin in the running process)."""
    _entry_points.cache_clear()
    _load.cache_clear()


@functools.cache
def _load(group: str, name: str) -> Any:
    ep = _entry_points(group)[name]
    try:
        return ep.load()
    except ImportError as err:  # an optional dependency of that plugin is missing
        raise RLSuiteError(f"plugin '{name}' ({ep.value}) cannot be imported: {err}") from err


def agent_names() -> list[str]:
    return sorted(_entry_points(AGENT_GROUP))


def env_plugin_names() -> list[str]:
    return sorted(_entry_points(ENV_GROUP))


def get_agent(name: str) -> type[Agent]:
    """The agent class registered under ``name``; unknown names raise with close matches."""
    if name not in _entry_points(AGENT_GROUP):
        raise unknown("agent", name, agent_names())
    return _load(AGENT_GROUP, name)


def get_env_plugin(name: str) -> EnvPlugin:
    if name == "custom":  # what EnvSpec records for a user's env instance or factory
        raise RLSuiteError(
            "this agent was trained on a user-supplied env, which a saved model cannot rebuild; "
            "pass it again: rlsuite.load(path, env=<env instance or factory>)"
        )
    if name not in _entry_points(ENV_GROUP):
        raise unknown("env plugin", name, env_plugin_names())
    obj = _load(ENV_GROUP, name)
    if isinstance(obj, type) and issubclass(obj, EnvPlugin):
        return obj()
    if isinstance(obj, EnvPlugin):
        return obj
    if callable(obj):
        return CallableEnvPlugin(obj)
    raise RLSuiteError(f"env plugin '{name}' is neither an EnvPlugin nor a callable returning an env")


def env_version(spec: EnvSpec) -> str:
    """``v5 ale-py 0.12.1``: the id's version suffix and the version of the package providing the env."""
    suffix = spec.id.rsplit("-", 1)[-1] if spec.id and "-v" in spec.id else ""
    provider = ""
    if spec.plugin in _entry_points(ENV_GROUP):
        ep = _entry_points(ENV_GROUP)[spec.plugin]
        try:
            provider = get_env_plugin(spec.plugin).provider or (ep.dist.name if ep.dist else "")
        except RLSuiteError:
            provider = ""
    try:
        return f"{suffix} {provider} {metadata.version(provider)}".strip() if provider else suffix
    except metadata.PackageNotFoundError:
        return suffix


def describe_agents() -> list[tuple[str, str]]:
    out = []
    for name in agent_names():
        try:
            out.append((name, get_agent(name).description))
        except RLSuiteError as err:
            out.append((name, f"(unavailable: {err})"))
    return out


def describe_envs() -> list[tuple[str, str]]:
    out = []
    for name in env_plugin_names():
        try:
            out.append((name, get_env_plugin(name).description))
        except RLSuiteError as err:
            out.append((name, f"(unavailable: {err})"))
    return out


@dataclass
class EnvSpec:
    """How to build an env again: a plugin name, an id and kwargs, or a user's instance/factory.

    ``instance`` and ``factory`` cover envs users bring themselves (``env=`` accepts a Gymnasium
    env instance or a zero-argument factory); those cannot be rebuilt from a saved config.
    """

    plugin: str = "gym"
    id: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    instance: gym.Env | None = None
    factory: Callable[[], gym.Env] | None = None

    @property
    def label(self) -> str:
        """Short human name used in run directories and leaderboards."""
        if self.name:
            return self.name
        if self.id:
            return self.id
        if self.instance is not None and self.instance.spec is not None:
            return self.instance.spec.id
        return self.plugin

    @property
    def rebuildable(self) -> bool:
        return self.instance is None and self.factory is None

    def to_dict(self) -> dict[str, Any]:
        return {"plugin": self.plugin, "id": self.id, "kwargs": dict(self.kwargs), "name": self.name}

    def make(self, *, training: bool = True, render_mode: str | None = None, **extra: Any) -> gym.Env:
        """One env. ``training=False`` gives the evaluation variant of the plugin."""
        if self.instance is not None:
            return self.instance
        if self.factory is not None:
            return self.factory()
        kwargs = {**self.kwargs, **extra}
        return get_env_plugin(self.plugin).make(self.id, training=training, render_mode=render_mode, **kwargs)

    def make_vec(
        self, n_envs: int, *, seed: int, training: bool = True, asynchronous: bool = False
    ) -> gym.vector.VectorEnv:
        """``n_envs`` copies with same-step autoreset: on an episode end the returned obs is already
        the reset obs, and the true final obs is in ``info["final_obs"]``."""
        if self.instance is not None:
            if n_envs != 1:
                raise RLSuiteError(
                    "an env instance cannot be copied for n_envs > 1; pass a zero-argument factory instead"
                )
            instance = self.instance
            fns = [lambda: instance]
        else:
            if self.rebuildable:
                vec = get_env_plugin(self.plugin).make_vec(
                    self.id, n_envs, seed=seed, training=training, **self.kwargs
                )
                if vec is not None:
                    return vec
            fns = [functools.partial(self.make, training=training) for _ in range(n_envs)]
        if asynchronous and n_envs > 1:
            return gym.vector.AsyncVectorEnv(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
        from rlsuite.vector import LeanSyncVectorEnv

        return LeanSyncVectorEnv(fns)


def env_spec_from(env: Any, **kwargs: Any) -> EnvSpec:
    """Accept what users pass as ``env=``: an EnvSpec, a config-like dict, a name/id, an env
    instance, or a zero-argument factory."""
    from rlsuite.config import resolve_env_node  # config knows the env configs on disk

    if isinstance(env, EnvSpec):
        return env
    if isinstance(env, gym.Env):
        return EnvSpec(plugin="custom", instance=env)
    if isinstance(env, str):
        node = resolve_env_node(env)
        node["kwargs"] = {**node.get("kwargs", {}), **kwargs}
        return EnvSpec(plugin=node["plugin"], id=node.get("id"), kwargs=node["kwargs"], name=node.get("name"))
    if isinstance(env, dict) or hasattr(env, "keys"):
        d = dict(env)
        return EnvSpec(
            plugin=d.get("plugin", "gym"), id=d.get("id"), kwargs=dict(d.get("kwargs") or {}), name=d.get("name")
        )
    if callable(env):
        return EnvSpec(plugin="custom", factory=env, name=getattr(env, "__name__", None))
    raise RLSuiteError(
        f"env must be a name, a Gymnasium id, an env instance or a zero-argument factory; got {type(env).__name__}"
    )
