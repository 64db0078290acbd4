"""Evaluation of the backbones: accuracy with a bootstrap CI, VAE bounds, PCA reconstruction
baseline, and GAN quality as a *feature-Fréchet distance* in the penultimate-feature space of our
own CNN classifier trained on the same data (the FID formula, but not Inception features: numbers
are comparable only within one classifier), plus class coverage of generated samples.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.linalg
import torch
from torch import nn

from rlsuite.backbones.datasets import ArrayDataset
from rlsuite.eval.stats import bootstrap_ci


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray | torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """Class predictions of a classifier (eval mode) for inputs ``x``."""
    model.eval()
    x = torch.as_tensor(x)
    device = next(model.parameters()).device
    out = [model(x[i : i + batch_size].to(device)).argmax(-1).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy()


@torch.no_grad()
def features(model: Any, x: np.ndarray | torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """Penultimate features (``model.features``) as float64, for the Fréchet distance."""
    model.eval()
    x = torch.as_tensor(x)
    device = next(model.parameters()).device
    out = [model.features(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out).double().numpy()


def accuracy(model: nn.Module, data: ArrayDataset, seed: int = 0) -> dict[str, float]:
    """Test accuracy and its 95 % percentile-bootstrap CI over examples (2000 resamples)."""
    correct = (predict(model, data.x) == data.y).astype(np.float64)
    lo, hi = bootstrap_ci(correct, stat=np.mean, seed=seed)
    return {"accuracy": float(correct.mean()), "accuracy_ci_low": lo, "accuracy_ci_high": hi, "n": int(len(correct))}


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖μa - μb‖² + Tr(Σa + Σb - 2 (Σa Σb)^½) between Gaussians fitted to two feature sets."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(cov_a @ cov_b)
    if caught or not np.isfinite(covmean).all():
        # singular product (e.g. dead ReLU features): regularise as the FID reference code does
        offset = np.eye(len(cov_a)) * 1e-6
        covmean = scipy.linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = np.real(covmean)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))


def feature_frechet(classifier: nn.Module, a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Fréchet distance between two image sets in ``classifier``'s penultimate-feature space."""
    return frechet_distance(features(classifier, a), features(classifier, b))


def class_coverage(classifier: nn.Module, samples: np.ndarray | torch.Tensor, n_classes: int,
                   min_share: float = 0.01) -> dict[str, object]:
    """How many classes the classifier finds among ``samples`` (a class counts when it gets at least
    ``min_share`` of them), and the predicted class histogram."""
    counts = np.bincount(predict(classifier, samples), minlength=n_classes)
    covered = int((counts >= max(1, min_share * len(samples))).sum())
    return {"classes_covered": covered, "class_counts": counts.tolist()}


def pca_reconstruction_mse(train: np.ndarray, test: np.ndarray, n_components: int) -> float:
    """Mean squared error per pixel of reconstructing ``test`` from its top ``n_components``
    principal components fitted on ``train`` (the optimal linear code of that size)."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=n_components, random_state=0).fit(train.reshape(len(train), -1))
    flat = test.reshape(len(test), -1)
    return float(((pca.inverse_transform(pca.transform(flat)) - flat) ** 2).mean())


@torch.no_grad()
def vae_metrics(vae: Any, data: ArrayDataset, iw_samples: int = 100, batch_size: int = 256) -> dict[str, float]:
    """Test ELBO and importance-weighted bound (nats per example), and reconstruction MSE per pixel."""
    vae.eval()
    x = torch.from_numpy(data.x)
    elbo, iw, sq = [], [], []
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size]
        elbo.append(vae.elbo(xb))
        iw.append(vae.iw_log_likelihood(xb, k=iw_samples))
        sq.append(((vae.reconstruct(xb) - xb) ** 2).flatten(1).mean(1))
    return {"test_elbo": float(torch.cat(elbo).mean()), "test_iw_bound": float(torch.cat(iw).mean()),
            "iw_samples": iw_samples, "recon_mse": float(torch.cat(sq).mean())}


def svm_accuracy(train: ArrayDataset, test: ArrayDataset) -> float:
    """scikit-learn's RBF SVM (C=10, gamma='scale') on flattened inputs: the accuracy anchor."""
    from sklearn.svm import SVC

    clf = SVC(kernel="rbf", C=10.0, gamma="scale").fit(train.x.reshape(len(train), -1), train.y)
    return float((clf.predict(test.x.reshape(len(test), -1)) == test.y).mean())
