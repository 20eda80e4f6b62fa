"""scikit-learn compatibility of the augmenters: checks, clone, GridSearchCV.

scikit-learn's checks feed 2-D tables to ``fit`` and ``transform``. They run
in full on GaussianNoise (a transformer of numeric tables) and Mixup (whose
only scikit-learn method is ``fit``; ``transform`` is deliberately absent).
ImageAugmenter and CutMix declare image input (``three_d_array``), so
scikit-learn skips its data checks for them; the parameter-API checks that
need no data run on every augmenter below.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_cloneable,
    check_estimator_repr,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
    parametrize_with_checks,
)

from skdl.augment import CutMix, GaussianNoise, ImageAugmenter, Mixup

AUGMENTERS = [
    GaussianNoise(),
    # std=0 is deterministic (the tag says so), so the checks that compare
    # outputs of two calls, skipped or expected to fail above, run in full.
    GaussianNoise(std=0.0),
    ImageAugmenter(rotation=15, crop_scale=(0.8, 1.0), policy="randaugment"),
    Mixup(),
    CutMix(),
]

_RANDOM = (
    "transform draws fresh noise from torch's global generator on every call "
    "(tag non_deterministic=True); the check compares the outputs of two calls."
)
EXPECTED_FAILED_CHECKS = {
    "GaussianNoise": {
        "check_estimators_pickle": _RANDOM,
        "check_fit_idempotent": _RANDOM,
    },
    "Mixup": {
        "check_estimator_sparse_tag": (
            "fit only validates parameters (Mixup has no transform), so it "
            "accepts any X; the batches Mixup mixes are dense tensors, so the "
            "sparse tag honestly stays False."
        ),
    },
}


def _expected_failed_checks(estimator):
    if get_tags(estimator).non_deterministic:
        return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})
    return {}


@parametrize_with_checks(AUGMENTERS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "check",
    [
        check_estimator_cloneable,
        check_estimator_repr,
        check_no_attributes_set_in_init,
        check_get_params_invariance,
        check_set_params,
        check_parameters_default_constructible,
        check_do_not_raise_errors_in_init_or_set_params,
        check_mixin_order,
        check_valid_tag_types,
    ],
)
@pytest.mark.parametrize("estimator", AUGMENTERS, ids=lambda e: type(e).__name__)
def test_parameter_api_checks(estimator, check):
    check(type(estimator).__name__, estimator)


def test_tags_declare_input_kinds():
    image, noise = (
        ImageAugmenter().__sklearn_tags__(),
        GaussianNoise().__sklearn_tags__(),
    )
    assert image.input_tags.three_d_array and not image.input_tags.two_d_array
    assert noise.input_tags.two_d_array and noise.input_tags.allow_nan
    assert not CutMix().__sklearn_tags__().input_tags.two_d_array
    for aug in AUGMENTERS:
        tags = aug.__sklearn_tags__()
        assert not tags.requires_fit
        assert tags.non_deterministic == (aug.get_params().get("std") != 0.0)


class _Holder(BaseEstimator):
    """A stand-in estimator with an ``augment`` parameter, as skdl's have.

    ``fit`` runs the augmenter on a batch of images with a rotating bar and
    ``score`` rewards outputs that moved least, so rotation=0 must win.
    """

    def __init__(self, augment=None):
        self.augment = augment

    def fit(self, X, y=None):
        torch.manual_seed(0)
        x = torch.zeros(16, 1, 15, 15)
        x[..., 7, :] = 1.0
        out, _ = self.augment.augment_batch({"x": x}, None)
        self.change_ = float((out["x"] - x).abs().mean())
        return self

    def score(self, X, y=None):
        return -self.change_


def test_grid_search_over_nested_augmenter_params():
    holder = _Holder(augment=ImageAugmenter(hflip=False, rotation=15))
    params = holder.get_params(deep=True)
    assert params["augment__rotation"] == 15 and params["augment__hflip"] is False
    copy = clone(holder)
    assert copy.augment is not holder.augment
    assert copy.augment.get_params() == holder.augment.get_params()

    search = GridSearchCV(holder, {"augment__rotation": [0, 15, 30]}, cv=2)
    search.fit(np.zeros((4, 1)))
    assert list(search.cv_results_["param_augment__rotation"]) == [0, 15, 30]
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] == 0 and scores[0] > scores[1] > scores[2]
    assert search.best_params_ == {"augment__rotation": 0}
    assert holder.augment.rotation == 15  # the search cloned, never mutated
