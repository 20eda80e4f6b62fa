"""ImageAugmenter: parameters, per-image randomness, layouts, torchvision parity."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError
from torchvision.transforms.v2 import functional as TF

from skdl.augment import ImageAugmenter
from skdl.augment._image import _affine_matrices, _draw_crop_boxes, _warp

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


def test_crop_boxes_follow_random_resized_crop():
    torch.manual_seed(0)
    left, top, w, h = _draw_crop_boxes(2000, 24, 32, (0.25, 0.5))
    area = w * h / (24 * 32)
    assert float(area.min()) > 0.2 and float(area.max()) < 0.55
    ratio = w / h
    assert float(ratio.min()) > 0.6 and float(ratio.max()) < 1.45
    assert (left >= 0).all() and (left + w <= 32).all()
    assert (top >= 0).all() and (top + h <= 24).all()


# --------------------------------------------------- parity with torchvision
def _theta(h, w, *, angle=0.0, box=None, flip=(1.0, 1.0), shift=(0.0, 0.0)):
    def t(v):
        return torch.tensor([float(v)])

    box = box or (0, 0, w, h)
    return _affine_matrices(
        h,
        w,
        box=tuple(map(t, box)),
        flip=(t(flip[0]), t(flip[1])),
        angle=t(angle),
        shift=(t(shift[0]), t(shift[1])),
    )


def test_warp_matches_torchvision_kernels():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 10, 14)
    sq = torch.rand(1, 1, 12, 12)
    bilinear = TF.InterpolationMode.BILINEAR
    cases = [
        (_warp(sq, _theta(12, 12, angle=90), "zeros"), TF.rotate(sq, 90)),
        (
            _warp(sq, _theta(12, 12, angle=-25), "zeros"),
            TF.rotate(sq, -25, interpolation=bilinear),
        ),
        (_warp(x, _theta(10, 14, flip=(-1, 1)), "border"), TF.horizontal_flip(x)),
        (_warp(x, _theta(10, 14, flip=(1, -1)), "border"), TF.vertical_flip(x)),
        (
            _warp(x, _theta(10, 14, shift=(3, -2)), "zeros"),
            TF.affine(x, angle=0.0, translate=[3, -2], scale=1.0, shear=[0.0, 0.0]),
        ),
    ]
    for ours, theirs in cases:
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_crop_matches_resized_crop_inside_the_box():
    # At the box edges the warp samples the neighbouring real pixels where
    # torchvision clamps to the box; everywhere else they agree.
    x = torch.rand(1, 1, 12, 16)
    ours = _warp(x, _theta(12, 16, box=(3, 2, 10, 7)), "border")
    theirs = TF.resized_crop(x, 2, 3, 7, 10, [12, 16], antialias=False)
    torch.testing.assert_close(ours[..., 1:-1, 1:-1], theirs[..., 1:-1, 1:-1])


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
