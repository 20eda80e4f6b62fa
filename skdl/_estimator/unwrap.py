"""Find the skdl estimator inside what a user passes.

:func:`skdl.search_space` takes an unfitted estimator and reads parameter
names through wrappers (``Pipeline`` steps, a meta-estimator's ``estimator``,
a ``TransformedTargetRegressor``'s ``regressor``); the diagnostics take a
fitted one and read fitted attributes through the fitted wrappers (a
search's ``best_estimator_``, a pipeline's last step, ``regressor_``). Both
walk with :func:`unwrap_estimator` and word their own errors.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

__all__ = ["unwrap_estimator"]

#: Deeper nesting than this is surely a cycle.
MAX_DEPTH = 32


def unwrap_estimator(estimator, *, fitted: bool, caller: str) -> tuple:
    """Walk from ``estimator`` through its wrappers to the skdl estimator.

    Parameters
    ----------
    estimator : object
        A skdl estimator, or a wrapper around one, as often nested as needed.
    fitted : bool
        False: follow the parameters of unfitted wrappers (the last step of
        anything with ``steps``; the ``estimator`` or ``regressor`` parameter
        of a meta-estimator). True: follow fitted wrappers (the last step of
        a ``Pipeline``, a search's ``best_estimator_``, a
        ``TransformedTargetRegressor``'s ``regressor_``).
    caller : str
        Name of the public function, for the errors about unfitted wrappers.

    Returns
    -------
    found : object
        The skdl estimator, or the first object on the way that wraps none
        (the caller raises its own error then).
    prefix : str
        The parameter-name prefix of ``found`` inside ``estimator``, such as
        ``"model__"`` (meaningful for ``fitted=False``).
    path : list of str
        Class names of the wrappers passed through, outermost first.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        With ``fitted=True``, if a search or ``TransformedTargetRegressor``
        on the way is not fitted.
    """
    from .._base import BaseDLEstimator  # the estimator imports this package

    inner_of = _fitted_inner if fitted else _param_inner
    current, prefix, path = estimator, "", []
    for _ in range(MAX_DEPTH):
        if isinstance(current, BaseDLEstimator):
            break
        step = inner_of(current, caller)
        if step is None:
            break
        path.append(type(current).__name__)
        current, name = step
        prefix += name
    return current, prefix, path


def _param_inner(obj, caller: str) -> tuple | None:
    """The estimator an unfitted wrapper holds, and its parameter prefix."""
    steps = getattr(obj, "steps", None)
    if steps:
        name, last = steps[-1]
        return last, f"{name}__"
    # Meta-estimators: GridSearchCV, BaggingClassifier, ... hold an
    # ``estimator``; TransformedTargetRegressor holds a ``regressor``.
    for param in ("estimator", "regressor"):
        inner = getattr(obj, param, None)
        if inner is not None and hasattr(obj, "get_params"):
            return inner, f"{param}__"
    return None


def _fitted_inner(obj, caller: str) -> tuple | None:
    """The fitted estimator a fitted wrapper holds, and its parameter prefix."""
    if isinstance(obj, Pipeline):
        name, last = obj.steps[-1]
        return last, f"{name}__"
    if _is_search(obj):
        if not hasattr(obj, "best_estimator_"):
            raise NotFittedError(
                f"{caller} needs a fitted search: this "
                f"{type(obj).__name__} has no best_estimator_. Fit it "
                f"(with refit=True, the default) first."
            )
        return obj.best_estimator_, "estimator__"
    if hasattr(obj, "regressor") and hasattr(obj, "transformer"):
        if not hasattr(obj, "regressor_"):
            raise NotFittedError(
                f"{caller} needs a fitted {type(obj).__name__}; fit it first."
            )
        return obj.regressor_, "regressor__"
    return None


def _is_search(obj) -> bool:
    """Duck-typed test for GridSearchCV, RandomizedSearchCV and their kin."""
    if hasattr(obj, "cv_results_"):
        return True
    get_params = getattr(obj, "get_params", None)
    if get_params is None:
        return False
    return {"estimator", "refit"} <= set(get_params(deep=False))
