"""Box geometry of the localization MDP (Caicedo & Lazebnik 2015, section 3.1).

Boxes are ``[x1, y1, x2, y2]`` in pixels (``x2``, ``y2`` exclusive, so the width is ``x2 - x1``).
Each move changes the box by ``alpha`` (0.2) of its current width or height:

====  =======  ==================================================================
 0    right    x1 += aw, x2 += aw                      (aw = alpha * width)
 1    left     x1 -= aw, x2 -= aw
 2    up       y1 -= ah, y2 -= ah                      (ah = alpha * height)
 3    down     y1 += ah, y2 += ah
 4    bigger   x1 -= aw/2, x2 += aw/2, y1 -= ah/2, y2 += ah/2
 5    smaller  x1 += aw/2, x2 -= aw/2, y1 += ah/2, y2 -= ah/2
 6    fatter   y1 += ah/2, y2 -= ah/2                  (height shrinks: wider aspect)
 7    taller   x1 += aw/2, x2 -= aw/2                  (width shrinks: taller aspect)
 8    trigger  the box stays
====  =======  ==================================================================

The result is clipped to the image; an axis whose side would fall under ``min_side`` pixels keeps
its previous coordinates, so boxes never degenerate (and ``smaller`` at the minimum is a no-op).
"""

from __future__ import annotations

import numpy as np

ACTIONS = ("right", "left", "up", "down", "bigger", "smaller", "fatter", "taller", "trigger")
TRIGGER = 8
N_ACTIONS = len(ACTIONS)

# per move: coefficients of (aw, ah) added to (x1, y1, x2, y2)
_MOVES = np.array([
    [[1, 0], [0, 0], [1, 0], [0, 0]],           # right
    [[-1, 0], [0, 0], [-1, 0], [0, 0]],         # left
    [[0, 0], [0, -1], [0, 0], [0, -1]],         # up
    [[0, 0], [0, 1], [0, 0], [0, 1]],           # down
    [[-.5, 0], [0, -.5], [.5, 0], [0, .5]],     # bigger
    [[.5, 0], [0, .5], [-.5, 0], [0, -.5]],     # smaller
    [[0, 0], [0, .5], [0, 0], [0, -.5]],        # fatter
    [[.5, 0], [0, 0], [-.5, 0], [0, 0]],        # taller
], dtype=np.float64)


def transform(box: np.ndarray, action: int, width: float, height: float, alpha: float = 0.2,
              min_side: float = 2.0) -> np.ndarray:
    """The box after ``action`` (see the module table), clipped to the ``width`` x ``height`` image."""
    box = np.asarray(box, np.float64)
    if action == TRIGGER:
        return box.copy()
    step = alpha * np.array([box[2] - box[0], box[3] - box[1]])
    moved = box + _MOVES[action] @ step
    return clip(moved, width, height, min_side, previous=box)


def all_moves(box: np.ndarray, width: float, height: float, alpha: float = 0.2, min_side: float = 2.0) -> np.ndarray:
    """``(8, 4)``: the box after each of the eight moves."""
    return np.stack([transform(box, a, width, height, alpha, min_side) for a in range(TRIGGER)])


def clip(box: np.ndarray, width: float, height: float, min_side: float = 2.0,
         previous: np.ndarray | None = None) -> np.ndarray:
    """Clip to ``[0, width] x [0, height]``; an axis left shorter than ``min_side`` takes the
    ``previous`` box's coordinates (or is widened around its centre when there is none)."""
    out = np.asarray(box, np.float64).copy()
    out[[0, 2]] = np.clip(out[[0, 2]], 0.0, width)
    out[[1, 3]] = np.clip(out[[1, 3]], 0.0, height)
    for lo, hi, limit in ((0, 2, width), (1, 3, height)):
        if out[hi] - out[lo] < min_side:
            if previous is not None and previous[hi] - previous[lo] >= min_side:
                out[[lo, hi]] = previous[[lo, hi]]
            else:
                centre = np.clip((out[lo] + out[hi]) / 2, min_side / 2, limit - min_side / 2)
                out[[lo, hi]] = centre - min_side / 2, centre + min_side / 2
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes."""
    return float(iou_matrix(np.asarray(a)[None], np.asarray(b)[None])[0, 0])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` IoUs of every box in ``a`` with every box in ``b``."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def best_iou(box: np.ndarray, targets: np.ndarray) -> float:
    """IoU with the best-matching target (0 when there is none)."""
    return float(iou_matrix(box, targets).max()) if len(targets) else 0.0


def corner_boxes(width: float, height: float, fraction: float = 0.75) -> np.ndarray:
    """The four restart boxes of the test protocol: ``fraction`` of the image's width and height,
    anchored at the top-left, top-right, bottom-left and bottom-right corners."""
    w, h = fraction * width, fraction * height
    return np.array([[0, 0, w, h], [width - w, 0, width, h], [0, height - h, w, height],
                     [width - w, height - h, width, height]], np.float64)
