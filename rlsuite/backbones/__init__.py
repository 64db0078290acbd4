"""Supervised and generative backbones for the tasks (NAS, localization) and for agents' encoders.

    from rlsuite import backbones
    res = backbones.fit(["model=cnn", "data=digits", "epochs=30"])   # what `rlsuite fit` does
    clf = backbones.load(res.dir)                                     # a SpecCNN in eval mode
    spec = backbones.ArchSpec.from_dict({"convs": [[32, 3, 1, 2]], "hidden": [64]})
    net = backbones.SpecCNN(spec, input_shape=(1, 16, 16), n_classes=10)
    data = backbones.load_dataset("shapes", size=64)                 # labels and exact boxes

Modules: ``datasets`` (offline data), ``spec`` (architecture spec + CNN), ``generative`` (VAE,
GAN), ``losses`` (the objectives), ``training`` (fit/load), ``evaluation`` (metrics),
``sampling`` (PNG grids), ``encoders`` (pretrained encoders for agents).
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use, so `rlsuite --help` (which registers fit/sample from here) stays fast.
_EXPORTS = {
    "ArrayDataset": "datasets", "DataSplits": "datasets", "batches": "datasets", "load_dataset": "datasets",
    "make_shapes": "datasets", "GAN": "generative", "VAE": "generative", "ConvEncoder": "generative",
    "ArchSpec": "spec", "ConvLayer": "spec", "SpecCNN": "spec", "SpecError": "spec", "resolve_spec": "spec",
    "FitConfig": "training", "FitResult": "training", "fit": "training", "load": "training",
    "load_encoder": "encoders",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"rlsuite.backbones.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'rlsuite.backbones' has no attribute '{name}'")
