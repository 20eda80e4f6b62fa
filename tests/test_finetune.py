"""Fine-tuning: weights, freeze, unfreeze_at, backbone_lr_scale, saving."""

from __future__ import annotations

import pickle
import urllib.error
import warnings

import joblib
import numpy as np
import pytest
import torch
import torchvision
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skdl import ImageClassifier
from skdl.datasets import load_fashion_mnist
from skdl.finetune import WeightsMismatchWarning, hub_checkpoint_path

# A constant learning rate, so that the rates of the groups can be checked.
FAST = dict(max_epochs=2, batch_size=32, lr_schedule=None, random_state=0)


@pytest.fixture(scope="module")
def fmnist(data_dir):
    X, y = load_fashion_mnist("train", data_home=data_dir, n_samples=800)
    return X, y


@pytest.fixture(scope="module")
def source(fmnist):
    """A CNN trained on Fashion-MNIST classes 0-4."""
    X, y = fmnist
    keep = y < 5
    return ImageClassifier(**FAST).fit(X[keep], y[keep])


def _state(est):
    return {k: v.clone() for k, v in est.net_.module_.state_dict().items()}


def test_transfer_from_fitted_estimator_and_frozen_backbone(fmnist, source):
    X, y = fmnist
    target = y >= 5
    before = _state(source)
    clf = ImageClassifier(weights=source, freeze="backbone", **FAST).fit(
        X[target], y[target]
    )
    after = _state(clf)
    body = [k for k in before if not k.startswith("backbone.head")]
    # Frozen parameters and the frozen batch-norm statistics are bit-identical.
    for k in body:
        assert torch.equal(before[k], after[k]), k
    assert clf.net_.module_.backbone.head[2].out_features == 5
    assert not torch.equal(
        after["backbone.head.2.bias"][:1], torch.zeros(1)
    )  # the new head trained
    report = clf.transfer_report_
    assert len(report.loaded) == len(body) and report.mismatched == []
    assert set(clf.frozen_parameters_) == {
        n
        for n, _ in clf.net_.module_.named_parameters()
        if not n.startswith("backbone.head")
    }
    # The source estimator is untouched and keeps its own classes.
    assert list(source.classes_) == [0, 1, 2, 3, 4]


def test_freeze_first_blocks_and_unfreeze_at(fmnist, source):
    X, y = fmnist
    target = y >= 5
    before = _state(source)
    frozen = ImageClassifier(weights=source, freeze=2, early_stopping=False, **FAST)
    frozen.set_params(max_epochs=3).fit(X[target], y[target])
    after = _state(frozen)
    for k in before:
        moved = not torch.equal(before[k], after[k])
        if k.startswith(("backbone.blocks.0.", "backbone.blocks.1.")):
            assert not moved, f"{k} is frozen but changed"
        elif k.startswith("backbone.blocks.2.") and not k.endswith("tracked"):
            assert moved, f"{k} is not frozen but did not train"
    thawed = clone(frozen).set_params(unfreeze_at=2).fit(X[target], y[target])
    after = _state(thawed)
    for k in before:
        if k.startswith("backbone.blocks.0.") and not k.endswith("tracked"):
            assert not torch.equal(before[k], after[k]), f"{k} did not thaw"
    assert thawed.net_.history[1, "event_unfreeze"] is True
    assert "event_unfreeze" not in thawed.net_.history[0]


def test_unfreeze_trains_everything_at_the_scaled_rate(fmnist, source):
    X, y = fmnist
    target = y >= 5
    clf = ImageClassifier(
        weights=source,
        freeze="backbone",
        unfreeze_at=2,
        backbone_lr_scale=0.1,
        early_stopping=False,
        **FAST,
    ).fit(X[target], y[target])
    groups = {g["name"]: g for g in clf.net_.optimizer_.param_groups}
    assert groups["head"]["lr"] == pytest.approx(1e-3)
    assert groups["backbone"]["lr"] == pytest.approx(1e-4)
    assert groups["backbone_no_decay"]["weight_decay"] == 0.0
    assert all(p.requires_grad for p in clf.net_.module_.parameters())
    in_groups = {id(p) for g in groups.values() for p in g["params"]}
    assert in_groups == {id(p) for p in clf.net_.module_.parameters()}


