"""Bad input that failed deep inside numpy, PIL or torch gets skdl's own message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import make_classification
from sklearn.utils import check_random_state

from skdl import ImageClassifier, TabularClassifier, TabularRegressor
from skdl.vision._decode import ImageDecodeError

FAST = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
X8 = np.random.default_rng(0).normal(size=(8, 2))
IMAGE_FAST = dict(max_epochs=1, batch_size=8, random_state=0, early_stopping=False)
STRINGS = ["a", "b", "a", "b", "a", "b", "a", "b"]


def _with(value, at=2, labels=STRINGS):
    return [*labels[:at], value, *labels[at + 1 :]]


@pytest.mark.parametrize(
    "y",
    [
        _with(None),
        _with(np.nan),  # a list: numpy would have made "nan" a class
        pd.Series(_with(None)),
        pd.Series(_with(np.nan), dtype="category"),
        np.array(_with(None), dtype=object),
        pd.Series(_with(pd.NA), dtype="string"),
    ],
    ids=["list-None", "list-nan", "Series-None", "category-nan", "object-None", "NA"],
)
def test_missing_class_labels_are_named(y):
    with pytest.raises(ValueError, match=r"y holds 1 missing label.*row\(s\) \[2\]"):
        TabularClassifier(**FAST).fit(X8, y)


@pytest.mark.parametrize(
    "y",
    [
        _with(1),
        np.array(_with(1), dtype=object),
        pd.Series(_with(1.5)),
    ],
    ids=["list", "object-array", "Series"],
)
def test_mixed_type_class_labels_are_named(y):
    with pytest.raises(ValueError, match=r"y mixes .*labels.* and .*labels"):
        TabularClassifier(**FAST).fit(X8, y)


def test_labels_of_one_type_still_fit():
    for y in (STRINGS, pd.Series(STRINGS, dtype="category"), [0, 1] * 4):
        clf = TabularClassifier(**FAST).fit(X8, y)
        assert set(clf.predict(X8)) <= set(y)


@pytest.mark.parametrize("Est", [TabularClassifier, TabularRegressor])
@pytest.mark.parametrize("sample_weight", [np.zeros(8), 0.0], ids=["array", "scalar"])
def test_all_zero_sample_weight_is_named(Est, sample_weight):
    y = np.arange(8) % 2
    with pytest.raises(ValueError, match="sample_weight is zero for every sample"):
        Est(**FAST).fit(X8, y, sample_weight=sample_weight)


def test_validation_split_is_drawn_from_weighted_rows():
    # A validation split whose rows all have zero weight has a weighted loss
    # of 0.0 in every epoch, so early stopping kept epoch 1 without a word.
    X, y = make_classification(200, 4, random_state=0)
    clf = TabularClassifier(hidden_layer_sizes=(8,), max_epochs=5, random_state=0)
    _, valid_idx = clf._split(200, y, check_random_state(0))
    weights = np.ones(200)
    weights[valid_idx] = 0
    clf.fit(X, y, sample_weight=weights)
    losses = clf.history_["valid_loss"].to_numpy()
    assert np.all(losses > 0) and len(np.unique(losses)) == 5


def test_early_stopping_with_one_weighted_sample_is_refused():
    y = np.arange(8) % 2
    weights = np.zeros(8)
    weights[3] = 1.0
    with pytest.raises(ValueError, match="Only 1 sample has a positive weight"):
        TabularRegressor(**FAST).fit(X8, y, sample_weight=weights)


# ------------------------------------------------------------------- images
def test_pil_images_of_different_sizes(tmp_path):
    rng = np.random.default_rng(0)
    sizes = [16, 20, 16, 24, 16, 18, 16, 20]
    images = [Image.fromarray(rng.integers(0, 256, (s, s, 3), np.uint8)) for s in sizes]
    y = np.arange(8) % 2
    with pytest.raises(ValueError, match="different sizes.*set image_size"):
        ImageClassifier(**IMAGE_FAST).fit(images, y)
    clf = ImageClassifier(image_size=16, **IMAGE_FAST).fit(images, y)
    assert clf.image_shape_ == (16, 16) and clf.n_channels_ == 3
    assert clf.predict(images).shape == (8,)
    # Decoded as image files are: a palette image becomes RGB, not indices.
    palette = [im.convert("P") for im in images]
    assert ImageClassifier(image_size=16, **IMAGE_FAST).fit(palette, y).n_channels_ == 3


def test_decompression_bomb_names_the_file_and_the_limit(tmp_path, monkeypatch):
    paths = []
    for i in range(4):
        path = tmp_path / f"big{i}.png"
        Image.new("L", (60, 60), color=i * 40).save(path)
        paths.append(str(path))
    y = [0, 1, 0, 1]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 3600 > 2 x 1000
    match = r"big0\.png.*decompression-bomb.*PIL\.Image\.MAX_IMAGE_PIXELS"
    with pytest.raises(ImageDecodeError, match=match):
        ImageClassifier(num_workers=0, **IMAGE_FAST).fit(paths, y)
    # Raised knowingly, the limit lets the files through.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    ImageClassifier(num_workers=0, **IMAGE_FAST).fit(paths, y)
