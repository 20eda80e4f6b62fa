"""Tabular inputs as users have them -> numeric matrix + categorical codes.

Numeric columns are imputed (median, with a missing-value indicator for each
column that had gaps in training) and scaled; categorical and string columns
become integer codes for learned embeddings. Code 0 is reserved for
"unknown" (a category never seen in training) and code 1 for "missing", so
neither is an error at predict time. The pieces are scikit-learn's own
scalers and ``OrdinalEncoder``, plus a median imputer (see
:class:`MedianImputer` for why it is not ``SimpleImputer``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OrdinalEncoder,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
)

from ..modules.embeddings import quantile_bin_edges

__all__ = [
    "SCALERS",
    "MedianImputer",
    "RobustSmoothClip",
    "TabularEncoder",
    "embedding_size",
]

UNKNOWN_CODE = 0
MISSING_CODE = 1
N_RESERVED = 2

#: ``transform`` warns about a column when more than half of its non-missing
#: values, and at least this many, are categories not seen in ``fit``.
MIN_UNKNOWN_TO_WARN = 5


def _quantile(n_samples: int):
    return QuantileTransformer(
        n_quantiles=max(2, min(1000, n_samples)),
        output_distribution="normal",
        subsample=10**9,
    )


class RobustSmoothClip(TransformerMixin, BaseEstimator):
    """Robust scaling followed by a smooth clip, as in RealMLP.

    Each column is centred on its median and divided by its interquartile
    range, or by half its range where the quartiles coincide (sparse,
    mostly-constant columns), then squashed by ``x / sqrt(1 + (x / 3)**2)``,
    which is nearly the identity within a few IQRs and bounds outliers to
    ``(-3, 3)`` (Holzmüller et al., "Better by default", NeurIPS 2024).
    scikit-learn's ``RobustScaler`` falls back to a scale of 1 when the IQR is
    zero, which leaves such columns unscaled; hence this small transformer.

    Attributes
    ----------
    center_ : ndarray of shape (n_features,)
        The column medians.
    scale_ : ndarray of shape (n_features,)
        The divisor of each column.
    """

    def fit(self, X: np.ndarray, y=None) -> RobustSmoothClip:
        """Learn the medians and robust scales."""
        q1, median, q3 = np.quantile(X, [0.25, 0.5, 0.75], axis=0)
        half_range = 0.5 * (X.max(axis=0) - X.min(axis=0))
        scale = np.where(q3 > q1, q3 - q1, half_range)
        self.center_ = median
        self.scale_ = np.where(scale > 0, scale, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Scale and smoothly clip."""
        Z = (X - self.center_) / self.scale_
        return Z / np.sqrt(1.0 + (Z / 3.0) ** 2)


#: Numeric scaling methods by name (``None`` leaves values as they are).
SCALERS = {
    "robust_clip": lambda n: RobustSmoothClip(),
    "standard": lambda n: StandardScaler(),
    "robust": lambda n: RobustScaler(),
    "minmax": lambda n: MinMaxScaler(feature_range=(-1, 1)),
    "quantile": _quantile,
}


