"""What ``env=`` accepts, grouped by env plugin (family), for ``rlsuite list envs``.

Derived, never hand-kept: the plugins come from the registry (entry points), their names from each
plugin's :meth:`~rlsuite.env_plugin.EnvPlugin.ids` and, for a parametrized family, its ``pattern``
(``bandits/k<k>-n<n>``); the env configs from every ``configs/env/**/*.yaml`` (``nas/<space>``
included), each under the plugin it names. Gymnasium's registry is summarised, one line per source
package (classic_control, toy_text, box2d, mujoco, ...) with the newest version of each env.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from rlsuite.config import configs_dir
from rlsuite.envspec import read_yaml


@dataclass
class Family:
    """One env plugin and the names that select it: ``(name, what it is)`` pairs, one line each."""

    plugin: str
    description: str
    names: list[tuple[str, str]] = field(default_factory=list)


def env_config_files() -> dict[str, dict]:
    """Every env config by the name ``env=`` takes (``Pong``, ``nas/mnist1d``) → its YAML node."""
    root = configs_dir() / "env"
    return {path.relative_to(root).with_suffix("").as_posix(): read_yaml(path)
            for path in sorted(root.rglob("*.yaml"))}


def id_pattern(plugin: object) -> str | None:
    """A parametrized family's id pattern with its fields named (``bandits/k<k>-n<n>``), else None."""
    pattern = getattr(plugin, "pattern", None)
    if pattern is None:
        return None
    text = re.sub(r"\(\?P<(\w+)>[^()]*\)", r"<\1>", pattern.pattern)
    text = re.sub(r"\(\?[=!][^()]*\)", "", text)  # look-aheads say nothing to a reader
    text = re.sub(r"\(\?:([^()]*)\)\?", r"[\1]", text)  # optional parts in brackets
    return text.replace("\\", "")


def gymnasium_groups(exclude: set[str]) -> list[tuple[str, str]]:
    """Gymnasium's registered ids (minus ``exclude``, those another plugin handles), one line per source
    package: ``(package (N ids), newest version of each env)``."""
    import gymnasium as gym

    newest: dict[str, dict[str, tuple[int, str]]] = defaultdict(dict)
    missing: dict[str, list[str]] = defaultdict(list)  # ids registered only to say what to install
    for env_id, spec in gym.registry.items():
        if env_id in exclude:
            continue
        entry = spec.entry_point
        needs = re.fullmatch(r"_raise_(\w+)_error", getattr(entry, "__name__", ""))
        if needs:
            missing[needs.group(1)].append(env_id)
            continue
        entry = entry if isinstance(entry, str) else getattr(entry, "__module__", "")
        module = str(entry).split(":")[0]
        parts = module.split(".")
        package = parts[2] if parts[:2] == ["gymnasium", "envs"] and len(parts) > 2 else parts[0] or "other"
        base, _, version = env_id.rpartition("-v")
        if not base or not version.isdigit():
            base, version = env_id, "0"
        if int(version) >= newest[package].get(base, (-1, ""))[0]:
            newest[package][base] = (int(version), env_id)
    out = []
    for package in sorted(newest):
        ids = sorted(env_id for _, env_id in newest[package].values())
        out.append((f"{package} ({len(ids)} envs)", ", ".join(ids)))
    if missing:
        out.append((f"unavailable ({sum(map(len, missing.values()))} ids)",
                    "; ".join(f"need {package}: {', '.join(sorted(ids))}" for package, ids in sorted(missing.items()))))
    return out


def env_families() -> list[Family]:
    """Every selectable env name, grouped by plugin (see the module docstring)."""
    from rlsuite import registry

    configs = env_config_files()
    families: dict[str, Family] = {}
    for name, description in registry.describe_envs():
        families[name] = Family(name, description)
    for name, node in configs.items():
        plugin_name = str(node.get("plugin") or "gym")
        family = families.setdefault(plugin_name, Family(plugin_name, "(plugin not installed)"))
        family.names.append((name, f"config: {node.get('id') or plugin_name}" + _config_note(node)))
    config_of_id = {str(node["id"]): name for name, node in configs.items() if node.get("id")}
    handled: set[str] = set()
    for name, family in families.items():
        if name == "gym":
            continue
        try:
            plugin = registry.get_env_plugin(name)
        except Exception:  # noqa: BLE001 - a broken third-party plugin is listed, not fatal
            continue
        if name not in configs:  # a config of the plugin's name is what env=<name> selects
            family.names.insert(0, (name, "the plugin's default"))
        pattern = id_pattern(plugin)
        ids = [i for i in plugin.ids() if i not in configs]
        handled.update(plugin.ids())
        if pattern:
            family.names.append((pattern, f"id pattern, e.g. {', '.join(ids)}" if ids else "id pattern"))
        elif len(ids) > 6:
            family.names.extend(_summarised(ids))
        else:
            family.names.extend((i, "id" + (f" (the plugin's defaults; config {config_of_id[i]} adds its settings)"
                                             if i in config_of_id else "")) for i in ids)
    if "gym" in families:
        import gymnasium as gym

        other = {env_id for env_id in gym.registry
                 if any(_handles(name, env_id) for name in families if name != "gym")}
        families["gym"].names.extend(gymnasium_groups(handled | other))
    return [families[name] for name in sorted(families, key=lambda n: (n != "gym", n))]


def _handles(plugin_name: str, env_id: str) -> bool:
    from rlsuite import registry

    try:
        return bool(registry.get_env_plugin(plugin_name).handles(env_id))
    except Exception:  # noqa: BLE001 - as above
        return False


def _config_note(node: dict) -> str:
    """What a config sets beyond its id (its kwargs' keys), briefly."""
    kwargs = node.get("kwargs") or {}
    return f" ({', '.join(f'{k}={v}' for k, v in list(kwargs.items())[:3])})" if kwargs else ""


def _summarised(ids: list[str]) -> list[tuple[str, str]]:
    """Many ids as one line per shape (``ALE/<name>-v5``: the names), grouped by namespace and version."""
    import os

    shapes: dict[tuple[str, str], list[str]] = defaultdict(list)
    for env_id in ids:
        namespace = env_id.split("/")[0] + "/" if "/" in env_id else ""
        version = env_id[env_id.rfind("-v"):] if "-v" in env_id else ""
        shapes[(namespace, version)].append(env_id)
    out = []
    for group in shapes.values():
        # character-wise on purpose: the shared text of ids (CartPole-v1 / CartPole-v0), not path parts
        prefix = os.path.commonprefix(group) if len(group) > 1 else ""  # noqa: RUF071
        suffix = os.path.commonprefix([i[::-1] for i in group])[::-1] if len(group) > 1 else ""  # noqa: RUF071
        names = [i[len(prefix):len(i) - len(suffix)] for i in group]
        out.append((f"{prefix}<name>{suffix}", f"{len(group)} ids, <name>: {', '.join(names)}"))
    return out
