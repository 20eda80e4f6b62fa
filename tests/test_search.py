"""skdl.search_space with RandomizedSearchCV and HalvingRandomSearchCV."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_iris
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import (
    GridSearchCV,
    HalvingRandomSearchCV,
    ParameterSampler,
    RandomizedSearchCV,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdl import ImageClassifier, TabularClassifier, TabularRegressor, search_space
from skdl._search import ZeroOr


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize(
    "estimator",
    [
        TabularClassifier(),
        TabularRegressor(),
        ImageClassifier(),
        ImageClassifier(backbone="resnet18", weights="DEFAULT"),
    ],
    ids=["clf", "reg", "image", "image-finetune"],
)
def test_every_sampled_candidate_is_a_valid_configuration(estimator):
    space = search_space(estimator)
    assert "max_epochs" not in space  # left for HalvingRandomSearchCV
    for params in ParameterSampler(space, n_iter=25, random_state=0):
        est = estimator.__class__(**{**estimator.get_params(), **params})
        est._validate_params()  # the parameter constraints fit() checks


def test_fine_tuning_strategy_only_searched_with_weights():
    assert "freeze" not in search_space(ImageClassifier())
    space = search_space(ImageClassifier(backbone="resnet18", weights="DEFAULT"))
    assert {"freeze", "unfreeze_at", "backbone_lr_scale"} <= set(space)
    assert "label_smoothing" in search_space(TabularClassifier())
    assert "label_smoothing" not in search_space(TabularRegressor())


def test_pipeline_and_meta_estimator_keys_carry_the_prefix():
    pipe = make_pipeline(StandardScaler(), TabularClassifier())
    space = search_space(pipe)
    assert "tabularclassifier__lr" in space
    assert set(space) <= set(pipe.get_params())
    grid = GridSearchCV(pipe, {})
    assert set(search_space(grid)) <= set(grid.get_params())
    target = TransformedTargetRegressor(TabularRegressor(), func=np.log1p)
    space = search_space(target)
    assert "regressor__lr" in space and set(space) <= set(target.get_params())


def test_non_skdl_estimator_is_rejected_clearly():
    with pytest.raises(TypeError, match="search_space needs a skdl estimator"):
        search_space(StandardScaler())


def test_returns_a_fresh_dict():
    clf = TabularClassifier()
    a = search_space(clf)
    a["lr"] = [1.0]
    assert search_space(clf)["lr"] is not a["lr"]


def test_zero_or_draws_zero_with_its_probability():
    draws = ZeroOr(__import__("scipy").stats.loguniform(1e-5, 1e-2), 0.3).rvs(
        size=4000, random_state=0
    )
    share = np.mean(draws == 0)
    assert 0.27 < share < 0.33
    nonzero = draws[draws > 0]
    assert nonzero.min() >= 1e-5 and nonzero.max() <= 1e-2
    assert isinstance(ZeroOr(__import__("scipy").stats.uniform()).rvs(), float)


def test_randomized_search_runs_over_the_space():
    X, y = load_iris(return_X_y=True)
    clf = TabularClassifier(max_epochs=3, random_state=0)
    search = RandomizedSearchCV(
        clf, search_space(clf), n_iter=3, cv=2, random_state=0, error_score="raise"
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 3
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_halving_search_uses_max_epochs_as_its_resource():
    X, y = load_iris(return_X_y=True)
    clf = TabularClassifier(early_stopping=False, random_state=0)
    search = HalvingRandomSearchCV(
        clf,
        search_space(clf),
        resource="max_epochs",
        min_resources=2,
        max_resources=8,
        factor=2,
        n_candidates=4,
        cv=2,
        random_state=0,
        error_score="raise",
    ).fit(X, y)
    budgets = sorted(set(search.cv_results_["param_max_epochs"]))
    assert budgets == [2, 4, 8]
    assert search.best_estimator_.n_epochs_ == search.best_params_["max_epochs"]
