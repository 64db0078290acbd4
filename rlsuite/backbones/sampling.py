"""``rlsuite sample run=<dir>``: PNG grids from a trained VAE or GAN (written with Pillow).

* ``samples.png``          draws from the prior (a conditional GAN: one row per class);
* ``reconstructions.png``  VAE: test images (odd rows) above their reconstructions (even rows);
* ``traversal.png``        VAE: one row per latent dimension, that coordinate swept over
                           [-3, 3] around a test image's posterior mean; GAN: rows interpolating
                           linearly between two prior draws.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rlsuite.backbones.datasets import load_dataset
from rlsuite.backbones.generative import GAN, VAE
from rlsuite.backbones.training import _load_config, load
from rlsuite.errors import ConfigError


def image_grid(images: torch.Tensor | np.ndarray, ncol: int, pad: int = 1, scale: int = 4) -> np.ndarray:
    """``(N, C, H, W)`` values in [0, 1] -> one ``uint8`` image (H', W') or (H', W', 3), rows of
    ``ncol`` tiles separated by ``pad`` pixels, upscaled ``scale`` x by pixel repetition."""
    x = torch.as_tensor(images).detach().float().clamp(0, 1).cpu().numpy()
    n, c, h, w = x.shape
    if c not in (1, 3):  # e.g. MinAtar channels: show their maximum
        x, c = x.max(axis=1, keepdims=True), 1
    nrow = -(-n // ncol)
    grid = np.ones((c, nrow * (h + pad) + pad, ncol * (w + pad) + pad), np.float32)
    for i in range(n):
        r, q = divmod(i, ncol)
        grid[:, pad + r * (h + pad) : pad + r * (h + pad) + h, pad + q * (w + pad) : pad + q * (w + pad) + w] = x[i]
    grid = grid.repeat(scale, axis=1).repeat(scale, axis=2)
    out = (grid * 255).round().astype(np.uint8)
    return out[0] if c == 1 else out.transpose(1, 2, 0)


def save_png(array: np.ndarray, path: Path) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, optimize=True)
    return path


def _make_out_dir(out_dir: Path) -> None:
    """Create the output folder before any image is drawn: a path under a file is one clear line."""
    blocking = next((p for p in (out_dir, *out_dir.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ConfigError(f"out={out_dir} cannot be a folder: {blocking} is a file; give a folder path")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create out={out_dir}: {err.strerror or err}; give a writable folder") from err


@torch.no_grad()
def sample_run(run_dir: str | Path, out: str | Path | None = None, n: int = 64, seed: int = 0) -> list[Path]:
    """Write the grids of a VAE or GAN fit run into ``out`` (default: the run directory)."""
    run = Path(run_dir)
    model = load(run)
    out_dir = Path(out) if out is not None else (run if run.is_dir() else run.parent)
    if not isinstance(model, (VAE, GAN)):
        raise ConfigError(f"rlsuite sample needs a vae or gan run; {run} holds a {model.kind}")
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    _make_out_dir(out_dir)
    gen = torch.Generator().manual_seed(seed)
    ncol = int(np.ceil(np.sqrt(n)))
    written = []
    if isinstance(model, GAN) and model.n_classes:
        per = max(n // model.n_classes, 1)
        y = torch.arange(model.n_classes).repeat_interleave(per)
        samples = model.sample(len(y), gen, y)
        ncol = per
    else:
        samples = model.sample(n, gen)
    written.append(save_png(image_grid(samples, ncol), out_dir / "samples.png"))
    steps = 9
    if isinstance(model, VAE):
        cfg = _load_config(run) if run.is_dir() else None
        test = load_dataset(cfg.data, cfg.seed, cfg.size, cfg.n).test.x if cfg else None
        if test is not None and test.shape[1:] == model.input_shape:
            x = torch.from_numpy(test[: ncol * (ncol // 2 or 1)])
            recon = model.reconstruct(x)
            rows = [t for r in range(0, len(x), ncol) for t in (x[r : r + ncol], recon[r : r + ncol])]
            written.append(save_png(image_grid(torch.cat(rows), ncol), out_dir / "reconstructions.png"))
            base = model.encode(x[:1])[0]
        else:
            base = torch.zeros(1, model.latent_dim)
        dims = min(model.latent_dim, 10)
        z = base.repeat(dims * steps, 1)
        sweep = torch.linspace(-3, 3, steps)
        for d in range(dims):
            z[d * steps : (d + 1) * steps, d] = sweep
        written.append(save_png(image_grid(model.mean_image(model.decode(z)), steps), out_dir / "traversal.png"))
    else:
        n_rows = 6
        a, b = (torch.randn(n_rows, model.latent_dim, generator=gen) for _ in range(2))
        t = torch.linspace(0, 1, steps)[None, :, None]
        z = (a[:, None] * (1 - t) + b[:, None] * t).reshape(n_rows * steps, -1)
        labels = (torch.arange(n_rows) % model.n_classes).repeat_interleave(steps) if model.n_classes else None
        written.append(save_png(image_grid(model.generator(z, labels), steps), out_dir / "traversal.png"))
    return written
