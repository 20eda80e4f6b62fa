"""Saving and loading fitted estimators: save()/skdl.load(), weights files, pickle."""

import json
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_iris, make_classification, make_regression

import skdl
from skdl import ImageClassifier, TabularClassifier, TabularRegressor
from skdl._persistence.model_file import checksum
from skdl.augment import GaussianNoise

FAST = dict(hidden_layer_sizes=(16,), max_epochs=3, random_state=0)


def mixed_frame(n=120, seed=0):
    """A table with numeric, string and categorical columns and gaps."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.exponential(size=n),
            "city": rng.choice(["Paris", "Oslo", "Rome"], n),
            "size": pd.Categorical(rng.choice(["S", "M", "L"], n)),
        }
    )
    X.loc[::7, "x"] = np.nan
    X.loc[::11, "city"] = np.nan
    y = np.where(X["z"] + (X["city"] == "Oslo") > 1.2, "yes", "no")
    return X, y


def round_trip(est, tmp_path, **kwargs):
    path = tmp_path / "model.skdl"
    est.save(path)
    loaded = skdl.load(path, **kwargs)
    assert type(loaded) is type(est) and loaded is not est
    return loaded


def test_binary_ensemble_with_calibration_on_a_mixed_frame(tmp_path):
    X, y = mixed_frame()
    clf = TabularClassifier(n_ensemble=2, **FAST).fit(X, y)
    loaded = round_trip(clf, tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_array_equal(loaded.temperatures_, clf.temperatures_)
    assert not np.all(clf.temperatures_ == 1.0)  # calibration did something
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.feature_names_in_, clf.feature_names_in_)
    pd.testing.assert_frame_equal(loaded.history_, clf.history_)
    assert loaded.get_params() == clf.get_params()
    assert len(loaded.nets_) == 2
    # Unseen categories and new gaps go through the restored encoder alike.
    new = X.head(10).copy()
    new.loc[0, "city"] = "Lima"
    new.loc[1, "z"] = np.nan
    np.testing.assert_array_equal(loaded.predict_proba(new), clf.predict_proba(new))


def test_multiclass_quantile_scaling_and_periodic_embedding(tmp_path):
    X, y = load_iris(return_X_y=True)
    clf = TabularClassifier(
        scaling="quantile", numeric_embedding="periodic", class_weight={0: 2.0}, **FAST
    ).fit(X, y)
    loaded = round_trip(clf, tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.class_weight == {0: 2.0}
    assert loaded.hidden_layer_sizes == (16,)


def test_regressor_with_two_targets_and_an_augmenter(tmp_path):
    X, y = make_regression(80, 5, n_targets=2, random_state=0)
    reg = TabularRegressor(augment=GaussianNoise(std=0.05), **FAST).fit(X, y * 1e3)
    loaded = round_trip(reg, tmp_path)
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    assert loaded.predict(X).shape == (80, 2)
    assert isinstance(loaded.augment, GaussianNoise)
    assert loaded.augment.get_params() == reg.augment.get_params()
    np.testing.assert_array_equal(loaded.target_scale_, reg.target_scale_)


def test_image_classifier_keeps_its_image_statistics(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(24, 8, 8, 3), dtype=np.uint8)
    y = np.arange(24) % 3
    clf = ImageClassifier(max_epochs=1, random_state=0).fit(X, y)
    loaded = round_trip(clf, tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.mean_, clf.mean_)
    np.testing.assert_array_equal(loaded.std_, clf.std_)
    assert loaded.image_shape_ == clf.image_shape_


def test_image_files_and_transferred_weights(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(12):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (10, 10), dtype=np.uint8)).save(path)
        paths.append(str(path))
    y = np.arange(12) % 2
    source = ImageClassifier(max_epochs=1, random_state=0).fit(paths, y)
    source.save_weights(tmp_path / "source.pt")
    clf = ImageClassifier(
        weights=str(tmp_path / "source.pt"), max_epochs=1, random_state=1
    ).fit(paths, y)
    loaded = round_trip(clf, tmp_path)
    assert loaded.input_kind_ == "files" and loaded.mode_ == clf.mode_
    assert loaded.transfer_report_ == clf.transfer_report_
    assert loaded.transfer_report_.loaded
    np.testing.assert_array_equal(loaded.predict_proba(paths), clf.predict_proba(paths))


def test_image_statistics_travel_with_the_weights(tmp_path):
    rng = np.random.default_rng(0)
    y = np.arange(24) % 2
    bright = rng.integers(128, 256, size=(24, 8, 8, 3), dtype=np.uint8)
    dark = rng.integers(0, 128, size=(24, 8, 8, 3), dtype=np.uint8)
    a = ImageClassifier(max_epochs=1, random_state=0).fit(bright, y)
    b = ImageClassifier(max_epochs=1, random_state=0).fit(dark, y)
    a.save_weights(tmp_path / "a.pt")
    b.load_weights(tmp_path / "a.pt")
    np.testing.assert_array_equal(b.predict_proba(dark), a.predict_proba(dark))
    np.testing.assert_array_equal(b.mean_, a.mean_.astype(np.float32))


def test_a_loaded_model_is_diagnosed_like_the_saved_one(tmp_path):
    X, y = load_iris(return_X_y=True)
    clf = TabularClassifier((16,), lr=0.05, max_epochs=200, random_state=0)
    clf.fit(X, y)
    assert clf.stopped_early_
    loaded = round_trip(clf, tmp_path)
    report = skdl.diagnostics.diagnose(loaded)
    assert str(report) == str(skdl.diagnostics.diagnose(clf))


def test_a_loaded_model_pickles_refits_and_passes_on_its_weights(tmp_path):
    X, y = mixed_frame()
    clf = TabularClassifier(**FAST).fit(X, y)
    loaded = round_trip(clf, tmp_path)
    again = pickle.loads(pickle.dumps(loaded))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    student = TabularClassifier(weights=loaded, **FAST).fit(X, y)
    assert student.transfer_report_.loaded
    refit = loaded.fit(X, y)
    np.testing.assert_array_equal(refit.predict_proba(X), clf.predict_proba(X))


def test_load_unpickles_nothing(tmp_path, monkeypatch):
    X, y = mixed_frame()
    clf = TabularClassifier(**FAST).fit(X, y)
    clf.save(tmp_path / "m.skdl")

    def refuse(*args, **kwargs):
        raise AssertionError("load() must not unpickle")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    loaded = skdl.load(tmp_path / "m.skdl")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_load_places_the_networks_on_the_requested_device(saved):
    loaded = skdl.load(saved, device="cpu:0")
    assert all(net.device == "cpu" for net in loaded.nets_)
    assert next(loaded.net_.module_.parameters()).device.type == "cpu"
    with pytest.raises(ValueError, match="device must be .*got 'nope'"):
        skdl.load(saved, device="nope")


def test_load_leaves_the_global_random_state_alone(tmp_path):
    X, y = load_iris(return_X_y=True)
    TabularClassifier(**FAST).fit(X, y).save(tmp_path / "m.skdl")
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    skdl.load(tmp_path / "m.skdl")
    np.testing.assert_array_equal(torch.rand(3), expected)


class Swish(torch.nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


def test_parameters_that_are_not_plain_data_are_asked_for_again(tmp_path):
    X, y = load_iris(return_X_y=True)
    clf = TabularClassifier(activation=Swish, **FAST).fit(X, y)
    path = tmp_path / "m.skdl"
    clf.save(path)
    with pytest.raises(TypeError, match=r"without parameter\(s\) activation.*params="):
        skdl.load(path)
    loaded = skdl.load(path, params={"activation": Swish})
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(TypeError, match="no parameter"):
        skdl.load(path, params={"activation": Swish, "colour": 1})


def test_torch_classes_are_stored_by_name(tmp_path):
    X, y = load_iris(return_X_y=True)
    clf = TabularClassifier(
        activation=torch.nn.GELU, optimizer=torch.optim.AdamW, **FAST
    ).fit(X, y)
    loaded = round_trip(clf, tmp_path)
    assert loaded.activation is torch.nn.GELU
    assert loaded.optimizer is torch.optim.AdamW
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.fixture
def saved(tmp_path):
    X, y = load_iris(return_X_y=True)
    clf = TabularClassifier(**FAST).fit(X, y)
    path = tmp_path / "m.skdl"
    clf.save(path)
    return path


def rewrite(path, header_edit=None, tensors_edit=None, rehash=False):
    """A copy of a model file with its header or tensor bytes changed."""
    with zipfile.ZipFile(path) as archive:
        header = json.loads(archive.read("skdl.json"))
        tensors = archive.read("tensors.safetensors")
    if header_edit:
        header_edit(header)
    if tensors_edit:
        tensors = tensors_edit(tensors)
    if rehash:
        content = {k: v for k, v in header.items() if k != "sha256"}
        header["sha256"] = checksum(content, tensors)
    out = path.with_name("edited.skdl")
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("skdl.json", json.dumps(header))
        archive.writestr("tensors.safetensors", tensors)
    return out


def test_edited_files_are_refused(saved):
    def bigger_lr(header):
        header["params"]["lr"] = 0.5

    with pytest.raises(ValueError, match="modified or corrupted"):
        skdl.load(rewrite(saved, header_edit=bigger_lr))

    def flip_last_byte(data):
        return data[:-1] + bytes([data[-1] ^ 1])

    with pytest.raises(ValueError, match="modified or corrupted"):
        skdl.load(rewrite(saved, tensors_edit=flip_last_byte))


def test_truncated_and_foreign_files_are_refused(saved, tmp_path):
    data = saved.read_bytes()
    for n in (len(data) // 2, len(data) - 10, 10):
        cut = tmp_path / f"cut{n}.skdl"
        cut.write_bytes(data[:n])
        with pytest.raises(ValueError, match="truncated, corrupt"):
            skdl.load(cut)
    pickled = tmp_path / "pickled.skdl"
    pickled.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="not a complete skdl model file"):
        skdl.load(pickled)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        skdl.load(tmp_path / "missing.skdl")


def test_another_class_than_expected_is_refused(saved):
    with pytest.raises(TypeError, match="holds a TabularClassifier, not a Tabular"):
        skdl.load(saved, expected=TabularRegressor)
    assert isinstance(skdl.load(saved, expected=TabularClassifier), TabularClassifier)

    def other_class(header):
        header["estimator"] = "os.system"

    with pytest.raises(ValueError, match="'os.system', which is not an estimator"):
        skdl.load(rewrite(saved, header_edit=other_class, rehash=True))

    def smuggle_a_class(header):
        header["attributes"]["encoder_"]["class"] = "subprocess.Popen"

    with pytest.raises(ValueError, match="'subprocess.Popen' is not one skdl"):
        skdl.load(rewrite(saved, header_edit=smuggle_a_class, rehash=True))

    def set_a_dunder(header):
        header["attributes"]["__class__"] = {
            "__skdl__": "class",
            "name": "torch.nn.ReLU",
        }

    with pytest.raises(ValueError, match="'__class__' is not a fitted attribute"):
        skdl.load(rewrite(saved, header_edit=set_a_dunder, rehash=True))


def test_files_from_a_newer_format_are_refused(saved):
    def future(header):
        header["format_version"] = 99
        header["versions"]["skdl"] = "9.0"

    with pytest.raises(ValueError, match="skdl 9.0 in model format 99.*Upgrade"):
        skdl.load(rewrite(saved, header_edit=future, rehash=True))


def test_save_refuses_unfitted_estimators_and_missing_folders(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TabularClassifier().save(tmp_path / "m.skdl")
    X, y = load_iris(return_X_y=True)
    clf = TabularClassifier(**FAST).fit(X, y)
    for save in (clf.save, clf.save_weights):
        with pytest.raises(FileNotFoundError, match="folder .*nope.* does not exist"):
            save(tmp_path / "nope" / "m.skdl")
    assert not (tmp_path / "nope").exists()


# ------------------------------------------------------------ save_weights
def halves():
    X, y = mixed_frame(240, seed=1)
    return (X.iloc[:120], y[:120]), (X.iloc[120:], y[120:]), X


def test_load_weights_refuses_a_model_fitted_on_other_data(tmp_path):
    (Xa, ya), (Xb, yb), X = halves()
    a = TabularClassifier(**FAST).fit(Xa, ya)
    b = TabularClassifier(**FAST).fit(Xb, yb)
    before = b.predict_proba(X)
    a.save_weights(tmp_path / "a.pt")
    with pytest.raises(ValueError, match="encoded differently.*column encoding"):
        b.load_weights(tmp_path / "a.pt")
    np.testing.assert_array_equal(b.predict_proba(X), before)


def test_load_weights_refuses_another_target_scale(tmp_path):
    X, y = make_regression(80, 4, random_state=0)
    a = TabularRegressor(**FAST).fit(X, y)
    b = TabularRegressor(**FAST).fit(X, 2 * y)
    a.save_weights(tmp_path / "a.pt")
    with pytest.raises(ValueError, match="different target scaling"):
        b.load_weights(tmp_path / "a.pt")


def test_weights_round_trip_into_a_matching_model_predicts_identically(tmp_path):
    (Xa, ya), _, X = halves()
    a = TabularClassifier(n_ensemble=2, **FAST).fit(Xa, ya)
    b = TabularClassifier(n_ensemble=2, **FAST).fit(Xa, ya)
    with torch.no_grad():
        for net in b.nets_:
            for param in net.module_.parameters():
                param.normal_()
    b.temperatures_ = np.array([5.0, 0.2])
    assert not np.allclose(b.predict_proba(X), a.predict_proba(X))
    a.save_weights(tmp_path / "a.pt")
    b.load_weights(tmp_path / "a.pt")
    np.testing.assert_array_equal(b.predict_proba(X), a.predict_proba(X))
    np.testing.assert_array_equal(b.temperatures_, a.temperatures_)
    saved = torch.load(tmp_path / "a.pt", weights_only=True)
    assert set(saved) >= {"state_dict", "ensemble", "temperatures", "skdl_fingerprint"}


def test_weights_move_between_seeds_when_the_encoding_is_the_same(tmp_path):
    # Without early stopping the encoder sees every row, whatever the seed.
    X, y = make_regression(80, 4, random_state=0)
    a = TabularRegressor(early_stopping=False, **FAST).fit(X, y)
    b = TabularRegressor(early_stopping=False, **{**FAST, "random_state": 1})
    b.fit(X, y)
    assert not np.allclose(b.predict(X), a.predict(X))
    a.save_weights(tmp_path / "a.pt")
    np.testing.assert_array_equal(
        b.load_weights(tmp_path / "a.pt").predict(X), a.predict(X)
    )


def test_load_weights_points_model_files_to_skdl_load(saved):
    clf = skdl.load(saved)
    with pytest.raises(ValueError, match=r"whole model .* skdl.load\(path\)"):
        clf.load_weights(saved)


def test_a_bare_state_dict_loads_with_a_warning(tmp_path):
    X, y = load_iris(return_X_y=True)
    one = dict(FAST, early_stopping=False, n_ensemble=1)  # a bare dict: one net
    a = TabularClassifier(**one).fit(X, y)
    torch.save(a.net_.module_.state_dict(), tmp_path / "bare.pt")
    b = TabularClassifier(**{**one, "random_state": 1})
    b.fit(X, y)
    with pytest.warns(UserWarning, match="cannot check that it matches"):
        b.load_weights(tmp_path / "bare.pt")
    np.testing.assert_array_equal(b.predict(X), a.predict(X))


# ------------------------------------------------------------------ pickle
@pytest.mark.parametrize("device", ["cpu:0", "cpu"])
def test_every_cpu_device_string_pickles(device):
    X, y = load_iris(return_X_y=True)
    clf = TabularClassifier(device=device, **FAST).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.device == device  # the parameter is kept as given


def test_parameters_this_version_lacks_are_refused(saved):
    def extra_param(header):
        header["params"]["colour"] = "red"

    with pytest.raises(ValueError, match=r"parameter\(s\) \['colour'\].*version"):
        skdl.load(rewrite(saved, header_edit=extra_param, rehash=True))


def test_a_failed_save_leaves_the_previous_file_intact(saved, monkeypatch):
    before = saved.read_bytes()
    loaded = skdl.load(saved)

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", disk_full)
    with pytest.raises(OSError, match="No space"):
        loaded.save(saved)
    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space"):
        loaded.save_weights(saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


@pytest.mark.cuda
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_gpu_models_pickle_and_save(tmp_path, device):
    X, y = load_iris(return_X_y=True)
    clf = TabularClassifier(device=device, **FAST).fit(X, y)
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(clf)).predict_proba(X), expected
    )
    loaded = round_trip(clf, tmp_path)
    assert torch.device(loaded.net_.device).type == "cuda"
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    on_cpu = skdl.load(tmp_path / "model.skdl", device="cpu")
    np.testing.assert_allclose(on_cpu.predict_proba(X), expected, atol=1e-5)


def test_a_pretrained_model_loads_offline_without_its_hub_file(tmp_path, monkeypatch):
    import torchvision

    from skdl.finetune import hub_checkpoint_path

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    weights = torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1
    hub_file = hub_checkpoint_path(weights.url)
    hub_file.parent.mkdir(parents=True)
    torch.manual_seed(5)
    torch.save(torchvision.models.squeezenet1_1().state_dict(), hub_file)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(12, 32, 32, 3), dtype=np.uint8)
    y = np.arange(12) % 3
    clf = ImageClassifier(
        "squeezenet1_1",
        weights="DEFAULT",
        freeze="backbone",
        max_epochs=1,
        random_state=0,
    ).fit(X, y)
    hub_file.unlink()

    def offline(*args, **kwargs):
        raise AssertionError("load() must download nothing")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    loaded = round_trip(clf, tmp_path)
    assert loaded.weights == "DEFAULT"
    np.testing.assert_allclose(loaded.mean_, [0.485, 0.456, 0.406])
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_a_pickle_naming_the_old_engine_paths_loads(tmp_path):
    """Nets pickled when SkdlNet lived in skdl._net (before skdl._training)."""
    from skdl._training.callbacks import RecordLR
    from skdl._training.net import SkdlNet

    X, y = make_classification(60, 4, random_state=0)
    clf = TabularClassifier(hidden_layer_sizes=(4,), max_epochs=2, random_state=0)
    clf.fit(X.astype(np.float32), y)
    # Protocol 3 writes module paths as text lines, without frames.
    data = pickle.dumps(clf, protocol=3)
    # Spell the classes by their old modules, as an older skdl wrote them.
    for new, old in (
        (b"skdl._training.net\n", b"skdl._net\n"),
        (b"skdl._training.callbacks\n", b"skdl._callbacks\n"),
    ):
        data = data.replace(new, old)
    assert b"skdl._net" in data and b"skdl._training.net" not in data
    loaded = pickle.loads(data)
    assert type(loaded.net_) is SkdlNet
    assert any(isinstance(cb, RecordLR) for _, cb in loaded.net_.callbacks_)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
