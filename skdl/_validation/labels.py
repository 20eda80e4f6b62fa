"""Refuse missing or mixed-type class labels with a message that names them.

scikit-learn's target checks sort the labels with numpy first, so labels such
as ``["a", None, "b"]`` or ``[1, "b"]`` (object arrays, Series) fail with
numpy's ``'<' not supported between instances of 'NoneType' and 'str'``, and
a plain list such as ``["a", np.nan]`` is silently turned into strings, making
``"nan"`` a class. :func:`check_class_labels` looks at the labels as given,
before any of that.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.utils.validation import _num_samples

__all__ = ["check_class_labels", "check_target_rows"]

#: pandas' ``infer_dtype`` answers for labels of a single kind.
_ONE_KIND = {"string", "bytes", "integer", "floating", "mixed-integer-float"}


def _kind(value) -> str:
    """The label kind that decides whether labels can be ordered together."""
    if isinstance(value, str | bytes):
        return "str"
    if isinstance(value, numbers.Number):
        return "number"
    return type(value).__name__


def _rows(mask: np.ndarray, limit: int = 5) -> str:
    rows = np.flatnonzero(mask)
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    return f"[{shown}{', ...' if len(rows) > limit else ''}]"


def check_class_labels(y) -> None:
    """Raise ValueError when y holds missing labels or labels of mixed types.

    Numeric arrays are left to scikit-learn's checks (which name NaN); lists,
    tuples and object or categorical arrays and Series are inspected value by
    value.

    Parameters
    ----------
    y : array-like
        The class labels as passed to ``fit``.

    Raises
    ------
    ValueError
        If some labels are missing (None, NaN, ``pd.NA``, NaT) or the labels
        mix strings with numbers (or other types that cannot be ordered).
    """
    if isinstance(y, np.ndarray | pd.Series | pd.DataFrame | pd.Index):
        dtypes = y.dtypes if isinstance(y, pd.DataFrame) else [y.dtype]
        # Object, categorical and string dtypes all have kind "O".
        if all(dtype.kind != "O" for dtype in dtypes):
            return
    elif not isinstance(y, list | tuple):
        return
    try:
        values = np.asarray(y, dtype=object).ravel()
    except (TypeError, ValueError):
        return  # ragged input: scikit-learn's shape checks name it
    missing = np.asarray(pd.isna(values), dtype=bool)
    if missing.any():
        raise ValueError(
            f"y holds {int(missing.sum())} missing label(s) (None or NaN) at "
            f"row(s) {_rows(missing)}. Drop those rows or give them a class."
        )
    # One kind throughout (the common case) needs no look at each value.
    if pd.api.types.infer_dtype(values, skipna=False) in _ONE_KIND:
        return
    examples: dict[str, object] = {}
    for value in values:
        examples.setdefault(_kind(value), value)
    if len(examples) > 1:
        described = " and ".join(
            f"{type(v).__name__} labels (e.g. {v!r})" for v in examples.values()
        )
        raise ValueError(
            f"y mixes {described}, which cannot be ordered into classes. Use "
            f"labels of one type, e.g. y.astype(str) for all strings."
        )


def check_target_rows(estimator, y, n: int) -> None:
    """Refuse a missing ``y`` or one whose length differs from X's ``n`` rows.

    Shared by ``fit`` and the continued fits (``warm_start``, ``partial_fit``).
    """
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target "
            f"y is None."
        )
    if _num_samples(y) != n:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: X has {n}, y has "
            f"{_num_samples(y)}."
        )
