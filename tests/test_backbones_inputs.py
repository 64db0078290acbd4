"""Bad `rlsuite fit` / `rlsuite sample` inputs: one line naming what is wrong and what is accepted,
exit 2, no traceback, no run directory, before any training."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from rlsuite.backbones import fit
from rlsuite.cli import main

RNG = np.random.default_rng(0)
GOOD_X = RNG.random((40, 1, 8, 8)).astype(np.float32)
GOOD_Y = np.arange(40) % 3


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _fit_fails(tmp_path, capsys, argv):
    runs = tmp_path / "runs"
    code = main(["fit", *argv, f"runs_root={runs}", "logger=[jsonl]", "epochs=1"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "\n" not in err and "Traceback" not in err, err
    assert not runs.exists()  # nothing written
    return err


NAN_X = GOOD_X.copy()
NAN_X[5, 0, 1, 1] = np.nan
INF_X = GOOD_X.copy()
INF_X[7, 0, 0, 0] = np.inf


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.array(["a"] * 40), "y": GOOD_Y}, "has dtype <U1; expected numbers (float or integer pixels)"),
        ({"x": GOOD_X, "y": np.array(["cat"] * 40)}, "labels must be class indices 0..K-1"),
        ({"x": GOOD_X, "y": np.where(GOOD_Y == 2, -1, GOOD_Y)}, "holds label -1 at index 2; labels must be class"),
        ({"x": GOOD_X, "y": GOOD_Y + 0.5}, "holds 0.5 at index 0; labels must be class indices 0..K-1 (integers, "
                                           "or floats with whole values)"),
        ({"x": NAN_X, "y": GOOD_Y}, "holds 1 NaN/inf values (first in example 5)"),
        ({"x": INF_X, "y": GOOD_Y}, "NaN/inf values (first in example 7)"),
        ({"x": GOOD_X[:4], "y": GOOD_Y[:4]}, "has 4 examples; the train / val / test split needs at least 10"),
        ({"x": RNG.random((40, 16, 16, 3)), "y": GOOD_Y}, "(16, 16, 3) looks channels-last; expected (C, H, W)"),
        ({"x": RNG.random((40, 40, 2)), "y": GOOD_Y}, "(40, 2) looks channels-last; expected (C, L)"),
        ({"x": GOOD_X, "y": GOOD_Y[:30]}, "40 inputs but 30 labels"),
        ({"x": GOOD_X, "y": np.eye(3)[GOOD_Y]}, "one class index per example (not one-hot)"),
        ({"x": GOOD_X, "y": GOOD_Y, "y_tset": GOOD_Y}, "unknown array 'y_tset'. Did you mean: y_test"),
        ({"x": GOOD_X, "y": GOOD_Y, "x_test": GOOD_X}, "x_test and y_test come together"),
        ({"x": GOOD_X, "y": GOOD_Y, "x_test": RNG.random((5, 1, 6, 6)), "y_test": GOOD_Y[:5]}, "must match"),
    ],
)
def test_bad_npz_is_one_line(tmp_path, capsys, arrays, message):
    err = _fit_fails(tmp_path, capsys, ["model=cnn", f"data={_npz(tmp_path / 'd.npz', **arrays)}"])
    assert message in err


def test_whole_float_labels_and_flat_signals_are_accepted(tmp_path):
    x = RNG.random((40, 24)).astype(np.float32)  # (N, L): one-channel signals
    res = fit(["model=cnn", "arch=paper1d", "epochs=1", f"data={_npz(tmp_path / 'd.npz', x=x, y=GOOD_Y * 1.0)}",
               f"runs_root={tmp_path / 'runs'}", "logger=[jsonl]"])
    assert res.data.input_shape == (1, 24) and res.data.n_classes == 3 and res.data.train.y.dtype == np.int64


def test_grayscale_and_rgb_of_one_size_are_mixed_channel_counts(tmp_path, capsys):
    from PIL import Image

    for label, mode in (("a", "L"), ("b", "RGB")):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(6):
            Image.new(mode, (8, 8)).save(tmp_path / "imgs" / label / f"{i}.png")
    err = _fit_fails(tmp_path, capsys, [f"data={tmp_path / 'imgs'}"])
    assert "mixed channel counts" in err and "grayscale (1 channel)" in err and "RGB (3 channels)" in err


def test_too_few_images_in_a_folder(tmp_path, capsys):
    from PIL import Image

    (tmp_path / "imgs" / "a").mkdir(parents=True)
    for i in range(4):
        Image.new("L", (8, 8)).save(tmp_path / "imgs" / "a" / f"{i}.png")
    assert "has 4 examples; the train / val / test split needs at least 10" in _fit_fails(
        tmp_path, capsys, [f"data={tmp_path / 'imgs'}"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("convs: [[8, 3, 1]\nhidden: [16]\n", "is not valid YAML: "),
        ("- 1\n- 2\n", "must hold a mapping with 'convs', got list"),
        ("convs: [[8, 3, 1]]\nhiden: [16]\n", "unknown spec key 'hiden'. Did you mean: hidden?"),
    ],
)
def test_bad_arch_file(tmp_path, capsys, text, message):
    (tmp_path / "arch.yaml").write_text(text)
    err = _fit_fails(tmp_path, capsys, ["data=digits", "size=8", f"arch={tmp_path / 'arch.yaml'}"])
    assert "architecture spec file" in err and message in err and "unknown preset" not in err
    if "YAML" in message:
        assert "at line 2" in err


def test_missing_arch_file(tmp_path, capsys):
    err = _fit_fails(tmp_path, capsys, ["data=digits", "size=8", f"arch={tmp_path / 'nope.yaml'}"])
    assert "does not exist" in err


def test_arch_file_trains(tmp_path):
    (tmp_path / "arch.json").write_text('{"spec": {"convs": [[4, 3, 1, 2]], "hidden": [8]}, "val_acc": 0.5}')
    res = fit(["data=digits", "size=8", "epochs=1", f"arch={tmp_path / 'arch.json'}",
               f"runs_root={tmp_path / 'runs'}", "logger=[jsonl]"])
    assert res.model.spec.convs[0].out == 4 and res.model.spec.hidden == [8]


def test_sample_out_under_a_file_is_one_line(tmp_path, capsys):
    res = fit(["model=vae", "epochs=1", "latent_dim=2", "width=4", "iw_samples=2", "data=digits", "size=8",
               f"runs_root={tmp_path / 'runs'}", "logger=[jsonl]"])
    (tmp_path / "afile").write_text("x")
    assert main(["sample", f"run={res.dir}", f"out={tmp_path / 'afile' / 'png'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "is a file; give a folder path" in err and "\n" not in err and "Traceback" not in err
    assert not list(res.dir.glob("*.png")) and (tmp_path / "afile").read_text() == "x"
