"""Compiled functions kept on disk, so a later process loads what an earlier one compiled
(``runtime.compile_cache``; used for DQN's compiled training-round loop, :mod:`rlsuite.compiled_update`).

Why: inductor's own cache (on by default) does not take graphs holding a ``torch.while_loop`` ("Can't
cache HigherOrderOperator"), so without this every new process traces and generates DQN's loop again
(dynamo, AOTAutograd and inductor: ~10 s on one core of a slow CPU, more the first time on a machine).
``torch.compile(fn).aot_compile(example_inputs)`` compiles ahead of the call into an object that saves
to a file, and ``torch.compiler.load_compiled_function`` restores it in another process in about a
second (its C++ built again only when inductor's cache has lost it). Both are public, marked
experimental by torch.

What a loaded function does not do is check its inputs: serialized guards cannot hold what dynamo
guards on here (the owner object's attributes), so the function is compiled without guards
(``torch.compiler.skip_all_guards_unsafe``) and the file's name carries everything the trace read
instead — a SHA-256 of:

- torch's and Python's versions, the CPU's model and instruction-set flags, the capability torch
  dispatches to, the GPU's name, torch's thread count, the grad mode and default dtype;
- the source of every module of the ``rlsuite`` package and of the files the caller names (the agent's
  loss);
- the caller's description of what else the trace read (the compiled update's tensor layout, its
  hyperparameters, the agent's config);
- the structure of the call's arguments (types, shapes, strides, dtypes, devices; other values by
  ``repr``).

Anything not in that key that changes what the function computes would be a stale hit, so callers pass
their whole configuration rather than the fields they believe matter. A file that fails to load (a
torch upgrade the key missed, a truncated write) is compiled again and replaced; files are written
atomically by torch. Loading unpickles the file, as inductor's own cache does: the directory is the
user's (``$RLSUITE_COMPILE_CACHE``, default ``$XDG_CACHE_HOME/rlsuite/compiled`` or
``~/.cache/rlsuite/compiled``), to be trusted like inductor's, and never a place others can write.
Entries are about 1 MB; deleting the directory is always safe.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import platform
import random
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parent
# this process's functions by key: a second owner of the same key (the next seed's agent) calls the
# same code with itself as the owner, as a loaded file would be called
_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def cache_directory() -> Path:
    """Where compiled functions are kept: ``$RLSUITE_COMPILE_CACHE``, else the user's cache directory."""
    explicit = os.environ.get("RLSUITE_COMPILE_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "rlsuite" / "compiled"


def source_fingerprint(extra_files: Iterable[str | os.PathLike[str]] = ()) -> str:
    """One digest of the ``rlsuite`` package's sources and ``extra_files``, read once per process
    (the code a process runs is the code it imported; a key is computed at every call)."""
    return _fingerprint(tuple(sorted(str(Path(p).resolve()) for p in extra_files)))


@functools.cache
def _fingerprint(extra_files: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for path in [*sorted(str(p) for p in PACKAGE_ROOT.rglob("*.py")), *extra_files]:
        digest.update(f"{path}:{hashlib.sha256(Path(path).read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()


def describe(value: Any) -> str:
    """The structure of a call's arguments as the compiled code depends on it: tensors by type,
    shape, stride, dtype, device and whether they require grad; tuples (NamedTuples by their field
    names), lists and dicts element by element; anything else by ``repr``."""
    if isinstance(value, torch.Tensor):
        return (f"T({tuple(value.shape)},{value.stride()},{value.dtype},{value.device},"
                f"{int(value.requires_grad)})")
    if isinstance(value, (tuple, list)):
        name = type(value).__qualname__
        fields = getattr(value, "_fields", None)
        inner = ",".join(describe(v) for v in value)
        return f"{name}{fields or ''}[{inner}]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k!r}:{describe(v)}" for k, v in value.items()) + "}"
    return repr(value)


@functools.cache
def processor() -> str:
    """The CPU's model and instruction-set flags (Linux: /proc/cpuinfo), so a cache directory shared
    between machines never hands one CPU's vector code to another."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    wanted = [line for line in lines if line.split(":")[0].strip() in ("model name", "flags")]
    return hashlib.sha256("\n".join(dict.fromkeys(wanted)).encode()).hexdigest()


def environment_key() -> str:
    """What the generated code depends on besides the function and its inputs."""
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return "|".join([
        f"torch={torch.__version__}", f"python={sys.version}", f"machine={platform.machine()}",
        f"processor={processor()}", f"capability={torch.backends.cpu.get_cpu_capability()}", f"gpu={gpu}",
        f"threads={torch.get_num_threads()}", f"grad={torch.is_grad_enabled()}", f"dtype={torch.get_default_dtype()}",
    ])


def cache_key(context: str, args: tuple[Any, ...], extra_files: Iterable[str | os.PathLike[str]] = ()) -> str:
    """The file name's digest (see the module docstring)."""
    text = "\n".join([environment_key(), source_fingerprint(extra_files), context, describe(args)])
    return hashlib.sha256(text.encode()).hexdigest()[:40]


class DiskCompiled:
    """``fn`` (a bound method) compiled once per distinct key and kept in :func:`cache_directory`:
    the first call with a new key loads the file when there is one, else compiles ahead of the call
    and saves it. ``context`` is the caller's description of everything the trace reads besides the
    arguments (see the module docstring); ``extra_files`` the sources it runs outside ``rlsuite``.

    ``last_source`` says where the latest call's function came from when this owner first needed it:
    "compiled", "loaded" (the file) or "memory" (compiled or loaded earlier in this process by
    another owner).
    Failures to compile raise (the caller falls back as for any compile failure); failures to load or
    save are logged and the function is compiled again / kept in memory only."""

    def __init__(self, fn: Callable[..., Any], options: dict[str, Any], context: str,
                 extra_files: Iterable[str | os.PathLike[str]] = ()):
        self.owner = getattr(fn, "__self__", None)
        if self.owner is None:
            raise TypeError("DiskCompiled compiles a bound method")
        self.fn, self.options, self.context = fn, dict(options), context
        self.extra_files = tuple(str(p) for p in extra_files)
        self.sources: dict[str, str] = {}  # key -> where this owner's function came from
        self.last_source: str | None = None

    def __call__(self, *args: Any) -> Any:
        key = cache_key(self.context, args, self.extra_files)
        if key not in self.sources:  # this owner's first call with this key
            if key in _FUNCTIONS:
                self.sources[key] = "memory"
            else:
                _FUNCTIONS[key], self.sources[key] = self._load_or_compile(key, args)
        self.last_source = self.sources[key]
        return _FUNCTIONS[key](self.owner, *args)

    def _load_or_compile(self, key: str, args: tuple[Any, ...]) -> tuple[Callable[..., Any], str]:
        path = cache_directory() / f"{key}.pt2"
        if path.exists():
            try:
                with path.open("rb") as file:
                    loaded = torch.compiler.load_compiled_function(file)
                logger.debug("compile cache: loaded %s", path)
                return loaded, "loaded"
            except Exception as err:  # noqa: BLE001  a stale or truncated file: compile it again
                logger.warning("compile cache: %s could not be loaded (%s); compiling again", path,
                               str(err).splitlines()[0][:200] if str(err) else type(err).__name__)
        options = {**self.options, "guard_filter_fn": torch.compiler.skip_all_guards_unsafe}
        # torch.compile's wrapper has aot_compile (not in its declared type): compile now, for these inputs.
        # Under aot_compile, AOTAutograd names the cache entry of a graph it cannot hash (any holding a
        # while_loop) by random.random(): with Python's generator seeded, as every seeded run seeds it,
        # two different loops got the same name and the second was served the first's code (torch
        # 2.13; tests/test_compile_cache.py). The name is drawn from OS entropy instead, and the run's
        # own random stream is put back untouched.
        wrapper: Any = torch.compile(self.fn, fullgraph=True, options=options)
        seeded = random.getstate()
        random.seed()
        try:
            compiled = wrapper.aot_compile((args, {}))
        finally:
            random.setstate(seeded)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            compiled.save_compiled_function(str(path))
        except Exception as err:  # noqa: BLE001  an unwritable directory: the function stays in memory
            logger.warning("compile cache: could not save %s (%s)", path, type(err).__name__)
        return compiled, "compiled"


__all__ = ["DiskCompiled", "cache_directory", "cache_key", "describe", "environment_key", "source_fingerprint"]