def test_weight_decay_skips_frozen_parameters(fmnist, source):
    X, y = fmnist
    target = y >= 5
    before = _state(source)
    clf = ImageClassifier(
        weights=source,
        freeze="backbone",
        weight_decay=0.5,
        optimizer="adamw",
        early_stopping=False,
        **FAST,
    ).fit(X[target], y[target])
    after = _state(clf)
    assert torch.equal(
        before["backbone.blocks.0.0.weight"], after["backbone.blocks.0.0.weight"]
    )


def test_glob_patterns_and_bad_freeze_values(fmnist):
    X, y = fmnist
    clf = ImageClassifier(freeze=["backbone.blocks.0.*"], **FAST).fit(X[:64], y[:64])
    assert clf.frozen_parameters_ == [
        "backbone.blocks.0.0.weight",
        "backbone.blocks.0.1.weight",
        "backbone.blocks.0.1.bias",
    ]
    with pytest.raises(ValueError, match="match no parameter"):
        ImageClassifier(freeze=["nope.*"], **FAST).fit(X[:64], y[:64])
    with pytest.raises(ValueError, match="only 3 blocks"):
        ImageClassifier(freeze=7, **FAST).fit(X[:64], y[:64])
    with pytest.raises(ValueError, match="Every parameter of the network is frozen"):
        ImageClassifier(freeze=["*"], **FAST).fit(X[:64], y[:64])


def _resnet_state(seed: int) -> dict:
    torch.manual_seed(seed)
    return torchvision.models.resnet18().state_dict()


def test_torchvision_weights_load_through_hub_cache(fmnist, tmp_path, monkeypatch):
    X, y = fmnist
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    path = hub_checkpoint_path(weights.url)
    assert path.parent == tmp_path / "hub" / "checkpoints"
    path.parent.mkdir(parents=True)
    state = _resnet_state(123)
    torch.save(state, path)
    clf = ImageClassifier(
        backbone="resnet18", weights="IMAGENET1K_V1", freeze="backbone", **FAST
    ).fit(X[:48], y[:48])
    net = clf.net_.module_.backbone
    assert torch.equal(net.conv1.weight, state["conv1.weight"])
    assert torch.equal(net.layer4[1].bn2.running_var, state["layer4.1.bn2.running_var"])
    assert net.fc[1].out_features == 10  # a new head for 10 classes
    np.testing.assert_allclose(clf.mean_, [0.485, 0.456, 0.406])
    assert "IMAGENET1K_V1" in clf.transfer_report_.source


