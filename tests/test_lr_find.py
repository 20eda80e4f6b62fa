"""skdl.diagnostics.lr_find: a learning-rate range test on a copy."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer

from skdl import TabularClassifier, TabularRegressor
from skdl.diagnostics import LRFinderDisplay, lr_find
from skdl.diagnostics._lr_find import suggest_lr

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True)
    return X[:300], y[:300]


def test_lr_find_leaves_a_fitted_estimator_untouched(data):
    X, y = data
    clf = TabularClassifier((16,), max_epochs=2, lr=0.003, random_state=0).fit(X, y)
    params = clf.get_params()
    state = {k: v.clone() for k, v in clf.net_.module_.state_dict().items()}
    attributes = dict(vars(clf))
    proba = clf.predict_proba(X)

    display = lr_find(clf, X, y, n_steps=60)

    assert clf.get_params() == params
    assert vars(clf) == attributes  # same objects, nothing added or removed
    after = clf.net_.module_.state_dict()
    assert all(torch.equal(after[k], v) for k, v in state.items())
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    assert isinstance(display, LRFinderDisplay)


def test_lr_find_leaves_an_unfitted_estimator_unfitted(data):
    clf = TabularClassifier((16,), random_state=0)
    lr_find(clf, *data, n_steps=30)
    assert not hasattr(clf, "net_") and not hasattr(clf, "history_")


def test_lr_find_writes_no_checkpoint_and_no_divergence_warning(data, tmp_path):
    """The ramp is a throwaway fit: an estimator's checkpoint directory stays
    empty, and the loss it drives up on purpose raises no divergence warning."""
    clf = TabularClassifier((16,), checkpoint=str(tmp_path), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lr_find(clf, *data, n_steps=60)
    assert list(tmp_path.iterdir()) == []


def test_the_ramp_is_exponential_and_the_suggestion_lies_inside_it(data):
    display = lr_find(
        TabularClassifier((16,), random_state=0), *data, start_lr=1e-6, end_lr=1.0
    )
    lrs, losses = display.lrs, display.losses
    assert 2 <= len(lrs) <= 200 and len(losses) == len(lrs)
    assert lrs[0] == pytest.approx(1e-6)
    ratios = lrs[1:] / lrs[:-1]
    np.testing.assert_allclose(ratios, (1.0 / 1e-6) ** (1 / 199), rtol=1e-9)
    assert lrs[0] <= display.suggested_lr <= lrs[-1]
    # The loss falls somewhere along the ramp: the suggestion is a rate at
    # which the model learns, well above the flat start.
    assert display.suggested_lr > 1e-5
    assert display.smoothed_losses.min() < display.smoothed_losses[0] - 0.1


def test_lr_find_stops_when_the_loss_blows_up(data):
    display = lr_find(
        TabularRegressor((16,), random_state=0),
        data[0],
        data[1].astype(float) * 100,
        end_lr=1e4,
        n_steps=300,
    )
    assert len(display.lrs) < 300  # stopped early on divergence
    assert display.suggested_lr < display.lrs[-1]


def test_suggestion_is_a_tenth_of_the_smoothed_minimum():
    lrs = np.logspace(-5, 0, 100)
    losses = np.concatenate([np.linspace(1.0, 0.1, 80), np.linspace(0.1, 5.0, 20)])
    suggested = suggest_lr(lrs, losses)
    # The minimum of the smoothed curve lags the raw one by a few steps.
    assert lrs[79] / 10 <= suggested <= lrs[90] / 10
    rising = np.linspace(1.0, 5.0, 100)
    assert suggest_lr(lrs, rising) == lrs[0]  # never below the ramp


def test_the_display_plots_loss_against_lr_on_a_log_axis(data):
    display = lr_find(TabularClassifier((16,), random_state=0), *data, n_steps=40)
    display.plot()
    assert display.ax_.get_xscale() == "log"
    np.testing.assert_array_equal(display.line_.get_xdata(), display.lrs)
    np.testing.assert_array_equal(display.raw_line_.get_ydata(), display.losses)
    assert display.suggested_line_.get_xdata()[0] == display.suggested_lr
    again = LRFinderDisplay.from_estimator(
        TabularClassifier((16,), random_state=0), *data, n_steps=40
    )
    assert again.ax_.get_xscale() == "log"
    np.testing.assert_array_equal(again.lrs, display.lrs)  # same seed, same ramp
    matplotlib.pyplot.close("all")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"start_lr": 1.0, "end_lr": 0.1}, "end_lr=0.1 must be larger"),
        ({"n_steps": 1}, "n_steps"),
    ],
)
def test_bad_ramps_are_refused(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lr_find(TabularClassifier(), *data, **kwargs)


def test_lr_find_needs_an_skdl_estimator(data):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ValueError, match="estimator"):
        lr_find(LogisticRegression(), *data)
