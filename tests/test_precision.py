"""precision and compile, checked on CPU.

``"bf16-mixed"`` runs on CPUs too, so it is trained and compared with float32
here. ``"16-mixed"`` needs a GPU for its autocast; its gradient scaler, which
skdl drives itself, is exercised on CPU through the net directly. The GPU
paths are in ``tests/test_cuda.py``.
"""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from torch import nn

from skdl import TabularClassifier, TrainingDivergedError
from skdl._training.data import BatchIterator, TensorDataset
from skdl._training.net import SkdlNet

FAST = dict(hidden_layer_sizes=(32,), max_epochs=15, random_state=0, device="cpu")


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def data():
    return load_breast_cancer(return_X_y=True)


def _linear_output_dtypes(est):
    """Record the output dtype of every Linear layer in later forwards."""
    seen = []
    for m in est.net_.module_.modules():
        if isinstance(m, nn.Linear):
            m.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    return seen


class LinearProbe(TabularClassifier):
    """Records the dtypes the Linear layers computed in during training."""

    def _build_module(self, n_outputs):
        module = super()._build_module(n_outputs)
        self.train_dtypes_ = []
        for m in module.modules():
            if isinstance(m, nn.Linear):
                m.register_forward_hook(
                    lambda mod, inp, out: self.train_dtypes_.append(out.dtype)
                )
        return module


def test_bf16_trains_in_bfloat16_and_predicts_float32(data):
    X, y = data
    clf = LinearProbe(precision="bf16-mixed", **FAST).fit(X, y)
    assert set(clf.train_dtypes_) == {torch.bfloat16}
    assert {p.dtype for p in clf.net_.module_.parameters()} == {torch.float32}
    losses = clf.history_["train_loss"].to_numpy()
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0] / 2
    dataset = clf._make_dataset(clf._validate_X(X[:5], reset=False))
    xb, _ = next(iter(clf.net_.get_iterator(dataset, training=False)))
    with torch.no_grad():
        assert clf.net_.infer(xb).dtype == torch.float32
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_bf16_close_to_float32(data):
    X, y = data
    fp32 = TabularClassifier(**FAST).fit(X, y)
    bf16 = TabularClassifier(precision="bf16-mixed", **FAST).fit(X, y)
    assert abs(fp32.score(X, y) - bf16.score(X, y)) < 0.03
    # The same weights predicted under bf16 autocast instead of float32.
    seen = _linear_output_dtypes(fp32)
    reference = fp32.predict_proba(X)
    fp32.net_.precision = "bf16-mixed"
    approx = fp32.predict_proba(X)
    assert torch.bfloat16 in seen
    np.testing.assert_allclose(approx, reference, atol=0.05)
    assert (approx.argmax(1) == reference.argmax(1)).mean() > 0.98


def test_bf16_with_l1_and_divergence_check(data):
    X, y = data
    clf = TabularClassifier(precision="bf16-mixed", l1=1e-3, **FAST).fit(X, y)
    assert clf.score(X, y) > 0.85
    # Unscaled 1e30 inputs overflow the periodic embedding's phases to inf.
    diverging = dict(lr=1e6, scaling=None, numeric_embedding="periodic")
    with pytest.raises(TrainingDivergedError, match="diverged"):
        TabularClassifier(precision="bf16-mixed", **diverging, **FAST).fit(X * 1e30, y)


def test_bf16_pickles(data):
    X, y = data
    clf = TabularClassifier(precision="bf16-mixed", **FAST).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_fp16_mixed_on_cpu_is_a_clear_error(data):
    X, y = data
    with pytest.raises(ValueError, match="'16-mixed' needs a CUDA GPU"):
        TabularClassifier(precision="16-mixed", **FAST).fit(X, y)


def test_unknown_precision_is_rejected(data):
    X, y = data
    with pytest.raises(ValueError, match="precision"):
        TabularClassifier(precision="64", **FAST).fit(X, y)


class _Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(30, 2)

    def forward(self, x):
        return self.layer(x)


def _bare_net(X, y, precision):
    torch.manual_seed(0)
    dataset = TensorDataset(
        {"x": torch.as_tensor(X).float()}, torch.as_tensor(y).long()
    )
    net = SkdlNet(
        _Linear(),
        criterion=nn.CrossEntropyLoss(reduction="none"),
        optimizer=torch.optim.SGD,
        lr=0.05,
        max_epochs=3,
        batch_size=64,
        iterator_train=BatchIterator,
        iterator_valid=BatchIterator,
        train_split=None,
        precision=precision,
        device="cpu",
    )
    return net.fit(dataset, None), dataset


def test_grad_scaler_steps_match_unscaled_training(data):
    # On CPU a "16-mixed" net has no float16 autocast but does run the
    # gradient scaler: scaling by 2**16 and unscaling are exact, so its
    # updates equal plain float32 training's, step for step.
    X, y = data
    X = (X - X.mean(0)) / X.std(0)
    plain, dataset = _bare_net(X, y, "32")
    scaled, _ = _bare_net(X, y, "16-mixed")
    n_steps = 3 * dataset.n_batches(64)
    state = scaled.grad_scaler_.state_dict()
    assert state["scale"] == 2.0**16 and state["_growth_tracker"] == n_steps
    for a, b in zip(plain.module_.parameters(), scaled.module_.parameters()):
        torch.testing.assert_close(a, b)
    # The scaler stays behind when the net is pickled.
    assert pickle.loads(pickle.dumps(scaled)).grad_scaler_ is None


def _has_c_compiler() -> bool:
    return any(shutil.which(cc) for cc in ("cc", "gcc", "clang"))


@pytest.mark.slow
@pytest.mark.skipif(
    not _has_c_compiler(), reason="torch.compile on CPU needs a C compiler"
)
def test_compile_trains_like_eager_and_pickles(data):
    X, y = data
    params = dict(FAST, max_epochs=3, early_stopping=False, batch_size=64)
    eager = TabularClassifier(**params).fit(X, y)
    compiled = TabularClassifier(compile=True, **params).fit(X, y)
    module = compiled.net_.module_
    assert module._compiled_call_impl is not None  # nn.Module.compile in place
    assert list(module.state_dict()) == list(eager.net_.module_.state_dict())
    np.testing.assert_allclose(
        compiled.predict_proba(X), eager.predict_proba(X), atol=1e-4
    )
    loaded = pickle.loads(pickle.dumps(compiled))
    np.testing.assert_allclose(
        loaded.predict_proba(X), compiled.predict_proba(X), atol=1e-5
    )
