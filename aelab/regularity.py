"""How regular a latent space is: continuity and completeness, measured.

Continuity: codes close together decode to similar images. Completeness: codes drawn
from the space's sampling distribution decode to images that look like real data.
A VAE is trained for both; a plain AE is not. These functions put numbers on both, so
the claim can be checked rather than assumed. Lower is better for every figure.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import linalg

from . import checkpoint, data, explore
from .i18n import N_, _
from .judge import Judge
from .labs import fidelity
from .labs.completeness import active_dimensions, sensitivity
from .models import Autoencoder

SAMPLERS = ("prior", "gaussian", "box")


def spread(codes: np.ndarray) -> float:
    """The latent's own scale: the root mean per-dimension variance of the codes."""
    return float(np.sqrt(np.mean(np.var(codes, axis=0))))


def continuity(model: Autoencoder, images: np.ndarray, *, pairs: int = 500, steps: int = 32,
               epsilon: float = 0.01, samples: int = 2000, seed: int = 0) -> dict[str, np.ndarray]:
    """Continuity of the decoder along lines and under tiny moves, per item (see :data:`MEASURES`).

    - ``jump_ratio`` (one per pair): for ``pairs`` random pairs of images, decode the straight
      line between their codes in ``steps`` equal steps; a path's jump ratio is its largest
      step's pixel L2 change divided by its mean step's. 1 means the image changes evenly
      along the path; a large value means most of the change happens in one step (a cliff).
      The pairs depend only on ``seed`` and the number of images, so two models measured on
      the same images are measured on the same pairs.
    - ``sensitivity_data`` (one per image) and ``sensitivity_samples`` (one per code drawn the
      way a user samples the model, :func:`native_sampler`): the pixel L2 change per unit of
      the latent's own spread s, for a move of ``epsilon`` * s in a random direction
      (:func:`aelab.labs.completeness.sensitivity`). Only the dimensions the model uses count
      (:func:`aelab.labs.completeness.active_dimensions`): a VAE leaves some at its prior, and
      moves along them change nothing, which made a 16-D VAE look smoother than its decoder is.
    """
    rng = np.random.default_rng(seed)
    codes, _ = explore.encode(model, images)
    first = rng.integers(0, len(codes), pairs)
    second = (first + rng.integers(1, len(codes), pairs)) % len(codes)  # never the same image
    t = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)[None, :, None]
    lines = (1 - t) * codes[first][:, None] + t * codes[second][:, None]  # (P, S+1, D)
    decoded = explore.decode(model, lines.reshape(-1, codes.shape[1])).reshape(pairs, steps + 1, -1)
    jumps = np.linalg.norm(np.diff(decoded, axis=1), axis=2)  # (P, S)
    used = active_dimensions(codes)
    used = used if used.any() else np.ones_like(used)
    scale = spread(codes[:, used])
    sampled = sample_codes(codes, samples, native_sampler(model), seed)
    return {
        "jump_ratio": jumps.max(axis=1) / np.maximum(jumps.mean(axis=1), 1e-12),
        "sensitivity_data": sensitivity(model, codes, used, epsilon, seed, scale=scale),
        "sensitivity_samples": sensitivity(model, sampled, used, epsilon, seed + 1, scale=scale),
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
                 samples: int = 2000, sampler: str | None = None, k: int = 5, seed: int = 0) -> dict:
    """How much of the sampling distribution decodes to images like real data, per item.

    Codes are drawn with ``sampler`` (default: :func:`native_sampler`) and decoded; the judge's
    features of those samples are set against the features of the real held-out digits
    (:mod:`aelab.labs.fidelity`, Naeem et al., 2020):
    - ``density`` (one per sample): how many real digits' k-nearest-neighbour balls the sample
      falls in, over k. About 1 for samples like real digits, near 0 for garbage; more than 1
      where samples crowd the densest part of the data.
    - ``coverage`` (one per real digit, so paired across models): whether any sample falls in
      that digit's ball. The share of real digits the samples reach: 0 when they all look alike.
    Also ``sampler`` and the Frechet distance in the same features (:func:`frechet_distance`),
    which folds both into one number and is kept for reference, not for the verdict.
    """
    sampler = sampler or native_sampler(model)
    train_codes, _ = explore.encode(model, train_images)
    z = sample_codes(train_codes, samples, sampler, seed)
    real, fake = judge.features(held_out), judge.features(explore.decode(model, z))
    values = fidelity.per_sample(real, fake, k)
    return {"sampler": sampler, "density": values["density"], "coverage": values["coverage"],
            "frechet_distance": frechet_distance(fake, real)}


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


