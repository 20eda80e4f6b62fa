"""Pretrained sources (timm, custom modules), input_normalization, brief errors."""

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError
from torch import nn

import skdl.vision._classifier as classifier_module
from skdl._validation.describe import describe_value
from skdl.vision import ImageClassifier
from skdl.vision._normalization import IMAGENET_MEAN, IMAGENET_STD


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, size=(40, 3, 16, 16), dtype=np.uint8)
    y = np.repeat([0, 1], 20)
    X[y == 1] //= 2
    return X, y


def _small():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 7),
    )


def _fast(**params):
    return ImageClassifier(max_epochs=1, early_stopping=False, random_state=0, **params)


def _buffers(est):
    module = est.net_.module_
    return module.mean.flatten().numpy(), module.std.flatten().numpy()


# ------------------------------------------------------- input_normalization
@pytest.mark.parametrize(
    "value, mean, std",
    [
        ("imagenet", IMAGENET_MEAN, IMAGENET_STD),
        ((0.5, 0.5), (0.5,) * 3, (0.5,) * 3),
        (([0.1, 0.2, 0.3], [0.4, 0.5, 0.6]), (0.1, 0.2, 0.3), (0.4, 0.5, 0.6)),
    ],
)
def test_fixed_normalization_is_used_without_reading_the_images(
    images, monkeypatch, value, mean, std
):
    def refuse(*args, **kwargs):
        raise AssertionError("the training images were read for statistics")

    monkeypatch.setattr(classifier_module, "image_statistics", refuse)
    est = _fast(backbone=_small(), input_normalization=value).fit(*images)
    np.testing.assert_allclose(est.mean_, mean)
    np.testing.assert_allclose(est.std_, std)
    np.testing.assert_allclose(_buffers(est)[0], mean, rtol=1e-6)
    np.testing.assert_allclose(_buffers(est)[1], std, rtol=1e-6)


def test_auto_and_fit_use_the_training_images_without_pretrained_statistics(images):
    X, y = images
    auto = _fast(backbone=_small()).fit(X, y)
    fit = _fast(backbone=_small(), input_normalization="fit").fit(X, y)
    expected = (X / 255.0).mean(axis=(0, 2, 3))
    np.testing.assert_allclose(auto.mean_, expected, rtol=1e-6)
    np.testing.assert_allclose(fit.mean_, expected, rtol=1e-6)


