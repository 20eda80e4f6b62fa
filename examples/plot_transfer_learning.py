"""Transfer learning without downloads
===================================

Pretrain on five classes, fine-tune on five.

Pretrained weights usually come from ImageNet, but they can come from any
fitted :class:`~skdl.vision.ImageClassifier`: pass it as ``weights=``. Here a
compact CNN is pretrained on Fashion-MNIST's first five classes (T-shirt/top,
Trouser, Pullover, Dress, Coat). The new task is the other five (Sandal,
Shirt, Sneaker, Bag, Ankle boot) with only 20 training images per class.
Four ways to train on those 100 images, each a matter of parameters:

- **scratch**: ``weights=None``, a fresh network;
- **end-to-end**: ``weights=pretrained``; every layer trains;
- **linear probe**: ``weights=pretrained, freeze="backbone"``; only the new
  linear head trains on the pretrained features;
- **two-stage**: ``freeze="backbone"`` as well, then ``unfreeze_at`` thaws
  the backbone, which trains at ``backbone_lr_scale=0.1`` times the head's
  learning rate.

All arms get the same budget (epochs, learning rate, batch size) and no early
stopping (100 images leave too few for a validation split); within a seed
they see the same images. The script prints test accuracy (mean and standard
deviation over seeds, and the per-seed gain over scratch) and saves a bar
chart to the folder named by ``SKDL_EXAMPLES_OUT`` (default: a new temporary
folder).

With three draws of 20 images and 500 test images, the numbers depend on the
draws by several points; ``benchmarks/transfer_learning.py`` runs the larger version
(more pretraining, 40 epochs, 1, 5 and 20 shots, 5 seeds, all 5,000 test
images) and ``benchmarks/README.md`` discusses its table. In short: here
fine-tuning the whole network is the safest choice, and transfer's clearest
effect is stability (scratch sometimes lands on a bad solution; fine-tuned
networks rarely do). The linear probe is held back by the shared budget: a
single linear layer on frozen features learns slowly at ``lr=1e-3``, so give
a frozen backbone a larger learning rate or more epochs.

The data are read from ``$SKDL_DATA`` (default ``../shared/data``, see
:func:`skdl.datasets.get_data_home`). It takes under a minute on two CPU
cores (one torch thread is faster on a busy machine: ``OMP_NUM_THREADS=1``);
set ``SKDL_EXAMPLES_FAST=1`` for a seconds-long smoke run.
"""

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure  # draws off-screen (Agg), no pyplot needed

from skdl.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist
from skdl.vision import ImageClassifier

FAST = os.environ.get("SKDL_EXAMPLES_FAST") == "1"
N_PRETRAIN = 500 if FAST else 4000  # source images, classes 0-4
PRETRAIN_EPOCHS = 1 if FAST else 2
SHOTS = 5 if FAST else 20  # training images per target class
SEEDS = [0] if FAST else [0, 1, 2]
EPOCHS = 3 if FAST else 15  # fine-tuning budget of every arm
UNFREEZE_AT = 2 if FAST else 6  # two-stage: the head alone for 5 epochs
N_TEST = 200 if FAST else 500  # test images per task


def load_data():
    X, y = load_fashion_mnist("train")  # from $SKDL_DATA, see skdl.datasets
    X_test, y_test = load_fashion_mnist("test")
    return X, y, X_test, y_test


def draw(y, classes, n, rng):
    """``n`` random indices of each class in ``classes``."""
    return np.concatenate(
        [rng.choice(np.flatnonzero(y == c), size=n, replace=False) for c in classes]
    )


def main():
    start = time.perf_counter()
    X, y, X_test, y_test = load_data()
    source, target = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]
    rng = np.random.default_rng(0)

    # 1. Pretrain on the source classes: this network plays ImageNet's role.
    idx = draw(y, source, N_PRETRAIN // 5, rng)
    # A constant learning rate throughout (the default anneals it), as when
    # the fine-tuning guide's numbers were taken.
    pretrained = ImageClassifier(
        max_epochs=PRETRAIN_EPOCHS,
        early_stopping=False,
        lr_schedule=None,
        random_state=0,
    ).fit(X[idx], y[idx])
    test_idx = draw(y_test, source, N_TEST // 5, rng)
    print(
        f"Pretrained on {len(idx)} images of "
        f"{', '.join(FASHION_MNIST_CLASSES[c] for c in source)}: test accuracy "
        f"{pretrained.score(X_test[test_idx], y_test[test_idx]):.3f}"
    )

    # 2. Few-shot target task, four ways.
    arms = {
        "scratch": {"weights": None},
        "end-to-end": {"weights": pretrained},
        "linear probe": {"weights": pretrained, "freeze": "backbone"},
        "two-stage": {
            "weights": pretrained,
            "freeze": "backbone",
            "unfreeze_at": UNFREEZE_AT,
            "backbone_lr_scale": 0.1,
        },
    }
    test_idx = draw(y_test, target, N_TEST // 5, rng)
    X_eval, y_eval = X_test[test_idx], y_test[test_idx]
    rows = []
    for seed in SEEDS:
        shots = draw(y, target, SHOTS, np.random.default_rng(seed))
        for arm, params in arms.items():
            clf = ImageClassifier(
                max_epochs=EPOCHS,
                early_stopping=False,
                lr_schedule=None,
                random_state=seed,
                **params,
            ).fit(X[shots], y[shots])
            rows.append(
                {"arm": arm, "seed": seed, "accuracy": clf.score(X_eval, y_eval)}
            )

    # 3. The table: accuracy over seeds and the paired gain over scratch.
    results = pd.DataFrame(rows)
    wide = results.pivot(index="seed", columns="arm", values="accuracy")[list(arms)]
    gain = wide.sub(wide["scratch"], axis=0)
    table = pd.DataFrame(
        {
            "mean accuracy": wide.mean(),
            "std": wide.std(),  # sample std over seeds (NaN for one seed)
            "per seed": wide.T.apply(lambda r: " ".join(f"{a:.3f}" for a in r), axis=1),
            "gain vs scratch (points)": 100 * gain.mean(),
        }
    )
    print(
        f"\n{SHOTS} training images per class of "
        f"{', '.join(FASHION_MNIST_CLASSES[c] for c in target)}; accuracy on "
        f"{len(y_eval)} test images, {len(SEEDS)} seed(s), {EPOCHS} epochs:\n"
    )
    with pd.option_context("display.width", 120, "display.precision", 3):
        print(table.to_string())

    # 4. The chart: mean and std per arm, one dot per seed.
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    positions = np.arange(len(arms))
    bars = ax.bar(
        positions,
        wide.mean(),
        yerr=wide.std().fillna(0),
        capsize=4,
        color=["0.6", "C0", "C1", "C2"],
    )
    ax.bar_label(bars, fmt="%.3f", label_type="center")
    for i, arm in enumerate(arms):
        ax.plot(np.full(len(wide), i + 0.25), wide[arm], "k.", alpha=0.6)
    goal = wide["scratch"].mean() + 0.10
    ax.axhline(goal, color="k", ls="--", lw=1)
    ax.text(len(arms) - 0.6, goal + 0.01, "scratch + 10 points", ha="right", fontsize=8)
    ax.set_xticks(positions, list(arms))
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Fashion-MNIST classes 5-9, {SHOTS} images per class")
    fig.tight_layout()
    out = Path(os.environ.get("SKDL_EXAMPLES_OUT") or tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    path = out / "transfer_learning.png"
    fig.savefig(path, dpi=120)
    print(f"\nSaved the chart to {path}")
    print(f"Total time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
