"""Active object localization (Caicedo & Lazebnik, ICCV 2015) as an env plugin.

``env=localization/shapes`` (one target shape per cluttered scene), ``env=localization/shapes-multi``
(one to three), ``env=localization/voc`` with ``env.kwargs.root=<VOCdevkit/VOC2007>`` and
``env.kwargs.classes=[cat]`` (or ``classes=cat``; the config ``env=localization-voc`` adds the paper's DQN
settings). ``env.kwargs.data_seed`` fixes the generated scenes and the feature CNN trained on them;
``env.kwargs.scene_seed`` (e.g. ``rlsuite eval run=<dir> env.kwargs.scene_seed=7``) evaluates the same
agent and CNN on fresh scenes. Train and eval report recall@0.5, AP@0.5, median steps and CNN
evaluations (:meth:`LocalizationPlugin.evaluate_task`). Modules: :mod:`.scenes` (generator, VOC reader/writer),
:mod:`.boxes` (transforms, IoU), :mod:`.features` (warped crops, the feature CNN),
:mod:`.task` (scenes + CNN, cached), :mod:`.env` (the MDP), :mod:`.evaluation` (test protocol,
metrics, baselines).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlsuite.envs.localization.env import LocalizationEnv
from rlsuite.envs.localization.task import DATASETS

from rlsuite.env_plugin import EnvPlugin, TaskResult
from rlsuite.errors import unknown

__all__ = ["LocalizationEnv", "LocalizationPlugin"]

FAMILY = "localization"


class LocalizationPlugin(EnvPlugin):
    description = "Active object localization (Caicedo & Lazebnik 2015): move a box until it triggers on an object"
    provider = "rlsuite"

    def make(self, id: str | None, *, training: bool = True, render_mode: str | None = None,
             **kwargs: Any) -> LocalizationEnv:
        dataset = "shapes" if id in (None, FAMILY) else str(id).removeprefix(FAMILY + "/")
        if dataset not in DATASETS:
            raise unknown("localization dataset", dataset, DATASETS)
        return LocalizationEnv(dataset, training=training, render_mode=render_mode, **kwargs)

    def evaluate_task(self, agent: Any, env_spec: Any, *, episodes: int, seed: int,
                      out_dir: Path | None = None) -> TaskResult:
        """The paper's test protocol on every test image (``episodes`` does not apply: the metrics are
        over the whole test split): recall and AP at IoU 0.5, median steps to a detection, CNN
        evaluations (:mod:`.evaluation`)."""
        from rlsuite.envs.localization.evaluation import agent_policy, run_protocol, summarize

        env = env_spec.make(training=False)
        # CNN evaluations count cache misses: start cold, so regions an earlier evaluation of the same
        # images already computed are counted again (revisits within one image's search stay free)
        env.task.features.cache.clear()
        try:
            m = summarize(run_protocol(env, agent_policy(agent)))
        finally:
            env.close()
        metrics: dict[str, float | None] = {
                   "recall@0.5": m["recall_iou50"], "AP@0.5": m["ap50"], "median_steps": m["median_steps"],
                   "cnn_evals_per_image": m["cnn_evals_per_image"],
                   "cnn_evals_per_detection": m["cnn_evals_per_detection"],
                   "mean_iou_at_trigger": m["mean_iou_at_trigger"], "test_images": m["images"]}
        steps = "-" if m["median_steps"] != m["median_steps"] else f"{m['median_steps']:.0f}"
        per_detection = m["cnn_evals_per_detection"]
        summary = (f"recall@0.5 {m['recall_iou50']:.3f}, AP@0.5 {m['ap50']:.3f}, median steps {steps}, "
                   f"CNN evaluations {m['cnn_evals_per_image']:.0f}/image"
                   + (f" ({per_detection:.0f}/detection)" if per_detection != float("inf") else "")
                   + f" on {m['images']} test images")
        return TaskResult(metrics, primary="recall@0.5", summary=summary)

    def ids(self) -> list[str]:
        return [f"{FAMILY}/{d}" for d in DATASETS]

    def handles(self, id: str) -> bool:
        return id == FAMILY or id.startswith(FAMILY + "/")
