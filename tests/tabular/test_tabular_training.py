"""Training hyperparameters of the tabular estimators, each checked for effect.

Every knob is checked on what it builds or does (the module's layers, the
optimizer's groups, the history), not only on whether fit runs.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from torch import nn

from skdl import TabularClassifier, TabularRegressor

FAST = dict(hidden_layer_sizes=(8,), max_epochs=3, random_state=0)


def _clf_data(n=120, n_features=5, seed=0):
    return make_classification(n, n_features, random_state=seed)


def _overfitting_data():
    # Noisy labels and a wide net: the validation loss turns up after a few
    # epochs, so early stopping triggers well before max_epochs.
    return make_classification(200, 10, n_informative=3, flip_y=0.2, random_state=0)


def _hidden_modules(est, kind):
    return [m for m in est.net_.module_.blocks.modules() if isinstance(m, kind)]


def _train_batch_sizes(est):
    """Per epoch, the sizes of the training batches skorch recorded."""
    return [
        [b["train_batch_size"] for b in epoch if "train_batch_size" in b]
        for epoch in est.net_.history[:, "batches"]
    ]


def _valid_rows(est):
    """The validation dataset carved out inside fit."""
    return est.net_.train_split.keywords["valid_ds"]


# ---------------------------------------------------------------- activation
ACTIVATION_CLASSES = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "silu": nn.SiLU,
    "mish": nn.Mish,
    "softplus": nn.Softplus,
    "prelu": nn.PReLU,
    "identity": nn.Identity,
}
ALL_ACTIVATION_CLASSES = tuple(ACTIVATION_CLASSES.values())


class HalfReLU(nn.Module):
    """A user-defined activation (module level, so fitted models pickle)."""

    def forward(self, x):
        return 0.5 * torch.relu(x)


@pytest.mark.parametrize("name", sorted(ACTIVATION_CLASSES))
def test_activation_name_builds_that_activation_in_every_hidden_layer(name):
    X, y = _clf_data()
    clf = TabularClassifier((6, 5), activation=name, max_epochs=1, random_state=0)
    clf.fit(X, y)
    expected = ACTIVATION_CLASSES[name]
    for block in clf.net_.module_.blocks:
        found = [m for m in block if isinstance(m, ALL_ACTIVATION_CLASSES)]
        assert [type(m) for m in found] == [expected] or (
            # skdl's leaky_relu is a LeakyReLU subclass with slope 0.01.
            name == "leaky_relu" and isinstance(found[0], nn.LeakyReLU)
        ), found
        assert len(found) == 1
    # The output layer is not a hidden activation: the head is a plain Linear.
    assert type(clf.net_.module_.head) is nn.Linear


def test_leaky_relu_has_the_usual_negative_slope():
    X, y = _clf_data()
    clf = TabularClassifier(activation="leaky_relu", **FAST).fit(X, y)
    (act,) = _hidden_modules(clf, nn.LeakyReLU)
    assert act.negative_slope == pytest.approx(0.01)


def test_activation_module_subclass_is_used_in_each_hidden_layer():
    X, y = _clf_data()
    clf = TabularClassifier((6, 5), activation=HalfReLU, max_epochs=2, random_state=0)
    clf.fit(X, y)
    acts = _hidden_modules(clf, HalfReLU)
    assert len(acts) == 2 and acts[0] is not acts[1]
    assert not _hidden_modules(clf, ALL_ACTIVATION_CLASSES)
    relu = TabularClassifier((6, 5), max_epochs=2, random_state=0).fit(X, y)
    # Same seed, same initial weights: only the activation differs.
    assert not np.allclose(clf.predict_proba(X), relu.predict_proba(X))


@pytest.mark.parametrize(
    "sizes, widths",
    [((), []), ([], []), (8, [8]), ((7, 5), [7, 5]), (np.array([6, 4]), [6, 4])],
)
def test_hidden_layer_sizes_sets_the_hidden_layers(sizes, widths):
    X, y = _clf_data()
    clf = TabularClassifier(
        sizes, numeric_embedding=None, max_epochs=1, random_state=0
    ).fit(X, y)
    linears = [block[0] for block in clf.net_.module_.blocks]
    assert [layer.out_features for layer in linears] == widths
    head = clf.net_.module_.head
    assert head.in_features == (widths[-1] if widths else X.shape[1])


# ------------------------------------------------ dropout and normalization
def test_dropout_modules_present_only_when_dropout_positive():
    X, y = _clf_data()
    clf = TabularClassifier((6, 5), dropout=0.3, max_epochs=1, random_state=0)
    clf.fit(X, y)
    drops = _hidden_modules(clf, nn.Dropout)
    assert [d.p for d in drops] == [0.3, 0.3]
    clf.set_params(dropout=0.0).fit(X, y)
    assert not [m for m in clf.net_.module_.modules() if isinstance(m, nn.Dropout)]


def test_dropout_is_off_at_predict_time():
    X, y = _clf_data()
    clf = TabularClassifier(dropout=0.5, **{**FAST, "hidden_layer_sizes": (16,)})
    clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize(
    "normalization, kind", [("batch", nn.BatchNorm1d), ("layer", nn.LayerNorm)]
)
def test_normalization_sits_between_linear_and_activation(normalization, kind):
    X, y = _clf_data()
    clf = TabularClassifier(
        (6, 5), normalization=normalization, max_epochs=1, random_state=0
    ).fit(X, y)
    for block, width in zip(clf.net_.module_.blocks, (6, 5)):
        layers = list(block)
        assert isinstance(layers[0], nn.Linear) and layers[0].out_features == width
        assert isinstance(layers[1], kind)
        assert isinstance(layers[2], nn.ReLU)
    norms = _hidden_modules(clf, (nn.BatchNorm1d, nn.LayerNorm))
    assert len(norms) == 2 and all(isinstance(m, kind) for m in norms)


def test_no_normalization_layers_by_default():
    X, y = _clf_data()
    clf = TabularClassifier(**FAST).fit(X, y)
    kinds = (nn.BatchNorm1d, nn.LayerNorm)
    assert not [m for m in clf.net_.module_.modules() if isinstance(m, kinds)]


@pytest.mark.parametrize("n", [33, 1])
def test_batch_normalization_survives_a_one_row_batch(n):
    # 33 rows in batches of 16 leave a last batch of one row; a single-row
    # training set is the extreme case. BatchNorm1d alone raises on both.
    X, y = make_regression(40, 4, random_state=0)
    reg = TabularRegressor(
        (8,),
        normalization="batch",
        batch_size=16,
        early_stopping=False,
        max_epochs=2,
        random_state=0,
    ).fit(X[:n], y[:n])
    assert _train_batch_sizes(reg)[0][-1] == 1
    assert np.all(np.isfinite(reg.predict(X)))


# ------------------------------------------------------------ regularization
def test_weight_decay_applies_to_weights_only():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"a": rng.normal(size=80), "c": rng.choice(["x", "y", "z"], size=80)}
    )
    y = rng.integers(0, 2, size=80)
    clf = TabularClassifier(
        (6, 5), weight_decay=0.1, normalization="layer", max_epochs=1, random_state=0
    ).fit(X, y)
    decay_of = {}
    for group in clf.net_.optimizer_.param_groups:
        for p in group["params"]:
            assert id(p) not in decay_of, "a parameter sits in two groups"
            decay_of[id(p)] = group["weight_decay"]
    names = dict(clf.net_.module_.named_parameters())
    assert {id(p) for p in names.values()} == set(decay_of)
    for name, p in names.items():
        expected = 0.1 if p.ndim > 1 else 0.0
        assert decay_of[id(p)] == expected, name
    # Weights, embeddings, biases and norm parameters were all present.
    assert any(n.startswith("embeddings") for n in names)
    assert any(n.endswith("bias") for n in names)
    assert any(isinstance(m, nn.LayerNorm) for m in clf.net_.module_.modules())


def _squared_weight_norm(est):
    return sum(
        float((p.detach() ** 2).sum())
        for p in est.net_.module_.parameters()
        if p.ndim > 1
    )


def test_weight_decay_shrinks_the_weights():
    X, y = _clf_data()
    params = dict(
        hidden_layer_sizes=(16,),
        optimizer="adamw",
        lr=0.01,
        early_stopping=False,
        max_epochs=20,
        random_state=0,
    )
    plain = TabularClassifier(**params).fit(X, y)
    decayed = TabularClassifier(weight_decay=1.0, **params).fit(X, y)
    assert _squared_weight_norm(decayed) < 0.9 * _squared_weight_norm(plain)


def _l1_weight_norm(est):
    return sum(
        float(p.detach().abs().sum())
        for p in est.net_.module_.parameters()
        if p.ndim > 1
    )


def test_l1_shrinks_the_weights_l1_norm():
    X, y = _clf_data()
    params = dict(
        hidden_layer_sizes=(16,),
        lr=0.01,
        early_stopping=False,
        max_epochs=20,
        random_state=0,
    )
    plain = TabularClassifier(**params).fit(X, y)
    sparse = TabularClassifier(l1=0.01, **params).fit(X, y)
    assert _l1_weight_norm(sparse) < 0.8 * _l1_weight_norm(plain)


def test_l1_penalty_is_not_part_of_the_recorded_loss():
    # With a huge l1 the penalty (l1 * sum|W|, about 10 * 15 here) would dwarf
    # a cross-entropy, which for two classes is below ~1 at initialization.
    X, y = _clf_data()
    clf = TabularClassifier(
        (16,), l1=10.0, early_stopping=False, max_epochs=1, random_state=0
    ).fit(X, y)
    assert clf.history_["train_loss"].iloc[0] < 5.0


# ------------------------------------------------------------ early stopping
def test_history_has_one_row_per_epoch_with_validation_columns():
    X, y = _overfitting_data()
    clf = TabularClassifier(
        (32,), lr=0.02, max_epochs=100, patience=3, random_state=0
    ).fit(X, y)
    h = clf.history_
    assert isinstance(h, pd.DataFrame)
    assert list(h.columns) == [
        "train_loss",
        "valid_loss",
        "train_score",
        "valid_score",
        "lr",
        "duration",
    ]
    assert h.index.name == "epoch"
    assert list(h.index) == list(range(1, clf.n_epochs_ + 1))
    assert clf.n_epochs_ == len(clf.net_.history) < 100
    assert h.notna().all().all()
    assert (h["duration"] > 0).all()
    assert h["valid_score"].between(0, 1).all()
    assert 1 <= clf.best_epoch_ <= clf.n_epochs_


@pytest.mark.parametrize("fraction", [0.1, 0.25])
def test_validation_split_is_carved_out_of_the_training_data(fraction):
    X, y = _clf_data(n=150)
    clf = TabularClassifier(
        validation_fraction=fraction, patience=50, **{**FAST, "max_epochs": 2}
    ).fit(X, y)
    n_valid = int(np.ceil(fraction * 150))
    assert len(_valid_rows(clf)) == n_valid
    for sizes in _train_batch_sizes(clf):
        assert sum(sizes) == 150 - n_valid


def test_early_stopping_false_trains_max_epochs_on_all_rows():
    X, y = _overfitting_data()
    clf = TabularClassifier(
        (32,), lr=0.02, max_epochs=15, early_stopping=False, random_state=0
    ).fit(X, y)
    assert clf.n_epochs_ == 15 == clf.best_epoch_
    assert list(clf.history_.columns) == ["train_loss", "lr", "duration"]
    assert clf.net_.train_split is None
    assert all(sum(sizes) == len(X) for sizes in _train_batch_sizes(clf))


def _stopping_epoch(losses, tol, patience):
    """Where training must stop: ``patience`` epochs without a tol-improvement.

    Also returns the last epoch that improved by at least ``tol``, which is
    what skorch's own EarlyStopping would restore.
    """
    best, misses, tol_best = np.inf, 0, None
    for epoch, loss in enumerate(losses, start=1):
        if loss < best - tol:
            best, misses, tol_best = loss, 0, epoch
        else:
            misses += 1
        if misses == patience:
            return epoch, tol_best
    return len(losses), tol_best


@pytest.mark.parametrize("tol, patience", [(0.0, 3), (0.0, 5), (0.01, 3)])
def test_early_stopping_stops_by_patience_and_tol(tol, patience):
    X, y = _overfitting_data()
    clf = TabularClassifier(
        (32,),
        lr=0.02,
        max_epochs=100,
        patience=patience,
        tol=tol,
        validation_fraction=0.25,
        random_state=0,
    ).fit(X, y)
    losses = clf.history_["valid_loss"].to_numpy()
    stop, _ = _stopping_epoch(losses, tol, patience)
    assert clf.n_epochs_ == stop < 100
    assert clf.best_epoch_ == int(np.argmin(losses)) + 1


@pytest.mark.parametrize("threshold, expected", [(10_000, 10), (100, 5)])
def test_patience_auto_waits_less_on_large_training_splits(
    monkeypatch, threshold, expected
):
    import skdl._base

    # 200 rows: 150 train after the split; lower the row threshold to reach
    # the large-table branch without a large table.
    monkeypatch.setattr(skdl._base, "AUTO_PATIENCE_ROWS", threshold)
    X, y = _overfitting_data()
    clf = TabularClassifier(
        (32,), lr=0.02, max_epochs=100, validation_fraction=0.25, random_state=0
    ).fit(X, y)
    assert clf.patience == "auto"  # the parameter itself is left alone
    assert dict(clf.net_.callbacks_)["early_stopping"].patience == expected
    losses = clf.history_["valid_loss"].to_numpy()
    stop, _ = _stopping_epoch(losses, clf.tol, expected)
    assert clf.n_epochs_ == stop < 100


@pytest.mark.parametrize(
    "threshold, ema_epochs, expected",
    [(100, 1.0, 4), (100, None, 10), (10_000, 1.0, 10)],
)
def test_patience_auto_waits_4_epochs_on_averaged_weights_from_a_row_count(
    monkeypatch, threshold, ema_epochs, expected
):
    import skdl.tabular._base

    # 150 training rows: lower the threshold to reach the averaged branch.
    # Without the average, or below the threshold, the base rule (10 epochs
    # below 10,000 rows) holds.
    monkeypatch.setattr(skdl.tabular._base, "AVERAGED_PATIENCE_ROWS", threshold)
    X, y = _overfitting_data()
    clf = TabularClassifier(
        (32,),
        lr=0.02,
        max_epochs=100,
        validation_fraction=0.25,
        ema_epochs=ema_epochs,
        random_state=0,
    ).fit(X, y)
    assert dict(clf.net_.callbacks_)["early_stopping"].patience == expected
    losses = clf.history_["valid_loss"].to_numpy()
    stop, _ = _stopping_epoch(losses, clf.tol, expected)
    assert clf.n_epochs_ == stop < 100


@pytest.mark.parametrize("tol", [0.0, 0.01])
def test_early_stopping_restores_the_lowest_validation_loss_epoch(tol):
    X, y = _overfitting_data()
    params = dict(
        hidden_layer_sizes=(32,),
        numeric_embedding=None,  # the loss curve this case was built on
        label_smoothing=0.0,
        lr=0.02,
        patience=3,
        tol=tol,
        validation_fraction=0.25,
        random_state=0,
        n_ensemble=1,  # one network's history and stopping epoch
    )
    clf = TabularClassifier(max_epochs=100, **params).fit(X, y)
    losses = clf.history_["valid_loss"]
    best = clf.best_epoch_
    assert best == losses.idxmin() < clf.n_epochs_
    if tol > 0:
        # Make sure this case tells "lowest loss" from "last tol-improvement".
        assert _stopping_epoch(losses.to_numpy(), tol, 3)[1] != best

    # 1. The kept weights reproduce the best epoch's recorded validation loss
    #    and score on the very validation rows used inside fit.
    valid = _valid_rows(clf)
    logits = clf.net_.forward(valid)
    target = valid.y
    loss = nn.functional.binary_cross_entropy_with_logits(logits, target)
    assert float(loss) == pytest.approx(losses.min(), rel=1e-5)
    accuracy = float(((logits > 0).float() == target).float().mean())
    assert accuracy == pytest.approx(clf.history_.loc[best, "valid_score"])

    # 2. Checkpoint comparison: the same run cut at the best epoch (same seed,
    #    so the same split, initialization and shuffles) ends with the same
    #    weights, hence the same predictions.
    cut = TabularClassifier(max_epochs=best, **params).fit(X, y)
    assert cut.n_epochs_ == best
    np.testing.assert_allclose(
        cut.predict_proba(X), clf.predict_proba(X), rtol=0, atol=1e-6
    )
    later = TabularClassifier(max_epochs=clf.n_epochs_, **params)
    later.set_params(early_stopping=False)
    assert not np.allclose(
        later.fit(X, y).predict_proba(X), clf.predict_proba(X), atol=1e-4
    )


# ---------------------------------------- epochs, batches, lr and optimizer
def test_batch_size_sets_the_training_batches():
    X, y = _clf_data(n=100)
    clf = TabularClassifier(batch_size=16, early_stopping=False, **FAST).fit(X, y)
    for sizes in _train_batch_sizes(clf):
        assert sizes == [16] * 6 + [4]


@pytest.mark.parametrize("n, expected", [(200, 32), (1500, 50), (8000, 256)])
def test_auto_batch_size(n, expected):
    X, y = _clf_data(n=n)
    clf = TabularClassifier(
        (4,), early_stopping=False, max_epochs=1, random_state=0
    ).fit(X, y)
    assert max(_train_batch_sizes(clf)[0]) == expected


OPTIMIZER_CLASSES = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
}


class PlainSGD(torch.optim.SGD):
    """A user's own Optimizer subclass."""


