"""scikit-learn's estimator checks over every skdl estimator.

The estimators run with fast settings (small nets, few epochs); the checks
are scikit-learn's own, unchanged. Expected failures are listed in
``EXPECTED_FAILED_CHECKS`` with the reason for each.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skdl import TabularClassifier, TabularRegressor

FAST = dict(hidden_layer_sizes=(32,), max_epochs=30, lr=1e-2, random_state=0)

ESTIMATORS = [TabularClassifier(**FAST), TabularRegressor(**FAST)]

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
EXPECTED_FAILED_CHECKS: dict = {
    "TabularClassifier": dict(_SW_CHECKS),
    "TabularRegressor": {
        **_SW_CHECKS,
        "check_methods_subset_invariance": _FLOAT32,
    },
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
