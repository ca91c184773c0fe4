"""Evaluation metrics: pure functions of a model and a batch of images, and of scores and labels (ROC, AUC)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .models import Autoencoder
from .train import as_tensor


@torch.no_grad()
def evaluate(
    model: Autoencoder,
    images: np.ndarray | torch.Tensor,
    *,
    samples: int = 16,
    seed: int = 0,
    batch_size: int = 500,
) -> dict[str, float]:
    """Per-image reconstruction metrics on clean images, averaged over the set.

    - ``recon_bce``: -sum_i [x_i log x_hat_i + (1 - x_i) log(1 - x_hat_i)], nats per image
      (the Bernoulli negative log-likelihood, whatever loss the model trained with).
    - ``recon_mse_per_pixel``: mean over the pixels of (x_i - x_hat_i)^2 (the ``mse`` loss,
      by contrast, sums over the pixels of an image).
    - Models with a prior (the VAE) also get ``kl`` = KL(q(z|x) || p(z)) in nats, and
      ``neg_elbo`` = recon_bce + kl, where recon_bce is averaged over ``samples`` draws
      z ~ q(z|x) from a generator seeded with ``seed``, so the figures are repeatable;
      recon_mse_per_pixel uses the same draws.
    - ``n``: the number of images.
    """
    model.eval()
    device = next(model.parameters()).device
    x_all = as_tensor(images, torch.device("cpu"))  # batches move to the model's device below
    generator = torch.Generator(device=device).manual_seed(seed)
    sums = {"recon_bce": 0.0, "recon_mse_per_pixel": 0.0, "kl": 0.0}
    for start in range(0, len(x_all), batch_size):
        x = x_all[start : start + batch_size].to(device)
        bce, mse, kl = _batch_terms(model, x, samples, generator)
        sums["recon_bce"] += float(bce.sum())
        sums["recon_mse_per_pixel"] += float(mse.sum())
        sums["kl"] += float(kl.sum())
    n = len(x_all)
    result = {"recon_bce": sums["recon_bce"] / n, "recon_mse_per_pixel": sums["recon_mse_per_pixel"] / n}
    if model.has_prior:
        result["kl"] = sums["kl"] / n
        result["neg_elbo"] = result["recon_bce"] + result["kl"]
    return result | {"n": n}


def _batch_terms(model, x, samples, generator):
    """Per-image (bce, per-pixel mse, kl) for one batch; the KL is 0 for models without a prior."""
    mean, sigma = model.posterior(x)
    if sigma is None:
        kl = torch.zeros(len(x), device=x.device)
        zs = [mean]
    else:
        kl = model.kl_to_prior(mean, sigma)
        zs = [mean + sigma * torch.randn(mean.shape, generator=generator, device=x.device) for _ in range(samples)]
    bce = torch.zeros(len(x), device=x.device)
    mse = torch.zeros(len(x), device=x.device)
    for z in zs:
        logits = model.decode_logits(z)
        bce += F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        mse += (torch.sigmoid(logits) - x).pow(2).flatten(1).mean(1)
    return bce / len(zs), mse / len(zs), kl


@torch.no_grad()
def per_image_bce(model: Autoencoder, images: np.ndarray) -> np.ndarray:
    """Each image's reconstruction BCE (nats), decoding its code (the posterior mean): (N,)."""
    model.eval()
    x = as_tensor(images, next(model.parameters()).device)
    logits = model.decode_logits(model.posterior(x)[0])
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).cpu().numpy()


