"""Continuing a fitted model: ``warm_start=True`` and ``partial_fit``.

Both train the fitted networks further on the data they are given, keeping
the fitted data adapter (column encoding, scaling, image statistics,
classes, target standardization): new data is read as the model has read
data so far. Each call trains a new skorch net around the fitted network
and hands it the fitted optimizer's state (Adam's moment estimates, step
counts), so the optimizer continues rather than restarts.

``warm_start=True``: ``fit`` trains up to ``max_epochs`` more epochs, as a
fit does: with the validation split that ``fit`` draws (the same split for
the same data and an int ``random_state``), early stopping, the weight
average and the learning-rate schedule, which starts over for these epochs.
Every member of an ensemble continues. Parameters that shape the network
or the data adapter (``STRUCTURE``) cannot change between the fit and its
continuation. The network is trained as a copy, so a failure leaves the
fitted model as it was.

``partial_fit``: one pass over the given rows, as scikit-learn's MLP does:
no validation split and no early stopping, a constant ``lr`` (no schedule)
and no weight average. The first call fits the data adapter on its rows.
"""

from __future__ import annotations

import contextlib
import copy

import numpy as np
import pandas as pd
import torch
from sklearn.base import is_classifier
from sklearn.utils import column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, check_array
from sklearn_compat.base import _fit_context

from .._training.accelerate import train_net
from .._training.checkpoint import attach_checkpoint
from .._training.devices import check_precision, resolve_device
from .._training.parallel import counting_fit, share_threads
from .._validation.labels import check_target_rows
from .._validation.sample_weights import check_user_weights
from .divergence import warn_if_diverged
from .members import announce_member, draw_members
from .plan import resolve_plan

__all__ = ["ClassifierPartialFitMixin", "RegressorPartialFitMixin", "continue_fit"]


#: Parameters that shape the network or the data adapter, which a continued
#: fit keeps as fitted: changing them since the fit is refused.
STRUCTURE = (
    "hidden_layer_sizes",
    "activation",
    "dropout",
    "normalization",
    "scaling",
    "embedding_dim",
    "numeric_embedding",
    "backbone",
    "image_size",
    "weights",
    "freeze",
)


def remember_structure(estimator, params: dict) -> None:
    """Record the structural parameters a new network is built with."""
    estimator._built_with = {k: params[k] for k in STRUCTURE if k in params}


def _same(a, b) -> bool:
    if a is b:
        return True
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - e.g. arrays: not comparable, not the same
        return False


def _check_structure(estimator) -> None:
    built = getattr(estimator, "_built_with", {})
    params = estimator.get_params(deep=False)
    for name, value in built.items():
        if not _same(params[name], value):
            raise ValueError(
                f"{name}={params[name]!r} differs from {name}={value!r}, with which "
                f"the fitted network was built; a continued fit (warm_start, "
                f"partial_fit) trains that network as it is. Set {name} back, or "
                f"set warm_start=False to fit a new network."
            )


# ------------------------------------------------------------- the targets
def _known_classes(estimator, y, classes=None) -> np.ndarray:
    """Encode y by the fitted ``classes_``; unknown labels are an error."""
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    known = estimator.classes_
    if classes is not None and not np.array_equal(np.unique(classes), known):
        raise ValueError(
            f"classes={list(np.unique(classes))} differs from the classes of the "
            f"first partial_fit call, {known.tolist()}; they cannot change."
        )
    unknown = np.setdiff1d(np.unique(y), known)
    if len(unknown):
        raise ValueError(
            f"y has classes {unknown.tolist()[:10]} that the fitted model does not "
            f"know (its classes are {known.tolist()[:10]}); a continued fit keeps "
            f"the fitted output layer. Fit afresh (warm_start=False), or pass "
            f"every class in the first partial_fit call's classes."
        )
    return np.searchsorted(known, y)


