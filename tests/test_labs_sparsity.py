"""The sparsity lab's statistics on hand-made codes with known answers, and features on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest

from aelab.labs import sparsity


def test_relu_activity_known_answers():
    codes = np.array([[0.0, 2.0, 0.0, 0.0],
                      [1.0, 0.0, 0.0, 0.0],
                      [3.0, 0.0, 0.0, 0.0],
                      [0.0, 0.0, 0.0, 0.0]])
    stats = sparsity.activity(codes, "relu")
    assert stats.threshold == 0.0
    np.testing.assert_allclose(stats.active_share, [0.25, 0.25, 0.25, 0.0])
    np.testing.assert_array_equal(stats.dead, [False, False, True, True])
    np.testing.assert_allclose(stats.rho_hat, [1.0, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(stats.firing_rate, [0.5, 0.25, 0.0, 0.0])


def test_sigmoid_units_fire_above_one_half():
    """Mean activation 0.05 can be sparse (1 on one image in 20) or dense (0.05 on every image)."""
    sparse_unit = np.r_[np.ones(1), np.zeros(19)]
    dense_unit = np.full(20, 0.05)
    stats = sparsity.activity(np.column_stack([sparse_unit, dense_unit]), "sigmoid")
    np.testing.assert_allclose(stats.rho_hat, [0.05, 0.05])  # the same rho_hat...
    np.testing.assert_allclose(stats.firing_rate, [0.05, 0.0])  # ...but only one of them ever fires
    np.testing.assert_array_equal(stats.dead, [False, True])


def test_linear_codes_count_magnitude():
    codes = np.array([[-5.0, 0.01], [4.0, -0.02], [0.0, 0.0]])
    stats = sparsity.activity(codes, "linear")
    np.testing.assert_array_equal(stats.active[:, 0], [True, True, False])
    assert stats.dead[1] and not stats.dead[0]


def test_histogram_counts_every_value():
    codes = np.random.default_rng(0).random((50, 8))
    counts, edges = sparsity.histogram(codes, bins=10)
    assert counts.sum() == codes.size and len(edges) == 11
    assert edges[0] == pytest.approx(codes.min()) and edges[-1] == pytest.approx(codes.max())
    counts, _ = sparsity.histogram(np.zeros((3, 3)))  # a constant code still has a histogram
    assert counts.sum() == 9


def test_feature_grid_layout_and_scaling():
    images = np.stack([np.full((2, 3), v, np.float32) for v in (1.0, -4.0, 0.0)])
    grid = sparsity.feature_grid(images, columns=2, pad=1)
    assert grid.shape == (2 * 3 + 1, 2 * 4 + 1)
    np.testing.assert_allclose(grid[1:3, 1:4], 1.0)
    np.testing.assert_allclose(grid[1:3, 5:8], -1.0)  # scaled by its own largest |value|
    np.testing.assert_allclose(grid[4:6, 1:4], 0.0)  # an all-zero feature stays zero
    assert np.isnan(grid[0]).all() and np.isnan(grid[4:6, 5:8]).all()  # padding and the empty tile


@pytest.mark.parametrize("settings, kind", [({"penalty": "l1", "activation": "relu"}, "relu"),
                                            ({"penalty": "kl"}, "sigmoid"), ({"penalty": "l1"}, "linear")])
def test_features_are_each_units_own_drawing(tiny_model, digits_batch, settings, kind):
    """For a linear decoder, unit j's feature is sigmoid(b + a_j W_j) - sigmoid(b)."""
    model = tiny_model("sae", hidden=(), **settings)
    assert sparsity.code_kind(model) == kind
    stats = sparsity.model_activity(model, digits_batch.numpy())
    feats = sparsity.features(model, stats)
    assert feats.shape == (model.latent_dim, 8, 8)
    weight = model.decoder[0].weight.detach().numpy()  # (64, K)
    bias = model.decoder[0].bias.detach().numpy()
    j = int(np.argmax(stats.firing_rate))
    a = 1.0 if kind == "sigmoid" else np.abs(stats.codes[:, j]).max()
    expected = 1 / (1 + np.exp(-(bias + a * weight[:, j]))) - 1 / (1 + np.exp(-bias))
    np.testing.assert_allclose(feats[j].ravel(), expected, atol=1e-5)
