"""Continuity and completeness measures, on toy models whose right answers are known.

Most tests use :class:`Toy`: its code is the image's own pixels and its decoder is any
function given to it, so a decoder that is linear, has a cliff, or has a known gain can be
set up directly. The completeness tests add tiny VAEs with hand-set encoders and, once, a
tiny model and judge trained on the 8x8 digits.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree
from torch import nn

from aelab import checkpoint, data, explore, judge, models, pretrained, regularity
from aelab.errors import CheckpointError
from aelab.judge import Judge, judge_for, load_judge, save_judge, train_judge
from aelab.train import TrainConfig, fit

CONTINUITY_KEYS = {"jump_ratio", "sensitivity_data", "sensitivity_samples"}  # per-item arrays
COMPLETENESS_KEYS = {"sampler", "density", "coverage", "frechet_distance"}


class Toy(nn.Module):
    """A deterministic stand-in model: an image (N, 1, D) is its own code; decode is ``decode_fn``.

    Every batch of codes given to :meth:`decode` is kept in ``decoded``, so a test can see
    which codes a measure decoded.
    """

    def __init__(self, decode_fn: Callable[[torch.Tensor], torch.Tensor], latent_dim: int = 2,
                 image_shape: tuple[int, int] = (1, 6)) -> None:
        super().__init__()
        self.decode_fn, self.latent_dim, self.image_shape = decode_fn, latent_dim, image_shape
        self.decoded: list[np.ndarray] = []

    has_prior = False

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, : self.latent_dim]

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.encode(x), None

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        self.decoded.append(z.numpy().copy())
        return self.decode_fn(z).reshape(-1, *self.image_shape)


def as_images(codes: np.ndarray) -> np.ndarray:
    """Images a :class:`Toy` encodes to exactly ``codes``: (N, D) -> (N, 1, D)."""
    return np.asarray(codes, np.float32)[:, None, :]


def uniform_codes(n: int = 400, dim: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, dim)).astype(np.float32)


MIX = torch.as_tensor(np.random.default_rng(1).normal(size=(2, 6)), dtype=torch.float32)  # (2,) -> (6,) pixels


def linear(gain: float = 1.0) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda z: gain * (z @ MIX)


def smooth(gain: float = 1.0) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda z: gain * torch.tanh(z @ MIX)


def cliff(z: torch.Tensor) -> torch.Tensor:
    """A hard step along the first latent axis: every pixel flips from 0 to 1 at z_0 = 0."""
    return torch.sigmoid(1000.0 * z[:, :1]).expand(-1, 6)


# ---- continuity ------------------------------------------------------------------------------


def test_a_linear_decoder_changes_evenly_along_every_line():
    figures = regularity.continuity(Toy(linear()), as_images(uniform_codes()), pairs=100, steps=16)
    assert set(figures) == CONTINUITY_KEYS
    assert figures["jump_ratio"].shape == (100,)
    assert figures["jump_ratio"] == pytest.approx(np.ones(100), abs=1e-4)


def test_a_cliff_in_the_decoder_gives_a_large_jump_ratio():
    cliffy = regularity.continuity(Toy(cliff), as_images(uniform_codes()), pairs=200)
    gentle = regularity.continuity(Toy(smooth()), as_images(uniform_codes()), pairs=200)
    assert np.percentile(cliffy["jump_ratio"], 90) > 5
    assert np.percentile(gentle["jump_ratio"], 90) < 2


def test_sensitivity_of_a_linear_decoder_is_its_gain_times_the_latent_spread():
    codes = uniform_codes()
    identity = lambda z: 3.0 * z  # noqa: E731  (pixel change = 3 x latent move)
    figures = regularity.continuity(Toy(identity, image_shape=(1, 2)), as_images(codes), pairs=20, samples=300)
    expected = 3.0 * regularity.spread(codes)
    assert figures["sensitivity_data"] == pytest.approx(np.full(len(codes), expected), rel=1e-3)
    # at sampled codes too, in units of the data codes' spread
    assert figures["sensitivity_samples"] == pytest.approx(np.full(300, expected), rel=1e-3)


@pytest.mark.parametrize("decoder", [linear, smooth])
def test_sensitivity_doubles_when_the_decoder_gain_doubles(decoder):
    images = as_images(uniform_codes())
    once = regularity.continuity(Toy(decoder(1.0)), images, pairs=50)
    twice = regularity.continuity(Toy(decoder(2.0)), images, pairs=50)
    for key in ("sensitivity_data", "sensitivity_samples"):
        assert twice[key] == pytest.approx(2 * once[key], rel=1e-3)
    assert twice["jump_ratio"] == pytest.approx(once["jump_ratio"], rel=1e-3)  # a gain changes every step alike


def test_continuity_does_not_depend_on_the_latent_scale():
    """The same images through a latent stretched 10x: sensitivity is per unit of the spread."""
    codes = uniform_codes()
    plain = regularity.continuity(Toy(smooth()), as_images(codes), pairs=50)
    stretched = regularity.continuity(Toy(lambda z: smooth()(z / 10)), as_images(10 * codes), pairs=50)
    for key in CONTINUITY_KEYS:
        assert stretched[key] == pytest.approx(plain[key], rel=1e-3)


def test_continuity_is_deterministic_for_a_seed():
    images = as_images(uniform_codes())
    first = regularity.continuity(Toy(smooth()), images, pairs=50, seed=3)
    again = regularity.continuity(Toy(smooth()), images, pairs=50, seed=3)
    other = regularity.continuity(Toy(smooth()), images, pairs=50, seed=4)
    for key in CONTINUITY_KEYS:
        assert np.array_equal(first[key], again[key])
        assert not np.array_equal(first[key], other[key])


@pytest.mark.parametrize("n_images", [2, 3])
def test_interpolation_pairs_never_join_an_image_to_itself(n_images):
    toy = Toy(linear())
    figures = regularity.continuity(toy, as_images(uniform_codes(n_images)), pairs=300, steps=8)
    lines = toy.decoded[0].reshape(300, 9, 2)  # the first decode is the interpolation lines
    assert np.all(np.any(lines[:, 0] != lines[:, -1], axis=1))
    assert figures["jump_ratio"] == pytest.approx(np.ones(300), abs=1e-4)  # a self-pair would give 0


# ---- frechet_distance ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def features() -> np.ndarray:
    """2,000 correlated 5-D features, centred."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 5)) @ rng.normal(size=(5, 5))
    return a - a.mean(0)


