"""The localization test protocol, its metrics and the baselines.

:func:`run_protocol` plays the test protocol of :class:`.env.LocalizationEnv` (``training=False``)
on every test image with any policy (an agent's greedy ``act``, :func:`random_policy`) and collects
per image the detections, steps and CNN evaluations. :func:`summarize` turns detections into

* ``recall_iou50``: the fraction of target objects matched by a detection with IoU >= 0.5;
* ``mean_iou_at_trigger``: the mean, over triggers, of the IoU with the best-matching target;
* ``median_steps``: the median number of steps from the start (or restart) of a search to a
  trigger that detects an object (IoU >= 0.5), and ``cnn_evals_per_detection``: all CNN
  evaluations spent on the test images divided by the number of objects detected;
* ``ap50``: average precision at IoU 0.5, detections of all images ranked by their confidence
  (the CNN classifier head's probability of a target class at the detected box), each matched
  greedily to an unmatched object of its image (VOC), area under the all-points interpolated
  precision-recall curve (VOC 2010 onwards).

Baselines on the same test images and the same CNN: :func:`center_box` (one fixed box centred in
the image, the mean training object size) and :func:`sliding_window` (windows of several scales
and aspect ratios at a stride of a quarter window, scored by the CNN's classifier head; non-maximum
suppression at IoU 0.3; its CNN evaluations per image are the number of windows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rlsuite.envs.localization.boxes import N_ACTIONS, iou_matrix
from rlsuite.envs.localization.env import LocalizationEnv
from rlsuite.envs.localization.features import image_tensor
from rlsuite.envs.localization.task import Task

Policy = Callable[[np.ndarray], int]


@dataclass
class ImageResult:
    targets: np.ndarray
    boxes: np.ndarray  # detections (n, 4)
    scores: np.ndarray  # their confidences
    steps: list[int] = field(default_factory=list)  # steps per detection (search start -> trigger)
    cnn_evaluations: int = 0
    episode_steps: int = 0


def run_protocol(env: LocalizationEnv, policy: Policy, images: int | None = None) -> list[ImageResult]:
    """The test protocol on the first ``images`` test images (all by default)."""
    results = []
    for index in range(len(env.scenes) if images is None else min(images, len(env.scenes))):
        obs, _ = env.reset(options={"image": index})
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(policy(obs))
            done = terminated or truncated
        dets = env.detections
        results.append(ImageResult(
            env.targets, np.array([d["box"] for d in dets]).reshape(-1, 4), np.array([d["score"] for d in dets]),
            [d["steps"] for d in dets], env.cnn_evaluations, env.steps))
    return results


def random_policy(seed: int = 0) -> Policy:
    rng = np.random.default_rng(seed)
    return lambda obs: int(rng.integers(N_ACTIONS))


def agent_policy(agent: Any) -> Policy:
    return lambda obs: int(agent.act(obs, deterministic=True))


def average_precision(results: list[ImageResult], threshold: float = 0.5) -> float:
    """VOC AP (all-points interpolation) of all images' detections ranked by score."""
    n_objects = sum(len(r.targets) for r in results)
    entries = [(s, i, j) for i, r in enumerate(results) for j, s in enumerate(r.scores)]
    if n_objects == 0 or not entries:
        return 0.0
    entries.sort(key=lambda e: -e[0])
    matched = [np.zeros(len(r.targets), bool) for r in results]
    hits = np.zeros(len(entries))
    for k, (_, i, j) in enumerate(entries):
        r = results[i]
        if not len(r.targets):
            continue
        overlaps = iou_matrix(r.boxes[j], r.targets)[0]
        overlaps[matched[i]] = -1.0
        best = int(overlaps.argmax())
        if overlaps[best] >= threshold:
            matched[i][best] = True
            hits[k] = 1
    tp = np.cumsum(hits)
    recall = tp / n_objects
    precision = tp / np.arange(1, len(entries) + 1)
    # all-points interpolation: precision made monotone from the right, integrated over recall
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    changes = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(((mrec[changes + 1] - mrec[changes]) * mpre[changes + 1]).sum())