class MedianImputer(TransformerMixin, BaseEstimator):
    """Median imputation plus a missing-value indicator, for float arrays.

    It does what ``SimpleImputer(strategy="median", add_indicator=True,
    keep_empty_features=True)`` does: columns that had gaps in training get
    an indicator column appended, and all-missing columns are filled with 0.
    scikit-learn's imputer finds medians by sorting a masked copy of the
    whole array; at 100,000 x 50 that took about 5 times the time and twice
    the memory of ``np.median``/``np.nanmedian``, which partition in place
    (``benchmarks/tabular_speed.py``), and skdl runs it on every ``fit``.

    Attributes
    ----------
    statistics_ : ndarray of shape (n_features,)
        The fill value of each column.
    features_with_missing_ : ndarray of int
        Columns that get an indicator.
    """

    def fit(self, X: np.ndarray, y=None) -> MedianImputer:
        """Learn each column's median and which columns have gaps."""
        missing = np.isnan(X)
        has_missing = missing.any(axis=0)
        if has_missing.any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
                medians = np.nanmedian(X, axis=0)
        else:
            medians = np.median(X, axis=0)
        self.statistics_ = np.where(np.isnan(medians), 0.0, medians)
        self.features_with_missing_ = np.flatnonzero(has_missing)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Fill gaps with the medians and append the indicator columns."""
        missing = np.isnan(X)
        if missing.any():
            X = np.where(missing, self.statistics_, X)
        if len(self.features_with_missing_):
            indicator = missing[:, self.features_with_missing_].astype(X.dtype)
            X = np.hstack([X, indicator])
        return X


def embedding_size(cardinality: int) -> int:
    """Embedding width for a categorical column with ``cardinality`` levels.

    The rule of thumb popularised by fastai, ``1.6 * cardinality ** 0.56``,
    capped at 32 so that high-cardinality columns stay cheap.
    """
    return int(max(2, min(32, round(1.6 * cardinality**0.56))))


def _is_categorical(series: pd.Series) -> bool:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return True
    if pd.api.types.is_complex_dtype(dtype):
        raise TypeError(
            f"Column {series.name!r} has complex dtype {dtype}; skdl needs real "
            f"numbers (split it into real and imaginary parts, or take abs)."
        )
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return False
    is_object = pd.api.types.is_object_dtype(dtype)
    if is_object and pd.api.types.infer_dtype(series, skipna=True) == "decimal":
        # decimal.Decimal values, as SQL numeric columns arrive, are numbers:
        # as categories, every unseen value would be "unknown" at predict.
        return False
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(
        dtype
    ):
        raise TypeError(
            f"Column {series.name!r} has dtype {dtype}, which skdl cannot use "
            f"directly; convert it to numeric features (e.g. year, day of week, "
            f"or seconds since a reference time) first."
        )
    return True


def _category_string(value) -> str:
    """The string a category is stored and looked up under.

    Floats with an integral value take the integer's spelling, so that 1,
    1.0 and ``np.int64(1)`` are one category, as they are to scikit-learn's
    ``OrdinalEncoder``: a column of integer codes turns float as soon as it
    has a gap (pandas has no NaN for int64), and would otherwise match no
    training category at predict time. Booleans (Python's or NumPy's, which
    are no floats) keep their spelling, ``"True"``.
    """
    if isinstance(value, float | np.floating):
        number = float(value)
        if np.isfinite(number) and number.is_integer():
            return str(int(number))
    return str(value)


def _category_strings(values: np.ndarray) -> np.ndarray:
    """``_category_string`` of each value of a 1-D array, NaN where missing."""
    out = np.empty(len(values), dtype=object)
    missing = pd.isna(values)
    out[missing] = np.nan
    present = values[~missing]
    if pd.api.types.infer_dtype(present, skipna=False) != "string":
        present = [_category_string(v) for v in present]
    out[~missing] = present
    return out


def _as_category_strings(frame: pd.DataFrame) -> np.ndarray:
    """Object array of the categorical columns: strings, with NaN for missing."""
    out = np.empty(frame.shape, dtype=object)
    for j, col in enumerate(frame.columns):
        s = frame[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            # Convert each category once, then look the rows up by code.
            names = _category_strings(s.cat.categories.to_numpy(dtype=object))
            codes = s.cat.codes.to_numpy()
            column = np.append(names, np.nan)[codes]  # code -1 (missing) -> NaN
        else:
            column = _category_strings(s.astype(object).to_numpy())
        out[:, j] = column
    return out


def _as_numeric(frame: pd.DataFrame) -> np.ndarray:
    """Float matrix of the numeric columns, NaN for missing; inf is rejected."""
    columns = []
    for col in frame.columns:
        try:
            columns.append(
                frame[col].astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"Column {col!r} was numeric during fit but now holds values that "
                f"are not numbers ({exc})."
            ) from exc
    if not columns:
        return np.empty((len(frame), 0))
    values = np.column_stack(columns)
    bad = np.isinf(values).any(axis=0)
    if bad.any():
        names = [str(c) for c, b in zip(frame.columns, bad) if b]
        raise ValueError(
            f"Input X contains infinity in numeric column(s) {names}. Replace "
            f"infinite values (e.g. with NaN, which skdl imputes) before fitting."
        )
    return values


def _to_float32(values: np.ndarray, columns: list) -> np.ndarray:
    """Cast encoded numeric features to the network's float32, refusing overflow.

    ``columns`` names the first output columns (the imputed numeric ones; the
    missing-value indicators that follow are 0 or 1).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        out = values.astype(np.float32)
    bad = ~np.isfinite(out).all(axis=0)
    if bad.any():
        names = [str(columns[j]) for j in np.flatnonzero(bad[: len(columns)])]
        raise ValueError(
            f"Input X holds values too large for the network's float32 "
            f"arithmetic (beyond about 3.4e38, or overflowing when scaled) in "
            f"numeric column(s) {names}. Rescale or clip them first, e.g. with "
            f"a log transform."
        )
    return out


