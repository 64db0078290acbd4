"""The localization task's CNN: warped box crops, the feature extractor and its training.

The paper warps the region under the box, with 16 pixels of context, to VGG's 224 x 224 input
and takes the fc6 features. Here a small :class:`rlsuite.backbones.SpecCNN` stands in for VGG: it
is trained with ``rlsuite fit`` to tell object crops (IoU >= 0.6 with an object: its class) from
background crops (IoU < 0.4 with every object), and its penultimate layer is the state's feature
part. Crops are warped to ``crop`` x ``crop`` pixels (32 by default) with context scaled like the
paper's: ``16 * crop / 224`` pixels of the warped crop are context on each side (R-CNN's
definition), so the box itself fills the middle ``crop - 2 * pad`` pixels.

Warping is one batched ``grid_sample`` (bilinear; outside the image reads zeros), so the
classifier's training crops, the sliding-window baseline and the env share the same function.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rlsuite.envs.localization.boxes import iou_matrix
from rlsuite.envs.localization.scenes import Scene
from torch.nn import functional as F

BACKGROUND = "background"
# a small CNN for 32 x 32 crops: three conv stages, flattened (position in the crop matters), 128 features
FEATURE_ARCH: dict[str, Any] = {"convs": [[16, 3, 1, 2], [32, 3, 1, 2], [64, 3, 1, 2]], "hidden": [128],
                                "dropout": 0.2}


def context_pad(crop: int, context: float = 16.0) -> float:
    """Context pixels per side in the warped crop: the paper's 16 of 224, scaled to ``crop``."""
    return context * crop / 224.0


