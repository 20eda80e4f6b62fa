"""Fine-tuning errors: unreadable or unfitting weights say what to do."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from skdl import ImageClassifier
from skdl.finetune import (
    WeightsMismatchWarning,
    hub_checkpoint_path,
    load_state_dict_strict,
)

TINY = dict(max_epochs=1, batch_size=8, random_state=0, early_stopping=False)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(16, 32, 32, 3), dtype=np.uint8)
    return X, np.arange(16) % 2


def test_garbage_weights_file_names_the_file(images, tmp_path):
    X, y = images
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable PyTorch state dict") as info:
        ImageClassifier(weights=str(garbage), **TINY).fit(X, y)
    assert str(garbage) in str(info.value)
    assert isinstance(info.value.__cause__, pickle.UnpicklingError)

    truncated = tmp_path / "truncated.pt"
    torch.save({"w": torch.zeros(1000)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated or corrupt") as info:
        ImageClassifier(weights=str(truncated), **TINY).fit(X, y)
    assert str(truncated) in str(info.value)
    assert info.value.__cause__ is not None


def _cache_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    path = hub_checkpoint_path(weights.url)
    path.parent.mkdir(parents=True)
    return path


def test_truncated_hub_cache_file_says_to_delete_it(images, tmp_path, monkeypatch):
    X, y = images
    path = _cache_file(tmp_path, monkeypatch)
    torch.save({"w": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="Delete it") as info:
        ImageClassifier("resnet18", weights="IMAGENET1K_V1", **TINY).fit(X, y)
    assert str(path) in str(info.value)
    assert info.value.__cause__ is not None


def test_hub_cache_file_of_another_model_says_to_replace_it(
    images, tmp_path, monkeypatch
):
    X, y = images
    path = _cache_file(tmp_path, monkeypatch)
    torch.save(torchvision.models.squeezenet1_1().state_dict(), path)
    with pytest.raises(ValueError, match="another model's weights") as info:
        ImageClassifier("resnet18", weights="DEFAULT", **TINY).fit(X, y)
    message = str(info.value)
    assert str(path) in message and "replace it" in message
    assert isinstance(info.value.__cause__, RuntimeError)
    assert len(message) < 600  # not the hundreds of keys torch lists


def test_strict_load_of_another_network_is_summarised():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2))
    other = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.ReLU(), nn.Linear(8, 2))
    before = net[0].weight.detach().clone()
    with pytest.raises(ValueError, match="saved from a different network") as info:
        load_state_dict_strict(net, other.state_dict(), "file 'w.pt'")
    message = str(info.value)
    assert "7 of the network's 9 tensors are not in it" in message
    assert "2 of its 4 tensors are not in the network (3.weight, 3.bias)" in message
    assert "2 tensors differ in shape (0.weight: (8, 3, 3, 3) -> (4, 3, 3, 3)" in (
        message
    )
    assert "file 'w.pt'" in message
    assert torch.equal(net[0].weight, before)  # nothing was loaded
    with pytest.raises(ValueError, match="does not hold a state dict"):
        load_state_dict_strict(net, {"a": 1}, "file 'w.pt'")
    same = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2))
    load_state_dict_strict(net, same.state_dict(), "file 'w.pt'")
    assert torch.equal(net[0].weight, same[0].weight)


@pytest.mark.parametrize("backbone", ["resnet18", "cnn", nn.Conv2d(3, 2, 1)])
@pytest.mark.parametrize("weights", ["/tmp/no/such/dir/w.pt", "typo.pth"])
def test_missing_weights_path_is_reported_as_a_missing_file(images, backbone, weights):
    X, y = images
    with pytest.raises(FileNotFoundError, match="no such file exists") as info:
        ImageClassifier(backbone, weights=weights, **TINY).fit(X, y)
    message = str(info.value)
    assert repr(weights) in message and "weights name" in message
    if backbone == "resnet18":
        assert "IMAGENET1K_V1" in message  # the names are still listed


def test_grid_over_a_fitted_source_explains_clone_and_frozen_estimator():
    from sklearn.datasets import load_breast_cancer
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import GridSearchCV

    from skdl import TabularClassifier

    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:120], y[:120]
    mlp = dict(hidden_layer_sizes=(8,), random_state=0)
    source = TabularClassifier(**mlp, max_epochs=2).fit(X, y)
    target = TabularClassifier(**mlp, max_epochs=1)
    # The grid clones its candidate values, and clone() drops fitted state.
    grid = GridSearchCV(target, {"weights": [None, source]}, cv=2, error_score="raise")
    with pytest.raises(ValueError, match="not fitted") as info:
        grid.fit(X, y)
    message = str(info.value)
    assert "clone()" in message and "GridSearchCV" in message
    assert "sklearn.frozen.FrozenEstimator" in message
    assert "save_weights" in message
    # The remedy the message gives works.
    frozen = FrozenEstimator(source)
    grid = GridSearchCV(target, {"weights": [frozen]}, cv=2, error_score="raise")
    grid.fit(X, y)
    report = grid.best_estimator_.transfer_report_
    assert report.source == "fitted TabularClassifier" and report.loaded


def test_source_tensors_without_a_place_are_reported_and_warned(images, tmp_path):
    X, y = images
    deeper = tmp_path / "resnet34.pt"
    torch.save(torchvision.models.resnet34().state_dict(), deeper)
    with pytest.warns(WeightsMismatchWarning, match="match no tensor") as record:
        clf = ImageClassifier("resnet18", weights=str(deeper), **TINY).fit(X, y)
    assert "80 of the 182 tensors" in str(record[0].message)
    report = clf.transfer_report_
    # resnet34's extra blocks (layer1.2, layer2.2-3, ...) have no place.
    assert len(report.unused) == 96
    assert "backbone.layer1.2.conv1.weight" in report.unused
    assert "backbone.layer4.2.bn2.running_var" in report.unused
    assert not any(k.startswith("backbone.layer1.1.") for k in report.unused)
    assert "not in the network (ignored): 96 source tensors" in str(report)
    assert len(report.loaded) == 120 and report.mismatched == []

    same = tmp_path / "resnet18.pt"
    torch.save(torchvision.models.resnet18().state_dict(), same)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeightsMismatchWarning)
        clf = ImageClassifier("resnet18", weights=str(same), **TINY).fit(X, y)
    assert clf.transfer_report_.unused == []
    assert "ignored" not in str(clf.transfer_report_)


def test_load_weights_refuses_other_networks_and_unreadable_files(tmp_path):
    from sklearn.datasets import make_classification

    from skdl import TabularClassifier

    X, y = make_classification(60, 4, random_state=0)
    fast = dict(max_epochs=1, random_state=0)
    clf = TabularClassifier((8,), **fast).fit(X, y)
    before = clf.predict_proba(X)
    wider = tmp_path / "wider.pt"
    TabularClassifier((16,), **fast).fit(X, y).save_weights(wider)
    with pytest.raises(ValueError, match="saved from a different network"):
        clf.load_weights(wider)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable PyTorch state dict"):
        clf.load_weights(garbage)
    listed = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(ValueError, match="holds a list, not a state dict"):
        clf.load_weights(listed)
    # Nothing was loaded: the estimator predicts as before.
    np.testing.assert_array_equal(clf.predict_proba(X), before)
