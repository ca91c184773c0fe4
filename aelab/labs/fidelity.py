"""Sample quality a sceptic accepts: fidelity and diversity as separate numbers (issue 11).

A Frechet distance folds two failures into one figure: samples that look wrong, and samples
that look right but show only part of the data. These measures keep them apart. Each is
computed on feature arrays (N, F), normally the judge's (aelab.judge), from k-nearest-
neighbour balls: B(x, r_k(x)) is the closed ball around x whose radius r_k(x) is the
distance from x to its k-th nearest neighbour within its own set (itself excluded).

With real features X_1..X_N and fake (generated) features Y_1..Y_M:

- precision (Kynkaanniemi et al., 2019, "Improved Precision and Recall Metric for Assessing
  Generative Models"): the share of fakes inside at least one real ball,
  1/M sum_j 1[exists i: Y_j in B(X_i, r_k(X_i))]. Fidelity: do samples look real?
- recall (same paper): the share of reals inside at least one fake ball,
  1/N sum_i 1[exists j: X_i in B(Y_j, r_k(Y_j))]. Diversity: is all of the data produced?
- density (Naeem et al., 2020, "Reliable Fidelity and Diversity Metrics for Generative
  Models"): 1/(kM) sum_j sum_i 1[Y_j in B(X_i, r_k(X_i))], how many real balls hold each
  fake, over k. Its expectation is exactly 1 when fakes come from the real distribution;
  below 1, samples sit where real data is sparse; above 1, they crowd where it is dense.
- coverage (same paper): 1/N sum_i 1[exists j: Y_j in B(X_i, r_k(X_i))], the share of real
  balls with a fake inside. Unlike recall it builds no balls around fakes, so a few outlying
  samples cannot inflate it. Expectation for fakes from the real distribution:
  :func:`expected_coverage`, about 1 - 2^-k when M = N.

Each is a mean over samples of a per-sample value (:func:`per_sample`): over fakes for
precision and density, over reals for recall and coverage, so an interval over samples is a
bootstrap of those values (:func:`intervals`), holding the balls fixed. The one-number
summary they replace, the Frechet distance, is :func:`aelab.regularity.frechet_distance`
(not imported here: aelab.regularity builds its completeness measures on this module).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from .. import metrics
from ..models import Judge

MEASURES = ("density", "coverage", "precision", "recall")
K = 5  # neighbours per ball, as Naeem et al. recommend
CHUNK = 1024  # query rows per distance block


def _distance_blocks(queries: np.ndarray, points: np.ndarray) -> Iterator[tuple[int, torch.Tensor]]:
    """Exact Euclidean distances (float64, no matrix-product shortcut, so a duplicate is at 0) from
    ``queries`` (Q, F) to ``points`` (P, F), as (start row, (rows, P) block)."""
    q, p = torch.as_tensor(queries, dtype=torch.float64), torch.as_tensor(points, dtype=torch.float64)
    for start in range(0, len(q), CHUNK):
        yield start, torch.cdist(q[start : start + CHUNK], p, compute_mode="donot_use_mm_for_euclid_dist")


def knn_radii(features: np.ndarray, k: int = K) -> np.ndarray:
    """r_k(x) for every row: the distance to its k-th nearest other row. (N, F) -> (N,)."""
    if not 1 <= k < len(features):
        raise ValueError(f"k must be between 1 and the number of points less one ({len(features) - 1}), got {k}")
    out = np.empty(len(features))
    for start, d in _distance_blocks(features, features):
        rows = torch.arange(len(d))
        d[rows, rows + start] = float("inf")  # not its own neighbour
        out[start : start + len(d)] = d.kthvalue(k, dim=1).values.numpy()
    return out


def inside_balls(queries: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """inside[i, j] = ||queries_i - centres_j|| <= radii_j: (Q, C) bool."""
    r = torch.as_tensor(np.asarray(radii, np.float64))
    out = np.empty((len(queries), len(centres)), bool)
    for start, d in _distance_blocks(queries, centres):
        out[start : start + len(d)] = (d <= r).numpy()
    return out


def per_sample(real: np.ndarray, fake: np.ndarray, k: int = K) -> dict[str, np.ndarray]:
    """Each measure's per-sample values, whose means are the measures (see the module's formulas).

    ``density`` (M,): real balls holding each fake, over k; ``precision`` (M,): whether any does;
    ``coverage`` (N,): whether a real ball holds any fake; ``recall`` (N,): whether a real point
    lies in any fake ball.
    """
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    in_real = inside_balls(fake, real, knn_radii(real, k))  # (M, N): fake j in the ball of real i
    in_fake = inside_balls(real, fake, knn_radii(fake, k))  # (N, M): real i in the ball of fake j
    return {"density": in_real.sum(1) / k, "coverage": in_real.any(0).astype(float),
            "precision": in_real.any(1).astype(float), "recall": in_fake.any(1).astype(float)}


def fidelity(real: np.ndarray, fake: np.ndarray, k: int = K) -> dict[str, float]:
    """Density, coverage, precision and recall of fake features (M, F) against real ones (N, F)."""
    return {name: float(values.mean()) for name, values in per_sample(real, fake, k).items()}


def intervals(values: dict[str, np.ndarray], level: float = 0.95, draws: int = 2000,
              seed: int = 0) -> dict[str, tuple[float, float]]:
    """A percentile bootstrap interval over samples for each measure's mean (balls held fixed)."""
    return {name: metrics.bootstrap_interval(v, level, draws, seed) for name, v in values.items()}


def expected_coverage(n_real: int, n_fake: int, k: int = K) -> float:
    """E[coverage] when the M fakes and N reals come from one distribution (Naeem et al., 2020):
    1 - prod_{i=1..k} (N - i) / (N + M - i).

    A real point's ball is empty of fakes when its k nearest neighbours among the other N - 1
    reals and the M fakes are all real; by exchangeability that happens with this product's
    chance. For M = N it approaches 1 - 2^-k (0.969 at k = 5).
    """
    return float(1 - np.prod([(n_real - i) / (n_real + n_fake - i) for i in range(1, k + 1)]))


def sample_quality(judge: Judge, real_images: np.ndarray, fake_images: np.ndarray, k: int = K) -> dict[str, float]:
    """Density, coverage, precision and recall (k nearest neighbours) of fake images (M, H, W) against
    real ones (N, H, W), in the judge's features (:meth:`aelab.models.Judge.features`)."""
    return fidelity(judge.features(real_images), judge.features(fake_images), k)