def test_frechet_distance_of_a_set_to_itself_is_zero(features):
    assert abs(regularity.frechet_distance(features, features)) < 1e-6


def test_frechet_distance_of_a_shifted_copy_is_the_squared_shift(features):
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    assert regularity.frechet_distance(features, features + shift) == pytest.approx(np.sum(shift**2), rel=1e-6)


def test_frechet_distance_grows_with_covariance_mismatch(features):
    """For b = s a (a centred): C_b = s^2 C_a, so the distance is (1 - s)^2 Tr(C_a)."""
    trace = np.trace(np.cov(features, rowvar=False))
    distances = [regularity.frechet_distance(features, s * features) for s in (1.0, 1.5, 2.0, 3.0)]
    assert distances == sorted(distances) and distances[0] < 1e-6
    for s, distance in zip((1.0, 1.5, 2.0, 3.0), distances, strict=True):
        assert distance == pytest.approx((1 - s) ** 2 * trace, rel=1e-4, abs=1e-5)


def test_frechet_distance_is_symmetric_and_finite_with_a_constant_feature(features):
    rng = np.random.default_rng(1)
    other = rng.normal(size=(1500, 5))
    a, b = features.copy(), other.copy()
    a[:, 2] = b[:, 2] = 0.5  # the same constant in both
    distance = regularity.frechet_distance(a, b)
    assert math.isfinite(distance)
    without = regularity.frechet_distance(np.delete(a, 2, 1), np.delete(b, 2, 1))
    assert distance == pytest.approx(without, abs=1e-3)
    assert regularity.frechet_distance(b, a) == pytest.approx(distance, rel=1e-6)
    a[:, 2] = 0.0  # constant in one set only
    assert math.isfinite(regularity.frechet_distance(a, other)) and regularity.frechet_distance(a, other) > without


