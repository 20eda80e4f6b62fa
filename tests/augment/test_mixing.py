"""Mixup and CutMix: soft targets, weights, pairing, boxes, tables."""

from __future__ import annotations

import pytest
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from skdl.augment import CutMix, ImageAugmenter, Mixup

N, K = 8, 4


def _labels():
    # Neighbours always differ, so each row's own class weight reveals lam.
    return torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])


def _lam(y_soft, y):
    lam = y_soft[torch.arange(len(y)), y]
    assert torch.allclose(lam, lam[0].expand_as(lam))  # one lam per batch
    return float(lam[0])


def test_params_repr_and_clone():
    assert Mixup().get_params() == {"alpha": 0.2}
    assert CutMix().get_params() == {"alpha": 1.0}
    assert repr(Mixup(alpha=0.4)) == "Mixup(alpha=0.4)"
    assert clone(CutMix(alpha=0.5)).alpha == 0.5


@pytest.mark.parametrize("mixer", [Mixup(alpha=0.0), CutMix(alpha=-1)])
def test_invalid_alpha_raises_when_used(mixer):
    with pytest.raises(InvalidParameterError, match="'alpha' parameter"):
        mixer.augment_batch({"x": torch.rand(2, 1, 4, 4)}, torch.zeros(2, 1))


@pytest.mark.parametrize("mixer", [Mixup(), CutMix()])
def test_transform_is_unavailable_and_says_why(mixer):
    assert not hasattr(mixer, "transform") and not hasattr(mixer, "fit_transform")
    with pytest.raises(AttributeError, match="cannot run on X alone.*expand"):
        mixer.transform(torch.zeros(2, 2))
    assert mixer.fit(None) is mixer


def test_mixup_images_multiclass_mixes_inputs_targets_and_weights():
    torch.manual_seed(0)
    x, y, w = torch.rand(N, 3, 6, 6), _labels(), torch.rand(N)
    before = (x.clone(), y.clone(), w.clone())
    out, y_soft = Mixup(alpha=1.0).augment_batch(
        {"x": x, "sample_weight": w, "extra": y}, y, n_classes=K
    )
    assert y_soft.shape == (N, K) and y_soft.dtype == torch.float32
    torch.testing.assert_close(y_soft.sum(dim=1), torch.ones(N))
    lam = _lam(y_soft, y)
    torch.testing.assert_close(out["x"], lam * x + (1 - lam) * x.roll(1, 0))
    torch.testing.assert_close(out["sample_weight"], lam * w + (1 - lam) * w.roll(1))
    assert out["extra"] is y
    for tensor, copy in zip((x, y, w), before):
        assert torch.equal(tensor, copy)


def test_mixup_binary_and_regression_targets():
    torch.manual_seed(0)
    x = torch.rand(N, 1, 5, 5)
    y_bin = torch.tensor([[0.0], [1.0]] * 4)
    out, y_mix = Mixup(alpha=1.0).augment_batch({"x": x}, y_bin, n_classes=2)
    assert y_mix.shape == (N, 1) and ((y_mix >= 0) & (y_mix <= 1)).all()
    lam = float(y_mix[1, 0])  # y[1] = 1, partner y[0] = 0
    torch.testing.assert_close(y_mix, lam * y_bin + (1 - lam) * y_bin.roll(1, 0))
    torch.testing.assert_close(out["x"], lam * x + (1 - lam) * x.roll(1, 0))

    y_reg = torch.randn(N, 2)
    out, y_mix = Mixup(alpha=1.0).augment_batch({"x": x}, y_reg)
    assert y_mix.shape == (N, 2)
    # Recover lam from the images and check the targets use the same one.
    d = x - x.roll(1, 0)
    lam = float((out["x"] - x.roll(1, 0)).flatten().dot(d.flatten()) / d.norm() ** 2)
    torch.testing.assert_close(y_mix, lam * y_reg + (1 - lam) * y_reg.roll(1, 0))


