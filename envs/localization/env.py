"""Active object localization as a Gymnasium env (Caicedo & Lazebnik, ICCV 2015).

State: the CNN features of the region under the box, warped with context (:mod:`.features`),
followed by the one-hot history of the last ``history`` actions (most recent first; 10 x 9 = 90
values in the paper). Actions: the eight moves of :mod:`.boxes` and the trigger. Rewards: a move
earns ``sign(IoU(b', g) - IoU(b, g))`` and the trigger ``+eta`` when ``IoU(b, g) >= tau`` else
``-eta`` (eta = 3, tau = 0.6), where ``IoU(·, g)`` is the IoU with the best-matching target object.

Two episode kinds:

* training (``training=True``): a random image (of the ``train`` split by default), the box
  starts on the whole image, and the episode ends at the trigger (terminal) or after ``max_steps`` moves (a truncation).
* the test protocol (``training=False``): one test image per episode, at most ``protocol_steps``
  (200) steps. A trigger records a detection (box, confidence = the CNN's target probability at
  the box, steps since the search (re)started), marks the region with a black cross (inhibition of
  return) and restarts the search from the whole image; after ``restart_after`` (40) steps without
  a trigger the search restarts at the next of the four corner boxes (75 % of the image).

Every reset and step puts ``info["iou"]`` into the info and, with ``guided_exploration`` (the
paper's guided exploration; on by default), ``info["exploration_hint"]``: the actions with positive
reward from the current box (moves that raise the IoU, the trigger when IoU >= tau). The hint is a
general hook of the off-policy machinery (:mod:`rlsuite.offpolicy`): every value-based agent that
explores through it (DQN and its variants) draws its random actions among the hinted ones.
``guided_exploration=False`` publishes no hint, so exploration is uniform.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from rlsuite.envs.localization.boxes import (
    N_ACTIONS,
    TRIGGER,
    all_moves,
    best_iou,
    corner_boxes,
    iou_matrix,
    transform,
)
from rlsuite.envs.localization.features import image_tensor
from rlsuite.envs.localization.task import Task, load_task

from rlsuite.errors import ConfigError


class LocalizationEnv(gym.Env):
    """Move a box over an image until it triggers on a target object (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8}

    def __init__(self, dataset: str = "shapes", *, training: bool = True, render_mode: str | None = None,
                 alpha: float = 0.2, tau: float = 0.6, eta: float = 3.0, history: int = 10,
                 max_steps: int = 40, protocol_steps: int = 200, restart_after: int = 40,
                 min_side: float = 2.0, split: str | None = None, guided_exploration: bool = True,
                 task: Task | None = None, **task_kwargs: Any):
        if not isinstance(guided_exploration, bool):  # before the task loads (it may train a CNN)
            raise ConfigError(f"env.kwargs.guided_exploration must be true or false, got {guided_exploration!r}")
        self.task = task if task is not None else load_task(dataset, **task_kwargs)
        self.training, self.render_mode = training, render_mode
        self.alpha, self.tau, self.eta = alpha, tau, eta
        self.history_len, self.max_steps = history, max_steps
        self.protocol_steps, self.restart_after, self.min_side = protocol_steps, restart_after, min_side
        self.split = split or ("train" if training else "test")  # e.g. training episodes on test images
        self.guided_exploration = guided_exploration  # publish info["exploration_hint"]
        self.scenes = self.task.split(self.split)
        dim = self.task.features.dim + history * N_ACTIONS
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(N_ACTIONS)
        self.next_image = 0
        self.box = np.zeros(4)
        self.detections: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ episode
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if "image" in options:
            self.index = int(options["image"])
        elif self.training:
            self.index = int(self.np_random.integers(len(self.scenes)))
        else:  # the test protocol walks through the test images in order
            self.index = self.next_image % len(self.scenes)
            self.next_image += 1
        scene = self.scenes[self.index]
        self.image = image_tensor(scene.image)
        self.height, self.width = scene.image.shape[:2]
        self.targets = scene.targets(self.task.classes)
        self.steps = 0
        self.detections = []
        self.evaluations_at_reset = self.task.features.evaluations
        self.corner = 0
        self.start_search(np.array([0.0, 0.0, self.width, self.height]))
        return self.observation(), self.info()

    def start_search(self, box: np.ndarray) -> None:
        self.box = np.asarray(box, np.float64)
        self.actions = np.full(self.history_len, -1)
        self.search_steps = 0

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        action = int(action)
        self.steps += 1
        self.search_steps += 1
        if self.history_len:
            self.actions = np.roll(self.actions, 1)
            self.actions[0] = action
        iou_before = best_iou(self.box, self.targets)
        terminated = False
        if action == TRIGGER:
            reward = self.eta if iou_before >= self.tau else -self.eta
            if self.training:
                terminated = True
            else:
                self.record_detection(iou_before)
        else:
            self.box = transform(self.box, action, self.width, self.height, self.alpha, self.min_side)
            reward = float(np.sign(best_iou(self.box, self.targets) - iou_before))
        if self.training:
            truncated = not terminated and self.steps >= self.max_steps
        else:
            truncated = self.steps >= self.protocol_steps
            if not truncated and action != TRIGGER and self.search_steps >= self.restart_after:
                self.start_search(corner_boxes(self.width, self.height)[self.corner % 4])
                self.corner += 1
        return self.observation(), reward, terminated, truncated, self.info()

    def record_detection(self, iou: float) -> None:
        _, score = self.task.features(self.image, self.box)
        self.detections.append({"box": self.box.copy(), "score": score, "iou": iou, "steps": self.search_steps})
        self.mark(self.box)
        self.start_search(np.array([0.0, 0.0, self.width, self.height]))

    def mark(self, box: np.ndarray) -> None:
        """Inhibition of return: a black cross through the region, a fifth of its size thick."""
        x0, y0, x1, y1 = box
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        half_w, half_h = max((x1 - x0) / 10, 0.5), max((y1 - y0) / 10, 0.5)
        rows = slice(int(round(y0)), int(round(y1)))
        cols = slice(int(round(x0)), int(round(x1)))
        self.image = self.image.clone()
        self.image[:, int(round(cy - half_h)) : int(round(cy + half_h)), cols] = 0.0
        self.image[:, rows, int(round(cx - half_w)) : int(round(cx + half_w))] = 0.0

    # ------------------------------------------------------------------ what the agent sees
    def observation(self) -> np.ndarray:
        features, _ = self.task.features(self.image, self.box)
        history = np.zeros((self.history_len, N_ACTIONS), np.float32)
        taken = self.actions >= 0
        history[np.flatnonzero(taken), self.actions[taken]] = 1.0
        return np.concatenate([features, history.ravel()]).astype(np.float32)

    def exploration_hint(self) -> np.ndarray:
        """Actions with positive reward from the current box (Caicedo & Lazebnik's guided exploration)."""
        now = best_iou(self.box, self.targets)
        moved = all_moves(self.box, self.width, self.height, self.alpha, self.min_side)
        hint = np.zeros(N_ACTIONS, bool)
        if len(self.targets):
            hint[:TRIGGER] = iou_matrix(moved, self.targets).max(axis=1) > now
        hint[TRIGGER] = now >= self.tau
        return hint

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"iou": best_iou(self.box, self.targets)}
        if self.guided_exploration:
            info["exploration_hint"] = self.exploration_hint()
        return info

    @property
    def cnn_evaluations(self) -> int:
        """CNN evaluations since the last reset (cache misses of the shared feature extractor)."""
        return self.task.features.evaluations - self.evaluations_at_reset

    # ------------------------------------------------------------------ pictures
    def render(self) -> np.ndarray | None:
        """The image (with its marks) 4x enlarged: targets blue, detections red, the box green."""
        if self.render_mode != "rgb_array":
            return None
        scale = 4
        frame = (self.image.numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
        frame = frame.repeat(scale, 0).repeat(scale, 1).copy()
        for box in self.targets:
            draw_box(frame, box * scale, (60, 120, 255))
        for det in self.detections:
            draw_box(frame, det["box"] * scale, (255, 40, 40))
        draw_box(frame, self.box * scale, (40, 255, 40))
        return frame


def draw_box(frame: np.ndarray, box: np.ndarray, colour: tuple[int, int, int], thickness: int = 2) -> None:
    h, w = frame.shape[:2]
    x0, y0 = int(np.clip(box[0], 0, w - 1)), int(np.clip(box[1], 0, h - 1))
    x1, y1 = int(np.clip(box[2], x0 + 1, w)), int(np.clip(box[3], y0 + 1, h))
    frame[y0 : y0 + thickness, x0:x1] = colour
    frame[max(y1 - thickness, 0) : y1, x0:x1] = colour
    frame[y0:y1, x0 : x0 + thickness] = colour
    frame[y0:y1, max(x1 - thickness, 0) : x1] = colour