# ---- sample_codes ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def train_codes() -> np.ndarray:
    """3,000 codes of a correlated Gaussian away from the origin, mean (3, -2)."""
    rng = np.random.default_rng(0)
    return rng.multivariate_normal([3.0, -2.0], [[4.0, 1.5], [1.5, 1.0]], 3000).astype(np.float32)


@pytest.mark.parametrize("sampler", regularity.SAMPLERS)
@pytest.mark.parametrize("dim", [1, 2, 5])
def test_sampled_codes_have_the_codes_width(sampler, dim):
    codes = np.random.default_rng(0).normal(size=(200, dim)).astype(np.float32)
    z = regularity.sample_codes(codes, 37, sampler)
    assert z.shape == (37, dim) and z.dtype == np.float32 and np.isfinite(z).all()
    assert np.array_equal(z, regularity.sample_codes(codes, 37, sampler))  # seeded
    assert not np.array_equal(z, regularity.sample_codes(codes, 37, sampler, seed=1))


def test_prior_samples_are_standard_normal_wherever_the_codes_are(train_codes):
    z = regularity.sample_codes(train_codes, 20000, "prior")
    assert np.abs(z.mean(0)).max() < 0.03
    assert np.abs(z.std(0) - 1).max() < 0.03


def test_gaussian_samples_match_the_codes_mean_and_covariance(train_codes):
    z = regularity.sample_codes(train_codes, 20000, "gaussian")
    assert np.allclose(z.mean(0), train_codes.mean(0), atol=0.05)
    assert np.allclose(np.cov(z, rowvar=False), np.cov(train_codes, rowvar=False), atol=0.1)


def test_box_samples_fill_the_codes_bounding_box(train_codes):
    z = regularity.sample_codes(train_codes, 20000, "box")
    lo, hi = train_codes.min(0), train_codes.max(0)
    assert np.all(z >= lo) and np.all(z <= hi)
    assert np.all(np.abs(z.min(0) - lo) < 0.01 * (hi - lo)) and np.all(np.abs(z.max(0) - hi) < 0.01 * (hi - lo))
    below_middle = (z < (lo + hi) / 2).mean(0)
    assert np.allclose(below_middle, 0.5, atol=0.02)  # uniform, not Gaussian


def test_an_unknown_sampler_is_refused(train_codes):
    with pytest.raises(ValueError, match="prior"):
        regularity.sample_codes(train_codes, 10, "uniform")


# ---- nearest_distances / hole_threshold ------------------------------------------------------


def test_nearest_distances_with_and_without_self():
    codes = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]], np.float32)
    assert np.allclose(regularity.nearest_distances(codes, codes), 0)
    assert np.allclose(regularity.nearest_distances(codes, codes, exclude_self=True), [1, 1, 2])
    assert np.allclose(regularity.nearest_distances(np.array([[0.0, 2.0]]), codes), [2])


def test_excluding_self_is_right_past_the_first_batch_of_1024():
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 60), np.linspace(-1, 1, 50)), -1).reshape(-1, 2)
    codes = (grid + np.random.default_rng(0).uniform(-0.005, 0.005, grid.shape)).astype(np.float32)  # 3,000
    exact = cKDTree(codes.astype(np.float64)).query(codes.astype(np.float64), k=2)[0][:, 1]  # nearest other
    got = regularity.nearest_distances(codes, codes, exclude_self=True)
    assert np.all(got > 0)
    assert np.allclose(got, exact, rtol=2e-3)