def warp(image: torch.Tensor, boxes: torch.Tensor, crop: int, context: float = 16.0) -> torch.Tensor:
    """Crops ``(B, C, crop, crop)`` of ``image`` ``(C, H, W)`` under ``boxes`` ``(B, 4)`` (pixels,
    ``x0, y0, x1, y1``), each dilated so ``context_pad(crop, context)`` warped pixels of
    surroundings show on every side."""
    _, h, w = image.shape
    boxes = boxes.to(torch.float32)
    inner = crop - 2 * context_pad(crop, context)
    grow = crop / inner
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    half_w, half_h = (boxes[:, 2] - boxes[:, 0]) / 2 * grow, (boxes[:, 3] - boxes[:, 1]) / 2 * grow
    theta = torch.zeros(len(boxes), 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = half_w * 2 / w, cx * 2 / w - 1
    theta[:, 1, 1], theta[:, 1, 2] = half_h * 2 / h, cy * 2 / h - 1
    grid = F.affine_grid(theta, [len(boxes), image.shape[0], crop, crop], align_corners=False)
    return F.grid_sample(image.expand(len(boxes), -1, -1, -1), grid, align_corners=False)


def image_tensor(image: np.ndarray) -> torch.Tensor:
    """``H x W x 3`` uint8 -> ``(3, H, W)`` float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float() / 255.0


# ----------------------------------------------------------------------------- training crops
def sample_crops(scenes: list[Scene], classes: tuple[str, ...], per_image: int, crop: int,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Labelled crops: class ``0`` background, ``1 + k`` the k-th name of ``names`` (target classes
    first, then any other annotated class, e.g. distractors). Half the crops jitter an object's box
    (kept when IoU >= 0.6), half are random boxes (background when IoU < 0.4 with every object)."""
    rng = np.random.default_rng(seed)
    others = sorted({n for s in scenes for n in s.names} - set(classes))
    names = (BACKGROUND, *classes, *others)
    xs, ys = [], []
    for scene in scenes:
        h, w = scene.image.shape[:2]
        boxes = scene.boxes
        candidates = []
        for _ in range(per_image):
            if len(boxes) and rng.random() < 0.5:
                b = boxes[rng.integers(len(boxes))]
                bw, bh = b[2] - b[0], b[3] - b[1]
                jitter = rng.normal(0, 0.1, 4) * np.array([bw, bh, bw, bh])
                candidates.append(b + jitter)
            else:
                bw, bh = rng.uniform(0.1, 1.0) * w, rng.uniform(0.1, 1.0) * h
                x0, y0 = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
                candidates.append(np.array([x0, y0, x0 + bw, y0 + bh]))
        cand = np.clip(np.array(candidates, np.float32), 0, [w, h, w, h])
        cand[:, 2:] = np.maximum(cand[:, 2:], cand[:, :2] + 2)
        overlap = iou_matrix(cand, boxes) if len(boxes) else np.zeros((len(cand), 1))
        best = overlap.argmax(axis=1)
        best_iou = overlap.max(axis=1)
        labels = np.full(len(cand), -1)
        labels[best_iou < 0.4] = 0
        for i in np.flatnonzero(best_iou >= 0.6):
            labels[i] = 1 + names[1:].index(scene.names[best[i]])
        keep = labels >= 0
        if keep.any():
            crops = warp(image_tensor(scene.image), torch.from_numpy(cand[keep]), crop)
            xs.append((crops.numpy() * 255).round().astype(np.uint8))
            ys.append(labels[keep])
    return np.concatenate(xs), np.concatenate(ys), names


def scenes_digest(scenes: list[Scene]) -> str:
    """A hash of the scenes' content (image bytes, object names and boxes): what a CNN trained on
    them is keyed by, so another dataset never reuses it and the same one always does."""
    h = hashlib.sha256()
    for scene in scenes:
        h.update(np.ascontiguousarray(scene.image).tobytes())
        h.update(json.dumps([scene.names, np.asarray(scene.boxes).round(3).tolist()]).encode())
    return h.hexdigest()


def train_feature_cnn(scenes: list[Scene], classes: tuple[str, ...], cache_dir: Path, crop: int = 32,
                      epochs: int = 8, seed: int = 0, per_image: int = 24) -> Path:
    """Train (once; then reuse) the crop classifier with ``rlsuite fit``; returns its run directory
    ``<cache_dir>/cnn-<key>``, the key hashing the training scenes' content and these arguments."""
    import sys

    from rlsuite.backbones import fit

    params = {"classes": list(classes), "crop": crop, "epochs": epochs, "seed": seed, "per_image": per_image,
              "arch": FEATURE_ARCH, "scenes": scenes_digest(scenes)}
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    run_dir = Path(cache_dir) / f"cnn-{key}"
    if (run_dir / "names.json").exists():
        return run_dir
    start = time.perf_counter()
    x, y, names = sample_crops(scenes, classes, per_image, crop, seed)
    # a wait of tens of seconds on first use: say what is happening and where the result goes
    print(f"localization: training the feature CNN on {len(x):,} crops of {len(scenes)} images "
          f"({epochs} epochs; once, cached in {run_dir})", file=sys.stderr, flush=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    data = run_dir / "crops.npz"
    np.savez(data, x=x, y=y)
    fit(["model=cnn", f"data={data}", f"epochs={epochs}", f"seed={seed}", f"run_dir={run_dir / 'fit'}",
         f"arch={json.dumps(FEATURE_ARCH)}", "logger=[jsonl]", "patience=0"])
    data.unlink()  # regenerable from the seed; only the model is kept
    (run_dir / "names.json").write_text(json.dumps(list(names)))  # written last: marks a finished run
    print(f"localization: feature CNN ready ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    return run_dir


# ----------------------------------------------------------------------------- the extractor
class FeatureExtractor:
    """Features and target scores of box crops, through the trained CNN, with an LRU cache keyed by
    the image's content (a hash of its bytes) and the box rounded to 1/4 pixel: revisited boxes cost
    no CNN evaluation, and an extractor reused on other scenes (or a marked image) can never return
    another image's features. ``evaluations`` counts the crops that really went through the CNN."""

    def __init__(self, run_dir: Path, classes: tuple[str, ...], crop: int = 32, context: float = 16.0,
                 cache_size: int = 200_000):
        from rlsuite.backbones import load

        self.model = load(Path(run_dir) / "fit").eval()
        names = json.loads((Path(run_dir) / "names.json").read_text())
        self.target_index = [names.index(c) for c in classes if c in names]
        self.crop, self.context = crop, context
        self.dim = int(self.model.features_dim if hasattr(self.model, "features_dim") else self.model.feature_dim)
        self.cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self.cache_size = cache_size
        self.evaluations = 0
        # the last image hashed, its version counter (bumped by any in-place change) and its digest
        self._hashed: tuple[torch.Tensor, int, bytes] | None = None

    def content_key(self, image: torch.Tensor) -> bytes:
        """The digest of ``image``'s bytes (recomputed only when the tensor or its contents change)."""
        if self._hashed is not None and self._hashed[0] is image and self._hashed[1] == image._version:
            return self._hashed[2]
        digest = hashlib.blake2b(image.detach().cpu().contiguous().numpy().tobytes(), digest_size=16).digest()
        self._hashed = (image, image._version, digest)
        return digest

    @torch.no_grad()
    def compute(self, image: torch.Tensor, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features ``(B, dim)`` and target scores ``(B,)`` (probability of any target class) of
        ``boxes`` on ``image``, without the cache (one batched CNN pass)."""
        crops = warp(image, torch.from_numpy(np.asarray(boxes, np.float32).reshape(-1, 4)), self.crop, self.context)
        features = self.model.features(crops)
        probs = self.model.out(features).softmax(-1)
        self.evaluations += len(crops)
        return features.numpy(), probs[:, self.target_index].sum(-1).numpy()

    def __call__(self, image: torch.Tensor, box: np.ndarray) -> tuple[np.ndarray, float]:
        key = (self.content_key(image), *np.round(np.asarray(box) * 4).astype(np.int64).tolist())
        hit = self.cache.get(key)
        if hit is not None:
            self.cache.move_to_end(key)
            return hit[:-1], float(hit[-1])
        features, score = self.compute(image, box[None])
        entry = np.append(features[0], score[0]).astype(np.float32)
        self.cache[key] = entry
        if len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return entry[:-1], float(entry[-1])