@pytest.mark.parametrize(
    "optimizer, expected",
    [*OPTIMIZER_CLASSES.items(), (PlainSGD, PlainSGD), (torch.optim.Adamax,) * 2],
)
def test_optimizer_builds_that_optimizer_with_lr(optimizer, expected):
    X, y = _clf_data()
    clf = TabularClassifier(optimizer=optimizer, lr=0.005, **FAST).fit(X, y)
    assert type(clf.net_.optimizer_) is expected
    assert all(g["lr"] == 0.005 for g in clf.net_.optimizer_.param_groups)
    assert (clf.history_["lr"] == 0.005).all()


def test_sgd_uses_nesterov_momentum():
    X, y = _clf_data()
    clf = TabularClassifier(optimizer="sgd", **FAST).fit(X, y)
    group = clf.net_.optimizer_.param_groups[0]
    assert group["momentum"] == 0.9 and group["nesterov"] is True


def test_optimizer_actually_trains():
    X, y = _clf_data()
    for optimizer in ["sgd", PlainSGD]:
        clf = TabularClassifier(
            (16,),
            numeric_embedding=None,
            scaling="standard",
            optimizer=optimizer,
            lr=0.05,
            max_epochs=15,
            random_state=0,
        ).fit(X, y)
        loss = clf.history_["train_loss"]
        assert loss.iloc[-1] < 0.8 * loss.iloc[0]


