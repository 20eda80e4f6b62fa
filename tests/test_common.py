"""scikit-learn's estimator checks over every skdl estimator.

The estimators run with fast settings (small nets, few epochs); the checks
are scikit-learn's own, unchanged. Expected failures are listed in
``EXPECTED_FAILED_CHECKS`` with the reason for each.

``ImageClassifier`` declares honestly that it takes images (3-D and 4-D
arrays or file paths), not 2-D tables, so scikit-learn would skip it. To
still run every check against its real code, ``ImagesAs2D`` presents each
check's 2-D data ``(n, d)`` as ``n`` images of 1 x d pixels and otherwise
changes nothing.
"""

import inspect

import numpy as np
import scipy.sparse as sp
from sklearn.utils.estimator_checks import parametrize_with_checks

import skdl
from skdl import ImageClassifier, TabularClassifier, TabularRegressor
from skdl._base import BaseDLEstimator


class ImagesAs2D(ImageClassifier):
    """ImageClassifier reading 2-D ``(n, d)`` arrays as 1 x d images (tests only)."""

    def _validate_X(self, X, *, reset):
        if not sp.issparse(X):
            a = np.asarray(X)
            if a.ndim == 2 and a.shape[1] and a.dtype.kind in "uifbO":
                X = a[:, None, None, :]
        return super()._validate_X(X, reset=reset)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.string = False
        return tags


FAST = dict(hidden_layer_sizes=(32,), max_epochs=30, lr=1e-2, random_state=0)


def public_classes(base: type) -> list[type]:
    """Every concrete subclass of ``base`` that skdl's public namespaces export.

    Discovered rather than listed (as imbalanced-learn's common tests do), so
    that a new estimator or augmenter is checked without editing this file.
    """
    found = {}
    for module in (skdl, skdl.tabular, skdl.vision, skdl.augment):
        for name in module.__all__:
            obj = getattr(module, name)
            if (
                isinstance(obj, type)
                and issubclass(obj, base)
                and obj is not base
                and not inspect.isabstract(obj)
                and not obj.__name__.startswith("_")
            ):
                found[obj.__qualname__] = obj
    return [found[name] for name in sorted(found)]


#: Fast settings by class; a new estimator runs with its defaults and few
#: epochs until it gets an entry here.
FAST_SETTINGS = {
    TabularClassifier: FAST,
    TabularRegressor: FAST,
    ImageClassifier: dict(max_epochs=5, random_state=0),
}

ESTIMATORS = [
    cls(**FAST_SETTINGS.get(cls, dict(max_epochs=5, random_state=0)))
    for cls in public_classes(BaseDLEstimator)
] + [ImagesAs2D(max_epochs=5, lr=1e-2, random_state=0)]

_SW_EQUIVALENCE = (
    "Minibatch training with shuffling and a validation split: repeating a "
    "sample changes the batches, the split and the stopping epoch, so weights "
    "of 2 and duplicated rows cannot give identical models (scikit-learn's own "
    "MLP passes this check only with the full-batch lbfgs solver)."
)
_FLOAT32 = (
    "Networks compute in float32: BLAS chooses different kernels for different "
    "batch shapes, so a prediction can differ in the last float32 bit "
    "(~1e-7 relative) depending on which rows are predicted with it; the check "
    "demands rtol=1e-7."
)
_SW_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": _SW_EQUIVALENCE,
    "check_sample_weight_equivalence_on_sparse_data": _SW_EQUIVALENCE,
}
_RESIZES = (
    "Images of another size are resized to the training size at predict time "
    "(documented behaviour), so predicting on data of a different width does "
    "not raise the 'wrong number of features' error this check expects."
)
_NO_N_FEATURES = (
    "Images have no fixed feature count (they are resized to the training "
    "size), so ImageClassifier defines image_shape_ and n_channels_ instead of "
    "n_features_in_."
)
EXPECTED_FAILED_CHECKS: dict = {
    "TabularClassifier": dict(_SW_CHECKS),
    "TabularRegressor": {
        **_SW_CHECKS,
        "check_methods_subset_invariance": _FLOAT32,
    },
    "ImagesAs2D": {
        "check_sample_weight_equivalence_on_dense_data": _SW_EQUIVALENCE,
        "check_classifiers_train": _RESIZES,
        "check_estimators_partial_fit_n_features": _RESIZES,
        "check_n_features_in": _NO_N_FEATURES,
        "check_n_features_in_after_fitting": _NO_N_FEATURES,
    },
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_discovery_finds_every_public_estimator():
    # The discovery itself is tested: it must see the three estimators.
    names = {cls.__name__ for cls in public_classes(BaseDLEstimator)}
    assert {"TabularClassifier", "TabularRegressor", "ImageClassifier"} <= names


def test_every_public_augmenter_is_checked():
    """The augmenters' checks (tests/augment) cover every public augmenter."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent / "augment" / "test_augment_sklearn_compat.py"
    spec = importlib.util.spec_from_file_location("_augment_checks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    checked = {type(aug) for aug in module.AUGMENTERS}
    public = set(public_classes(skdl.augment.BaseAugmenter))
    assert public, "no public augmenter found"
    assert public <= checked, sorted(c.__name__ for c in public - checked)
