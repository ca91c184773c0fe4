"""The anomaly lab's library: ROC, AUC, precision and recall, the OOD sets, scores, and the shipped models' quality."""

from __future__ import annotations

import functools
import gzip
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sklearn_roc_curve

from aelab import checkpoint, data, explore, metrics, pretrained
from aelab.errors import DataError
from aelab.labs import anomaly, ood

SHIPPED = [e for e in pretrained.read_index() if e.get("data", "mnist5k") == "mnist5k"]


@functools.cache
def _model(name: str):
    return checkpoint.load(next(e["path"] for e in SHIPPED if e["name"] == name)).model


@pytest.fixture(scope="module")
def digits(aelab_cache_dir) -> data.ImageSet:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AELAB_CACHE_DIR", str(aelab_cache_dir))
        return ood.held_out_digits()


@pytest.fixture(scope="module")
def ood_sets(digits) -> dict[str, data.ImageSet]:
    return {name: ood.make(name, digits) for name in ood.OOD_SETS}


# ---- ROC, AUC, precision and recall ----------------------------------------------------------------


scored = st.integers(2, 60).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 6), min_size=n, max_size=n),  # few distinct values: many ties
    st.lists(st.booleans(), min_size=n, max_size=n)).filter(lambda t: 0 < sum(t[1]) < n))


@settings(max_examples=300, deadline=None)
@given(scored)
def test_roc_auc_matches_scikit_learn_with_ties(case):
    scores, labels = np.array(case[0], float) / 3, np.array(case[1])
    assert metrics.roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    fpr, tpr, thresholds = metrics.roc_curve(scores, labels)
    sk_fpr, sk_tpr, _ = sklearn_roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    assert thresholds[0] == np.inf and np.all(np.diff(thresholds) < 0)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 400))
def test_roc_auc_matches_scikit_learn_on_random_scores(seed, n):
    rng = np.random.default_rng(seed)
    labels = np.r_[0, 1, rng.integers(0, 2, n - 2)]
    scores = rng.normal(size=n) + labels
    assert metrics.roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_auc_is_the_trapezoid_area_and_ties_count_one_half():
    assert metrics.auc([0, 1], [0, 1]) == 0.5
    assert metrics.auc([0, 0, 1], [0, 1, 1]) == 1.0
    assert metrics.roc_auc([1, 1, 1, 1], [0, 1, 0, 1]) == 0.5  # all tied: chance
    assert metrics.roc_auc([0, 1, 1, 2], [0, 0, 1, 1]) == pytest.approx(0.875)  # one tied pair of four
    assert metrics.roc_auc([3, 2, 1, 0], [0, 0, 1, 1]) == 0.0
    with pytest.raises(ValueError, match="non-decreasing"):
        metrics.auc([1, 0], [0, 1])


@pytest.mark.parametrize("scores, labels, problem", [
    ([1, 2], [1, 1], "both positives and negatives"),
    ([1, np.nan], [0, 1], "finite"),
    ([1, 2, 3], [0, 1], "3 scores but 2 labels"),
])
def test_roc_curve_refuses_what_has_no_curve(scores, labels, problem):
    with pytest.raises(ValueError, match=problem):
        metrics.roc_curve(scores, labels)


@pytest.mark.parametrize("threshold, precision, recall", [
    (0.35, 2 / 3, 1.0),  # flags 0.35, 0.4, 0.8: two of them positive, both positives found
    (0.5, 1.0, 0.5),  # flags 0.8 only
    (0.9, np.nan, 0.0),  # flags nothing: precision undefined
    (-np.inf, 0.5, 1.0),  # flags everything: precision is the share of positives
])
def test_precision_and_recall_at_a_threshold(threshold, precision, recall):
    got = metrics.precision_recall_at([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], threshold)
    np.testing.assert_allclose(got, (precision, recall))


def test_at_threshold_counts_both_sets():
    report = anomaly.at_threshold(np.array([1.0, 2, 3, 4]), np.array([3.0, 5, 6]), 3.0)
    assert (report.flagged_inliers, report.inliers, report.flagged_outliers, report.outliers) == (2, 4, 3, 3)
    assert (report.precision, report.recall, report.false_positive_rate) == (0.6, 1.0, 0.5)


def test_the_threshold_grid_spans_every_score_and_reads_back_from_its_text():
    rng = np.random.default_rng(0)
    inlier, outlier = rng.lognormal(4, 0.5, 500), rng.lognormal(6, 0.5, 500)
    grid = anomaly.threshold_grid(inlier, outlier)
    assert np.all(np.diff(grid) > 0) and grid[0] <= inlier.min() and grid[-1] > outlier.max()
    assert all(float(f"{v:.3g}") == v for v in grid)  # what a link carries is exactly a grid value
    report = anomaly.at_threshold(inlier, outlier, grid[-1])
    assert report.flagged_inliers == report.flagged_outliers == 0  # the top stop flags nothing
    default = anomaly.default_threshold(inlier, grid)
    assert np.mean(inlier >= default) <= 0.05 < np.mean(inlier >= grid[np.searchsorted(grid, default) - 1])
    assert anomaly.nearest(grid, default * 1.001) == default


