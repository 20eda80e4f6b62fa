"""TabularRegressor: linear output, target scaling, multi-output, weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_regression
from sklearn.metrics import r2_score
from torch import nn

from skdl import TabularRegressor

FAST = dict(hidden_layer_sizes=(8,), max_epochs=3, random_state=0)
LEARN = dict(hidden_layer_sizes=(16,), lr=0.01, max_epochs=40, random_state=0)


def _data(n=200, n_targets=1, seed=0):
    return make_regression(
        n, 4, n_informative=3, n_targets=n_targets, noise=1.0, random_state=seed
    )


def _outputs(reg, X):
    arrays = reg.encoder_.transform(X)
    inputs = {k: torch.from_numpy(v) for k, v in arrays.items()}
    reg.net_.module_.eval()
    with torch.no_grad():
        return reg.net_.module_(**inputs).double().numpy()


def test_output_layer_is_linear_and_predictions_unscale_it():
    X, y = _data()
    reg = TabularRegressor(n_ensemble=1, **FAST).fit(X, y)
    head = reg.net_.module_.head
    assert type(head) is nn.Linear and head.out_features == 1
    assert isinstance(reg.net_.criterion_, nn.MSELoss)
    pred = reg.predict(X)
    assert pred.shape == (len(X),) and pred.dtype == np.float64
    expected = _outputs(reg, X).ravel() * y.std() + y.mean()
    np.testing.assert_allclose(pred, expected, rtol=1e-6)


def test_learns_a_linear_target():
    X, y = _data()
    reg = TabularRegressor(**LEARN).fit(X[:150], y[:150])
    assert reg.score(X[150:], y[150:]) > 0.9


def test_target_scale_does_not_change_what_is_learned():
    # Targets are standardized inside fit, so y and 1e6 * y + 1e3 train the
    # same network and give the same predictions up to that affine map.
    X, y = _data()
    small = TabularRegressor(**LEARN).fit(X, y)
    large = TabularRegressor(**LEARN).fit(X, 1e6 * y + 1e3)
    np.testing.assert_allclose(
        large.predict(X), 1e6 * small.predict(X) + 1e3, rtol=1e-4, atol=1e-2 * 1e6
    )
    assert large.score(X, 1e6 * y + 1e3) == pytest.approx(small.score(X, y), abs=1e-4)


@pytest.mark.parametrize("factor", [1e200, 1e-200])
def test_huge_and_tiny_targets_are_standardized_without_overflow(factor):
    X, y = _data(n=60)
    small = TabularRegressor(**FAST).fit(X, y)
    huge = TabularRegressor(**FAST).fit(X, factor * y)
    assert np.all(np.isfinite(huge.target_scale_))
    np.testing.assert_allclose(huge.target_scale_, factor * y.std(), rtol=1e-12)
    pred = huge.predict(X)
    assert np.all(np.isfinite(pred))
    np.testing.assert_allclose(pred, factor * small.predict(X), rtol=1e-9)


def test_targets_near_the_float64_limit_predict_finite_values():
    X, y = _data(n=60)
    y = y / np.abs(y).max() * 1.7e308
    reg = TabularRegressor(**FAST).fit(X, y)
    assert np.all(np.isfinite(reg.predict(X)))


def test_unscaling_that_overflows_float64_raises():
    X, y = _data(n=60)
    reg = TabularRegressor(**FAST).fit(X, y)
    # out * scale overflows where out * scale + mean does not: still finite.
    reg.target_scale_, reg.target_mean_ = np.array([1.5e308]), np.array([-1e308])
    pred = reg._decode_target(np.array([[1.2], [-0.5]]))
    np.testing.assert_allclose(pred.ravel(), [0.8e308, -1.75e308])
    # Predictions beyond float64 are an error, not inf.
    out = _outputs(reg, X[:5]).ravel()
    reg.target_scale_ = np.array([1.79e308])
    reg.target_mean_ = np.array([1.79e308 * np.sign(out[np.abs(out).argmax()])])
    with pytest.raises(ValueError, match="beyond the float64 range"):
        reg.predict(X[:5])


def test_zero_weight_targets_beyond_float32_after_scaling_raise():
    X, y = _data(n=60)
    y = np.r_[1e40, np.ones(59)]
    y[1] = 2.0
    weight = np.r_[0.0, np.ones(59)]
    with pytest.raises(ValueError, match="^y cannot be standardized"):
        TabularRegressor(**FAST).fit(X, y, sample_weight=weight)


def test_multi_output_targets_are_learned_each_on_its_scale():
    X, y = _data(n_targets=2)
    y = np.column_stack([y[:, 0], 1000.0 * y[:, 1] - 5.0])
    reg = TabularRegressor(**LEARN).fit(X[:150], y[:150])
    assert reg.n_outputs_ == 2
    assert reg.net_.module_.head.out_features == 2
    pred = reg.predict(X[150:])
    assert pred.shape == (50, 2)
    for j in range(2):
        assert r2_score(y[150:, j], pred[:, j]) > 0.85


def test_column_target_gives_column_predictions():
    X, y = _data()
    reg = TabularRegressor(**FAST).fit(X, y.reshape(-1, 1))
    assert reg.predict(X).shape == (len(X), 1)
    assert reg.n_outputs_ == 1


def test_integer_and_float32_targets():
    X, y = _data()
    for target in (np.round(y).astype(np.int64), y.astype(np.float32)):
        pred = TabularRegressor(**FAST).fit(X, target).predict(X)
        assert pred.shape == (len(X),) and np.all(np.isfinite(pred))


def test_valid_score_is_r2_of_the_kept_model():
    X, y = _data()
    reg = TabularRegressor(
        (16,), lr=0.01, max_epochs=15, patience=3, validation_fraction=0.3
    ).fit(X, y)
    valid = reg.net_.train_split.keywords["valid_ds"]
    out = reg.net_.forward(valid).double().numpy()
    target = valid.y.double().numpy()
    score = reg.history_.loc[reg.best_epoch_, "valid_score"]
    assert r2_score(target, out) == pytest.approx(score, rel=1e-5)
    loss = np.mean((out - target) ** 2)
    assert loss == pytest.approx(reg.history_["valid_loss"].min(), rel=1e-4)


def test_zero_sample_weight_ignores_those_rows():
    X, y = _data()
    y_bad = y.copy()
    y_bad[:60] = -3.0 * y[:60]  # rows that contradict the rest
    weight = np.r_[np.zeros(60), np.ones(len(y) - 60)]
    ignored = TabularRegressor(**LEARN).fit(X, y_bad, sample_weight=weight)
    hurt = TabularRegressor(**LEARN).fit(X, y_bad)
    assert ignored.score(X[60:], y[60:]) > 0.97
    assert hurt.score(X[60:], y[60:]) < 0.5


def test_zero_weight_outliers_do_not_distort_the_target_scaling():
    X, y = _data()
    y_bad = y.copy()
    y_bad[:30] += 1e4
    weight = np.r_[np.zeros(30), np.ones(len(y) - 30)]
    ignored = TabularRegressor(**LEARN).fit(X, y_bad, sample_weight=weight)
    clean = TabularRegressor(**LEARN).fit(X[30:], y[30:])
    assert ignored.score(X[30:], y[30:]) > clean.score(X[30:], y[30:]) - 0.01


def test_sample_weights_change_the_model():
    X, y = _data()
    plain = TabularRegressor(**FAST).fit(X, y).predict(X)
    w = np.random.default_rng(0).uniform(0.1, 3.0, size=len(y))
    weighted = TabularRegressor(**FAST).fit(X, y, sample_weight=w).predict(X)
    assert np.abs(weighted - plain).max() > 1e-3 * np.abs(plain).max()
