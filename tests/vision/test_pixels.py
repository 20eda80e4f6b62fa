"""How ImageClassifier reads pixel values, lists of images and image sizes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from skdl import ImageClassifier
from skdl.augment import ImageAugmenter, Mixup
from skdl.augment._base import BaseAugmenter
from skdl.datasets import load_fashion_mnist
from skdl.finetune import WeightsMismatchWarning

FAST = dict(max_epochs=2, batch_size=32, random_state=0, early_stopping=False)


@pytest.fixture(scope="module")
def fmnist(data_dir):
    X, y = load_fashion_mnist("train", data_home=data_dir, n_samples=300)
    return X[:200], y[:200], X[200:], y[200:]


class RangeRecorder(BaseAugmenter):
    """Records the range of the training batches it sees; changes nothing."""

    _input_kinds = frozenset({"image"})

    def __init__(self, seen=None):
        self.seen = seen

    def augment_batch(self, X_batch, y_batch=None, *, n_classes=None):
        x = X_batch["x"]
        self.seen.append((float(x.min()), float(x.max())))
        return X_batch, y_batch


def test_float_images_in_0_255_are_read_as_8_bit(fmnist):
    X, y, Xt, _ = fmnist
    seen = []
    clf = ImageClassifier(augment=RangeRecorder(seen), **FAST).fit(
        X.astype(np.float32), y
    )
    assert clf.float_scale_ == 255.0
    assert 0.1 < clf.mean_[0] < 0.6  # [0, 1] units, not [0, 255]
    assert max(high for _, high in seen) <= 1.0
    # The same answer for the uint8 and float versions of the test images.
    np.testing.assert_allclose(
        clf.predict_proba(Xt.astype(np.float32)), clf.predict_proba(Xt), atol=1e-5
    )


def test_uint8_model_reads_floats_as_0_1_and_refuses_0_255(fmnist):
    X, y, Xt, _ = fmnist
    clf = ImageClassifier(**FAST).fit(X, y)
    assert clf.float_scale_ == 1.0
    np.testing.assert_allclose(
        clf.predict_proba(Xt / 255.0), clf.predict_proba(Xt), atol=1e-5
    )
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\].*divided by 255"):
        clf.predict(Xt.astype(np.float32))


def test_an_image_is_read_alike_whatever_else_is_in_the_call(fmnist):
    X, y, Xt, _ = fmnist
    clf = ImageClassifier(**FAST).fit(X / 255.0, y)
    alone = clf.predict_proba(Xt[1:] / 255.0)
    # Resampling may overshoot [0, 1] a little; that must not rescale others.
    overshoot = Xt / 255.0
    overshoot[0, 0, 0] = 1.0000001
    np.testing.assert_allclose(clf.predict_proba(overshoot)[1:], alone, atol=1e-6)


def test_resampled_0_255_floats_are_still_pixels(fmnist):
    # Bicubic resizing rings past both ends of [0, 255].
    X, y, Xt, _ = fmnist
    resized = torch.nn.functional.interpolate(
        torch.from_numpy(X[:, None].astype(np.float32)), size=32, mode="bicubic"
    )[:, 0].numpy()
    assert resized.min() < -1 and resized.max() > 255
    clf = ImageClassifier(**FAST).fit(resized, y)
    assert clf.float_scale_ == 255.0
    assert 0.1 < clf.mean_[0] < 0.6
    ImageClassifier(**FAST).fit(X.astype(np.float32), y).predict(resized)


def test_standardized_white_pages_are_not_pixels():
    # Mostly background with a little ink: few negative values once
    # standardized, but far below 0 against the top.
    rng = np.random.default_rng(0)
    pages = np.ones((40, 16, 16), dtype=np.float32)
    pages[rng.random(pages.shape) < 0.05] = 0.0
    Z = (pages - pages.mean()) / pages.std()
    y = np.arange(40) % 2
    clf = ImageClassifier(**FAST).fit(Z, y)
    assert clf.float_scale_ is None
    with pytest.raises(ValueError, match="floats outside"):
        ImageClassifier(augment=ImageAugmenter(rotation=5), **FAST).fit(Z, y)


def test_single_small_resampled_images_predict_like_in_a_batch(fmnist):
    # A 7x7 image has too few pixels for a stable share of negative values;
    # prediction judges only the range, so one image alone is accepted.
    X, y, Xt, _ = fmnist
    small = torch.nn.functional.interpolate(
        torch.from_numpy(np.concatenate([X, Xt])[:, None] / 255.0),
        size=7,
        mode="bicubic",
    )[:, 0].numpy()
    clf = ImageClassifier(**FAST).fit(small[:200], y)
    batch = clf.predict_proba(small[200:])
    alone = np.vstack([clf.predict_proba(small[[i]]) for i in range(200, 300)])
    np.testing.assert_allclose(alone, batch, atol=1e-6)


def test_estimator_as_its_own_weights_is_refused(fmnist):
    X, y, _, _ = fmnist
    clf = ImageClassifier(**FAST).fit(X, y)
    before = clf.predict_proba(X[:5])
    with pytest.raises(ValueError, match="weights is this estimator itself"):
        clf.set_params(weights=clf).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X[:5]), before)


def test_huge_float64_pixels_are_refused(fmnist):
    X, y, _, _ = fmnist
    huge = X.astype(np.float64)
    huge[0, 0, 0] = 1e39
    with pytest.raises(ValueError, match="too large for float32"):
        ImageClassifier(**FAST).fit(huge, y)


def test_augmenting_low_range_float_images_still_learns():
    # scikit-learn's digits are floats in [0, 16]: read as dark 8-bit pixels,
    # augmentation no longer clips them to [0, 1] while predict does not.
    digits = load_digits()
    X, y = digits.images, digits.target
    plain = ImageClassifier(max_epochs=3, random_state=0).fit(X[:600], y[:600])
    augmented = ImageClassifier(
        max_epochs=3, random_state=0, augment=ImageAugmenter(hflip=False, translate=0.1)
    ).fit(X[:600], y[:600])
    assert plain.score(X[1000:], y[1000:]) > 0.8
    assert augmented.score(X[1000:], y[1000:]) > 0.7


def test_standardized_images(fmnist):
    X, y, Xt, _ = fmnist
    mean, std = X.mean(), X.std()
    Z, Zt = (X - mean) / std, (Xt - mean) / std
    clf = ImageClassifier(**FAST).fit(Z, y)
    assert clf.float_scale_ is None
    assert clf.predict(Zt).shape == (len(Zt),)
    with pytest.raises(ValueError, match=r"ImageAugmenter.*floats outside \[0, 255\]"):
        ImageClassifier(augment=ImageAugmenter(rotation=10), **FAST).fit(Z, y)
    # Mixup blends images and works on any values.
    ImageClassifier(augment=Mixup(), **FAST).fit(Z, y)
    pixels = ImageClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"reads float images as pixels in \[0, 1\]"):
        pixels.predict(Zt)


def test_lists_of_images(fmnist):
    X, y, Xt, _ = fmnist
    clf = ImageClassifier(**FAST).fit(X, y)
    small = Xt[1][::2, ::2]  # 14x14, resized to the training 28x28
    mixed = clf.predict_proba([Xt[0], small])
    np.testing.assert_allclose(mixed[0], clf.predict_proba(Xt[:1])[0], atol=1e-5)
    np.testing.assert_allclose(mixed[1], clf.predict_proba(small[None])[0], atol=1e-5)
    # uint8 and float images in one list are each read by their dtype.
    as_float = [Xt[0] / 255.0, Xt[1]]
    np.testing.assert_allclose(
        clf.predict_proba(as_float), clf.predict_proba(Xt[:2]), atol=1e-5
    )


@pytest.mark.parametrize(
    "images, match",
    [
        ([np.zeros((8, 8)), np.zeros((8, 8, 3))], "different numbers of channels"),
        ([np.zeros((8, 8)), np.full((8, 8), np.nan)], "Image 1 of X contains NaN"),
        ([np.zeros((8, 8)), np.array([["a"] * 8] * 8)], "Image 1 of X is neither"),
        ([np.zeros((8, 8)), np.zeros((0, 8))], "Image 1 of X has shape"),
        ([np.zeros((8, 8)), np.zeros(8)], "Image 1 of X has shape"),
        ([np.zeros((8, 8), np.int64), np.full((8, 8), 300)], "in \\[0, 255\\]"),
    ],
)
def test_bad_lists_of_images(images, match):
    with pytest.raises(ValueError, match=match):
        ImageClassifier(image_size=8, **FAST).fit(images * 4, [0, 1] * 4)


@pytest.mark.parametrize("size", [(16.5, 16), (0, 16), (16,), True])
def test_bad_image_size(fmnist, size):
    X, y, _, _ = fmnist
    with pytest.raises(ValueError, match="image_size"):
        ImageClassifier(image_size=size, **FAST).fit(X, y)


def test_image_size_as_a_list(fmnist):
    X, y, _, _ = fmnist
    assert ImageClassifier(image_size=[16, 20], **FAST).fit(X, y).image_shape_ == (
        16,
        20,
    )


class Needs16(nn.Module):
    """A custom backbone with a fixed-size flatten, as many hand-written ones."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Flatten())
        self.fc = nn.Linear(4 * 16 * 16, 10)

    def forward(self, x):
        return self.fc(self.body(x))


