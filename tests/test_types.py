"""The type parameter an agent declares (``class PPO(OnPolicyAgent[PPOConfig])``) is what the type checker
takes ``self.config`` to be; ``Config`` is what the agent builds at run time. They must agree."""

from __future__ import annotations

import typing

import pytest

from rlsuite import registry
from rlsuite.agent import Agent


def declared_config(cls: type) -> type | None:
    """The concrete config class bound to ``ConfigT`` nearest to ``cls`` in its MRO, or None."""
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            origin = typing.get_origin(base)
            if isinstance(origin, type) and issubclass(origin, Agent):
                (arg,) = typing.get_args(base)
                if isinstance(arg, type):
                    return arg
    return None


@pytest.mark.parametrize("name", registry.agent_names())
def test_config_type_parameter_matches_config(name: str) -> None:
    cls = registry.get_agent(name)
    declared = declared_config(cls)
    if registry.agent_targets()[name].startswith("rlsuite.agents."):
        assert declared is not None, f"{cls.__name__} does not bind Agent's config type parameter"
    if declared is not None:
        assert issubclass(cls.Config, declared), f"{cls.__name__}.Config is {cls.Config.__name__}, declared {declared}"
