"""``feature_scale``: RealMLP's learnable per-input scale, and its rate."""

from __future__ import annotations

import numpy as np
import pytest

from skdl import TabularClassifier, TabularRegressor


def _noisy_table(n=800, n_noise=7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 1 + n_noise))
    y = 2.0 * X[:, 0] + 0.1 * rng.normal(size=n)
    return X, y


def test_feature_scale_is_one_parameter_per_first_layer_input():
    X, y = _noisy_table()
    reg = TabularRegressor(
        feature_scale=True, numeric_embedding="piecewise", max_epochs=2, random_state=0
    ).fit(X, y)
    module = reg.net_.module_
    first = module.blocks[0][0]
    assert module.feature_scale.shape == (first.in_features,)
    plain = TabularRegressor(max_epochs=2, random_state=0).fit(X, y)
    assert plain.net_.module_.feature_scale is None


def test_feature_scale_trains_six_times_faster_without_weight_decay():
    X, y = _noisy_table()
    reg = TabularRegressor(
        feature_scale=True, weight_decay=1e-3, max_epochs=2, random_state=0
    ).fit(X, y)
    groups = {g["name"]: g for g in reg.net_.optimizer_.param_groups}
    scale = groups["backbone_no_decay:feature_scale"]
    assert [p.shape for p in scale["params"]] == [reg.net_.module_.feature_scale.shape]
    assert scale["lr"] == pytest.approx(6 * groups["backbone"]["lr"])
    assert scale["weight_decay"] == 0.0
    assert groups["backbone"]["weight_decay"] == 1e-3


def test_feature_scale_learns_to_quiet_noise_columns():
    X, y = _noisy_table()
    reg = TabularRegressor(
        feature_scale=True,
        numeric_embedding=None,
        early_stopping=False,
        ema_epochs=None,
        max_epochs=40,
        random_state=0,
    ).fit(X, y)
    scale = reg.net_.module_.feature_scale.detach().abs().numpy()
    # Without numeric embedding, input j is feature j: the informative
    # column's scale ends above every noise column's.
    assert scale[0] > scale[1:].max()
    assert reg.score(X, y) > 0.95


def test_feature_scale_is_frozen_with_the_first_block():
    X, y = _noisy_table()
    reg = TabularRegressor(
        feature_scale=True, freeze=1, max_epochs=2, random_state=0
    ).fit(X, y)
    assert not reg.net_.module_.feature_scale.requires_grad
    np.testing.assert_array_equal(reg.net_.module_.feature_scale.detach().numpy(), 1.0)


def test_onecycle_keeps_each_groups_share_of_the_rate():
    # torch's OneCycleLR would give every group the same peak; the backbone
    # and the feature scale must keep their ratios to the head's rate.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] > 0).astype(int)
    clf = TabularClassifier(
        feature_scale=True,
        backbone_lr_scale=0.1,
        lr_schedule="onecycle",
        max_epochs=3,
        random_state=0,
    ).fit(X, y)
    groups = {g["name"]: g["lr"] for g in clf.net_.optimizer_.param_groups}
    assert groups["backbone"] == pytest.approx(0.1 * groups["head"])
    assert groups["backbone_no_decay:feature_scale"] == pytest.approx(
        0.6 * groups["head"]
    )


def test_feature_scale_must_be_a_bool():
    X, y = _noisy_table(n=100)
    with pytest.raises(ValueError, match="feature_scale"):
        TabularRegressor(feature_scale="yes", max_epochs=1).fit(X, y)
