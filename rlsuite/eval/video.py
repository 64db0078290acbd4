"""Write evaluation episodes as MP4 (imageio-ffmpeg) or GIF."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlsuite.errors import ConfigError


def write_video(frames: Sequence[Any], path: Path, fps: int = 30) -> Path:
    """``frames``: RGB arrays as ``env.render()`` returns them (``None`` entries are skipped)."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() not in (".mp4", ".gif"):
        raise ConfigError(f"video path must end in .mp4 or .gif, got '{path.name}'")
    images: list[Any] = [np.asarray(f, dtype=np.uint8) for f in frames if f is not None]
    if path.suffix.lower() == ".gif":
        imageio.mimsave(path, images, duration=1000 / fps, loop=0)
    else:
        # macro_block_size=1 keeps odd frame sizes (e.g. 600x400 is fine, 210x160 too).
        imageio.mimsave(path, images, fps=fps, macro_block_size=1)
    return path
