"""ImageAugmenter: parameters, per-image randomness, layouts, torchvision v2."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from skdl.augment import ImageAugmenter

BILINEAR = v2.InterpolationMode.BILINEAR
ALL_ON = dict(
    hflip=0.5,
    vflip=0.5,
    rotation=20,
    crop_scale=(0.6, 1.0),
    translate=(0.1, 0.2),
    color_jitter=0.3,
    erasing=0.5,
    policy="trivialaugment",
)


@pytest.fixture(scope="module")
def fashion(data_dir):
    """The first 16 Fashion-MNIST test images, uint8 (16, 28, 28)."""
    path = data_dir / "images" / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with gzip.open(path, "rb") as f:
        raw = f.read(16 + 16 * 28 * 28)
    return np.frombuffer(raw[16:], dtype=np.uint8).reshape(16, 28, 28).copy()


@pytest.fixture(scope="module")
def cifar(data_dir):
    """Eight CIFAR-10 training JPEGs, uint8 (8, 32, 32, 3)."""
    root = data_dir / "images" / "cifar10-jpg-subset" / "train"
    files = sorted(root.glob("*/0000.jpg"))[:8]
    if len(files) < 8:
        pytest.skip(f"CIFAR-10 subset not found under {root}")
    return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])


def _batch(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(images).float() / 255
    return x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2).contiguous()


def _run(aug, x, seed=0):
    torch.manual_seed(seed)
    out, _ = aug.augment_batch({"x": x})
    return out["x"]


# ------------------------------------------------------------- parameters
def test_params_repr_and_clone():
    aug = ImageAugmenter()
    assert aug.get_params() == dict(
        hflip=True,
        vflip=False,
        rotation=0.0,
        crop_scale=None,
        translate=None,
        color_jitter=None,
        erasing=0.0,
        policy=None,
    )
    assert repr(aug) == "ImageAugmenter()"
    aug.set_params(rotation=30, crop_scale=(0.7, 1.0))
    assert repr(aug) == "ImageAugmenter(crop_scale=(0.7, 1.0), rotation=30)"
    copy = clone(aug)
    assert copy is not aug and copy.get_params() == aug.get_params()


@pytest.mark.parametrize(
    "params, name",
    [
        (dict(hflip=1.5), "hflip"),
        (dict(vflip="yes"), "vflip"),
        (dict(rotation=-5), "rotation"),
        (dict(rotation=181), "rotation"),
        (dict(crop_scale=(0.9, 0.5)), "crop_scale"),
        (dict(crop_scale=(0.0, 1.0)), "crop_scale"),
        (dict(crop_scale=(0.5,)), "crop_scale"),
        (dict(crop_scale=0.5), "crop_scale"),
        (dict(translate=(0.1, 1.5)), "translate"),
        (dict(translate=-0.1), "translate"),
        (dict(color_jitter=2.0), "color_jitter"),
        (dict(erasing=1.5), "erasing"),
        (dict(policy="cutout"), "policy"),
    ],
)
def test_invalid_params_raise_when_used(params, name):
    aug = ImageAugmenter(**params)  # __init__ only stores
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        aug.augment_batch({"x": torch.rand(2, 1, 8, 8)})
    with pytest.raises(InvalidParameterError, match=name):
        aug.transform(np.zeros((2, 8, 8), dtype=np.uint8))
    with pytest.raises(InvalidParameterError, match=name):
        aug.fit(np.zeros((2, 8, 8)))


def test_fit_returns_self_and_is_stateless():
    aug = ImageAugmenter(rotation=10)
    assert aug.fit(np.zeros((3, 8, 8))) is aug
    assert not [k for k in vars(aug) if k.endswith("_")]


# ---------------------------------------------------------------- protocol
@pytest.mark.parametrize(
    "params",
    [
        dict(rotation=30),
        dict(crop_scale=(0.5, 1.0)),
        dict(translate=0.2),
        dict(color_jitter=0.5),
        dict(erasing=1.0),
        dict(policy="randaugment"),
    ],
    ids=lambda p: next(iter(p)),
)
def test_each_image_gets_its_own_parameters(fashion, params):
    x = _batch(np.repeat(fashion[:1], 8, axis=0))
    out = _run(ImageAugmenter(hflip=False, **params), x)
    n_distinct = len(torch.unique(out.flatten(1), dim=0))
    assert n_distinct >= 6


def test_flip_probability_is_per_image(fashion):
    x = _batch(np.repeat(fashion[:1], 64, axis=0))
    out = _run(ImageAugmenter(hflip=0.5), x)
    flipped = (out == TF.horizontal_flip(x)).flatten(1).all(1)
    kept = (out == x).flatten(1).all(1)
    assert (flipped | kept).all()
    assert 10 < int(flipped.sum()) < 54


def test_same_seed_same_output_and_fresh_draws_per_call():
    aug = ImageAugmenter(**ALL_ON)
    x = torch.rand(6, 3, 16, 16)
    a, b, c = _run(aug, x, 0), _run(aug, x, 0), _run(aug, x, 1)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    torch.manual_seed(0)
    first, _ = aug.augment_batch({"x": x})
    second, _ = aug.augment_batch({"x": x})
    assert not torch.allclose(first["x"], second["x"])


def test_augment_batch_does_not_mutate_inputs():
    x = torch.rand(5, 3, 12, 12)
    weight = torch.rand(5)
    y = torch.arange(5)
    batch = {"x": x, "sample_weight": weight}
    before = x.clone()
    out, y_out = ImageAugmenter(**ALL_ON).augment_batch(batch, y, n_classes=5)
    assert torch.equal(x, before)
    assert out is not batch and set(out) == {"x", "sample_weight"}
    assert out["sample_weight"] is weight and y_out is y
    assert out["x"].shape == x.shape and out["x"].dtype == torch.float32
    assert 0 <= float(out["x"].min()) and float(out["x"].max()) <= 1


def test_tabular_batch_is_rejected_with_advice():
    with pytest.raises(ValueError, match="got tabular features; use GaussianNoise"):
        ImageAugmenter().augment_batch({"x_num": torch.zeros(4, 3)})
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\)"):
        ImageAugmenter().augment_batch({"x": torch.zeros(4, 8, 8)})


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("policy", ["randaugment", "trivialaugment", "autoaugment"])
def test_policies_and_jitter_on_gray_and_rgb(channels, policy):
    x = torch.rand(4, channels, 16, 16)
    aug = ImageAugmenter(hflip=False, color_jitter=0.5, policy=policy)
    out = _run(aug, x)
    assert out.shape == x.shape and not torch.allclose(out, x)


def test_erasing_blanks_a_box_in_every_image():
    out = _run(ImageAugmenter(hflip=False, erasing=1.0), torch.ones(8, 1, 20, 20))
    assert ((out == 0).flatten(1).sum(1) > 0).all()


def test_crop_alone_keeps_a_flat_image_flat():
    # Crops sample within the image: no black borders creep in.
    out = _run(
        ImageAugmenter(hflip=False, crop_scale=(0.3, 0.6)), torch.ones(8, 1, 9, 9)
    )
    assert torch.allclose(out, torch.ones_like(out))


def test_crop_of_the_whole_image_is_the_identity():
    x = torch.rand(6, 3, 16, 16)
    out = _run(ImageAugmenter(hflip=False, crop_scale=(1.0, 1.0)), x)
    torch.testing.assert_close(out, x, atol=1e-6, rtol=0)


def test_rotation_draws_differ_between_identical_images():
    x = torch.rand(1, 3, 16, 16).repeat(8, 1, 1, 1)
    out = _run(ImageAugmenter(hflip=False, rotation=180), x)
    assert len(torch.unique(out.flatten(1), dim=0)) == 8


# --------------------------------------------------- torchvision transforms
def test_flips_alone_equal_the_flipped_batch():
    x = torch.rand(6, 3, 10, 14)
    torch.testing.assert_close(
        _run(ImageAugmenter(hflip=1.0), x), x.flip(-1), atol=0, rtol=0
    )
    torch.testing.assert_close(
        _run(ImageAugmenter(hflip=False, vflip=1.0), x), x.flip(-2), atol=0, rtol=0
    )
    both = _run(ImageAugmenter(hflip=1.0, vflip=True), torch.rand(64, 1, 5, 5))
    assert both.shape == (64, 1, 5, 5)


@pytest.mark.parametrize(
    "params, expected",
    [
        (
            dict(hflip=0.5, translate=(0.1, 0.2)),
            [
                v2.RandomHorizontalFlip(0.5),
                v2.RandomAffine(
                    degrees=0.0, translate=(0.1, 0.2), interpolation=BILINEAR, fill=0
                ),
            ],
        ),
        (
            dict(hflip=False, vflip=True, rotation=20, crop_scale=(0.6, 1.0)),
            [
                v2.RandomResizedCrop((12, 16), scale=(0.6, 1.0), antialias=True),
                v2.RandomVerticalFlip(0.5),
                v2.RandomAffine(degrees=20.0, interpolation=BILINEAR, fill=0),
            ],
        ),
        (
            ALL_ON,
            [
                v2.RandomResizedCrop((12, 16), scale=(0.6, 1.0), antialias=True),
                v2.RandomHorizontalFlip(0.5),
                v2.RandomVerticalFlip(0.5),
                v2.RandomAffine(
                    degrees=20.0, translate=(0.1, 0.2), interpolation=BILINEAR, fill=0
                ),
                v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3),
                v2.TrivialAugmentWide(),
                v2.RandomErasing(p=0.5),
            ],
        ),
    ],
    ids=["flip-translate", "crop-vflip-rotate", "all"],
)
def test_output_is_torchvision_v2_applied_image_by_image(params, expected):
    # Same global-generator draws, in the same order, as the torchvision
    # transforms composed by hand and called on one image after the other.
    x = torch.rand(5, 3, 12, 16)
    pipeline = v2.Compose(expected)
    torch.manual_seed(3)
    theirs = torch.stack([pipeline(image) for image in x]).clamp(0, 1)
    ours = _run(ImageAugmenter(**params), x, seed=3)
    torch.testing.assert_close(ours, theirs, atol=0, rtol=0)


def test_full_flip_matches_numpy_on_real_images(cifar):
    out = ImageAugmenter(hflip=1.0).transform(cifar)
    np.testing.assert_array_equal(out, cifar[:, :, ::-1])


# ---------------------------------------------------------------- transform
@pytest.mark.parametrize(
    "shape, dtype, high",
    [
        ((5, 20, 24), np.uint8, 255),
        ((5, 20, 24, 3), np.uint8, 255),
        ((5, 20, 24, 1), np.float64, 1.0),
        ((5, 3, 20, 24), np.float32, 1.0),
        ((5, 1, 20, 24), np.float32, 255.0),
        ((5, 3, 20, 3), np.uint8, 255),  # ambiguous: channels last, as in vision
    ],
)
def test_transform_keeps_layout_and_dtype(shape, dtype, high):
    rng = np.random.default_rng(0)
    X = (rng.random(shape) * high).astype(dtype)
    aug = ImageAugmenter(rotation=15, crop_scale=(0.8, 1.0), color_jitter=0.2)
    out = aug.transform(X)
    assert out.shape == X.shape and out.dtype == X.dtype
    assert out.min() >= 0 and out.max() <= high
    assert not np.allclose(out, X)
    identity = ImageAugmenter(hflip=False).fit_transform(X)
    np.testing.assert_allclose(identity, X, rtol=1e-6, atol=1e-6 * high)


def test_transform_on_real_images(fashion, cifar):
    aug = ImageAugmenter(**ALL_ON)
    for images in (fashion, cifar):
        torch.manual_seed(0)
        out = aug.transform(images)
        assert out.shape == images.shape and out.dtype == np.uint8
        assert np.mean(out != images) > 0.3


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((5, 4)), "2-D tables"),
        (np.zeros((2, 5, 8, 7)), "channel axis"),
        (np.zeros((2, 8, 8, 5)), "channel axis"),
        (np.array([["a"]]), "numeric"),
        (np.full((2, 8, 8), np.nan), "NaN"),
        (np.full((2, 8, 8), 1000, dtype=np.uint16), r"\[0, 255\]"),
    ],
)
def test_transform_rejects_non_images(X, match):
    with pytest.raises(ValueError, match=match):
        ImageAugmenter().transform(X)


def test_geometry_and_erasing_work_for_any_channel_count():
    x = torch.rand(3, 2, 10, 10)
    out = _run(ImageAugmenter(rotation=10, erasing=1.0), x)
    assert out.shape == x.shape
    with pytest.raises(ValueError, match="1 or 3 channels; got 2"):
        _run(ImageAugmenter(color_jitter=0.2), x)
    rgba = np.random.default_rng(0).integers(0, 256, (2, 12, 12, 4), dtype=np.uint8)
    np.testing.assert_array_equal(
        ImageAugmenter(hflip=1.0).transform(rgba), rgba[:, :, ::-1]
    )
    torch.manual_seed(0)
    moved = ImageAugmenter(crop_scale=(0.5, 1.0), rotation=30, translate=0.2)
    out = moved.transform(rgba)
    assert out.shape == rgba.shape and out.dtype == np.uint8
    assert np.mean(out != rgba) > 0.3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_batches_stay_on_the_gpu():
    x = torch.rand(4, 3, 16, 16, device="cuda")
    for params in (ALL_ON, dict(hflip=1.0)):
        out = _run(ImageAugmenter(**params), x)
        assert out.device == x.device and out.shape == x.shape
