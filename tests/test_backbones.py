"""Backbones: datasets (offline, seeded, exact boxes, users' folders), the architecture spec and the
models' shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("sklearn")

from rlsuite.backbones import datasets
from rlsuite.backbones.generative import GAN, VAE, down_plan
from rlsuite.backbones.spec import ArchSpec, SpecCNN, SpecError, resolve_spec
from rlsuite.backbones.training import random_shift
from rlsuite.errors import ConfigError


# ----------------------------------------------------------------------------- datasets
def test_digits_split_is_fixed_disjoint_and_seeded():
    a, b, c = datasets.load_digits(0, 8), datasets.load_digits(0, 8), datasets.load_digits(1, 8)
    assert (len(a.train), len(a.val), len(a.test)) == (1258, 180, 359)
    assert np.array_equal(a.test.x, b.test.x) and not np.array_equal(a.test.x, c.test.x)
    rows = {r.tobytes() for r in a.train.x} & {r.tobytes() for r in a.test.x}
    assert len(rows) <= 2  # load_digits itself holds a couple of duplicate images; splits are by index
    assert a.input_shape == (1, 8, 8) and a.train.x.min() >= 0.0 and a.train.x.max() <= 1.0
    up = datasets.load_digits(0, 32)
    assert up.input_shape == (1, 32, 32) and np.array_equal(up.test.y, a.test.y)


def test_mnist1d_is_generated_locally_and_leaves_global_rng_alone():
    state = np.random.get_state()[1].copy()
    d = datasets.load_mnist1d(0)
    assert np.array_equal(np.random.get_state()[1], state)
    assert d.input_shape == (1, 40) and (len(d.train), len(d.val), len(d.test)) == (3500, 500, 1000)
    assert sorted(set(d.test.y.tolist())) == list(range(10)) and not d.unit_range


def test_shapes_boxes_are_exact():
    data = datasets.make_shapes(40, size=24, seed=3, clutter=False)
    for img, box in zip(data.x, data.boxes):
        bright = (img >= 0.5).all(axis=0)  # without clutter only the shape reaches 0.5 on all channels
        rows, cols = np.nonzero(bright)
        assert tuple(box) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
    again = datasets.make_shapes(40, size=24, seed=3, clutter=False)
    assert np.array_equal(again.x, data.x) and set(data.y.tolist()) == set(range(len(datasets.SHAPE_CLASSES)))
    cluttered = datasets.load_shapes(seed=0, size=16, n=50)
    assert cluttered.input_shape == (3, 16, 16) and cluttered.train.boxes is not None


def _write_png(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_image_folder_reads_classes(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        for i in range(10):
            _write_png(tmp_path / cls / f"{i}.png", rng.integers(0, 256, (6, 6, 3), dtype=np.uint8))
    d = datasets.load_dataset(str(tmp_path))
    assert d.classes == ("cat", "dog") and d.input_shape == (3, 6, 6)
    assert len(d.train) + len(d.val) + len(d.test) == 20 and d.train.x.max() <= 1.0


def test_image_folder_errors(tmp_path):
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(ConfigError, match="has no images"):
        datasets.load_dataset(str(tmp_path / "empty"))
    _write_png(tmp_path / "mixed" / "a" / "0.png", np.zeros((6, 6), np.uint8))
    _write_png(tmp_path / "mixed" / "b" / "1.png", np.zeros((7, 6), np.uint8))
    with pytest.raises(ConfigError, match="mixed sizes"):
        datasets.load_dataset(str(tmp_path / "mixed"))


def test_npz_and_unknown_names(tmp_path):
    path = tmp_path / "arr.npz"
    np.savez(path, x=np.random.default_rng(0).integers(0, 256, (30, 5, 5)), y=np.arange(30) % 3)
    d = datasets.load_dataset(str(path))
    assert d.input_shape == (1, 5, 5) and d.n_classes == 3 and d.unit_range
    with pytest.raises(ConfigError, match="Did you mean: digits"):
        datasets.load_dataset("digit")
    np.savez(tmp_path / "bad.npz", images=np.zeros(3))
    with pytest.raises(ConfigError, match="must hold arrays 'x' and 'y'"):
        datasets.load_dataset(str(tmp_path / "bad.npz"))


def test_batches_cover_every_example_once():
    d = datasets.ArrayDataset(np.arange(10, dtype=np.float32)[:, None], np.arange(10))
    seen = torch.cat([y for _, y in datasets.batches(d, 4, torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))


def test_random_shift_moves_each_example_with_zero_fill():
    x = torch.arange(1, 26, dtype=torch.float32).view(1, 1, 5, 5).repeat(64, 1, 1, 1)
    out = random_shift(x, 1, torch.Generator().manual_seed(0))
    found = set()
    for o in out:
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                ref = torch.zeros(7, 7)
                ref[1 + dy : 6 + dy, 1 + dx : 6 + dx] = x[0, 0]
                if torch.equal(o[0], ref[1:6, 1:6]):
                    found.add((dy, dx))
                    break
            else:
                continue
            break
        else:
            raise AssertionError("an output is not a shifted copy of its input")
    assert len(found) >= 6  # the shifts vary between examples
    sig = torch.arange(1.0, 9.0).view(1, 1, 8).repeat(16, 1, 1)  # 1-D signals too
    assert random_shift(sig, 2, torch.Generator().manual_seed(0)).shape == sig.shape


# ----------------------------------------------------------------------------- spec
def test_spec_feature_map_shapes_by_hand():
    spec = resolve_spec("digits")
    assert spec.check((1, 16, 16)) == [(32, 16, 16), (32, 8, 8), (64, 8, 8), (64, 4, 4)]
    one_d = ArchSpec.from_dict({"convs": [[8, 5, 2], [4, 3, 1, 2]], "dims": 1, "hidden": []})
    assert one_d.check((1, 40)) == [(8, 20), (4, 10)]


def test_spec_errors_are_one_clear_line():
    with pytest.raises(SpecError, match=r"does not fit input \(1, 8, 8\): after layer 1"):
        ArchSpec.from_dict({"convs": [[8, 3, 2, 2], [8, 3, 2, 2]]}).check((1, 8, 8))
    with pytest.raises(SpecError, match=r"needs inputs shaped \(C, H, W\)"):
        resolve_spec("digits").check((1, 40))
    with pytest.raises(SpecError, match="Did you mean: hidden"):
        ArchSpec.from_dict({"convs": [], "hiden": [3]})
    with pytest.raises(SpecError, match="Did you mean: kernel"):
        ArchSpec.from_dict({"convs": [{"out": 4, "kernal": 3}]})
    with pytest.raises(SpecError, match="Did you mean: digits"):
        resolve_spec("digitz")
    with pytest.raises(SpecError, match="must be >= 1"):
        ArchSpec.from_dict({"convs": [[0, 3]]})


def test_spec_round_trips_and_builds():
    spec = ArchSpec.from_dict({"convs": [[8, 3, 1], [8, 3, 1, 1, True], [16, 3, 2, 1, True]], "hidden": [12]})
    assert ArchSpec.from_dict(spec.to_dict()) == spec
    net = SpecCNN(spec, (3, 9, 9), 4)
    x = torch.rand(5, 3, 9, 9)
    assert net(x).shape == (5, 4) and net.features(x).shape == (5, 12) and net.feature_dim == 12
    assert net.convs[1].project is None and net.convs[2].project is not None  # identity vs 1x1 projection
    pooled = SpecCNN(resolve_spec("shapes"), (3, 32, 32), 5)
    assert pooled.features(torch.rand(2, 3, 32, 32)).shape == (2, 128)
    one_d = SpecCNN(resolve_spec("paper1d"), (1, 40), 10)
    assert one_d(torch.rand(3, 1, 40)).shape == (3, 10) and one_d.feature_dim == 25 * 5


# ----------------------------------------------------------------------------- generative shapes
@pytest.mark.parametrize(("shape", "stages", "hw"), [((1, 8, 8), 1, (4, 4)), ((1, 16, 16), 2, (4, 4)),
                                                     ((4, 10, 10), 1, (5, 5)), ((3, 32, 32), 3, (4, 4))])
def test_down_plan_and_generative_shapes(shape, stages, hw):
    assert down_plan(shape) == (stages, hw)
    vae = VAE(shape, latent_dim=3, width=4)
    x = torch.rand(2, *shape)
    mu, _logvar = vae.encode(x)
    assert mu.shape == (2, 3) and vae.decode(mu).shape == (2, *shape) and vae.iw_log_likelihood(x, 4).shape == (2,)
    gan = GAN(shape, latent_dim=5, width=4, loss="wgan-gp", n_classes=3)
    assert gan.sample(6).shape == (6, *shape)
    y = torch.tensor([0, 2])
    assert torch.isfinite(gan.d_loss(x, y)) and torch.isfinite(gan.g_loss(2, y, x.device))


def test_generative_models_refuse_non_images():
    with pytest.raises(SpecError, match=r"images shaped \(C, H, W\)"):
        VAE((1, 40))
    with pytest.raises(SpecError, match="at least 4x4"):
        GAN((1, 3, 3))