def _standardized(estimator, y) -> np.ndarray:
    """Standardize y as the fitted regressor's target was."""
    y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
    y2 = y.reshape(len(y), -1)
    if y2.shape[1] != estimator.n_outputs_ or (y.ndim == 1) != estimator._y_was_1d:
        raise ValueError(
            f"y has {y2.shape[1]} output(s) in shape {y.shape}, but the fitted "
            f"model predicts {estimator.n_outputs_}; a continued fit keeps the "
            f"fitted output layer."
        )
    return (y2 - estimator.target_mean_) / estimator.target_scale_


def _first_classes(estimator, y, classes) -> np.ndarray:
    """Encode y by ``classes`` in a first ``partial_fit`` call."""
    if classes is None:
        raise ValueError(
            f"classes must be passed on the first call to partial_fit: "
            f"{type(estimator).__name__} builds its output layer for every class "
            f"the data will ever hold, e.g. classes=np.unique(y_all)."
        )
    classes = np.unique(np.asarray(classes))
    if len(classes) < 2:
        raise ValueError(
            f"classes must hold at least 2 classes, got {classes.tolist()}."
        )
    estimator.classes_ = classes
    return _known_classes(estimator, y)


# ------------------------------------------------------------ validation
def _validate(estimator, X, y, sample_weight, *, first: bool, classes=None):
    """Validated X, encoded y, loss weights and device for a continued fit."""
    estimator._check_training_params()
    X = estimator._validate_X(X, reset=first)
    n = _num_samples(X)
    check_target_rows(estimator, y, n)
    user_weights = check_user_weights(sample_weight, n)
    if is_classifier(estimator):
        if first:
            y_encoded = _first_classes(estimator, y, classes)
        else:
            y_encoded = _known_classes(estimator, y, classes)
        prior = getattr(estimator, "class_prior_", None)
        weights = estimator._sample_weight(user_weights, y_encoded)
        if not first:  # the prior of the data the model was first fitted on
            estimator.class_prior_ = prior
    else:
        if first:
            y_encoded = estimator._encode_target(y, user_weights)
        else:
            y_encoded = _standardized(estimator, y)
        weights = estimator._sample_weight(user_weights, y_encoded)
    device = resolve_device(estimator.device)
    check_precision(estimator.precision, device)
    if not first:
        _check_structure(estimator)
        fitted = len(estimator.nets_)
        wanted = estimator._n_members(n, fitted=fitted)
        if wanted != fitted:
            raise ValueError(
                f"n_ensemble={wanted}, but the fitted model has {fitted} "
                f"networks; a continued fit trains the fitted ones. Set "
                f"warm_start=False to fit a new ensemble."
            )
    return X, y_encoded, weights, device


def continue_fit(estimator, X, y, sample_weight=None, *, partial=False, classes=None):
    """Train ``estimator`` further: ``warm_start`` fits and ``partial_fit``.

    Parameters
    ----------
    estimator : BaseDLEstimator
        The estimator; fitted, except for a first ``partial_fit`` call.
    X, y, sample_weight :
        As for ``fit``.
    partial : bool, default=False
        One pass without validation (``partial_fit``) rather than up to
        ``max_epochs`` epochs as ``fit`` trains.
    classes : array-like or None, default=None
        All classes, for the first ``partial_fit`` call of a classifier.

    Returns
    -------
    estimator : BaseDLEstimator
        The estimator, trained further.
    """
    first = not estimator.__sklearn_is_fitted__()
    # Bad input leaves the estimator as it was (see BaseDLEstimator.fit).
    before = dict(estimator.__dict__)
    if first:
        for name in before:
            if name.endswith("_") and not name.startswith("_"):
                del estimator.__dict__[name]
    try:
        X, y_encoded, weights, device = _validate(
            estimator, X, y, sample_weight, first=first, classes=classes
        )
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(before)
        raise
    del before
    with share_threads(), counting_fit():
        estimator._warn_if_threads_share_the_generator()
        _train_more(estimator, X, y_encoded, weights, device, partial=partial)
    return estimator


