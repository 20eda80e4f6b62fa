"""Quickstart
==========

Tune a TabularClassifier with a Pipeline and GridSearchCV.

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
and the documentation's example gallery do. ``docs/quickstart.rst`` shows
this script without its fast-mode section (``tests/test_docs_code.py``
checks that the two agree) and the output of a full run.
"""

import os

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skdl import TabularClassifier

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

# The measurements are positive and right-skewed (areas, perimeters); a log
# brings them closer to symmetric before the network's own scaling.
log = FunctionTransformer(np.log1p, feature_names_out="one-to-one")
# One network per fit keeps the search's 49 fits quick; on a table this
# small, the default n_ensemble="auto" would train and average 5.
clf = TabularClassifier(
    hidden_layer_sizes=(64,), n_ensemble=1, max_epochs=100, random_state=0
)
pipe = Pipeline([("log", log), ("clf", clf)])
param_grid = {
    "clf__activation": ["relu", "tanh"],
    "clf__dropout": [0.0, 0.3],
    "clf__weight_decay": [0.0, 1e-2],
    "clf__early_stopping": [True, False],
}
search = GridSearchCV(pipe, param_grid, cv=3, n_jobs=2)

# --- fast mode -------------------------------------------------------------
# SKDL_EXAMPLES_FAST=1 (the test suite, the docs gallery): a two-candidate,
# 2-fold search of 5-epoch fits. Not part of the quickstart itself.
if os.environ.get("SKDL_EXAMPLES_FAST") == "1":
    search.set_params(
        param_grid={"clf__activation": ["relu", "tanh"]},
        cv=2,
        estimator__clf__max_epochs=5,
    )
# ---------------------------------------------------------------------------
search.fit(X_train, y_train)

# One row per candidate, best first.
results = pd.DataFrame(search.cv_results_)
params = pd.DataFrame(list(results["params"]))
table = pd.concat(
    [
        params.rename(columns=lambda name: name.removeprefix("clf__")),
        results[["mean_test_score", "std_test_score", "rank_test_score"]],
    ],
    axis=1,
).sort_values("rank_test_score")
with pd.option_context("display.width", 120, "display.precision", 4):
    print(table.to_string(index=False))

print(f"\nBest parameters: {search.best_params_}")
print(f"Best CV accuracy: {search.best_score_:.4f}")
print(f"Held-out accuracy: {search.score(X_test, y_test):.4f}")