@dataclass(frozen=True)
class Measure:
    """One figure a comparison reports: how it is summarised over its items, and which way is better."""

    group: str  # "continuity" or "completeness"
    key: str  # the per-item array's name in :func:`measure`'s ``items``
    name: str  # what the page and the CLI call it
    statistic: str  # "median", "p90" or "mean" over the items
    lower_is_better: bool
    paired: bool  # the items line up across two models measured on the same digits
    meaning: str

    def summary(self, items: np.ndarray) -> float:
        """The measure's value from its items."""
        return float(self.over(np.asarray(items, np.float64)))

    def over(self, items: np.ndarray) -> np.ndarray:
        """The measure of each row of ``items`` (..., N): the statistic over the last axis."""
        return _STATISTICS[self.statistic](items, axis=-1)


_STATISTICS = {"median": np.median, "mean": np.mean, "p90": lambda x, axis: np.percentile(x, 90, axis=axis)}

# The names and meanings are shown by the compare page (in the reader's language: marked with N_ here,
# translated where shown); the CLI prints the names as they are.
MEASURES = (
    Measure("continuity", "jump_ratio", N_("median jump ratio"), "median", True, True,
            N_("largest step / mean step of the image along a line between two held-out digits' codes "
               "(1: the image changes evenly; large: most of the change happens in one step, a cliff)")),
    Measure("continuity", "jump_ratio", N_("worst-10% jump ratio"), "p90", True, True,
            N_("the same, at the 90th percentile over the lines (9 lines in 10 stay below it): the worst cliffs")),
    Measure("continuity", "sensitivity_data", N_("sensitivity at digits"), "median", True, True,
            N_("how much the image changes (pixel distance) per unit of the codes' spread, for a tiny move from a "
               "digit's code along the latent dimensions the decoder uses (median; lower is smoother)")),
    Measure("continuity", "sensitivity_samples", N_("sensitivity at samples"), "median", True, False,
            N_("the same at codes drawn the way the model is sampled (median)")),
    Measure("completeness", "density", N_("sample density"), "mean", False, False,
            N_("how many real digits' neighbourhoods a sample lands in, over k (1: as many as a real digit does; "
               "0: garbage)")),
    Measure("completeness", "coverage", N_("coverage"), "mean", False, True,
            N_("the share of real held-out digits that some sample lands next to (1: samples reach every kind)")),
)


def measure(model: Autoencoder, train_images: np.ndarray, held_out: np.ndarray, judge: Judge, *,
            pairs: int = 500, samples: int = 2000, seed: int = 0) -> dict:
    """Continuity (on held-out images) and completeness (native sampler) of one model.

    ``items`` holds every measure's per-item values (what :func:`compare` resamples);
    ``continuity`` and ``completeness`` their summaries (:data:`MEASURES`), plus the sampler
    and the Frechet distance (plain numbers and strings: the CLI prints them as JSON).
    """
    items = continuity(model, held_out, pairs=pairs, samples=samples, seed=seed)
    fill = completeness(model, train_images, held_out, judge, samples=samples, seed=seed)
    items |= {"density": fill["density"], "coverage": fill["coverage"]}
    figures = {"continuity": {}, "completeness": {"sampler": fill["sampler"],
                                                  "frechet_distance": fill["frechet_distance"]}, "items": items}
    for m in MEASURES:
        figures[m.group][label(m)] = m.summary(items[m.key])
    return figures


def label(m: Measure) -> str:
    """The measure's key in a figures dict: e.g. ``jump_ratio_p90``, ``density_mean``."""
    return f"{m.key}_{m.statistic}"


