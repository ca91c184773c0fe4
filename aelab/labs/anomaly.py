"""Reconstruction error as an anomaly score: scores, ROC and AUC, precision and recall, extremes.

An autoencoder trained on digits reconstructs digits well and anything else worse, so
score(x) = error(x, g(f(x))) should be low for digits and high for out-of-distribution (OOD)
inputs. Here the OOD images are the positives (label 1): a detector flags an image when its
score is at or above a threshold. Every function is pure numpy or torch, importable from a
notebook; `aelab.labs.ood` makes the OOD sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from aelab import explore, metrics
from aelab.i18n import N_
from aelab.models import Autoencoder

# Score name -> what it is, for a reader (units included); shown translated, as _(SCORES[name]).
SCORES = {
    "bce": N_("reconstruction error, binary cross-entropy summed over the pixels (nats per image)"),
    "mse": N_("reconstruction error, squared pixel difference averaged over the pixels"),
    "neg_elbo": N_("negative ELBO: reconstruction BCE under codes drawn from q(z|x), plus KL(q(z|x) || p(z)) (nats)"),
}
ELBO_SAMPLES = 16  # draws z ~ q(z|x) per image for the -ELBO, as aelab.metrics.evaluate uses


def score_names(model: Autoencoder) -> tuple[str, ...]:
    """The scores a model offers: both reconstruction errors, and the -ELBO for a model with a prior."""
    return ("bce", "mse", "neg_elbo") if model.has_prior else ("bce", "mse")


def anomaly_scores(model: Autoencoder, images: np.ndarray, score: str = "bce", *, seed: int = 0) -> np.ndarray:
    """Each image's anomaly score under ``model``: (N, H, W) -> (N,), higher is more anomalous.

    - ``bce``: -sum_i [x_i log x_hat_i + (1 - x_i) log(1 - x_hat_i)], x_hat = g(f(x)) decoded from
      the code (the posterior mean), in nats (`aelab.metrics.per_image_bce`).
    - ``mse``: mean_i (x_i - x_hat_i)^2 over the pixels.
    - ``neg_elbo`` (models with a prior): E_q[-log p(x|z)] + KL(q(z|x) || p(z)), averaged over
      ELBO_SAMPLES seeded draws (`aelab.metrics.per_image_neg_elbo`).
    """
    if score not in score_names(model):
        raise ValueError(f"a {model.description} offers the scores {', '.join(score_names(model))}, not {score!r}")
    if score == "bce":  # in batches of 500, as the other two
        parts = [metrics.per_image_bce(model, images[i : i + 500]) for i in range(0, len(images), 500)]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)
    if score == "mse":
        return metrics.mse_per_image(images, explore.reconstruct(model, images))
    return metrics.per_image_neg_elbo(model, images, samples=ELBO_SAMPLES, seed=seed)


def _pooled(inlier: np.ndarray, outlier: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores of digits then OOD images, and their labels (0 for a digit, 1 for an OOD image)."""
    inlier, outlier = np.asarray(inlier, np.float64), np.asarray(outlier, np.float64)
    return np.concatenate([inlier, outlier]), np.r_[np.zeros(len(inlier), bool), np.ones(len(outlier), bool)]


