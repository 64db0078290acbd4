"""The job executors: every input runs once, results come back with their index, failures name it."""

from __future__ import annotations

import pytest

from rlsuite.errors import UnknownNameError
from rlsuite.executors import JobError, make_executor


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three")
    return x


@pytest.mark.parametrize("name,workers", [("serial", 1), ("process", 2)])
def test_every_job_runs_once_and_keeps_its_index(name: str, workers: int) -> None:
    executor = make_executor(name, workers=workers)
    try:
        results = dict(executor.map_unordered(square, list(range(7))))
    finally:
        executor.close()
    assert results == {i: i * i for i in range(7)}


@pytest.mark.parametrize("name", ["serial", "process"])
def test_a_failing_job_is_named_and_earlier_results_are_kept(name: str) -> None:
    executor = make_executor(name, workers=1)
    got: dict[int, int] = {}
    try:
        with pytest.raises(JobError, match="job 3 failed: ValueError: three") as info:
            for index, value in executor.map_unordered(fail_on_three, [0, 1, 2, 3, 4]):
                got[index] = value
    finally:
        executor.close()
    assert info.value.index == 3 and got == {0: 0, 1: 1, 2: 2}


def test_unknown_executor_is_refused_with_a_suggestion() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean: process"):
        make_executor("proces")
