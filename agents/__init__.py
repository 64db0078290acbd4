"""Built-in agents (installed as ``rlsuite.agents``): ``from rlsuite.agents import DQN, PPO``.

The classes offered here are the ``rlsuite.agents`` entry points that point into this package
(:func:`rlsuite.registry.agent_targets`), so a new agent appears here once it is registered. They
are imported lazily so that ``import rlsuite`` stays fast and an agent with a missing optional
dependency does not break the others.
"""

from __future__ import annotations

import importlib
from typing import Any

from rlsuite.registry import agent_targets


def _classes() -> dict[str, str]:
    """Class name -> module (relative to this package) of every entry point into this package."""
    classes = {}
    for target in agent_targets().values():
        module, _, attr = target.partition(":")
        if module.startswith(__name__ + ".") and attr:
            classes[attr] = module[len(__name__) + 1:]
    return classes


_CLASSES = _classes()


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        module = importlib.import_module(f"{__name__}.{_CLASSES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_CLASSES)
