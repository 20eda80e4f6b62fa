"""expand (offline enlargement) and plot_augmented (previews)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

from skdl.augment import (
    CutMix,
    GaussianNoise,
    ImageAugmenter,
    Mixup,
    expand,
    plot_augmented,
)


@pytest.fixture(scope="module")
def fashion(data_dir):
    """The first 40 Fashion-MNIST test images and labels."""
    root = data_dir / "images" / "fashion-mnist"
    if not (root / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"Fashion-MNIST not found under {root}")
    with gzip.open(root / "t10k-images-idx3-ubyte.gz", "rb") as f:
        images = np.frombuffer(f.read(16 + 40 * 784)[16:], dtype=np.uint8)
    with gzip.open(root / "t10k-labels-idx1-ubyte.gz", "rb") as f:
        labels = np.frombuffer(f.read(8 + 40)[8:], dtype=np.uint8)
    return images.reshape(40, 28, 28).copy(), labels.astype(np.int64)


# ------------------------------------------------------------------ expand
def test_expand_images_reproducibly(fashion):
    X, y = fashion
    aug = ImageAugmenter(rotation=20, crop_scale=(0.7, 1.0))
    state = torch.get_rng_state()
    X_new, y_new = expand(X, y, aug, 3, random_state=0)
    assert torch.equal(torch.get_rng_state(), state)  # global RNG untouched
    assert X_new.shape == (160, 28, 28) and X_new.dtype == np.uint8
    np.testing.assert_array_equal(X_new[:40], X)
    np.testing.assert_array_equal(y_new, np.tile(y, 4))
    copies = X_new[40:].reshape(3, 40, 28, 28)
    assert not np.array_equal(copies[0], copies[1])
    again, _ = expand(X, y, aug, 3, random_state=0)
    np.testing.assert_array_equal(again, X_new)
    other, _ = expand(X, y, aug, 3, random_state=1)
    assert not np.array_equal(other, X_new)


def test_expand_without_originals_and_without_targets():
    X = np.random.default_rng(0).random((10, 3, 8, 8)).astype(np.float32)
    X_new, y_new = expand(X, None, ImageAugmenter(hflip=1.0), 2, include_original=False)
    assert y_new is None and X_new.shape == (20, 3, 8, 8) and X_new.dtype == np.float32
    np.testing.assert_allclose(X_new[:10], X[..., ::-1], atol=1e-6)


def test_expand_mixup_gives_soft_class_targets():
    rng = np.random.default_rng(0)
    X = rng.random((30, 5))
    y = np.array(["cat", "dog", "emu"] * 10)
    X_new, y_new = expand(X, y, Mixup(alpha=1.0), 2, random_state=0)
    assert X_new.shape == (90, 5) and y_new.shape == (90, 3)
    np.testing.assert_allclose(y_new.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(
        y_new[:30].argmax(axis=1), np.unique(y, return_inverse=True)[1]
    )
    assert np.all(y_new[:30].max(axis=1) == 1.0)
    assert np.any((y_new[30:] > 0.01) & (y_new[30:] < 0.99))


def test_expand_tables_with_numeric_targets():
    rng = np.random.default_rng(0)
    X, y = rng.random((12, 4)), rng.random(12)
    X_new, y_new = expand(X, y, GaussianNoise(std=0.5), 2, random_state=0)
    assert X_new.shape == (36, 4) and y_new.shape == (36,)
    np.testing.assert_array_equal(X_new[:12], X)
    np.testing.assert_array_equal(y_new, np.tile(y, 3))
    assert 0.3 < np.std(X_new[12:] - np.tile(X, (2, 1))) < 0.7
    X_mix, y_mix = expand(X, y, Mixup(alpha=1.0), 1, random_state=0)
    assert y_mix.shape == (24,) and not np.allclose(y_mix[12:], y)


def test_expand_validates_its_arguments():
    X = np.zeros((4, 8, 8), dtype=np.uint8)
    with pytest.raises(InvalidParameterError, match="n_per_sample"):
        expand(X, None, ImageAugmenter(), 0)
    with pytest.raises(InvalidParameterError, match="augmenter"):
        expand(X, None, "flip", 1)
    with pytest.raises(ValueError, match="needs y_batch"):
        expand(X, None, Mixup(), 1)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        expand(X, np.arange(3), ImageAugmenter(), 1)


# -------------------------------------------------------------------- plot
@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.mark.parametrize(
    "augmenter", [ImageAugmenter(rotation=30), Mixup(alpha=1.0), CutMix()]
)
def test_plot_augmented_draws_a_grid(plt, fashion, augmenter):
    from matplotlib.figure import Figure

    X, _ = fashion
    fig = plot_augmented(X, augmenter, n_samples=3, n_augmentations=4, random_state=0)
    assert isinstance(fig, Figure) and len(fig.axes) == 3 * 5
    assert fig.axes[0].get_title() == "original"
    first = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(first, X[0] / 255, atol=1e-6)
    augmented = [ax.images[0].get_array() for ax in fig.axes[1:5]]
    assert not np.allclose(augmented[0], first)
    again = plot_augmented(X, augmenter, n_samples=3, n_augmentations=4, random_state=0)
    np.testing.assert_array_equal(again.axes[1].images[0].get_array(), augmented[0])


def test_plot_augmented_rgb_into_a_given_figure(plt):
    X = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    fig = plt.figure()
    out = plot_augmented(X, ImageAugmenter(), n_samples=5, n_augmentations=2, fig=fig)
    assert out is fig and len(fig.axes) == 2 * 3
    assert fig.axes[0].images[0].get_array().shape == (16, 16, 3)


def test_plot_augmented_rejects_tables(plt):
    with pytest.raises(ValueError, match="2-D tables"):
        plot_augmented(np.zeros((5, 3)), GaussianNoise())
