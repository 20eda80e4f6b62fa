"""Diagnosing and fixing overfitting
=================================

With learning curves and ``diagnose``.

The data is the German credit data set (``credit-g`` from PMLB: 1000 loan
applicants, 20 attributes, good or bad credit risk), a small and noisy
problem on which a large network overfits quickly. It is read from skdl's
data folder (``$SKDL_DATA/tabular/pmlb_credit_g.tsv.gz``; see
:func:`skdl.datasets.get_data_home`). A quarter is held out as a test set.

Three networks are fitted on the rest, each with early stopping (10% of the
training rows are held out for validation, and the weights of the epoch with
the lowest validation loss are kept):

- **unregularized**: two hidden layers of 256 units, no dropout, no weight
  decay. The training loss falls towards zero while the validation loss
  turns upward after a few epochs: overfitting.
- **over-regularized**: the same network with ``dropout=0.5`` and
  ``weight_decay=0.1``. Both losses stay close to the loss of predicting
  the majority class: underfitting.
- **balanced**: a narrower network with moderate dropout and weight decay,
  as the first diagnosis suggests. Its curves stay close and keep
  improving.

For each, the script prints :func:`skdl.diagnostics.diagnose`'s report and
the test accuracy, and saves the learning curves drawn by
:func:`skdl.diagnostics.plot_history` as PNG files into the folder named by
``SKDL_EXAMPLES_OUT`` (default: a new temporary folder), printing where.
It takes about 10 seconds on two CPU cores. ``SKDL_EXAMPLES_FAST=1`` caps
training at a few epochs, for a smoke run.
"""

import os
import tempfile
import time
from pathlib import Path

import matplotlib
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from skdl import TabularClassifier
from skdl.datasets import get_data_home
from skdl.diagnostics import diagnose, plot_history

matplotlib.use("Agg")  # write files; no window
import matplotlib.pyplot as plt  # noqa: E402

FAST = os.environ.get("SKDL_EXAMPLES_FAST") == "1"
# Networks this small train fastest on one CPU thread: with more, the
# threads spend longer synchronizing than multiplying.
torch.set_num_threads(1)
MAX_EPOCHS = 8 if FAST else 100

# skdl's data folder: $SKDL_DATA, else the shared/data folder next to this
# repository (so that the script runs from any working directory).
data_home = get_data_home(
    os.environ.get("SKDL_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
data = pd.read_csv(data_home / "tabular" / "pmlb_credit_g.tsv.gz", sep="\t")
X, y = data.drop(columns="target"), data["target"]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

out_dir = os.environ.get("SKDL_EXAMPLES_OUT") or tempfile.mkdtemp(
    prefix="skdl-overfitting-"
)
out_dir = Path(out_dir)
out_dir.mkdir(parents=True, exist_ok=True)

# The plain MLP on standardized inputs (no numeric embedding, no label
# smoothing, so the losses are plain cross-entropies; raw weights, no weight
# average, at scikit-learn's learning rate): the three settings below differ
# only in the regularization this page is about.
common = {
    "n_ensemble": 1,  # one network's curves ("auto" trains 5 on 750 rows)
    "max_epochs": MAX_EPOCHS,
    "random_state": 0,
    "scaling": "standard",
    "numeric_embedding": None,
    "label_smoothing": 0.0,
    "calibration": None,
    "ema_epochs": None,
    "lr": 1e-3,
}
models = {
    "unregularized": TabularClassifier((256, 256), **common),
    "over-regularized": TabularClassifier(
        (256, 256), dropout=0.5, weight_decay=0.1, **common
    ),
    "balanced": TabularClassifier((64,), dropout=0.3, weight_decay=1e-3, **common),
}

print(
    f"credit-g: {len(X_train)} training rows ({y_train.mean():.0%} good risks), "
    f"{len(X_test)} test rows, {X.shape[1]} features\n"
)
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train, y_train)
    elapsed = time.perf_counter() - start
    report = diagnose(model)
    print(f"=== {name} ({elapsed:.1f}s): verdict {report.verdict!r} ===")
    print(report)
    print(f"Test accuracy: {model.score(X_test, y_test):.3f}\n")

    display = plot_history(model)
    display.ax_.set_title(f"{name}: {report.verdict}")
    path = out_dir / f"overfitting_{name}.png"
    display.figure_.savefig(path, dpi=100)
    plt.close(display.figure_)

print(f"Learning curves saved in {out_dir}:")
for path in sorted(out_dir.glob("overfitting_*.png")):
    print(f"  {path.name}")