class TabularEncoder:
    """Fit-transform tabular X into ``{"x_num": float32, "x_cat": int64}``.

    Parameters
    ----------
    scaling : {"robust_clip", "standard", "robust", "minmax", "quantile"} or None
        How numeric columns are scaled after imputation.
    n_bins : int or None, default=None
        When set, also learn quantile bin edges (at most ``n_bins`` bins) of
        each encoded numeric column, for piecewise-linear embeddings.

    Attributes
    ----------
    numeric_columns_ : list
        Columns (names for DataFrames, positions for arrays) treated as numeric.
    categorical_columns_ : list
        Columns encoded as categories.
    cardinalities_ : list of int
        Embedding table sizes, including the reserved unknown and missing codes.
    n_numeric_out_ : int
        Width of ``x_num``: the ``numeric_columns_`` in order, then one
        missing-value indicator for each of them that had gaps in training.
    bin_edges_ : list of ndarray or None
        Quantile bin edges of each ``x_num`` column (None without ``n_bins``).
    """

    def __init__(
        self, scaling: str | None = "standard", n_bins: int | None = None
    ) -> None:
        self.scaling = scaling
        self.n_bins = n_bins

    def _split(self, X) -> tuple[np.ndarray, np.ndarray | None]:
        if isinstance(X, pd.DataFrame):
            return (
                _as_numeric(X[self.numeric_columns_]),
                _as_category_strings(X[self.categorical_columns_]),
            )
        return np.asarray(X, dtype=np.float64), None

    def fit(self, X) -> TabularEncoder:
        """Learn column kinds, imputation values, scales and categories."""
        self.is_frame_ = isinstance(X, pd.DataFrame)
        self.columns_ = list(X.columns) if self.is_frame_ else None
        if self.is_frame_:
            kinds = {col: _is_categorical(X[col]) for col in X.columns}
            self.numeric_columns_ = [c for c, cat in kinds.items() if not cat]
            self.categorical_columns_ = [c for c, cat in kinds.items() if cat]
        else:
            self.numeric_columns_ = list(range(X.shape[1]))
            self.categorical_columns_ = []
        num, cat = self._split(X)
        n = len(num)
        steps = [MedianImputer()]
        if self.scaling is not None:
            steps.append(SCALERS[self.scaling](n))
        if num.shape[1]:
            # Overflow from extreme values is reported by ``transform``.
            with np.errstate(over="ignore", invalid="ignore"):
                self.numeric_ = make_pipeline(*steps).fit(num)
                self.n_numeric_out_ = int(self.numeric_.transform(num[:1]).shape[1])
        else:
            self.numeric_ = None
            self.n_numeric_out_ = 0
        self.bin_edges_ = None
        if self.n_bins is not None and self.numeric_ is not None:
            self.bin_edges_ = quantile_bin_edges(self._encode_numeric(num), self.n_bins)
        if cat is not None and cat.shape[1]:
            self.categorical_ = OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=UNKNOWN_CODE - N_RESERVED,
                encoded_missing_value=MISSING_CODE - N_RESERVED,
            ).fit(cat)
            self.cardinalities_ = [
                len(c[~pd.isna(c)]) + N_RESERVED for c in self.categorical_.categories_
            ]
        else:
            self.categorical_ = None
            self.cardinalities_ = []
        return self

    def _encode_numeric(self, num: np.ndarray) -> np.ndarray:
        """Impute and scale the numeric columns into the network's float32."""
        with np.errstate(over="ignore", invalid="ignore"):
            encoded = self.numeric_.transform(num)
        return _to_float32(encoded, self.numeric_columns_)

    def transform(self, X, *, warn_unknown: bool = True) -> dict[str, np.ndarray]:
        """Encode X; unseen categories map to the unknown code.

        With ``warn_unknown``, columns whose values are mostly categories
        unseen in fit get a warning. The estimators turn it off for their
        own training and validation rows, where a high-cardinality column's
        validation rows are expected to be mostly unseen.
        """
        num, cat = self._split(X)
        out = {}
        if self.numeric_ is not None:
            out["x_num"] = self._encode_numeric(num)
        else:
            out["x_num"] = np.zeros((len(num), 0), dtype=np.float32)
        if self.categorical_ is not None:
            codes = (self.categorical_.transform(cat) + N_RESERVED).astype(np.int64)
            if warn_unknown:
                self._warn_mostly_unknown(cat, codes)
            out["x_cat"] = codes
        return out

    def _warn_mostly_unknown(self, cat: np.ndarray, codes: np.ndarray) -> None:
        """Warn about columns whose values are mostly categories unseen in fit.

        A few unseen categories are expected; most of a column's values being
        unseen usually means that its values are spelled differently than in
        training (e.g. codes as text), which would quietly cost accuracy.
        """
        present = ~pd.isna(cat)
        unknown = (codes == UNKNOWN_CODE) & present
        n_unknown = unknown.sum(axis=0)
        n_present = present.sum(axis=0)
        for j in np.flatnonzero(
            (n_unknown >= MIN_UNKNOWN_TO_WARN) & (2 * n_unknown > n_present)
        ):
            seen = [str(c) for c in self.categorical_.categories_[j] if c == c][:5]
            new = list(dict.fromkeys(cat[unknown[:, j], j]))[:5]
            warnings.warn(
                f"Column {self.categorical_columns_[j]!r}: {n_unknown[j]} of "
                f"{n_present[j]} non-missing values are categories not seen "
                f"during fit (e.g. {new}; fit saw e.g. {seen}), and all share "
                f"the 'unknown' embedding. Check that the column holds the same "
                f"kind of values as in training.",
                UserWarning,
                stacklevel=3,
            )
