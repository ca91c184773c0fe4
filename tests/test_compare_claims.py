"""Every direction the "VAE vs AE" page states, pinned on the shipped models with the page's own measures.

The page computes its sentences from these figures and their bootstrap intervals
(aelab.regularity.compare), so it cannot contradict them; these tests pin what the shipped
models show, so that retraining a model cannot silently turn the lesson it teaches around.
"""

from __future__ import annotations

import numpy as np
import pytest

from aelab import checkpoint, data, explore, pretrained, regularity
from aelab.judge import load_judge
from aelab.labs import completeness

BETAS = {0.0: "vae-2d-beta0", 0.25: "vae-2d-beta0.25", 0.5: "vae-2d-beta0.5", 1.0: "vae-2d", 2.0: "vae-2d-beta2",
         4.0: "vae-2d-beta4"}
MODELS = ["ae-2d", "dae-2d", "sae-2d", "ae-16d", "vae-16d", *BETAS.values()]


@pytest.fixture(scope="module")
def figures() -> dict[str, dict]:
    """The page's figures (same settings: 500 pairs, 2,000 samples, seed 0) for the shipped models."""
    splits = data.load_splits("mnist5k")
    judge, _ = load_judge(pretrained.judge_dir())
    paths = {e["name"]: e["path"] for e in pretrained.read_index()}
    return {name: regularity.measure(checkpoint.load(paths[name]).model, splits.train.images, splits.val.images,
                                     judge) for name in MODELS}


def verdict(figures: dict, first: str, second: str, names=("AE", "VAE")) -> dict[str, str]:
    return {key: row["more regular"] for key, row in regularity.compare(figures[first], figures[second], names).items()}


def test_in_2d_the_vae_is_smoother_along_lines_and_at_digits_and_its_samples_are_denser(figures):
    assert verdict(figures, "ae-2d", "vae-2d") == {
        "jump_ratio_median": "VAE", "jump_ratio_p90": "VAE", "sensitivity_data_median": "VAE",
        "density_mean": "VAE",
        "coverage_mean": "tie",  # the samples of both reach about 45% of the held-out digits
        "sensitivity_samples_median": "AE",  # at codes sampled from a Gaussian fitted to its codes, the AE is calmer
    }


def test_in_16d_the_vae_covers_the_digits_better_but_its_decoder_is_less_smooth(figures):
    assert verdict(figures, "ae-16d", "vae-16d") == {
        "jump_ratio_median": "tie", "jump_ratio_p90": "AE", "sensitivity_data_median": "AE",
        "sensitivity_samples_median": "AE", "density_mean": "VAE", "coverage_mean": "VAE"}


def test_the_dae_and_sae_are_less_regular_than_the_vae_along_lines_but_their_samples_are_denser(figures):
    """The article: DAE and SAE are not trained for a regular latent space. Along lines and at digits the
    VAE is smoother than both; their samples crowd into dense regions of the digits (density above the VAE's),
    without reaching more of them (coverage: a tie)."""
    for name, kind in (("dae-2d", "DAE"), ("sae-2d", "SAE")):
        v = verdict(figures, name, "vae-2d", (kind, "VAE"))
        assert [v[k] for k in ("jump_ratio_median", "jump_ratio_p90", "sensitivity_data_median")] == ["VAE"] * 3
        assert v["density_mean"] == kind and v["coverage_mean"] == "tie"
    assert verdict(figures, "dae-2d", "vae-2d", ("DAE", "VAE"))["sensitivity_samples_median"] == "VAE"


def test_beta_zero_fails_completeness_as_the_article_predicts(figures):
    """Without the KL term: the lowest coverage and density of any beta, tiny sigmas, wide means, few codes in
    the prior's 2-sigma region, and the most prior mass where no code lives."""
    images = data.load_splits("mnist5k").val.images
    paths = {e["name"]: e["path"] for e in pretrained.read_index()}
    fits = {}
    for beta, name in BETAS.items():
        mean, sigma = explore.encode(checkpoint.load(paths[name]).model, images)
        fits[beta] = {"sigma": np.median(sigma), "spread": regularity.spread(mean),
                      "inside": completeness.share_inside(mean, completeness.two_sigma_radius(2)),
                      **completeness.aggregate_divergences(mean, sigma, samples=2000)}
    for key in ("coverage_mean", "density_mean"):
        scores = {beta: figures[name]["completeness"][key] for beta, name in BETAS.items()}
        assert min(scores, key=scores.get) == 0.0, key
        assert all(verdict(figures, "vae-2d-beta0", name)[key] == "VAE" for name in list(BETAS.values())[1:]), key
    assert min(fits, key=lambda b: fits[b]["sigma"]) == 0.0 and fits[0.0]["sigma"] < fits[1.0]["sigma"] / 10
    assert max(fits, key=lambda b: fits[b]["spread"]) == 0.0 and fits[0.0]["spread"] > 2 * fits[1.0]["spread"]
    assert min(fits, key=lambda b: fits[b]["inside"]) == 0.0 and fits[0.0]["inside"] < 0.5
    # KL(prior || codes) falls at every step up in beta by more than twice its Monte Carlo error (the page's sentence)
    ordered = [fits[b] for b in sorted(fits)]
    assert all(a["kl_p_q"] - b["kl_p_q"] > 2 * np.hypot(a["kl_p_q_se"], b["kl_p_q_se"])
               for a, b in zip(ordered, ordered[1:], strict=False))


def test_from_beta_zero_to_four_every_measure_gets_more_regular(figures):
    """The page's "From beta 0 to beta 4" sentence: each continuity and completeness measure improves."""
    assert set(verdict(figures, "vae-2d-beta0", "vae-2d-beta4", ("beta 0", "beta 4")).values()) == {"beta 4"}


def test_the_shipped_figures_are_the_measures_of_the_shipped_models(figures):
    """The compare page reads pretrained/figures instead of measuring: each file must hold what measuring the
    shipped model with the shipped judge gives now (python -m aelab pretrained --only figures rebuilds them)."""
    splits = data.load_splits("mnist5k")
    judge, _ = load_judge(pretrained.judge_dir())
    folder = pretrained.default_dir() / pretrained.FIGURES_DIR
    shown = [r.name for r in pretrained.RECIPES if pretrained.compared(r)]
    assert set(MODELS) <= set(shown)
    for name in shown:
        model_dir = pretrained.default_dir() / name
        key = regularity.figures_key(model_dir, judge, splits.train.images, splits.val.images,
                                     **regularity.MEASURE_SETTINGS)
        assert (folder / f"figures-{key}.npz").is_file(), f"no current figures for {name}"
    assert len(list(folder.glob("figures-*.npz"))) == len(shown)  # nothing stale ships
    for name in MODELS:
        stored = regularity.stored_measure(None, pretrained.default_dir() / name, splits.train.images,
                                           splits.val.images, judge, folders=[folder])
        for m in regularity.MEASURES:
            assert np.allclose(stored["items"][m.key], figures[name]["items"][m.key], rtol=1e-5, atol=1e-6), name
        assert stored["completeness"]["sampler"] == figures[name]["completeness"]["sampler"]