def mse_per_image(clean: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Each image's mean squared pixel difference: (N, H, W) x (N, H, W) -> (N,)."""
    diff = np.asarray(clean, np.float64) - np.asarray(other, np.float64)
    return (diff.reshape(len(diff), -1) ** 2).mean(1)


def psnr(clean: np.ndarray, other: np.ndarray, peak: float = 1.0, floor: float = 1e-10) -> np.ndarray:
    """Peak signal-to-noise ratio per image, in decibels: 10 log10(peak^2 / MSE).

    Higher is closer to the clean image; +6 dB is half the pixel error (a quarter of the
    MSE). An exact copy would be infinite; the MSE is floored at ``floor`` (100 dB).
    """
    return 10 * np.log10(peak**2 / np.maximum(mse_per_image(clean, other), floor))


@torch.no_grad()
def per_image_neg_elbo(
    model: Autoencoder, images: np.ndarray, *, samples: int = 16, seed: int = 0, batch_size: int = 500
) -> np.ndarray:
    """Each image's negative ELBO in nats, as `evaluate` counts it: (N,). Only for ``has_prior`` models.

    -ELBO(x) = E_{z ~ q(z|x)}[-log p(x|z)] + KL(q(z|x) || p(z)), the expectation averaged over
    ``samples`` draws from a generator seeded with ``seed`` (drawn in the same order as
    `evaluate`, so the mean of these equals its ``neg_elbo``).
    """
    if not model.has_prior:
        raise ValueError(f"a {model.description} has no prior, so no ELBO")
    model.eval()
    device = next(model.parameters()).device
    x_all = as_tensor(images, torch.device("cpu"))
    generator = torch.Generator(device=device).manual_seed(seed)
    parts = []
    for start in range(0, len(x_all), batch_size):
        bce, _, kl = _batch_terms(model, x_all[start : start + batch_size].to(device), samples, generator)
        parts.append((bce + kl).cpu().numpy())
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC curve of a score that should be higher for positives (label 1): (fpr, tpr, thresholds).

    At threshold t an example is flagged when score >= t; tpr = flagged positives / positives,
    fpr = flagged negatives / negatives. Thresholds are the distinct scores, highest first,
    after a first +inf (nothing flagged, the point (0, 0)); the last point is (1, 1). Tied
    scores are flagged together, so a tie of positives and negatives is one diagonal step.
    """
    scores = np.asarray(scores, np.float64).ravel()
    labels = np.asarray(labels).ravel().astype(bool)
    if scores.shape != labels.shape:
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite numbers")
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("an ROC curve needs both positives and negatives")
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], labels[order]
    ends = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]  # the last of each run of tied scores
    tp = np.cumsum(hits)[ends]
    fp = ends + 1 - tp
    fpr = np.r_[0.0, fp / negatives]
    tpr = np.r_[0.0, tp / positives]
    return fpr, tpr, np.r_[np.inf, ranked[ends]]


def auc(x: np.ndarray, y: np.ndarray) -> float:
    """The area under a curve through the points (x, y), x non-decreasing, by the trapezoid rule.

    sum_i (x_{i+1} - x_i) (y_i + y_{i+1}) / 2
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D and of one length, got {x.shape} and {y.shape}")
    if np.any(np.diff(x) < 0):
        raise ValueError("x must be non-decreasing")
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """The area under the ROC curve: the chance that a random positive scores above a random
    negative, a tie counting one half (the Mann-Whitney U statistic over positives x negatives)."""
    fpr, tpr, _ = roc_curve(scores, labels)
    return auc(fpr, tpr)


def precision_recall_at(scores: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[float, float]:
    """Precision and recall when every example with score >= ``threshold`` is flagged as positive.

    precision = flagged positives / flagged (NaN when nothing is flagged);
    recall = flagged positives / positives (NaN when there are no positives).
    """
    scores = np.asarray(scores, np.float64).ravel()
    labels = np.asarray(labels).ravel().astype(bool)
    if scores.shape != labels.shape:
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels")
    flagged = scores >= threshold
    hits = int(np.sum(flagged & labels))
    precision = hits / int(flagged.sum()) if flagged.any() else float("nan")
    recall = hits / int(labels.sum()) if labels.any() else float("nan")
    return precision, recall


def bootstrap_interval(
    values: np.ndarray, level: float = 0.95, draws: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """A percentile bootstrap interval for the mean of ``values`` (Efron & Tibshirani, 1993): resample the
    values with replacement ``draws`` times and take the middle ``level`` of the resampled means."""
    values = np.asarray(values, np.float64)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(draws, len(values)))].mean(1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)
