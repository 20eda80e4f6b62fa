"""Diagnostics: learning curves, an under/overfitting report, lr range test.

:func:`plot_history` draws a fitted estimator's learning curves;
:func:`diagnose` reads them with explicit rules (thresholds below) and
suggests which hyperparameters to change; :func:`lr_find` runs a
learning-rate range test on a copy of an estimator.
"""

from ._display import HistoryDisplay, plot_history
from ._fitted import baseline_loss, loss_floor
from ._lr_find import LRFinderDisplay, lr_find
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
    "LRFinderDisplay",
    "diagnose",
    "loss_floor",
    "lr_find",
    "plot_history",
]