def roc(inlier: np.ndarray, outlier: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC curve of flagging OOD images by score: (false positive rate, true positive rate, thresholds)."""
    return metrics.roc_curve(*_pooled(inlier, outlier))


def separation_auc(inlier: np.ndarray, outlier: np.ndarray) -> float:
    """AUC of the score: the chance an OOD image scores above a digit (1 separates them, 0.5 is chance)."""
    return metrics.roc_auc(*_pooled(inlier, outlier))


@dataclass(frozen=True)
class AtThreshold:
    """What a detector flagging every score >= threshold does to the digits and the OOD images."""

    threshold: float
    precision: float  # of the flagged images, the share that are OOD (NaN when none is flagged)
    recall: float  # of the OOD images, the share flagged (the true positive rate)
    false_positive_rate: float  # of the digits, the share flagged
    flagged_outliers: int
    flagged_inliers: int
    outliers: int
    inliers: int


def at_threshold(inlier: np.ndarray, outlier: np.ndarray, threshold: float) -> AtThreshold:
    """Precision, recall and counts when every image scoring >= ``threshold`` is flagged as OOD."""
    precision, recall = metrics.precision_recall_at(*_pooled(inlier, outlier), threshold)
    flagged_in = int(np.sum(np.asarray(inlier) >= threshold))
    flagged_out = int(np.sum(np.asarray(outlier) >= threshold))
    return AtThreshold(float(threshold), precision, recall, flagged_in / max(len(inlier), 1), flagged_out,
                       flagged_in, len(outlier), len(inlier))


def threshold_grid(inlier: np.ndarray, outlier: np.ndarray, steps: int = 201) -> np.ndarray:
    """Thresholds for a slider: ``steps`` values evenly spaced on a log scale, rounded to 3 significant
    figures, from at most the lowest score to above the highest (where nothing is flagged)."""
    pooled = np.concatenate([np.asarray(inlier, np.float64), np.asarray(outlier, np.float64)])
    low = max(float(pooled.min()), 1e-6)
    high = max(float(pooled.max()) * 1.01, low * 1.01)
    grid = _round_down(np.geomspace(low, high, steps))
    grid[-1] = _round_up(high)
    return np.unique(grid)


def _round_down(values: np.ndarray) -> np.ndarray:
    """Each value rounded down to 3 significant figures, as the float its 3-figure text reads back as."""
    scale = 10.0 ** (np.floor(np.log10(values)) - 2)
    return np.array([float(f"{v:.3g}") for v in np.floor(values / scale * (1 + 1e-12)) * scale])


def _round_up(value: float) -> float:
    scale = 10.0 ** (np.floor(np.log10(value)) - 2)
    return float(f"{np.ceil(value / scale * (1 - 1e-12)) * scale:.3g}")


def default_threshold(inlier: np.ndarray, grid: np.ndarray, false_positive_rate: float = 0.05) -> float:
    """The lowest grid threshold that flags at most ``false_positive_rate`` of the digits."""
    inlier = np.asarray(inlier, np.float64)
    rates = np.array([np.mean(inlier >= t) for t in grid])
    return float(grid[np.argmax(rates <= false_positive_rate)])


def nearest(grid: np.ndarray, value: float) -> float:
    """The grid value closest to ``value`` on a log scale."""
    return float(grid[np.argmin(np.abs(np.log(grid) - np.log(max(value, 1e-12))))])


def histogram(inlier: np.ndarray, outlier: np.ndarray, bins: int = 40) -> dict[str, np.ndarray]:
    """Both sets' score histograms on shared log-spaced bins, as shares of each set.

    Returns ``start`` and ``end`` of each bin (bins,) and ``inlier`` and ``outlier`` (bins,):
    the share of that set's scores in the bin.
    """
    grid = threshold_grid(inlier, outlier, bins + 1)
    edges = np.geomspace(grid[0], grid[-1], bins + 1)
    shares = [np.histogram(np.clip(s, edges[0], edges[-1]), edges)[0] / max(len(s), 1) for s in (inlier, outlier)]
    return {"start": edges[:-1], "end": edges[1:], "inlier": shares[0], "outlier": shares[1]}


def extremes(scores: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``k`` highest scores (highest first) and the ``k`` lowest (lowest first); ties by index."""
    order = np.argsort(np.asarray(scores), kind="stable")
    return order[::-1][:k], order[:k]


def auc_table(inlier: Mapping[str, np.ndarray], outliers: Mapping[str, Mapping[str, np.ndarray]]) -> dict:
    """AUCs for several scorers x OOD sets: {scorer: {set: AUC}}.

    ``inlier[scorer]`` are the held-out digits' scores under that scorer (a model and a score),
    ``outliers[scorer][set]`` each OOD set's scores under it.
    """
    return {row: {name: separation_auc(inlier[row], scores) for name, scores in sets.items()}
            for row, sets in outliers.items()}


def _rank_auc(inlier: np.ndarray, outlier: np.ndarray) -> float:
    """The same AUC as :func:`separation_auc`, from average ranks (Mann-Whitney U), for many resamples."""
    ranks = rankdata(np.concatenate([inlier, outlier]))
    n, m = len(inlier), len(outlier)
    return float((ranks[n:].sum() - m * (m + 1) / 2) / (n * m))


def auc_draws(
    inlier: Mapping[str, np.ndarray], outliers: Mapping[str, Mapping[str, np.ndarray]], draws: int = 200, seed: int = 0
) -> dict:
    """Paired bootstrap AUCs, {row: {set: (draws,)}}, for telling real differences from noise.

    Every draw resamples the digits and each set's images with replacement, the same
    indices for every row: the rows score the same images, so their differences keep
    their pairing (Efron & Tibshirani, "An Introduction to the Bootstrap", 1993).
    """
    rng = np.random.default_rng(seed)
    rows = list(outliers)
    sets = list(next(iter(outliers.values())))
    out: dict = {row: {name: np.empty(draws) for name in sets} for row in rows}
    n = len(next(iter(inlier.values())))
    for d in range(draws):
        pick_in = rng.integers(0, n, size=n)
        for name in sets:
            m = len(outliers[rows[0]][name])
            pick_out = rng.integers(0, m, size=m)
            for row in rows:
                scores_in, scores_out = np.asarray(inlier[row]), np.asarray(outliers[row][name])
                out[row][name][d] = _rank_auc(scores_in[pick_in], scores_out[pick_out])
    return out


def differs(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> int:
    """+1 when paired bootstrap AUCs ``a`` beat ``b`` (the interval of a - b above 0), -1 below, 0 a tie."""
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(np.asarray(a) - np.asarray(b), [tail, 100 - tail])
    return 1 if low > 0 else -1 if high < 0 else 0


def compare_rows(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> dict[str, list[str]]:
    """Which OOD sets scorer ``a`` separates better than ``b``, which worse, and which as well (a tie:
    the 95% interval of the paired bootstrap difference holds 0). Arguments are :func:`auc_draws` rows."""
    verdict: dict[str, list[str]] = {"better": [], "worse": [], "tie": []}
    for name in a:
        verdict[{1: "better", -1: "worse", 0: "tie"}[differs(a[name], b[name])]].append(name)
    return verdict


def summary(table: Mapping[str, Mapping[str, float]], draws: Mapping[str, Mapping[str, np.ndarray]]) -> dict:
    """What an AUC table ({row: {set: AUC}}, one row per scorer) says, for sentences computed from it.

    - ``easiest``: the sets whose lowest AUC over the rows is the highest (to 0.0005), and ``easiest_auc``
      that lowest AUC; ``hardest``: the set with the lowest mean AUC, and ``hardest_range`` (min, max).
    - ``best``: {set: (rows not beaten by the top row, top AUC)} for the sets where the top row beats
      some other row beyond noise (paired bootstrap ``draws`` from :func:`auc_draws`).
    - ``below_chance``: (row, set, AUC) wherever the AUC is under 0.5 (OOD images score lower than digits).
    """
    rows, names = list(table), list(next(iter(table.values())))
    low = {n: min(table[r][n] for r in rows) for n in names}
    high = {n: max(table[r][n] for r in rows) for n in names}
    easiest = [n for n in names if low[n] >= max(low.values()) - 0.0005]
    hardest = min(names, key=lambda n: float(np.mean([table[r][n] for r in rows])))
    best = {}
    for n in names:
        top = max(rows, key=lambda r: table[r][n])
        beaten = [r for r in rows if differs(draws[top][n], draws[r][n]) > 0]
        if beaten:
            best[n] = ([r for r in rows if r not in beaten], high[n])
    return {"easiest": easiest, "easiest_auc": min(low[n] for n in easiest), "hardest": hardest,
            "hardest_range": (low[hardest], high[hardest]), "best": best,
            "below_chance": [(r, n, table[r][n]) for r in rows for n in names if table[r][n] < 0.5]}
