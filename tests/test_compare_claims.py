"""Every claim the "VAE vs AE" page makes, checked on the shipped models with the page's own measures.

The page computes its verdict from these figures; these tests pin the directions it shows
for the shipped pairs, so retraining the models cannot silently turn the demonstration false.
"""

from __future__ import annotations

import pytest

from aelab import checkpoint, data, pretrained, regularity
from aelab.judge import load_judge

BETAS = {0.25: "vae-2d-beta0.25", 0.5: "vae-2d-beta0.5", 1.0: "vae-2d", 2.0: "vae-2d-beta2", 4.0: "vae-2d-beta4"}


@pytest.fixture(scope="module")
def figures():
    """The page's figures (same settings: 500 pairs, 2,000 samples, seed 0) for the shipped models."""
    splits = data.load_splits("mnist5k")
    judge, _ = load_judge(pretrained.judge_dir())
    paths = {e["name"]: e["path"] for e in pretrained.read_index()}
    results = {}
    for name in ["ae-2d", "ae-16d", "vae-16d", *BETAS.values()]:
        loaded = checkpoint.load(paths[name])
        results[name] = regularity.measure(loaded.model, splits.train.images, splits.val.images, judge)
        results[name]["recon_bce"] = loaded.info["metrics"]["recon_bce"]
    return results


def test_in_2d_the_vae_is_more_regular_on_every_measure(figures):
    """The page's default scene (2-D, beta 1) says the VAE wins every row of the table."""
    verdict = regularity.verdict(figures["ae-2d"], figures["vae-2d"], ("AE", "VAE"))
    assert set(verdict.values()) == {"VAE"}, verdict


def test_in_16d_the_contrast_is_mixed_and_the_page_says_so(figures):
    """16-D: the VAE still covers its prior (few holes), but the AE's samples score closer to real digits."""
    verdict = regularity.verdict(figures["ae-16d"], figures["vae-16d"], ("AE", "VAE"))
    assert verdict["completeness.hole_fraction"] == "VAE"
    assert verdict["completeness.frechet_distance"] == "AE"
    assert figures["ae-16d"]["recon_bce"] < figures["vae-16d"]["recon_bce"]  # "its sharper decoder"
    # and continuity along lines no longer separates them
    assert verdict["continuity.jump_ratio_median"] == "tie"
    # Along the dimensions it uses (9 of 16) the VAE's decoder is the more sensitive one; measured over all
    # 16, the 7 it leaves at the prior made it look smoother (bench/completeness.py: 1.75 against 3.27).
    assert verdict["continuity.sensitivity_median"] == "AE"


def test_beta_trades_smoothness_against_reconstruction(figures):
    """The beta caption: sensitivity falls as beta rises; the highest beta reconstructs worst;
    the lowest beta's samples look least like digits."""
    ordered = [figures[BETAS[b]] for b in sorted(BETAS)]
    sensitivity = [f["continuity"]["sensitivity_median"] for f in ordered]
    assert sensitivity == sorted(sensitivity, reverse=True)
    recon = {b: figures[name]["recon_bce"] for b, name in BETAS.items()}
    assert recon[4.0] == max(recon.values())
    frechet = {b: figures[name]["completeness"]["frechet_distance"] for b, name in BETAS.items()}
    assert frechet[0.25] == max(frechet.values())


def test_every_shipped_vae_beats_the_ae_on_holes_and_local_smoothness(figures):
    """Whatever beta the slider picks, the 2-D VAE lands fewer samples in holes and is smoother locally."""
    for name in BETAS.values():
        verdict = regularity.verdict(figures["ae-2d"], figures[name], ("AE", "VAE"))
        assert verdict["completeness.hole_fraction"] == "VAE", name
        assert verdict["continuity.sensitivity_p99"] == "VAE", name


def test_after_only_a_few_epochs_the_vae_is_smoother_but_its_samples_are_not_yet_better(figures):
    """The page's training-length sentence, on the shipped recipes stopped after 5 of their 150 epochs."""
    from aelab.train import fit, make_model

    splits = data.load_splits("mnist5k")
    judge, _ = load_judge(pretrained.judge_dir())
    recipes = {r.name: r for r in pretrained.RECIPES}
    early = {}
    for name in ("ae-2d", "vae-2d"):
        recipe = recipes[name]
        model = make_model(recipe.kind, recipe.model, (28, 28), recipe.training.seed)
        fit(model, splits.train.images, splits.val.images, recipe.training, callback=lambda log: log.epoch >= 5)
        early[name] = regularity.measure(model, splits.train.images, splits.val.images, judge)
    verdict = regularity.verdict(early["ae-2d"], early["vae-2d"], ("AE", "VAE"))
    assert verdict["continuity.sensitivity_median"] == "VAE" and verdict["completeness.hole_fraction"] == "VAE"
    assert verdict["completeness.frechet_distance"] == "AE"  # not yet
    # ... and the fully trained, shipped pair has turned it round
    assert figures["vae-2d"]["completeness"]["frechet_distance"] < figures["ae-2d"]["completeness"]["frechet_distance"]
