"""Safe, atomic checkpoints.

Format: one safetensors file. Every array (weights, optimizer moments, replay storage, RNG states)
is a tensor; everything else (counters, config, schedules, RNG integers) is JSON in the file's
metadata, with placeholders pointing at the tensors. Loading parses JSON and raw tensors only, so
a checkpoint can never execute code (no pickle). A SHA-256 over the JSON and every tensor's bytes
is stored beside them and checked on load, so a truncated or tampered file is refused.

Writes go to a temporary file in the same directory, are fsynced, then renamed over the target:
the previous checkpoint stays intact until the new one is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from rlsuite.errors import CheckpointError

FORMAT = "rlsuite-checkpoint/1"
_TENSOR, _ARRAY, _TUPLE, _PAIRS = "__tensor__", "__ndarray__", "__tuple__", "__pairs__"


def _omegaconf_container(obj: Any) -> list[Any] | dict[Any, Any] | None:
    """An OmegaConf ListConfig/DictConfig as plain lists and dicts (resolved); else ``None``."""
    from omegaconf import Container, OmegaConf

    if not isinstance(obj, Container):
        return None
    plain = OmegaConf.to_container(obj, resolve=True)
    assert isinstance(plain, (list, dict))
    return plain


def _flatten(obj: Any, tensors: dict[str, torch.Tensor], path: str) -> Any:
    """Replace arrays by placeholders (collecting them in ``tensors``) and return JSON-able data."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu()
        # Clone small tensors and views into a larger storage (rlsuite.flat_params): module state
        # dicts may share storage, which safetensors refuses; both ways end row-major (channels-last
        # conv weights included), which safetensors needs.
        view = t.untyped_storage().nbytes() != t.numel() * t.element_size()
        t = t.clone(memory_format=torch.contiguous_format) if view or t.numel() < (1 << 22) else t.contiguous()
        tensors[path] = t
        return {_TENSOR: path}
    if isinstance(obj, np.ndarray):
        tensors[path] = torch.from_numpy(np.ascontiguousarray(obj))
        return {_ARRAY: path}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: _flatten(v, tensors, f"{path}/{k}") for k, v in obj.items()}
        return {_PAIRS: [[k, _flatten(v, tensors, f"{path}/{i}")] for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, tuple):
        return {_TUPLE: [_flatten(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_flatten(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    container = _omegaconf_container(obj)
    if container is not None:  # a ListConfig/DictConfig (e.g. env kwargs from the command line): plain data
        return _flatten(container, tensors, path)
    raise TypeError(f"cannot checkpoint a value of type {type(obj).__name__} at '{path}'")


def _unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if _TENSOR in obj:
            return tensors[obj[_TENSOR]]
        if _ARRAY in obj:
            return tensors[obj[_ARRAY]].numpy()
        if _TUPLE in obj:
            return tuple(_unflatten(v, tensors) for v in obj[_TUPLE])
        if _PAIRS in obj:
            return {k: _unflatten(v, tensors) for k, v in obj[_PAIRS]}
        return {k: _unflatten(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


def _digest(meta_json: str, tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256(meta_json.encode())
    for key in sorted(tensors):
        t = tensors[key]
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}".encode())
        if t.numel():
            # reshape(-1): 0-dim tensors (Adam's step counters) cannot be viewed as bytes directly
            h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not supported on this platform/filesystem
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def run_config_path(run_dir: Path, kind: str = "rlsuite run") -> Path:
    """``run_dir/config.yaml``, or a :class:`CheckpointError` saying why ``run_dir`` is not a ``kind``
    directory (shared by ``rlsuite train resume=`` and ``rlsuite fit``/``sample``)."""
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory not found: {run_dir}")
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not an {kind} directory (no config.yaml)")
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via temp file + fsync + rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def save_state(path: str | Path, state: dict[str, Any]) -> Path:
    """Atomically write a nested state (dicts, lists, tensors, arrays, scalars) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    meta_json = json.dumps(_flatten(state, tensors, "s"))
    metadata = {"format": FORMAT, "state": meta_json, "sha256": _digest(meta_json, tensors)}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_dir(path.parent)
    return path


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def load_state(path: str | Path, attempts: int = 5) -> dict[str, Any]:
    """Read a state written by :func:`save_state`; refuse missing, truncated, foreign or tampered files.

    safetensors opens the file by name more than once (the header, then each tensor's storage), so a
    read that overlaps a run replacing the file (:func:`save_state`'s atomic rename) can pair one
    file's header with the next one's tensors and fail the integrity check although neither file is
    damaged: such a read, seen to overlap a replacement, is repeated (up to ``attempts`` reads)."""
    path = Path(path)
    for _ in range(attempts - 1):
        before = _identity(path)
        try:
            return _load_once(path)
        except CheckpointError:
            if before is None or _identity(path) == before:
                raise  # the file did not change under the read: it is what it is
    return _load_once(path)


def _load_once(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - a safetensors handle, not a dict
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"checkpoint {path} is truncated or not a checkpoint ({err})") from err
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an rlsuite checkpoint (format {metadata.get('format')!r})")
    meta_json = metadata.get("state", "")
    if _digest(meta_json, tensors) != metadata.get("sha256"):
        raise CheckpointError(f"checkpoint {path} failed its integrity check (modified or corrupted)")
    try:
        return _unflatten(json.loads(meta_json), tensors)
    except (json.JSONDecodeError, KeyError) as err:
        raise CheckpointError(f"checkpoint {path} has unreadable metadata ({err})") from err

