"""Tests for skdl.diagnostics: diagnose() and the learning-curve display.

The verdict tests fit real networks that genuinely overfit (wide, unregularized
nets on a few hundred noisy rows, trained long past their best epoch),
genuinely underfit (a linear model with a tiny learning rate for two epochs)
or fit well. The threshold tests replay hand-written histories through a
fitted estimator, so that each rule is checked right at its boundary.
"""

from __future__ import annotations

import copy
import math
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdl import ImageClassifier, TabularClassifier, TabularRegressor
from skdl.diagnostics import (
    BIAS_GAP_THRESHOLD,
    BIAS_LOSS_THRESHOLD,
    GAP_THRESHOLD,
    HIGH_LOSS_THRESHOLD,
    RISE_THRESHOLD,
    TREND_THRESHOLD,
    VERDICTS,
    DiagnosisReport,
    HistoryDisplay,
    baseline_loss,
    diagnose,
    loss_floor,
    plot_history,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Tiny networks train fastest on one thread, above all on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def read_pmlb(data_dir, name: str, n_rows: int):
    frame = pd.read_csv(data_dir / "tabular" / f"pmlb_{name}.tsv.gz", sep="\t")
    frame = frame.iloc[:n_rows]
    return frame.drop(columns="target"), frame["target"]


# --------------------------------------------------------------- real fits
@pytest.fixture(scope="module")
def overfit_clf(data_dir):
    """A wide net, no regularization, on 300 rows of credit-g (noisy labels)."""
    X, y = read_pmlb(data_dir, "credit_g", 300)
    return TabularClassifier(
        (256, 256),
        numeric_embedding=None,
        scaling="standard",
        max_epochs=40,
        patience=20,
        validation_fraction=0.25,
        random_state=0,
    ).fit(X, y)


@pytest.fixture(scope="module")
def overfit_reg(data_dir):
    """The same on 300 rows of a noisy regression task (social workers' ratings)."""
    X, y = read_pmlb(data_dir, "1028_SWD", 300)
    return TabularRegressor(
        (256, 256),
        max_epochs=40,
        patience=20,
        validation_fraction=0.25,
        random_state=0,
    ).fit(X, y)


@pytest.fixture(scope="module")
def underfit_clf():
    """A linear model on digits, a tiny learning rate, two epochs."""
    X, y = load_digits(return_X_y=True)
    return TabularClassifier((), lr=1e-5, max_epochs=2, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def good_clf():
    """A small net with some dropout on breast cancer, early stopping on.

    Unsmoothed labels: the threshold tests replay raw loss levels on it.
    """
    X, y = load_breast_cancer(return_X_y=True)
    return TabularClassifier(
        (32,), dropout=0.2, max_epochs=100, label_smoothing=0.0, random_state=0
    ).fit(X, y)


@pytest.fixture(scope="module")
def no_valid_clf():
    """No validation split, and far too few epochs."""
    X, y = load_digits(return_X_y=True)
    return TabularClassifier(
        (32,), early_stopping=False, max_epochs=5, random_state=0
    ).fit(X, y)


@pytest.fixture(scope="module")
def image_clf():
    digits = load_digits()
    return ImageClassifier(max_epochs=3, random_state=0).fit(
        digits.images[:300], digits.target[:300]
    )


def mentions(report: DiagnosisReport, name: str) -> bool:
    return any(f"`{name}" in suggestion for suggestion in report.suggestions)


@pytest.mark.data
def test_overfitting_classifier(overfit_clf):
    report = diagnose(overfit_clf)
    assert report.verdict == "overfitting"
    assert {"large_gap", "valid_loss_rising"} <= set(report.signals)
    assert report.relative_gap_final >= GAP_THRESHOLD
    assert report.early_stopped
    for name in ("dropout", "weight_decay", "l1", "hidden_layer_sizes", "patience"):
        assert mentions(report, name), name
    assert "`augment=GaussianNoise(std=0.1)`" in " ".join(report.suggestions)
    assert "raise `dropout` from 0.0 to 0.2" in report.suggestions
    assert "shorten `patience` from 20 to 10" in " ".join(report.suggestions)


@pytest.mark.data
def test_overfitting_regressor(overfit_reg):
    report = diagnose(overfit_reg)
    assert report.verdict == "overfitting"
    assert report.baseline_loss == 1.0
    assert report.score_name == "R²"
    assert mentions(report, "dropout")


def test_underfitting(underfit_clf):
    report = diagnose(underfit_clf)
    assert report.verdict == "underfitting"
    assert "high_loss" in report.signals
    # Digits' ten classes are almost balanced: close to log(10).
    assert report.baseline_loss == pytest.approx(math.log(10), rel=1e-3)
    assert not report.early_stopped
    assert mentions(report, "lr")
    assert "raise `lr` from 1e-05 to 0.001" in " ".join(report.suggestions)
    assert mentions(report, "hidden_layer_sizes")
    assert not mentions(report, "dropout")  # there is no dropout to lower


def _entropy(p):
    p = np.asarray(p, dtype=float)
    return float(-(p * np.log(p)).sum())


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_baseline_is_the_best_loss_without_inputs(smoothing):
    # 5% positives: predicting the shares costs far less than log(2).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 10))
    y = (rng.random(400) < 0.05).astype(int)
    clf = TabularClassifier(
        (8,), max_epochs=3, label_smoothing=smoothing, random_state=0
    ).fit(X, y)
    share = y.mean()
    np.testing.assert_allclose(clf.class_prior_, [1 - share, share])
    mean_target = (1 - smoothing) * clf.class_prior_ + smoothing / 2
    assert baseline_loss(clf) == pytest.approx(_entropy(mean_target))
    assert baseline_loss(clf) < 0.4 < math.log(2)
    # Balanced class weights make the shares equal again.
    balanced = clone(clf).set_params(class_weight="balanced").fit(X, y)
    assert baseline_loss(balanced) == pytest.approx(math.log(2))


def test_inputs_without_signal_are_not_a_good_fit():
    # Pure noise, 5% positives: the network can only learn the class shares.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 10))
    y = (rng.random(600) < 0.05).astype(int)
    report = diagnose(TabularClassifier((64,), max_epochs=30, random_state=0).fit(X, y))
    assert report.verdict == "underfitting"
    assert "high_loss" in report.signals
    assert any("little information" in note for note in report.notes)


def test_no_loss_level_is_judged_when_one_class_has_all_the_weight():
    X, y = load_breast_cancer(return_X_y=True)
    weights = (y == 1).astype(float)  # class 0 weighs nothing
    clf = TabularClassifier((8,), max_epochs=3, random_state=0)
    report = diagnose(clf.fit(X, y, sample_weight=weights))
    np.testing.assert_allclose(clf.class_prior_, [0, 1])
    assert "high_loss" not in report.signals and "high_bias" not in report.signals


def test_high_loss_note_without_a_validation_split():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = rng.integers(0, 2, 300)
    clf = TabularClassifier((8,), max_epochs=3, early_stopping=False, random_state=0)
    report = diagnose(clf.fit(X, y))
    assert "high_loss" in report.signals
    assert any("little information" in note for note in report.notes)
    assert any("no validation split" in note for note in report.notes)


def test_a_single_epoch_suggests_training_longer(good_clf):
    X, y = load_breast_cancer(return_X_y=True)
    one = TabularClassifier((8,), max_epochs=1, random_state=0).fit(X, y)
    report = diagnose(one)
    assert "still_improving" in report.signals
    assert "raise `max_epochs` from 1 to 2" in " ".join(report.suggestions)


def test_good_fit(good_clf):
    report = diagnose(good_clf)
    assert report.verdict == "good fit"
    assert report.signals == ()
    assert report.suggestions == ()
    assert "none: keep these settings" in str(report)


def test_without_validation_split(no_valid_clf):
    report = diagnose(no_valid_clf)
    assert not report.has_validation
    assert report.verdict == "underfitting"
    assert report.signals == ("still_improving",)
    assert report.valid_loss_best is None and report.gap_final is None
    assert report.relative_gap_best is None and report.valid_score_best is None
    assert not report.early_stopped
    assert mentions(report, "max_epochs")
    assert "`early_stopping=True`" in report.suggestions[-1]
    text = str(report)
    assert "(training curve only)" in text
    assert "cannot detect overfitting" in text
    assert "valid loss" not in text


@pytest.mark.parametrize(
    "fixture",
    [
        pytest.param("overfit_clf", marks=pytest.mark.data),
        pytest.param("overfit_reg", marks=pytest.mark.data),
        "underfit_clf",
        "good_clf",
    ],
)
def test_report_numbers_equal_history(fixture, request):
    est = request.getfixturevalue(fixture)
    report = diagnose(est)
    history = est.history_
    best, last = est.best_epoch_, est.n_epochs_
    assert report.best_epoch == best
    assert report.n_epochs == last == len(history)
    assert report.max_epochs == est.max_epochs
    assert report.early_stopped == (last < est.max_epochs)
    assert report.estimator_name == type(est).__name__
    assert report.verdict in VERDICTS
    train, valid = history["train_loss"], history["valid_loss"]
    assert report.train_loss_best == train[best]
    assert report.train_loss_final == train[last]
    assert report.valid_loss_best == valid[best] == valid.min()
    assert report.valid_loss_final == valid[last]
    assert report.gap_best == pytest.approx(valid[best] - train[best])
    assert report.gap_final == pytest.approx(valid[last] - train[last])
    assert report.relative_gap_best == pytest.approx(
        report.gap_best / report.baseline_loss
    )
    assert report.relative_gap_final == pytest.approx(
        report.gap_final / report.baseline_loss
    )
    assert report.valid_score_best == history["valid_score"][best]
    assert report.valid_score_final == history["valid_score"][last]
    assert len(report.reasons) == len(report.signals)


@pytest.mark.data
def test_str_is_a_readable_summary(overfit_clf):
    report = diagnose(overfit_clf)
    text = str(report)
    assert text.splitlines()[0] == "TabularClassifier: overfitting"
    assert f"best (epoch {report.best_epoch})" in text
    assert f"final (epoch {report.n_epochs})" in text
    assert f"{report.valid_loss_final:.4f}" in text
    assert "valid accuracy" in text
    for item in report.reasons + report.suggestions + report.notes:
        assert item in text


# ---------------------------------------------------------------- wrappers
@pytest.fixture(scope="module")
def search():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(), TabularClassifier((8,), max_epochs=4, random_state=0)
    )
    grid = {"tabularclassifier__dropout": [0.0, 0.2]}
    return GridSearchCV(pipe, grid, cv=2).fit(X, y)


def test_unwraps_search_and_pipeline(search):
    inner = search.best_estimator_[-1]
    expected = diagnose(inner)
    assert diagnose(search) == expected
    assert diagnose(search.best_estimator_) == expected
    display = plot_history(search)
    np.testing.assert_array_equal(
        display.lines_["train_loss"].get_ydata(), inner.history_["train_loss"]
    )


def test_unwraps_transformed_target_regressor():
    X, y = load_diabetes(return_X_y=True)
    model = TransformedTargetRegressor(
        TabularRegressor((8,), max_epochs=3, random_state=0),
        func=np.log,
        inverse_func=np.exp,
    ).fit(X, y)
    assert diagnose(model) == diagnose(model.regressor_)


def test_rejects_what_is_not_a_fitted_skdl_estimator():
    X, y = load_breast_cancer(return_X_y=True)
    with pytest.raises(TypeError, match="fitted skdl estimator.*DummyClassifier"):
        diagnose(DummyClassifier().fit(X[:, :3], y))
    with pytest.raises(TypeError, match=r"DummyClassifier \(inside Pipeline\)"):
        diagnose(make_pipeline(StandardScaler(), DummyClassifier()))
    search = GridSearchCV(make_pipeline(DummyClassifier()), {}, cv=2)
    with pytest.raises(TypeError, match=r"\(inside GridSearchCV -> Pipeline\)"):
        diagnose(search.fit(X[:, :3], y))
    with pytest.raises(NotFittedError, match="not fitted yet"):
        diagnose(TabularClassifier())
    with pytest.raises(NotFittedError, match="best_estimator_"):
        diagnose(GridSearchCV(TabularClassifier(), {"dropout": [0.0]}))
    with pytest.raises(TypeError, match="plot_history|HistoryDisplay"):
        plot_history("not an estimator")


# ------------------------------------------------------- rules, at threshold
def replay(est, train, valid=None, *, best=None, **params):
    """A copy of fitted ``est`` whose history holds the given losses."""
    est = copy.deepcopy(est)
    epochs = pd.RangeIndex(1, len(train) + 1, name="epoch")
    columns = {"train_loss": train}
    if valid is not None:
        columns |= {
            "valid_loss": valid,
            "valid_score": np.linspace(0.5, 0.9, len(train)),
        }
    columns["lr"] = np.full(len(train), 1e-3)
    est.history_ = pd.DataFrame(columns, index=epochs)
    est.best_epoch_ = int(np.argmin(valid)) + 1 if best is None else best
    est.n_epochs_ = len(train)
    if hasattr(est, "class_prior_"):
        # Balanced shares: the baseline loss is log(n_classes) (B2 for two).
        est.class_prior_ = np.full(len(est.classes_), 1 / len(est.classes_))
    return est.set_params(**params)


B2 = math.log(2)


@pytest.mark.parametrize("offset, fires", [(0.01, True), (-0.01, False)])
def test_large_gap_threshold(good_clf, offset, fires):
    gap = (GAP_THRESHOLD + offset) * B2
    train = np.array([0.5, 0.4, 0.3, 0.2, 0.1])
    valid = np.array([0.5, 0.45, 0.45, 0.45, 0.1 + gap])  # lowest at the end
    report = diagnose(replay(good_clf, train, valid))
    assert ("large_gap" in report.signals) is fires
    assert (report.verdict == "overfitting") is fires


@pytest.mark.parametrize(
    "rise, train_end, fires",
    [
        (RISE_THRESHOLD + 0.01, 0.34, True),
        (RISE_THRESHOLD - 0.01, 0.34, False),
        (RISE_THRESHOLD + 0.05, 0.36, False),  # training loss did not fall
    ],
)
def test_valid_loss_rising_threshold(good_clf, rise, train_end, fires):
    # The final gap stays below GAP_THRESHOLD: this rule alone decides.
    valid = np.array([0.6, 0.3, 0.3 + rise * B2])
    train = np.array([0.6, 0.35, train_end])
    report = diagnose(replay(good_clf, train, valid))
    assert report.best_epoch == 2
    assert report.signals == (("valid_loss_rising",) if fires else ())
    assert (report.verdict == "overfitting") is fires


@pytest.mark.parametrize("offset, fires", [(0.01, True), (-0.01, False)])
def test_high_loss_threshold(good_clf, offset, fires):
    loss = (HIGH_LOSS_THRESHOLD + offset) * B2
    train = np.array([0.69, loss + 0.01, loss])
    valid = np.array([0.69, loss + 0.05, loss + 0.03])
    report = diagnose(replay(good_clf, train, valid, best=3))
    assert ("high_loss" in report.signals) is fires


@pytest.mark.parametrize(
    "loss, gap, fires",
    [
        (BIAS_LOSS_THRESHOLD + 0.01, BIAS_GAP_THRESHOLD - 0.01, True),
        (BIAS_LOSS_THRESHOLD + 0.01, BIAS_GAP_THRESHOLD + 0.01, False),
        (BIAS_LOSS_THRESHOLD - 0.01, BIAS_GAP_THRESHOLD - 0.01, False),
    ],
)
def test_high_bias_threshold(good_clf, loss, gap, fires):
    train = np.array([0.69, loss * B2, loss * B2])
    valid = np.array([0.69, (loss + gap) * B2, (loss + gap) * B2 + 1e-6])
    report = diagnose(replay(good_clf, train, valid, best=2))
    assert ("high_bias" in report.signals) is fires
    assert (report.verdict == "underfitting") is fires


@pytest.mark.parametrize(
    "drop, max_epochs, fires",
    [
        (TREND_THRESHOLD + 0.01, 6, True),
        (TREND_THRESHOLD - 0.01, 6, False),
        (TREND_THRESHOLD + 0.01, 50, False),  # stopped before max_epochs
    ],
)
def test_still_improving_threshold(no_valid_clf, drop, max_epochs, fires):
    train = np.linspace(0.1 + drop * math.log(10), 0.1, 6)
    report = diagnose(replay(no_valid_clf, train, best=6, max_epochs=max_epochs))
    assert ("still_improving" in report.signals) is fires
    if fires:
        assert "raise `max_epochs` from 6 to 12" in " ".join(report.suggestions)


def test_without_validation_never_overfitting(no_valid_clf):
    train = np.array([2.0, 0.5, 0.01, 0.001, 5e-4, 3e-4, 2e-4, 1e-4])
    report = diagnose(replay(no_valid_clf, train, best=8, max_epochs=8))
    assert report.verdict == "good fit"
    assert report.signals == ()
    assert mentions(report, "early_stopping")


def test_suggestions_follow_current_values(good_clf):
    train = np.array([0.69, 0.60, 0.59])
    valid = np.array([0.69, 0.62, 0.63])
    est = replay(good_clf, train, valid, dropout=0.4, weight_decay=0.01, l1=1e-4)
    report = diagnose(est)
    assert report.verdict == "underfitting"
    text = " ".join(report.suggestions)
    assert "lower `dropout` from 0.4 to 0.2" in text
    assert "lower `weight_decay` from 0.01 to 0.001" in text
    assert "lower `l1` from 0.0001 to 1e-05" in text
    assert "widen `hidden_layer_sizes` from (32,) to (64,)" in text

    overfit = replay(
        good_clf,
        np.array([0.5, 0.3, 0.05]),
        np.array([0.5, 0.4, 0.7]),
        dropout=0.4,
        weight_decay=0.01,
    )
    text = " ".join(diagnose(overfit).suggestions)
    assert "raise `dropout` from 0.4 to 0.5" in text
    assert "raise `weight_decay` from 0.01 to 0.1" in text


def test_image_classifier(image_clf):
    report = diagnose(image_clf)
    assert report.best_epoch == image_clf.best_epoch_
    assert report.score_name == "accuracy"
    overfit = replay(image_clf, np.array([2.0, 1.0, 0.1]), np.array([2.0, 1.2, 2.2]))
    report = diagnose(overfit)
    assert report.verdict == "overfitting"
    assert "`augment=ImageAugmenter(rotation=10)`" in " ".join(report.suggestions)
    assert not mentions(report, "hidden_layer_sizes")
    underfit = replay(image_clf, np.array([2.3, 2.2, 2.2]), np.array([2.3, 2.25, 2.26]))
    report = diagnose(underfit)
    assert report.verdict == "underfitting"
    assert "`backbone='resnet18'`" in " ".join(report.suggestions)
    plot_history(image_clf)


# -------------------------------------------------------------------- plots
@pytest.mark.data
def test_plot_draws_curves_and_best_epoch(overfit_clf):
    display = plot_history(overfit_clf)
    assert isinstance(display, HistoryDisplay)
    history = overfit_clf.history_
    assert set(display.lines_) == {
        "train_loss",
        "valid_loss",
        "train_score",
        "valid_score",
    }
    for name, line in display.lines_.items():
        np.testing.assert_array_equal(line.get_xdata(), history.index)
        np.testing.assert_array_equal(line.get_ydata(), history[name])
    best = overfit_clf.best_epoch_
    assert list(display.best_epoch_line_.get_xdata()) == [best, best]
    np.testing.assert_array_equal(display.best_epoch_marker_.get_xdata(), [best])
    np.testing.assert_array_equal(
        display.best_epoch_marker_.get_ydata(), [history["valid_loss"][best]]
    )
    assert display.ax_.get_xlabel() == "epoch"
    assert display.ax_.get_ylabel() == "loss"
    assert display.ax_score_.get_ylabel() == "accuracy"
    assert display.ax_.get_title() == "TabularClassifier"
    assert display.figure_ is display.ax_.figure
    labels = [text.get_text() for text in display.legend_.get_texts()]
    assert labels == [
        "training loss",
        "validation loss",
        "validation accuracy",
        "training accuracy",
        f"best epoch ({best})",
        f"learning rate {overfit_clf.lr:g}",
    ]
    assert display.ax_lr_ is None  # constant learning rate: legend only


@pytest.mark.data
def test_plot_into_given_axes(good_clf, overfit_reg):
    fig, (left, right) = plt.subplots(1, 2)
    first = plot_history(good_clf, ax=left)
    second = HistoryDisplay.from_estimator(overfit_reg, ax=right, name="SWD")
    assert first.ax_ is left and second.ax_ is right
    assert first.figure_ is fig and second.figure_ is fig
    assert second.ax_.get_title() == "SWD"
    assert second.ax_score_.get_ylabel() == "R²"


def test_plot_without_validation(no_valid_clf):
    display = plot_history(no_valid_clf)
    assert set(display.lines_) == {"train_loss"}
    assert display.ax_score_ is None
    assert display.best_epoch_marker_ is None
    last = no_valid_clf.n_epochs_
    assert list(display.best_epoch_line_.get_xdata()) == [last, last]
    labels = [text.get_text() for text in display.legend_.get_texts()]
    assert f"weights kept ({last})" in labels


def test_plot_changing_learning_rate():
    X, y = load_breast_cancer(return_X_y=True)
    clf = TabularClassifier(
        (8,), max_epochs=6, lr_schedule="cosine", random_state=0
    ).fit(X, y)
    display = plot_history(clf)
    assert display.ax_lr_ is not None
    assert display.ax_lr_.get_ylabel() == "learning rate"
    np.testing.assert_array_equal(display.lines_["lr"].get_ydata(), clf.history_["lr"])


def test_display_from_history_table():
    history = pd.DataFrame(
        {"train_loss": [1.0, 0.5, 0.4], "lr": [0.1, 0.1, 0.1]},
        index=pd.RangeIndex(1, 4, name="epoch"),
    )
    display = HistoryDisplay(history, best_epoch=3).plot(name="mine")
    assert display.ax_.get_title() == "mine"
    assert display.history is history and display.best_epoch == 3


def test_missing_matplotlib_is_a_clear_error(good_clf, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_history(good_clf)


def test_loss_floor_is_the_entropy_of_smoothed_targets():
    X, y = load_digits(return_X_y=True)
    clf = TabularClassifier((8,), max_epochs=1, label_smoothing=0.1).fit(X, y)
    q = np.full(10, 0.01)
    q[0] = 0.91
    assert loss_floor(clf) == pytest.approx(-(q * np.log(q)).sum())
    assert loss_floor(clf.set_params(label_smoothing=0.0)) == 0.0


def test_smoothed_labels_are_not_mistaken_for_underfitting():
    # The same good fit as test_good_fit, trained on smoothed labels: its loss
    # cannot fall below the floor, which the rules must not read as bias.
    X, y = load_breast_cancer(return_X_y=True)
    smooth = TabularClassifier(
        (32,), dropout=0.2, max_epochs=100, label_smoothing=0.2, random_state=0
    ).fit(X, y)
    kept = smooth.history_.loc[smooth.best_epoch_, ["train_loss", "valid_loss"]]
    assert kept.min() / math.log(2) >= BIAS_LOSS_THRESHOLD  # the raw level
    assert diagnose(smooth).verdict == "good fit"


def test_ensemble_report_says_it_reads_the_first_network():
    X, y = load_breast_cancer(return_X_y=True)
    clf = TabularClassifier((8,), n_ensemble=2, max_epochs=3, random_state=0)
    report = diagnose(clf.fit(X, y))
    assert any("first of the 2 networks" in note for note in report.notes)
