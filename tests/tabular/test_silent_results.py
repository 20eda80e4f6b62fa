"""Input that used to train a silently wrong model now trains a right one or fails."""

from __future__ import annotations

import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score

from skdl import TabularClassifier, TabularRegressor
from skdl.diagnostics import diagnose


def _decimals(values) -> pd.Series:
    return pd.Series([Decimal(f"{v:.4f}") for v in values], dtype=object)


def test_decimal_column_is_numeric():
    # SQL numeric columns arrive as objects holding decimal.Decimal; embedded
    # as categories, every new value was "unknown" (R² about 0 on new rows).
    rng = np.random.default_rng(0)
    x_fit, x_new = rng.uniform(-2, 2, 300), rng.uniform(-2, 2, 100)
    X_fit = pd.DataFrame({"price": _decimals(x_fit), "noise": rng.normal(size=300)})
    X_new = pd.DataFrame({"price": _decimals(x_new), "noise": rng.normal(size=100)})
    X_fit.loc[5, "price"] = None  # a gap is imputed like any numeric gap
    reg = TabularRegressor(
        hidden_layer_sizes=(32,), max_epochs=40, lr=0.01, random_state=0
    ).fit(X_fit, 3 * x_fit)
    assert reg.encoder_.numeric_columns_ == ["price", "noise"]
    assert r2_score(3 * x_new, reg.predict(X_new)) > 0.9
    # Floats and Decimals of one value predict alike.
    as_floats = X_new.assign(price=x_new.round(4))
    np.testing.assert_allclose(reg.predict(as_floats), reg.predict(X_new), rtol=1e-5)


# --------------------------------------------------- divergence without NaN
@pytest.fixture(scope="module")
def easy():
    return make_classification(300, 10, random_state=0)


@pytest.mark.parametrize("early_stopping", [True, False])
def test_exploding_loss_without_nan_warns_and_diagnose_says_lower_lr(
    easy, early_stopping
):
    # Adam at lr=1e6 keeps the weights finite but drives the loss to 1e27:
    # the fit used to end without a word, and diagnose then advised more
    # epochs and wider layers.
    X, y = easy
    clf = TabularClassifier(
        lr=1e6, early_stopping=early_stopping, max_epochs=5, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match=r"diverged.*lr=1e\+06.*lower `lr`"):
        clf.fit(X, y)
    report = diagnose(clf)  # the model is kept, for diagnose to read
    assert "loss_exploded" in report.signals
    assert report.suggestions[0].startswith("lower `lr` from 1000000.0 to 10000.0")
    assert not any("max_epochs" in s or "widen" in s for s in report.suggestions)


def test_skewed_classes_are_no_divergence():
    # The baseline loss of a 97/3 problem is 0.13; a network that has not
    # learned the class shares yet sits near log(2) = 0.69: weak, not diverged.
    X, y = make_classification(
        400, 5, weights=[0.97], flip_y=0, class_sep=2.0, random_state=0
    )
    clf = TabularClassifier(hidden_layer_sizes=(8,), max_epochs=1, lr=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.set_params(random_state=0).fit(X, y)


def test_diagnose_suggests_a_lower_lr_for_a_loss_that_exploded_and_fell(easy):
    # At lr=1 the loss explodes to 1e5 in epoch 1, then falls back to chance
    # level: no divergence warning (the kept model is only as bad as ignoring
    # the inputs), but diagnose must blame the learning rate.
    X, y = easy
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = TabularClassifier(lr=1.0, max_epochs=6, random_state=0).fit(X, y)
    report = diagnose(clf)
    assert report.signals[0] == "loss_exploded"
    assert report.suggestions[0].startswith("lower `lr` from 1.0 to 0.01")
    assert not any("max_epochs" in s or "widen" in s for s in report.suggestions)
    assert (
        "loss_exploded"
        not in diagnose(
            TabularClassifier(max_epochs=6, random_state=0).fit(X, y)
        ).signals
    )
