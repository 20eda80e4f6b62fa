"""HistoryDisplay and plot_history: a fitted network's learning curves."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._fitted import fitted_dl_estimator, score_name

__all__ = ["HistoryDisplay", "plot_history"]


def _pyplot(caller: str):
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"{caller} needs matplotlib; install it with `pip install matplotlib` "
            f"(or `pip install skdl[plot]`)."
        ) from exc
    return plt


class HistoryDisplay:
    """Learning curves: losses, validation score and learning rate per epoch.

    Follows scikit-learn's ``*Display`` API: build one with
    :meth:`from_estimator` (or :func:`plot_history`), or from a history table
    with the constructor and then :meth:`plot`. The plot draws the training
    and validation losses on the left axis, the validation score on a twin
    axis at the right, marks the best epoch (whose weights the estimator
    kept) with a vertical line and a dot on the validation loss, and shows
    the learning rate: as a curve on a second right axis when it changed
    during training (log scale when it spans two orders of magnitude), and
    in the legend when it stayed constant. The legend sits below the axes.

    Parameters
    ----------
    history : pandas.DataFrame
        One row per epoch, indexed by epoch, as an estimator's ``history_``:
        ``train_loss`` and ``lr``, and ``valid_loss`` and ``valid_score`` when
        the estimator validated.
    best_epoch : int
        Epoch whose weights were kept (``best_epoch_``).
    score_name : str, default="score"
        What ``valid_score`` measures, e.g. ``"accuracy"`` or ``"R²"``.
    estimator_name : str or None, default=None
        Shown as the title; None shows none.

    Attributes
    ----------
    ax_ : matplotlib.axes.Axes
        Axes with the losses (the one passed to :meth:`plot`, if any).
    ax_score_ : matplotlib.axes.Axes or None
        Twin axes with the validation score; None without validation.
    ax_lr_ : matplotlib.axes.Axes or None
        Twin axes with the learning rate; None when it was constant.
    figure_ : matplotlib.figure.Figure
        Figure holding the axes.
    lines_ : dict of str to matplotlib.lines.Line2D
        The curves, keyed by ``history`` column: ``"train_loss"``, and
        ``"valid_loss"``, ``"train_score"``, ``"valid_score"`` and ``"lr"``
        when drawn.
    best_epoch_line_ : matplotlib.lines.Line2D
        The vertical line at ``best_epoch``.
    best_epoch_marker_ : matplotlib.lines.Line2D or None
        The dot on the validation loss at ``best_epoch``; None without
        validation.
    legend_ : matplotlib.legend.Legend
        The legend, listing every curve.

    See Also
    --------
    plot_history : Draw an estimator's learning curves in one call.
    diagnose : Read the same curves with explicit rules.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_breast_cancer
    >>> from skdl import TabularClassifier
    >>> from skdl.diagnostics import HistoryDisplay
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = TabularClassifier((16,), max_epochs=5, random_state=0).fit(X, y)
    >>> display = HistoryDisplay.from_estimator(clf)
    >>> sorted(display.lines_)
    ['train_loss', 'train_score', 'valid_loss', 'valid_score']
    """

    def __init__(
        self,
        history: pd.DataFrame,
        *,
        best_epoch: int,
        score_name: str = "score",
        estimator_name: str | None = None,
    ) -> None:
        self.history = history
        self.best_epoch = best_epoch
        self.score_name = score_name
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name: str | None = None):
        """Plot the learning curves of a fitted estimator.

        Parameters
        ----------
        estimator : estimator
            A fitted skdl estimator, or a fitted ``GridSearchCV``,
            ``Pipeline`` or ``TransformedTargetRegressor`` around one.
        ax : matplotlib.axes.Axes or None, default=None
            Axes to draw the losses into (twin axes are added to it); None
            creates a figure.
        name : str or None, default=None
            Title; None uses the estimator's class name.

        Returns
        -------
        display : HistoryDisplay
            The display, with the matplotlib objects as attributes.
        """
        _pyplot("HistoryDisplay.from_estimator")
        est = fitted_dl_estimator(estimator, caller="HistoryDisplay.from_estimator")
        display = cls(
            est.history_,
            best_epoch=int(est.best_epoch_),
            score_name=score_name(est),
            estimator_name=type(est).__name__,
        )
        return display.plot(ax=ax, name=name)

    def plot(self, ax=None, *, name: str | None = None):
        """Draw the learning curves.

        Parameters
        ----------
        ax : matplotlib.axes.Axes or None, default=None
            Axes to draw the losses into (twin axes are added to it); None
            creates a figure.
        name : str or None, default=None
            Title; None uses ``estimator_name``.

        Returns
        -------
        self : HistoryDisplay
            The display, with ``ax_``, ``figure_``, ``lines_`` and the other
            attributes set.
        """
        plt = _pyplot("HistoryDisplay.plot")
        from matplotlib.ticker import MaxNLocator

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
        history = self.history
        epochs = history.index.to_numpy()
        has_valid = "valid_loss" in history.columns
        best = self.best_epoch
        lines = {}
        (lines["train_loss"],) = ax.plot(
            epochs, history["train_loss"], color="C0", label="training loss"
        )
        marker = None
        if has_valid:
            (lines["valid_loss"],) = ax.plot(
                epochs, history["valid_loss"], color="C1", label="validation loss"
            )
            (marker,) = ax.plot(
                [best],
                [history.loc[best, "valid_loss"]],
                "o",
                color="C1",
                markersize=7,
            )
        kept = "best epoch" if has_valid else "weights kept"
        best_line = ax.axvline(
            best, color="0.35", linestyle="--", linewidth=1, label=f"{kept} ({best})"
        )
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        handles = [lines["train_loss"]]
        if has_valid:
            handles.append(lines["valid_loss"])

        ax_score = None
        if "valid_score" in history.columns:
            ax_score = ax.twinx()
            (lines["valid_score"],) = ax_score.plot(
                epochs,
                history["valid_score"],
                color="C2",
                linestyle="-.",
                label=f"validation {self.score_name}",
            )
            ax_score.set_ylabel(self.score_name)
            handles.append(lines["valid_score"])
            if "train_score" in history.columns:
                (lines["train_score"],) = ax_score.plot(
                    epochs,
                    history["train_score"],
                    color="C2",
                    linestyle=":",
                    alpha=0.7,
                    label=f"training {self.score_name}",
                )
                handles.append(lines["train_score"])
        handles.append(best_line)

        ax_lr = None
        lr = history["lr"].to_numpy(dtype=float) if "lr" in history else None
        if lr is not None and np.ptp(lr) > 1e-12 * np.max(np.abs(lr)):
            ax_lr = ax.twinx()
            if ax_score is not None:
                ax_lr.spines["right"].set_position(("axes", 1.15))
            (lines["lr"],) = ax_lr.plot(
                epochs, lr, color="0.5", linestyle=":", label="learning rate"
            )
            if lr.min() > 0 and lr.max() >= 100 * lr.min():
                ax_lr.set_yscale("log")
            ax_lr.set_ylabel("learning rate")
            handles.append(lines["lr"])
        elif lr is not None:
            (constant,) = ax.plot([], [], " ", label=f"learning rate {lr[0]:g}")
            handles.append(constant)

        top = ax_lr or ax_score or ax
        legend = top.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14),
            ncols=3,
            fontsize="small",
            frameon=False,
        )
        title = name if name is not None else self.estimator_name
        if title:
            ax.set_title(title)

        self.ax_ = ax
        self.ax_score_ = ax_score
        self.ax_lr_ = ax_lr
        self.figure_ = ax.figure
        self.lines_ = lines
        self.best_epoch_line_ = best_line
        self.best_epoch_marker_ = marker
        self.legend_ = legend
        return self


def plot_history(estimator, ax=None) -> HistoryDisplay:
    """Plot a fitted estimator's learning curves.

    Draws the training and validation losses per epoch, the validation score
    (accuracy or R²) on a twin axis, the best epoch (whose weights were kept)
    and the learning rate; see :class:`HistoryDisplay`.

    Parameters
    ----------
    estimator : estimator
        A fitted skdl estimator, or a fitted ``GridSearchCV``, ``Pipeline``
        or ``TransformedTargetRegressor`` around one.
    ax : matplotlib.axes.Axes or None, default=None
        Axes to draw into; None creates a figure.

    Returns
    -------
    display : HistoryDisplay
        Holds the matplotlib objects: ``display.figure_``, ``display.ax_``,
        ``display.lines_``, ...

    See Also
    --------
    diagnose : The verdict these curves support, with suggestions.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_breast_cancer
    >>> from skdl import TabularClassifier
    >>> from skdl.diagnostics import plot_history
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = TabularClassifier((16,), max_epochs=5, random_state=0).fit(X, y)
    >>> display = plot_history(clf)
    >>> display.ax_.get_xlabel()
    'epoch'
    """
    return HistoryDisplay.from_estimator(estimator, ax=ax)
