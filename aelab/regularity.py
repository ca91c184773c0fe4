"""How regular a latent space is: continuity and completeness, measured.

Continuity: codes close together decode to similar images. Completeness: codes drawn
from the space's sampling distribution decode to images that look like real data.
A VAE is trained for both; a plain AE is not. These functions put numbers on both, so
the claim can be checked rather than assumed. Lower is better for every figure.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg

from . import explore
from .judge import Judge
from .labs.completeness import active_dimensions
from .models import Autoencoder

SAMPLERS = ("prior", "gaussian", "box")


def spread(codes: np.ndarray) -> float:
    """The latent's own scale: the root mean per-dimension variance of the codes."""
    return float(np.sqrt(np.mean(np.var(codes, axis=0))))


def continuity(model: Autoencoder, images: np.ndarray, *, pairs: int = 500, steps: int = 32,
               epsilon: float = 0.01, seed: int = 0) -> dict[str, float]:
    """Continuity of the decoder along lines and under tiny moves.

    - Jump ratio: for ``pairs`` random pairs of images, decode the straight line between
      their codes in ``steps`` equal steps; a path's jump ratio is its largest step's pixel
      L2 change divided by its mean step's. 1 means the image changes evenly along the
      path; a large value means most of the change happens in one step (a cliff).
      Reported as the median and 90th percentile over the pairs.
    - Sensitivity: for each image's code z and a random unit direction u, the pixel L2
      change ||decode(z + d u) - decode(z)|| / (d / s) with d = ``epsilon`` * s, where s
      is :func:`spread`: the change per unit of the latent's own spread, for a move of 1%
      of it. Only the dimensions the model uses count (its active dimensions, see
      :func:`aelab.labs.completeness.active_dimensions`): a VAE leaves some at its prior,
      and moves along them change nothing, which made a 16-D VAE look smoother than its
      decoder is. Reported as the median and 99th percentile.
    """
    rng = np.random.default_rng(seed)
    codes, _ = explore.encode(model, images)
    first = rng.integers(0, len(codes), pairs)
    second = (first + rng.integers(1, len(codes), pairs)) % len(codes)  # never the same image
    t = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)[None, :, None]
    lines = (1 - t) * codes[first][:, None] + t * codes[second][:, None]  # (P, S+1, D)
    decoded = explore.decode(model, lines.reshape(-1, codes.shape[1])).reshape(pairs, steps + 1, -1)
    jumps = np.linalg.norm(np.diff(decoded, axis=1), axis=2)  # (P, S)
    ratio = jumps.max(axis=1) / np.maximum(jumps.mean(axis=1), 1e-12)

    used = active_dimensions(codes)
    used = used if used.any() else np.ones_like(used)
    s = spread(codes[:, used])
    direction = np.zeros_like(codes)
    direction[:, used] = rng.normal(size=(len(codes), int(used.sum())))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    moved = explore.decode(model, codes + epsilon * s * direction).reshape(len(codes), -1)
    here = explore.decode(model, codes).reshape(len(codes), -1)
    sensitivity = np.linalg.norm(moved - here, axis=1) / epsilon
    return {
        "jump_ratio_median": float(np.median(ratio)),
        "jump_ratio_p90": float(np.percentile(ratio, 90)),
        "sensitivity_median": float(np.median(sensitivity)),
        "sensitivity_p99": float(np.percentile(sensitivity, 99)),
    }


def native_sampler(model: Autoencoder) -> str:
    """How a user samples this model: from its prior when it has one (a VAE), else from a Gaussian
    fitted to its codes."""
    return "prior" if model.has_prior else "gaussian"


def sample_codes(train_codes: np.ndarray, n: int, sampler: str, seed: int = 0) -> np.ndarray:
    """Draw ``n`` codes: ``prior`` N(0, I); ``gaussian`` fitted to the training codes
    (mean and full covariance); ``box`` uniform over the training codes' bounding box."""
    rng = np.random.default_rng(seed)
    dim = train_codes.shape[1]
    if sampler == "prior":
        z = rng.normal(size=(n, dim))
    elif sampler == "gaussian":
        z = rng.multivariate_normal(train_codes.mean(0), np.cov(train_codes, rowvar=False).reshape(dim, dim), n)
    elif sampler == "box":
        z = rng.uniform(train_codes.min(0), train_codes.max(0), size=(n, dim))
    else:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    return z.astype(np.float32)


def frechet_distance(a: np.ndarray, b: np.ndarray, offset: float = 1e-6) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N, F):
    ||mu_a - mu_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2)) (Heusel et al., 2017, as in FID).
    A tiny ``offset`` on the diagonals keeps the square root defined when a feature is constant."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    eye = offset * np.eye(a.shape[1])
    cov_a, cov_b = np.cov(a, rowvar=False) + eye, np.cov(b, rowvar=False) + eye
    root = linalg.sqrtm(cov_a @ cov_b)
    root = root.real if np.iscomplexobj(root) else root
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root))


def posterior_codes(model: Autoencoder, images: np.ndarray, seed: int = 0) -> np.ndarray:
    """Where the data put the model's codes: one draw from q(z|x) per image for a VAE (its
    aggregate posterior), the codes themselves for a deterministic encoder."""
    codes, sigma = explore.encode(model, images)
    if sigma is None:
        return codes
    return (codes + sigma * np.random.default_rng(seed).normal(size=codes.shape)).astype(np.float32)


