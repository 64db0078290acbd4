"""What ``env=`` means, and how to build that env again.

``env=<name>`` is resolved here: an env config (``configs/env/<name>.yaml``, with its per-agent tuned
hyperparameters), an env plugin's name, an id one of the plugins handles (``ALE/Pong-v5``), or any
registered Gymnasium id. The result is an :class:`EnvSpec` (which plugin builds it, which id, which
kwargs), so that training, evaluation, resumed runs and worker processes all rebuild the same env.

Layering: this module sits above :mod:`rlsuite.registry` (plugins) and below :mod:`rlsuite.config`
(composition) and :mod:`rlsuite.agent`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml

from rlsuite import registry
from rlsuite.errors import ConfigError, RLSuiteError, unknown
from rlsuite.vector import LeanSyncVectorEnv, SingleEnvView


def configs_dir() -> Path:
    return Path(str(resources.files("rlsuite.configs")))


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {str(err).splitlines()[0]}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping")
    return data


def env_config_names() -> list[str]:
    return sorted(p.stem for p in (configs_dir() / "env").glob("*.yaml"))


def env_config_path(name: str) -> Path | None:
    """``configs/env/<name>.yaml`` when ``name`` names an env config, else None."""
    path = configs_dir() / "env" / f"{name}.yaml"
    return path if path.is_file() else None


def resolve_env_node(name: str) -> dict[str, Any]:
    """What ``env=<name>`` means: a config file, an env plugin's name, a Gymnasium id, or an id
    one of the plugins handles (``ALE/Pong-v5``). Unknown names list the closest candidates."""
    path = env_config_path(name)
    if path is not None:
        node = read_yaml(path)
        node.setdefault("plugin", "gym")
        node.setdefault("kwargs", {})
        node.setdefault("name", name)
        node.setdefault("id", None)
        node.setdefault("backend", None)
        return node
    if name in registry.env_plugin_names():
        return {"name": name, "plugin": name, "id": None, "kwargs": {}, "backend": None}
    # Family plugins first: ALE/Pong-v5 is also a Gymnasium id once ale_py is imported, but it must
    # get the Atari plugin's preprocessing and protocols.
    for plugin_name in registry.env_plugin_names():
        if plugin_name == "gym":
            continue
        try:
            plugin = registry.get_env_plugin(plugin_name)
        except Exception:  # a broken third-party plugin must not hide the others
            continue
        if plugin.handles(name):
            return {"name": name, "plugin": plugin_name, "id": name, "kwargs": {}, "backend": None}
    if name in gym.registry:
        return {"name": name, "plugin": "gym", "id": name, "kwargs": {}, "backend": None}
    raise unknown("env", name, env_config_names() + registry.env_plugin_names() + list(gym.registry))


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
    backend: str | None = None  # the plugin's vector backend for training (env.backend=envpool); None: its default

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
        d = {"plugin": self.plugin, "id": self.id, "kwargs": dict(self.kwargs), "name": self.name}
        return {**d, "backend": self.backend} if self.backend is not None else d

    def make(self, *, training: bool = True, render_mode: str | None = None, **extra: Any) -> gym.Env:
        """One env. ``training=False`` gives the evaluation variant of the plugin.

        With a vector ``backend`` (EnvPool) the env is one env of that backend, so a run is evaluated
        on the env it trained on: the backends share preprocessing and scores but not their game
        starts (EnvPool's FIRE frame and no-op differ), which shifts the frame-skip phase, and a
        policy learned on one can lose on the other. Rendering (``render_mode``) needs the plugin's
        own env: a video is recorded there."""
        if self.instance is not None:
            return self.instance
        if self.factory is not None:
            return self.factory()
        kwargs = {**self.kwargs, **extra}
        plugin = registry.get_env_plugin(self.plugin)
        if self.backend is not None and render_mode is None:
            self.check_backend()
            vec = plugin.make_vec(self.id, 1, seed=0, training=training, backend=self.backend, **kwargs)
            if vec is not None:
                return SingleEnvView(vec)
        return plugin.make(self.id, training=training, render_mode=render_mode, **kwargs)

    def frames_per_step(self, **extra: Any) -> int:
        """Emulator frames per agent step of :meth:`make`'s env (:meth:`EnvPlugin.frames_per_step`);
        1 for a user's own env instance or factory."""
        if not self.rebuildable:
            return 1
        return registry.get_env_plugin(self.plugin).frames_per_step(self.id, **{**self.kwargs, **extra})

    def check_backend(self) -> None:
        """An ``env.backend`` the plugin does not offer is one clear error (before anything runs)."""
        if self.backend is None:
            return
        accepted = registry.get_env_plugin(self.plugin).backends() if self.rebuildable else ()
        if self.backend not in accepted:
            raise unknown(f"env backend for plugin '{self.plugin}'", self.backend, accepted)

    def make_vec(self, n_envs: int, *, seed: int, training: bool = True) -> gym.vector.VectorEnv:
        """``n_envs`` copies with same-step autoreset: on an episode end the returned obs is already
        the reset obs, and the true final obs is in ``info["final_obs"]``."""
        fns: list[Callable[[], gym.Env]]
        if self.instance is not None:
            if n_envs != 1:
                raise RLSuiteError(
                    "an env instance cannot be copied for n_envs > 1; pass a zero-argument factory instead"
                )
            instance = self.instance
            fns = [lambda: instance]
        else:
            if self.rebuildable:
                plugin = registry.get_env_plugin(self.plugin)
                self.check_backend()
                extra: dict[str, Any] = {} if self.backend is None else {"backend": self.backend}
                vec = plugin.make_vec(self.id, n_envs, seed=seed, training=training, **self.kwargs, **extra)
                if vec is not None:
                    return vec
            fns = [functools.partial(self.make, training=training) for _ in range(n_envs)]
        return LeanSyncVectorEnv(fns)


def env_spec_from(env: Any, **kwargs: Any) -> EnvSpec:
    """Accept what users pass as ``env=``: an EnvSpec, a config-like dict, a name/id, an env
    instance, or a zero-argument factory."""
    if isinstance(env, EnvSpec):
        return env
    if isinstance(env, gym.Env):
        return EnvSpec(plugin="custom", instance=env)
    if isinstance(env, str):
        node = resolve_env_node(env)
        node["kwargs"] = {**node.get("kwargs", {}), **kwargs}
        return EnvSpec(plugin=node["plugin"], id=node.get("id"), kwargs=node["kwargs"], name=node.get("name"),
                       backend=node.get("backend"))
    if isinstance(env, dict) or hasattr(env, "keys"):
        d = dict(env)
        return EnvSpec(
            plugin=d.get("plugin", "gym"), id=d.get("id"), kwargs=dict(d.get("kwargs") or {}), name=d.get("name"),
            backend=d.get("backend"),
        )
    if callable(env):
        return EnvSpec(plugin="custom", factory=env, name=getattr(env, "__name__", None))
    raise RLSuiteError(
        f"env must be a name, a Gymnasium id, an env instance or a zero-argument factory; got {type(env).__name__}"
    )
