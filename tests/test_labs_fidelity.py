"""aelab.labs.fidelity and the conv judge: density, coverage, precision and recall on cases with known answers.

First on synthetic features, where the answers follow from the definitions (a hand-worked
example, the exact expectations for two samples of one distribution, dropped modes,
duplicates, outliers); then in the shipped conv judge's features, on real digits against
sets that should score well (other real digits) and badly (blurs, noise, half the classes,
decodes of codes far outside the data).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from aelab import checkpoint, data, explore, judge, pretrained, regularity
from aelab.judge import load_judge, save_judge
from aelab.labs import fidelity as fd
from aelab.labs import ood
from aelab.models import Judge

# ---- synthetic features ----------------------------------------------------------------------


def test_a_hand_worked_example():
    """Reals 0..4 on a line, k = 1: every real ball has radius 1. Fakes at 0.5 and 10."""
    real, fake = np.arange(5.0)[:, None], np.array([[0.5], [10.0]])
    assert np.array_equal(fd.knn_radii(real, k=1), np.ones(5))
    values = fd.per_sample(real, fake, k=1)
    assert np.array_equal(values["density"], [2.0, 0.0])  # 0.5 is in the balls of 0 and 1
    assert np.array_equal(values["precision"], [1.0, 0.0])
    assert np.array_equal(values["coverage"], [1, 1, 0, 0, 0])  # 2 is 1.5 from 0.5
    assert np.array_equal(values["recall"], [1, 1, 1, 1, 1])  # fake radii are 9.5
    assert fd.fidelity(real, fake, k=1) == {"density": 1.0, "coverage": 0.4, "precision": 0.5, "recall": 1.0}


def test_two_samples_of_one_distribution_meet_the_exact_expectations():
    """Naeem et al.: E[density] = 1 and E[coverage] = 1 - prod (N - i) / (N + M - i), averaged over 100 draws."""
    runs = []
    for seed in range(100):
        rng = np.random.default_rng(seed)
        runs.append(fd.fidelity(rng.normal(size=(100, 3)), rng.normal(size=(100, 3))))
    mean = {name: np.mean([r[name] for r in runs]) for name in fd.MEASURES}
    assert mean["density"] == pytest.approx(1.0, abs=0.03)
    assert mean["coverage"] == pytest.approx(fd.expected_coverage(100, 100), abs=0.01)
    assert mean["precision"] > 0.95 and mean["recall"] > 0.95


def test_expected_coverage_tends_to_one_minus_two_to_the_minus_k():
    assert fd.expected_coverage(10**6, 10**6, k=5) == pytest.approx(1 - 2**-5, abs=1e-4)
    assert fd.expected_coverage(2, 2, k=1) == pytest.approx(2 / 3)  # the other real is nearer in 1 of 3 orders
    assert fd.expected_coverage(500, 2000) > 0.999  # more fakes, fuller coverage


def modes(n: int, classes, seed: int, dim: int = 16) -> np.ndarray:
    """Ten well-separated Gaussian modes (unit spread, centres about 27 apart); draws from ``classes``."""
    centres = np.random.default_rng(99).normal(scale=6, size=(10, dim))
    rng = np.random.default_rng(seed)
    return centres[rng.choice(list(classes), n)] + rng.normal(size=(n, dim))


def test_dropping_half_the_modes_halves_coverage_and_recall_but_not_precision():
    real = modes(1000, range(10), seed=0)
    full, half = fd.fidelity(real, modes(1000, range(10), 1)), fd.fidelity(real, modes(1000, range(5), 1))
    assert full["coverage"] > 0.9 and full["recall"] > 0.8
    assert half["coverage"] == pytest.approx(0.5, abs=0.08) and half["recall"] == pytest.approx(0.5, abs=0.12)
    assert half["precision"] == pytest.approx(full["precision"], abs=0.05)
    assert half["density"] == pytest.approx(full["density"], abs=0.1)


def test_samples_away_from_the_data_score_zero_fidelity_and_recall_is_fooled_by_their_spread():
    """Broad noise around the modes: no sample is real-like, but its huge fake balls swallow every real
    point, so recall stays high; coverage, which builds balls around reals only, is 0 (Naeem et al.'s point)."""
    real = modes(1000, range(10), seed=0)
    noise = fd.fidelity(real, np.random.default_rng(3).normal(scale=6, size=(1000, 16)))
    assert noise["density"] == noise["precision"] == noise["coverage"] == 0.0
    assert noise["recall"] > 0.5


def test_precision_is_fooled_by_a_real_outlier_but_density_is_not():
    """One outlying real point has a wide ball; samples crowded inside it are all "precise", yet each sits
    in a single real ball of k, so their density is 1 / k."""
    rng = np.random.default_rng(0)
    real = np.vstack([rng.normal(size=(1000, 2)), [[10.0, 0.0]]])
    fake = np.array([12.0, 0.0]) + 0.1 * rng.normal(size=(500, 2))
    assert fd.fidelity(real, fake) == {"density": 0.2, "coverage": pytest.approx(1 / 1001), "precision": 1.0,
                                       "recall": 0.0}


def test_copies_of_one_real_point_cover_only_the_balls_it_lies_in():
    """Every sample at real point x0: coverage is the share of real balls holding x0 (density's count, over N),
    precision 1, and the fake balls have radius 0, so recall finds only x0 itself."""
    real = np.random.default_rng(0).normal(size=(500, 8))
    values = fd.fidelity(real, np.repeat(real[:1], 1000, axis=0))
    assert values["coverage"] * 500 == pytest.approx(values["density"] * fd.K)  # the same balls, counted twice
    assert 1 / 500 <= values["coverage"] <= 4 * (fd.K + 1) / 500
    assert values["precision"] == 1.0 and values["recall"] == pytest.approx(1 / 500)


def test_intervals_bracket_each_mean_and_k_is_checked():
    rng = np.random.default_rng(0)
    values = fd.per_sample(rng.normal(size=(300, 4)), rng.normal(size=(600, 4)))
    assert {name: len(v) for name, v in values.items()} == {"density": 600, "coverage": 300, "precision": 600,
                                                            "recall": 300}
    for name, (low, high) in fd.intervals(values).items():
        assert low < values[name].mean() < high and high - low < 0.2
    with pytest.raises(ValueError, match="k must be"):
        fd.knn_radii(np.zeros((5, 2)), k=5)


# ---- the conv judge --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def splits() -> data.Splits:
    return data.load_splits("mnist5k")


@pytest.fixture(scope="module")
def shipped() -> Judge:
    return load_judge(pretrained.judge_dir())[0]


@pytest.fixture(scope="module")
def quality(shipped, splits):
    """sample_quality of a set of images against the 500 held-out digits, and the Frechet distance."""
    real = shipped.features(splits.val.images)

    def measure(images: np.ndarray) -> dict[str, float]:
        fake = shipped.features(images)
        return fd.fidelity(real, fake) | {"frechet_distance": regularity.frechet_distance(fake, real)}
    return measure


def test_sample_quality_reads_images_through_the_judge(shipped, splits, real_digits):
    figures = fd.sample_quality(shipped, splits.val.images, real_digits[:500])
    assert figures == fd.fidelity(shipped.features(splits.val.images), shipped.features(real_digits[:500]))


@pytest.fixture(scope="module")
def real_digits(splits) -> np.ndarray:
    """2,000 training digits: real, but not the held-out ones."""
    return splits.train.images[np.random.default_rng(0).choice(len(splits.train), 2000, replace=False)]


def test_the_shipped_judge_is_a_conv_net_that_reads_held_out_digits(shipped, splits):
    info = load_judge(pretrained.judge_dir())[1]
    assert shipped.arch == "conv" and shipped.n_features == judge.CONV_FEATURES
    accuracy = shipped.accuracy(splits.val.images, splits.val.labels)
    assert accuracy >= 0.98 and accuracy == pytest.approx(info["val_accuracy"])  # measured: 0.988
    assert shipped.features(splits.val.images[:3]).shape == (3, judge.CONV_FEATURES)


def test_tiny_images_keep_the_mlp_judge_and_an_old_config_without_arch_loads_as_one():
    assert judge.judge_settings((8, 8), 10) == {"n_classes": 10, "max_shift": 0}
    assert judge.judge_settings((28, 28), 10)["arch"] == "conv"
    assert Judge((8, 8), n_classes=10).arch == "mlp"


def test_a_conv_judge_saves_and_loads_with_the_same_features(tmp_path, splits):
    torch.manual_seed(0)
    original = Judge((28, 28), arch="conv", n_features=16).eval()
    save_judge(original, tmp_path, {"data": "mnist5k"})
    loaded, info = load_judge(tmp_path)
    assert info["model"]["arch"] == "conv" and loaded.config() == original.config()
    assert np.array_equal(loaded.features(splits.val.images[:50]), original.features(splits.val.images[:50]))


def test_other_real_digits_score_as_real(quality, real_digits):
    figures = quality(real_digits)
    assert figures["density"] == pytest.approx(1.0, abs=0.15)  # measured: 0.98
    assert figures["coverage"] >= 0.95  # expected 0.9997 for one distribution; measured: 1.000
    assert figures["precision"] >= 0.9 and figures["recall"] >= 0.9  # measured: 0.96 each


def test_digits_of_half_the_classes_lose_coverage_and_recall_not_precision(quality, splits):
    low = splits.train.images[splits.train.labels < 5][:2000]
    figures = quality(low)
    assert 0.4 <= figures["coverage"] <= 0.65 and 0.4 <= figures["recall"] <= 0.65  # measured: 0.55, 0.53
    assert figures["precision"] >= 0.9 and figures["density"] >= 0.8  # measured: 0.97, 1.03


def test_blurring_lowers_density_and_then_precision(quality, real_digits):
    sharp, soft, blurred = (quality(gaussian_filter(real_digits, (0, s, s))) for s in (0, 1, 2))
    assert sharp["density"] > soft["density"] > blurred["density"]  # measured: 0.98, 0.72, 0.06
    assert blurred["density"] < 0.2 and blurred["precision"] < 0.5 and blurred["coverage"] < 0.1
    assert soft["recall"] < 0.05 and blurred["recall"] < 0.05
    assert sharp["frechet_distance"] < soft["frechet_distance"] < blurred["frechet_distance"]


def test_noise_images_score_near_zero_density_coverage_and_recall(quality, splits):
    """The judge reads every noise image alike (as an 8): one tight cluster of features, which lies in
    the wide balls of a few outlying real digits. Precision counts those; density and coverage do not."""
    figures = quality(ood.uniform_noise(splits.val, 2000).images)
    assert figures["density"] < 0.3 and figures["coverage"] < 0.05 and figures["recall"] < 0.01
    assert figures["precision"] < 0.9  # real digits: 0.96; measured: 0.86, the outliers' share


def test_copies_of_one_held_out_digit_cover_almost_nothing(quality, splits):
    figures = quality(np.repeat(splits.val.images[:1], 1000, axis=0))
    assert figures["coverage"] * 500 == pytest.approx(figures["density"] * fd.K)
    assert figures["coverage"] <= 0.05 and figures["precision"] == 1.0


def test_the_2d_vae_samples_beat_noise_and_codes_far_outside_the_prior_do_worse(quality, splits):
    (entry,) = (e for e in pretrained.read_index() if e["name"] == "vae-2d")
    vae = checkpoint.load(entry["path"]).model
    z = regularity.sample_codes(np.zeros((2, 2)), 2000, "prior", seed=0)
    samples, far = quality(explore.decode(vae, z)), quality(explore.decode(vae, 10 * z))
    noise = quality(ood.uniform_noise(splits.val, 2000).images)
    assert samples["density"] > noise["density"] + 0.4 and samples["coverage"] > noise["coverage"] + 0.3
    # measured: density 0.94 -> 0.53, coverage 0.47 -> 0.38, precision 0.96 -> 0.74
    assert far["density"] < samples["density"] - 0.2 and far["coverage"] < samples["coverage"]
    assert far["precision"] < samples["precision"] - 0.1
    assert far["frechet_distance"] > samples["frechet_distance"]