def test_histogram_shares_add_up_to_one_for_each_set():
    rng = np.random.default_rng(1)
    hist = anomaly.histogram(rng.lognormal(4, 0.5, 300), rng.lognormal(5, 0.5, 200), bins=30)
    assert len(hist["start"]) == len(hist["end"]) == 30 and np.all(hist["start"] < hist["end"])
    assert hist["inlier"].sum() == pytest.approx(1) and hist["outlier"].sum() == pytest.approx(1)


def test_extremes_are_the_highest_and_lowest_scores():
    most, least = anomaly.extremes(np.array([5.0, 1, 9, 1, 7]), k=2)
    assert most.tolist() == [2, 4] and least.tolist() == [1, 3]


def test_the_table_summary_names_sets_and_rows_from_the_figures():
    rng = np.random.default_rng(0)
    digits = rng.normal(0, 1, 400)
    # Row a separates y better than b does, b separates z better than a, and both separate x alike.
    shift = {"a": {"x": 3.0, "y": 2.0, "z": -0.3}, "b": {"x": 3.0, "y": 0.8, "z": 0.3}}
    noise = {name: rng.normal(0, 1, 400) for name in "xyz"}
    outliers = {row: {name: noise[name] + v for name, v in sets.items()} for row, sets in shift.items()}
    inlier = {"a": digits, "b": digits}
    table = anomaly.auc_table(inlier, outliers)
    draws = anomaly.auc_draws(inlier, outliers, draws=200)
    facts = anomaly.summary(table, draws)
    assert facts["easiest"] == ["x"] and facts["hardest"] == "z"
    assert facts["best"] == {"y": (["a"], table["a"]["y"]), "z": (["b"], table["b"]["z"])}  # x: a tie, not named
    assert facts["below_chance"] == [("a", "z", table["a"]["z"])]
    assert anomaly.compare_rows(draws["a"], draws["b"]) == {"better": ["y"], "worse": ["z"], "tie": ["x"]}


def test_bootstrap_draws_agree_with_the_auc_and_call_a_copy_a_tie():
    rng = np.random.default_rng(1)
    digits, ood_scores = rng.normal(0, 1, 300), rng.normal(0.5, 1, 300)
    assert anomaly._rank_auc(digits, ood_scores) == pytest.approx(anomaly.separation_auc(digits, ood_scores))
    draws = anomaly.auc_draws({"a": digits, "b": digits}, {"a": {"s": ood_scores}, "b": {"s": ood_scores}}, draws=100)
    assert abs(draws["a"]["s"].mean() - anomaly.separation_auc(digits, ood_scores)) < 0.01
    assert 0.01 < draws["a"]["s"].std() < 0.05  # about sqrt(AUC (1 - AUC) / n) for 300 + 300 images
    assert anomaly.differs(draws["a"]["s"], draws["b"]["s"]) == 0