def test_hole_threshold_separates_the_cloud_from_far_away_points():
    cloud = np.random.default_rng(0).normal(size=(1000, 2)).astype(np.float32)
    threshold = regularity.hole_threshold(cloud)
    inside = np.array([[0.0, 0.0], [0.3, -0.2], [-0.5, 0.4]], np.float32)
    outside = np.array([[6.0, 6.0], [-8.0, 0.0], [0.0, 10.0]], np.float32)
    assert np.all(regularity.nearest_distances(inside, cloud) < threshold)
    assert np.all(regularity.nearest_distances(outside, cloud) > threshold)
    own = regularity.nearest_distances(cloud, cloud, exclude_self=True)
    assert np.mean(own > threshold) == pytest.approx(0.01, abs=0.002)  # its 99th percentile


# ---- posterior_codes -------------------------------------------------------------------------


def hand_set_vae(mu_weight: list[list[float]], log_sigma: list[float]) -> models.VAE:
    """A VAE on 1x2 "images" with mu = W x and fixed sigmas: encoder = one Linear (2 -> 4)."""
    vae = models.VAE(image_shape=(1, 2), latent_dim=2, hidden=())
    [layer] = list(vae.encoder.children())
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[:2] = torch.tensor(mu_weight)
        layer.bias.zero_()
        layer.bias[2:] = 2 * torch.tensor(log_sigma)  # logvar = 2 log sigma
    return vae.eval()


def test_a_deterministic_encoder_gives_its_codes():
    codes = uniform_codes(50)
    assert np.array_equal(regularity.posterior_codes(Toy(linear()), as_images(codes)), codes)


def test_a_vae_gives_one_draw_per_image_around_its_means():
    vae = hand_set_vae([[1.0, 0.0], [0.0, 1.0]], [math.log(0.5), math.log(2.0)])
    images = as_images(np.random.default_rng(0).normal(size=(20000, 2)))
    means, sigmas = explore.encode(vae, images)
    assert np.allclose(means, images[:, 0], atol=1e-6) and np.allclose(sigmas, [0.5, 2.0], rtol=1e-5)
    draws = regularity.posterior_codes(vae, images)
    assert draws.shape == (20000, 2) and draws.dtype == np.float32
    offsets = draws - means
    assert np.abs(offsets.mean(0)).max() < 0.05
    assert np.allclose(offsets.std(0), [0.5, 2.0], rtol=0.03)
    assert np.array_equal(draws, regularity.posterior_codes(vae, images))
    assert not np.array_equal(draws, regularity.posterior_codes(vae, images, seed=1))


# ---- hole_map --------------------------------------------------------------------------------


def test_hole_map_is_zero_in_the_cloud_and_one_far_from_it():
    cloud = (np.random.default_rng(0).normal(size=(2000, 2)) * 0.3 + [3.0, -4.0]).astype(np.float32)
    holes = regularity.hole_map(cloud, (-5.0, 5.0), (-5.0, 5.0), resolution=11)  # cells 1 apart
    assert holes.shape == (11, 11) and holes.dtype == np.float32
    assert holes.min() >= 0 and holes.max() <= 1
    assert holes[1, 8] == 0  # row 1 is y = -4, column 8 is x = 3: the cloud
    assert holes[8, 1] == 1  # the transposed cell (x = -4, y = 3) is far from it
    assert holes[10, 0] == 1 and holes[0, 0] == 1 and holes[10, 10] == 1
    assert np.mean(holes == 1) > 0.8


def test_hole_map_rises_from_zero_at_the_threshold_to_one_at_three_times_it():
    lattice = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2).astype(np.float32)
    assert regularity.hole_threshold(lattice) == pytest.approx(1.0)  # every point is 1 from its neighbour
    holes = regularity.hole_map(lattice, (9.0, 13.0), (0.0, 4.0), resolution=5)  # column k: k past the edge
    assert np.allclose(holes, [[0.0, 0.0, 0.5, 1.0, 1.0]] * 5, atol=1e-6)


# ---- completeness ----------------------------------------------------------------------------


class PixelJudge:
    """A judge whose features are the pixels themselves, so sample quality is judged where the answer is known."""

    @staticmethod
    def features(images: np.ndarray) -> np.ndarray:
        return np.asarray(images, np.float32).reshape(len(images), -1)


def plain_decoder() -> Toy:
    """Codes are 1x2 images and decode to themselves, so samples are judged exactly where they land."""
    return Toy(lambda z: z, image_shape=(1, 2))


