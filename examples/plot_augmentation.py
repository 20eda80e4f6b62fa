"""Data augmentation when images are few
=====================================

CIFAR-10 with 100 images per class.

With a thousand training images a CNN memorizes its training set within a
few epochs. Augmentation shows it a new random variant of every image at
every epoch instead. This script trains the default
:class:`~skdl.vision.ImageClassifier` on 100 images per class of the CIFAR-10
JPEG subset, twice on the same images and from the same initial weights:

- **none**: no augmentation;
- **augment**: ``ImageAugmenter(hflip=True, translate=0.125)``, random
  horizontal flips and shifts of up to 4 pixels, the standard CIFAR recipe.

Both train for 30 epochs without early stopping, in parallel (one process
each). The script prints training and test accuracy on all 1,000 test images,
and test accuracy on two shifted copies of the test set (mirrored; moved 4
pixels right), where a model that has never seen such variants may suffer.
It saves two grids of augmented samples drawn with
:func:`skdl.augment.plot_augmented` (the recipe above, and a stronger one)
to the folder named by ``SKDL_EXAMPLES_OUT`` (default: a new temporary
folder), and shows :func:`skdl.augment.expand` enlarging a dataset offline.

One seed only: ``benchmarks/image_augmentation.py`` repeats the comparison
over seeds with early stopping. The data are read from ``$SKDL_DATA`` (else
``shared/data`` next to the repository). It needs about 100 CPU-seconds, a
little over a minute on two CPU cores; ``SKDL_EXAMPLES_FAST=1`` runs a
seconds-long smoke version.
"""

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from matplotlib.figure import Figure  # draws off-screen (Agg), no pyplot needed
from PIL import Image

from skdl.augment import ImageAugmenter, expand, plot_augmented
from skdl.datasets import load_cifar10_subset
from skdl.vision import ImageClassifier

FAST = os.environ.get("SKDL_EXAMPLES_FAST") == "1"
PER_CLASS = 10 if FAST else 100  # training images per class
N_TEST = 200 if FAST else 1000  # test images (100 per class in the subset)
EPOCHS = 2 if FAST else 30
OUT = Path(os.environ.get("SKDL_EXAMPLES_OUT") or tempfile.mkdtemp())
DATA_HOME = os.environ.get("SKDL_DATA") or (
    Path(__file__).resolve().parents[2] / "shared" / "data"
)

# The recipe the comparison trains with, and a stronger one to look at.
RECIPE = ImageAugmenter(hflip=True, translate=0.125)
STRONG = ImageAugmenter(
    hflip=True, crop_scale=(0.6, 1.0), rotation=15, color_jitter=0.4, erasing=0.5
)


def load(split, per_class, rng):
    """Decode ``per_class`` random JPEGs of each class to a uint8 array."""
    files = load_cifar10_subset(split, data_home=DATA_HOME)
    idx = np.concatenate(
        [
            rng.choice(np.flatnonzero(files["label"] == c), per_class, replace=False)
            for c in sorted(files["label"].unique())
        ]
    )
    X = np.stack(
        [np.asarray(Image.open(p).convert("RGB")) for p in files["path"].iloc[idx]]
    )
    return X, files["label"].to_numpy()[idx]


def fit_arm(name, augment, X_train, y_train, test_sets):
    """Train one arm; return its accuracies and fit time."""
    start = time.perf_counter()
    clf = ImageClassifier(
        augment=augment,
        max_epochs=EPOCHS,
        early_stopping=False,
        lr_schedule=None,  # a constant rate, as when the guide's numbers were taken
        random_state=0,
    ).fit(X_train, y_train)
    row = {"arm": name, "fit time (s)": time.perf_counter() - start}
    row["train"] = clf.score(X_train, y_train)
    for test_name, (X, y) in test_sets.items():
        row[test_name] = clf.score(X, y)
    return row


def save_grid(X, augmenter, path):
    """Save a grid of ``X`` (rows) and five augmented versions of each."""
    fig = Figure(figsize=(5.4, 3.9))
    plot_augmented(X, augmenter, n_augmentations=5, fig=fig, random_state=0)
    for ax in fig.axes:
        ax.set_title(ax.get_title().replace("augmented ", "aug. "), fontsize=8)
        for image in ax.get_images():
            image.set_interpolation("nearest")  # true pixels; small PNG files
    fig.suptitle(repr(augmenter), fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main():
    start = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    X_train, y_train = load("train", PER_CLASS, rng)
    X_test, y_test = load("test", N_TEST // 10, rng)
    print(
        f"CIFAR-10 JPEG subset: {len(X_train)} training images "
        f"({PER_CLASS} per class), {len(X_test)} test images, 32x32 RGB"
    )

    # What the augmenters do, on four training images (one per row).
    shown = X_train[[0, PER_CLASS, 7 * PER_CLASS, 9 * PER_CLASS]]
    save_grid(shown, RECIPE, OUT / "augmented_samples.png")
    save_grid(shown, STRONG, OUT / "augmented_samples_strong.png")

    # Offline alternative: a fixed, larger dataset (two variants per image).
    X_big, y_big = expand(X_train, y_train, RECIPE, n_per_sample=2, random_state=0)
    print(f"expand(..., n_per_sample=2): {X_train.shape} -> {X_big.shape}")

    # The comparison: same images, same seed, with and without augmentation.
    shifted = np.zeros_like(X_test)
    shifted[:, :, 4:] = X_test[:, :, :-4]
    test_sets = {
        "test": (X_test, y_test),
        "test, mirrored": (X_test[:, :, ::-1], y_test),
        "test, shifted 4 px": (shifted, y_test),
    }
    arms = {"none": None, "augment": RECIPE}
    rows = Parallel(n_jobs=2)(
        delayed(fit_arm)(name, aug, X_train, y_train, test_sets)
        for name, aug in arms.items()
    )
    table = pd.DataFrame(rows).set_index("arm")
    print(
        f"\nImageClassifier(), {EPOCHS} epochs, no early stopping; accuracy "
        f"(train: the {len(X_train)} training images, unaugmented):\n"
    )
    with pd.option_context("display.precision", 3, "display.width", 120):
        print(table.to_string())
    gain = 100 * (table.loc["augment", "test"] - table.loc["none", "test"])
    print(f"\nTest accuracy gain from augmentation: {gain:+.1f} points")
    print(f"Saved the sample grids to {OUT}")
    print(f"Total time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
