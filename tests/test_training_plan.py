"""The seam from hyperparameters to the skorch net (issue 18).

Every fit resolves its hyperparameters once into a TrainingPlan; the engine
builds the net from the plan alone; schedules are a registry that says what
they monitor; the resolved values users ask about are fitted attributes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification, make_regression

import skdl._base
from skdl import ImageClassifier, TabularClassifier, TabularRegressor
from skdl._registry import LR_SCHEDULES, Schedule, schedule_spec
from skdl._training.data import TensorDataset
from skdl._training.net import NetConfig, build_net
from skdl._training.plan import TrainingPlan

SKDL = Path(skdl._base.__file__).resolve().parent
FAST = dict(hidden_layer_sizes=(8,), max_epochs=3, random_state=0)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(200, 5, random_state=0)
    return X.astype(np.float32), y


def _stopper(est):
    return dict(est.net_.callbacks_)["early_stopping"]


@pytest.mark.parametrize("rows_threshold", [10_000, 100])
def test_resolved_patience_and_batch_size_are_fitted_attributes(
    data, monkeypatch, rows_threshold
):
    monkeypatch.setattr(skdl._base, "AUTO_PATIENCE_ROWS", rows_threshold)
    X, y = data
    clf = TabularClassifier(**FAST).fit(X, y)
    assert clf.patience == "auto" and clf.batch_size == "auto"
    # What the net actually trained with, not a recomputation.
    assert clf.patience_ == _stopper(clf).patience
    assert clf.batch_size_ == clf.net_.batch_size
    assert isinstance(clf.patience_, int) and isinstance(clf.batch_size_, int)
    assert clf.patience_ == (10 if rows_threshold == 10_000 else 5)


def test_explicit_values_pass_through_the_plan(data):
    X, y = data
    clf = TabularClassifier(patience=3, batch_size=17, **FAST).fit(X, y)
    assert (clf.patience_, clf.batch_size_) == (3, 17)
    assert _stopper(clf).patience == 3 and clf.net_.batch_size == 17


def test_partial_fit_and_warm_start_set_the_resolved_values(data):
    X, y = data
    reg = TabularRegressor(patience=4, batch_size=9, **FAST)
    Xr, yr = make_regression(60, 3, random_state=0)
    reg.partial_fit(Xr.astype(np.float32), yr)
    assert (reg.patience_, reg.batch_size_) == (4, 9)
    clf = TabularClassifier(warm_start=True, batch_size=11, **FAST).fit(X, y)
    clf.set_params(batch_size=13).fit(X, y)
    assert clf.batch_size_ == clf.net_.batch_size == 13


def test_image_classifier_has_the_resolved_values():
    rng = np.random.default_rng(0)
    X = rng.random((40, 1, 8, 8), dtype=np.float32)
    y = np.arange(40) % 2
    clf = ImageClassifier(max_epochs=1, batch_size=8, random_state=0).fit(X, y)
    assert clf.batch_size_ == clf.net_.batch_size == 8
    assert clf.patience_ == _stopper(clf).patience


def _plan(**changes) -> TrainingPlan:
    plan = TrainingPlan(
        device="cpu",
        precision="32",
        compile=False,
        optimizer=torch.optim.SGD,
        lr=0.05,
        weight_decay=0.0,
        l1=0.0,
        backbone_lr_scale=1.0,
        max_epochs=2,
        batch_size=8,
        patience=1,
        tol=0.0,
        lr_schedule=None,
        ema_epochs=None,
        callbacks=None,
        verbose=0,
    )
    return plan.replace(**changes)


def test_build_net_needs_only_the_plan():
    X = torch.randn(32, 3)
    y = torch.randn(32, 1)
    config = NetConfig(
        criterion=torch.nn.MSELoss(reduction="none"),
        score=lambda logits, y: 0.0,
        train_dataset=TensorDataset({"input": X}, y),
        valid_dataset=None,
    )
    plan = _plan(lr_schedule="plateau", max_epochs=3, batch_size=5)
    net = build_net(plan, torch.nn.Linear(3, 1), config, np.random.default_rng(0))
    assert net.batch_size == 5 and net.max_epochs == 3 and net.lr == 0.05
    assert net.optimizer is torch.optim.SGD
    net.fit(config.train_dataset, None)
    assert len(net.history) == 3
    # Without a validation split the loss-watching schedule watches training.
    assert dict(net.callbacks_)["lr_scheduler"].monitor == "train_loss"
    with pytest.raises(dataclasses_error()):
        plan.lr = 1.0  # frozen: resolved once


def dataclasses_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


@pytest.mark.parametrize("name", sorted(LR_SCHEDULES))
def test_every_schedule_in_the_registry_builds(name):
    spec = schedule_spec(
        name, lr=0.1, max_epochs=6, steps_per_epoch=4, patience=6, has_valid=True
    )
    assert spec["step_every"] == LR_SCHEDULES[name].step_every
    assert ("monitor" in spec) == LR_SCHEDULES[name].monitors_loss


def test_a_registered_schedule_is_accepted_by_the_estimators(data, monkeypatch):
    X, y = data
    halve = Schedule(
        lambda lr, max_epochs, total_steps, patience: {
            "policy": torch.optim.lr_scheduler.StepLR,
            "step_size": 1,
            "gamma": 0.5,
        },
        "epoch",
    )
    monkeypatch.setitem(LR_SCHEDULES, "halve", halve)
    clf = TabularClassifier(lr=0.01, lr_schedule="halve", **FAST).fit(X, y)
    assert clf.history_["lr"].tolist() == pytest.approx([0.01, 0.005, 0.0025])


def _imports(path: Path, *, top_level: bool = False) -> set[str]:
    """Absolute names of the skdl modules (and libraries) ``path`` imports."""
    package = ["skdl", *path.relative_to(SKDL).parts[:-1]]
    names = set()
    tree = ast.parse(path.read_text())
    for node in tree.body if top_level else ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            names.add(".".join([*base, *(node.module or "").split(".")]).strip("."))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_engine_imports_nothing_above_it():
    upward = (
        "skdl._base",
        "skdl._estimator",
        "skdl._tasks",
        "skdl.tabular",
        "skdl.vision",
        "skdl.diagnostics",
        "skdl.augment",
    )
    files = sorted((SKDL / "_training").glob("*.py"))
    assert len(files) >= 10
    for path in files:
        bad = [m for m in _imports(path) if m.startswith(upward)]
        assert not bad, f"{path.name} imports {bad}"
    # The accelerator-aware net is chosen by build_net's caller.
    assert not any("accelerate" in m for m in _imports(SKDL / "_training/net.py"))


def test_finetune_imports_no_model_library():
    for path in sorted((SKDL / "finetune").glob("*.py")):
        imported = _imports(path)
        assert not any(m.startswith(("torchvision", "timm")) for m in imported), path
        # skdl.finetune serves torchvision_weights lazily, on first use.
        on_import = _imports(path, top_level=True)
        assert not any(m.startswith("skdl.vision") for m in on_import), path


def test_the_datasets_provide_the_batch_protocol():
    from skdl._training.data import BatchDataset
    from skdl.vision._files import FileImageDataset

    assert issubclass(TensorDataset, BatchDataset)
    assert issubclass(FileImageDataset, BatchDataset)
    assert not issubclass(torch.utils.data.TensorDataset, BatchDataset)