# -------------------------------------------------------------- training
def _train_more(estimator, X, y_encoded, weights, device, *, partial) -> None:
    """Train every member further (or a first time, in a first partial_fit)."""
    n = _num_samples(X)
    previous = getattr(estimator, "nets_", None)
    members = draw_members(
        estimator,
        n,
        y_encoded,
        weights,
        fitted=None if previous is None else len(previous),
        partial=partial,
    )
    # A first partial_fit starts from ``weights`` as fit does.
    starting = None if previous is not None else estimator._resolve_weights()
    if previous is None:
        remember_structure(estimator, estimator.get_params(deep=False))
        estimator._fit_adapter(X, members[0][0], starting)
    y_tensor = estimator._target_tensor(y_encoded)
    w_tensor = None if weights is None else torch.as_tensor(weights).float()

    def subset(idx):
        dataset = estimator._make_dataset(
            X, y_tensor[idx], None if w_tensor is None else w_tensor[idx], index=idx
        )
        # Worker processes decoding image files stop when the call returns.
        return opened.enter_context(contextlib.closing(dataset))

    offset = 0 if previous is None else int(estimator.n_epochs_)
    fitted = []
    with contextlib.ExitStack() as opened:
        for i, (train_idx, valid_idx, seed) in enumerate(members):
            announce_member(estimator, i + 1, len(members))
            train_ds = subset(train_idx)
            valid_ds = None if valid_idx is None else subset(valid_idx)
            old = None if previous is None else previous[i]
            net, plan = _continue_net(
                estimator,
                old,
                device,
                train_ds,
                valid_ds,
                seed,
                offset,
                partial,
                starting,
            )
            if i == 0:  # the values users ask about, as this call resolved them
                estimator.patience_ = plan.patience
                estimator.batch_size_ = plan.batch_size
            fitted.append((net, valid_ds))
        if not partial or previous is None:
            estimator._calibrate(fitted)
    estimator.nets_ = [net for net, _ in fitted]
    estimator.net_ = estimator.nets_[0]
    _extend_history(estimator, offset, has_valid=members[0][1] is not None)
    warn_if_diverged(estimator, stacklevel=5)


def _continue_net(
    estimator, old, device, train_ds, valid_ds, seed, offset, partial, starting
):
    """Train one network further from ``old`` (None: a new network)."""
    # Fresh randomness for these epochs, reproducible from the seed.
    mixed = int(np.random.SeedSequence([seed, offset]).generate_state(1)[0])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(mixed)
        if old is None:
            module, callbacks, frozen_norm = estimator._prepare_module(
                estimator._n_outputs(), starting
            )
            batch_size = None
        else:
            # A copy, so that a failure on the way leaves the fitted model
            # as it was.
            module = copy.deepcopy(old.module_)
            callbacks = estimator._extra_callbacks()
            frozen_norm = list(getattr(old, "frozen_norm_", []))
            # With "auto", the batch size the network has trained with so
            # far, rather than one sized for this (maybe small) chunk.
            batch_size = int(old.batch_size) if estimator.batch_size == "auto" else None
        plan = resolve_plan(estimator, device, len(train_ds), batch_size=batch_size)
        if partial:  # one epoch per call: no schedule over epochs, no averaging
            plan = plan.replace(lr_schedule=None, ema_epochs=None)
        net, accelerator = estimator._build_training_net(
            plan, module, callbacks, frozen_norm, train_ds, valid_ds, mixed
        )
        if not partial:
            start = None if old is None else old.module_
            net = attach_checkpoint(estimator, net, seed, train_ds, valid_ds, start)

        def train() -> None:
            net.initialize()
            if old is not None:
                _carry_optimizer(old, net)
            net.partial_fit(train_ds, None, epochs=1 if partial else None)

        net = train_net(net, accelerator, train)
    return net, plan