def compare(first: dict, second: dict, names: tuple[str, str] = ("first", "second"), *, draws: int = 1000,
            level: float = 0.95, seed: int = 0) -> dict[str, dict]:
    """For each measure, the difference first - second with a bootstrap interval, and the more regular model.

    Items are resampled with replacement ``draws`` times (the same indices for both models when the
    measure is paired, independently when not) and the measure recomputed; the middle ``level`` of
    the resampled differences is the interval (Efron & Tibshirani, 1993). An interval that contains 0
    is a tie: the two models differ by less than the measure's own noise on these digits.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for m in MEASURES:
        a, b = (np.asarray(f["items"][m.key], np.float64) for f in (first, second))
        picks_a = rng.integers(0, len(a), size=(draws, len(a)))
        picks_b = picks_a if m.paired and len(a) == len(b) else rng.integers(0, len(b), size=(draws, len(b)))
        differences = m.over(a[picks_a]) - m.over(b[picks_b])  # (draws,)
        tail = 100 * (1 - level) / 2
        low, high = (float(v) for v in np.percentile(differences, [tail, 100 - tail]))
        if low <= 0 <= high:
            who = "tie"
        else:
            first_better = (high < 0) == m.lower_is_better
            who = names[0] if first_better else names[1]
        out[label(m)] = {"measure": m, "first": m.summary(a), "second": m.summary(b),
                         "difference": m.summary(a) - m.summary(b), "interval": (low, high), "more regular": who}
    return out


def comparability_problem(a: Autoencoder, b: Autoencoder) -> str | None:
    """Why two models cannot be compared fairly, or None when they can."""
    if a.image_shape != b.image_shape:
        return _("they work on different images ({first_h}x{first_w} and {second_h}x{second_w}), so their decodes "
                 "cannot be set against the same data", first_h=a.image_shape[0], first_w=a.image_shape[1],
                 second_h=b.image_shape[0], second_w=b.image_shape[1])
    if a.latent_dim != b.latent_dim:
        return _("their latent sizes differ ({first} and {second}); a larger latent alone makes decodes sharper and "
                 "samples land differently, so the figures would measure the size, not the training. Compare "
                 "models with the same latent size", first=a.latent_dim, second=b.latent_dim)
    return None




# ---- figures kept on disk ----------------------------------------------------------------------

FIGURES_VERSION = 1  # raise when a measure's definition changes: figures stored before are then ignored
MEASURE_SETTINGS = {"pairs": 500, "samples": 2000, "seed": 0}  # measure's defaults, as stored_measure keys them


def figures_key(model_dir: Path, judge: Judge, train_images: np.ndarray, held_out: np.ndarray,
                **settings) -> str:
    """What the figures depend on, hashed: the model's files, the judge's weights, the images, the settings."""
    digest = hashlib.sha256()
    for path in (model_dir / checkpoint.CONFIG_NAME, model_dir / checkpoint.WEIGHTS_NAME):
        digest.update(path.read_bytes())
    for name, tensor in judge.state_dict().items():
        digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
    for images in (train_images, held_out):
        digest.update(np.ascontiguousarray(images, np.float32).tobytes())
    digest.update(json.dumps(settings | {"version": FIGURES_VERSION}, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def stored_measure(model: Autoencoder, model_dir: Path, train_images: np.ndarray, held_out: np.ndarray,
                   judge: Judge, *, folders: list[Path], pairs: int = 500, samples: int = 2000, seed: int = 0) -> dict:
    """:func:`measure`, read from the first of ``folders`` that holds these figures, else computed and
    written to the last of them (atomically; a folder that cannot be written is only a missed cache).

    The shipped models' figures ship in ``pretrained/figures`` (written by ``python -m aelab pretrained``), so
    the compare page opens without measuring; any other model's are kept in aelab's cache folder.
    """
    key = figures_key(model_dir, judge, train_images, held_out, pairs=pairs, samples=samples, seed=seed)
    for folder in folders:
        figures = _read_figures(folder / f"figures-{key}.npz")
        if figures is not None:
            return figures
    figures = measure(model, train_images, held_out, judge, pairs=pairs, samples=samples, seed=seed)
    data.write_npz_atomically(folders[-1] / f"figures-{key}.npz", summary=np.array(json.dumps(
        {g: figures[g] for g in ("continuity", "completeness")})), **figures["items"])
    return figures


def _read_figures(path: Path) -> dict | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            summary = json.loads(str(npz["summary"]))
            items = {m.key: np.asarray(npz[m.key]) for m in MEASURES}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return summary | {"items": items}
