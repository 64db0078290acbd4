"""Backbones benchmark: CNN vs RBF SVM on digits, 1-D CNN on MNIST-1D, VAE vs PCA reconstruction,
GAN vs VAE samples in feature-Fréchet distance (our digits CNN's features), GAN class coverage.

    python benchmarks/backbones.py --quick          # ~10 min on 2 shared cores
    python benchmarks/backbones.py                  # longer trainings
    python benchmarks/backbones.py --quick --figures docs/   # also write sample grids

Every model trains through ``rlsuite.backbones.fit`` (the same code as ``rlsuite fit``); the last
line printed is JSON with cnn_digits_acc, svm_digits_acc, cnn_mnist1d_acc, vae_recon_vs_pca,
gan_fd_vs_vae, gan_classes_covered and the numbers they come from.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rlsuite.backbones import fit
from rlsuite.backbones.evaluation import (
    class_coverage,
    feature_frechet,
    pca_reconstruction_mse,
    svm_accuracy,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short trainings (~10 min on 2 cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", default=None, help="where the fit runs go (default: a temporary folder)")
    parser.add_argument("--figures", default=None, help="folder for sample-grid PNGs (e.g. docs/)")
    args = parser.parse_args()
    epochs = {"cnn": 30, "cnn1d": 30, "vae": 40, "gan": 60} if args.quick else {"cnn": 60, "cnn1d": 60, "vae": 100,
                                                                                    "gan": 150}
    runs = Path(args.runs or tempfile.mkdtemp(prefix="rlsuite-backbones-"))
    common = [f"seed={args.seed}", f"runs_root={runs}", "logger=[jsonl]"]
    out: dict[str, object] = {"quick": args.quick, "seed": args.seed, "epochs": epochs}
    t0 = time.perf_counter()

    # --- digits (16x16): CNN and the RBF-SVM anchor on the same split and inputs
    t = time.perf_counter()
    cnn = fit(["model=cnn", "data=digits", f"epochs={epochs['cnn']}", "augment=1", "patience=0", *common])
    out["cnn_digits_acc"] = cnn.metrics["accuracy"]
    out["cnn_digits_ci"] = [cnn.metrics["accuracy_ci_low"], cnn.metrics["accuracy_ci_high"]]
    out["cnn_digits_s"] = round(time.perf_counter() - t, 1)
    out["svm_digits_acc"] = svm_accuracy(cnn.data.train, cnn.data.test)
    out["digits_test_n"] = len(cnn.data.test)

    # --- MNIST-1D: 1-D CNN
    t = time.perf_counter()
    cnn1d = fit(["model=cnn", "data=mnist1d", f"epochs={epochs['cnn1d']}", "patience=0", *common])
    out["cnn_mnist1d_acc"] = cnn1d.metrics["accuracy"]
    out["cnn_mnist1d_ci"] = [cnn1d.metrics["accuracy_ci_low"], cnn1d.metrics["accuracy_ci_high"]]
    out["cnn_mnist1d_s"] = round(time.perf_counter() - t, 1)

    # --- VAE on digits vs PCA with as many components as latent dimensions
    t = time.perf_counter()
    vae = fit(["model=vae", "data=digits", f"epochs={epochs['vae']}", "latent_dim=8", "patience=0", *common])
    pca = pca_reconstruction_mse(vae.data.train.x, vae.data.test.x, 8)
    out.update(vae_test_elbo=vae.metrics["test_elbo"], vae_test_iw_bound=vae.metrics["test_iw_bound"],
               vae_recon_mse=vae.metrics["recon_mse"], pca_recon_mse=pca,
               vae_recon_vs_pca=vae.metrics["recon_mse"] / pca,
               vae_s=round(time.perf_counter() - t, 1))

    # --- GAN on digits: feature-Fréchet distance in the digits CNN's penultimate features
    t = time.perf_counter()
    gan = fit(["model=gan", "data=digits", f"epochs={epochs['gan']}", *common])
    out["gan_s"] = round(time.perf_counter() - t, 1)
    classifier = cnn.model.eval()
    n_gen = len(cnn.data.train)  # as many generated images as real ones in the real-vs-real floor
    gen = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        gan_samples = gan.model.eval().sample(n_gen, gen)
        vae_samples = vae.model.eval().sample(n_gen, gen)
    test = cnn.data.test.x
    fd_real = feature_frechet(classifier, cnn.data.train.x, test)
    fd_gan = feature_frechet(classifier, gan_samples, test)
    fd_vae = feature_frechet(classifier, vae_samples, test)
    coverage = class_coverage(classifier, gan_samples, 10)
    out.update(fd_real_vs_real=fd_real, fd_gan=fd_gan, fd_vae=fd_vae, gan_fd_vs_vae=fd_gan / fd_vae,
               gan_fd_vs_real=fd_gan / fd_real, gan_classes_covered=coverage["classes_covered"],
               gan_class_counts=coverage["class_counts"],
               vae_classes_covered=class_coverage(classifier, vae_samples, 10)["classes_covered"])
    if args.figures:
        from rlsuite.backbones.sampling import image_grid, save_png

        fig = Path(args.figures)
        save_png(image_grid(np.concatenate([gan_samples[:48].numpy(), vae_samples[:48].numpy()]), 16, scale=3),
                 fig / "backbones_digits_gan_vae.png")
        out["figure"] = str(fig / "backbones_digits_gan_vae.png")
    out["total_s"] = round(time.perf_counter() - t0, 1)
    out["runs"] = str(runs)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
