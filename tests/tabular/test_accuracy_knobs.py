"""The accuracy hyperparameters: scaling, numeric embeddings, label smoothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.metrics import r2_score

from skdl import TabularClassifier, TabularRegressor
from skdl._training.averaging import ema_decay
from skdl.modules import (
    PeriodicEmbedding,
    PiecewiseLinearEmbedding,
    TabularMLP,
    quantile_bin_edges,
)
from skdl.tabular._encoding import RobustSmoothClip


def test_robust_smooth_clip_scales_by_iqr_and_bounds_outliers():
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 2.0, size=(2001, 1))
    x[0] = 1e6  # an outlier that would dominate a standard scaler
    out = RobustSmoothClip().fit(x).transform(x)
    q1, q3 = np.quantile(x, [0.25, 0.75])
    z = (x[1:, 0] - np.median(x)) / (q3 - q1)
    expected = z / np.sqrt(1 + (z / 3) ** 2)
    np.testing.assert_allclose(out[1:, 0], expected)
    assert 2.99 < out[0, 0] < 3.0
    assert np.all(np.diff(out[np.argsort(x[:, 0]), 0]) >= 0)  # order kept


def test_robust_smooth_clip_zero_iqr_falls_back_to_half_range():
    # 90% zeros: the quartiles coincide, RobustScaler would divide by 1.
    x = np.zeros((100, 2))
    x[:10, 0] = 50.0
    x[:, 1] = 7.0  # constant column: stays finite at 0
    scaler = RobustSmoothClip().fit(x)
    np.testing.assert_allclose(scaler.scale_, [25.0, 1.0])
    out = scaler.transform(x)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[:, 1], 0.0)
    np.testing.assert_allclose(out[0, 0], 2 / np.sqrt(1 + (2 / 3) ** 2))


def test_periodic_embedding_shapes_and_trainable_frequencies():
    emb = PeriodicEmbedding(3, n_frequencies=4, d_embedding=5)
    x = torch.randn(7, 3)
    out = emb(x)
    # The raw values first, then 5 embedding columns per feature.
    assert out.shape == (7, 3 + 15) == (7, emb.out_features)
    torch.testing.assert_close(out[:, :3], x)
    lite = PeriodicEmbedding(3, n_frequencies=4, d_embedding=5, include_raw=False)
    assert lite(x).shape == (7, 15) == (7, lite.out_features)
    out.sum().backward()
    assert emb.frequencies.grad is not None
    assert emb.frequencies.grad.abs().sum() > 0


def test_numeric_embedding_is_part_of_the_first_frozen_block():
    net = TabularMLP(
        n_numeric=2,
        cardinalities=[4],
        embedding_dims=[3],
        hidden_layer_sizes=(8, 8),
        activation=torch.nn.ReLU,
        dropout=0.0,
        normalization=None,
        n_outputs=1,
        numeric_embedding="periodic",
    )
    assert "numeric_embedding" in net.block_prefixes()[0]
    assert net.blocks[0][0].in_features == net.numeric_embedding.out_features + 3


def test_periodic_embedding_fits_an_oscillating_feature_better():
    # y = sin(6 x) on one feature: hard for a small ReLU MLP on the raw value,
    # easy with a periodic basis.
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(600, 1))
    y = np.sin(6 * X[:, 0])
    X_test = rng.uniform(-2, 2, size=(300, 1))
    y_test = np.sin(6 * X_test[:, 0])
    scores = {}
    for emb in (None, "periodic"):
        reg = TabularRegressor(
            hidden_layer_sizes=(32,),
            numeric_embedding=emb,
            scaling="standard",
            max_epochs=60,
            early_stopping=False,
            lr=3e-3,
            random_state=0,
        ).fit(X, y)
        scores[emb] = r2_score(y_test, reg.predict(X_test))
    assert scores["periodic"] > 0.9
    assert scores["periodic"] > scores[None] + 0.2


def test_quantile_bin_edges_adapt_to_each_column():
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [rng.normal(size=500), rng.integers(0, 3, size=500), np.full(500, 2.0)]
    )
    edges = quantile_bin_edges(X, n_bins=8)
    assert len(edges[0]) == 9  # continuous: all 8 bins
    np.testing.assert_allclose(edges[0][[0, -1]], [X[:, 0].min(), X[:, 0].max()])
    np.testing.assert_allclose(edges[1], [0.0, 1.0, 2.0])  # 3 values: 2 bins
    np.testing.assert_allclose(edges[2], [2.0, 3.0])  # constant: one unit bin
    assert all(np.all(np.diff(e) > 0) for e in edges)


def test_piecewise_linear_encoding_values():
    emb = PiecewiseLinearEmbedding([[0.0, 1.0, 3.0, 4.0], [0.0, 2.0]], d_embedding=2)
    x = torch.tensor([[-1.0, 1.0], [2.0, 5.0], [10.0, -2.0]])
    basis = emb._basis(x)
    expected = torch.tensor(
        [
            # below the first edge the first bin goes negative
            [[-1.0, 0.0, 0.0], [0.5, 0.0, 0.0]],
            # inside the middle bin; the 2nd feature's padding bins stay 0
            [[1.0, 0.5, 0.0], [2.5, 0.0, 0.0]],
            # beyond the last edge the last bin exceeds 1
            [[1.0, 1.0, 7.0], [-1.0, 0.0, 0.0]],
        ]
    )
    torch.testing.assert_close(basis, expected)
    out = emb(x)
    assert out.shape == (3, 2 + 2 * 2) == (3, emb.out_features)
    torch.testing.assert_close(out[:, :2], x)
    # The map starts at zero: at first the network sees only the raw values.
    torch.testing.assert_close(out[:, 2:], torch.zeros(3, 4))
    out.sum().backward()
    assert emb.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("edges", [[[0.0]], [[0.0, 1.0, 1.0]], [[2.0, 1.0]], []])
def test_piecewise_linear_embedding_rejects_bad_edges(edges):
    with pytest.raises(ValueError, match="bin_edges"):
        PiecewiseLinearEmbedding(edges)


def test_piecewise_embedding_fits_a_step_better_than_raw_values():
    # y jumps at three thresholds of one feature: trees find such splits at
    # once, a small MLP on the raw value smooths them; quantile bins give the
    # network the thresholds' neighbourhoods directly.
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(600, 1))
    X_test = rng.uniform(-2, 2, size=(300, 1))

    def target(x):
        return np.digitize(x[:, 0], [-1.2, 0.1, 0.9]) * 1.0

    scores = {}
    for emb in (None, "piecewise"):
        reg = TabularRegressor(
            hidden_layer_sizes=(32,),
            numeric_embedding=emb,
            max_epochs=40,
            early_stopping=False,
            lr=3e-3,
            random_state=0,
        ).fit(X, target(X))
        scores[emb] = r2_score(target(X_test), reg.predict(X_test))
    assert scores["piecewise"] > 0.97
    assert scores["piecewise"] > scores[None] + 0.02


@pytest.mark.parametrize("embedding", ["periodic", "piecewise"])
def test_numeric_embedding_with_dataframe_and_categoricals(embedding):
    rng = np.random.default_rng(1)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=120),
            "b": rng.choice(["x", "y", "z"], size=120),
            "c": np.where(rng.uniform(size=120) < 0.1, np.nan, rng.normal(size=120)),
        }
    )
    y = (X["a"] > 0).astype(int).to_numpy()
    clf = TabularClassifier(
        numeric_embedding=embedding,
        scaling="robust_clip",
        max_epochs=5,
        random_state=0,
    ).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 2)
    assert np.isfinite(proba).all()
    # Two numeric columns plus the missing-value indicator of "c".
    assert clf.encoder_.n_numeric_out_ == 3
    if embedding == "piecewise":
        assert len(clf.encoder_.bin_edges_) == 3
        # The scaled 0/1 indicator: one bin between its two values.
        assert len(clf.encoder_.bin_edges_[2]) == 2
    else:
        assert clf.encoder_.bin_edges_ is None


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_label_smoothing_caps_confidence_binary(smoothing):
    X, y = load_breast_cancer(return_X_y=True)
    clf = TabularClassifier(
        label_smoothing=smoothing,
        max_epochs=60,
        early_stopping=False,
        lr=3e-3,
        random_state=0,
    ).fit(X, y)
    top = clf.predict_proba(X).max(axis=1)
    if smoothing:
        # The smoothed target of the true class is 1 - eps / 2 = 0.9.
        assert np.median(top) < 0.95
    else:
        assert np.median(top) > 0.99


def test_label_smoothing_caps_confidence_multiclass():
    X, y = load_iris(return_X_y=True)
    common = dict(max_epochs=150, early_stopping=False, lr=1e-2, random_state=0)
    plain = TabularClassifier(label_smoothing=0.0, **common).fit(X, y)
    smooth = TabularClassifier(label_smoothing=0.3, **common).fit(X, y)
    # Smoothed target of the true class: 1 - 0.3 + 0.3 / 3 = 0.8.
    assert np.median(smooth.predict_proba(X).max(axis=1)) < 0.9
    assert np.median(plain.predict_proba(X).max(axis=1)) > 0.95
    assert smooth.score(X, y) > 0.9


@pytest.mark.parametrize(
    "params, match",
    [
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"numeric_embedding": "fourier"}, "numeric_embedding"),
        ({"scaling": "robust-clip"}, "scaling"),
        ({"n_ensemble": 0}, "n_ensemble"),
        ({"calibration": "platt"}, "calibration"),
        ({"n_ensemble": 2.5}, "n_ensemble"),
        ({"ema_epochs": 0}, "ema_epochs"),
        ({"ema_epochs": -1.0}, "ema_epochs"),
        ({"ema_epochs": "1"}, "ema_epochs"),
    ],
)
def test_invalid_accuracy_knobs_are_rejected_at_fit(params, match):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=match):
        TabularClassifier(max_epochs=1, **params).fit(X, y)


def test_ema_decay_spans_the_same_epochs_at_any_table_size():
    assert ema_decay(1.0, 10) == pytest.approx(0.9)
    assert ema_decay(2.0, 100) == pytest.approx(1 - 1 / 200)
    # The start's weight after `epochs` epochs is about 1/e either way.
    for steps in (4, 40, 400):
        assert ema_decay(1.0, steps) ** steps == pytest.approx(np.exp(-1), rel=0.2)
    assert ema_decay(0.1, 3) == 0.0  # under one step: the latest weights


def _raw_and_averaged(**params):
    X, y = load_breast_cancer(return_X_y=True)
    common = dict(hidden_layer_sizes=(16,), max_epochs=4, random_state=0, **params)
    raw = TabularClassifier(ema_epochs=None, **common).fit(X, y)
    ema = TabularClassifier(ema_epochs=1.0, **common).fit(X, y)
    return raw, ema


def test_ema_validates_on_the_average_and_trains_on_the_raw_weights():
    raw, ema = _raw_and_averaged(patience=10)
    # Training batches saw the same raw weights: had validation left the
    # averaged weights in place, every later step would differ.
    np.testing.assert_allclose(
        ema.history_["train_loss"], raw.history_["train_loss"], rtol=1e-6
    )
    # Validation scored other (averaged) weights, and those were kept.
    assert not np.allclose(ema.history_["valid_loss"], raw.history_["valid_loss"])
    kept = ema.net_.module_.state_dict()
    trained = raw.net_.module_.state_dict()
    assert any(not torch.equal(kept[k], trained[k]) for k in kept)


def test_ema_without_validation_keeps_the_averaged_weights():
    raw, ema = _raw_and_averaged(early_stopping=False)
    np.testing.assert_allclose(
        ema.history_["train_loss"], raw.history_["train_loss"], rtol=1e-6
    )
    kept = ema.net_.module_.state_dict()["head.weight"]
    last = raw.net_.module_.state_dict()["head.weight"]
    # The average lags the raw weights: it is not the last step's weights.
    assert not torch.allclose(kept, last)
    X, y = load_breast_cancer(return_X_y=True)
    assert ema.score(X, y) > 0.9


@pytest.mark.parametrize("ema_epochs", [None, 2.0])
def test_ema_epochs_reaches_the_training_loop(ema_epochs):
    X, y = load_breast_cancer(return_X_y=True)
    clf = TabularClassifier(
        (8,), max_epochs=1, batch_size=64, ema_epochs=ema_epochs, random_state=0
    ).fit(X, y)
    callbacks = dict(clf.net_.callbacks_)
    if ema_epochs is None:
        assert "weight_ema" not in callbacks
        return
    n_train = len(X) - round(0.1 * len(X))  # the 10% validation split
    steps = -(-n_train // 64)
    assert callbacks["weight_ema"].decay == pytest.approx(ema_decay(2.0, steps))
    # Nothing of the average stays in the fitted (picklable) net.
    assert callbacks["weight_ema"].average_ is None
