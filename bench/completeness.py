"""Completeness and likelihood of the shipped VAEs by the measures of aelab.labs.completeness.

On the 500 held-out digits: KL(q || p) and KL(p || q) between the aggregate posterior and the
prior N(0, I) (Monte Carlo, 4,000 draws each; 2-D models only), the share of posterior means
inside the prior's 2-sigma region against the prior's own 95.45%, the negative ELBO and the
negative IWAE bound with K = 256 (a tighter estimate of -log p(x)), both in nats per digit.

Run: python bench/completeness.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import numpy as np
import torch

from aelab import checkpoint, data, metrics, pretrained
from aelab.labs import completeness as cm


def main() -> None:
    images = data.load_splits("mnist5k").val.images
    print(f"{'model':<18}{'KL(q||p)':>9}{'KL(p||q)':>9}{'in 2 sigma':>11}{'-ELBO':>8}{'-IWAE256':>10}")
    for entry in pretrained.read_index():
        model = checkpoint.load(entry["path"]).model
        if not model.has_prior:
            continue
        with torch.no_grad():
            mean, sigma = (t.numpy() for t in model.posterior(torch.as_tensor(images)))
        kl = cm.aggregate_divergences(mean, sigma) if mean.shape[1] <= 2 else {"kl_q_p": np.nan, "kl_p_q": np.nan}
        inside = cm.share_inside(mean, cm.two_sigma_radius(mean.shape[1]))
        elbo, iwae = metrics.evaluate(model, images)["neg_elbo"], -cm.iwae_bound(model, images, k=256).mean()
        print(f"{entry['name']:<18}{kl['kl_q_p']:>9.3f}{kl['kl_p_q']:>9.3f}{inside:>11.2f}{elbo:>8.1f}{iwae:>10.1f}")


if __name__ == "__main__":
    main()
