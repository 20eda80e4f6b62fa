"""The ``callbacks`` parameter, early stopping without KeyboardInterrupt, and
the ``verbose=1`` progress table."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback, EarlyStopping

from skdl import ImageClassifier, TabularClassifier, TabularRegressor
from skdl._training.callbacks import use_colour

ANSI = re.compile(r"\x1b\[")


class Recorder(Callback):
    """Counts the events it receives; state only in attributes ending in _."""

    def __init__(self, tag="a"):
        self.tag = tag

    def initialize(self):
        self.events_ = []
        return self

    def on_train_begin(self, net, **kwargs):
        self.events_.append("train_begin")

    def on_epoch_end(self, net, **kwargs):
        # Runs after skdl's callbacks: the row already has the losses.
        self.events_.append(("epoch", net.history[-1, "valid_loss"]))

    def on_train_end(self, net, **kwargs):
        self.events_.append("train_end")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] > 0).astype(int)
    return X, y


def small(**params):
    return TabularClassifier((8,), **{"max_epochs": 3, "random_state": 0, **params})


def test_user_callbacks_receive_events_on_a_copy(data):
    X, y = data
    recorder = Recorder()
    clf = small(callbacks=[recorder, ("named", Recorder("b"))]).fit(*data)
    used = dict(clf.net_.callbacks_)
    events = used["Recorder"].events_
    assert events[0] == "train_begin" and events[-1] == "train_end"
    epochs = [e for e in events if isinstance(e, tuple)]
    assert [loss for _, loss in epochs] == clf.history_["valid_loss"].tolist()
    assert used["named"].tag == "b" and len(used["named"].events_) == 5
    # The parameter object itself is never initialized nor changed.
    assert not hasattr(recorder, "events_")
    assert clf.callbacks[0] is recorder


def test_clones_and_search_fits_share_no_callback_state(data):
    X, y = data
    clf = small(callbacks=[Recorder()])
    twin = clone(clf)
    assert twin.callbacks[0] is not clf.callbacks[0]
    clf.fit(X, y)
    twin.fit(X[:100], y[:100])
    a = dict(clf.net_.callbacks_)["Recorder"]
    b = dict(twin.net_.callbacks_)["Recorder"]
    assert a is not b and a.events_ != b.events_
    search = GridSearchCV(clf, {"lr": [1e-3, 1e-2]}, cv=2).fit(X, y)
    best = dict(search.best_estimator_.net_.callbacks_)["Recorder"]
    assert best.events_.count("train_begin") == 1 and len(best.events_) == 5
    assert not hasattr(clf.callbacks[0], "events_")


@pytest.mark.parametrize(
    "Estimator", [TabularClassifier, TabularRegressor, ImageClassifier]
)
def test_every_estimator_takes_callbacks(Estimator):
    assert Estimator().get_params()["callbacks"] is None
    assert Estimator(callbacks=[Recorder()]).callbacks[0].tag == "a"


@pytest.mark.parametrize(
    "callbacks, error, match",
    [
        (
            [Recorder],
            TypeError,
            r"callbacks\[0\] is the class Recorder; pass an instance",
        ),
        ([Recorder(), 3], TypeError, r"callbacks\[1\] has type int, not a skorch"),
        ([("early_stopping", Recorder())], ValueError, "skdl's own callbacks"),
        ([("x", Recorder()), ("x", Recorder())], ValueError, "two callbacks named 'x'"),
    ],
)
def test_bad_callbacks_fail_before_the_old_model_is_lost(data, callbacks, error, match):
    X, y = data
    clf = small().fit(X, y)
    net = clf.net_
    with pytest.raises(error, match=match):
        clf.set_params(callbacks=callbacks).fit(X, y)
    assert clf.net_ is net


class Connected(Callback):
    """Holds something that cannot be copied, such as an open connection."""

    def __init__(self):
        import threading

        self.lock = threading.Lock()


def test_a_callback_that_cannot_be_copied_is_named(data):
    with pytest.raises(TypeError, match=r"callbacks\[0\] \(Connected\) cannot be"):
        small(callbacks=[Connected()]).fit(*data)


def test_callbacks_must_be_a_list(data):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="callbacks"):
        small(callbacks=Recorder()).fit(*data)


def test_early_stopping_still_stops_and_restores_the_best_epoch(data):
    X, y = data
    clf = TabularClassifier((8,), max_epochs=200, patience=2, lr=0.05, random_state=0)
    clf.fit(X, y)
    assert clf.stopped_early_
    assert clf.n_epochs_ < 200
    stopper = dict(clf.net_.callbacks_)["early_stopping"]
    state = clf.net_.module_.state_dict()
    assert all(
        np.array_equal(state[k].numpy(), v.numpy())
        for k, v in stopper.best_model_weights_.items()
    )
    assert clf.best_epoch_ == stopper.best_epoch_


def test_a_users_skorch_early_stopping_still_stops_training(data):
    # skorch's EarlyStopping ends training with a KeyboardInterrupt; given
    # in callbacks, it must stop the fit, not interrupt it.
    stop = EarlyStopping(monitor="train_loss", patience=1, threshold=10.0)
    clf = small(early_stopping=False, callbacks=[stop]).set_params(max_epochs=50)
    clf.fit(*data)
    assert clf.n_epochs_ == 2


def test_verbose_shows_epoch_k_of_n_and_an_upper_bound_without_colour(data, capsys):
    small(verbose=1, max_epochs=4, n_ensemble=1).fit(*data)
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert re.search(r"epoch\b.*\belapsed\s+left\s+dur", lines[0])
    rows = [line for line in lines if re.match(r"\s*\d/4\s", line)]
    assert [row.split()[0] for row in rows] == ["1/4", "2/4", "3/4", "4/4"]
    # Early stopping may end the fit sooner: the time left is an upper bound.
    assert all(re.search(r"\s\d+:\d\d:\d\d\s+<=\d+:\d\d:\d\d\s", row) for row in rows)
    assert not ANSI.search(out.out + out.err)  # captured: not a terminal


def test_verbose_without_validation_gives_a_plain_estimate(data, capsys):
    small(verbose=1, early_stopping=False, n_ensemble=1).fit(*data)
    rows = [line for line in capsys.readouterr().out.splitlines() if "/3" in line]
    assert len(rows) == 3 and "<=" not in "".join(rows)


class _Terminal:
    def __init__(self, tty):
        self.tty = tty

    def isatty(self):
        return self.tty


def test_colour_only_on_a_terminal_without_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(_Terminal(True))
    assert not use_colour(_Terminal(False))
    assert not use_colour(object())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(_Terminal(True))


def test_verbose_colours_the_best_values_on_a_terminal(data, capsys, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    small(verbose=1).fit(*data)
    assert ANSI.search(capsys.readouterr().out)


def test_the_batch_bar_is_drawn_only_when_stderr_is_a_terminal(
    data, capsys, monkeypatch
):
    small(verbose=1).fit(*data)
    assert "it/s]" not in capsys.readouterr().err
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    small(verbose=1).fit(*data)
    err = capsys.readouterr().err
    assert "it/s]" in err or "s/it]" in err
