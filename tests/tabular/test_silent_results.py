"""Input that used to train a silently wrong model now trains a right one or fails."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score

from skdl import TabularRegressor


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
