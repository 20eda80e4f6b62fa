"""GaussianNoise: noise on numeric features only, with the requested std."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from skdl.augment import GaussianNoise


def test_params_repr_and_clone():
    noise = GaussianNoise()
    assert noise.get_params() == {"std": 0.1}
    assert repr(GaussianNoise(std=0.3)) == "GaussianNoise(std=0.3)"
    assert clone(GaussianNoise(std=0.3)).std == 0.3


def test_invalid_std_raises_when_used():
    noise = GaussianNoise(std=-1.0)
    with pytest.raises(InvalidParameterError, match="'std' parameter"):
        noise.augment_batch({"x_num": torch.zeros(2, 2)})
    with pytest.raises(InvalidParameterError, match="'std' parameter"):
        noise.fit(np.zeros((2, 2)))
    with pytest.raises(InvalidParameterError, match="'std' parameter"):
        noise.transform(np.zeros((2, 2)))


def test_transform_has_the_requested_std():
    torch.manual_seed(0)
    X = np.full((20_000, 3), 5.0)
    out = GaussianNoise(std=0.3).fit_transform(X)
    assert out.shape == X.shape and out.dtype == np.float64
    np.testing.assert_allclose((out - X).std(axis=0), 0.3, rtol=0.03)
    np.testing.assert_allclose((out - X).mean(axis=0), 0.0, atol=0.01)
    assert np.all(X == 5.0)


def test_transform_keeps_float32_and_missing_values():
    X = np.array([[1.0, np.nan], [2.0, 3.0]], dtype=np.float32)
    out = GaussianNoise().transform(X)
    assert out.dtype == np.float32
    assert np.isnan(out[0, 1]) and np.all(np.isfinite(out[[0, 1, 1], [0, 0, 1]]))


def test_feature_checks_and_pandas_output():
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]})
    noise = GaussianNoise().set_output(transform="pandas").fit(df)
    out = noise.transform(df)
    assert list(out.columns) == ["a", "b"]
    with pytest.raises(ValueError, match="is expecting 2 features"):
        GaussianNoise().fit(np.zeros((3, 2))).transform(np.zeros((3, 5)))


def test_augment_batch_perturbs_numeric_features_only():
    torch.manual_seed(0)
    x_num = torch.zeros(50_000, 2)
    x_cat = torch.randint(0, 5, (50_000, 3))
    weight = torch.rand(50_000)
    y = torch.rand(50_000, 1)
    batch = {"x_num": x_num, "x_cat": x_cat, "sample_weight": weight}
    out, y_out = GaussianNoise(std=0.2).augment_batch(batch, y, n_classes=2)
    assert out is not batch
    assert torch.equal(x_num, torch.zeros(50_000, 2))  # input untouched
    assert out["x_cat"] is x_cat and out["sample_weight"] is weight and y_out is y
    assert out["x_num"].dtype == torch.float32
    torch.testing.assert_close(
        out["x_num"].std(dim=0), torch.full((2,), 0.2), rtol=0.02, atol=0
    )


def test_zero_std_and_categorical_only_batches_pass_through():
    x = torch.randn(4, 3)
    out, _ = GaussianNoise(std=0.0).augment_batch({"x_num": x})
    assert torch.equal(out["x_num"], x)
    codes = torch.arange(8).reshape(4, 2)
    out, _ = GaussianNoise().augment_batch({"x_cat": codes})
    assert out == {"x_cat": codes}


def test_seeded_noise_is_reproducible():
    batch = {"x_num": torch.zeros(5, 3)}
    runs = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        runs.append(GaussianNoise().augment_batch(batch)[0]["x_num"])
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_image_batch_is_rejected_with_advice():
    with pytest.raises(
        ValueError, match="GaussianNoise got images; use ImageAugmenter"
    ):
        GaussianNoise().augment_batch({"x": torch.rand(2, 1, 4, 4)})
