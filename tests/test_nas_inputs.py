"""Bad NAS search spaces from the command line: one line, exit 2, nothing written, before any child trains."""

from __future__ import annotations

import pytest

pytest.importorskip("mnist1d")

from rlsuite.cli import main

SPACE = """\
dataset: mnist1d
layers: {layers}
choices: {{out: [8], kernel: [3], stride: [1, 2]}}
fixed: {{dims: 1, hidden: [], batch_norm: true}}
child: {child}
"""


@pytest.mark.parametrize(
    ("layers", "child", "message"),
    [
        ("2", "{epoch: 1}", "unknown child key 'epoch'. Did you mean: epochs?"),
        ("2", "{epochs: 1, lrr: 0.01}", "unknown child key 'lrr'. Did you mean: lr?"),
        ("2", "{epochs: many}", "epochs"),
        ("2", "{epochs: 0}", "child.epochs must be >= 1"),
        ("two", "{epochs: 1}", "layers must be a whole number >= 1, got 'two'"),
    ],
)
def test_bad_space_is_one_line_exit_2_and_leaves_no_run(tmp_path, capsys, layers, child, message):
    space = tmp_path / "space.yaml"
    space.write_text(SPACE.format(layers=layers, child=child))
    runs = tmp_path / "runs"
    code = main(["train", "agent=reinforce", "env=nas/mnist1d", f"env.kwargs.space={space}",
                 f"env.kwargs.cache={tmp_path / 'cache.sqlite'}", "total_steps=40", f"runs_root={runs}",
                 "logger=[jsonl]", "submit=false"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert message in err and "\n" not in err and "Traceback" not in err, err
    assert not runs.exists() or not any(runs.iterdir())  # nothing written
    assert not (tmp_path / "cache.sqlite").exists()  # no child trained


def test_children_print_progress_with_count_and_best_so_far(tmp_path):
    """Real children trained through the live evaluator: a line per child once the wait passes
    ``after`` seconds (0 here), with the batch count, the overall count of the budget and the best."""
    import io

    import numpy as np
    from rlsuite.envs.nas import make_evaluator
    from rlsuite.envs.nas.children import ChildProgress
    from rlsuite.envs.nas.search import random_search
    from rlsuite.envs.nas.space import SearchSpace

    space_file = tmp_path / "tiny.yaml"
    space_file.write_text(SPACE.format(layers=1, child="{epochs: 1, batch_size: 256}"))
    evaluator = make_evaluator(SearchSpace.load(str(space_file)), cache=str(tmp_path / "cache.sqlite"))
    out = io.StringIO()
    evaluator.progress = ChildProgress("nas tiny", after=0.0, every=0.0, stream=out)  # type: ignore[attr-defined]
    result = random_search(evaluator, budget=2, seed=0)
    lines = out.getvalue().splitlines()
    assert [line.split(": ", 1)[1].split(";")[0] for line in lines] == [
        "1/1 children of this batch trained, 1/2 in all", "1/1 children of this batch trained, 2/2 in all"]
    best = [float(line.split("best val acc so far ")[1].split(";")[0]) for line in lines]
    assert best == pytest.approx(np.maximum.accumulate(result.children), abs=1e-4)
    assert all(line.endswith(" s/child") for line in lines)


def test_quick_batches_print_nothing():
    import io

    from rlsuite.envs.nas.children import ChildProgress

    now = [0.0]
    out = io.StringIO()
    progress = ChildProgress("nas t", after=5.0, every=5.0, stream=out, clock=lambda: now[0])
    progress.start_batch(3)
    for t in (1.0, 2.0, 3.0):  # the whole batch within 5 s: silent
        now[0] = t
        progress.child_done({"val_acc": t / 10})
    assert out.getvalue() == ""
    progress.start_batch(4)
    for t in (4.0, 9.5, 10.0, 12.0):  # lines from 5 s on, at most every 5 s, and when the batch ends
        now[0] = t
        progress.child_done({"val_acc": 0.9 if t == 9.5 else 0.1})
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "2/4 children of this batch trained, 5 in all" in lines[0]
    assert "4/4" in lines[1] and "best val acc so far 0.9000" in lines[1]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("choices: {out: [8], stride: [1, b]}", "choices.stride: conv layer 0: stride must be an integer, got 'b'"),
        ("choices: {out: [8]}\nfixed: {dims: 1, dropout: x}", "dropout must be a number, got 'x'"),
        ("choices: {out: [8], strid: [1]}", "unknown layer key 'strid'. Did you mean: stride?"),
        ("choices: {out: [8]}\nchild: {split_seed: x}", "child.split_seed must be an integer, got 'x'"),
    ],
)
def test_bad_choices_and_fixed_values_are_one_line(tmp_path, capsys, lines, message):
    space = tmp_path / "space.yaml"
    space.write_text(f"dataset: mnist1d\nlayers: 2\n{lines}\n")
    runs = tmp_path / "runs"
    assert main(["train", "agent=reinforce", "env=nas/mnist1d", f"env.kwargs.space={space}", "total_steps=40",
                 f"env.kwargs.cache={tmp_path / 'cache.sqlite'}", f"runs_root={runs}", "submit=false"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err, err
    assert not runs.exists() or not any(runs.iterdir())
