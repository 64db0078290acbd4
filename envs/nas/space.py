"""A NAS search space declared in YAML: a fixed number of conv layers, one decision per layer and key.

    # envs/nas/spaces/mnist1d.yaml
    dataset: mnist1d
    layers: 4
    choices: {out: [16, 32, 64], kernel: [3, 5, 7], stride: [1, 2], skip: [false, true]}
    fixed: {dims: 1, hidden: [], batch_norm: true}     # the rest of the rlsuite.backbones ArchSpec
    child: {epochs: 4, batch_size: 128, lr: 0.003}      # how every child is trained (rlsuite fit keys)

An architecture is the tuple of choice indices in decision order (layer 0's keys in the order
written, then layer 1's, ...), as Zoph & Le's controller emits them. :meth:`SearchSpace.spec` turns it
into an :class:`~rlsuite.backbones.spec.ArchSpec`; :meth:`SearchSpace.key` is the canonical form the
cache is keyed by (the spec's JSON plus the child-training protocol, so two decision sequences that
build the same network are one child). :meth:`SearchSpace.check` refuses, in one line, a space in
which some architecture would not fit the input: the smallest feature map any architecture can
produce is found layer by layer (every layer's output length is non-decreasing in its input length,
so picking the most shrinking choice at each layer gives the global minimum) and checked.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rlsuite.envs.nas.children import check_child_options

from rlsuite.backbones.spec import ArchSpec, ConvLayer, SpecError
from rlsuite.errors import ConfigError, suggest

LAYER_KEYS = tuple(f.name for f in dataclasses.fields(ConvLayer))
SPACE_KEYS = ("dataset", "layers", "choices", "fixed", "child", "description")
Architecture = tuple[int, ...]


def builtin_spaces_dir() -> Path:
    return Path(str(resources.files("rlsuite.envs.nas") / "spaces"))


def builtin_space_names() -> list[str]:
    return sorted(p.stem for p in builtin_spaces_dir().glob("*.yaml"))


@dataclass
class SearchSpace:
    name: str
    dataset: str
    layers: int
    choices: dict[str, list[Any]]
    fixed: dict[str, Any] = field(default_factory=dict)
    child: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.layers, bool) or not isinstance(self.layers, int) or self.layers < 1:
            raise ConfigError(f"search space {self.name}: layers must be a whole number >= 1, got {self.layers!r}")
        if not isinstance(self.choices, dict):
            raise ConfigError(f"search space {self.name}: 'choices' must be a mapping of layer key to a list of "
                              f"options, e.g. {{out: [16, 32]}}; got {self.choices!r}")
        if not isinstance(self.fixed, dict):
            raise ConfigError(f"search space {self.name}: 'fixed' must be a mapping of spec keys, got {self.fixed!r}")
        check_child_options(self.child, f"search space {self.name}")
        self.child = dict(self.child or {})
        if not self.choices:
            raise ConfigError(f"search space {self.name}: 'choices' is empty; give e.g. {{out: [16, 32]}}")
        for key, options in self.choices.items():
            if key not in LAYER_KEYS:
                raise ConfigError(f"search space {self.name}: unknown layer key '{key}'.{suggest(key, LAYER_KEYS)} "
                                  f"Accepted: {', '.join(LAYER_KEYS)}")
            if not isinstance(options, list) or not options:
                raise ConfigError(f"search space {self.name}: choices.{key} must be a non-empty list, got {options!r}")
            for option in options:  # each value checked alone, so the message names the option
                try:
                    ArchSpec(convs=[ConvLayer(**{"out": 1, key: option})]).validate()
                except SpecError as err:
                    raise SpecError(f"search space {self.name}: choices.{key}: {err}") from err
        if "convs" in self.fixed:
            raise ConfigError(f"search space {self.name}: 'fixed' cannot hold 'convs' (the controller emits them)")
        self.keys = list(self.choices)
        self.sizes = [len(self.choices[k]) for _ in range(int(self.layers)) for k in self.keys]

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, name_or_path: str) -> SearchSpace:
        """A built-in space by name (``envs/nas/spaces/<name>.yaml``) or a YAML file path."""
        path = Path(name_or_path)
        if not (path.suffix in (".yaml", ".yml") and path.is_file()):
            names = builtin_space_names()
            if name_or_path not in names:
                raise ConfigError(f"unknown NAS search space '{name_or_path}'.{suggest(name_or_path, names)} "
                                  f"Accepted: {', '.join(names)} or a .yaml file")
            path = builtin_spaces_dir() / f"{name_or_path}.yaml"
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"search space {path} is not valid YAML: {str(err).splitlines()[0]}") from err
        if not isinstance(data, dict):
            raise ConfigError(f"search space {path} must hold a mapping")
        for key in data:
            if key not in SPACE_KEYS:
                raise ConfigError(f"search space {path}: unknown key '{key}'.{suggest(str(key), SPACE_KEYS)} "
                                  f"Accepted: {', '.join(SPACE_KEYS)}")
        for key in ("dataset", "layers", "choices"):
            if key not in data:
                raise ConfigError(f"search space {path} needs '{key}'")
        return cls(name=path.stem, **data)

    # ------------------------------------------------------------------ architectures
    @property
    def n_decisions(self) -> int:
        return len(self.sizes)

    @property
    def size(self) -> int:
        return math.prod(self.sizes)

    def layer_values(self, arch: Sequence[int]) -> list[dict[str, Any]]:
        if len(arch) != self.n_decisions:
            raise ConfigError(f"search space {self.name}: an architecture has {self.n_decisions} decisions, "
                              f"got {len(arch)}")
        out = []
        for layer in range(int(self.layers)):
            values = {}
            for j, key in enumerate(self.keys):
                index = int(arch[layer * len(self.keys) + j])
                values[key] = self.choices[key][index % len(self.choices[key])]
            out.append(values)
        return out

    def spec(self, arch: Sequence[int]) -> ArchSpec:
        spec = ArchSpec.from_dict({**self.fixed, "convs": self.layer_values(arch)})
        return spec

    def key(self, arch: Sequence[int]) -> str:
        """Canonical identity of the trained child: its spec and how it is trained."""
        return json.dumps({"spec": self.spec(arch).to_dict(), "dataset": self.dataset, "child": self.child},
                          sort_keys=True, separators=(",", ":"))

    def describe(self, arch: Sequence[int]) -> str:
        return " | ".join(self.spec(arch).convs[i].describe() for i in range(int(self.layers)))

    def all_architectures(self) -> Iterator[Architecture]:
        return itertools.product(*[range(n) for n in self.sizes])

    def random(self, rng: np.random.Generator) -> Architecture:
        return tuple(int(rng.integers(n)) for n in self.sizes)

    def mutate(self, arch: Sequence[int], rng: np.random.Generator) -> Architecture:
        """Change one decision (uniformly chosen among those with more than one option) to another value."""
        free = [i for i, n in enumerate(self.sizes) if n > 1]
        if not free:
            return tuple(arch)
        i = free[int(rng.integers(len(free)))]
        new = int(rng.integers(self.sizes[i] - 1))
        out = list(arch)
        out[i] = new + (new >= arch[i])
        return tuple(int(a) for a in out)

    # ------------------------------------------------------------------ fitting the input
    def most_shrinking(self, input_shape: tuple[int, ...]) -> Architecture:
        """The architecture whose last feature map is smallest for ``input_shape``."""
        spatial = min(input_shape[1:])
        arch: list[int] = []
        for _ in range(int(self.layers)):
            best: tuple[int, tuple[int, ...]] | None = None
            for combo in itertools.product(*[range(len(self.choices[k])) for k in self.keys]):
                values = {k: self.choices[k][i] for k, i in zip(self.keys, combo)}
                layer = ConvLayer(**{"out": 1, **values})
                out = (spatial + 2 * (layer.kernel // 2) - layer.kernel) // max(int(layer.stride), 1) + 1
                out //= max(int(layer.pool), 1)
                if best is None or out < best[0]:
                    best = (out, combo)
            assert best is not None
            spatial = best[0]
            arch += best[1]
        return tuple(arch)

    def check(self, input_shape: tuple[int, ...]) -> None:
        """One clear :class:`SpecError` when some architecture of the space cannot fit ``input_shape``."""
        worst = self.most_shrinking(input_shape)
        try:
            spec = self.spec(worst)
        except SpecError as err:
            raise SpecError(f"search space {self.name} emits invalid architectures: {err}") from err
        try:
            spec.check(tuple(input_shape))
        except SpecError as err:
            raise SpecError(f"search space {self.name} does not fit {self.dataset} inputs {tuple(input_shape)}: "
                            f"its most shrinking architecture ({self.describe(worst)}) fails: {err}") from err
