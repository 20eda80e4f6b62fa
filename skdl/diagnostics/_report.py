"""diagnose: is a fitted network underfitting, overfitting or a good fit?

The verdict comes from a handful of rules over the per-epoch losses in
``history_``. Every threshold is a module constant, named in the rules of
:func:`diagnose`, so the verdict can be checked by hand against the learning
curves drawn by :func:`~skdl.diagnostics.plot_history`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._estimator.divergence import reference_loss
from ._fitted import (
    baseline_loss,
    early_stopping_fired,
    fitted_dl_estimator,
    loss_floor,
    score_name,
)
from ._suggestions import (
    exploded_suggestions,
    overfitting_suggestions,
    underfitting_suggestions,
)

__all__ = [
    "BIAS_GAP_THRESHOLD",
    "BIAS_LOSS_THRESHOLD",
    "EXPLODED_THRESHOLD",
    "GAP_THRESHOLD",
    "HIGH_LOSS_THRESHOLD",
    "RISE_THRESHOLD",
    "TREND_THRESHOLD",
    "TREND_WINDOW",
    "VERDICTS",
    "DiagnosisReport",
    "diagnose",
]

#: Overfitting: final-epoch gap ``valid_loss - train_loss``, in baseline units.
GAP_THRESHOLD = 0.15
#: Overfitting: rise of the validation loss after the best epoch, in baseline units.
RISE_THRESHOLD = 0.10
#: Underfitting: loss of the kept weights, as a fraction of the baseline loss.
HIGH_LOSS_THRESHOLD = 0.80
#: Underfitting: a loss this high (fraction of the baseline) with no gap ...
BIAS_LOSS_THRESHOLD = 0.25
#: ... where "no gap" means a final gap below this, in baseline units.
BIAS_GAP_THRESHOLD = 0.02
#: Underfitting: fall of the loss over the last ``TREND_WINDOW`` epochs, in
#: baseline units, that counts as "still improving".
TREND_THRESHOLD = 0.05
#: Number of final epochs over which the loss trend is measured.
TREND_WINDOW = 5
#: Unstable training: an epoch's training loss at least this many times the
#: baseline loss (taken as at least 1): the learning rate overshoots.
EXPLODED_THRESHOLD = 10.0
#: The possible verdicts.
VERDICTS = ("underfitting", "good fit", "overfitting")

_NEEDS_VALIDATION = (
    "set `early_stopping=True`: it holds out `validation_fraction` of the data, "
    "and overfitting can only be judged on data the network does not train on"
)


@dataclass(frozen=True)
class DiagnosisReport:
    """What :func:`diagnose` found in a fitted estimator's learning curves.

    Losses are the values recorded in ``history_``: the training loss is the
    mean over the epoch's batches (with dropout and augmentation active), the
    validation loss is measured after the epoch in evaluation mode. Regressor
    losses are in units of the standardized target.

    Attributes
    ----------
    estimator_name : str
        Class name of the diagnosed estimator.
    verdict : {"underfitting", "good fit", "overfitting"}
        The outcome of the rules documented in :func:`diagnose`.
    has_validation : bool
        Whether the estimator was fitted with a validation split
        (``early_stopping=True``). Without one, overfitting cannot be judged.
    n_epochs : int
        Epochs run (``n_epochs_``).
    max_epochs : int
        The estimator's ``max_epochs``.
    best_epoch : int
        Epoch whose weights were kept (``best_epoch_``): the lowest validation
        loss, or the last epoch without a validation split.
    early_stopped : bool
        Whether early stopping ended training (before or at ``max_epochs``).
    baseline_loss : float
        Loss of the best model that ignores its inputs
        (:func:`~skdl.diagnostics.baseline_loss`): for classifiers the
        entropy of the class shares (of the mean smoothed target with label
        smoothing), ``1.0`` for regressors. Gaps and trends are measured in
        these units.
    train_loss_best, train_loss_final : float
        Training loss at the best and at the last epoch.
    valid_loss_best, valid_loss_final : float or None
        Validation loss at the best and at the last epoch.
    gap_best, gap_final : float or None
        ``valid_loss - train_loss`` at the best and at the last epoch.
    relative_gap_best, relative_gap_final : float or None
        The gaps divided by ``baseline_loss``.
    score_name : {"accuracy", "R²"}
        What ``valid_score`` measures.
    valid_score_best, valid_score_final : float or None
        Validation score at the best and at the last epoch.
    signals : tuple of str
        The rules that fired, among ``"large_gap"``, ``"valid_loss_rising"``,
        ``"high_loss"``, ``"high_bias"``, ``"still_improving"`` and
        ``"loss_exploded"``.
    reasons : tuple of str
        One sentence per fired rule, with its numbers and threshold.
    suggestions : tuple of str
        Hyperparameter changes to try, most promising first.
    notes : tuple of str
        Caveats, such as a missing validation split.
    """

    estimator_name: str
    verdict: str
    has_validation: bool
    n_epochs: int
    max_epochs: int
    best_epoch: int
    early_stopped: bool
    baseline_loss: float
    train_loss_best: float
    train_loss_final: float
    valid_loss_best: float | None
    valid_loss_final: float | None
    gap_best: float | None
    gap_final: float | None
    relative_gap_best: float | None
    relative_gap_final: float | None
    score_name: str
    valid_score_best: float | None
    valid_score_final: float | None
    signals: tuple[str, ...]
    reasons: tuple[str, ...]
    suggestions: tuple[str, ...]
    notes: tuple[str, ...]

    def __str__(self) -> str:
        scope = "" if self.has_validation else " (training curve only)"
        stop = "early stopping fired" if self.early_stopped else "no early stop"
        kept = (
            "lowest validation loss"
            if self.has_validation
            else "last epoch, no validation split"
        )
        lines = [
            f"{self.estimator_name}: {self.verdict}{scope}",
            f"  {self.n_epochs} of max_epochs={self.max_epochs} epochs run, "
            f"{stop}; weights kept from epoch {self.best_epoch} ({kept})",
            f"  baseline loss (a model ignoring its inputs): {self.baseline_loss:.4f}",
            "",
        ]
        header = ["", "train loss"]
        if self.has_validation:
            header += ["valid loss", "gap", "gap/baseline", f"valid {self.score_name}"]
        rows = [header]
        for label, epoch, suffix in (
            ("best", self.best_epoch, "best"),
            ("final", self.n_epochs, "final"),
        ):
            row = [f"{label} (epoch {epoch})", _cell(self, f"train_loss_{suffix}")]
            if self.has_validation:
                row += [
                    _cell(self, f"valid_loss_{suffix}"),
                    _cell(self, f"gap_{suffix}"),
                    _cell(self, f"relative_gap_{suffix}", ".2f"),
                    _cell(self, f"valid_score_{suffix}"),
                ]
            rows.append(row)
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for row in rows:
            cells = [row[0].ljust(widths[0])]
            cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
            lines.append("  " + "  ".join(cells).rstrip())
        sections = (
            ("Why", self.reasons or ("no rule fired",)),
            ("Suggestions", self.suggestions or ("none: keep these settings",)),
            ("Notes", self.notes),
        )
        for title, items in sections:
            if items:
                lines += ["", f"{title}:"]
                lines += [f"  - {item}" for item in items]
        return "\n".join(lines)


def _cell(report: DiagnosisReport, name: str, fmt: str = ".4f") -> str:
    value = getattr(report, name)
    return "-" if value is None else format(value, fmt)


def _at(history, column: str, epoch: int) -> float | None:
    if column not in history.columns:
        return None
    return float(history.loc[epoch, column])


def diagnose(estimator) -> DiagnosisReport:
    """Read a fitted network's learning curves: underfitting or overfitting?

    The rules look at the losses in ``history_`` at the best epoch ``b``
    (``best_epoch_``, whose weights the estimator kept) and at the last epoch
    ``n``. Gaps and trends are divided by the baseline loss ``B``, the loss
    of the best model that ignores its inputs (for classifiers, the entropy
    of the class shares, or of the mean smoothed target; ``1.0`` for
    regressors, whose loss is the squared error of the standardized target;
    see :func:`~skdl.diagnostics.baseline_loss`), so that the thresholds
    mean the same for every task and stay stable when losses approach zero.
    The gap at an epoch is ``valid_loss - train_loss``.

    **Overfitting** (needs a validation split), when any of:

    * ``large_gap``: the final gap is at least ``GAP_THRESHOLD`` (0.15)
      times ``B``: the training loss went on falling well below the
      validation loss;
    * ``valid_loss_rising``: the validation loss at ``n`` exceeds its
      minimum at ``b`` by at least ``RISE_THRESHOLD`` (0.10) times ``B``
      while the training loss at ``n`` is below its value at ``b``.

    **Underfitting**, when not overfitting and any of:

    * ``high_loss``: at the best epoch, the training loss (the lower of the
      training and validation losses, when validating) is still at least
      ``HIGH_LOSS_THRESHOLD`` (0.8) times ``B``: the network barely beats a
      model that ignores its inputs;
    * ``high_bias``: that loss is at least ``BIAS_LOSS_THRESHOLD`` (0.25)
      times ``B`` and the final gap is below ``BIAS_GAP_THRESHOLD`` (0.02)
      times ``B``: the network fits its training data no better than unseen
      data, so it has capacity or freedom to spare;

      with label smoothing, both loss levels are measured above the floor
      ``F`` that smoothed targets leave even to a perfect network
      (:func:`~skdl.diagnostics.loss_floor`), as ``(loss - F) / (B - F)``;
    * ``still_improving``: training ran all ``max_epochs`` without early
      stopping firing, and the validation loss (the training loss without a
      validation split) fell by at least ``TREND_THRESHOLD`` (0.05) times
      ``B`` over the last ``TREND_WINDOW`` (5) epochs; or the fit ran a
      single epoch, which shows no trend at all.

    **Good fit** otherwise.

    **Exploding loss**, whatever the verdict: ``loss_exploded`` fires when
    some epoch's training loss reached ``EXPLODED_THRESHOLD`` (10) times
    ``B`` (taken as at least 1, where a fresh network starts). The learning
    rate overshoots, so the suggestions lead with a lower ``lr``, and for an
    underfitting network they are only that: more epochs or a larger network
    do not help a network whose steps overshoot. (``fit`` itself warns when
    the kept model's loss exceeds ``B`` that many times, and stops with
    :class:`~skdl.TrainingDivergedError` when the loss turns NaN.)

    Without a validation split the verdict rests on
    the training curve alone, so it is never "overfitting"; the report then
    says that a validation split is needed for a full diagnosis.

    The rules read curves, not causes. A problem whose labels are mostly
    noise cannot get far below ``B``, and a network that does not overfit it
    reads as underfitting (``high_bias``) whatever its size; the report then
    notes that a wider network that only overfits points to noise; and a
    loss near ``B`` (``high_loss``) can mean that the inputs carry little
    information about the target, which the report notes too. The recorded
    training loss is the mean over the epoch's batches, taken with dropout
    and augmentation active and while the weights still improve, so it can
    sit above the validation loss and make the gap negative.

    Parameters
    ----------
    estimator : estimator
        A fitted skdl estimator (:class:`~skdl.TabularClassifier`,
        :class:`~skdl.TabularRegressor`, :class:`~skdl.ImageClassifier`), or
        a fitted ``GridSearchCV`` (its ``best_estimator_``), ``Pipeline`` (its
        last step) or ``TransformedTargetRegressor`` around one.

    Returns
    -------
    report : DiagnosisReport
        The numbers, the verdict, the rules that fired and hyperparameter
        suggestions; ``print(report)`` shows a summary.

    Raises
    ------
    TypeError
        If ``estimator`` is not, and does not wrap, a skdl estimator.
    sklearn.exceptions.NotFittedError
        If it is not fitted.

    See Also
    --------
    plot_history : The learning curves the rules read.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skdl import TabularClassifier
    >>> from skdl.diagnostics import diagnose
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = TabularClassifier((), lr=1e-5, max_epochs=2, random_state=0)
    >>> report = diagnose(clf.fit(X, y))
    >>> report.verdict
    'underfitting'
    >>> report.signals
    ('high_loss', 'high_bias')
    >>> report.suggestions[0]
    'raise `lr` from 1e-05 to 0.001: tiny steps learn slowly'
    """
    est = fitted_dl_estimator(estimator, caller="diagnose")
    history = est.history_
    params = est.get_params(deep=False)
    stopper = dict(est.net_.callbacks_).get("early_stopping")
    if stopper is not None:
        params["patience"] = getattr(est, "patience_", stopper.patience)
    has_valid = "valid_loss" in history.columns
    base = baseline_loss(est)
    best, last = int(est.best_epoch_), int(history.index[-1])
    max_epochs = int(params.get("max_epochs", len(history)))
    stopped = early_stopping_fired(est)

    train_b = _at(history, "train_loss", best)
    train_n = _at(history, "train_loss", last)
    valid_b = _at(history, "valid_loss", best)
    valid_n = _at(history, "valid_loss", last)
    gap_b = None if valid_b is None else valid_b - train_b
    gap_n = None if valid_n is None else valid_n - train_n

    fired = _overfitting_rules(history, best, base) if has_valid else {}
    if fired:
        verdict = "overfitting"
    else:
        ran_out = not stopped and len(history) >= max_epochs
        fired = _underfitting_rules(
            history, best, base, ran_out=ran_out, floor=loss_floor(est)
        )
        verdict = "underfitting" if fired else "good fit"

    context = {"best": best, "stopped": stopped, "signals": fired}
    if verdict == "overfitting":
        suggestions = overfitting_suggestions(params, context)
    elif verdict == "underfitting":
        suggestions = underfitting_suggestions(params, context)
    else:
        suggestions = []
    exploded = _exploded_rule(history, reference_loss(est))
    if exploded:
        fired = {**exploded, **fired}  # the cause first
        keep = suggestions if verdict == "overfitting" else []
        suggestions = exploded_suggestions(params, context) + keep
    notes = []
    if not has_valid:
        suggestions.append(_NEEDS_VALIDATION)
        notes.append(
            "no validation split (early_stopping=False): the diagnosis rests on "
            "the training curve alone and cannot detect overfitting"
        )
    elif tuple(fired) == ("high_bias",):
        notes.append(
            "high_bias alone can also mean noisy labels: if a wider or less "
            "regularized network only overfits, this loss is about as low as "
            "the data allow"
        )
    elif verdict == "overfitting" and stopped:
        notes.append(
            f"early stopping fired at epoch {last} of max_epochs={max_epochs}; "
            f"the kept weights are those of epoch {best}, the lowest validation "
            f"loss, so the fitted model is less overfit than the final epoch"
        )

    if "high_loss" in fired:
        notes.append(
            "high_loss can also mean that the inputs carry little information "
            "about the target: if a larger or longer-trained network does not "
            "lower the loss, check the features"
        )
    n_members = len(getattr(est, "nets_", ()))
    if n_members > 1:
        notes.append(
            f"n_ensemble={n_members}: these are the curves of the first of the "
            f"{n_members} networks (history_), each trained on its own split"
        )

    def relative(gap: float | None) -> float | None:
        return None if gap is None else gap / base

    return DiagnosisReport(
        estimator_name=type(est).__name__,
        verdict=verdict,
        has_validation=has_valid,
        n_epochs=int(est.n_epochs_),
        max_epochs=max_epochs,
        best_epoch=best,
        early_stopped=stopped,
        baseline_loss=base,
        train_loss_best=train_b,
        train_loss_final=train_n,
        valid_loss_best=valid_b,
        valid_loss_final=valid_n,
        gap_best=gap_b,
        gap_final=gap_n,
        relative_gap_best=relative(gap_b),
        relative_gap_final=relative(gap_n),
        score_name=score_name(est),
        valid_score_best=_at(history, "valid_score", best),
        valid_score_final=_at(history, "valid_score", last),
        signals=tuple(fired),
        reasons=tuple(fired.values()),
        suggestions=tuple(suggestions),
        notes=tuple(notes),
    )


def _overfitting_rules(history, best: int, base: float) -> dict[str, str]:
    """The overfitting rules that fire, as ``{signal: reason}``."""
    train, valid = history["train_loss"], history["valid_loss"]
    train_b, train_n = train.loc[best], train.iloc[-1]
    valid_b, valid_n = valid.loc[best], valid.iloc[-1]
    fired = {}
    gap = valid_n - train_n
    if gap / base >= GAP_THRESHOLD:
        fired["large_gap"] = (
            f"large_gap: at the last epoch the validation loss exceeds the "
            f"training loss by {gap:.4f}, {gap / base:.2f} x the baseline loss "
            f"(threshold GAP_THRESHOLD={GAP_THRESHOLD})"
        )
    rise = valid_n - valid_b
    if rise / base >= RISE_THRESHOLD and train_n < train_b:
        fired["valid_loss_rising"] = (
            f"valid_loss_rising: after epoch {best} the validation loss rose by "
            f"{rise:.4f}, {rise / base:.2f} x the baseline loss (threshold "
            f"RISE_THRESHOLD={RISE_THRESHOLD}), while the training loss fell "
            f"from {train_b:.4f} to {train_n:.4f}"
        )
    return fired


def _underfitting_rules(
    history, best: int, base: float, *, ran_out: bool, floor: float = 0.0
) -> dict[str, str]:
    """The underfitting rules that fire, as ``{signal: reason}``.

    Loss levels are measured above ``floor``, the loss that smoothed labels
    leave even to a perfect network: ``(loss - floor) / (base - floor)``.
    """
    has_valid = "valid_loss" in history.columns
    fired = {}
    kept = history.loc[best, "train_loss"]
    which = "training loss"
    if has_valid:
        kept = min(kept, history.loc[best, "valid_loss"])
        which = "lower of the training and validation losses"
    if base - floor <= 1e-6 * base:
        # One class holds all the weight (class_prior_ like [1, 0]): there
        # is nothing to learn beyond it, and no loss level to judge.
        level = 0.0
    else:
        level = (kept - floor) / (base - floor)
    above = f" above the label-smoothing floor {floor:.4f}" if floor else ""
    if level >= HIGH_LOSS_THRESHOLD:
        fired["high_loss"] = (
            f"high_loss: at epoch {best} the {which} is {kept:.4f}, "
            f"{level:.2f} x the baseline loss {base:.4f} of a model that "
            f"ignores its inputs{above} (threshold HIGH_LOSS_THRESHOLD="
            f"{HIGH_LOSS_THRESHOLD})"
        )
    if has_valid and level >= BIAS_LOSS_THRESHOLD:
        gap = history["valid_loss"].iloc[-1] - history["train_loss"].iloc[-1]
        if gap / base < BIAS_GAP_THRESHOLD:
            fired["high_bias"] = (
                f"high_bias: at epoch {best} the {which} is {kept:.4f}, "
                f"{level:.2f} x the baseline loss{above} (threshold "
                f"BIAS_LOSS_THRESHOLD={BIAS_LOSS_THRESHOLD}), yet the final "
                f"gap is only {gap:.4f}, {gap / base:.2f} x the baseline loss "
                f"(threshold BIAS_GAP_THRESHOLD={BIAS_GAP_THRESHOLD}): the "
                f"network fits its training data no better than unseen data"
            )
    name = "valid_loss" if has_valid else "train_loss"
    monitored = history[name].to_numpy()
    window = min(TREND_WINDOW, len(monitored) - 1)
    drop = monitored[-1 - window] - monitored[-1] if window > 0 else 0.0
    if ran_out and window == 0:
        fired["still_improving"] = (
            "still_improving: training ran all max_epochs, a single epoch, "
            "which shows no trend: the network has barely started to learn"
        )
    elif ran_out and drop / base >= TREND_THRESHOLD:
        fired["still_improving"] = (
            f"still_improving: training ran all max_epochs while {name} was "
            f"still falling, by {drop:.4f} over the last {window} epochs, "
            f"{drop / base:.2f} x the baseline loss (threshold "
            f"TREND_THRESHOLD={TREND_THRESHOLD})"
        )
    return fired


def _exploded_rule(history, reference: float) -> dict[str, str]:
    """``loss_exploded`` when an epoch's training loss rose far past the baseline."""
    train = history["train_loss"]
    peak = float(train.max())
    if not peak >= EXPLODED_THRESHOLD * reference:
        return {}
    return {
        "loss_exploded": (
            f"loss_exploded: the training loss reached {peak:.4g} in epoch "
            f"{int(train.idxmax())}, {peak / reference:.3g} x the baseline loss "
            f"(taken as at least 1; threshold EXPLODED_THRESHOLD="
            f"{EXPLODED_THRESHOLD}): the learning rate overshoots"
        )
    }
