"""Every regularity measure of every shipped model (lab models aside), with 95% bootstrap intervals.

On the embedded digits' 500 held-out digits, as the "VAE vs AE" page measures them
(aelab.regularity.measure at its defaults): jump ratios along 500 held-out line pairs,
sensitivity at the digits' codes and at 2,000 sampled codes (along the dimensions the
decoder uses), and density and coverage of 2,000 samples in the judge's features (VAE: its
prior; others: a Gaussian fitted to their codes). Each figure is followed by its 95%
percentile-bootstrap interval over the items it summarises (lines, digits or samples).
For the VAEs, a second table: KL between the prior and the aggregate posterior both ways
(2-D: Monte Carlo, +- 2 standard errors), the share of codes inside the prior's 2-sigma
region, and the negative ELBO and negative IWAE bound (K = 256) in nats per held-out digit
with their bootstrap intervals over the digits.

Run: python bench/regularity.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import numpy as np  # noqa: E402

from aelab import checkpoint, data, explore, metrics, pretrained, regularity  # noqa: E402
from aelab.judge import load_judge  # noqa: E402
from aelab.labs import completeness as cm  # noqa: E402

MODELS = ("ae-2d", "dae-2d", "sae-2d", "vae-2d-beta0", "vae-2d-beta0.25", "vae-2d-beta0.5", "vae-2d",
          "vae-2d-beta2", "vae-2d-beta4", "vae-2d-best", "ae-16d", "vae-16d")


def interval(m: regularity.Measure, items: np.ndarray, draws: int = 1000, seed: int = 0) -> tuple[float, float]:
    picks = np.random.default_rng(seed).integers(0, len(items), size=(draws, len(items)))
    return tuple(np.percentile(m.over(np.asarray(items, np.float64)[picks]), [2.5, 97.5]))


def regularity_table(splits, judge, entries) -> None:
    print(f"{'model':<17}" + "".join(f"{m.name:>28}" for m in regularity.MEASURES) + f"{'s':>6}")
    for name in MODELS:
        tic = time.perf_counter()
        model = checkpoint.load(entries[name]["path"]).model
        figures = regularity.measure(model, splits.train.images, splits.val.images, judge)
        cells = []
        for m in regularity.MEASURES:
            low, high = interval(m, figures["items"][m.key])
            cells.append(f"{figures[m.group][regularity.label(m)]:.3g} [{low:.3g}, {high:.3g}]")
        print(f"{name:<17}" + "".join(f"{c:>28}" for c in cells) + f"{time.perf_counter() - tic:>6.0f}", flush=True)


def prior_table(splits, entries) -> None:
    images = splits.val.images
    print(f"\n{'model':<17}{'KL(q||p)':>16}{'KL(p||q)':>18}{'in 2 sigma':>11}{'-ELBO [95%]':>24}{'-IWAE256 [95%]':>24}")
    for name in MODELS:
        model = checkpoint.load(entries[name]["path"]).model
        if not model.has_prior:
            continue
        mean, sigma = explore.encode(model, images)
        kl = cm.aggregate_divergences(mean, sigma) if mean.shape[1] <= 2 else None
        kls = (f"{kl['kl_q_p']:>9.3g} +-{2 * kl['kl_q_p_se']:<5.2g}{kl['kl_p_q']:>11.3g} +-{2 * kl['kl_p_q_se']:<5.2g}"
               if kl else f"{'-':>16}{'-':>18}")
        inside = cm.share_inside(mean, cm.two_sigma_radius(mean.shape[1]))
        elbo = metrics.per_image_neg_elbo(model, images)
        iwae = -cm.iwae_bound(model, images, k=256)
        cells = "".join(f"{v.mean():>10.1f} [{lo:.1f}, {hi:.1f}]" for v in (elbo, iwae)
                        for lo, hi in [metrics.bootstrap_interval(v)])
        print(f"{name:<17}{kls}{inside:>11.2f}{cells}", flush=True)


def main() -> None:
    splits = data.load_splits("mnist5k")
    judge, info = load_judge(pretrained.judge_dir())
    entries = {e["name"]: e for e in pretrained.read_index()}
    print(f"held-out: {len(splits.val)} digits; judge accuracy {info.get('val_accuracy', float('nan')):.3f}")
    regularity_table(splits, judge, entries)
    prior_table(splits, entries)


if __name__ == "__main__":
    main()