def _carry_optimizer(old, net) -> None:
    """Give ``net``'s optimizer the state of ``old``'s, with its own settings.

    The state (moment estimates, step counts) is keyed by parameter
    position, the same in both as they share the module; the parameter
    groups (learning rates, weight decay) are the new net's, so a changed
    ``lr`` takes effect. An optimizer of another type starts afresh.
    """
    if type(old.optimizer_) is not type(net.optimizer_):
        return
    # A copy: loading shares the tensors, which the new steps would change.
    state = copy.deepcopy(old.optimizer_.state_dict())
    groups = net.optimizer_.state_dict()["param_groups"]
    if [len(g["params"]) for g in groups] != [
        len(g["params"]) for g in state["param_groups"]
    ]:
        return
    state["param_groups"] = groups
    net.optimizer_.load_state_dict(state)
    scaler, old_scaler = net.grad_scaler_, getattr(old, "grad_scaler_", None)
    if scaler is not None and old_scaler is not None:
        scaler.load_state_dict(old_scaler.state_dict())


def _extend_history(estimator, offset: int, *, has_valid: bool) -> None:
    """Append the new net's epochs to ``history_``, numbered on from ``offset``."""
    previous = getattr(estimator, "history_", None) if offset else None
    estimator._record_history(estimator.net_, has_valid=has_valid)
    if previous is None:
        return
    new = estimator.history_
    new.index = new.index + offset
    columns = list(previous.columns) + [
        c for c in new.columns if c not in previous.columns
    ]
    history = pd.concat([previous, new])
    history = history[[c for c in history.columns if c in columns]]
    estimator.history_ = history
    estimator.best_epoch_ = int(estimator.best_epoch_) + offset
    estimator.n_epochs_ = len(history)
    estimator.n_iter_ = estimator.n_epochs_


# ------------------------------------------------------------- the methods
class ClassifierPartialFitMixin:
    """``partial_fit`` for classifiers."""

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one pass over the given rows, continuing the fitted model.

        As in scikit-learn's MLP: the first call (on an unfitted estimator)
        fits the data adapter (column encoding and scaling, or image
        statistics) on its rows and needs ``classes``; every call trains
        one epoch on all its rows, without a validation split or early
        stopping, at a constant ``lr`` (no ``lr_schedule``) and without
        weight averaging (``ema_epochs``). After ``fit``, it continues the
        fitted model. ``history_`` and ``n_epochs_`` grow by one epoch per
        call. ``checkpoint`` is not used: save the estimator between calls.

        Parameters
        ----------
        X : array-like
            Training inputs, in the form of the first call.
        y : array-like of shape (n_samples,)
            Class labels, all of them in ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every class the data holds; required on the first call, and if
            given later, the same.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the loss.

        Returns
        -------
        self : object
            The estimator, trained one more epoch.
        """
        return continue_fit(self, X, y, sample_weight, partial=True, classes=classes)


class RegressorPartialFitMixin:
    """``partial_fit`` for regressors."""

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train one pass over the given rows, continuing the fitted model.

        As in scikit-learn's MLP: the first call (on an unfitted estimator)
        fits the data adapter (column encoding and scaling, and the
        target's standardization) on its rows; every call trains one epoch
        on all its rows, without a validation split or early stopping, at a
        constant ``lr`` (no ``lr_schedule``) and without weight averaging
        (``ema_epochs``). After ``fit``, it continues the fitted model.
        ``history_`` and ``n_epochs_`` grow by one epoch per call.
        ``checkpoint`` is not used: save the estimator between calls.

        Parameters
        ----------
        X : array-like
            Training inputs, in the form of the first call.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets, with the number of outputs of the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the loss.

        Returns
        -------
        self : object
            The estimator, trained one more epoch.
        """
        return continue_fit(self, X, y, sample_weight, partial=True)
