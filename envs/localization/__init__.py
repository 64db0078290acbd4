"""Active object localization (Caicedo & Lazebnik, ICCV 2015) as an env plugin.

``env=localization/shapes`` (one target shape per cluttered scene), ``env=localization/shapes-multi``
(one to three), ``env=localization/voc`` with ``env.kwargs.root=<VOCdevkit/VOC2007>`` and
``env.kwargs.classes=[cat]``. Modules: :mod:`.scenes` (generator, VOC reader/writer),
:mod:`.boxes` (transforms, IoU), :mod:`.features` (warped crops, the feature CNN),
:mod:`.task` (scenes + CNN, cached), :mod:`.env` (the MDP), :mod:`.evaluation` (test protocol,
metrics, baselines).
"""

from __future__ import annotations

from typing import Any

from rlsuite.envs.localization.env import LocalizationEnv
from rlsuite.envs.localization.task import DATASETS

from rlsuite.env_plugin import EnvPlugin
from rlsuite.errors import unknown

__all__ = ["LocalizationEnv", "LocalizationPlugin"]

FAMILY = "localization"


class LocalizationPlugin(EnvPlugin):
    description = "Active object localization (Caicedo & Lazebnik 2015): move a box until it triggers on an object"
    provider = "rlsuite"

    def make(self, id: str | None, *, training: bool = True, render_mode: str | None = None, **kwargs: Any):
        dataset = "shapes" if id in (None, FAMILY) else str(id).removeprefix(FAMILY + "/")
        if dataset not in DATASETS:
            raise unknown("localization dataset", dataset, DATASETS)
        return LocalizationEnv(dataset, training=training, render_mode=render_mode, **kwargs)

    def ids(self) -> list[str]:
        return [f"{FAMILY}/{d}" for d in DATASETS]

    def handles(self, id: str) -> bool:
        return id == FAMILY or id.startswith(FAMILY + "/")
