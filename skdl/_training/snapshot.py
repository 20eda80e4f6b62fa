"""Keep the previous model until a new fit really starts training.

``fit`` promises that bad input leaves the estimator as it was, a fitted
model included. Many inputs can only be found bad while preparing the
training run: fitting the data adapter, building the network, loading
``weights``, applying ``freeze``, checking the optimizer. So ``fit`` takes a
:class:`FitSnapshot` of the estimator before it starts, and any error raised
before training begins puts the snapshot back.

Once the new network is ready to be moved to its device and trained,
:func:`release_previous_fit` drops the snapshot: the previous networks would
otherwise share (GPU) memory with the new ones for the whole run. An error
raised from then on (an exception in the user's augmenter or activation,
diverged training) leaves the estimator unfitted, as documented in ``fit``.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["FitSnapshot", "release_previous_fit"]

#: The snapshot of the fit running in this thread (or task), if any.
_CURRENT: ContextVar[FitSnapshot | None] = ContextVar("skdl_fit_snapshot", default=None)


def _is_fitted_attribute(name: str) -> bool:
    return name.endswith("_") and not name.startswith("_")


class FitSnapshot:
    """Context manager that restores an estimator if fit fails while preparing.

    On entry it saves the estimator's ``__dict__`` and removes the fitted
    attributes (validation then runs on an estimator cleared of the previous
    fit). Validation and preparation only ever rebind attributes, so a
    shallow copy of ``__dict__`` is a full snapshot to go back to.

    Parameters
    ----------
    estimator : object
        The estimator being fitted.
    """

    def __init__(self, estimator) -> None:
        self.estimator = estimator
        self._saved: dict | None = None
        self._token = None

    def __enter__(self) -> FitSnapshot:
        state = self.estimator.__dict__
        self._saved = dict(state)
        for name in self._saved:
            if _is_fitted_attribute(name):
                del state[name]
        self._token = _CURRENT.set(self)
        return self

    def release(self) -> None:
        """Forget the previous model: a failure from now on cannot restore it."""
        self._saved = None

    @property
    def released(self) -> bool:
        """Whether training started, so the previous model is gone."""
        return self._saved is None

    def __exit__(self, exc_type, exc, tb) -> bool:
        _CURRENT.reset(self._token)
        if exc_type is not None and self._saved is not None:
            state = self.estimator.__dict__
            state.clear()
            state.update(self._saved)
        self._saved = None
        return False


def release_previous_fit() -> None:
    """Drop the running fit's snapshot; call it right before training starts."""
    snapshot = _CURRENT.get()
    if snapshot is not None:
        snapshot.release()
