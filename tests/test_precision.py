"""precision and compile on CPU (the CUDA paths are in tests with the cuda marker)."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer

from skdl import TabularClassifier


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _data():
    return load_breast_cancer(return_X_y=True)


def test_bf16_mixed_trains_on_cpu_and_predicts_float_probabilities():
    X, y = _data()
    params = dict(max_epochs=8, random_state=0)
    fp32 = TabularClassifier(**params).fit(X, y)
    bf16 = TabularClassifier(precision="bf16-mixed", **params).fit(X, y)
    assert np.isfinite(bf16.history_["train_loss"]).all()
    proba = bf16.predict_proba(X)
    assert proba.dtype == fp32.predict_proba(X).dtype
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    # bfloat16 keeps ~3 significant digits: close to float32, not identical.
    assert bf16.score(X, y) > 0.9
    assert abs(bf16.score(X, y) - fp32.score(X, y)) < 0.05
    assert not np.array_equal(proba, fp32.predict_proba(X))
    # The weights stay float32 under autocast.
    assert all(p.dtype == torch.float32 for p in bf16.net_.module_.parameters())
    restored = pickle.loads(pickle.dumps(bf16))
    np.testing.assert_array_equal(restored.predict_proba(X), proba)


def test_float16_mixed_needs_a_gpu():
    X, y = _data()
    clf = TabularClassifier(precision="16-mixed", device="cpu", max_epochs=1)
    with pytest.raises(ValueError, match="16-mixed' needs a CUDA GPU"):
        clf.fit(X, y)


def test_unknown_precision_is_rejected():
    X, y = _data()
    with pytest.raises(ValueError, match="precision"):
        TabularClassifier(precision="fp8", max_epochs=1).fit(X, y)


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("gcc") is None, reason="torch.compile needs a C compiler"
)
def test_compile_trains_the_same_network():
    X, y = _data()
    params = dict(hidden_layer_sizes=(16,), max_epochs=3, random_state=0)
    eager = TabularClassifier(**params).fit(X, y)
    compiled = TabularClassifier(compile=True, **params).fit(X, y)
    np.testing.assert_allclose(
        compiled.predict_proba(X), eager.predict_proba(X), atol=1e-4
    )
    # A pickled net stores the plain module and predicts uncompiled: equal up
    # to floating-point reordering.
    restored = pickle.loads(pickle.dumps(compiled))
    np.testing.assert_allclose(
        restored.predict_proba(X), compiled.predict_proba(X), atol=1e-5
    )
