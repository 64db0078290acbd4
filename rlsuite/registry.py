"""Plugin discovery: agents and envs come from the entry-point groups ``rlsuite.agents`` and
``rlsuite.envs``. Built-ins register there exactly as a third-party package would.

The bottom layer of the core: it imports only the plugin contract and the errors. What ``env=``
means and how an env is rebuilt (:class:`rlsuite.envspec.EnvSpec`) sit one layer up.
"""

from __future__ import annotations

import functools
from importlib import metadata
from typing import TYPE_CHECKING, Any

from rlsuite.env_plugin import CallableEnvPlugin, EnvPlugin
from rlsuite.errors import RLSuiteError, unknown

if TYPE_CHECKING:  # annotations only: agent and envspec import this module, not the reverse
    from rlsuite.agent import Agent
    from rlsuite.envspec import EnvSpec

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


def agent_targets() -> dict[str, str]:
    """Each registered agent's ``module:Class`` (its entry point's value), without importing it."""
    return {name: ep.value for name, ep in sorted(_entry_points(AGENT_GROUP).items())}


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
