"""Hyperparameter domains, declared next to each config field, and the one validator that checks them.

    @dataclass
    class DQNConfig(AgentConfig):
        lr: float = field(default=1e-4, metadata=positive)
        loss: str = field(default="huber", metadata=one_of("huber", "mse"))
        n_step: int = field(default=1, metadata=at_least_one)
        # a rule across fields is declared on the class, next to them
        relations: ClassVar[tuple[Relation, ...]] = (
            Relation("v_max > v_min", ("v_min", "v_max"), lambda c: c.v_max > c.v_min),
        )

:func:`validate` walks a config dataclass and raises :class:`ConfigError` for the first field outside
its domain, naming the key, the value and what is accepted (with close matches for choices). NaN is
refused in every float, declared or not. A field whose value is ``None`` ("use the default") is
not checked: OmegaConf's typing already refuses ``None`` where the field is not optional.

This module is a leaf (it imports only numpy and :mod:`rlsuite.errors`), so any config class can use it.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlsuite.errors import ConfigError, suggest

DOMAIN = "domain"  # the dataclass field metadata key holding a field's Constraint


class Constraint:
    """A set of accepted values. Subclasses say whether a value is in it and how to describe it."""

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def __or__(self, other: Constraint) -> Constraint:
        return Either((self, other))


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))  # numpy scalars count


@dataclass(frozen=True)
class Range(Constraint):
    """A finite number within the given bounds (any of them may be left open)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def accepts(self, value: Any) -> bool:
        if not _is_number(value) or not math.isfinite(value):
            return False
        return not (
            (self.ge is not None and value < self.ge)
            or (self.gt is not None and value <= self.gt)
            or (self.le is not None and value > self.le)
            or (self.lt is not None and value >= self.lt)
        )

    def describe(self) -> str:
        if self.ge is not None and self.le is not None:
            return f"a number in [{self.ge:g}, {self.le:g}]"
        bounds = [f"{op} {bound:g}" for op, bound in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
                  if bound is not None]
        return "a finite number" + (" " + " and ".join(bounds) if bounds else "")


@dataclass(frozen=True)
class OneOf(Constraint):
    """One of a fixed list of choices (the config's enums: ``loss``, ``optimizer``, ...)."""

    choices: tuple[Any, ...]

    def accepts(self, value: Any) -> bool:
        return value in self.choices

    def describe(self) -> str:
        return "one of " + ", ".join(str(c) for c in self.choices)


@dataclass(frozen=True)
class Each(Constraint):
    """Every element of a list is accepted by ``inner`` (e.g. each width of ``net.widths`` >= 1)."""

    inner: Constraint

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (list, tuple)) and all(self.inner.accepts(v) for v in value)

    def describe(self) -> str:
        return f"a list whose every element is {self.inner.describe()}"


@dataclass(frozen=True)
class Either(Constraint):
    """Accepted by any of ``options`` (``Range(ge=1) | OneOf((-1,))``)."""

    options: tuple[Constraint, ...]

    def accepts(self, value: Any) -> bool:
        return any(c.accepts(value) for c in self.options)

    def describe(self) -> str:
        return " or ".join(c.describe() for c in self.options)


@dataclass(frozen=True)
class Section(Constraint):
    """A nested config dataclass (``agent.net``, ``runtime``): its own fields declare their domains,
    and :func:`validate` walks into it."""

    config: type

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.config)

    def describe(self) -> str:
        return f"the keys of {self.config.__name__}"


@dataclass(frozen=True)
class CheckedWhenBuilt(Constraint):
    """A domain the config cannot enumerate (an activation name, an encoder run, free keyword
    arguments): declared here in words, checked by the code that uses the value, which turns a bad
    one into a :class:`ConfigError` before anything is written."""

    what: str

    def accepts(self, value: Any) -> bool:
        return True

    def describe(self) -> str:
        return self.what


@dataclass(frozen=True)
class Relation:
    """A rule across fields of one config, declared on its class as ``relations = (Relation(...),)``."""

    rule: str  # what must hold, as the user reads it
    keys: tuple[str, ...]  # the fields involved (their values are shown when the rule fails)
    holds: Callable[[Any], bool]