def two_blobs(n: int = 1000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.where(rng.random((n, 1)) < 0.5, -10.0, 10.0) * np.array([1.0, 0.0])
    return (centres + rng.normal(size=(n, 2))).astype(np.float32)


def test_samples_from_the_data_distribution_have_density_near_one_and_cover_it():
    """Naeem et al. (2020): for fakes from the real distribution, E[density] = 1 and coverage is near 1."""
    codes = np.random.default_rng(0).normal(size=(2000, 2)).astype(np.float32)
    held = np.random.default_rng(1).normal(size=(300, 2)).astype(np.float32)
    figures = regularity.completeness(plain_decoder(), as_images(codes), as_images(held), PixelJudge(), samples=1000)
    assert set(figures) == COMPLETENESS_KEYS and figures["sampler"] == "gaussian"
    assert figures["density"].shape == (1000,) and figures["coverage"].shape == (300,)
    assert figures["density"].mean() == pytest.approx(1.0, abs=0.15)
    assert figures["coverage"].mean() > 0.9


def test_samples_in_the_gap_between_two_clusters_score_near_zero():
    """The prior N(0, I) sits between two blobs of codes at x = -10 and 10: every sample misses the data."""
    codes, held = two_blobs(), two_blobs(300, seed=1)
    figures = regularity.completeness(plain_decoder(), as_images(codes), as_images(held), PixelJudge(),
                                      samples=1000, sampler="prior")
    assert figures["density"].mean() < 0.01 and figures["coverage"].mean() < 0.01


def test_samples_from_one_of_two_clusters_keep_their_density_but_cover_half():
    """Mode dropping: density cannot see it, coverage can."""
    codes, held = two_blobs(), two_blobs(300, seed=1)
    right = codes[codes[:, 0] > 0]
    figures = regularity.completeness(plain_decoder(), as_images(right), as_images(held), PixelJudge(),
                                      samples=1000)
    assert figures["density"].mean() > 0.7
    assert figures["coverage"].mean() == pytest.approx(np.mean(held[:, 0] > 0), abs=0.08)


@pytest.fixture(scope="module")
def digits_splits() -> data.Splits:
    return data.load_splits("digits", seed=0)


@pytest.fixture(scope="module")
def small_judge(digits_splits) -> Judge:
    return train_judge(digits_splits, dataclasses.replace(judge.TRAINING, epochs=10))


@pytest.fixture(scope="module")
def trained_pair(digits_splits) -> dict[str, models.Autoencoder]:
    """A tiny AE and VAE with 2-D codes, fitted for a few epochs on the digits."""
    pair = {}
    for kind in ("ae", "vae"):
        torch.manual_seed(0)
        model = models.build(kind, image_shape=(8, 8), latent_dim=2, hidden=(32,))
        fit(model, digits_splits.train.images, digits_splits.val.images,
            TrainConfig(epochs=8, batch_size=64, lr=3e-3))
        pair[kind] = model.eval()
    return pair


@pytest.mark.parametrize(("kind", "native"), [("ae", "gaussian"), ("vae", "prior")])
def test_measure_on_a_trained_model_reports_every_figure_in_range(kind, native, trained_pair, small_judge,
                                                                  digits_splits):
    model = trained_pair[kind]
    figures = regularity.measure(model, digits_splits.train.images, digits_splits.val.images, small_judge,
                                 pairs=50, samples=300)
    assert set(figures) == {"continuity", "completeness", "items"}
    assert set(figures["items"]) == {m.key for m in regularity.MEASURES}
    assert set(figures["continuity"]) == {regularity.label(m) for m in regularity.MEASURES if m.group == "continuity"}
    completeness = figures["completeness"]
    assert set(completeness) == {"sampler", "frechet_distance", "density_mean", "coverage_mean"}
    assert completeness["sampler"] == native == regularity.native_sampler(model)
    assert 0 <= completeness["coverage_mean"] <= 1 and completeness["density_mean"] >= 0
    assert all(math.isfinite(v) and v >= 0 for v in figures["continuity"].values())
    assert figures["continuity"]["jump_ratio_p90"] >= figures["continuity"]["jump_ratio_median"] >= 1
    for m in regularity.MEASURES:  # each summary is its statistic of its items
        assert figures[m.group][regularity.label(m)] == pytest.approx(m.summary(figures["items"][m.key]))
    json.dumps({g: figures[g] for g in ("continuity", "completeness")})  # plain floats and strings: the CLI prints it


def test_the_sampler_changes_the_samples(trained_pair, small_judge, digits_splits):
    train, held = digits_splits.train.images, digits_splits.val.images
    runs = {s: regularity.completeness(trained_pair["ae"], train, held, small_judge, samples=300, sampler=s)
            for s in regularity.SAMPLERS}
    assert {s: r["sampler"] for s, r in runs.items()} == {s: s for s in regularity.SAMPLERS}
    assert len({float(r["density"].mean()) for r in runs.values()}) == 3


def test_training_makes_samples_more_like_real_digits(trained_pair, small_judge, digits_splits):
    """An untrained decoder's samples are noise-like blurs: the trained model's cover more real digits."""
    torch.manual_seed(0)
    untrained = models.build("vae", image_shape=(8, 8), latent_dim=2, hidden=(32,)).eval()
    train, held = digits_splits.train.images, digits_splits.val.images
    before = regularity.completeness(untrained, train, held, small_judge, samples=300)
    after = regularity.completeness(trained_pair["vae"], train, held, small_judge, samples=300)
    assert before["coverage"].mean() < 0.02 < 0.05 < after["coverage"].mean()  # a tiny model, 8 epochs
    assert after["density"].mean() > 3 * before["density"].mean()


# ---- comparability, winner, verdict ----------------------------------------------------------


def small(kind: str = "ae", image_shape=(8, 8), latent_dim: int = 2) -> models.Autoencoder:
    return models.build(kind, image_shape=image_shape, latent_dim=latent_dim, hidden=(8,))


def test_models_of_the_same_images_and_latent_size_are_comparable():
    assert regularity.comparability_problem(small("ae"), small("vae")) is None
    assert regularity.comparability_problem(small("ae", latent_dim=5), small("dae", latent_dim=5)) is None


def test_different_latent_sizes_are_explained():
    problem = regularity.comparability_problem(small(latent_dim=2), small("vae", latent_dim=16))
    assert problem is not None
    assert "latent" in problem and "2" in problem and "16" in problem


def test_different_image_shapes_are_explained():
    problem = regularity.comparability_problem(small(image_shape=(8, 8)), small(image_shape=(28, 28)))
    assert problem is not None
    assert "8x8" in problem and "28x28" in problem


def items(**arrays) -> dict:
    """A figures dict as :func:`regularity.measure` returns it, from given per-item arrays (the rest: ones)."""
    base = {m.key: np.ones(500) for m in regularity.MEASURES} | {"density": np.ones(2000)}
    return {"items": base | {k: np.asarray(v, np.float64) for k, v in arrays.items()}}


def test_two_models_with_the_same_items_tie_on_every_measure():
    rng = np.random.default_rng(0)
    same = {m.key: rng.gamma(2.0, size=500) for m in regularity.MEASURES}
    result = regularity.compare(items(**same), items(**same), ("a", "b"))
    assert set(result) == {regularity.label(m) for m in regularity.MEASURES}
    assert all(row["more regular"] == "tie" and row["difference"] == 0 for row in result.values())
    # paired measures resample the same items in both: the interval is exactly 0
    assert all(row["interval"] == (0.0, 0.0) for row in result.values() if row["measure"].paired)


def test_a_paired_shift_smaller_than_the_spread_is_still_found():
    """Pairing: every line one step worse in the second model, buried in noise 50 times larger between lines."""
    rng = np.random.default_rng(0)
    lines = rng.normal(100, 50, 500)
    result = regularity.compare(items(jump_ratio=lines), items(jump_ratio=lines + 1.0), ("a", "b"))
    row = result["jump_ratio_median"]
    assert row["more regular"] == "a" and row["difference"] == pytest.approx(-1.0)
    assert row["interval"][0] < -1.0 + 1e-9 and row["interval"][1] < 0


def test_higher_density_and_coverage_are_more_regular():
    rng = np.random.default_rng(0)
    worse, better = items(density=rng.poisson(3, 2000) / 5, coverage=rng.random(500) < 0.5), \
        items(density=rng.poisson(5, 2000) / 5, coverage=rng.random(500) < 0.9)
    result = regularity.compare(worse, better, ("worse", "better"))
    assert result["density_mean"]["more regular"] == result["coverage_mean"]["more regular"] == "better"
    assert result["jump_ratio_median"]["more regular"] == "tie"


def test_two_draws_of_the_same_noise_are_a_tie_nearly_every_time():
    """A 95% interval: of 40 comparisons of independent draws from one distribution, about 2 may differ."""
    rng = np.random.default_rng(0)
    called = [regularity.compare(items(sensitivity_samples=rng.gamma(2.0, size=400)),
                                 items(sensitivity_samples=rng.gamma(2.0, size=400)), draws=400, seed=s)
              ["sensitivity_samples_median"]["more regular"] for s in range(40)]
    assert called.count("tie") >= 34


# ---- the judge -------------------------------------------------------------------------------


def test_a_saved_judge_loads_with_the_same_features(tmp_path, digits_splits):
    torch.manual_seed(0)
    original = Judge((8, 8), n_classes=10, width=16, n_features=4).eval()
    save_judge(original, tmp_path / "judge", {"data": "digits", "val_accuracy": 0.5})
    loaded, info = load_judge(tmp_path / "judge")
    # saved like every model: the checkpoint format, its kind, never a pickle
    assert info["format"] == checkpoint.FORMAT and info["kind"] == "judge"
    assert info["data"] == "digits" and info["val_accuracy"] == 0.5
    assert loaded.config() == original.config()
    images = digits_splits.val.images
    assert np.array_equal(loaded.features(images), original.features(images))
    assert loaded.features(images).shape == (len(images), 4)
    assert sorted(p.name for p in (tmp_path / "judge").iterdir()) == ["config.json", "model.safetensors"]


def test_load_judge_refuses_a_model_folder_and_a_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="not an aelab judge"):
        load_judge(pretrained.default_dir() / "ae-2d")
    with pytest.raises(CheckpointError, match="nowhere"):
        load_judge(tmp_path / "nowhere")


