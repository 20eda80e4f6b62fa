"""Child process for tests/test_interrupt.py: fits that a real SIGINT stops.

Run as ``python _interrupt_child.py IMAGE_DIR SCENARIO...``; the scenarios
run one after the other in this process (importing torch once). A callback
prints ``SIGNAL_ME <time>`` when the parent should send SIGINT, then keeps
training (slowed down, so the fit cannot end before the signal arrives).
The child catches the ``KeyboardInterrupt`` the fit must raise and prints
one ``RESULT <json>`` line per scenario describing what the caller sees.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import time
import warnings

# A process started in the background inherits SIGINT ignored; a terminal's
# Ctrl-C reaches a foreground process with Python's default handler.
signal.signal(signal.SIGINT, signal.default_int_handler)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from skorch.callbacks import Callback  # noqa: E402

from skdl import ImageClassifier, TabularClassifier  # noqa: E402


def emit(message: str) -> None:
    """Write one whole line in a single ``write``.

    Joblib's worker processes share this pipe; one write of under
    ``PIPE_BUF`` bytes is atomic, so their lines cannot run into each other.
    The leading newline ends any partial line someone else left.
    """
    os.write(sys.stdout.fileno(), f"\n{message}\n".encode())


class AskForSignal(Callback):
    """Print SIGNAL_ME once epoch ``epoch`` has run ``batch`` batches."""

    def __init__(self, epoch=3, batch=0, delay=0.002):
        self.epoch = epoch
        self.batch = batch
        self.delay = delay

    def initialize(self):
        self.batches_ = 0
        return self

    def on_train_begin(self, net, **kwargs):
        emit("TRAIN_BEGIN")

    def on_epoch_begin(self, net, **kwargs):
        self.batches_ = 0

    def on_batch_end(self, net, training=False, **kwargs):
        if not training:
            return
        self.batches_ += 1
        if len(net.history) == self.epoch and self.batches_ == self.batch + 1:
            emit(f"SIGNAL_ME {time.time()}")
        time.sleep(self.delay)


def tabular(n=2000):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 8))
    y = (X[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(int)
    return X, y


def run(scenario: str, image_dir: str | None):
    X, y = tabular()
    # One network: these scenarios interrupt a single training run (an
    # ensemble's interrupt has its own test in test_interrupt.py).
    common = dict(
        n_ensemble=1,
        hidden_layer_sizes=(16,),
        max_epochs=300,
        batch_size=32,
        random_state=0,
    )
    if scenario == "early_stopping":
        est = TabularClassifier(**common, callbacks=[AskForSignal(epoch=4)])
        return est, lambda: est.fit(X, y)
    if scenario == "no_validation":
        est = TabularClassifier(
            **common, early_stopping=False, callbacks=[AskForSignal(epoch=3)]
        )
        return est, lambda: est.fit(X, y)
    if scenario == "first_epoch":
        est = TabularClassifier(
            **common, callbacks=[AskForSignal(epoch=1, batch=2, delay=0.02)]
        )
        return est, lambda: est.fit(X, y)
    if scenario == "cross_val_score":
        est = TabularClassifier(**common, callbacks=[AskForSignal(epoch=2)])
        return est, lambda: cross_val_score(est, X, y, cv=3)
    if scenario == "grid_search_parallel":
        est = TabularClassifier(**common, callbacks=[AskForSignal(epoch=2)])
        grid = {"lr": [1e-3, 2e-3, 3e-3, 4e-3]}
        search = GridSearchCV(est, grid, cv=2, n_jobs=2)
        return search, lambda: search.fit(X, y)
    if scenario == "image_workers":
        from pathlib import Path

        paths = sorted(str(p) for p in Path(image_dir).glob("*.png"))
        labels = np.arange(len(paths)) % 2
        est = ImageClassifier(
            max_epochs=200,
            batch_size=8,
            num_workers=2,
            random_state=0,
            callbacks=[AskForSignal(epoch=2, delay=0.02)],
        )
        return est, lambda: est.fit(paths, labels)
    raise ValueError(scenario)


def main():
    torch.set_num_threads(1)
    image_dir, *scenarios = sys.argv[1:]
    for scenario in scenarios:
        report(scenario, image_dir)


def report(scenario: str, image_dir: str) -> None:
    est, work = run(scenario, image_dir)
    result = {"scenario": scenario}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            work()
            result["outcome"] = "returned"
        except KeyboardInterrupt as exc:
            result["caught_at"] = time.time()
            result["outcome"] = "KeyboardInterrupt"
            result["message"] = str(exc)
        except Exception as exc:  # what the old code did in epoch 1
            result["outcome"] = f"{type(exc).__name__}: {exc}"
    result["warnings"] = [str(w.message) for w in caught]
    result["children"] = len(multiprocessing.active_children())
    result["fitted"] = hasattr(est, "net_") or hasattr(est, "best_estimator_")
    result["fitted_attributes"] = sorted(
        k for k in vars(est) if k.endswith("_") and not k.startswith("_")
    )
    if hasattr(est, "net_"):
        net = est.net_
        stopper = dict(net.callbacks_).get("early_stopping")
        result["n_epochs"] = est.n_epochs_
        result["best_epoch"] = est.best_epoch_
        result["history_epochs"] = est.history_.index.tolist()
        result["history_complete"] = bool(est.history_["train_loss"].notna().all())
        result["net_history_len"] = len(net.history)
        if stopper is not None and stopper.best_model_weights_ is not None:
            state = net.module_.state_dict()
            result["kept_best_weights"] = all(
                torch.equal(state[k], v) for k, v in stopper.best_model_weights_.items()
            )
            result["stopper_best_epoch"] = stopper.best_epoch_
        if scenario != "image_workers":
            X, y = tabular()
            result["accuracy"] = float(est.score(X, y))
    sys.stdout.flush()
    emit("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
