"""Write evaluation episodes as MP4 (imageio-ffmpeg) or GIF."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rlsuite.errors import ConfigError


def write_video(frames: list[np.ndarray], path: Path, fps: int = 30) -> Path:
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() not in (".mp4", ".gif"):
        raise ConfigError(f"video path must end in .mp4 or .gif, got '{path.name}'")
    frames = [np.asarray(f, dtype=np.uint8) for f in frames if f is not None]
    if path.suffix.lower() == ".gif":
        imageio.mimsave(path, frames, duration=1000 / fps, loop=0)
    else:
        # macro_block_size=1 keeps odd frame sizes (e.g. 600x400 is fine, 210x160 too).
        imageio.mimsave(path, frames, fps=fps, macro_block_size=1)
    return path