def test_load_judge_refuses_another_format_and_broken_files(tmp_path):
    torch.manual_seed(0)
    save_judge(Judge((8, 8), width=16, n_features=4), tmp_path, {"data": "digits"})
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(config | {"format": "aelab-judge"}))
    with pytest.raises(CheckpointError, match="not an aelab model config"):
        load_judge(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=str(tmp_path)):
        load_judge(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError):
        load_judge(tmp_path)


def test_judge_for_mnist5k_is_the_shipped_judge(monkeypatch):
    monkeypatch.setattr(judge, "train_judge", lambda *a, **k: pytest.fail("trained a judge instead of loading it"))
    splits = data.load_splits("mnist5k", seed=0)
    chosen = judge_for(splits, pretrained.judge_dir())
    shipped, info = load_judge(pretrained.judge_dir())
    assert info["data"] == "mnist5k"
    images = splits.val.images[:200]
    assert np.array_equal(chosen.features(images), shipped.features(images))
    assert chosen.accuracy(splits.val.images, splits.val.labels) > 0.9


def test_judge_for_other_data_trains_a_new_one(monkeypatch, digits_splits):
    made = []
    monkeypatch.setattr(judge, "train_judge", lambda splits, **k: made.append(splits) or "new")
    assert judge_for(digits_splits, pretrained.judge_dir()) == "new"  # shipped, but for mnist5k
    assert judge_for(digits_splits, None) == "new"
    assert judge_for(digits_splits, pretrained.default_dir() / "no-judge-here") == "new"
    assert made == [digits_splits] * 3