def _lr_column(schedule, *, lr=0.01, max_epochs=9, **extra):
    X, y = _clf_data()
    params = dict(
        hidden_layer_sizes=(8,),
        lr=lr,
        lr_schedule=schedule,
        max_epochs=max_epochs,
        early_stopping=False,
        random_state=0,
    )
    clf = TabularClassifier(**{**params, **extra}).fit(X, y)
    return clf, clf.history_["lr"].to_numpy()


def test_no_schedule_keeps_lr_constant():
    _, lrs = _lr_column(None)
    assert np.all(lrs == 0.01)


def test_cosine_schedule_decays_to_zero():
    _, lrs = _lr_column("cosine")
    assert np.all(np.diff(lrs) < 0)
    assert lrs[0] < 0.01 and lrs[-1] == pytest.approx(0, abs=1e-8)


def test_cosine_warmup_schedule_warms_up_then_decays():
    clf, lrs = _lr_column("cosine_warmup", max_epochs=6, batch_size=8)
    per_batch = [
        b["event_lr"] for epoch in clf.net_.history[:, "batches"] for b in epoch
    ]
    peak = int(np.argmax(per_batch))
    assert 0 < peak < len(per_batch) // 4
    assert np.all(np.diff(per_batch[: peak + 1]) > 0)
    assert np.all(np.diff(per_batch[peak:]) <= 0)
    assert per_batch[peak] == pytest.approx(0.01)
    assert lrs[-1] == pytest.approx(0, abs=1e-8)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "adagrad"])
