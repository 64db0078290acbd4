"""PASCAL VOC localization from the command line, end to end, on a VOC-layout folder built here
(generated images, hand-written XML): train with the env config, evaluate in task terms, resume;
class names, clipped boxes, empty splits; fresh-scene evaluation and the content-keyed caches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from rlsuite.errors import ConfigError

XML = """<annotation>
  <folder>VOCtest</folder>
  <filename>{id}.png</filename>
  <size><width>{w}</width><height>{h}</height><depth>3</depth></size>
{objects}</annotation>
"""
OBJECT = """  <object>
    <name>{name}</name>
    <difficult>0</difficult>
    <bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox>
  </object>
"""


def write_voc(root: Path, splits: dict[str, int], size: int = 48, seed: int = 0,
              overrides: dict[str, str] | None = None) -> Path:
    """A VOC folder: per image a noise background with a bright square ('box') and a disc ('ball'),
    annotated by hand-written XML (1-based, inclusive VOC boxes). ``overrides``: id -> XML text."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    index = 0
    for split, n in splits.items():
        ids = []
        for _ in range(n):
            image_id = f"{index:06d}"
            img = (rng.random((size, size, 3)) * 90).astype(np.uint8)
            side = int(rng.integers(12, 20))
            x0, y0 = int(rng.integers(0, size // 2 - side // 2)), int(rng.integers(0, size - side))
            img[y0:y0 + side, x0:x0 + side] = (230, 60, 60)
            r = int(rng.integers(5, 9))
            cx, cy = int(rng.integers(size // 2 + r, size - r)), int(rng.integers(r, size - r))
            yy, xx = np.mgrid[:size, :size]
            img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = (60, 200, 240)
            Image.fromarray(img).save(root / "JPEGImages" / f"{image_id}.png")
            objects = OBJECT.format(name="box", xmin=x0 + 1, ymin=y0 + 1, xmax=x0 + side, ymax=y0 + side)
            objects += OBJECT.format(name="ball", xmin=cx - r + 1, ymin=cy - r + 1, xmax=cx + r + 1, ymax=cy + r + 1)
            text = (overrides or {}).get(image_id) or XML.format(id=image_id, w=size, h=size, objects=objects)
            (root / "Annotations" / f"{image_id}.xml").write_text(text)
            ids.append(image_id)
            index += 1
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(i + "\n" for i in ids))
    return root


def files_of(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*")}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("rlsuite-cache")
    old = os.environ.get("RLSUITE_CACHE")
    os.environ["RLSUITE_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("RLSUITE_CACHE", None)
    else:
        os.environ["RLSUITE_CACHE"] = old


@pytest.fixture(scope="module")
def voc(tmp_path_factory):
    return write_voc(tmp_path_factory.mktemp("VOCtest"), {"train": 10, "test": 3})


def cli(*args: str, cache: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RLSUITE_CACHE": str(cache)}
    return subprocess.run([sys.executable, "-m", "rlsuite.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


TINY_DQN = ["agent.learning_starts=40", "agent.net.widths=[32]", "agent.batch_size=16", "agent.train_freq=4",
            "env.kwargs.cnn_epochs=1", "env.kwargs.protocol_steps=30", "eval_episodes=1", "logger=[jsonl]"]


def test_voc_from_the_cli_trains_evaluates_in_task_terms_and_resumes(voc, cache, tmp_path):
    before = files_of(voc)
    common = [f"runs_root={tmp_path / 'runs'}", f"leaderboard={tmp_path / 'lb.sqlite'}"]
    # a list-valued kwarg from the command line (ListConfig) must checkpoint: classes=[box,ball]
    done = cli("train", "agent=dqn", "env=localization-voc", f"env.kwargs.root={voc}", "env.kwargs.classes=[box,ball]",
               "total_steps=100", "checkpoint_every=50", *TINY_DQN, *common, cache=cache, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "recall@0.5" in done.stdout and "AP@0.5" in done.stdout and "median steps" in done.stdout, done.stdout
    assert "training the feature CNN" in done.stderr  # the wait is announced
    run_dir = next((tmp_path / "runs").iterdir())
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    # the env config's paper settings: guided exploration is the env's (its hints), not the agent's
    assert config["agent"]["gamma"] == 0.9 and config["env"]["kwargs"]["guided_exploration"] is True
    assert "guided_exploration" not in config["agent"]
    summary = json.loads((run_dir / "eval.json").read_text())
    task = summary["extra"]["task"]
    assert task["primary"] == "recall@0.5" and task["metrics"]["test_images"] == 3
    assert 0.0 <= task["metrics"]["recall@0.5"] <= 1.0 and task["metrics"]["cnn_evals_per_image"] > 0
    # nothing was written into the dataset: the CNN lives in the user cache, keyed by content
    assert files_of(voc) == before
    assert any((cache / "localization" / "cnn").glob("cnn-*/names.json"))

    shown = cli("eval", f"run={run_dir}", "episodes=1", "submit=false", cache=cache, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "recall@0.5" in shown.stdout and "AP@0.5" in shown.stdout and "median steps" in shown.stdout

    resumed = cli("train", f"resume={run_dir}", "total_steps=150", cache=cache, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "training the feature CNN" not in resumed.stderr  # reused from the cache
    after = json.loads((run_dir / "eval.json").read_text())
    assert after["train_steps"] == 150 and "recall@0.5" in after["extra"]["task"]["metrics"]

    board = cli("leaderboard", f"leaderboard={tmp_path / 'lb.sqlite'}", "format=json", cache=cache, cwd=tmp_path)
    assert board.returncode == 0 and '"recall@0.5"' in board.stdout


def test_an_empty_split_is_refused_before_training(cache, tmp_path):
    root = write_voc(tmp_path / "VOC", {"train": 3})
    (root / "ImageSets" / "Main" / "test.txt").write_text("")
    done = cli("train", "agent=dqn", "env=localization-voc", f"env.kwargs.root={root}", "env.kwargs.classes=box",
               f"runs_root={tmp_path / 'runs'}", cache=cache, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith("test.txt lists no images: the test split needs at least "
                                                         "one annotated image")
    assert not (tmp_path / "runs").exists()


def test_class_names_a_bare_string_is_one_class():
    from rlsuite.envs.localization.task import class_names

    assert class_names("box") == ("box",)
    assert class_names(["box", "ball"]) == ("box", "ball")
    assert class_names(None) is None
    with pytest.raises(ConfigError, match="a class name or a list"):
        class_names(3)


def test_a_box_outside_the_image_is_clipped_with_a_warning_naming_the_file(tmp_path):
    from rlsuite.envs.localization.scenes import AnnotationError, BoxClippedWarning, read_split

    past = XML.format(id="000001", w=48, h=48, objects=OBJECT.format(name="box", xmin=30, ymin=5, xmax=60, ymax=20))
    root = write_voc(tmp_path / "a", {"train": 2}, overrides={"000001": past})
    with pytest.warns(BoxClippedWarning, match=r"000001\.xml: box outside the 48x48 image.*'box'"):
        scenes = read_split(root, "train")
    assert scenes[1].boxes.tolist() == [[29.0, 4.0, 48.0, 20.0]]
    outside = XML.format(id="000000", w=48, h=48, objects=OBJECT.format(name="box", xmin=60, ymin=5, xmax=70, ymax=9))
    root = write_voc(tmp_path / "b", {"train": 1}, overrides={"000000": outside})
    with pytest.warns(BoxClippedWarning), pytest.raises(AnnotationError, match="lies outside the 48x48 image"):
        read_split(root, "train")


@pytest.fixture(scope="module")
def voc_task(voc, cache):
    from rlsuite.envs.localization.task import load_task

    return load_task("voc", root=str(voc), classes="box", cnn_epochs=1)


def test_a_feature_cache_reused_on_other_scenes_returns_their_features(voc_task):
    from rlsuite.envs.localization.features import image_tensor

    extractor = voc_task.features
    box = np.array([4.0, 4.0, 30.0, 30.0])
    first, second = (image_tensor(s.image) for s in voc_task.split("test")[:2])
    f1, _s1 = extractor(first, box)
    f2, _s2 = extractor(second, box)  # same box, another image: must not be the first image's entry
    assert np.allclose(f2, extractor.compute(second, box[None])[0][0], atol=1e-5)
    assert not np.allclose(f1, f2)
    evaluations = extractor.evaluations
    assert np.array_equal(extractor(first.clone(), box)[0], f1)  # equal content: a hit, no CNN pass
    assert extractor.evaluations == evaluations
    first[:, 10:20, 10:20] = 0.0  # changed in place: the content key changes with it
    f3, _ = extractor(first, box)
    assert extractor.evaluations == evaluations + 1 and not np.array_equal(f3, f1)


def test_scene_seed_changes_the_scenes_and_keeps_the_feature_cnn(cache):
    from rlsuite.envs.localization.task import load_task

    tiny = {"n_train": 12, "n_test": 3, "cnn_epochs": 1, "image_size": 48}
    own = load_task("shapes", **tiny)
    fresh = load_task("shapes", **tiny, scene_seed=5)
    assert fresh.cnn_dir == own.cnn_dir  # the agent's feature network is not retrained or reseeded
    assert not np.array_equal(fresh.split("test")[0].image, own.split("test")[0].image)
    reseeded = load_task("shapes", **tiny, data_seed=5)
    assert reseeded.cnn_dir != own.cnn_dir  # data_seed, by contrast, is another CNN
    image = torch.from_numpy(np.ascontiguousarray(fresh.split("test")[0].image.transpose(2, 0, 1))).float() / 255
    box = np.array([0.0, 0.0, 24.0, 24.0])
    assert np.allclose(fresh.features(image, box)[0], own.features(image, box)[0], atol=1e-5)  # same CNN weights
    with pytest.raises(ConfigError, match="scene_seed draws fresh generated scenes"):
        load_task("voc", root="/nonexistent", classes="box", scene_seed=1)