@pytest.fixture(scope="module")
def digits_judge(digits_splits) -> Judge:
    return judge_for(digits_splits, pretrained.judge_dir())


def test_the_judge_trained_for_the_digits_works_on_8x8_images(digits_judge, digits_splits):
    assert digits_judge.image_shape == (8, 8) and digits_judge.n_classes == 10
    assert digits_judge.features(digits_splits.val.images).shape == (len(digits_splits.val), 32)
    assert digits_judge.accuracy(digits_splits.val.images, digits_splits.val.labels) > 0.6  # chance: 0.1


def test_the_digits_judge_is_about_as_accurate_as_an_mlp_can_be(digits_judge, digits_splits):
    assert digits_judge.accuracy(digits_splits.val.images, digits_splits.val.labels) >= 0.9


def test_the_judge_is_trained_by_fit_and_saved_as_a_checkpoint(tmp_path, digits_splits, monkeypatch):
    """One trainer and one file format for every model: the judge goes through train.fit and checkpoint."""
    calls = []
    real_fit = judge.fit
    monkeypatch.setattr(judge, "fit", lambda *a, **k: calls.append(k) or real_fit(*a, **k))
    trained = train_judge(digits_splits, dataclasses.replace(judge.TRAINING, epochs=3))
    assert len(calls) == 1 and calls[0]["train_labels"] is digits_splits.train.labels
    assert trained.accuracy(digits_splits.val.images, digits_splits.val.labels) > 0.5  # it learned
    save_judge(trained, tmp_path / "j", {"data": "digits"})
    loaded = checkpoint.load(tmp_path / "j", any_kind=True)
    assert isinstance(loaded.model, Judge) and loaded.info["kind"] == "judge"
    with pytest.raises(CheckpointError, match="not an autoencoder"):
        checkpoint.load(tmp_path / "j")  # the explorer and the CLI take autoencoders only