def test_missing_torchvision_weights_say_where_to_put_them(
    fmnist, tmp_path, monkeypatch
):
    X, y = fmnist
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    expected = str(tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth")
    with pytest.raises(FileNotFoundError, match="resnet18-f37072fd.pth") as info:
        ImageClassifier(backbone="resnet18", weights="DEFAULT", **FAST).fit(
            X[:16], y[:16]
        )
    assert expected in str(info.value)
    with pytest.raises(ValueError, match="not a weights name of resnet18"):
        ImageClassifier(backbone="resnet18", weights="IMAGENET9K", **FAST).fit(
            X[:16], y[:16]
        )
    with pytest.raises(ValueError, match="need a torchvision backbone"):
        ImageClassifier(weights="DEFAULT", **FAST).fit(X[:16], y[:16])


def test_squeezenet_gets_a_conv_head_and_its_pretrained_features(tmp_path, monkeypatch):
    # SqueezeNet has no nn.Linear: its output layer is a final 1x1 convolution.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    weights = torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1
    path = hub_checkpoint_path(weights.url)
    path.parent.mkdir(parents=True)
    torch.manual_seed(5)
    state = torchvision.models.squeezenet1_1().state_dict()
    torch.save(state, path)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(12, 32, 32, 3), dtype=np.uint8)
    y = np.arange(12) % 3
    clf = ImageClassifier(
        "squeezenet1_1", weights="DEFAULT", freeze="backbone", dropout=0.2, **FAST
    ).fit(X, y)
    net = clf.net_.module_.backbone
    head = net.classifier[1]
    assert isinstance(head[1], torch.nn.Conv2d)
    assert (head[1].in_channels, head[1].out_channels) == (512, 3)
    assert head[0].p == 0.2
    assert torch.equal(net.features[0].weight, state["features.0.weight"])
    assert "backbone.features.0.weight" in clf.frozen_parameters_
    assert "backbone.classifier.1.1.weight" not in clf.frozen_parameters_
    assert "backbone.classifier.1.1.weight" in clf.transfer_report_.skipped_head
    proba = clf.predict_proba(X)
    assert proba.shape == (12, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    plain = ImageClassifier("squeezenet1_0", max_epochs=1, batch_size=12)
    assert plain.fit(X, y).predict_proba(X).shape == (12, 3)
    # The ReLU after the old classifier is gone: logits can be negative.
    assert isinstance(net.classifier[2], torch.nn.Identity)
    logits = clf.net_.module_(torch.rand(4, 3, 32, 32))
    assert (logits < 0).any()
    # So it is with another activation, swapped in after the head is built.
    for activation in ("leaky_relu", "prelu"):
        other = ImageClassifier("squeezenet1_1", activation=activation, **FAST)
        classifier = other.fit(X, y).net_.module_.backbone.classifier
        assert isinstance(classifier[2], torch.nn.Identity), activation


def test_every_listed_torchvision_model_has_an_output_layer():
    from skdl.vision import classification_models
    from skdl.vision._backbones import _output_layer

    for name in classification_models():
        try:
            with torch.device("meta"), warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                model = torchvision.models.get_model(name, weights=None)
        except NotImplementedError:  # RegNets cannot be built on "meta"
            continue
        found = _output_layer(model)
        assert found is not None, name
        layer = found[1]
        width = getattr(layer, "out_features", getattr(layer, "out_channels", 0))
        assert width == 1000, f"{name}: {found[0]} is not the output layer"


def test_state_dict_file_bare_backbone(fmnist, tmp_path):
    X, y = fmnist
    state = _resnet_state(7)
    path = tmp_path / "resnet18_backbone.pt"
    torch.save(state, path)
    clf = ImageClassifier(backbone="resnet18", weights=str(path), **FAST)
    clf.set_params(max_epochs=1, early_stopping=False, lr=1e-12).fit(X[:32], y[:32])
    # lr ~ 0: the loaded tensors are still (numerically) the file's
    loaded = clf.net_.module_.backbone.layer1[0].conv1.weight
    torch.testing.assert_close(loaded, state["layer1.0.conv1.weight"])
    assert len(clf.transfer_report_.skipped_head) > 0


def test_shape_mismatch_is_reported(fmnist, source):
    X, y = fmnist
    rgb = np.repeat(X[:64, ..., None], 3, axis=3)
    with pytest.warns(WeightsMismatchWarning, match="blocks.0.0.weight"):
        clf = ImageClassifier(weights=source, **FAST).fit(rgb, y[:64])
    assert any(
        "blocks.0.0.weight: (32, 1, 3, 3) -> (32, 3, 3, 3)" in m
        for m in clf.transfer_report_.mismatched
    )


def test_unfitted_estimator_as_weights_is_an_error(fmnist):
    X, y = fmnist
    with pytest.raises(ValueError, match="not fitted"):
        ImageClassifier(weights=ImageClassifier(), **FAST).fit(X[:16], y[:16])


def test_save_load_pickle_joblib_round_trips(fmnist, source, tmp_path):
    X, y = fmnist
    target = y >= 5
    clf = ImageClassifier(weights=source, freeze="backbone", unfreeze_at=2, **FAST)
    clf.fit(X[target], y[target])
    expected = clf.predict_proba(X[:50])
    for blob in (pickle.loads(pickle.dumps(clf)),):
        np.testing.assert_array_equal(blob.predict_proba(X[:50]), expected)
    joblib.dump(clf, tmp_path / "clf.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "clf.joblib").predict_proba(X[:50]), expected
    )
    clf.save_weights(tmp_path / "w.pt")
    other = clone(clf).set_params(random_state=99).fit(X[target], y[target])
    assert not np.allclose(other.predict_proba(X[:50]), expected)
    other.load_weights(tmp_path / "w.pt")
    np.testing.assert_array_equal(other.predict_proba(X[:50]), expected)
    # A new estimator can start from the saved file as well.
    warm = ImageClassifier(weights=str(tmp_path / "w.pt"), freeze="backbone", **FAST)
    warm.fit(X[target], y[target])
    assert len(warm.transfer_report_.loaded) > 0


def test_grid_search_over_finetuning_strategies(fmnist, source):
    X, y = fmnist
    target = y >= 5
    grid = GridSearchCV(
        ImageClassifier(weights=source, max_epochs=1, random_state=0),
        {"freeze": [None, "backbone"], "backbone_lr_scale": [1.0, 0.1]},
        cv=2,
    ).fit(X[target][:120], y[target][:120])
    assert len(grid.cv_results_["params"]) == 4
    assert clone(grid.best_estimator_).get_params()["weights"] is source


@pytest.mark.cuda
def test_gpu_trained_model_predicts_on_cpu(fmnist, tmp_path):
    X, y = fmnist
    clf = ImageClassifier(device="cuda", **FAST).fit(X[:128], y[:128])
    expected = clf.predict_proba(X[:20])
    blob = pickle.dumps(clf)
    import skorch  # noqa: F401

    cpu = pickle.loads(blob)
    cpu.net_.set_params(device="cpu")
    cpu.net_.module_.to("cpu")
    np.testing.assert_allclose(cpu.predict_proba(X[:20]), expected, atol=1e-4)


# ---------------------------------------------------------------- tabular
def _titanic(data_dir):
    import pandas as pd

    frame = pd.read_csv(data_dir / "tabular" / "seaborn_titanic.csv.gz")
    y = frame.pop("survived")
    X = frame.drop(columns=["alive", "who", "adult_male"])
    return X, y


def test_tabular_transfer_reuses_body_and_encoding(data_dir):
    from skdl import TabularClassifier, TabularRegressor

    X, y = _titanic(data_dir)
    # Pretrain a regressor on another target of the same table (the fare).
    fare = X["fare"].to_numpy()
    # Raw numeric inputs (no periodic embedding): a frozen first block of 32
    # units then still carries the features the survival task needs.
    body = dict(hidden_layer_sizes=(32, 16), numeric_embedding=None)
    src = TabularRegressor(**body, max_epochs=5, random_state=0)
    src.fit(X, np.log1p(fare))
    before = {k: v.clone() for k, v in src.net_.module_.state_dict().items()}
    clf = TabularClassifier(
        **body, weights=src, freeze=1, max_epochs=5, random_state=0
    ).fit(X, y)
    after = clf.net_.module_.state_dict()
    for k in ("blocks.0.0.weight", "embeddings.0.weight"):
        assert torch.equal(before[k], after[k]), f"{k} is frozen but changed"
    assert not torch.equal(before["blocks.1.0.weight"], after["blocks.1.0.weight"])
    assert clf.encoder_ is not src.encoder_
    assert clf.encoder_.categorical_columns_ == src.encoder_.categorical_columns_
    assert clf.score(X, y) > 0.7
    with pytest.raises(ValueError, match="same columns"):
        TabularClassifier(weights=src, max_epochs=1).fit(X.drop(columns=["fare"]), y)


def test_tabular_weights_file_and_blocks(tmp_path):
    from sklearn.datasets import load_breast_cancer

    from skdl import TabularClassifier

    X, y = load_breast_cancer(return_X_y=True)
    a = TabularClassifier(hidden_layer_sizes=(16, 8), max_epochs=3, random_state=0)
    a.fit(X, y)
    a.save_weights(tmp_path / "mlp.pt")
    b = TabularClassifier(
        hidden_layer_sizes=(16, 8),
        weights=str(tmp_path / "mlp.pt"),
        freeze=2,
        max_epochs=2,
        random_state=1,
    ).fit(X, y)
    assert b.frozen_parameters_ == [
        "numeric_embedding.weight",
        "numeric_embedding.bias",
        "blocks.0.0.weight",
        "blocks.0.0.bias",
        "blocks.1.0.weight",
        "blocks.1.0.bias",
    ]
    torch.testing.assert_close(
        b.net_.module_.blocks[1][0].weight, a.net_.module_.blocks[1][0].weight
    )
    with pytest.warns(WeightsMismatchWarning):
        TabularClassifier(
            hidden_layer_sizes=(16, 4), weights=str(tmp_path / "mlp.pt"), max_epochs=1
        ).fit(X, y)
