"""Behaviour of ImageClassifier on arrays, files and backbones."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skdl import ImageClassifier
from skdl.augment import ImageAugmenter
from skdl.augment._base import BaseAugmenter
from skdl.datasets import load_fashion_mnist, load_hymenoptera

FAST = dict(max_epochs=2, batch_size=32, random_state=0, early_stopping=False)


@pytest.fixture(scope="module")
def fmnist(data_dir):
    X, y = load_fashion_mnist("train", data_home=data_dir, n_samples=700)
    return X[:500], y[:500], X[500:], y[500:]


def test_learns_fashion_mnist_subset(fmnist):
    X, y, Xt, yt = fmnist
    clf = ImageClassifier(max_epochs=4, random_state=0).fit(X, y)
    assert clf.score(Xt, yt) > 0.6  # 10 classes: chance is 0.1
    assert clf.classes_.tolist() == sorted(np.unique(y).tolist())
    proba = clf.predict_proba(Xt)
    assert proba.shape == (len(Xt), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert list(clf.history_.columns) == [
        "train_loss",
        "valid_loss",
        "train_score",
        "valid_score",
        "lr",
        "duration",
    ]
    assert clf.n_channels_ == 1 and clf.image_shape_ == (28, 28)
    # Statistics in [0, 1] units, also stored in the network's buffers.
    assert 0.1 < clf.mean_[0] < 0.6
    torch.testing.assert_close(
        clf.net_.module_.mean.flatten(), torch.tensor(clf.mean_, dtype=torch.float32)
    )


def test_layouts_and_dtypes_agree(fmnist):
    X, y, Xt, _ = fmnist
    X, y = X[:200], y[:200]
    base = ImageClassifier(**FAST).fit(X, y).predict_proba(Xt[:20])
    as_float = X.astype(np.float32) / 255
    for layout in (X[..., None], X[:, None], as_float):
        test = (
            Xt[:20].astype(np.float32) / 255
            if layout.dtype == np.float32
            else Xt[:20].reshape((20,) + layout.shape[1:])
        )
        out = ImageClassifier(**FAST).fit(layout, y).predict_proba(test)
        np.testing.assert_allclose(out, base, atol=1e-5)


def test_string_labels_and_binary(fmnist):
    X, y, Xt, yt = fmnist
    keep = np.isin(y, [1, 9])  # trousers vs ankle boots
    labels = np.where(y[keep] == 1, "trouser", "boot")
    clf = ImageClassifier(max_epochs=3, random_state=0).fit(X[keep], labels)
    assert set(clf.classes_) == {"boot", "trouser"}
    test = np.isin(yt, [1, 9])
    assert clf.predict_proba(Xt[test]).shape == (test.sum(), 2)
    truth = np.where(yt[test] == 1, "trouser", "boot")
    assert (clf.predict(Xt[test]) == truth).mean() > 0.9


def test_bad_inputs_have_clear_errors(fmnist):
    X, y, _, _ = fmnist
    clf = ImageClassifier(**FAST).fit(X[:64], y[:64])
    rgb = np.repeat(X[:4, ..., None], 3, axis=3)
    with pytest.raises(ValueError, match="3 channel.*fitted on images with 1"):
        clf.predict(rgb)
    with pytest.raises(ValueError, match="rank 2"):
        ImageClassifier(**FAST).fit(X.reshape(len(X), -1)[:10], y[:10])
    with pytest.raises(ValueError, match="rank 5"):
        clf.predict(X[:2, None, None, :, :])
    mixed = [X[0], np.zeros((20, 24), dtype=np.uint8)]
    with pytest.raises(ValueError, match="different sizes.*image_size"):
        ImageClassifier(**FAST).fit(mixed, [0, 1])
    fitted = ImageClassifier(**FAST, image_size=16).fit(mixed * 4, [0, 1] * 4)
    assert fitted.image_shape_ == (16, 16)
    with pytest.raises(ValueError, match="NaN or infinity"):
        ImageClassifier(**FAST).fit(np.full((4, 8, 8), np.nan), [0, 1, 0, 1])
    with pytest.raises(TypeError, match="Sparse"):
        import scipy.sparse as sp

        ImageClassifier(**FAST).fit(sp.csr_matrix(np.eye(4)), [0, 1, 0, 1])


def test_predict_resizes_to_training_size(fmnist):
    X, y, Xt, _ = fmnist
    clf = ImageClassifier(**FAST).fit(X[:64], y[:64])
    bigger = torch.nn.functional.interpolate(
        torch.from_numpy(Xt[:5, None]).float(), size=(56, 56), mode="nearest"
    )
    out = clf.predict_proba(bigger.squeeze(1).numpy().astype(np.uint8))
    assert out.shape == (5, 10)


def test_pickle_and_clone_round_trip(fmnist):
    X, y, Xt, _ = fmnist
    clf = ImageClassifier(**FAST).fit(X[:128], y[:128])
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(Xt), clf.predict_proba(Xt))
    fresh = clone(clf).fit(X[:128], y[:128])
    np.testing.assert_array_equal(fresh.predict_proba(Xt), clf.predict_proba(Xt))


class _Spy(BaseAugmenter):
    """Counts the batches it sees, and flips them (a real change)."""

    def __init__(self, log=None):
        self.log = log

    def augment_batch(self, X_batch, y_batch=None, *, n_classes=None):
        self.log.append(len(X_batch["x"]))
        return {**X_batch, "x": X_batch["x"].flip(-1)}, y_batch


def test_augmentation_only_on_training_batches(fmnist):
    X, y, Xt, _ = fmnist
    log: list = []
    clf = ImageClassifier(
        augment=_Spy(log), max_epochs=2, batch_size=50, random_state=0
    ).fit(X[:200], y[:200])
    n_train = 200 - 20  # validation_fraction=0.1
    assert sum(log) == 2 * n_train  # every training sample, every epoch
    seen = len(log)
    clf.predict(Xt)
    assert len(log) == seen  # never at predict time


def test_augmentation_reproducible_and_fresh(fmnist):
    X, y, Xt, _ = fmnist
    params = dict(FAST, augment=ImageAugmenter(rotation=20, crop_scale=(0.7, 1.0)))
    a = ImageClassifier(**params).fit(X[:128], y[:128]).predict_proba(Xt)
    b = ImageClassifier(**params).fit(X[:128], y[:128]).predict_proba(Xt)
    np.testing.assert_array_equal(a, b)
    plain = ImageClassifier(**FAST).fit(X[:128], y[:128]).predict_proba(Xt)
    assert not np.allclose(a, plain)


def test_torchvision_backbone_head_and_activation(fmnist):
    X, y, _, _ = fmnist
    clf = ImageClassifier(
        backbone="resnet18", activation="gelu", dropout=0.3, **FAST
    ).fit(X[:32], y[:32])
    net = clf.net_.module_
    assert net.head_prefixes == ("backbone.fc",)
    head = net.backbone.fc
    assert isinstance(head[0], torch.nn.Dropout) and head[0].p == 0.3
    assert head[1].out_features == 10
    kinds = {type(m) for m in net.modules()}
    assert torch.nn.GELU in kinds and torch.nn.ReLU not in kinds
    with pytest.raises(ValueError, match="neither 'cnn' nor a torchvision"):
        ImageClassifier(backbone="resnet_nope", **FAST).fit(X[:8], y[:8])


class _TinyNet(torch.nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3)
        self.fc = torch.nn.Linear(4, num_classes)

    def forward(self, x):
        return self.fc(self.conv(x).mean(dim=(2, 3)))


def test_module_instance_and_class_backbones(fmnist):
    X, y, Xt, _ = fmnist
    keep = y < 3
    inst = _TinyNet(num_classes=7)
    clf = ImageClassifier(backbone=inst, **FAST).fit(X[keep][:60], y[keep][:60])
    assert clf.predict_proba(Xt[:4]).shape == (4, 3)
    assert inst.fc.out_features == 7  # the user's module is left untouched
    clf = ImageClassifier(backbone=_TinyNet, **FAST).fit(X[keep][:60], y[keep][:60])
    assert clf.net_.module_.backbone.fc.out_features == 3


def test_grid_search_over_augment_dropout_activation(fmnist):
    X, y, _, _ = fmnist
    grid = GridSearchCV(
        ImageClassifier(augment=ImageAugmenter(), max_epochs=1, random_state=0),
        {
            "augment__rotation": [0, 15],
            "dropout": [0.0, 0.2],
            "activation": ["relu", "gelu"],
        },
        cv=2,
        n_jobs=2,
    ).fit(X[:120], y[:120])
    assert len(grid.cv_results_["params"]) == 8
    assert grid.best_estimator_.augment.rotation in (0, 15)


def test_hymenoptera_dataframe_of_paths(data_dir):
    frame = load_hymenoptera("train", data_home=data_dir)
    gif = frame["path"].str.endswith(".gif")
    assert gif.any()
    sample = pd.concat([frame[gif], frame[~gif].sample(40, random_state=0)])
    clf = ImageClassifier(
        image_size=48, max_epochs=1, num_workers=2, random_state=0
    ).fit(sample[["path"]], sample["label"])
    assert clf.input_kind_ == "files" and clf.n_channels_ == 3
    val = load_hymenoptera("val", data_home=data_dir).sample(10, random_state=0)
    assert set(clf.predict(val[["path"]])) <= {"ants", "bees"}
    # A path Series works too, and pixel arrays are refused after file fit.
    assert clf.predict_proba(val["path"]).shape == (10, 2)
    with pytest.raises(ValueError, match="fitted on image files"):
        clf.predict(np.zeros((2, 48, 48, 3), dtype=np.uint8))


def test_corrupt_file_is_named(tmp_path):
    good = []
    for i in range(6):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(np.full((10, 10), i * 40, dtype=np.uint8)).save(p)
        good.append(str(p))
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises((OSError, ValueError), match="broken.png"):
        ImageClassifier(**FAST).fit(good + [str(bad)], [0, 1] * 3 + [0])
