"""Quickstart: tune a TabularClassifier with a Pipeline and GridSearchCV
=====================================================================

The data is scikit-learn's bundled breast-cancer set (569 tumours, 30 numeric
measurements, benign or malignant), so this runs offline. A quarter of it is
held out; a grid search with 3-fold cross-validation tunes four of the
network's knobs on the rest, all of them plain estimator parameters:

- ``activation``: the hidden-layer nonlinearity,
- ``dropout``: the probability of zeroing each hidden unit while training,
- ``weight_decay``: the L2 penalty on the weights,
- ``early_stopping``: hold out 10% of the training data and keep the epoch
  with the lowest validation loss, or train every epoch on all the data.

It prints the cross-validation results, the best parameters and the best
model's accuracy on the held-out quarter. It needs about 50 CPU-seconds, so
about half a minute on two idle CPU cores. Set ``SKDL_EXAMPLES_FAST=1`` for a
seconds-long smoke run (a smaller grid and fewer epochs), as the test suite
does.
"""

import os
import time

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skdl import TabularClassifier

FAST = os.environ.get("SKDL_EXAMPLES_FAST") == "1"

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

# The measurements are positive and right-skewed (areas, perimeters); a log
# brings them closer to symmetric before the network's own standard scaling.
# The pipeline keeps the DataFrame, so the classifier records the column names.
pipe = Pipeline(
    [
        ("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
        (
            "clf",
            TabularClassifier(
                hidden_layer_sizes=(64,),
                max_epochs=5 if FAST else 100,
                random_state=0,
            ),
        ),
    ]
)
param_grid = {
    "clf__activation": ["relu", "tanh"],
    "clf__dropout": [0.0] if FAST else [0.0, 0.3],
    "clf__weight_decay": [0.0] if FAST else [0.0, 1e-2],
    "clf__early_stopping": [True] if FAST else [True, False],
}
search = GridSearchCV(pipe, param_grid, cv=2 if FAST else 3, n_jobs=2)

start = time.perf_counter()
search.fit(X_train, y_train)
elapsed = time.perf_counter() - start

# One row per candidate, best first.
results = pd.DataFrame(search.cv_results_)
table = pd.concat(
    [
        pd.DataFrame(list(results["params"])).rename(
            columns=lambda name: name.removeprefix("clf__")
        ),
        results[
            [
                "mean_test_score",
                "std_test_score",
                "rank_test_score",
                "mean_fit_time",
            ]
        ],
    ],
    axis=1,
).sort_values(["rank_test_score", "mean_fit_time"])

n_fits = len(results) * search.n_splits_
print(
    f"Grid search: {len(results)} candidates x {search.n_splits_} folds "
    f"= {n_fits} fits in {elapsed:.0f}s (accuracy, mean over folds)\n"
)
with pd.option_context("display.width", 120, "display.precision", 4):
    print(table.to_string(index=False))

best = search.best_estimator_.named_steps["clf"]
best_params = {
    name.removeprefix("clf__"): value for name, value in search.best_params_.items()
}
print(f"\nBest parameters: {best_params}")
print(f"Best CV accuracy: {search.best_score_:.4f}")
print(
    f"Refit on all training rows: {best.n_epochs_} epochs, "
    f"weights kept from epoch {best.best_epoch_}"
)
print(f"Held-out accuracy: {search.score(X_test, y_test):.4f}")
