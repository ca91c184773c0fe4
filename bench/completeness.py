"""Completeness and likelihood of the shipped VAEs by the measures of aelab.labs.completeness.

On the 500 held-out digits: KL(q || p) and KL(p || q) between the aggregate posterior and the
prior N(0, I) (Monte Carlo, 4,000 draws each; 2-D models only), the share of posterior means
inside the prior's 2-sigma region against the prior's own 95.45%, the negative ELBO and the
negative IWAE bound with K = 256 (a tighter estimate of -log p(x)), both in nats per digit.

Second table, continuity along the dimensions each model uses: the number of active dimensions
(variance of the posterior mean over the digits above 0.01), and the median sensitivity (pixel
change per unit of spread, a 1% move) along all dimensions and along the active ones only, at
the held-out digits' codes and at 500 sampled codes (a VAE's prior; for an AE a Gaussian fitted
to its training codes, as the compare page samples it).

Run: python bench/completeness.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import numpy as np

from aelab import checkpoint, data, explore, metrics, pretrained, regularity
from aelab.labs import completeness as cm


def main() -> None:
    images = data.load_splits("mnist5k").val.images
    print(f"{'model':<18}{'KL(q||p)':>9}{'KL(p||q)':>9}{'in 2 sigma':>11}{'-ELBO':>8}{'-IWAE256':>10}")
    for entry in pretrained.read_index():
        model = checkpoint.load(entry["path"]).model
        if not model.has_prior:
            continue
        mean, sigma = explore.encode(model, images)
        kl = cm.aggregate_divergences(mean, sigma) if mean.shape[1] <= 2 else {"kl_q_p": np.nan, "kl_p_q": np.nan}
        inside = cm.share_inside(mean, cm.two_sigma_radius(mean.shape[1]))
        elbo, iwae = metrics.evaluate(model, images)["neg_elbo"], -cm.iwae_bound(model, images, k=256).mean()
        print(f"{entry['name']:<18}{kl['kl_q_p']:>9.3f}{kl['kl_p_q']:>9.3f}{inside:>11.2f}{elbo:>8.1f}{iwae:>10.1f}")


def continuity_table() -> None:
    splits = data.load_splits("mnist5k")
    print(f"\n{'model':<18}{'active':>7}{'all dims':>10}{'active only':>12}{'sampled, all':>14}{'sampled, active':>16}")
    for entry in pretrained.read_index():
        if entry["kind"] not in ("ae", "vae") or entry["latent_dim"] not in (2, 16):
            continue
        model = checkpoint.load(entry["path"]).model
        codes, _ = explore.encode(model, splits.val.images)
        used = cm.active_dimensions(codes)
        train_codes, _ = explore.encode(model, splits.train.images)
        sampled = regularity.sample_codes(train_codes, 500, regularity.native_sampler(model), seed=0)
        cells = [np.median(cm.sensitivity(model, c, d)) for c in (codes, sampled) for d in (None, used)]
        print(f"{entry['name']:<18}{int(used.sum()):>4}/{used.size:<2}{cells[0]:>10.2f}{cells[1]:>12.2f}"
              f"{cells[2]:>14.2f}{cells[3]:>16.2f}")


if __name__ == "__main__":
    main()
    continuity_table()
