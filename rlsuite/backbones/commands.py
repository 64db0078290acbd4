"""The ``rlsuite fit`` and ``rlsuite sample`` subcommands (``rlsuite/cli.py`` only registers them)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rlsuite.errors import ConfigError

FIT_HELP = "train a backbone: rlsuite fit model=cnn|vae|gan data=digits|mnist1d|shapes|<folder>|<file.npz>"
FIT_EPILOG = """\
keys (key=value; rlsuite fit --cfg prints them all with their defaults):
  model=cnn|vae|gan  data=digits|mnist1d|shapes|<class folder>|<file.npz>  epochs=30  seed=0  lr=
  arch=<preset>|<mapping>|<spec.yaml|.json>   cnn: presets digits, mnist1d, paper1d, shapes, tiny
  classifier=<cnn run dir or model.safetensors>   gan: the classifier whose penultimate features
      measure the samples (feature-Frechet distance, classes covered); default: a reference CNN trained
      on the same data after the GAN, saved as reference_classifier.safetensors in the run directory
  resume=<run dir>   continue a killed run (epochs, logger, device, threads, patience, classifier may change)
.npz files: x (N, C, H, W) / (N, H, W) images or (N, C, L) / (N, L) signals, channel-first; y (N,)
  class indices 0..K-1 (whole-valued floats accepted); optional x_test / y_test; at least 10 examples."""
SAMPLE_HELP = "PNG grids from a vae/gan run: rlsuite sample run=<dir> [out=<dir>] [n=64] [seed=0]"


def cmd_fit(args: argparse.Namespace) -> int:
    from rlsuite.backbones.training import fit, parse_overrides

    if args.cfg:
        import dataclasses

        import yaml

        print(yaml.safe_dump(dataclasses.asdict(parse_overrides(args.overrides)), sort_keys=False), end="")
        return 0
    result = fit(list(args.overrides))
    shown = {k: v for k, v in result.metrics.items() if isinstance(v, (int, float, str)) or v is None}
    print(f"run {result.dir}: {json.dumps(shown)}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from rlsuite.backbones.sampling import sample_run

    opts: dict[str, Any] = {"run": None, "out": None, "n": 64, "seed": 0}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in opts:
            from rlsuite.errors import suggest

            raise ConfigError(f"unknown argument '{item}' for rlsuite sample.{suggest(key, opts)} "
                              f"Accepted: {', '.join(f'{k}=' for k in opts)}")
        if key in ("n", "seed"):
            try:
                opts[key] = int(value)
            except ValueError as err:
                raise ConfigError(f"{key} must be an integer, got '{value}'") from err
        else:
            opts[key] = value
    if not opts["run"]:
        raise ConfigError("rlsuite sample needs run=<fit run directory>")
    for path in sample_run(opts["run"], opts["out"], n=opts["n"], seed=opts["seed"]):
        print(f"wrote {path}")
    return 0


def add_commands(sub: Any) -> None:
    """Register ``fit`` and ``sample`` on the ``rlsuite`` sub-parser collection."""
    p = sub.add_parser("fit", help=FIT_HELP, description=FIT_HELP, epilog=FIT_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", action="store_true", help="print the resolved fit config and exit")
    p.add_argument("overrides", nargs="*")
    p.set_defaults(func=cmd_fit)
    p = sub.add_parser("sample", help=SAMPLE_HELP)
    p.add_argument("overrides", nargs="*")
    p.set_defaults(func=cmd_sample)