def test_image_size_the_backbone_cannot_take(fmnist):
    X, y, _, _ = fmnist
    with pytest.raises(ValueError, match=r"backbone='the backbone' cannot take 28x28"):
        ImageClassifier(Needs16, **FAST).fit(X, y)
    # The same backbone trains at the size it takes.
    assert ImageClassifier(Needs16, image_size=16, **FAST).fit(X, y).n_epochs_ == 2


def test_grayscale_transfer_keeps_the_source_normalization(fmnist):
    X, y, _, _ = fmnist
    rgb = np.repeat(X[:60, :16, :16, None], 3, axis=3)
    rgb[..., 0] //= 2  # distinct per-channel statistics
    source = ImageClassifier("resnet18", max_epochs=1, random_state=0).fit(rgb, y[:60])
    assert source.mean_.shape == (3,)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeightsMismatchWarning)
        target = ImageClassifier(
            "resnet18", weights=source, max_epochs=1, random_state=0
        ).fit(X[:60, :16, :16], y[:60])
    np.testing.assert_allclose(target.mean_, source.mean_, rtol=1e-6)
    np.testing.assert_allclose(target.std_, source.std_, rtol=1e-6)
    report = target.transfer_report_
    assert "backbone.conv1.weight" in report.loaded and "mean" in report.loaded
    assert report.mismatched == []
