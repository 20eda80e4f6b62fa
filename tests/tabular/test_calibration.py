"""calibration="temperature": one softmax temperature fitted on validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from skdl import TabularClassifier
from skdl._tasks import fit_temperature

SMALL = dict(hidden_layer_sizes=(32,), max_epochs=30, random_state=0)


@pytest.mark.parametrize("true_t", [0.5, 2.0])
def test_fit_temperature_recovers_the_temperature_of_the_labels(true_t):
    gen = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(20_000, 4, generator=gen)
    y = torch.multinomial(torch.softmax(logits / true_t, dim=1), 1, generator=gen)
    assert fit_temperature(logits, y.ravel()) == pytest.approx(true_t, rel=0.05)


def test_fit_temperature_binary_single_logit():
    gen = torch.Generator().manual_seed(1)
    logits = 2 * torch.randn(20_000, 1, generator=gen)
    y = torch.bernoulli(torch.sigmoid(logits / 0.5), generator=gen)
    assert fit_temperature(logits, y) == pytest.approx(0.5, rel=0.05)


def test_a_perfectly_classified_small_split_does_not_collapse_the_temperature():
    logits = torch.tensor([[4.0, -4.0]] * 10 + [[-4.0, 4.0]] * 10)
    y = torch.tensor([0] * 10 + [1] * 10)
    # Without the prior the log-loss keeps falling as T -> 0.
    assert 0.5 < fit_temperature(logits, y) < 1.0


def test_calibration_keeps_predictions_and_repairs_smoothed_probabilities():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    common = dict(label_smoothing=0.2, **SMALL)
    raw = TabularClassifier(calibration=None, **common).fit(X_train, y_train)
    cal = TabularClassifier(calibration="temperature", **common).fit(X_train, y_train)
    np.testing.assert_array_equal(raw.predict(X_test), cal.predict(X_test))
    np.testing.assert_array_equal(raw.temperatures_, np.ones(raw.n_ensemble_))
    # Smoothed targets make the networks under-confident: T < 1 sharpens them.
    assert cal.temperatures_.shape == (cal.n_ensemble_,)
    assert np.all(cal.temperatures_ < 0.8)
    assert log_loss(y_test, cal.predict_proba(X_test)) < 0.7 * log_loss(
        y_test, raw.predict_proba(X_test)
    )


def test_one_temperature_per_member_and_none_without_validation():
    X, y = load_breast_cancer(return_X_y=True)
    ens = TabularClassifier(n_ensemble=3, **SMALL).fit(X, y)
    assert ens.temperatures_.shape == (3,)
    assert np.all((ens.temperatures_ > 0.05) & (ens.temperatures_ < 20))
    assert len(set(ens.temperatures_)) == 3
    no_valid = TabularClassifier(early_stopping=False, **SMALL).fit(X, y)
    np.testing.assert_array_equal(no_valid.temperatures_, np.ones(5))
    proba = ens.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
