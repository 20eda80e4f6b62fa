"""lr_find: a learning-rate range test, and the display that shows it.

The range test (Smith, 2017; fastai's ``lr_find``) trains a copy of the
estimator for a few hundred steps while the learning rate grows
exponentially from tiny to far too large, and records the training loss of
every step. The loss first stays flat (too small a rate to learn), then
falls, then blows up; a good rate lies in the falling part.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, validate_params
from skorch.callbacks import Callback

from .._base import BaseDLEstimator
from .._training.interrupt import StopTraining
from ..exceptions import TrainingDivergedError
from ._display import _pyplot

__all__ = ["LRFinderDisplay", "lr_find"]

#: Weight of the past in the loss's exponential moving average (fastai's).
SMOOTHING = 0.98


class _Record:
    """What the ramp measured, shared by every copy of the callback.

    skdl deep-copies ``callbacks`` for each fit; the copy that trains must
    still write where :func:`lr_find` reads.
    """

    def __init__(self) -> None:
        self.lrs: list[float] = []
        self.losses: list[float] = []

    def __deepcopy__(self, memo):
        return self


class _LRRamp(Callback):
    """Set an exponentially growing rate before each training step.

    Parameters
    ----------
    start_lr, end_lr : float
        First and last rate of the ramp.
    n_steps : int
        Training steps of the ramp.
    diverge_factor : float
        Stop once the smoothed loss exceeds this multiple of its minimum.
    record : _Record
        Receives each step's rate and training loss.
    """

    def __init__(self, start_lr, end_lr, n_steps, diverge_factor, record):
        self.start_lr = start_lr
        self.end_lr = end_lr
        self.n_steps = n_steps
        self.diverge_factor = diverge_factor
        self.record = record

    def on_train_begin(self, net, **kwargs):
        # Parameter groups keep their ratio to the base rate
        # (backbone_lr_scale); the head's group is the base.
        groups = net.optimizer_.param_groups
        self.scales_ = [g["lr"] / groups[0]["lr"] for g in groups]
        self.step_ = 0
        self.lowest_ = math.inf

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training:
            return
        ratio = self.step_ / max(self.n_steps - 1, 1)
        self.lr_ = self.start_lr * (self.end_lr / self.start_lr) ** ratio
        for group, scale in zip(net.optimizer_.param_groups, self.scales_):
            group["lr"] = self.lr_ * scale

    def on_batch_end(self, net, training=False, loss=None, **kwargs):
        if not training:
            return
        self.record.lrs.append(self.lr_)
        self.record.losses.append(float(loss.detach()))
        self.step_ += 1
        smoothed = smooth(self.record.losses)[-1]
        self.lowest_ = min(self.lowest_, smoothed)
        if self.step_ >= self.n_steps or smoothed > self.diverge_factor * self.lowest_:
            raise StopTraining


def smooth(losses, beta: float = SMOOTHING) -> np.ndarray:
    """Bias-corrected exponential moving average of a loss sequence.

    Parameters
    ----------
    losses : array-like of shape (n_steps,)
        Raw per-step losses.
    beta : float, default=0.98
        Weight of the past.

    Returns
    -------
    smoothed : ndarray of shape (n_steps,)
        ``avg_t / (1 - beta ** t)`` with ``avg_t = beta * avg_{t-1} + (1 -
        beta) * loss_t``, as in fastai.
    """
    losses = np.asarray(losses, dtype=float)
    out = np.empty_like(losses)
    avg = 0.0
    for t, value in enumerate(losses, start=1):
        avg = beta * avg + (1 - beta) * value
        out[t - 1] = avg / (1 - beta**t)
    return out


def suggest_lr(lrs, losses) -> float:
    """A tenth of the rate at the minimum of the smoothed loss.

    At the minimum the loss is about to blow up; a tenth of that rate lies
    in the region where the loss still falls steadily (fastai's ``lr_min``
    rule). The other common rule, the steepest descent of the smoothed
    curve, reads a numerical derivative, which on the short, noisy curves
    of small tables jumps from one end of the ramp to the other between
    seeds; the minimum does not. The result is never below the ramp's start.

    Parameters
    ----------
    lrs : array-like of shape (n_steps,)
        Learning rate of each step.
    losses : array-like of shape (n_steps,)
        Raw training loss of each step.

    Returns
    -------
    lr : float
        The suggested learning rate.
    """
    lrs = np.asarray(lrs, dtype=float)
    smoothed = smooth(losses)
    finite = np.isfinite(smoothed)
    best = int(np.argmin(np.where(finite, smoothed, np.inf)))
    return float(max(lrs[best] / 10, lrs[0]))


class LRFinderDisplay:
    """Training loss against learning rate from a range test, log-scale x.

    Build one with :func:`lr_find` (which runs the test) and draw it with
    :meth:`plot`, or run and draw at once with :meth:`from_estimator`. The
    plot shows each step's loss faintly, its smoothed curve, and a dashed
    vertical line at the suggested rate.

    Parameters
    ----------
    lrs : ndarray of shape (n_steps,)
        Learning rate of each training step of the ramp.
    losses : ndarray of shape (n_steps,)
        Training loss of each step.
    suggested_lr : float
        The suggested learning rate (see :func:`lr_find`).
    estimator_name : str or None, default=None
        Shown as the title; None shows none.

    Attributes
    ----------
    smoothed_losses : ndarray of shape (n_steps,)
        The losses' bias-corrected exponential moving average (weight 0.98
        on the past, as in fastai).
    ax_ : matplotlib.axes.Axes
        Axes of the plot.
    figure_ : matplotlib.figure.Figure
        Figure holding the axes.
    line_ : matplotlib.lines.Line2D
        The smoothed loss.
    raw_line_ : matplotlib.lines.Line2D
        The per-step loss.
    suggested_line_ : matplotlib.lines.Line2D
        The vertical line at ``suggested_lr``.

    See Also
    --------
    lr_find : Run the range test.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_breast_cancer
    >>> from skdl import TabularClassifier
    >>> from skdl.diagnostics import lr_find
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> display = lr_find(TabularClassifier((32,), random_state=0), X, y)
    >>> 1e-7 <= display.suggested_lr <= 10
    True
    >>> display = display.plot()
    """

    def __init__(self, lrs, losses, suggested_lr, *, estimator_name=None) -> None:
        self.lrs = np.asarray(lrs, dtype=float)
        self.losses = np.asarray(losses, dtype=float)
        self.suggested_lr = suggested_lr
        self.estimator_name = estimator_name
        self.smoothed_losses = smooth(self.losses)

    @classmethod
    def from_estimator(cls, estimator, X, y, *, ax=None, **kwargs):
        """Run :func:`lr_find` and plot the result.

        Parameters
        ----------
        estimator : skdl estimator
            Left untouched; a copy is trained.
        X, y : array-like
            Training data, as for the estimator's ``fit``.
        ax : matplotlib.axes.Axes or None, default=None
            Axes to draw into; None creates a figure.
        **kwargs
            Further arguments of :func:`lr_find`.

        Returns
        -------
        display : LRFinderDisplay
            The display, with the matplotlib objects as attributes.
        """
        _pyplot("LRFinderDisplay.from_estimator")
        return lr_find(estimator, X, y, **kwargs).plot(ax=ax)

    def plot(self, ax=None, *, name=None):
        """Draw the loss against the learning rate.

        Parameters
        ----------
        ax : matplotlib.axes.Axes or None, default=None
            Axes to draw into; None creates a figure.
        name : str or None, default=None
            Title; None uses ``estimator_name``.

        Returns
        -------
        self : LRFinderDisplay
            The display, with ``ax_``, ``figure_`` and the lines set.
        """
        plt = _pyplot("LRFinderDisplay.plot")
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4), layout="constrained")
        (self.raw_line_,) = ax.plot(
            self.lrs, self.losses, color="C0", alpha=0.3, label="loss per step"
        )
        (self.line_,) = ax.plot(
            self.lrs, self.smoothed_losses, color="C0", label="smoothed loss"
        )
        self.suggested_line_ = ax.axvline(
            self.suggested_lr,
            color="C3",
            linestyle="--",
            label=f"suggested lr = {self.suggested_lr:.2g}",
        )
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        # The blow-up at the end would squash the useful part of the curve:
        # show from the lowest step loss before the smoothed minimum to a
        # little above the starting loss.
        smoothed = np.where(
            np.isfinite(self.smoothed_losses), self.smoothed_losses, np.inf
        )
        best = int(np.argmin(smoothed))
        if np.isfinite(smoothed[best]):
            low = np.nanmin(self.losses[: best + 1])
            top = max(smoothed[0], np.nanmax(self.losses[:2]))
            pad = 0.05 * (top - low) + 1e-12
            ax.set_ylim(low - pad, top + 4 * pad)
        ax.legend()
        title = name if name is not None else self.estimator_name
        if title:
            ax.set_title(title)
        self.ax_, self.figure_ = ax, ax.figure
        return self


@validate_params(
    {
        "estimator": [BaseDLEstimator],
        "start_lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "end_lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_steps": [Interval(numbers.Integral, 2, None, closed="left")],
        "diverge_factor": [Interval(numbers.Real, 1, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def lr_find(
    estimator,
    X,
    y,
    *,
    start_lr=1e-7,
    end_lr=10.0,
    n_steps=200,
    diverge_factor=4.0,
):
    """Learning-rate range test: train a copy with an exponential lr ramp.

    A clone of ``estimator`` trains on all of ``X`` (no validation split, no
    schedule, no user callbacks, one network) for ``n_steps`` optimizer
    steps, or until the smoothed loss exceeds ``diverge_factor`` times its
    minimum, while the learning rate grows exponentially from ``start_lr``
    to ``end_lr``. The estimator passed in is not changed, fitted or not.

    The suggested rate is a tenth of the rate at the minimum of the smoothed
    loss (see :func:`suggest_lr` in this module for why this rule). Treat it
    as a starting point for ``lr``: the test measures how fast the loss falls
    in its first steps, not where a long fit ends.

    Parameters
    ----------
    estimator : TabularClassifier, TabularRegressor or ImageClassifier
        The configuration to test; all its other parameters (architecture,
        optimizer, batch size, ``weights`` and ``freeze``) are kept.
    X : array-like, DataFrame or image input
        Training inputs, as for the estimator's ``fit``.
    y : array-like of shape (n_samples,)
        Targets.
    start_lr : float, default=1e-7
        First learning rate of the ramp.
    end_lr : float, default=10.0
        Last learning rate of the ramp; must exceed ``start_lr``.
    n_steps : int, default=200
        Optimizer steps of the ramp (epochs follow as needed).
    diverge_factor : float, default=4.0
        Stop early once the smoothed loss is this many times its minimum.

    Returns
    -------
    display : LRFinderDisplay
        With ``lrs``, ``losses``, ``smoothed_losses`` and ``suggested_lr``;
        call its ``plot()`` to draw it.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from skdl import TabularClassifier
    >>> from skdl.diagnostics import lr_find
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = TabularClassifier((32,), random_state=0)
    >>> display = lr_find(clf, X, y, n_steps=100)
    >>> len(display.lrs) <= 100
    True
    """
    if end_lr <= start_lr:
        raise ValueError(
            f"end_lr={end_lr:g} must be larger than start_lr={start_lr:g}."
        )
    record = _Record()
    ramp = _LRRamp(start_lr, end_lr, n_steps, diverge_factor, record)
    trial = clone(estimator)
    params = {
        "lr": start_lr,
        "lr_schedule": None,
        "early_stopping": False,
        "max_epochs": n_steps,  # at least one step per epoch
        "verbose": 0,
        "callbacks": [("lr_range_test", ramp)],
        # A throwaway fit: no checkpoint files, never continued.
        "warm_start": False,
        "checkpoint": None,
    }
    if "n_ensemble" in trial.get_params():
        params["n_ensemble"] = 1
    trial.set_params(**params)
    try:
        with warnings.catch_warnings():
            # The ramp drives the loss up on purpose; fit's warning that the
            # kept model diverged is about that, not about the user's lr.
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            trial.fit(X, y)
    except TrainingDivergedError:
        pass  # the loss became NaN or infinite: the ramp went far enough
    if len(record.losses) < 2:
        raise ValueError(
            f"The range test ran {len(record.losses)} step(s); it needs at "
            f"least 2. Use a larger start_lr, or a smaller batch_size so that "
            f"there are more steps."
        )
    return LRFinderDisplay(
        record.lrs,
        record.losses,
        suggest_lr(record.lrs, record.losses),
        estimator_name=type(estimator).__name__,
    )
