"""Cluttered scenes with exact boxes, written and read in PASCAL VOC layout.

The generator draws, on a smooth colour-noise background with short random strokes (clutter),
``objects`` target shapes from the backbones' shape set (square, circle, triangle, cross, ring) with
varied size, aspect ratio and position, plus upscaled scikit-learn digits as distractors. Every
object's box is the tight bounding box of its own pixels, so it is exact by construction; targets
never overlap each other or a distractor, so no box is occluded.

The dataset on disk follows VOC 2007 (a user with ``VOCdevkit/VOC2007`` points the same reader at it)::

    <root>/JPEGImages/<id>.png            (VOC has .jpg; the reader takes the file the XML names)
    <root>/Annotations/<id>.xml           <size><width/><height/><depth/></size>
                                          <object><name/><difficult/><bndbox><xmin/>..</bndbox></object>
    <root>/ImageSets/Main/{train,val,test}.txt

VOC boxes are 1-based with inclusive ends; in memory boxes are 0-based ``(x0, y0, x1, y1)`` with
exclusive ends (``rlsuite.backbones`` convention): ``x0 = xmin - 1``, ``x1 = xmax``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from rlsuite.envs.localization.boxes import iou

from rlsuite.backbones.datasets import SHAPE_CLASSES, _shape_mask
from rlsuite.errors import ConfigError

SPLITS = ("train", "val", "test")
DISTRACTOR = "digit"


class AnnotationError(ConfigError):
    """A VOC annotation file that cannot be parsed or misses a required field."""


class BoxClippedWarning(UserWarning):
    """An annotated box ran outside its image and was clipped to it."""


class Progress:
    """``<what>: i/n`` lines on stderr for waits longer than ``after`` seconds, at most one per
    ``every`` seconds, and the total time at the end (silent for short waits)."""

    def __init__(self, what: str, total: int, after: float = 5.0, every: float = 5.0):
        self.what, self.total, self.after, self.every = what, total, after, every
        self.start = time.perf_counter()
        self.last_print: float | None = None

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if now - self.start < self.after or (self.last_print is not None and now - self.last_print < self.every):
            return
        self.last_print = now
        print(f"localization: {self.what}: {done:,}/{self.total:,} ({now - self.start:.0f} s)",
              file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.last_print is not None:
            print(f"localization: {self.what}: done, {self.total:,} in {time.perf_counter() - self.start:.0f} s",
                  file=sys.stderr, flush=True)


@dataclass
class Scene:
    """One image (``H x W x 3`` uint8) and its objects (names, boxes ``(n, 4)`` float32, difficult flags)."""

    id: str
    image: np.ndarray
    names: list[str]
    boxes: np.ndarray
    difficult: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        if len(self.difficult) != len(self.names):
            self.difficult = np.zeros(len(self.names), bool)

    def targets(self, classes: tuple[str, ...]) -> np.ndarray:
        """Boxes of the non-difficult objects whose name is in ``classes``."""
        keep = np.array([n in classes for n in self.names], bool) & ~self.difficult
        return self.boxes[keep] if len(self.names) else self.boxes


# ----------------------------------------------------------------------------- the generator
@lru_cache(maxsize=1)
def _digit_images() -> np.ndarray:
    from sklearn.datasets import load_digits

    return (load_digits().images / 16.0).astype(np.float32)


def _free(box: np.ndarray, taken: list[np.ndarray], margin: float = 1.0) -> bool:
    grown = box + np.array([-margin, -margin, margin, margin])
    return all(iou(grown, t) == 0.0 for t in taken)


def _place(img: np.ndarray, mask: np.ndarray, name: str, names: list[str], boxes: list[np.ndarray],
           rng: np.random.Generator) -> bool:
    """Paint ``mask`` in a random bright colour and record its exact box, unless it is empty or touches
    an object already placed (then nothing changes and no random number is drawn)."""
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return False
    box = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], np.float32)
    if not _free(box, boxes):
        return False
    img[:, mask] = (0.5 + 0.5 * rng.random(3, dtype=np.float32))[:, None]
    names.append(name)
    boxes.append(box)
    return True


def make_scene(rng: np.random.Generator, size: int, n_objects: int, n_distractors: int, index: int = 0,
               min_scale: float = 0.15, max_scale: float = 0.45) -> Scene:
    """One cluttered ``size`` x ``size`` scene; object sides are ``min_scale``..``max_scale`` of the image."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    coarse = max(size // 8, 2)
    noise = torch.from_numpy(rng.random((1, 3, coarse, coarse), dtype=np.float32))
    img = 0.35 * torch.nn.functional.interpolate(noise, size=(size, size), mode="bilinear",
                                                 align_corners=False)[0].numpy()
    for _ in range(int(rng.integers(4, 9))):  # clutter strokes
        y0, x0 = rng.integers(0, size, 2)
        length = int(rng.integers(3, max(size // 4, 4)))
        colour = rng.random(3, dtype=np.float32) * 0.6
        if rng.random() < 0.5:
            img[:, y0, x0 : x0 + length] = colour[:, None]
        else:
            img[:, y0 : y0 + length, x0] = colour[:, None]
    names: list[str] = []
    boxes: list[np.ndarray] = []
    for _ in range(n_objects):
        for _attempt in range(50):
            side = rng.uniform(min_scale, max_scale) * size
            aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))  # width / height
            rx, ry = side * np.sqrt(aspect) / 2, side / np.sqrt(aspect) / 2
            rx, ry = min(rx, size * 0.45), min(ry, size * 0.45)
            cx, cy = rng.uniform(rx, size - 1 - rx), rng.uniform(ry, size - 1 - ry)
            kind = int(rng.integers(0, len(SHAPE_CLASSES)))
            r = max(rx, ry)  # stretch the unit shape's axes so it spans rx by ry
            mask = _shape_mask(kind, cy + (yy - cy) * r / ry, cx + (xx - cx) * r / rx, cy, cx, r)
            if _place(img, mask, SHAPE_CLASSES[kind], names, boxes, rng):
                break
    digits = _digit_images()
    for _ in range(n_distractors):  # upscaled digits, as bright as the targets, never overlapping them
        for _attempt in range(20):
            h = int(rng.uniform(min_scale, max_scale) * size)
            w = max(int(h * rng.uniform(0.6, 1.2)), 4)
            y0, x0 = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
            digit = torch.from_numpy(digits[int(rng.integers(0, len(digits)))][None, None])
            glyph = torch.nn.functional.interpolate(digit, size=(h, w), mode="bilinear", align_corners=False)[0, 0]
            mask = np.zeros((size, size), bool)
            mask[y0 : y0 + h, x0 : x0 + w] = glyph.numpy() > 0.5
            if _place(img, mask, DISTRACTOR, names, boxes, rng):
                break
    image = (np.clip(img.transpose(1, 2, 0), 0, 1) * 255).round().astype(np.uint8)
    return Scene(f"{index:06d}", image, names, np.array(boxes, np.float32).reshape(-1, 4))


def generate(root: Path, n: dict[str, int], size: int = 64, objects: tuple[int, int] = (1, 1),
             distractors: tuple[int, int] = (1, 3), seed: int = 0) -> Path:
    """Write a VOC-layout dataset of generated scenes: ``n`` images per split, ``objects`` and
    ``distractors`` the (min, max) counts per image. The same arguments give the same files."""
    rng = np.random.default_rng(seed)
    index = 0
    progress = Progress(f"generating scenes in {root}", sum(n.values()))
    for split in (s for s in SPLITS if s in n):
        ids = []
        for _ in range(n.get(split, 0)):
            scene = make_scene(rng, size, int(rng.integers(objects[0], objects[1] + 1)),
                               int(rng.integers(distractors[0], distractors[1] + 1)), index)
            write_scene(root, scene)
            ids.append(scene.id)
            index += 1
            progress.update(index)
        (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(i + "\n" for i in ids))
    progress.close()
    return root


def cache_root() -> Path:
    return Path(os.environ.get("RLSUITE_CACHE", Path.home() / ".cache" / "rlsuite")) / "localization"


def generated(name: str, **params: object) -> Path:
    """The dataset ``generate(**params)`` writes, under the cache directory; made once, then reused."""
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    root = cache_root() / f"{name}-{key}"
    if not (root / "complete").exists():
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        generate(root, **params)  # type: ignore[arg-type]
        (root / "params.json").write_text(json.dumps(params, sort_keys=True))
        (root / "complete").touch()  # written last: a half-written dataset is regenerated
    return root


# ----------------------------------------------------------------------------- VOC files
def write_scene(root: Path, scene: Scene) -> None:
    from PIL import Image

    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    Image.fromarray(scene.image).save(root / "JPEGImages" / f"{scene.id}.png")
    ann = ET.Element("annotation")
    ET.SubElement(ann, "folder").text = root.name
    ET.SubElement(ann, "filename").text = f"{scene.id}.png"
    size = ET.SubElement(ann, "size")
    h, w, d = scene.image.shape
    for tag, value in (("width", w), ("height", h), ("depth", d)):
        ET.SubElement(size, tag).text = str(value)
    for name, box, difficult in zip(scene.names, scene.boxes, scene.difficult):
        obj = ET.SubElement(ann, "object")
        ET.SubElement(obj, "name").text = name
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = str(int(difficult))
        bnd = ET.SubElement(obj, "bndbox")
        x0, y0, x1, y1 = (int(v) for v in box)
        for tag, value in (("xmin", x0 + 1), ("ymin", y0 + 1), ("xmax", x1), ("ymax", y1)):
            ET.SubElement(bnd, tag).text = str(value)
    ET.indent(ann)
    ET.ElementTree(ann).write(root / "Annotations" / f"{scene.id}.xml")


def _field(node: ET.Element, tag: str, path: Path) -> str:
    found = node.find(tag)
    if found is None or found.text is None or not found.text.strip():
        raise AnnotationError(f"{path}: missing <{tag}> in <{node.tag}>; a VOC annotation needs "
                              "<filename>, <size> and per <object> a <name> and <bndbox> with xmin/ymin/xmax/ymax")
    return found.text.strip()


def read_annotation(path: Path) -> tuple[str, list[str], np.ndarray, np.ndarray]:
    """``(filename, names, boxes (0-based, end-exclusive), difficult)`` from one VOC XML file."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as err:
        raise AnnotationError(f"{path}: not a readable VOC annotation XML ({err})") from err
    filename = _field(root, "filename", path)
    names, boxes, difficult = [], [], []
    for obj in root.findall("object"):
        names.append(_field(obj, "name", path))
        bnd = obj.find("bndbox")
        if bnd is None:
            raise AnnotationError(f"{path}: object '{names[-1]}' has no <bndbox>")
        try:
            xmin, ymin, xmax, ymax = (float(_field(bnd, t, path)) for t in ("xmin", "ymin", "xmax", "ymax"))
        except ValueError as err:
            raise AnnotationError(f"{path}: object '{names[-1]}' has a non-numeric box coordinate ({err})") from err
        if xmax < xmin or ymax < ymin:
            raise AnnotationError(f"{path}: object '{names[-1]}' has an empty box {xmin, ymin, xmax, ymax}")
        boxes.append((xmin - 1, ymin - 1, xmax, ymax))
        flag = obj.find("difficult")
        difficult.append(flag is not None and (flag.text or "0").strip() == "1")
    return filename, names, np.array(boxes, np.float32).reshape(-1, 4), np.array(difficult, bool)


def read_split(root: Path, split: str) -> list[Scene]:
    """Every scene of ``ImageSets/Main/<split>.txt`` (VOC 2007's own files work as they are)."""
    from PIL import Image

    root = Path(root)
    listing = root / "ImageSets" / "Main" / f"{split}.txt"
    if not listing.exists():
        found = sorted(p.stem for p in (root / "ImageSets" / "Main").glob("*.txt") if "_" not in p.stem)
        raise ConfigError(f"no VOC split '{split}' under {root}: expected {listing} "
                          f"(found: {', '.join(found) or 'no ImageSets/Main'})")
    scenes: list[Scene] = []
    ids = listing.read_text().split()
    progress = Progress(f"reading {listing}", len(ids))
    for image_id in ids:
        progress.update(len(scenes))
        xml = root / "Annotations" / f"{image_id}.xml"
        filename, names, boxes, difficult = read_annotation(xml)
        image_path = root / "JPEGImages" / filename
        if not image_path.exists():
            image_path = next((root / "JPEGImages").glob(f"{image_id}.*"), image_path)
        try:
            with Image.open(image_path) as im:
                image = np.asarray(im.convert("RGB"))
        except OSError as err:
            raise ConfigError(f"cannot read image {image_path} of annotation {image_id}: {err}") from err
        scenes.append(Scene(image_id, image, names, clip_to_image(boxes, names, image.shape, xml), difficult))
    progress.close()
    return scenes


def clip_to_image(boxes: np.ndarray, names: list[str], shape: tuple[int, ...], path: Path) -> np.ndarray:
    """Boxes clipped to the image, with one :class:`BoxClippedWarning` naming the file and each
    clipped object: a box past the border is a labelling error whose best reachable IoU from inside
    the image may stay below the trigger threshold, so it is never accepted silently."""
    h, w = shape[:2]
    clipped = np.clip(boxes, 0, [w, h, w, h]).astype(np.float32)
    changed = np.flatnonzero((clipped != boxes).any(axis=1))
    if len(changed):
        what = "; ".join(f"'{names[i]}' {[round(float(v), 1) for v in boxes[i]]} -> "
                         f"{[round(float(v), 1) for v in clipped[i]]}" for i in changed)
        warnings.warn(f"{path}: box outside the {w}x{h} image, clipped (0-based x0, y0, x1, y1): {what}",
                      BoxClippedWarning, stacklevel=2)
    degenerate = [names[i] for i in changed if clipped[i, 2] - clipped[i, 0] < 1 or clipped[i, 3] - clipped[i, 1] < 1]
    if degenerate:
        raise AnnotationError(f"{path}: object {degenerate[0]!r} lies outside the {w}x{h} image")
    return clipped