def summarize(results: list[ImageResult], threshold: float = 0.5) -> dict[str, float]:
    n_objects = sum(len(r.targets) for r in results)
    found = 0
    trigger_ious: list[float] = []
    detection_steps: list[int] = []
    for r in results:
        if not len(r.boxes):
            continue
        overlaps = iou_matrix(r.boxes, r.targets) if len(r.targets) else np.zeros((len(r.boxes), 1))
        found += int((overlaps.max(axis=0) >= threshold).sum()) if len(r.targets) else 0
        trigger_ious += overlaps.max(axis=1).tolist()
        detection_steps += [s for s, o in zip(r.steps, overlaps.max(axis=1)) if o >= threshold]
    evaluations = sum(r.cnn_evaluations for r in results)
    return {
        "recall_iou50": found / max(n_objects, 1),
        "ap50": average_precision(results, threshold),
        "mean_iou_at_trigger": float(np.mean(trigger_ious)) if trigger_ious else 0.0,
        "median_steps": float(np.median(detection_steps)) if detection_steps else float("nan"),
        "triggers_per_image": sum(len(r.boxes) for r in results) / max(len(results), 1),
        "objects_found_per_image": found / max(len(results), 1),
        "objects_per_image": n_objects / max(len(results), 1),
        "cnn_evals_per_image": evaluations / max(len(results), 1),
        "cnn_evals_per_detection": evaluations / found if found else float("inf"),
        "images": len(results),
    }


# ----------------------------------------------------------------------------- baselines
def center_box(task: Task) -> list[ImageResult]:
    """One box per test image: centred, of the training objects' mean width and height (relative
    to the image), scored by the CNN head."""
    sizes = [(b[2] - b[0]) / s.image.shape[1] for s in task.split("train") for b in s.targets(task.classes)]
    heights = [(b[3] - b[1]) / s.image.shape[0] for s in task.split("train") for b in s.targets(task.classes)]
    fw, fh = float(np.mean(sizes)), float(np.mean(heights))
    results = []
    for scene in task.split("test"):
        h, w = scene.image.shape[:2]
        box = np.array([[w * (1 - fw) / 2, h * (1 - fh) / 2, w * (1 + fw) / 2, h * (1 + fh) / 2]])
        _, score = task.features.compute(image_tensor(scene.image), box)
        results.append(ImageResult(scene.targets(task.classes), box, score, [1], 1, 1))
    return results


def windows(width: int, height: int, scales: tuple[float, ...] = (0.2, 0.3, 0.45, 0.65),
            aspects: tuple[float, ...] = (0.5, 1.0, 2.0), stride: float = 0.25) -> np.ndarray:
    """Every window of ``scales`` (side relative to the image's shorter side, at aspect 1) and
    ``aspects`` (width / height), stepped by ``stride`` of the window's width and height."""
    out = []
    for scale in scales:
        for aspect in aspects:
            w = min(scale * min(width, height) * np.sqrt(aspect), width)
            h = min(scale * min(width, height) / np.sqrt(aspect), height)
            xs = np.arange(0, width - w + 1e-6, max(stride * w, 1))
            ys = np.arange(0, height - h + 1e-6, max(stride * h, 1))
            for y in ys:
                for x in xs:
                    out.append((x, y, x + w, y + h))
    return np.array(out, np.float64)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float = 0.3, keep: int = 10) -> np.ndarray:
    """Indices of the boxes greedy non-maximum suppression keeps (best first)."""
    order = list(np.argsort(-scores))
    kept: list[int] = []
    while order and len(kept) < keep:
        i = order.pop(0)
        kept.append(i)
        if order:
            overlaps = iou_matrix(boxes[i], boxes[order])[0]
            order = [j for j, o in zip(order, overlaps) if o <= threshold]
    return np.array(kept, np.int64)


def sliding_window(task: Task, keep: int = 10, min_score: float = 0.5, **window_args: Any) -> list[ImageResult]:
    """Score every window with the CNN head (one batched pass per image), keep the best after
    non-maximum suppression (at least the top one, then those scoring >= ``min_score``)."""
    results = []
    for scene in task.split("test"):
        h, w = scene.image.shape[:2]
        boxes = windows(w, h, **window_args)
        _, scores = task.features.compute(image_tensor(scene.image), boxes)
        kept = nms(boxes, scores, keep=keep)
        kept = kept[(scores[kept] >= min_score) | (np.arange(len(kept)) == 0)]
        results.append(ImageResult(scene.targets(task.classes), boxes[kept], scores[kept], [len(boxes)] * len(kept),
                                   len(boxes), 0))
    return results


def search_outcomes(env: LocalizationEnv, policy: Policy, episodes: int, seed: int = 0) -> dict[str, float]:
    """Single searches (training-kind episodes: whole-image start, end at the trigger or after
    ``max_steps``), a short check of what a policy learned: ``success`` the fraction that trigger
    with IoU >= tau, ``final_iou`` the mean IoU of the last box (at the trigger or the step limit)."""
    hits, final = 0, []
    for i in range(episodes):
        obs, info = env.reset(seed=seed + i)
        done = False
        while not done:
            iou_now = info["iou"]
            obs, _, terminated, truncated, info = env.step(policy(obs))
            done = terminated or truncated
        hits += int(terminated and iou_now >= env.tau)
        final.append(iou_now if terminated else info["iou"])
    return {"success": hits / episodes, "final_iou": float(np.mean(final))}