# ---- the OOD sets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ood.OOD_SETS))
def test_each_ood_set_is_500_seeded_images_in_the_unit_range(name, digits, ood_sets):
    images = ood_sets[name].images
    assert images.shape == (500, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1 and images.max() > 0.5
    np.testing.assert_array_equal(ood.make(name, digits, seed=0).images, images)  # the same seed, the same set
    assert not np.array_equal(ood.make(name, digits, seed=1).images, images)
    assert len(ood.make(name, digits, n=20).images) == 20


@pytest.mark.parametrize("name", list(ood.OOD_SETS))
def test_each_ood_set_lies_farther_from_the_training_digits_than_held_out_digits_do(name, digits, ood_sets):
    train = data.load_splits("mnist5k").train.images.reshape(-1, 784).astype(np.float64)

    def median_nearest(images: np.ndarray) -> float:
        flat = images.reshape(-1, 784).astype(np.float64)
        squared = (flat**2).sum(1)[:, None] + (train**2).sum(1)[None] - 2 * flat @ train.T
        return float(np.median(np.sqrt(np.maximum(squared.min(1), 0))))

    assert median_nearest(ood_sets[name].images) > median_nearest(digits.images)


def test_inverted_and_rotated_digits_are_exactly_that(digits, ood_sets):
    index = np.random.default_rng(0).permutation(len(digits))  # the order the sets draw digits in
    np.testing.assert_array_equal(ood_sets["inverted"].images, 1 - digits.images[index])
    np.testing.assert_array_equal(ood_sets["rotated"].images, np.rot90(digits.images[index], 1, axes=(1, 2)))
    np.testing.assert_array_equal(ood_sets["rotated"].labels, digits.labels[index])


def test_letters_and_small_digits_are_labelled_and_fit_in_the_frame(ood_sets):
    letters, small = ood_sets["letters"], ood_sets["sklearn"]
    assert set(letters.labels) <= set(range(52)) and len(set(letters.labels)) > 40
    assert (letters.images.reshape(500, -1).max(1) > 0.5).all()  # every glyph drawn
    assert set(small.labels) == set(range(10))
    assert small.images[:, :4].max() == 0 and small.images[:, -4:].max() == 0  # a 20x20 box in the middle


def test_an_uploaded_npz_becomes_an_ood_set(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (700, 28, 28), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, images=images)
    spec = ood.save_upload([("my set.npz", buffer.getvalue())], tmp_path)
    assert spec.startswith("npz:") and spec.endswith("my_set.npz")
    chosen = ood.from_splits(data.load_splits(spec))
    assert chosen.images.shape == (500, 28, 28)
    assert {bytes(i) for i in (chosen.images * 255).round().astype(np.uint8)} <= {bytes(i) for i in images}


def test_uploaded_idx_files_alone_from_t10k_are_read(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (60, 28, 28), dtype=np.uint8)
    raw = b"\x00\x00\x08\x03" + np.array([60, 28, 28], ">u4").tobytes() + images.tobytes()
    spec = ood.save_upload([("t10k-images-idx3-ubyte.gz", gzip.compress(raw))], tmp_path)
    assert len(ood.from_splits(data.load_splits(spec))) == 60


def test_uploads_that_are_no_ood_set_are_refused_in_words(tmp_path):
    with pytest.raises(DataError, match="expected one .npz"):
        ood.save_upload([("notes.txt", b"hello")], tmp_path)
    buffer = io.BytesIO()
    np.savez(buffer, images=np.zeros((40, 8, 8), np.uint8))
    spec = ood.save_upload([("small.npz", buffer.getvalue())], tmp_path)
    with pytest.raises(DataError, match="8x8 pixels; the models read 28x28"):
        ood.from_splits(data.load_splits(spec))


# ---- scores ---------------------------------------------------------------------------------------


def test_scores_are_the_metrics_module_figures(digits):
    images = digits.images[:100]
    ae, vae = _model("ae-16d"), _model("vae-16d")
    np.testing.assert_allclose(anomaly.anomaly_scores(ae, images, "bce"), metrics.per_image_bce(ae, images),
                               rtol=1e-6)
    np.testing.assert_allclose(anomaly.anomaly_scores(ae, images, "mse"),
                               metrics.mse_per_image(images, explore.reconstruct(ae, images)))
    neg_elbo = anomaly.anomaly_scores(vae, images, "neg_elbo")
    assert neg_elbo.mean() == pytest.approx(metrics.evaluate(vae, images)["neg_elbo"], rel=1e-5)
    assert (neg_elbo > anomaly.anomaly_scores(vae, images, "bce")).mean() > 0.9  # the KL term is on top
    np.testing.assert_array_equal(neg_elbo, anomaly.anomaly_scores(vae, images, "neg_elbo"))  # seeded
    with pytest.raises(ValueError, match="offers the scores bce, mse, not 'neg_elbo'"):
        anomaly.anomaly_scores(ae, images, "neg_elbo")


def test_the_auc_table_has_a_row_per_scorer_and_a_column_per_set(digits, ood_sets):
    ae = _model("ae-16d")
    inlier = {"ae": anomaly.anomaly_scores(ae, digits.images)}
    table = anomaly.auc_table(inlier, {"ae": {n: anomaly.anomaly_scores(ae, s.images) for n, s in ood_sets.items()}})
    assert list(table) == ["ae"] and list(table["ae"]) == list(ood.OOD_SETS)
    assert all(0.5 < auc <= 1 for auc in table["ae"].values())


# ---- the shipped models' quality ------------------------------------------------------------------


def test_the_ae_scores_noise_far_above_held_out_digits(digits, ood_sets):
    """The issue's check: the 16-D AE's AUC against noise images is above 0.95."""
    ae = _model("ae-16d")
    inlier, noise = anomaly.anomaly_scores(ae, digits.images), anomaly.anomaly_scores(ae, ood_sets["noise"].images)
    assert anomaly.separation_auc(inlier, noise) > 0.95
    assert np.median(noise) > 10 * np.median(inlier)


@pytest.mark.parametrize("name", [e["name"] for e in SHIPPED])
def test_every_shipped_model_tells_noise_and_inverted_digits_from_digits(name, digits, ood_sets):
    model = _model(name)
    inlier = anomaly.anomaly_scores(model, digits.images)
    for set_name in ("noise", "inverted"):
        assert anomaly.separation_auc(inlier, anomaly.anomaly_scores(model, ood_sets[set_name].images)) > 0.95


@pytest.mark.parametrize("name", ["ae-16d", "vae-16d"])
def test_the_16d_ae_and_vae_tell_every_built_in_ood_set_from_digits(name, digits, ood_sets):
    model = _model(name)
    inlier = anomaly.anomaly_scores(model, digits.images)
    for set_name, images in ood_sets.items():
        assert anomaly.separation_auc(inlier, anomaly.anomaly_scores(model, images.images)) > 0.9, set_name
