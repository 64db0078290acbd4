"""rlsuite.compile_cache: a compiled function kept on disk is loaded by a later process instead of
compiled again, gives the same results, and a key covers what the compiled code depends on."""

from __future__ import annotations

import logging

import pytest
import torch

from rlsuite import compile_cache
from rlsuite.compiled_update import compiler_missing

needs_compiler = pytest.mark.skipif(compiler_missing(torch.device("cpu")) is not None, reason="no C++ compiler")


class Scaler:
    """A bound method with a constant the trace reads from its owner."""

    def __init__(self, factor: float):
        self.factor = factor

    def apply(self, x: torch.Tensor, shift: int) -> torch.Tensor:
        return torch.tanh(x * self.factor) + shift


@needs_compiler
def test_a_later_process_loads_the_file_and_a_corrupt_one_is_compiled_again(monkeypatch, caplog):
    x = torch.linspace(-2, 2, 64)
    monkeypatch.setattr(compile_cache, "_FUNCTIONS", {})
    first = compile_cache.DiskCompiled(Scaler(3.0).apply, {}, "scaler 3.0")
    expected = first(x, 1)
    assert first.last_source == "compiled"
    torch.testing.assert_close(expected, torch.tanh(x * 3.0) + 1)
    files = list(compile_cache.cache_directory().glob("*.pt2"))
    assert len(files) == 1
    assert torch.equal(first(x, 1), expected) and first.last_source == "compiled"
    other = compile_cache.DiskCompiled(Scaler(3.0).apply, {}, "scaler 3.0")
    assert torch.equal(other(x, 1), expected) and other.last_source == "memory"  # this process keeps it

    monkeypatch.setattr(compile_cache, "_FUNCTIONS", {})  # a new process
    loaded = compile_cache.DiskCompiled(Scaler(3.0).apply, {}, "scaler 3.0")
    assert torch.equal(loaded(x, 1), expected) and loaded.last_source == "loaded"

    files[0].write_bytes(files[0].read_bytes()[:1000])  # a truncated file
    monkeypatch.setattr(compile_cache, "_FUNCTIONS", {})
    with caplog.at_level(logging.WARNING, logger="rlsuite.compile_cache"):
        again = compile_cache.DiskCompiled(Scaler(3.0).apply, {}, "scaler 3.0")
        assert torch.equal(again(x, 1), expected) and again.last_source == "compiled"
    assert "could not be loaded" in caplog.text and "compiling again" in caplog.text
    assert files[0].stat().st_size > 1000  # replaced by the new compilation


class Doubler:
    """A bound method holding a torch.while_loop (a graph AOTAutograd cannot hash)."""

    def __init__(self, factor: int):
        self.factor = factor

    def apply(self, x: torch.Tensor, times: int) -> torch.Tensor:
        _, out = torch.while_loop(lambda i, y: i < times, lambda i, y: (i + 1, y * self.factor),
                                  (torch.zeros((), dtype=torch.int64), x))
        return out


@needs_compiler
def test_two_loops_compiled_under_the_same_python_seed_keep_their_own_code(monkeypatch):
    """torch names such a graph's AOTAutograd entry by random.random(); a seeded run must not make
    the second loop load the first one's code — and its own random stream must be left as it was."""
    import random

    monkeypatch.setattr(compile_cache, "_FUNCTIONS", {})
    random.seed(3)
    first = compile_cache.DiskCompiled(Doubler(2).apply, {}, "doubler 2")(torch.ones(4), 3)
    assert random.random() == random.Random(3).random()  # the seeded stream is untouched
    random.seed(3)
    second = compile_cache.DiskCompiled(Doubler(3).apply, {}, "doubler 3")(torch.ones(6), 2)
    torch.testing.assert_close(first, torch.full((4,), 8.0))
    torch.testing.assert_close(second, torch.full((6,), 9.0))


def test_the_key_changes_with_the_context_the_arguments_and_the_environment(monkeypatch):
    x = torch.zeros(4, 3)
    key = compile_cache.cache_key("ctx", (x, 1))
    assert key == compile_cache.cache_key("ctx", (torch.ones(4, 3), 1))  # values do not matter
    assert key != compile_cache.cache_key("other", (x, 1))
    assert key != compile_cache.cache_key("ctx", (x, 2))  # Python values are baked in
    assert key != compile_cache.cache_key("ctx", (torch.zeros(5, 3), 1))
    assert key != compile_cache.cache_key("ctx", (x.double(), 1))
    assert key != compile_cache.cache_key("ctx", (x.t().contiguous().t(), 1))  # strides
    with torch.no_grad():
        assert key != compile_cache.cache_key("ctx", (x, 1))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(threads + 1)
        assert key != compile_cache.cache_key("ctx", (x, 1))
    finally:
        torch.set_num_threads(threads)
    from collections import namedtuple
    pair = namedtuple("pair", "a b")
    assert compile_cache.describe(pair(x, 1)) != compile_cache.describe((x, 1))


def test_the_directory_is_the_variable_or_the_users_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("RLSUITE_COMPILE_CACHE", str(tmp_path / "c"))
    assert compile_cache.cache_directory() == tmp_path / "c"
    monkeypatch.delenv("RLSUITE_COMPILE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compile_cache.cache_directory() == tmp_path / "rlsuite" / "compiled"


def test_only_bound_methods_are_taken():
    with pytest.raises(TypeError, match="bound method"):
        compile_cache.DiskCompiled(torch.tanh, {}, "ctx")
