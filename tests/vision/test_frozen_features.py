"""Frozen-feature caching: same model as running the frozen backbone, faster."""

import numpy as np
import pytest
import torch
from torch import nn

import skdl.vision._features as features
from skdl.augment import ImageAugmenter
from skdl.vision import ImageClassifier


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(120, 3, 12, 12), dtype=np.uint8)
    y = rng.integers(0, 3, size=120)
    X[y == 1, 0] //= 3
    X[y == 2, 1] //= 3
    return X, y


class Counted(nn.Module):
    """A small backbone with batch norm and dropout, counting its images."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.fc = nn.Linear(8, 10)
        self.seen = 0

    def forward(self, x):
        self.seen += len(x)
        return self.fc(self.body(x))


def _backbone():
    torch.manual_seed(0)
    return Counted()


def _fit(X, y, cache: bool, monkeypatch, **params):
    limit = features.CACHE_LIMIT_BYTES if cache else 0
    monkeypatch.setattr(features, "CACHE_LIMIT_BYTES", limit)
    est = ImageClassifier(
        _backbone(),
        freeze="backbone",
        max_epochs=4,
        dropout=0.2,
        random_state=0,
        **params,
    )
    return est.fit(X, y)


@pytest.mark.parametrize("early_stopping", [True, False])
def test_cached_features_give_the_uncached_model(images, monkeypatch, early_stopping):
    X, y = images
    cached = _fit(X, y, True, monkeypatch, early_stopping=early_stopping)
    plain = _fit(X, y, False, monkeypatch, early_stopping=early_stopping)
    assert cached.feature_cache_ and not plain.feature_cache_
    np.testing.assert_allclose(
        cached.history_.to_numpy(dtype=float)[:, :-1],  # all but the duration
        plain.history_.to_numpy(dtype=float)[:, :-1],
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        cached.predict_proba(X), plain.predict_proba(X), rtol=1e-5, atol=1e-6
    )
    # The cache ran the backbone once per image (plus a probe and the input
    # size check); without it, every epoch ran it on every image.
    backbone = cached.net_.module_.backbone
    assert backbone.seen <= len(X) + 2 + len(X)  # fit, then predict_proba
    assert plain.net_.module_.backbone.seen > 4 * len(X) * 0.9


def test_frozen_backbone_keeps_its_batch_norm_statistics(images, monkeypatch):
    X, y = images
    before = _backbone().body[1].running_mean.clone()
    est = _fit(X, y, True, monkeypatch)
    after = est.net_.module_.backbone.body[1].running_mean
    torch.testing.assert_close(after, before)


def test_training_switches_to_the_whole_network_when_the_backbone_thaws(
    images, monkeypatch
):
    X, y = images
    est = _fit(X, y, True, monkeypatch, unfreeze_at=3, early_stopping=False)
    assert est.feature_cache_
    n_train = len(X)
    # Two cached epochs, then two epochs through the whole network.
    assert est.net_.module_.backbone.seen >= n_train + 2 * n_train
    trained = est.net_.module_.backbone.body[0].weight
    assert not torch.equal(trained, _backbone().body[0].weight)
    reference = _fit(X, y, False, monkeypatch, unfreeze_at=3, early_stopping=False)
    np.testing.assert_allclose(
        est.predict_proba(X), reference.predict_proba(X), rtol=1e-4, atol=1e-5
    )


def test_no_cache_with_augmentation_or_over_the_memory_limit(images, monkeypatch):
    X, y = images
    augmented = _fit(X, y, True, monkeypatch, augment=ImageAugmenter())
    assert not augmented.feature_cache_
    monkeypatch.setattr(features, "CACHE_LIMIT_BYTES", 8 * len(X))
    est = ImageClassifier(_backbone(), freeze="backbone", max_epochs=2).fit(X, y)
    assert not est.feature_cache_
    partly = ImageClassifier(_backbone(), freeze=["backbone.body.0.*"], max_epochs=2)
    assert not partly.fit(X, y).feature_cache_


def test_cached_features_from_image_files(images, tmp_path, monkeypatch):
    from PIL import Image

    X, y = images
    paths = []
    for i, image in enumerate(X[:40]):
        path = tmp_path / f"{i}.png"
        Image.fromarray(image.transpose(1, 2, 0)).save(path)
        paths.append(str(path))
    y = y[:40]
    cached = _fit(paths, y, True, monkeypatch, num_workers=0)
    plain = _fit(paths, y, False, monkeypatch, num_workers=0)
    assert cached.feature_cache_ and not plain.feature_cache_
    np.testing.assert_allclose(
        cached.predict_proba(paths), plain.predict_proba(paths), rtol=1e-5, atol=1e-6
    )
