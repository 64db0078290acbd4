"""What an episode needs besides the MDP: the scenes of each split and the trained feature CNN.

:func:`load_task` builds them once per process for a dataset description (the generated scenes
and the CNN are cached on disk under ``$RLSUITE_CACHE``, default ``~/.cache/rlsuite``, so later
processes reuse them; the CNN is keyed by the content of its training scenes, and nothing is ever
written into a user's dataset folder): ``shapes`` (one target per image), ``shapes-multi`` (one to three) or
``voc`` (a VOC-layout folder given as ``root``, e.g. ``VOCdevkit/VOC2007``, with ``classes``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from rlsuite.envs.localization.features import FeatureExtractor, train_feature_cnn
from rlsuite.envs.localization.scenes import Scene, cache_root, generated, read_split

from rlsuite.backbones.datasets import SHAPE_CLASSES
from rlsuite.errors import ConfigError, unknown

DATASETS = ("shapes", "shapes-multi", "voc")


@dataclass
class Task:
    name: str
    root: Path
    classes: tuple[str, ...]
    scenes: dict[str, list[Scene]]
    features: FeatureExtractor
    cnn_dir: Path

    def split(self, name: str) -> list[Scene]:
        if not self.scenes.get(name):
            raise ConfigError(f"dataset {self.name} has no images in split '{name}' "
                              f"(splits with images: {', '.join(k for k, v in self.scenes.items() if v)})")
        return self.scenes[name]


def _resize(scene: Scene, image_size: int) -> Scene:
    """Downscale so the longer side is ``image_size`` (real VOC photos); generated scenes already are."""
    h, w = scene.image.shape[:2]
    if max(h, w) <= image_size:
        return scene
    from PIL import Image

    scale = image_size / max(h, w)
    size = (max(int(round(w * scale)), 1), max(int(round(h * scale)), 1))
    image = np.asarray(Image.fromarray(scene.image).resize(size, Image.Resampling.BILINEAR))
    return Scene(scene.id, image, scene.names, scene.boxes * scale, scene.difficult)


def class_names(classes: object) -> tuple[str, ...] | None:
    """``classes`` as a tuple of names: a bare string is one class (``classes=box``), a list is
    several (``classes=[box,ball]``)."""
    if classes is None or (isinstance(classes, (list, tuple)) and not classes):
        return None
    names = (classes,) if isinstance(classes, str) else tuple(classes) if isinstance(classes, (list, tuple)) else None
    if names is None or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(f"env.kwargs.classes must be a class name or a list of names (classes=cat, "
                          f"classes=[cat,dog]), got {classes!r}")
    return tuple(n.strip() for n in names)


def load_task(dataset: str = "shapes", *, root: str | None = None,
              classes: list[str] | tuple[str, ...] | str | None = None,
              image_size: int = 64, n_train: int = 400, n_test: int = 100, data_seed: int = 0,
              scene_seed: int | None = None, crop: int = 32, cnn_epochs: int = 8) -> Task:
    """The task of ``dataset``. ``data_seed`` fixes the generated scenes the feature CNN is trained on;
    ``scene_seed`` (generated datasets only) replaces the scenes of every split by those of another
    seed while keeping that CNN: evaluation on fresh scenes of the same trained agent."""
    return _load_task(dataset, root, class_names(classes), image_size, n_train, n_test, data_seed,
                      None if scene_seed is None or scene_seed == data_seed else int(scene_seed), crop, cnn_epochs)


def _generated_scenes(dataset: str, n_train: int, n_test: int, image_size: int, seed: int) -> Path:
    objects = (1, 1) if dataset == "shapes" else (1, 3)
    return generated(dataset, n={"train": n_train, "test": n_test}, size=image_size, objects=objects,
                     distractors=(1, 3), seed=seed)


@lru_cache(maxsize=4)
def _load_task(dataset: str, root: str | None, classes: tuple[str, ...] | None, image_size: int, n_train: int,
               n_test: int, data_seed: int, scene_seed: int | None, crop: int, cnn_epochs: int) -> Task:
    if dataset not in DATASETS:
        raise unknown("localization dataset", dataset, DATASETS)
    if dataset == "voc":
        if not root:
            raise ConfigError("localization/voc needs env.kwargs.root=<VOC folder with Annotations/, JPEGImages/, "
                              "ImageSets/Main/> and env.kwargs.classes=[<class>, ...]")
        if scene_seed is not None:
            raise ConfigError("env.kwargs.scene_seed draws fresh generated scenes (localization/shapes, "
                              "shapes-multi); a VOC folder's images are fixed (evaluate another folder with root=)")
        data_root = Path(root).expanduser()
        if not (data_root / "Annotations").is_dir():
            raise ConfigError(f"{data_root} is not a VOC folder: it has no Annotations/ "
                              "(point root at VOCdevkit/VOC2007 or a generated scene folder)")
        splits = {"train": "trainval" if (data_root / "ImageSets/Main/trainval.txt").exists() else "train",
                  "test": "test"}
        if not classes:
            raise ConfigError("localization/voc needs env.kwargs.classes, e.g. [cat] (the paper trains one agent "
                              "per class)")
    else:
        data_root = _generated_scenes(dataset, n_train, n_test, image_size, data_seed)
        splits = {"train": "train", "test": "test"}
        classes = classes or SHAPE_CLASSES
    scenes = {name: [_resize(s, image_size) for s in read_split(data_root, split)] for name, split in splits.items()}
    for name, split in splits.items():  # refused before any training, not when the evaluation reaches it
        if not scenes[name]:
            raise ConfigError(f"{data_root / 'ImageSets' / 'Main' / (split + '.txt')} lists no images: the "
                              f"{name} split needs at least one annotated image")
    known = {n for ss in scenes.values() for s in ss for n in s.names}
    missing = [c for c in classes if c not in known]
    if missing:
        raise ConfigError(f"classes {missing} do not occur in {data_root}; "
                          f"annotated classes: {', '.join(sorted(known))}")
    # derived artefacts live in the user cache (never in a user's dataset folder), keyed by content
    cnn_dir = train_feature_cnn(scenes["train"], classes, cache_root() / "cnn", crop=crop, epochs=cnn_epochs,
                                seed=data_seed)
    if scene_seed is not None:  # fresh scenes for the same agent: the CNN above stays, the images change
        data_root = _generated_scenes(dataset, n_train, n_test, image_size, scene_seed)
        scenes = {name: [_resize(s, image_size) for s in read_split(data_root, split)]
                  for name, split in splits.items()}
    features = FeatureExtractor(cnn_dir, classes, crop=crop)
    return Task(dataset, data_root, tuple(classes), scenes, features, cnn_dir)


def describe(task: Task) -> str:
    counts = {k: len(v) for k, v in task.scenes.items()}
    return json.dumps({"dataset": task.name, "root": str(task.root), "classes": task.classes, "images": counts})
