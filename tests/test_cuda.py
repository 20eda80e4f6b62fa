"""GPU training end to end: devices, mixed precision, compile, CPU loading.

Tests marked ``cuda`` skip without a CUDA GPU (see ``conftest.py``); CI has
none. The one unmarked test checks, on a CPU-only machine, what happens
when a net that says it lives on ``"cuda"`` is unpickled there.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from torch import nn

from skdl import ImageClassifier, TabularClassifier, TabularRegressor

TAB = dict(hidden_layer_sizes=(32,), max_epochs=10, random_state=0)
IMG = dict(max_epochs=2, batch_size=32, random_state=0, early_stopping=False)


def _frame():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :6].copy()
    X["band"] = pd.cut(X.iloc[:, 0], 3, labels=["low", "mid", "high"]).astype(str)
    X.iloc[::7, 1] = np.nan
    return X, y.to_numpy()


def _digits_images(n=400):
    X, y = load_digits(return_X_y=True)
    images = (X[:n].reshape(-1, 8, 8) * 16).clip(0, 255).astype(np.uint8)
    return images, y[:n]


def _on(est, kind):
    return {p.device.type for p in est.net_.module_.parameters()} == {kind}


class _DtypeProbe:
    """Collects the output dtypes of a module's Linear and Conv layers."""

    def __init__(self, module):
        self.dtypes = set()
        for m in module.modules():
            if isinstance(m, nn.Linear | nn.Conv2d):
                m.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        self.dtypes.add(output.dtype)


class ProbedTabular(TabularClassifier):
    def _build_module(self, n_outputs):
        module = super()._build_module(n_outputs)
        self.probe_ = _DtypeProbe(module)
        return module


class ProbedImage(ImageClassifier):
    def _build_module(self, n_outputs):
        module = super()._build_module(n_outputs)
        self.probe_ = _DtypeProbe(module)
        return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CPU-only host")
def test_net_saved_on_cuda_loads_on_cpu_quietly():
    X, y = load_breast_cancer(return_X_y=True)
    clf = TabularClassifier(device="cpu", **TAB).fit(X, y)
    expected = clf.predict_proba(X)
    clf.net_.device = "cuda"  # as a GPU-trained net records it
    blob = pickle.dumps(clf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = pickle.loads(blob)
    assert loaded.net_.device == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)


@pytest.mark.cuda
def test_tabular_end_to_end_on_cuda():
    X, y = _frame()
    clf = TabularClassifier(device="cuda", **TAB).fit(X, y)
    cpu = TabularClassifier(device="cpu", **TAB).fit(X, y)
    assert clf.net_.device == "cuda" and _on(clf, "cuda")
    assert clf.score(X, y) > 0.85
    assert abs(clf.score(X, y) - cpu.score(X, y)) < 0.03
    reg = TabularRegressor(device="cuda", **TAB).fit(X, X.iloc[:, 0].fillna(0))
    assert _on(reg, "cuda") and reg.predict(X).dtype == np.float64


@pytest.mark.cuda
def test_image_end_to_end_on_cuda():
    X, y = _digits_images()
    clf = ImageClassifier(device="cuda", **IMG).fit(X, y)
    assert _on(clf, "cuda")
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    resnet = ImageClassifier("resnet18", image_size=32, device="cuda", **IMG)
    assert _on(resnet.fit(X[:128], y[:128]), "cuda")


@pytest.mark.cuda
@pytest.mark.parametrize(
    "precision, dtype", [("bf16-mixed", torch.bfloat16), ("16-mixed", torch.float16)]
)
def test_mixed_precision_on_cuda(precision, dtype):
    if dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16 support")
    X, y = load_breast_cancer(return_X_y=True)
    fp32 = TabularClassifier(device="cuda", **TAB).fit(X, y)
    mixed = ProbedTabular(device="cuda", precision=precision, **TAB).fit(X, y)
    assert mixed.probe_.dtypes == {dtype}
    assert {p.dtype for p in mixed.net_.module_.parameters()} == {torch.float32}
    assert np.isfinite(mixed.history_["train_loss"]).all()
    assert abs(mixed.score(X, y) - fp32.score(X, y)) < 0.03
    scaler = mixed.net_.grad_scaler_
    if precision == "16-mixed":
        assert scaler.state_dict()["_growth_tracker"] > 0  # the scaler stepped
    else:
        assert scaler is None
    assert pickle.loads(pickle.dumps(mixed)).score(X, y) == mixed.score(X, y)


@pytest.mark.cuda
def test_image_mixed_precision_on_cuda():
    X, y = _digits_images()
    clf = ProbedImage(device="cuda", precision="16-mixed", **IMG).fit(X, y)
    assert torch.float16 in clf.probe_.dtypes
    assert clf.predict_proba(X).dtype == np.float64


@pytest.mark.cuda
@pytest.mark.slow
def test_compile_on_cuda():
    X, y = load_breast_cancer(return_X_y=True)
    params = dict(TAB, early_stopping=False, max_epochs=3, batch_size=64)
    eager = TabularClassifier(device="cuda", **params).fit(X, y)
    compiled = TabularClassifier(device="cuda", compile=True, **params).fit(X, y)
    np.testing.assert_allclose(
        compiled.predict_proba(X), eager.predict_proba(X), atol=1e-3
    )


LOAD_ON_CPU = """
import pickle, sys, warnings
import numpy as np, torch
assert not torch.cuda.is_available()
warnings.simplefilter("error")
with open(sys.argv[1], "rb") as fh:
    clf, X = pickle.load(fh)
assert clf.net_.device == "cpu"
assert {p.device.type for p in clf.net_.module_.parameters()} == {"cpu"}
np.save(sys.argv[2], clf.predict_proba(X))
"""


@pytest.mark.cuda
@pytest.mark.parametrize("kind", ["tabular", "image-16-mixed"])
def test_gpu_model_predicts_on_a_cpu_only_machine(tmp_path, kind):
    if kind == "tabular":
        X, y = _frame()
        clf = TabularClassifier(device="cuda", **TAB).fit(X, y)
    else:
        X, y = _digits_images()
        clf = ImageClassifier(device="cuda", precision="16-mixed", **IMG).fit(X, y)
    model, out = tmp_path / "model.pkl", tmp_path / "proba.npy"
    model.write_bytes(pickle.dumps((clf, X)))
    env = {"CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", LOAD_ON_CPU, str(model), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # float16 autocast is GPU-only: the CPU predicts in float32.
    atol = 1e-4 if kind == "tabular" else 2e-2
    np.testing.assert_allclose(np.load(out), clf.predict_proba(X), atol=atol)