def test_explicit_normalization_overrides_a_transferred_network(images):
    X, y = images
    source = _fast(backbone=_small(), input_normalization=(0.3, 0.2)).fit(X, y)
    auto = _fast(backbone=_small(), weights=source).fit(X, y)
    np.testing.assert_allclose(auto.mean_, 0.3)  # brought by the source
    fit = _fast(backbone=_small(), weights=source, input_normalization="fit")
    fit.fit(X, y)
    np.testing.assert_allclose(fit.mean_, (X / 255.0).mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(_buffers(fit)[0], fit.mean_, rtol=1e-6)


@pytest.mark.parametrize(
    "value, text",
    [
        ((0.5,), "1 entries"),
        ((0.5, 0.0), "std must be positive"),
        ((0.5, float("nan")), "non-finite"),
        (("a", 0.5), "not numbers"),
        (([0.1, 0.2], [0.1, 0.2, 0.3]), "mean has 2 values but std 3"),
    ],
)
def test_a_bad_normalization_pair_is_refused_before_training(images, value, text):
    with pytest.raises(ValueError, match=text):
        _fast(backbone=_small(), input_normalization=value).fit(*images)


def test_imagenet_statistics_do_not_fit_a_one_channel_network(images):
    X, y = images
    gray = X[:, :1]
    with pytest.raises(ValueError, match="ImageNet's statistics are for RGB"):
        _fast(input_normalization="imagenet").fit(gray, y)


# ----------------------------------------------------------- custom modules
def test_a_custom_module_starts_from_its_saved_state_dict(images, tmp_path):
    source = _small()
    path = tmp_path / "small.pt"
    torch.save(source.state_dict(), path)
    torch.manual_seed(5)
    est = _fast(backbone=nn.Sequential(*_small()), weights=str(path), freeze="backbone")
    est.fit(*images)
    loaded = est.net_.module_.backbone[0].weight
    torch.testing.assert_close(loaded, source[0].weight)
    assert len(est.transfer_report_.loaded) == 2


class NeedsArguments(nn.Module):
    def __init__(self, blocks=None, settings=None):
        super().__init__()
        assert isinstance(blocks, list), "blocks should be a list"
        self.fc = nn.Linear(3, 2)


def test_a_module_class_that_needs_arguments_says_to_pass_an_instance(images):
    with pytest.raises(ValueError, match="Pass an instance") as info:
        _fast(backbone=NeedsArguments).fit(*images)
    assert "NeedsArguments" in str(info.value)


# ------------------------------------------------------------ brief errors
def test_a_weights_name_with_a_custom_module_does_not_print_the_module(images):
    with pytest.raises(ValueError) as info:
        _fast(backbone=_small(), weights="IMAGENET1K_V1").fit(*images)
    message = str(info.value)
    assert len(message) < 500
    assert "Conv2d(" not in message
    assert "Sequential module" in message and "state dict" in message


def test_a_state_dict_object_as_weights_is_described_not_printed(images):
    state = {f"layer{i}.weight": torch.zeros(50, 50) for i in range(100)}
    with pytest.raises(InvalidParameterError) as info:
        _fast(backbone=_small(), weights=state).fit(*images)
    message = str(info.value)
    assert len(message) < 400
    assert "a dict of 100 tensors" in message
    assert "tensor(" not in message


def test_describe_value_caps_what_it_echoes():
    assert describe_value("resnet18") == "'resnet18'"
    assert describe_value(3) == "3"
    assert len(describe_value("x" * 10_000)) <= 80
    assert describe_value(nn.Linear(3, 2)) == "a Linear module (8 parameters)"
    assert describe_value(torch.zeros(4, 5)) == "a tensor of shape (4, 5)"
    assert describe_value({"a": 1}) == "a dict of 1 entries"
    assert describe_value(nn.Linear) == "the class Linear"
    assert len(describe_value(list(range(1000)))) <= 80


# -------------------------------------------------------------------- timm
@pytest.fixture(scope="module")
def timm_file(tmp_path_factory):
    """A timm model built with pretrained=False, its weights saved to a file."""
    timm = pytest.importorskip("timm")
    torch.manual_seed(3)
    model = timm.create_model("test_efficientnet", pretrained=False)
    path = tmp_path_factory.mktemp("timm") / "test_efficientnet.pth"
    torch.save(model.state_dict(), path)
    return model, path


def test_timm_weights_load_through_timm_from_a_local_file(images, timm_file):
    model, path = timm_file
    est = _fast(
        backbone="timm:test_efficientnet",
        weights=str(path),
        freeze="backbone",
        image_size=32,
    ).fit(*images)
    network = est.net_.module_.backbone
    torch.testing.assert_close(network.conv_stem.weight, model.conv_stem.weight)
    # The head was rebuilt for the task (one logit for two classes).
    assert network.classifier[-1].out_features == 1
    assert "through timm" in est.transfer_report_.source
    assert est.feature_cache_
    # timm's data config gives the normalization of the pretrained weights.
    np.testing.assert_allclose(est.mean_, model.pretrained_cfg["mean"])
    np.testing.assert_allclose(est.std_, model.pretrained_cfg["std"])


def _offline_hub(monkeypatch, cache):
    """Point huggingface_hub (which timm downloads through) at ``cache``, offline.

    The hub reads these settings at import; patching its constants module
    is what setting ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE=1`` before Python
    starts does.
    """
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def test_timm_default_weights_come_from_timms_cache(images, timm_file, tmp_path):
    # weights="DEFAULT" goes through timm's real download code, which finds
    # the file in the Hugging Face cache (laid out as a download leaves it)
    # and never touches the network.
    from safetensors.torch import save_file

    model, _ = timm_file
    repo = tmp_path / "models--timm--test_efficientnet.r160_in1k"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, snapshot / "model.safetensors")
    with pytest.MonkeyPatch.context() as mp:
        _offline_hub(mp, tmp_path)
        est = _fast(
            backbone="timm:test_efficientnet",
            weights="DEFAULT",
            freeze="backbone",
            image_size=32,
        ).fit(*images)
    network = est.net_.module_.backbone
    torch.testing.assert_close(network.conv_stem.weight, model.conv_stem.weight)
    assert est.transfer_report_.source == "timm test_efficientnet"


def test_timm_default_weights_missing_offline_is_a_short_error(images, tmp_path):
    pytest.importorskip("timm")
    with pytest.MonkeyPatch.context() as mp:
        _offline_hub(mp, tmp_path)
        with pytest.raises(ValueError, match="not in timm's cache") as info:
            _fast(backbone="timm:test_efficientnet", weights="DEFAULT").fit(*images)
    assert "weights=" in str(info.value)
    assert len(str(info.value)) < 600


def test_timm_without_weights_starts_fresh_at_its_input_size(images):
    pytest.importorskip("timm")
    est = _fast(backbone="timm:test_efficientnet").fit(*images)
    assert est.transfer_report_ is None
    assert est.image_shape_ == (160, 160)  # the model's pretrained input size
    np.testing.assert_allclose(est.mean_, (images[0] / 255.0).mean(axis=(0, 2, 3)))


def test_unknown_timm_model_is_named(images):
    pytest.importorskip("timm")
    with pytest.raises(ValueError, match="not a timm model name"):
        _fast(backbone="timm:no_such_net").fit(*images)


def test_timm_weights_file_of_another_model_is_a_short_error(images, tmp_path):
    pytest.importorskip("timm")
    path = tmp_path / "other.pth"
    torch.save(_small().state_dict(), path)
    with pytest.raises(ValueError, match="could not be loaded") as info:
        _fast(backbone="timm:test_efficientnet", weights=str(path)).fit(*images)
    assert len(str(info.value)) < 600
