"""Ctrl-C during fit: a real SIGINT reaches the caller within about a second.

tests/_interrupt_child.py runs each scenario in one subprocess (importing
torch once); the test sends it SIGINT whenever it asks (mid-epoch, from a
callback) and reads what the caller of ``fit`` saw.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skorch.callbacks import Callback

CHILD = Path(__file__).with_name("_interrupt_child.py")
REPO = Path(__file__).resolve().parents[1]

#: Signal to caught, on a busy 2-core machine; a swallowed Ctrl-C never is.
LATENCY_LIMIT_S = 2.0

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="SIGINT to a child process is POSIX only"
)


SCENARIOS = [
    "early_stopping",
    "no_validation",
    "first_epoch",
    "cross_val_score",
    "grid_search_parallel",
    "image_workers",
]


def run_child(image_dir: Path, timeout: float = 300) -> dict:
    """Run every scenario in one child; SIGINT it whenever it asks.

    The signal goes to the child's whole process group, as a terminal's
    Ctrl-C does: joblib's and the DataLoader's worker processes get it too.

    Returns each scenario's RESULT, with the latency from the request for
    the signal to the caught ``KeyboardInterrupt`` and the number of fits
    that began.
    """
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(image_dir), *SCENARIOS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    results, asked, begins, lines = {}, None, 0, []
    try:
        for line in proc.stdout:
            line = line.strip()
            if not line:
                continue
            lines.append(line)
            if line.startswith("SIGNAL_ME"):
                asked = float(line.split()[1])
                os.killpg(proc.pid, signal.SIGINT)
            elif line.startswith("TRAIN_BEGIN"):
                begins += 1
            elif line.startswith("RESULT"):
                result = json.loads(line[len("RESULT ") :])
                caught = result.get("caught_at", float("inf"))
                result["latency"] = caught - (asked or float("-inf"))
                result["train_begins"] = begins
                results[result["scenario"]] = result
                asked, begins = None, 0
            if len(results) == len(SCENARIOS) or time.monotonic() > deadline:
                break
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    stderr = proc.stderr.read()
    assert len(results) == len(SCENARIOS), (
        f"child gave {sorted(results)}; stdout={lines[-5:]} stderr={stderr[-2000:]}"
    )
    return results


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(48):
        pixels = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i:02d}.png")
    return run_child(folder)


def test_ctrl_c_with_early_stopping_keeps_the_best_epoch_and_reraises(outcomes):
    result = outcomes["early_stopping"]
    assert result["outcome"] == "KeyboardInterrupt"
    assert result["latency"] < LATENCY_LIMIT_S
    # Interrupted in epoch 4: three whole epochs are kept, the partial one
    # is dropped, and the weights are those of the best of the three.
    assert result["fitted"]
    assert result["history_epochs"] == [1, 2, 3]
    assert result["history_complete"]
    assert result["net_history_len"] == 3
    assert result["best_epoch"] == result["stopper_best_epoch"]
    assert result["kept_best_weights"]
    assert result["accuracy"] > 0.8
    [warning] = [w for w in result["warnings"] if "interrupted" in w]
    assert "after 3 of 300 epochs" in warning
    assert f"model of epoch {result['best_epoch']}" in warning
    assert warning == result["message"]


def test_ctrl_c_without_validation_keeps_the_weights_at_the_interrupt(outcomes):
    result = outcomes["no_validation"]
    assert result["outcome"] == "KeyboardInterrupt"
    assert result["latency"] < LATENCY_LIMIT_S
    assert result["fitted"]
    assert result["history_epochs"] == [1, 2]
    assert result["history_complete"]
    assert result["accuracy"] > 0.8
    [warning] = [w for w in result["warnings"] if "interrupted" in w]
    assert "weights at the interrupt (after epoch 2, into epoch 3)" in warning


def test_ctrl_c_in_the_first_epoch_leaves_the_estimator_unfitted(outcomes):
    result = outcomes["first_epoch"]
    assert result["outcome"] == "KeyboardInterrupt"
    assert result["latency"] < LATENCY_LIMIT_S
    assert not result["fitted"]
    assert result["fitted_attributes"] == []
    [warning] = [w for w in result["warnings"] if "interrupted" in w]
    assert "after 0 of 300 epochs: the estimator is not fitted" in warning


def test_ctrl_c_stops_cross_val_score_as_a_whole(outcomes):
    result = outcomes["cross_val_score"]
    assert result["outcome"] == "KeyboardInterrupt"
    assert result["latency"] < LATENCY_LIMIT_S
    # The first fold was interrupted; no other fold started.
    assert result["train_begins"] == 1


def test_ctrl_c_stops_a_parallel_grid_search(outcomes):
    result = outcomes["grid_search_parallel"]
    assert result["outcome"] == "KeyboardInterrupt"
    assert result["latency"] < LATENCY_LIMIT_S
    assert not result["fitted"]


def test_ctrl_c_stops_image_worker_processes(outcomes):
    result = outcomes["image_workers"]
    assert result["outcome"] == "KeyboardInterrupt"
    assert result["latency"] < LATENCY_LIMIT_S
    assert result["children"] == 0
    assert result["fitted"]
    assert result["history_epochs"] == [1]


class _InterruptAt(Callback):
    """Raise KeyboardInterrupt (as Ctrl-C would) at the end of fit-wide epoch k."""

    def __init__(self, k, log):
        self.k = k
        self.log = log

    def on_epoch_end(self, net, **kwargs):
        self.log.append(1)
        if len(self.log) == self.k:
            raise KeyboardInterrupt


class _SharedLog(list):
    """Counts epochs across the per-fit copies of the callback."""

    def __deepcopy__(self, memo):
        return self


def test_ctrl_c_in_an_ensemble_keeps_the_members_trained_so_far():
    from sklearn.datasets import load_diabetes

    from skdl import TabularRegressor

    X, y = load_diabetes(return_X_y=True)
    # Members of 4 epochs each; the interrupt ends member 2's third epoch.
    reg = TabularRegressor(
        (8,),
        n_ensemble=3,
        max_epochs=4,
        random_state=0,
        callbacks=[_InterruptAt(7, _SharedLog())],
    )
    with pytest.warns(UserWarning, match="member 2 of 3") as record:
        with pytest.raises(KeyboardInterrupt) as info:
            reg.fit(X, y)
    assert len(reg.nets_) == 2
    assert [len(net.history) for net in reg.nets_] == [4, 3]
    assert "Its ensemble has 2 of 3 members." in str(info.value)
    assert str(record[0].message) == str(info.value)
    assert np.isfinite(reg.predict(X)).all()