def nearest_distances(queries: np.ndarray, codes: np.ndarray, exclude_self: bool = False) -> np.ndarray:
    """Distance from each query to its nearest code (to the nearest other code when querying the codes)."""
    q, c = torch.as_tensor(queries, dtype=torch.float32), torch.as_tensor(codes, dtype=torch.float32)
    out = []
    for start in range(0, len(q), 1024):
        d = torch.cdist(q[start : start + 1024], c)
        if exclude_self:
            d[torch.arange(len(d)), torch.arange(start, start + len(d))] = float("inf")
        out.append(d.min(dim=1).values)
    return torch.cat(out).numpy()


def hole_threshold(train_codes: np.ndarray) -> float:
    """The 99th percentile of training codes' distances to their nearest neighbour."""
    return float(np.percentile(nearest_distances(train_codes, train_codes, exclude_self=True), 99))


def completeness(model: Autoencoder, train_images: np.ndarray, held_out: np.ndarray, judge: Judge, *,
                 samples: int = 2000, sampler: str | None = None, seed: int = 0) -> dict[str, float | str]:
    """How much of the sampling distribution decodes to images like real data.

    Codes are drawn with ``sampler`` (default: :func:`native_sampler`). Reported:
    - ``frechet_distance``: between the judge's features of the decoded samples and of
      the real held-out digits. 0 for samples indistinguishable from real digits (in
      mean and covariance of the features); blurs, blends and garbage raise it.
    - ``frechet_distance_reconstructions``: the same for the held-out digits'
      reconstructions: the floor the samples can hope to reach with this decoder.
    - ``hole_fraction``: the share of sampled codes farther from every training code
      than 99% of training codes are from their nearest neighbour: how often sampling
      lands in a hole the data never reached. For a VAE the training codes are draws
      from q(z|x) (its aggregate posterior), so dimensions it leaves unused (prior noise
      the decoder ignores) do not count as holes.
    """
    sampler = sampler or native_sampler(model)
    train_codes, _ = explore.encode(model, train_images)
    reference = posterior_codes(model, train_images, seed)
    z = sample_codes(train_codes, samples, sampler, seed)
    real = judge.features(held_out)
    held_codes, _ = explore.encode(model, held_out)
    return {
        "sampler": sampler,
        "frechet_distance": frechet_distance(judge.features(explore.decode(model, z)), real),
        "frechet_distance_reconstructions": frechet_distance(judge.features(explore.decode(model, held_codes)), real),
        "hole_fraction": float(np.mean(nearest_distances(z, reference) > hole_threshold(reference))),
    }


def hole_map(reference: np.ndarray, x_range: tuple[float, float], y_range: tuple[float, float],
             resolution: int = 48) -> np.ndarray:
    """How untrustworthy decodes are across a 2-D latent region, (R, R) in [0, 1], row 0 at y_range[0].

    ``reference`` are the data's codes (see :func:`posterior_codes`). 0 where they are as
    dense as usual; rising to 1 at three times the hole threshold (:func:`hole_threshold`)
    from the nearest of them.
    """
    xs = np.linspace(*x_range, resolution, dtype=np.float32)
    ys = np.linspace(*y_range, resolution, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    threshold = hole_threshold(reference)
    distance = nearest_distances(grid, reference[:, :2]).reshape(resolution, resolution)
    return np.clip((distance / threshold - 1) / 2, 0, 1).astype(np.float32)


def measure(model: Autoencoder, train_images: np.ndarray, held_out: np.ndarray, judge: Judge, *,
            pairs: int = 500, samples: int = 2000, seed: int = 0) -> dict[str, dict]:
    """Continuity (on held-out images) and completeness (native sampler) of one model."""
    return {
        "continuity": continuity(model, held_out, pairs=pairs, seed=seed),
        "completeness": completeness(model, train_images, held_out, judge, samples=samples, seed=seed),
    }


def comparability_problem(a: Autoencoder, b: Autoencoder) -> str | None:
    """Why two models cannot be compared fairly, or None when they can."""
    if a.image_shape != b.image_shape:
        return (f"they work on different images ({a.image_shape[0]}x{a.image_shape[1]} and "
                f"{b.image_shape[0]}x{b.image_shape[1]}), so their decodes cannot be set against the same data")
    if a.latent_dim != b.latent_dim:
        return (f"their latent sizes differ ({a.latent_dim} and {b.latent_dim}); a larger latent alone makes "
                "decodes sharper and samples land differently, so the figures would measure the size, not "
                "the training. Compare models with the same latent size")
    return None


# The measures a comparison reports, as (group, key); lower is better for each.
COMPARED = (("continuity", "jump_ratio_median"), ("continuity", "jump_ratio_p90"),
            ("continuity", "sensitivity_median"), ("continuity", "sensitivity_p99"),
            ("completeness", "frechet_distance"), ("completeness", "hole_fraction"))
TIE = 0.10  # figures within 10% of each other count as a tie


def winner(first: float, second: float, names: tuple[str, str] = ("first", "second")) -> str:
    """Which of two lower-is-better figures wins, or "tie" when within :data:`TIE` of each other."""
    if abs(first - second) <= TIE * max(abs(first), abs(second), 1e-12):
        return "tie"
    return names[0] if first < second else names[1]


def verdict(figures_a: dict, figures_b: dict, names: tuple[str, str]) -> dict[str, str]:
    """For each compared measure ("group.key"), the name of the more regular model, or "tie"."""
    return {f"{group}.{key}": winner(figures_a[group][key], figures_b[group][key], names)
            for group, key in COMPARED}
