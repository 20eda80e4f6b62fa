"""Tuning with GridSearchCV
========================

Searchable parameters, augmenter parameters, ``n_jobs``.

Every skdl hyperparameter is a plain estimator parameter, so scikit-learn's
model-selection tools work unchanged. On scikit-learn's bundled digits
(1,797 images of 8x8 pixels, 10 classes), this script

1. lists the searchable parameters, including those of a nested augmenter
   (``augment__std``, ``augment__rotation``);
2. shows what ``n_jobs`` does to torch's threads: joblib caps each worker
   process at ``cpu_count // n_jobs`` threads (unless you set the limit);
3. searches a :class:`~skdl.TabularClassifier` over dropout and
   augmentation (no augmenter, or ``GaussianNoise`` at two strengths), with
   a list of grids so that ``augment__std`` is only tried with an augmenter;
4. searches an :class:`~skdl.vision.ImageClassifier` over
   ``augment__rotation`` on the same digits as 8x8 images;
5. reuses scikit-learn's ``ValidationCurveDisplay`` (accuracy against
   ``weight_decay``) and ``LearningCurveDisplay`` (accuracy against the
   number of training rows), saved as ``validation_curve.png`` and
   ``learning_curve.png`` in the folder named by ``SKDL_EXAMPLES_OUT``
   (default: a new temporary folder).

All searches use 3-fold cross-validation with ``n_jobs=2``. It needs about
110 CPU-seconds, about a minute on two idle CPU cores (longer
when other jobs share them); set ``SKDL_EXAMPLES_FAST=1`` for a seconds-long
smoke run.
"""

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from matplotlib.figure import Figure  # draws off-screen (Agg), no pyplot needed
from sklearn.datasets import load_digits
from sklearn.model_selection import (
    GridSearchCV,
    LearningCurveDisplay,
    StratifiedKFold,
    ValidationCurveDisplay,
    train_test_split,
)

from skdl import TabularClassifier
from skdl.augment import GaussianNoise, ImageAugmenter
from skdl.vision import ImageClassifier

FAST = os.environ.get("SKDL_EXAMPLES_FAST") == "1"
OUT = Path(os.environ.get("SKDL_EXAMPLES_OUT") or tempfile.mkdtemp())
EPOCHS = 3 if FAST else 100
#: The digits network of docs/user_guide/tuning.rst, whose numbers were
#: measured without label smoothing (TabularClassifier's default since then)
#: and with one network per fit: on these 900-row folds n_ensemble="auto"
#: would train 5, five times the cost of every candidate.
NET = dict(max_epochs=EPOCHS, label_smoothing=0.0, n_ensemble=1)
N_JOBS = 2
CV = StratifiedKFold(2 if FAST else 3, shuffle=True, random_state=0)


def torch_threads():
    """This process's torch thread count and its OMP_NUM_THREADS setting."""
    omp = os.environ.get("OMP_NUM_THREADS", "unset")
    return f"torch threads {torch.get_num_threads()}, OMP_NUM_THREADS {omp}"


def results_table(search):
    """One row per candidate, best first."""
    res = pd.DataFrame(search.cv_results_)
    params = pd.DataFrame([{k: str(v) for k, v in p.items()} for p in res["params"]])
    params = params.fillna("-")  # parameters a grid of the list does not set
    cols = ["mean_test_score", "std_test_score", "rank_test_score", "mean_fit_time"]
    table = pd.concat([params, res[cols].round(3)], axis=1)
    return table.sort_values("rank_test_score").to_string(index=False)


