"""Tests for aelab.selection: folds that partition and stratify, no leak into the scored fold, intervals."""

import numpy as np
import pytest
from scipy import stats

from aelab import selection
from aelab.selection import CVResult, FoldScore, cross_validate, inner_split, paired_difference, stratified_folds
from aelab.train import TrainConfig

SMALL = {"latent_dim": 4, "hidden": [32]}


def test_folds_partition_the_images_and_spread_every_label():
    labels = np.random.default_rng(1).integers(0, 10, size=1003)
    folds = stratified_folds(labels, len(labels), 5, seed=0)
    joined = np.concatenate(folds)
    assert sorted(joined.tolist()) == list(range(1003))
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    for digit in range(10):
        counts = [int((labels[f] == digit).sum()) for f in folds]
        assert max(counts) - min(counts) <= 1, (digit, counts)
    assert stratified_folds(labels, len(labels), 5, seed=0)[0].tolist() == folds[0].tolist()  # seeded
    assert stratified_folds(labels, len(labels), 5, seed=1)[0].tolist() != folds[0].tolist()


def test_folds_without_labels_and_a_bad_k():
    assert sorted(np.concatenate(stratified_folds(None, 10, 3)).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="k must be between 2"):
        stratified_folds(None, 10, 1)


def test_the_inner_slice_is_apart_and_about_its_share():
    indices = np.arange(100, 1000, 2)
    fit, stop = inner_split(indices, np.arange(1000) % 10, share=0.1, seed=0)
    assert not set(fit) & set(stop) and sorted([*fit, *stop]) == indices.tolist()
    assert len(stop) == pytest.approx(45, abs=1)


def test_t_interval_matches_scipy():
    values = np.array([150.0, 152.0, 151.0, 149.5, 153.0])
    low, high = selection.t_interval(values)
    ref = stats.t.interval(0.95, 4, loc=values.mean(), scale=stats.sem(values))
    assert (low, high) == pytest.approx(ref)
    assert np.isnan(selection.t_interval(np.array([1.0]))[0])


def test_paired_difference_cancels_what_the_folds_share():
    fold = lambda i, v: FoldScore(i, np.full(10, v), None, 1, 1, 0.0)  # noqa: E731
    hard = [150.0, 160.0, 170.0]  # folds of very different difficulty
    a, b = CVResult([fold(i, v - 1.0) for i, v in enumerate(hard)]), CVResult([fold(i, v) for i, v in enumerate(hard)])
    assert paired_difference(a, b) == pytest.approx({"mean": -1.0, "low": -1.0, "high": -1.0})


def test_cross_validation_never_trains_or_stops_on_the_fold_it_scores(monkeypatch, digits_split):
    tr, _ = digits_split
    images, labels = tr.images[:300], tr.labels[:300]
    seen = []
    real = selection.train_model
    monkeypatch.setattr(selection, "train_model", lambda kind, settings, fit, stop, config: seen.append(
        (fit, stop)) or real(kind, settings, fit, stop, config))
    cv = cross_validate("vae", SMALL, images, labels, TrainConfig(epochs=2, batch_size=64), k=3, iwae_k=8)
    folds = stratified_folds(labels, len(images), 3, seed=0)
    for (fit, stop), held in zip(seen, folds, strict=True):
        used = {x.tobytes() for x in (*fit, *stop)}
        assert not used & {x.tobytes() for x in images[held]}
        assert len(fit) + len(stop) == len(images) - len(held)
    assert [len(f.neg_elbo) for f in cv.folds] == [len(f) for f in folds]
    summary = cv.summary()
    assert summary["low"] < summary["mean"] < summary["high"] and len(summary["folds"]) == 3
    assert cv.summary("neg_iwae")["mean"] < summary["mean"] + 1  # a tighter bound, within Monte Carlo noise