def test_the_shipped_judge_classifies_held_out_digits():
    shipped, info = load_judge(pretrained.judge_dir())
    splits = data.load_splits("mnist5k")
    accuracy = shipped.accuracy(splits.val.images, splits.val.labels)
    assert accuracy > 0.95 and accuracy == pytest.approx(info["val_accuracy"])
    assert info["training"] == dataclasses.asdict(judge.TRAINING)  # as `python -m aelab pretrained` trains it


# ---- figures kept on disk --------------------------------------------------------------------


def test_stored_figures_are_written_once_read_back_and_keyed_by_the_weights(tmp_path, trained_pair, small_judge,
                                                                          digits_splits):
    train, held = digits_splits.train.images, digits_splits.val.images
    model_dir, store = tmp_path / "model", tmp_path / "store"
    checkpoint.save(trained_pair["ae"], model_dir, {"data": {"spec": "digits"}})
    settings = {"pairs": 50, "samples": 300}
    first = regularity.stored_measure(trained_pair["ae"], model_dir, train, held, small_judge,
                                      folders=[tmp_path / "shipped", store], **settings)
    [written] = store.glob("figures-*.npz")
    again = regularity.stored_measure(None, model_dir, train, held, small_judge, folders=[store], **settings)
    assert again["continuity"] == first["continuity"] and again["completeness"] == first["completeness"]
    assert all(np.array_equal(again["items"][k], first["items"][k]) for k in first["items"])
    # other weights are another model: measured anew, under another key
    other = trained_pair["vae"]
    checkpoint.save(other, model_dir, {"data": {"spec": "digits"}})
    regularity.stored_measure(other, model_dir, train, held, small_judge, folders=[store], **settings)
    assert len(list(store.glob("figures-*.npz"))) == 2
    # a damaged file is only a missed cache
    written.write_bytes(b"not a zip")
    checkpoint.save(trained_pair["ae"], model_dir, {"data": {"spec": "digits"}})
    redone = regularity.stored_measure(trained_pair["ae"], model_dir, train, held, small_judge, folders=[store],
                                       **settings)
    assert redone["continuity"] == first["continuity"]