def test_onecycle_schedule_rises_to_lr_then_falls(optimizer):
    # adagrad has no momentum to cycle; the learning rate still cycles.
    _, lrs = _lr_column("onecycle", max_epochs=10, optimizer=optimizer)
    peak = int(np.argmax(lrs))
    assert 0 < peak < len(lrs) - 1
    assert np.all(np.diff(lrs[: peak + 1]) > 0)
    assert np.all(np.diff(lrs[peak:]) < 0)
    assert lrs.max() <= 0.01 * (1 + 1e-9)
    assert lrs[-1] < lrs[0]


def test_step_schedule_divides_by_ten_every_third_of_training():
    _, lrs = _lr_column("step", max_epochs=9)
    epochs = np.arange(9)
    np.testing.assert_allclose(lrs, 0.01 * 0.1 ** (epochs // 3))


def test_exponential_schedule_decays_geometrically():
    _, lrs = _lr_column("exponential", max_epochs=6)
    np.testing.assert_allclose(lrs, 0.01 * 0.95 ** np.arange(6))


def test_plateau_schedule_lowers_lr_when_the_loss_stalls():
    # A learning rate too small to move the loss (by the scheduler's relative
    # threshold of 1e-4): every epoch is a plateau.
    _, stalled = _lr_column("plateau", lr=1e-6, max_epochs=8, patience=3)
    ratios = stalled[1:] / stalled[:-1]
    assert np.all(np.isclose(ratios, 1) | np.isclose(ratios, 0.2))
    assert stalled[-1] <= 0.2**2 * 1e-6
    # A loss that keeps falling keeps the rate.
    _, learning = _lr_column("plateau", lr=0.01, max_epochs=4, patience=3)
    assert np.all(learning == 0.01)


def test_plateau_schedule_with_early_stopping_monitors_valid_loss():
    X, y = _clf_data()
    clf = TabularClassifier(
        (8,), lr=1e-6, lr_schedule="plateau", max_epochs=10, patience=6
    ).fit(X, y)
    lrs = clf.history_["lr"].to_numpy()
    assert lrs[-1] < 1e-6
    assert dict(clf.net_.callbacks_)["lr_scheduler"].monitor == "valid_loss"


# ------------------------------------------------------- seeds, device, logs
def test_same_seed_gives_identical_predictions_different_seed_differs():
    X, y = _clf_data()
    params = dict(hidden_layer_sizes=(8,), dropout=0.2, max_epochs=5)
    a = TabularClassifier(random_state=3, **params).fit(X, y).predict_proba(X)
    b = TabularClassifier(random_state=3, **params).fit(X, y).predict_proba(X)
    c = TabularClassifier(random_state=4, **params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_seeded_fit_leaves_global_random_state_alone():
    X, y = _clf_data()
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002
    TabularClassifier(dropout=0.2, **FAST).fit(X, y)
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_device_cpu_and_auto(device):
    X, y = _clf_data()
    clf = TabularClassifier(device=device, **FAST).fit(X, y)
    expected = "cuda" if device == "auto" and torch.cuda.is_available() else "cpu"
    assert clf.net_.device == expected
    assert {p.device.type for p in clf.net_.module_.parameters()} == {expected}


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is available")
def test_device_cuda_without_gpu_is_a_clear_error():
    X, y = _clf_data()
    with pytest.raises(ValueError, match="no CUDA GPU is available"):
        TabularClassifier(device="cuda", **FAST).fit(X, y)


@pytest.mark.cuda
def test_device_cuda_matches_cpu():
    X, y = _clf_data()
    gpu = TabularClassifier(device="cuda", **FAST).fit(X, y)
    cpu = TabularClassifier(device="cpu", **FAST).fit(X, y)
    assert next(gpu.net_.module_.parameters()).device.type == "cuda"
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=1e-4)


def test_verbose_zero_prints_nothing(capsys):
    X, y = _overfitting_data()
    TabularClassifier((32,), lr=0.02, patience=2, max_epochs=50, verbose=0).fit(X, y)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def _epoch_rows(out):
    return [line for line in out.splitlines() if re.match(r"\s*\d+/\d+\s", line)]


def test_verbose_one_prints_a_row_per_epoch(capsys):
    X, y = _clf_data()
    TabularClassifier(
        early_stopping=False, verbose=1, n_ensemble=1, **{**FAST, "max_epochs": 4}
    ).fit(X, y)
    out, err = capsys.readouterr()
    header = out.splitlines()[0]
    assert "epoch" in header and "train_loss" in header and "lr" in header
    assert [r.split()[0] for r in _epoch_rows(out)] == ["1/4", "2/4", "3/4", "4/4"]
    # The tqdm bar over the batches is only drawn on a terminal; captured
    # output is not one, and a log file should not fill with redrawn bars.
    assert "it/s]" not in err and "s/it]" not in err


def test_verbose_one_reports_validation_and_early_stopping(capsys):
    X, y = _overfitting_data()
    clf = TabularClassifier(
        (32,),
        lr=0.02,
        patience=3,
        max_epochs=100,
        verbose=1,
        random_state=0,
        n_ensemble=1,
    ).fit(X, y)
    out = capsys.readouterr().out
    assert "valid_loss" in out.splitlines()[0]
    # skorch prints an epoch's row after every other callback, so the epoch
    # whose callback stops training is not printed.
    assert len(_epoch_rows(out)) == clf.n_epochs_ - 1
    assert "Stopping since valid_loss has not improved" in out
    assert f"Restoring best model from epoch {clf.best_epoch_}" in out


def test_verbose_one_names_each_ensemble_member(capsys):
    X, y = _clf_data()
    TabularClassifier(
        early_stopping=False, verbose=1, n_ensemble=3, **{**FAST, "max_epochs": 2}
    ).fit(X, y)
    out = capsys.readouterr().out
    members = [r for r in out.splitlines() if r.startswith("ensemble member")]
    assert members == [f"ensemble member {i} of 3" for i in (1, 2, 3)]
    assert len(_epoch_rows(out)) == 3 * 2
