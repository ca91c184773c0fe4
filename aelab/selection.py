"""Choosing a training recipe honestly: k-fold cross-validation on the training split alone.

A recipe chosen by its score on the held-out digits, then reported on them, looks better than it
is (the choice fits their noise). Here the held-out split is never touched: the training digits
are dealt into k folds, stratified by label; for each fold the model trains on the other k - 1,
early-stopping on an inner slice carved from them (never on the fold it is scored on), and the
fold is scored image by image. Fold scores share most of their training data, so the t interval
over folds is a rough guide (Bengio & Grandvalet, "No Unbiased Estimator of the Variance of
K-Fold Cross-Validation", 2004); two recipes are compared fold by fold (:func:`paired_difference`),
which cancels what the folds share.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from .labs.completeness import iwae_bound
from .metrics import per_image_neg_elbo
from .train import TrainConfig, train_model


@dataclass
class FoldScore:
    """One fold's out-of-fold scores, per image, in nats (lower is better)."""

    fold: int
    neg_elbo: np.ndarray  # (n_fold,)
    neg_iwae: np.ndarray | None  # (n_fold,), None when the IWAE bound was not asked for
    best_epoch: int
    epochs_run: int
    seconds: float


@dataclass
class CVResult:
    """Every fold's scores for one recipe."""

    folds: list[FoldScore]

    def fold_means(self, measure: str = "neg_elbo") -> np.ndarray:
        """Each fold's mean score: (k,)."""
        return np.array([getattr(f, measure).mean() for f in self.folds])

    def summary(self, measure: str = "neg_elbo", level: float = 0.95) -> dict[str, Any]:
        """The mean over folds with its t interval, and the per-fold means."""
        means = self.fold_means(measure)
        low, high = t_interval(means, level)
        return {"mean": float(means.mean()), "low": low, "high": high, "folds": means.tolist()}


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Student's t interval for the mean of a few values (e.g. fold means); (nan, nan) for fewer than 2."""
    values = np.asarray(values, np.float64)
    if len(values) < 2:
        return math.nan, math.nan
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def paired_difference(a: CVResult, b: CVResult, measure: str = "neg_elbo", level: float = 0.95) -> dict[str, float]:
    """Recipe a minus recipe b, fold by fold (the same folds), with its t interval: below 0 favours a."""
    diff = a.fold_means(measure) - b.fold_means(measure)
    low, high = t_interval(diff, level)
    return {"mean": float(diff.mean()), "low": low, "high": high}


def stratified_folds(labels: np.ndarray | None, n: int, k: int, seed: int = 0) -> list[np.ndarray]:
    """Indices 0..n-1 dealt into ``k`` folds of near-equal size, each label spread evenly over them
    (plain shuffled folds when ``labels`` is None); each fold sorted."""
    if not 2 <= k <= n:
        raise ValueError(f"k must be between 2 and the number of images ({n}), got {k}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    if labels is not None:  # group by label, shuffled within each; dealing round-robin spreads every label
        order = order[np.argsort(np.asarray(labels)[order], kind="stable")]
    return [np.sort(order[i::k]) for i in range(k)]


def inner_split(indices: np.ndarray, labels: np.ndarray | None, share: float = 0.1,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``indices`` split into (fit, stop): about ``share`` of them, stratified by label, kept apart
    for early stopping."""
    parts = stratified_folds(None if labels is None else np.asarray(labels)[indices], len(indices),
                             max(2, round(1 / share)), seed)
    return np.sort(indices[np.concatenate(parts[1:])]), indices[parts[0]]


def cross_validate(kind: str, settings: dict[str, Any], images: np.ndarray, labels: np.ndarray | None,
                   config: TrainConfig, *, k: int = 5, seed: int = 0, inner_share: float = 0.1,
                   iwae_k: int = 0, on_fold: Callable[[FoldScore], None] | None = None) -> CVResult:
    """k-fold cross-validation of one recipe (``kind``, ``settings``, ``config``) on ``images`` (N, H, W).

    Fold i is scored by a model trained on the other folds, minus an ``inner_share`` slice of them
    that decides early stopping and which epoch's weights are kept. Scores per image: the negative
    ELBO as aelab.metrics counts it (16 posterior draws), and -IWAE with ``iwae_k`` samples when
    ``iwae_k`` > 0 (models with a prior only). ``on_fold`` gets each fold's score as it finishes.
    """
    folds = stratified_folds(labels, len(images), k, seed)
    scores = []
    for i, held in enumerate(folds):
        rest = np.concatenate([f for j, f in enumerate(folds) if j != i])
        fit_idx, stop_idx = inner_split(rest, labels, inner_share, seed + 1 + i)
        tic = time.perf_counter()
        model, result = train_model(kind, settings, images[fit_idx], images[stop_idx], config)
        neg_iwae = -iwae_bound(model, images[held], k=iwae_k, seed=seed) if iwae_k else None
        score = FoldScore(i, per_image_neg_elbo(model, images[held], seed=seed), neg_iwae, result.best_epoch,
                          len(result.history), time.perf_counter() - tic)
        scores.append(score)
        if on_fold is not None:
            on_fold(score)
    return CVResult(scores)
