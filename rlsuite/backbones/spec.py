"""A CNN classifier built from a declarative architecture spec (1-D or 2-D).

:class:`ArchSpec` is plain data (JSON round-trip through :meth:`ArchSpec.to_dict` /
:meth:`ArchSpec.from_dict`): the NAS controller emits one, ``rlsuite fit`` trains it, checkpoints
store it. :meth:`ArchSpec.check` says in one line why a spec cannot fit an input size, before any
layer is built. :class:`SpecCNN` builds it; ``features(x)`` is the penultimate (feature-extractor)
view that the localization task and the feature-Fréchet distance use.

Every conv layer is ``conv (same padding, stride) -> [batch-norm] -> activation -> [max-pool]``;
with ``skip`` the layer's input is added back (identity when the shape is unchanged, else a 1x1
strided projection, as in ResNet's option B). The head is ``flatten -> [dropout -> fc -> act]* ->
dropout -> fc n_classes``; with ``global_pool`` the flatten is a global average pool instead.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rlsuite.errors import ConfigError, suggest

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "elu": nn.ELU, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU}


class SpecError(ConfigError):
    """An architecture spec that is malformed or does not fit the input."""


@dataclass
class ConvLayer:
    out: int
    kernel: int = 3
    stride: int = 1
    pool: int = 1  # max-pool window and stride after the activation (1: none)
    skip: bool = False

    def describe(self) -> str:
        extra = (f" pool {self.pool}" if self.pool > 1 else "") + (" skip" if self.skip else "")
        return f"conv {self.out} k{self.kernel} s{self.stride}{extra}"


@dataclass
class ArchSpec:
    convs: list[ConvLayer]
    hidden: list[int] = field(default_factory=lambda: [128])
    dims: int = 2
    batch_norm: bool = True
    dropout: float = 0.0
    activation: str = "relu"
    global_pool: bool = False

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArchSpec:
        if not isinstance(data, dict):
            raise SpecError(f"an architecture spec must be a mapping, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in names:
                raise SpecError(f"unknown spec key '{key}'.{suggest(str(key), names)} Accepted: {', '.join(names)}")
        if "convs" not in data:
            raise SpecError("an architecture spec needs 'convs' (a list of conv layers)")
        layer_names = [f.name for f in dataclasses.fields(ConvLayer)]
        convs = []
        for i, layer in enumerate(data["convs"]):
            if isinstance(layer, (list, tuple)):  # compact form [out, kernel, stride, pool, skip]
                if not 1 <= len(layer) <= 5:
                    raise SpecError(f"conv layer {i}: list form is [out, kernel, stride, pool, skip], got {layer}")
                layer = dict(zip(layer_names, layer))
            if not isinstance(layer, dict):
                raise SpecError(f"conv layer {i} must be a mapping or a list, got {layer!r}")
            for key in layer:
                if key not in layer_names:
                    raise SpecError(f"conv layer {i}: unknown key '{key}'.{suggest(str(key), layer_names)} "
                                    f"Accepted: {', '.join(layer_names)}")
            convs.append(ConvLayer(**layer))
        spec = cls(**{**data, "convs": convs, "hidden": list(data.get("hidden", [128]))})
        spec.validate()
        return spec

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Values that are wrong whatever the input (wrong types, negative widths, unknown activation, ...)."""
        for i, c in enumerate(self.convs):
            for name in ("out", "kernel", "stride", "pool"):
                _check_type(f"conv layer {i}: {name}", getattr(c, name), int, "an integer")
            _check_type(f"conv layer {i}: skip", c.skip, bool, "true or false")
        if not isinstance(self.hidden, list):
            raise SpecError(f"hidden must be a list of widths, got {self.hidden!r}")
        for h in self.hidden:
            _check_type("hidden widths", h, int, "integers")
        _check_type("dims", self.dims, int, "an integer")
        _check_type("dropout", self.dropout, (int, float), "a number")
        for name in ("batch_norm", "global_pool"):
            _check_type(name, getattr(self, name), bool, "true or false")
        _check_type("activation", self.activation, str, "a name")
        if self.dims not in (1, 2):
            raise SpecError(f"spec dims must be 1 or 2, got {self.dims}")
        if self.activation not in ACTIVATIONS:
            raise SpecError(f"unknown activation '{self.activation}'.{suggest(self.activation, ACTIVATIONS)} "
                            f"Accepted: {', '.join(ACTIVATIONS)}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise SpecError(f"dropout must be in [0, 1), got {self.dropout}")
        for i, c in enumerate(self.convs):
            if min(int(c.out), int(c.kernel), int(c.stride), int(c.pool)) < 1:
                raise SpecError(f"conv layer {i} ({c.describe()}): out, kernel, stride and pool must be >= 1")
        if any(int(h) < 1 for h in self.hidden):
            raise SpecError(f"hidden widths must be >= 1, got {self.hidden}")

    def check(self, input_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The feature-map shape after each conv layer for ``input_shape`` (channel-first, no batch);
        one clear :class:`SpecError` when the input has the wrong rank or a map shrinks to nothing."""
        self.validate()
        if len(input_shape) != self.dims + 1:
            want = "(C, L)" if self.dims == 1 else "(C, H, W)"
            raise SpecError(f"a {self.dims}-D spec needs inputs shaped {want}, got {tuple(input_shape)}")
        spatial = list(input_shape[1:])
        shapes = []
        for i, c in enumerate(self.convs):
            spatial = [(d + 2 * (c.kernel // 2) - c.kernel) // c.stride + 1 for d in spatial]
            spatial = [d // c.pool for d in spatial]
            if min(spatial) < 1:
                raise SpecError(
                    f"architecture does not fit input {tuple(input_shape)}: after layer {i} ({c.describe()}) the "
                    f"feature map would be {'x'.join(map(str, spatial))}; use fewer strides/pools or a larger input")
            shapes.append((int(c.out), *spatial))
        return shapes


def _check_type(what: str, value: Any, kind: type | tuple[type, ...], accepted: str) -> None:
    # bool is an int in Python: true/false is refused where a number is wanted, and vice versa
    wrong_bool = isinstance(value, bool) and kind is not bool
    if wrong_bool or not isinstance(value, kind):
        raise SpecError(f"{what} must be {accepted}, got {value!r}")


PRESETS: dict[str, dict[str, Any]] = {
    # digits upsampled to 16x16: two VGG-style stages, BN, dropout; ~0.1 M parameters
    "digits": {"convs": [[32, 3, 1], [32, 3, 1, 2], [64, 3, 1], [64, 3, 1, 2]], "hidden": [128], "dropout": 0.3},
    # MNIST-1D (length 40): the dataset paper's CNN is 3 conv layers of 25 channels, kernel 5,
    # stride 2; this one is a little wider and has batch-norm (see dev-notes/benchmarks-lab-notes.md)
    "mnist1d": {"convs": [[32, 5, 1], [32, 5, 2], [64, 3, 1], [64, 3, 2], [64, 3, 1]], "hidden": [128],
                "dims": 1, "dropout": 0.2},
    "paper1d": {"convs": [[25, 5, 2], [25, 3, 2], [25, 3, 2]], "hidden": [], "dims": 1, "batch_norm": False},
    # shapes (RGB, 32x32 and up)
    "shapes": {"convs": [[32, 3, 1, 2], [64, 3, 1, 2], [64, 3, 1, 2, True], [128, 3, 1]], "hidden": [128],
               "global_pool": True, "dropout": 0.1},
    # tiny: tests
    "tiny": {"convs": [[8, 3, 1, 2]], "hidden": [16]},
}


def resolve_spec(arch: str | dict[str, Any] | ArchSpec) -> ArchSpec:
    """A preset name, a mapping (:meth:`ArchSpec.from_dict`) or a spec."""
    if isinstance(arch, ArchSpec):
        arch.validate()
        return arch
    if isinstance(arch, str):
        if arch in PRESETS:
            return ArchSpec.from_dict(PRESETS[arch])
        if Path(arch).suffix.lower() in SPEC_SUFFIXES or Path(arch).is_file():
            return load_spec_file(Path(arch))
        raise SpecError(f"unknown architecture preset '{arch}'.{suggest(arch, PRESETS)} "
                        f"Accepted: {', '.join(PRESETS)}, a mapping with 'convs' or a .yaml/.json spec file")
    if not isinstance(arch, dict):
        raise SpecError(f"an architecture must be a preset name, a mapping or a spec file, got {arch!r}")
    return ArchSpec.from_dict(dict(arch))


SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def load_spec_file(path: Path) -> ArchSpec:
    """A spec written as YAML or JSON: the spec mapping itself, or a mapping whose ``spec`` key holds it."""
    import yaml

    if not path.is_file():
        raise SpecError(f"architecture spec file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SpecError(f"architecture spec file {path} is not valid YAML: {problem}{where}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(f"cannot read architecture spec file {path}: {err}") from err
    if isinstance(data, dict) and "convs" not in data and isinstance(data.get("spec"), dict):
        data = data["spec"]
    if not isinstance(data, dict):
        raise SpecError(f"architecture spec file {path} must hold a mapping with 'convs', got {type(data).__name__}")
    try:
        return ArchSpec.from_dict(data)
    except SpecError as err:
        raise SpecError(f"architecture spec file {path}: {err}") from err
    except (TypeError, ValueError) as err:
        raise SpecError(f"architecture spec file {path}: {err}") from err


class _ConvBlock(nn.Module):
    def __init__(self, c_in: int, layer: ConvLayer, spec: ArchSpec):
        super().__init__()
        conv, bn, pool = (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d) if spec.dims == 1 else (
            nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d)
        self.conv = conv(c_in, layer.out, layer.kernel, stride=layer.stride, padding=layer.kernel // 2,
                         bias=not spec.batch_norm)
        self.norm = bn(layer.out) if spec.batch_norm else nn.Identity()
        self.act = ACTIVATIONS[spec.activation]()
        self.pool = pool(layer.pool) if layer.pool > 1 else nn.Identity()
        self.project: nn.Module | None = None
        if layer.skip and (c_in != layer.out or layer.stride != 1):
            self.project = conv(c_in, layer.out, 1, stride=layer.stride, bias=False)
        self.skip = layer.skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.conv(x))
        if self.skip:
            h = h + (x if self.project is None else self.project(x))
        return self.pool(self.act(h))


class SpecCNN(nn.Module):
    """The classifier a spec describes, for inputs of ``input_shape`` and ``n_classes`` outputs."""

    def __init__(self, spec: ArchSpec, input_shape: tuple[int, ...], n_classes: int):
        super().__init__()
        shapes = spec.check(tuple(input_shape))
        self.spec, self.input_shape, self.n_classes = spec, tuple(input_shape), int(n_classes)
        blocks, c = [], int(input_shape[0])
        for layer in spec.convs:
            blocks.append(_ConvBlock(c, layer, spec))
            c = int(layer.out)
        self.convs = nn.Sequential(*blocks)
        last = shapes[-1] if shapes else tuple(input_shape)
        width = last[0] if spec.global_pool else math.prod(last)
        head: list[nn.Module] = []
        for h in spec.hidden:
            head += [nn.Dropout(spec.dropout), nn.Linear(width, int(h)), ACTIVATIONS[spec.activation]()]
            width = int(h)
        self.hidden = nn.Sequential(*head)
        self.feature_dim = width
        self.out = nn.Sequential(nn.Dropout(spec.dropout), nn.Linear(width, self.n_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``(B, feature_dim)``: what the output layer sees."""
        h = self.convs(x)
        h = h.flatten(2).mean(-1) if self.spec.global_pool else h.flatten(1)
        return self.hidden(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))