def domain(constraint: Constraint) -> dict[str, Constraint]:
    """Field metadata declaring ``constraint``: ``field(default=..., metadata=domain(Range(gt=0)))``."""
    return {DOMAIN: constraint}


def one_of(*choices: Any) -> dict[str, Constraint]:
    return domain(OneOf(tuple(choices)))


# The domains most fields need, named for what they are.
positive = domain(Range(gt=0))  # learning rates, coefficients that scale something
non_negative = domain(Range(ge=0))
probability = domain(Range(ge=0, le=1))  # also discounts, λ, ε, τ
at_least_one = domain(Range(ge=1))  # sizes, counts, intervals
finite = domain(Range())
widths = domain(Each(Range(ge=1)))  # hidden layer sizes
flag = one_of(False, True)  # what every ``bool`` field accepts (constraint_of infers it from the type)
activation_name = domain(CheckedWhenBuilt(
    "an activation name of rlsuite.nets (relu, tanh, elu, gelu, silu, leaky_relu)"))
# checked when the encoder loads (rlsuite.backbones)
encoder_run = domain(CheckedWhenBuilt("the run directory of a `rlsuite fit` run (vae or cnn)"))


def section(config: type) -> dict[str, Constraint]:
    """Metadata of a field holding the nested config dataclass ``config``."""
    return domain(Section(config))


def checked_when_built(what: str) -> dict[str, Constraint]:
    return domain(CheckedWhenBuilt(what))


def constraint_of(field: dataclasses.Field[Any]) -> Constraint | None:
    """The field's declared domain; a ``bool`` field's domain is its type (:data:`flag`)."""
    declared = field.metadata.get(DOMAIN)
    if declared is None and field.type in (bool, "bool", "bool | None"):
        return flag[DOMAIN]
    return declared


def _nan_path(value: Any, path: str) -> str | None:
    """The key path of a NaN inside ``value`` (floats, lists, dicts), or None."""
    if isinstance(value, float) and math.isnan(value):
        return path
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _nan_path(item, f"{path}[{i}]")
            if found:
                return found
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _nan_path(item, f"{path}.{key}")
            if found:
                return found
    return None


def check_value(key: str, value: Any, constraint: Constraint | None, where: str = "") -> None:
    """Raise one line naming ``key`` if ``value`` is NaN somewhere or outside ``constraint``."""
    nan_at = _nan_path(value, key)
    if nan_at is not None:
        raise ConfigError(f"invalid value for '{nan_at}'{where}: nan; accepted: "
                          f"{constraint.describe() if constraint and nan_at == key else 'a number (not NaN)'}")
    if value is None or constraint is None or constraint.accepts(value):
        return
    if isinstance(constraint, Each) and isinstance(value, (list, tuple)):  # name the element that is wrong
        for i, item in enumerate(value):
            check_value(f"{key}[{i}]", item, constraint.inner, where)
    hint = ""
    if isinstance(constraint, OneOf) and isinstance(value, str):
        hint = suggest(value, [str(c) for c in constraint.choices])
    message = f"invalid value for '{key}'{where}: {value!r}; accepted: {constraint.describe()}"
    raise ConfigError(message + ("." + hint if hint else ""))


def _dotted(config: Any, key: str) -> Any:
    """``config.net.recurrent`` for the key ``net.recurrent``."""
    for part in key.split("."):
        config = getattr(config, part)
    return config


def validate(config: Any, prefix: str = "", where: str = "") -> None:
    """Check every field of the dataclass instance ``config`` against its declared domain."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            validate(value, f"{prefix}{field.name}.", where)
            continue
        check_value(prefix + field.name, value, constraint_of(field), where)
    for relation in getattr(config, "relations", ()):
        if not relation.holds(config):
            got = ", ".join(f"{prefix}{key}={_dotted(config, key)!r}" for key in relation.keys)
            raise ConfigError(f"invalid config{where}: needs {relation.rule}; got {got}")