def main():
    start = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    X, y = digits.data, digits.target
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )

    # 1. What can be searched.
    clf = TabularClassifier(augment=GaussianNoise())
    print("TabularClassifier(augment=GaussianNoise()) parameters:")
    print(" ", ", ".join(sorted(clf.get_params())))
    image_params = ImageClassifier(augment=ImageAugmenter()).get_params()
    print("ImageClassifier(augment=ImageAugmenter()) augmenter parameters:")
    print(" ", ", ".join(sorted(p for p in image_params if p.startswith("augment__"))))

    # 2. n_jobs and threads.
    print(f"\nCPU cores: {os.cpu_count()}")
    print(f"main process: {torch_threads()}")
    for n_jobs in (1, 2):
        per_worker = Parallel(n_jobs=n_jobs)(
            delayed(torch_threads)() for _ in range(n_jobs)
        )
        where = "this process" if n_jobs == 1 else "each worker process"
        print(f"n_jobs={n_jobs}: {where}: {per_worker[0]}")

    # 3. Dropout and augmentation, with augment__std only where it exists.
    base = TabularClassifier(hidden_layer_sizes=(128, 128), **NET, random_state=0)
    param_grid = [
        {"dropout": [0.0, 0.2], "augment": [None]},
        {
            "dropout": [0.0, 0.2],
            "augment": [GaussianNoise()],
            "augment__std": [0.1, 0.3],
        },
    ]
    if FAST:
        param_grid = [
            {"augment": [None]},
            {"augment": [GaussianNoise()], "augment__std": [0.1]},
        ]
    search = GridSearchCV(base, param_grid, cv=CV, n_jobs=N_JOBS)
    t0 = time.perf_counter()
    search.fit(X_train, y_train)
    print(
        f"\nTabularClassifier search: {len(search.cv_results_['params'])} "
        f"candidates x {CV.get_n_splits()} folds in {time.perf_counter() - t0:.0f} s"
    )
    print(results_table(search))
    print(f"best: {search.best_params_}")
    print(f"held-out accuracy of the refitted best: {search.score(X_test, y_test):.3f}")

    # 4. The same digits as 8x8 images; search the rotation range.
    images = (digits.images * (255 / 16)).astype(np.uint8)
    img_train, img_test = train_test_split(
        images, test_size=0.25, stratify=y, random_state=0
    )
    image_search = GridSearchCV(
        ImageClassifier(
            augment=ImageAugmenter(hflip=False),  # a mirrored 3 is no 3
            max_epochs=2 if FAST else 20,
            random_state=0,
        ),
        {"augment__rotation": [0, 15] if FAST else [0, 15, 30]},
        cv=CV,
        n_jobs=N_JOBS,
    )
    t0 = time.perf_counter()
    image_search.fit(img_train, y_train)
    print(
        f"\nImageClassifier search over augment__rotation in "
        f"{time.perf_counter() - t0:.0f} s"
    )
    print(results_table(image_search))
    print(f"held-out accuracy: {image_search.score(img_test, y_test):.3f}")

    # 5. Sweeps over one hyperparameter, with scikit-learn's displays.
    fig = Figure(figsize=(5, 3.5))
    ax = fig.subplots()
    display = ValidationCurveDisplay.from_estimator(
        TabularClassifier(hidden_layer_sizes=(128, 128), **NET, random_state=0),
        X_train,
        y_train,
        param_name="weight_decay",
        param_range=[0.0, 1e-3, 1e-2, 1e-1, 1.0] if not FAST else [0.0, 1.0],
        cv=CV,
        n_jobs=N_JOBS,
        score_name="accuracy",
        ax=ax,
    )
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_title("TabularClassifier on digits: weight_decay")
    fig.tight_layout()
    fig.savefig(OUT / "validation_curve.png", dpi=90)
    print(
        "\nvalidation curve (weight_decay: mean train / CV accuracy): "
        + ", ".join(
            f"{v:g}: {tr:.3f} / {te:.3f}"
            for v, tr, te in zip(
                display.param_range,
                display.train_scores.mean(axis=1),
                display.test_scores.mean(axis=1),
            )
        )
    )

    fig = Figure(figsize=(5, 3.5))
    ax = fig.subplots()
    display = LearningCurveDisplay.from_estimator(
        TabularClassifier(hidden_layer_sizes=(128, 128), **NET, random_state=0),
        X_train,
        y_train,
        train_sizes=np.linspace(0.1, 1.0, 2 if FAST else 5),
        cv=CV,
        n_jobs=N_JOBS,
        score_name="accuracy",
        ax=ax,
    )
    ax.set_title("TabularClassifier on digits: training-set size")
    fig.tight_layout()
    fig.savefig(OUT / "learning_curve.png", dpi=90)
    sizes = display.train_sizes
    means = display.test_scores.mean(axis=1)
    print(
        "\nlearning curve (training rows: mean CV accuracy): "
        + ", ".join(f"{n}: {s:.3f}" for n, s in zip(sizes, means))
    )

    print(f"\nSaved validation_curve.png and learning_curve.png to {OUT}")
    print(f"Total time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
