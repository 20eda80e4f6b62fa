"""The models ``tabular_accuracy.py`` compares, each at its library defaults.

``make_model(name, task, X, seed)`` returns a fresh, unfitted estimator for
one of ``MODELS``:

* ``skdl``: :class:`skdl.TabularClassifier` / :class:`skdl.TabularRegressor`
  with default parameters, given the DataFrame unchanged (raw strings and
  missing values included);
* ``mlp``: scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` defaults behind
  an impute + scale (numeric) and impute + one-hot (string) pipeline; the
  regressor's target is standardized too (``TransformedTargetRegressor``),
  as skdl does internally;
* ``hgb``: ``HistGradientBoosting*`` defaults; string columns are ordinal
  encoded and declared categorical, NaNs are left to the model;
* ``linear``: ``LogisticRegression(max_iter=1000)`` / ``Ridge()`` behind the
  same pipeline as ``mlp``;
* ``realmlp``: pytabkit's ``RealMLP_TD_Classifier`` / ``RealMLP_TD_Regressor``
  (Holzmüller et al., NeurIPS 2024) at its tuned defaults, on CPU with one
  thread. It needs the ``bench`` extra (``pip install -e ".[bench]"``).
  RealMLP refuses NaN in numeric columns and (with pandas 3) string
  columns, so :class:`RealMLPPeer` gives it the least preprocessing it
  needs: median imputation with missing-value indicators for numeric
  columns that have NaNs, and string columns as integer category codes
  (missing as a category of its own) that it embeds as categorical.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import CLF, string_columns
from sklearn.base import BaseEstimator

MODELS = ("skdl", "mlp", "hgb", "linear", "realmlp")


def realmlp_available() -> str | None:
    """None when pytabkit imports, else why not (for a clear skip message)."""
    try:
        import pytabkit  # noqa: F401
    except ImportError as exc:
        return (
            f"realmlp needs pytabkit ({exc}); install the bench extra: "
            'pip install -e ".[bench]"'
        )
    return None


class RealMLPPeer(BaseEstimator):
    """RealMLP-TD at its defaults, behind the preprocessing it requires.

    Parameters
    ----------
    task : {"classification", "regression"}
        Which RealMLP-TD estimator to fit.
    random_state : int, default=0
        Seed passed to RealMLP.
    """

    def __init__(self, task: str = CLF, random_state: int = 0):
        self.task = task
        self.random_state = random_state

    def _encode(self, X: pd.DataFrame, *, fit: bool) -> pd.DataFrame:
        if fit:
            self.strings_ = string_columns(X)
            numeric = [c for c in X.columns if c not in self.strings_]
            self.numeric_ = numeric
            self.medians_ = X[numeric].astype(float).median()
            self.missing_ = [c for c in numeric if X[c].isna().any()]
            self.categories_ = {
                c: pd.Index(sorted(X[c].dropna().astype(str).unique()))
                for c in self.strings_
            }
        parts = [X[self.numeric_].astype(float).fillna(self.medians_)]
        if self.missing_:
            parts.append(X[self.missing_].isna().astype(float).add_suffix("__missing"))
        for c in self.strings_:
            # 0: missing or unseen; 1..k: the training categories.
            codes = self.categories_[c].get_indexer(X[c].astype(str)) + 1
            codes[X[c].isna().to_numpy()] = 0
            codes = pd.Categorical(
                codes, categories=range(len(self.categories_[c]) + 1)
            )
            parts.append(pd.DataFrame({f"{c}__code": codes}, index=X.index))
        out = pd.concat(parts, axis=1)
        out.columns = [str(c) for c in out.columns]
        return out

    def fit(self, X, y):
        from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

        cls = RealMLP_TD_Classifier if self.task == CLF else RealMLP_TD_Regressor
        self.model_ = cls(
            device="cpu", random_state=self.random_state, n_threads=1, verbosity=0
        )
        Xe = self._encode(pd.DataFrame(X), fit=True)
        self.model_.fit(Xe, np.asarray(y))
        if self.task == CLF:
            self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(self._encode(pd.DataFrame(X), fit=False))

    def predict_proba(self, X):
        return self.model_.predict_proba(self._encode(pd.DataFrame(X), fit=False))


def _dense_preprocessor(X: pd.DataFrame):
    """Impute + scale numeric columns, impute + one-hot string columns."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    strings = string_columns(X)
    numeric = [c for c in X.columns if c not in strings]
    return ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                numeric,
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                strings,
            ),
        ]
    )


def make_model(
    name: str, task: str, X: pd.DataFrame, seed: int, skdl_params: dict | None = None
):
    """A fresh, unfitted model ``name`` for ``task`` and the columns of X.

    ``skdl_params`` overrides skdl's defaults (None: the defaults).
    """
    from sklearn.pipeline import make_pipeline

    if name == "skdl":
        from skdl import TabularClassifier, TabularRegressor

        cls = TabularClassifier if task == CLF else TabularRegressor
        return cls(random_state=seed, **(skdl_params or {}))
    if name == "mlp":
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        from sklearn.preprocessing import StandardScaler

        if task == CLF:
            return make_pipeline(
                _dense_preprocessor(X), MLPClassifier(random_state=seed)
            )
        return TransformedTargetRegressor(
            make_pipeline(_dense_preprocessor(X), MLPRegressor(random_state=seed)),
            transformer=StandardScaler(),
        )
    if name == "hgb":
        from sklearn.compose import ColumnTransformer
        from sklearn.ensemble import (
            HistGradientBoostingClassifier,
            HistGradientBoostingRegressor,
        )
        from sklearn.preprocessing import OrdinalEncoder

        cls = (
            HistGradientBoostingClassifier
            if task == CLF
            else HistGradientBoostingRegressor
        )
        strings = string_columns(X)
        if not strings:
            return cls(random_state=seed)
        encode = ColumnTransformer(
            [
                (
                    "cat",
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value",
                        unknown_value=np.nan,
                        encoded_missing_value=np.nan,
                    ),
                    strings,
                )
            ],
            remainder="passthrough",
        )
        mask = [True] * len(strings) + [False] * (X.shape[1] - len(strings))
        return make_pipeline(encode, cls(categorical_features=mask, random_state=seed))
    if name == "linear":
        from sklearn.linear_model import LogisticRegression, Ridge

        est = LogisticRegression(max_iter=1000) if task == CLF else Ridge()
        return make_pipeline(_dense_preprocessor(X), est)
    if name == "realmlp":
        return RealMLPPeer(task=task, random_state=seed)
    raise ValueError(f"unknown model {name!r}")