def test_mixup_tables_keep_codes_of_the_dominant_row():
    seen = set()
    for seed in range(20):
        torch.manual_seed(seed)
        x_num, x_cat = torch.randn(N, 3), torch.arange(N * 2).reshape(N, 2)
        w, y = torch.ones(N), _labels()
        batch = {"x_num": x_num, "x_cat": x_cat, "sample_weight": w}
        out, y_soft = Mixup(alpha=1.0).augment_batch(batch, y, n_classes=K)
        lam = _lam(y_soft, y)
        torch.testing.assert_close(
            out["x_num"], lam * x_num + (1 - lam) * x_num.roll(1, 0)
        )
        expected = x_cat if lam >= 0.5 else x_cat.roll(1, 0)
        assert torch.equal(out["x_cat"], expected) and out["x_cat"].dtype == torch.int64
        torch.testing.assert_close(out["sample_weight"], w)
        assert torch.equal(x_cat, torch.arange(N * 2).reshape(N, 2))
        seen.add(lam >= 0.5)
    assert seen == {True, False}


def test_cutmix_pastes_one_box_from_the_partner():
    torch.manual_seed(3)
    x, y, w = torch.rand(N, 3, 16, 16), _labels(), torch.rand(N)
    out, y_soft = CutMix(alpha=1.0).augment_batch(
        {"x": x, "sample_weight": w}, y, n_classes=K
    )
    changed = (out["x"] != x).any(dim=1)  # (N, H, W)
    rows, cols = changed.any(dim=(0, 2)).nonzero(), changed.any(dim=(0, 1)).nonzero()
    assert len(rows) and len(cols)
    box = (
        slice(int(rows.min()), int(rows.max()) + 1),
        slice(int(cols.min()), int(cols.max()) + 1),
    )
    pasted = x.roll(1, 0)[..., box[0], box[1]]
    assert torch.equal(out["x"][..., box[0], box[1]], pasted)
    outside = out["x"].clone()
    outside[..., box[0], box[1]] = x[..., box[0], box[1]]
    assert torch.equal(outside, x)
    area = (box[0].stop - box[0].start) * (box[1].stop - box[1].start) / 256
    lam = _lam(y_soft, y)
    assert lam == pytest.approx(1 - area)
    torch.testing.assert_close(out["sample_weight"], lam * w + (1 - lam) * w.roll(1))


def test_same_seed_same_mix():
    x, y = torch.rand(N, 1, 8, 8), _labels()
    for mixer in (Mixup(), CutMix()):
        runs = []
        for seed in (0, 0, 1):
            torch.manual_seed(seed)
            runs.append(mixer.augment_batch({"x": x}, y, n_classes=K)[1])
        assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_errors_name_the_problem():
    x = {"x": torch.rand(4, 1, 4, 4)}
    with pytest.raises(ValueError, match="needs y_batch"):
        Mixup().augment_batch(x, None)
    with pytest.raises(ValueError, match="without n_classes"):
        Mixup().augment_batch(x, torch.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="CutMix got tabular features; .*use Mixup"):
        CutMix().augment_batch({"x_num": torch.zeros(4, 2)}, torch.zeros(4, 1))


def test_single_sample_batch_only_encodes_targets():
    out, y_soft = Mixup().augment_batch(
        {"x": torch.rand(1, 1, 4, 4)}, torch.tensor([2]), n_classes=3
    )
    assert torch.equal(y_soft, torch.tensor([[0.0, 0.0, 1.0]]))


def test_chained_augmenters_keep_soft_targets_valid():
    torch.manual_seed(0)
    batch, y = {"x": torch.rand(N, 3, 8, 8)}, _labels()
    batch, y = ImageAugmenter(rotation=10).augment_batch(batch, y, n_classes=K)
    batch, y = Mixup(alpha=1.0).augment_batch(batch, y, n_classes=K)
    batch, y = CutMix().augment_batch(batch, y, n_classes=K)
    assert y.shape == (N, K)
    torch.testing.assert_close(y.sum(dim=1), torch.ones(N))
