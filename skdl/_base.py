"""The estimator base shared by every skdl model, tabular and image alike.

A user's hyperparameters flow one way: estimator parameters -> validation at
``fit`` -> data adapter, module builder and callbacks -> one skorch net ->
fitted attributes. Subclasses supply the data adapter (``_validate_X``,
``_fit_adapter`` and ``_make_dataset``) and the module (``_build_module``); the
task mixins in :mod:`skdl._tasks` supply targets, loss and outputs. Everything
else, from the validation split to the history, lives here once.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import warnings
from abc import abstractmethod

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _num_samples
from sklearn_compat.base import _fit_context

from ._estimator.continued import continue_fit, remember_structure
from ._estimator.divergence import warn_if_diverged
from ._estimator.members import announce_member, draw_members
from ._estimator.plan import resolve_plan
from ._persistence.mixin import PersistMixin
from ._registry import ACTIVATIONS, LR_SCHEDULES, OPTIMIZERS
from ._search import _common_space
from ._training.accelerate import (
    active_accelerator,
    net_choice,
    train_net,
)
from ._training.callbacks import user_callbacks
from ._training.checkpoint import attach_checkpoint
from ._training.data import AugmentTransform
from ._training.devices import check_precision, resolve_device
from ._training.interrupt import FitInterrupted, close_datasets, keep_interrupted
from ._training.net import NetConfig, build_net, param_groups
from ._training.parallel import counting_fit, running_fits, share_threads
from ._training.snapshot import FitSnapshot, release_previous_fit
from ._validation.describe import brief_parameter_errors
from ._validation.labels import check_target_rows
from ._validation.sample_weights import check_user_weights
from .finetune._freeze import Unfreeze, freeze_parameters, frozen_norm_layers
from .finetune._transfer import (
    StartingWeights,
    TransferReport,
    fitted_source,
    load_state_dict,
    transfer_weights,
)

__all__ = ["BaseDLEstimator"]

_INT32_MAX = np.iinfo(np.int32).max

#: ``patience="auto"`` waits 5 epochs instead of 10 from this many training rows.
AUTO_PATIENCE_ROWS = 10_000

#: ``batch_size="auto"`` makes an epoch about this many batches, within 32 to
#: 256 rows each (see ``BaseDLEstimator._resolve_batch_size``).
AUTO_BATCHES_PER_EPOCH = 30


class BaseDLEstimator(PersistMixin, BaseEstimator):
    """Base class: validation, the training skeleton, history and tags.

    Not meant to be used directly; see :class:`skdl.TabularClassifier`,
    :class:`skdl.TabularRegressor` and :class:`skdl.ImageClassifier`.
    """

    _parameter_constraints: dict = {
        "activation": [StrOptions(set(ACTIVATIONS)), type],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "l1": [Interval(numbers.Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "patience": [
            Interval(numbers.Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [
            Interval(numbers.Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "lr_schedule": [StrOptions(LR_SCHEDULES.keys()), None],  # live: the registry
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "device": [str],
        "precision": [StrOptions({"32", "bf16-mixed", "16-mixed"})],
        "compile": ["boolean"],
        "verbose": ["verbose"],
        "augment": [HasMethods(["augment_batch"]), None],
        "weights": [None, str, os.PathLike, HasMethods(["predict"])],
        "freeze": [
            None,
            StrOptions({"backbone"}),
            Interval(numbers.Integral, 0, None, closed="left"),
            list,
            tuple,
        ],
        "unfreeze_at": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "backbone_lr_scale": [Interval(numbers.Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
        "checkpoint": [None, str, os.PathLike],
    }

    #: Name prefix of the transferable body inside the network, for state
    #: dicts saved from a bare backbone.
    _weights_prefix = ""

    def _validate_params(self):
        # scikit-learn's message would echo the whole repr of a bad value.
        with brief_parameter_errors(self):
            super()._validate_params()

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _validate_X(self, X, *, reset: bool):
        """Check raw X and return it in a form ``_make_dataset`` accepts.

        With ``reset=True`` (fit) this records ``n_features_in_`` and friends;
        with ``reset=False`` (predict) it checks X against them.
        """

    @abstractmethod
    def _fit_adapter(self, X, train_idx: np.ndarray, starting: StartingWeights) -> None:
        """Fit the data adapter (scalers, encoders, statistics) on train rows.

        ``starting`` is the fit's resolved ``weights`` (``_resolve_weights``):
        a transferred estimator brings its own adapter.
        """

    @abstractmethod
    def _make_dataset(self, X, y=None, sample_weight=None, *, index=None):
        """Wrap validated X (rows ``index``) in a dataset with ``batches``."""

    @abstractmethod
    def _build_module(self, n_outputs: int) -> torch.nn.Module:
        """Return the untrained network for the fitted data adapter."""

    def _training_transform(self):
        """Augmentation for training batches only, from the ``augment`` param.

        Calls down only: the task says how many classes the augmenter mixes
        (``_augment_n_classes``), the input kind adapts the transform to its
        batches (``_adapt_transform``).
        """
        augment = getattr(self, "augment", None)
        if augment is None:
            return None
        # Augmenters are stateless; validate now so that a bad value fails at
        # the start of fit rather than at the first training batch.
        if hasattr(augment, "_validate_params"):
            augment._validate_params()
        transform = AugmentTransform(augment, self._augment_n_classes())
        return self._adapt_transform(transform)

    def _adapt_transform(self, transform):
        """The augmentation transform as this input kind's batches need it."""
        return transform

    def _num_workers(self) -> int:
        return 0

    def _extra_callbacks(self) -> list:
        return []

    def _cache_features(self, module, train_ds, valid_ds, callbacks, device):
        """Datasets and callbacks to train on; images override this to
        train on a frozen backbone's features computed once."""
        return train_ds, valid_ds, callbacks

    def _resolve_weights(self) -> StartingWeights:
        """What ``weights`` means for this fit; decided once per fit.

        Here every value is a state dict to transfer (a path or a fitted
        estimator); the image estimators tell model libraries' weights apart.
        """
        return StartingWeights(state=self.weights)

    def _build_and_load(
        self, n_outputs: int, starting: StartingWeights
    ) -> tuple[torch.nn.Module, TransferReport | None]:
        """The network with its starting weights, and the transfer report."""
        module = self._build_module(n_outputs)
        return module, self._load_state(module, starting)

    def _load_state(
        self, module: torch.nn.Module, starting: StartingWeights
    ) -> TransferReport | None:
        """Copy the matching tensors of ``starting.state`` into module."""
        if starting.state is None:
            return None
        state, source = load_state_dict(starting.state)
        return self._transfer_state(module, state, source)

    def _transfer_state(self, module: torch.nn.Module, state: dict, source: str):
        """Copy the matching tensors of a loaded state dict into module."""
        return transfer_weights(module, state, source, prefix=self._weights_prefix)

    def _prepare_module(self, n_outputs: int, starting: StartingWeights):
        """Build the network, load weights and freeze; return it and callbacks."""
        module, report = self._build_and_load(n_outputs, starting)
        if report is not None or not hasattr(self, "transfer_report_"):
            self.transfer_report_ = report
        frozen = freeze_parameters(module, self.freeze)
        callbacks = self._extra_callbacks()
        if frozen and self.unfreeze_at is not None:
            callbacks.append(("unfreeze", Unfreeze(self.unfreeze_at, frozen)))
        self.frozen_parameters_ = frozen
        return module, callbacks, frozen_norm_layers(module)

    # --------------------------------------------------------------- fitting
    def _search_space(self) -> dict:
        """The ranges :func:`skdl.search_space` proposes for this estimator."""
        return _common_space()

    def _resolve_batch_size(self, n_train: int) -> int:
        """``batch_size="auto"``: ``min(256, max(32, n_train // 30))``.

        An epoch is then 30 optimizer steps from 960 to 7,680 training
        rows, where a tenth of the rows per batch gave 10. Chosen on suite C
        of the benchmark (24 tables of 336 to 3,901 training rows, 5 folds):
        +0.26 points on average, 15 tables better and 6 worse (Fishing and
        Yogurt +2.0 and +1.2 accuracy points). On suite A, where the other
        defaults were chosen, it changed little (-0.02 on average, 10
        better, 8 worse, credit-g -0.8), and on suite B, held out, it gained
        0.12 (18 better, 3 worse, vehicle -1.2), at 0.9 to 1.3 times the fit
        time: more steps an epoch also stop sooner (``docs/benchmarks.rst``).
        """
        if self.batch_size == "auto":
            return int(min(256, max(32, n_train // AUTO_BATCHES_PER_EPOCH)))
        return int(self.batch_size)

    def _resolve_patience(self, n_train: int) -> int:
        """``patience="auto"``: 10 epochs, or 5 from 10,000 training rows on.

        An epoch of a large table is many optimizer steps and its validation
        loss is averaged over many rows, so it is less noisy and a model
        that has not improved for 5 of them rarely does later: on 8 tables
        of 4,700 to 73,000 training rows, 5 instead of 10 gave the same test
        score on 7 (cpu_act: 0.15 points less R²) in 9 to 51% less time
        (``docs/benchmarks.rst``). On tables of 3,000 rows, 5 or 6 cost
        accuracy.
        """
        if self.patience == "auto":
            return 10 if n_train < AUTO_PATIENCE_ROWS else 5
        return int(self.patience)

    def _split(self, n: int, y_encoded: np.ndarray, rng) -> tuple:
        index = np.arange(n)
        if not self.early_stopping:
            return index, None
        n_valid = int(np.ceil(self.validation_fraction * n))
        if n >= 2 and n - n_valid < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} of {n} samples "
                f"leaves no training rows; use a smaller validation_fraction."
            )
        if n < 2:
            raise ValueError(
                f"early_stopping=True needs at least 2 samples to carve out a "
                f"validation split, got n_samples={n}. Pass more data or set "
                f"early_stopping=False."
            )
        stratify = self._stratify(y_encoded)
        if stratify is not None and n_valid < len(np.unique(stratify)):
            stratify = None
        train_idx, valid_idx = train_test_split(
            index,
            test_size=n_valid,
            stratify=stratify,
            random_state=rng.randint(_INT32_MAX),
        )
        return np.sort(train_idx), np.sort(valid_idx)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network.

        Parameters
        ----------
        X : array-like
            Training inputs (see the class docstring for accepted forms).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the loss. They multiply ``class_weight``.

        Returns
        -------
        self : object
            The fitted estimator.

        Notes
        -----
        An error raised before training starts (bad input, parameters, a
        ``weights`` file or ``freeze`` pattern, an image the backbone cannot
        take) leaves the estimator as it was, a previous model included. Once
        training starts the previous model is released, so that it
        does not hold (GPU) memory during the run; an error raised while
        training (diverged loss, an exception in a custom augmenter or
        activation) leaves the estimator unfitted.
        """
        if self.warm_start and self.__sklearn_is_fitted__():
            return continue_fit(self, X, y, sample_weight)
        # Bad input leaves the estimator as it was, a fitted model included:
        # any error raised before training starts (validation, the data
        # adapter, building the network, weights, freezing, the optimizer)
        # restores the snapshot. The previous networks are released when
        # training starts (see skdl._training.snapshot).
        with FitSnapshot(self):
            X, y_encoded, weights, device = self._validate_fit_input(
                X, y, sample_weight
            )
            # Each of several concurrent fits (GridSearchCV(n_jobs=k), Dask)
            # takes its share of the CPU cores; see skdl._training.parallel.
            with share_threads(), counting_fit():
                self._warn_if_threads_share_the_generator()
                self._train(X, y_encoded, weights, device)
        return self

    def _warn_if_threads_share_the_generator(self) -> None:
        """Say that random_state cannot hold for fits running in threads.

        Initialization, shuffling, dropout and augmentation draw from torch's
        global generator, one per process: fits running at once in threads
        (joblib's threading backend, Dask workers with several threads) draw
        from it in turns that vary from run to run. Dropout and augmentation
        take no generator argument, so no per-fit generator can replace it.
        """
        if self.random_state is not None and running_fits() > 1:
            warnings.warn(
                f"{running_fits()} skdl fits are running at once in threads of "
                f"one process, so random_state={self.random_state!r} does not "
                f"make them reproducible: they share torch's global random "
                f"generator. Run them in processes instead (joblib's default "
                f"'loky' backend, Dask workers with one thread each).",
                UserWarning,
                stacklevel=4,
            )

    def _validate_fit_input(self, X, y, sample_weight) -> tuple:
        """Validated X, encoded y, sample weights and the device, for fit."""
        self._check_training_params()
        X = self._validate_X(X, reset=True)
        n = _num_samples(X)
        check_target_rows(self, y, n)
        user_weights = check_user_weights(sample_weight, n)
        y_encoded = self._encode_target(y, user_weights)
        weights = self._sample_weight(user_weights, y_encoded)
        device = resolve_device(self.device)
        check_precision(self.precision, device)
        return X, y_encoded, weights, device

    def _check_training_params(self) -> None:
        """What the parameter constraints cannot express, checked at fit."""
        user_callbacks(getattr(self, "callbacks", None))
        for name in ("augment", "weights"):
            value = getattr(self, name, None)
            if isinstance(value, type):
                hint = (
                    "a fitted estimator"
                    if name == "weights"
                    else f"e.g. {value.__name__}()"
                )
                raise TypeError(
                    f"{name}={value.__name__} is a class; pass an instance ({hint})."
                )
        if fitted_source(self.weights) is self:
            raise ValueError(
                "weights is this estimator itself, whose network a new fit "
                "replaces. To continue from its weights, pass a copy "
                "(weights=copy.deepcopy(est)) or a file (est.save_weights(path), "
                "then weights=path)."
            )
        if self.freeze is True:  # False freezes nothing, like 0 or None
            raise ValueError(
                "freeze=True is ambiguous: pass freeze='backbone', the number "
                "of leading blocks to freeze, or parameter-name patterns."
            )
        if (
            self.freeze is not None
            and self.unfreeze_at is not None
            and self.unfreeze_at > self.max_epochs
        ):
            warnings.warn(
                f"unfreeze_at={self.unfreeze_at} is after the last epoch "
                f"(max_epochs={self.max_epochs}), so the frozen layers stay "
                f"frozen for the whole fit.",
                UserWarning,
                stacklevel=5,
            )

    def _n_members(
        self, n_samples: int, *, fitted: int | None = None, partial: bool = False
    ) -> int:
        """How many networks a fit on ``n_samples`` rows trains.

        ``fitted`` is the size of the ensemble a continued fit trains
        further, and ``partial`` says the fit is a ``partial_fit``.
        Ensembles override this.
        """
        return 1

    def _train(self, X, y_encoded, weights, device: str) -> None:
        """Split, fit the data adapter, build and fit the nets, record history.

        Every member of an ensemble gets its own validation split (so that
        together they learn from every row) and its own initialization and
        shuffling; they share the data adapter, fitted on the first member's
        training rows.
        """
        members = draw_members(self, _num_samples(X), y_encoded, weights)

        starting = self._resolve_weights()
        self._fit_adapter(X, members[0][0], starting)
        y_tensor = self._target_tensor(y_encoded)
        w_tensor = None if weights is None else torch.as_tensor(weights).float()

        def subset(idx):
            dataset = self._make_dataset(
                X,
                y_tensor[idx],
                None if w_tensor is None else w_tensor[idx],
                index=idx,
            )
            # Worker processes decoding image files stop when fit returns.
            return opened.enter_context(contextlib.closing(dataset))

        remember_structure(self, self.get_params(deep=False))
        fitted = []
        with contextlib.ExitStack() as opened:
            try:
                for i, (train_idx, valid_idx, seed) in enumerate(members, 1):
                    announce_member(self, i, len(members))
                    train_ds = subset(train_idx)
                    valid_ds = None if valid_idx is None else subset(valid_idx)
                    plan = resolve_plan(self, device, len(train_ds))
                    if not fitted:  # the values users ask about, as resolved
                        self.patience_ = plan.patience
                        self.batch_size_ = plan.batch_size
                    net = self._fit_net(plan, train_ds, valid_ds, seed, starting)
                    fitted.append((net, valid_ds))
            except FitInterrupted as stop:
                # Ctrl-C: keep what was trained, warn, and let the caller stop.
                close_datasets(train_ds, valid_ds)
                members = [*fitted, (stop.net, valid_ds)]
                stop.net = None  # the estimator keeps what it can use
                stop.args = (keep_interrupted(self, members, valid_ds is not None),)
                raise
            self._calibrate(fitted)
        self.nets_ = [net for net, _ in fitted]
        self.net_ = self.nets_[0]
        self._record_history(self.net_, has_valid=members[0][1] is not None)
        warn_if_diverged(self, stacklevel=4)  # _train, fit, _fit_context, user

    def _calibrate(self, members: list) -> None:
        """Post-process fitted ``(net, valid_dataset)`` pairs; see _tasks."""
        return None

    def _build_training_net(
        self, plan, module, callbacks, frozen_norm, train_ds, valid_ds, seed: int
    ):
        """The skorch net (not yet fitted) that trains ``module`` under ``plan``.

        Shared by ``fit`` and the continued fits of :mod:`skdl._estimator.continued`.
        Returns the net and the active accelerator (None without one).
        """
        config = NetConfig(
            criterion=self._criterion(),
            score=self._score_logits,
            train_dataset=train_ds,
            valid_dataset=valid_ds,
            transform=self._training_transform(),
            num_workers=self._num_workers(),
            extra_callbacks=callbacks,
            frozen_norm=frozen_norm,
        )
        accelerator = active_accelerator()
        net = build_net(
            plan,
            module,
            config,
            np.random.default_rng(seed),
            net_choice(accelerator, train_ds, plan.batch_size),
        )
        return net, accelerator

    def _fit_net(self, plan, train_ds, valid_ds, seed: int, starting: StartingWeights):
        """Build one skorch net for ``plan`` from ``seed``; fit it on ``train_ds``."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module, callbacks, frozen_norm = self._prepare_module(
                self._n_outputs(), starting
            )
            train_ds, valid_ds, callbacks = self._cache_features(
                module, train_ds, valid_ds, callbacks, plan.device
            )
            net, accelerator = self._build_training_net(
                plan, module, callbacks, frozen_norm, train_ds, valid_ds, seed
            )
            net = attach_checkpoint(self, net, seed, train_ds, valid_ds)

            def train() -> None:
                # The optimizer's parameter groups refuse a fully frozen
                # network; with that checked, the previous model goes
                # before the new one takes (GPU) memory (skdl._training.snapshot).
                param_groups(
                    module,
                    lr=plan.lr,
                    weight_decay=plan.weight_decay,
                    backbone_lr_scale=plan.backbone_lr_scale,
                )
                release_previous_fit()
                net.fit(train_ds, None)

            return train_net(net, accelerator, train)

    def _record_history(self, net, *, has_valid: bool) -> None:
        keys = [
            "epoch",
            "train_loss",
            "valid_loss",
            "train_score",
            "valid_score",
            "lr",
            "dur",
        ]
        rows = []
        for row in net.history:
            rows.append({k: row.get(k, np.nan) for k in keys})
        history = pd.DataFrame(rows, columns=keys)
        if not has_valid:
            history = history.drop(columns=["valid_loss", "train_score", "valid_score"])
        history = history.rename(columns={"dur": "duration"}).set_index("epoch")
        self.history_ = history
        self.n_epochs_ = len(history)
        self.n_iter_ = self.n_epochs_
        if has_valid:
            self.best_epoch_ = int(history["valid_loss"].idxmin())
        else:
            self.best_epoch_ = self.n_epochs_
        stopper = dict(net.callbacks_).get("early_stopping")
        self.stopped_early_ = bool(
            stopper is not None and stopper.misses_ >= stopper.patience
        )

    # ------------------------------------------------------------ prediction
    def _forward(self, X) -> np.ndarray:
        """Raw outputs (logits or standardized values) of every member for X.

        Returns an array of shape (n_members, n_samples, n_outputs).
        """
        dataset = self._make_dataset(self._validate_X(X, reset=False))
        # closing: worker processes decoding image files stop when we return.
        with share_threads(), contextlib.closing(dataset):
            members = [self._outputs(net, dataset)[0] for net in self.nets_]
        out = torch.stack(members).numpy()
        if not np.all(np.isfinite(out)):
            raise FloatingPointError(
                f"{type(self).__name__} produced non-finite outputs. The inputs "
                f"may hold values far outside the training range, or the "
                f"network's weights overflowed; refit with a lower `lr`."
            )
        return out

    @staticmethod
    def _outputs(net, dataset) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A fitted net's outputs on every batch of ``dataset``, and its targets.

        Evaluation mode, no gradients; float32 outputs on the CPU. The
        targets are None for a dataset without them (prediction).
        """
        net._set_training(False)
        outputs, targets = [], []
        with torch.inference_mode():
            for xb, yb in net.get_iterator(dataset, training=False):
                outputs.append(net.infer(xb).float().cpu())
                if yb is not None:
                    targets.append(torch.as_tensor(yb).cpu())
        return torch.cat(outputs), torch.cat(targets) if targets else None

    def __sklearn_is_fitted__(self) -> bool:
        # A fit that failed part-way (e.g. training diverged) may leave the
        # data adapter but no network: that is not a fitted model.
        return hasattr(self, "net_")

    def __sklearn_clone__(self):
        """Clone, keeping a fitted estimator given as ``weights`` as it is.

        scikit-learn's ``clone`` (and so ``GridSearchCV``) clones
        estimator-valued parameters too, which would turn ``weights=<fitted
        estimator>`` into an unfitted copy with nothing to transfer. The
        source network is only read, so the clone shares it.
        """
        if self.weights is None or isinstance(self.weights, str | os.PathLike):
            return super().__sklearn_clone__()
        params = {
            name: value if name == "weights" else clone(value, safe=False)
            for name, value in self.get_params(deep=False).items()
        }
        return type(self)(**params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
