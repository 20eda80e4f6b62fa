"""Diagnostics: learning curves and an under/overfitting report.

:func:`plot_history` draws a fitted estimator's learning curves;
:func:`diagnose` reads them with explicit rules (thresholds below) and
suggests which hyperparameters to change.
"""

from ._display import HistoryDisplay, plot_history
from ._fitted import baseline_loss, loss_floor
from ._report import (
    BIAS_GAP_THRESHOLD,
    BIAS_LOSS_THRESHOLD,
    EXPLODED_THRESHOLD,
    GAP_THRESHOLD,
    HIGH_LOSS_THRESHOLD,
    RISE_THRESHOLD,
    TREND_THRESHOLD,
    TREND_WINDOW,
    VERDICTS,
    DiagnosisReport,
    diagnose,
)
from ._suggestions import LOW_LR

__all__ = [
    "BIAS_GAP_THRESHOLD",
    "BIAS_LOSS_THRESHOLD",
    "EXPLODED_THRESHOLD",
    "GAP_THRESHOLD",
    "HIGH_LOSS_THRESHOLD",
    "LOW_LR",
    "RISE_THRESHOLD",
    "TREND_THRESHOLD",
    "TREND_WINDOW",
    "VERDICTS",
    "baseline_loss",
    "DiagnosisReport",
    "HistoryDisplay",
    "diagnose",
    "loss_floor",
    "plot_history",
]
