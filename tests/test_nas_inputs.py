"""Bad NAS search spaces from the command line: one line, exit 2, nothing written, before any child trains."""

from __future__ import annotations

import pytest

pytest.importorskip("mnist1d")

from rlsuite.cli import main  # noqa: E402

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
