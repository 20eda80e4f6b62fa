"""Training through Hugging Face Accelerate (skdl.use_accelerator), on CPU.

One process with ``Accelerator(cpu=True)``, and two processes of distributed
data-parallel training over the gloo backend on the loopback interface,
started with ``torch.distributed.run`` as ``accelerate launch`` would. No
GPU is involved: multi-GPU runs use the same code path with the NCCL
backend, and are not verified here.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import socket
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer

from skdl import TabularClassifier, TrainingDivergedError, use_accelerator
from skdl._training.net import SkdlNet

accelerate = pytest.importorskip(
    "accelerate", reason='needs accelerate: pip install "skdl[accelerate]"'
)

FAST = dict(hidden_layer_sizes=(16,), max_epochs=5, random_state=0, device="cpu")
WORKER = Path(__file__).with_name("_accelerate_worker.py")


@pytest.fixture(scope="module")
def data():
    return load_breast_cancer(return_X_y=True)


@pytest.fixture
def accelerator():
    from accelerate.state import AcceleratorState

    yield accelerate.Accelerator(cpu=True)
    # Accelerate keeps one state per process; leave none behind.
    AcceleratorState._reset_state(reset_partial_state=True)


def test_one_process_trains_like_a_plain_fit(data, accelerator):
    X, y = data
    plain = TabularClassifier(lr_schedule="onecycle", **FAST).fit(X, y)
    with use_accelerator(accelerator):
        accelerated = TabularClassifier(lr_schedule="onecycle", **FAST).fit(X, y)
    np.testing.assert_allclose(
        accelerated.predict_proba(X), plain.predict_proba(X), atol=1e-6
    )
    # After fit the estimator is free of the accelerator and pickles.
    assert type(accelerated.net_) is SkdlNet
    assert not hasattr(accelerated.net_, "accelerator")
    loaded = pickle.loads(pickle.dumps(accelerated))
    np.testing.assert_array_equal(loaded.predict(X), accelerated.predict(X))


def test_finished_fits_are_released_by_the_accelerator(data, accelerator):
    # Accelerate lists every prepared model and optimizer; a search inside
    # one use_accelerator block must not keep every fitted network alive.
    X, y = data
    own = accelerator.prepare(torch.nn.Linear(2, 2))  # the user's, stays
    refs = []
    with use_accelerator(accelerator):
        for seed in range(3):
            clf = TabularClassifier(**{**FAST, "random_state": seed}).fit(X, y)
            refs.append(weakref.ref(clf.net_.module_))
            del clf
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
    assert accelerator._models == [own] and accelerator._optimizers == []
    # A fit that fails is released too.
    diverging = {**FAST, "lr": 1e30, "optimizer": "sgd", "label_smoothing": 0.0}
    with use_accelerator(accelerator), pytest.raises(TrainingDivergedError):
        TabularClassifier(**diverging).fit(X * 1e3, y)
    assert accelerator._models == [own] and accelerator._optimizers == []


def test_context_is_scoped(data, accelerator):
    with use_accelerator(accelerator) as active:
        assert active is accelerator
    X, y = data
    clf = TabularClassifier(**FAST).fit(X, y)
    assert type(clf.net_) is SkdlNet


def test_precision_belongs_to_the_accelerator(data, accelerator):
    X, y = data
    with use_accelerator(accelerator), pytest.raises(ValueError, match="Accelerator"):
        TabularClassifier(precision="bf16-mixed", **FAST).fit(X, y)


def test_rejects_what_is_not_an_accelerator():
    with pytest.raises(TypeError, match="accelerate.Accelerator"):
        with use_accelerator("cuda"):
            pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_processes_train_one_model_on_shards(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        str(WORKER),
    ]
    env = {**os.environ, "OUT": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{k}.json").read_text()) for k in (0, 1)]
    first, second = ranks
    assert first["distributed_type"] == "DistributedType.MULTI_CPU"
    assert first["n_processes"] == 2
    # Each process trained on its half of the training rows every epoch...
    assert set(first["rows_per_epoch"]) == {first["n_train"] // 2}
    # ...yet both hold the same model, stopped at the same epoch, with the
    # same (process-averaged) losses: gradients were all-reduced.
    for key in ("weights_sha1", "n_epochs", "train_loss", "score"):
        assert first[key] == second[key], key
    assert first["n_epochs"] < 30  # early stopping fired on both, together
    assert first["score"] > 0.9
    assert first["unpickled_score"] == first["score"]
