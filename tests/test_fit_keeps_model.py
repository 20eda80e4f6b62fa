"""A fit that fails before training starts leaves the previous model intact."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from torch import nn

from skdl import ImageClassifier, TabularClassifier
from skdl.augment._base import BaseAugmenter

FAST = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)


@pytest.fixture(scope="module")
def table():
    X, y = make_classification(60, 4, random_state=0)
    return pd.DataFrame(X, columns=list("abcd")), y


def _with_inf(frame):
    frame = frame.copy()
    frame.loc[3, "b"] = np.inf
    return frame


def _with_datetime(frame):
    return frame.assign(t=pd.date_range("2020-01-01", periods=len(frame)))


TABULAR_CASES = {
    "inf in a DataFrame column": ({}, _with_inf, ValueError, "infinity"),
    "datetime column": ({}, _with_datetime, TypeError, "datetime"),
    "hidden_layer_sizes=(0,)": (
        {"hidden_layer_sizes": (0,)},
        None,
        ValueError,
        "hidden_layer_sizes",
    ),
    "missing weights file": (
        {"weights": "no/such/weights.pt"},
        None,
        FileNotFoundError,
        "does not exist",
    ),
    "freeze pattern matching nothing": (
        {"freeze": ["no_such_layer*"]},
        None,
        ValueError,
        "match no parameter",
    ),
    "freeze pattern matching everything": (
        {"freeze": ["*"]},
        None,
        ValueError,
        "Every parameter of the network is frozen",
    ),
    "optimizer=LBFGS": (
        {"optimizer": torch.optim.LBFGS},
        None,
        ValueError,
        "LBFGS",
    ),
}


@pytest.mark.parametrize("case", list(TABULAR_CASES))
def test_bad_tabular_refit_keeps_the_previous_model(table, case):
    X, y = table
    params, make_bad_X, error, match = TABULAR_CASES[case]
    est = TabularClassifier(**FAST).fit(X, y)
    expected = est.predict_proba(X)
    net, history = est.net_, est.history_
    est.set_params(**params)
    with pytest.raises(error, match=match):
        est.fit(X if make_bad_X is None else make_bad_X(X), y)
    assert est.net_ is net and est.history_ is history
    np.testing.assert_array_equal(est.predict_proba(X), expected)
    assert est.get_params()["hidden_layer_sizes"] == params.get(
        "hidden_layer_sizes", (8,)
    )


class Needs16(nn.Module):
    """A backbone with a fixed-size flatten: it takes 16x16 images only."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten())
        self.fc = nn.Linear(2 * 16 * 16, 10)

    def forward(self, x):
        return self.fc(self.body(x))


IMAGE_FAST = dict(max_epochs=1, batch_size=8, random_state=0, early_stopping=False)


def _image_files(folder, n=8, size=16):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (size, size), np.uint8)).save(path)
        paths.append(str(path))
    return paths


def test_truncated_image_file_keeps_the_previous_model(tmp_path):
    paths = _image_files(tmp_path)
    y = np.arange(len(paths)) % 2
    est = ImageClassifier(num_workers=0, **IMAGE_FAST).fit(paths, y)
    expected = est.predict_proba(paths)
    full = (tmp_path / "img0.png").read_bytes()
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(full[: len(full) // 2])
    with pytest.raises(OSError, match="truncated.png"):
        est.fit([*paths[1:], str(truncated)], y)
    np.testing.assert_array_equal(est.predict_proba(paths), expected)


def test_images_too_small_for_the_backbone_keep_the_previous_model():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (16, 16, 16), np.uint8)
    y = np.arange(16) % 2
    est = ImageClassifier(Needs16, **IMAGE_FAST).fit(X, y)
    expected = est.predict_proba(X)
    est.set_params(image_size=12)
    with pytest.raises(ValueError, match="cannot take 12x12"):
        est.fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X), expected)
    assert est.image_shape_ == (16, 16)


class FailingAugmenter(BaseAugmenter):
    """Raises at the first training batch, as a buggy user augmenter would."""

    def augment_batch(self, X, y=None, **kwargs):
        raise RuntimeError("bug in the user's augmenter")


def test_failure_during_training_releases_the_previous_model(table):
    # Documented in fit: once training starts, the previous model is gone
    # (it would hold GPU memory for the whole run), so an error raised while
    # training leaves the estimator unfitted rather than half-restored.
    X, y = table
    est = TabularClassifier(**FAST).fit(X, y)
    est.set_params(augment=FailingAugmenter())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="user's augmenter"):
            est.fit(X, y)
    with pytest.raises(NotFittedError):
        est.predict(X)
