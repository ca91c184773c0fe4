"""The shipped best 2-D VAE (vae-2d-best): chosen without the held-out digits, and as good as the issue asks.

Its recipe was chosen by 5-fold cross-validation on the 4,500 training digits (bench/recipe_cv.py,
aelab.selection), and it chose its best epoch on a slice of them; the 500 held-out digits
measured it once. These tests pin that protocol on the shipped model and the figures it reached.
"""

from __future__ import annotations

import numpy as np
import pytest

from aelab import checkpoint, data, metrics, pretrained
from aelab.labs.completeness import iwae_bound
from aelab.selection import inner_split

ENTRIES = {e["name"]: e for e in pretrained.read_index()}


@pytest.fixture(scope="module")
def best():
    return checkpoint.load(ENTRIES["vae-2d-best"]["path"])


def test_it_never_saw_the_held_out_digits(best):
    recipe = next(r for r in pretrained.RECIPES if r.name == "vae-2d-best")
    assert recipe.stop_on == "training_slice" and recipe.training.augment_shift == 1
    splits = data.load_splits("mnist5k")
    fit_on, stop_on = inner_split(np.arange(len(splits.train)), splits.train.labels)
    assert not set(fit_on) & set(stop_on) and len(fit_on) + len(stop_on) == len(splits.train)
    assert best.info["data"] | {"n_train": len(fit_on), "n_val": len(stop_on), "n_reported": len(splits.val)} \
        == best.info["data"]


def test_it_reaches_the_goal_on_the_held_out_digits_and_its_likelihood_bound_is_tighter(best):
    """Issue 11's goal: at most 150 nats of negative ELBO on digits it never saw (here 147.3; the
    cross-validated estimate was 149.6, 95% interval 148.3 to 150.8)."""
    images = data.load_splits("mnist5k").val.images
    neg_elbo = metrics.per_image_neg_elbo(best.model, images)
    assert neg_elbo.mean() == pytest.approx(best.info["metrics"]["neg_elbo"], abs=0.05)
    assert neg_elbo.mean() <= 150
    neg_iwae = -iwae_bound(best.model, images, k=64)
    low, high = metrics.bootstrap_interval(neg_elbo - neg_iwae)
    assert low > 0  # the importance-sampled bound is tighter than the ELBO, beyond its noise
