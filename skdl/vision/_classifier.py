"""ImageClassifier: CNNs and torchvision models as a scikit-learn classifier."""

from __future__ import annotations

import contextlib
import numbers
import os

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._base import BaseDLEstimator
from .._registry import make_activation
from .._search import _image_space
from .._tasks import ClassifierTaskMixin
from .._training.accelerate import active_accelerator
from .._training.data import TensorDataset
from ..finetune._transfer import StartingWeights, TransferReport
from ._arrays import INFER, ImagePrepare, as_image_tensor
from ._features import cache_frozen_features
from ._files import FileImageDataset, check_training_files, resolve_paths
from ._network import (
    adopt_state_statistics,
    build_image_network,
    resolve_image_size,
    resolve_weights,
    statistics_after_transfer,
    weights_bring_statistics,
)
from ._normalization import image_statistics, preset_statistics

__all__ = ["ImageClassifier"]

#: Images sampled to estimate the per-channel normalization statistics.
N_STAT_IMAGES = 2000


class ImageClassifier(ClassifierMixin, ClassifierTaskMixin, BaseDLEstimator):
    """Image classifier with deep learning's knobs as hyperparameters.

    Takes images as numpy arrays or as file paths (decoded lazily, batch by
    batch, in worker processes). Inputs are scaled to [0, 1] and normalized
    per channel inside the network with statistics learned in ``fit``.
    Training runs on skorch; the fitted skorch net is ``net_``.

    Pixel values are read as in torchvision: integer images hold [0, 255]
    and float images [0, 1], except that training floats going above 1 are
    read as [0, 255] (``X.astype("float32")`` of 8-bit images); each range
    tolerates the overshoot of resampling (up to 50% of the range at the
    extremes, as bicubic upsampling rings past sharp edges).
    Prediction reads float images by the training convention
    (``float_scale_``) and refuses floats outside it, so an image is never
    read differently because of the other images in the call.
    Training floats outside both ranges (images standardized beforehand) are
    used as given; :class:`~skdl.augment.ImageAugmenter` then refuses them,
    as its crops, rotations and colour jitter work on pixels.

    Parameters
    ----------
    backbone : str, torch.nn.Module or subclass of torch.nn.Module, \
default="cnn"
        ``"cnn"`` is a compact CNN (three blocks of a 3x3 convolution, batch
        norm, activation and max-pooling, then global average pooling and a
        linear head) that ``activation`` and ``dropout`` act on throughout.
        Any torchvision classification model name (``"resnet18"``,
        ``"mobilenet_v3_small"``, ``"efficientnet_b0"``, ...; see
        :func:`skdl.vision.classification_models`) is built through
        torchvision's model registry and its last linear layer (SqueezeNet's
        final 1x1 convolution) replaced by a head sized for the task. A module
        instance or class is used likewise (its last linear layer is replaced
        unless it already fits the task); a class must build without
        arguments (else pass an instance). ``"timm:<name>"`` builds a model
        of the timm library (optional dependency, ``pip install skdl[timm]``)
        through ``timm.create_model``, e.g. ``"timm:efficientnet_lite0"``;
        with ``image_size=None`` it then takes the input size of the model's
        pretrained configuration.
        For torchvision and custom backbones, ``dropout`` is applied right
        before the new head, and an ``activation`` other than ``"relu"``
        replaces every ``nn.ReLU`` of a torchvision backbone (other
        activation types, such as MobileNet's hardswish, are kept).
    image_size : int, (int, int) or None, default=None
        Resize every image to this size (height, width). Needed when images
        come in mixed sizes, as files often do. None keeps the training size;
        prediction inputs of another size are resized to it.
    augment : augmenter or None, default=None
        An augmenter from :mod:`skdl.augment`, e.g.
        ``ImageAugmenter(rotation=15)``, applied on the fly to training
        batches only, with fresh randomness every epoch. Its parameters are
        tunable as ``augment__<name>``.
    path_column : str or None, default=None
        Column holding the file paths when X is a DataFrame; None picks the
        only column, or one named ``path``, ``filepath``, ``file``,
        ``filename``, ``image`` or ``image_path``.
    num_workers : int or "auto", default="auto"
        Worker processes decoding image files; ``"auto"`` uses up to 4 (as
        many as there are CPUs) for file input and 0 for arrays. They live
        for one call: ``fit`` and ``predict`` start them and stop them
        before they return (within ``fit``, they persist across epochs).
    weights : str, path-like, fitted estimator or None, default=None
        Starting weights: a torchvision weights name (``"DEFAULT"``,
        ``"IMAGENET1K_V1"``, ...) for torchvision backbones, loaded through
        torchvision's weights API and the torch hub cache (``TORCH_HOME``);
        a path to a saved state dict (of a whole skdl network, as written by
        :meth:`save_weights`, or of the bare backbone); or a fitted skdl
        ``ImageClassifier``, whose trained body (and input normalization) is
        transferred. For a ``"timm:..."`` backbone, ``"DEFAULT"`` (or a
        pretrained tag such as ``"ra_in1k"``) loads timm's pretrained weights
        through timm's own loading code and cache (``HF_HOME``), and a path
        to a local weights file is loaded by timm too (its
        ``pretrained_cfg_overlay``; works offline). For a module instance or
        class, pass the path of its saved state dict
        (``torch.save(module.state_dict(), path)``). The head is always
        rebuilt for this task's classes; tensors whose shapes do not fit are
        reported with a :class:`skdl.finetune.WeightsMismatchWarning` and in
        ``transfer_report_``.
    input_normalization : {"auto", "imagenet", "fit"} or (mean, std), \
default="auto"
        Per-channel statistics the network normalizes its [0, 1] input with.
        ``"auto"``: those that come with pretrained weights (torchvision
        weights names, timm pretrained weights; a fitted skdl network
        transferred by ``weights`` brings its own), else those of the
        training images. ``"imagenet"``: ImageNet's mean
        ``(0.485, 0.456, 0.406)`` and std ``(0.229, 0.224, 0.225)``, the
        usual choice for a custom module with ImageNet-pretrained weights,
        whose statistics skdl cannot know. ``"fit"``: the training images'
        statistics. A pair ``(mean, std)`` of floats or per-channel
        sequences, e.g. ``(0.5, 0.5)`` for weights trained on [-1, 1]
        input. With anything but ``"fit"`` (and ``"auto"`` without such
        statistics), the training images are not read to compute them.
    freeze : None, "backbone", int or list of str, default=None
        What to freeze: nothing; everything but the head; the first ``k``
        blocks (default CNN: its convolutional blocks; ResNets: the stem,
        then ``layer1`` to ``layer4``; models with a ``features`` sequence:
        its children); or parameters whose names match glob patterns, e.g.
        ``["backbone.layer1.*"]``. Frozen parameters get no updates and no
        weight decay, and batch-norm layers whose parameters are all frozen
        keep their running statistics (evaluation mode). With everything
        but the head frozen, the whole backbone runs in evaluation mode (no
        dropout or stochastic depth in it) and, unless ``augment`` changes the
        training images, its outputs are computed once per image and the
        epochs train the head on them (much faster; the same model as
        running the backbone every epoch). Cached features may take up to
        1 GiB; beyond that the backbone runs every epoch.
    unfreeze_at : int or None, default=None
        Epoch (1-based) at which frozen parameters thaw, for two-stage
        fine-tuning; they then train at ``lr * backbone_lr_scale`` (and
        training switches from cached features to the whole network). Ignored
        when nothing is frozen.
    backbone_lr_scale : float, default=1.0
        Learning rate of everything but the head, relative to ``lr``
        (discriminative learning rates, e.g. 0.1).
    activation : str or subclass of torch.nn.Module, default="relu"
        Hidden activation (see :class:`skdl.TabularClassifier`).
    dropout : float, default=0.0
        Dropout before the head (and, halved, spatial dropout after each
        block of the default CNN).
    weight_decay : float, default=0.0
        L2 penalty on weights (not biases or normalization parameters).
    l1 : float, default=0.0
        L1 penalty on weights, added to the training loss.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` (stratified), score it every epoch,
        stop after ``patience`` epochs without improvement of the validation
        loss by ``tol``, and restore the best epoch's weights.
    patience : int or "auto", default=5
        Epochs without improvement before early stopping. ``"auto"`` waits
        10 epochs, or 5 from 10,000 training rows (the tabular estimators'
        rule without weight averaging).
    validation_fraction : float, default=0.1
        Share of the training data held out for validation.
    tol : float, default=1e-4
        Minimum decrease of the validation loss that counts as improvement.
    max_epochs : int, default=20
        Maximum number of passes over the training data. With the default
        cosine schedule it is also the length of the learning-rate decay.
    batch_size : int or "auto", default="auto"
        Images per batch; ``"auto"`` is ``min(128, max(16, n_train // 10))``.
    lr : float, default=1e-3
        Learning rate.
    optimizer : str or subclass of torch.optim.Optimizer, default="adam"
        See :class:`skdl.TabularClassifier`.
    lr_schedule : str or None, default="cosine"
        See :class:`skdl.TabularClassifier`. The default anneals the learning
        rate to zero over ``max_epochs``: on Fashion-MNIST it lifts the
        compact CNN above 91% test accuracy, where a constant rate stalls
        below it (``benchmarks/image_accuracy.py``). Set ``None`` for a
        constant rate.
    callbacks : list of skorch.callbacks.Callback or None, default=None
        Extra skorch callbacks, e.g. to log each epoch to an experiment
        tracker; an entry may also be a ``(name, callback)`` pair. Every fit
        trains with deep copies, so the list itself is never changed and
        clones (as in ``GridSearchCV``) share nothing; the copies a fit used
        are in ``net_.callbacks_``. They run after skdl's own callbacks
        (history, early stopping, schedule), so they see each epoch's
        complete history row. See :ref:`long_runs`.
    label_smoothing : float in [0, 1), default=0.0
        Mixes the one-hot training targets with the uniform distribution,
        ``(1 - label_smoothing) * onehot + label_smoothing / n_classes``,
        which discourages over-confident logits (Szegedy et al., 2016; RealMLP
        uses 0.1). The validation loss that early stopping watches uses the
        same smoothed targets.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, keyed by the original labels.
    random_state : int, RandomState instance or None, default=None
        Seeds initialization, the split, shuffling, dropout and augmentation.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    precision : {"32", "bf16-mixed", "16-mixed"}, default="32"
        Numeric precision of training and inference. ``"32"`` is plain
        float32. ``"bf16-mixed"`` and ``"16-mixed"`` run the forward pass
        under :func:`torch.autocast` (bfloat16 or float16; ``"16-mixed"``
        also scales the loss with a gradient scaler and needs a GPU), while
        the weights stay float32. See :doc:`/user_guide/scaling`.
    compile : bool, default=False
        Compile the network with :func:`torch.compile` before training. It
        pays off on GPUs and long fits; the first epoch includes the
        compilation time.
    verbose : int, default=0
        0 is silent; 1 prints a table row per epoch.
    warm_start : bool, default=False
        When the estimator is fitted, ``fit`` continues the fitted networks
        and their optimizer state for up to ``max_epochs`` more epochs on the
        data it is given, keeping the fitted data adapter (column encoding
        and scaling, image statistics), classes and target scaling; data
        with other columns, classes or outputs is an error. Early stopping
        holds out a validation split of the new data, drawn as ``fit`` draws
        it (for the same data and an int ``random_state``, the same rows as
        before); ``lr_schedule`` and the weight average start over for these
        epochs; every ensemble member continues; what is frozen stays
        frozen. Parameters that shape the network or the data adapter
        (layer sizes, activation, dropout, scaling, embeddings, backbone,
        image size, weights, freeze) cannot change since the fit; training
        parameters such as ``lr`` take their current values. A failure
        leaves the fitted model as it was. ``history_`` and ``n_epochs_``
        keep growing. See :doc:`/user_guide/long_runs`.
    checkpoint : str, path-like or None, default=None
        Directory in which ``fit`` writes, after every epoch, the last and
        the best (lowest validation loss) training state of each network:
        weights, optimizer, schedule, weight average, early-stopping
        counters, history, random generators. Files are replaced atomically,
        so a crash never leaves a broken one. A fit with the same
        parameters, data and int ``random_state`` that finds its file
        resumes from it and ends with the model and history of an
        uninterrupted fit; files are named by a fingerprint of the
        parameters and data, so other configurations, folds and the clones
        of a grid search never share one. ``partial_fit`` writes none. See
        :doc:`/user_guide/long_runs`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, as given.
    class_prior_ : ndarray of shape (n_classes,)
        Share of each class in the training rows, weighted as the loss
        weights them (``sample_weight`` times ``class_weight``).
    input_kind_ : {"array", "files"}
        Whether fit saw in-memory images or file paths.
    n_channels_ : int
        Channels of the training images (files: 1 if all were grayscale,
        else 3, after conversion).
    image_shape_ : tuple of int
        (height, width) the network is trained on.
    float_scale_ : float or None
        What float images are divided by to reach [0, 1]: 255 when the
        training images were floats in [0, 255], 1 otherwise, or None when
        they were floats that are not pixel values, used as given.
    mean_, std_ : ndarray of shape (`n_channels_`,) or (3,)
        Per-channel normalization statistics in [0, 1] units, as
        ``input_normalization`` chose them: the training images', those the
        pretrained weights expect, ImageNet's or the given pair. They are
        also stored in the network's buffers.
    transfer_report_ : TransferReport or None
        What ``weights`` loaded (None without weights).
    frozen_parameters_ : list of str
        Names of the parameters ``freeze`` froze.
    feature_cache_ : bool
        Whether the head trained on features of the frozen backbone computed
        once (see ``freeze``).
    history_ : pandas.DataFrame
        One row per epoch: ``train_loss``; when validating, ``valid_loss``,
        ``train_score`` (accuracy over the epoch's training batches, with
        dropout and augmentation on) and ``valid_score`` (accuracy); ``lr``,
        ``duration``.
    best_epoch_, n_epochs_, n_iter_ : int
        Epoch whose weights were kept; epochs run.
    patience_ : int
        The early-stopping patience the last training call used
        (``patience="auto"`` resolved for its number of training rows).
    batch_size_ : int
        The batch size the last training call used (``batch_size="auto"``
        resolved for its number of training rows).
    net_ : skorch.NeuralNet
        The fitted skorch net.
    nets_ : list of skorch.NeuralNet
        ``[net_]``; the tabular estimators' ``n_ensemble`` fills it with
        several.
    n_ensemble_ : int
        ``len(nets_)``: 1.

    See Also
    --------
    skdl.augment.ImageAugmenter : Augmentation transformer for images.
    skdl.TabularClassifier : The tabular counterpart.

    Examples
    --------
    >>> import numpy as np
    >>> from skdl.vision import ImageClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 255, size=(40, 12, 12), dtype=np.uint8)
    >>> y = np.repeat(["dark", "light"], 20)
    >>> X[y == "light"] |= 128
    >>> clf = ImageClassifier(max_epochs=5, early_stopping=False,
    ...                       random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    """

    _parameter_constraints: dict = {
        **BaseDLEstimator._parameter_constraints,
        "backbone": [str, torch.nn.Module, type],
        "image_size": [
            Interval(numbers.Integral, 1, None, closed="left"),
            tuple,
            list,
            None,
        ],
        "path_column": [str, None],
        "num_workers": [
            Interval(numbers.Integral, 0, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "label_smoothing": [Interval(numbers.Real, 0, 1, closed="left")],
        "input_normalization": [StrOptions({"auto", "imagenet", "fit"}), tuple, list],
    }

    def __init__(
        self,
        backbone="cnn",
        *,
        image_size=None,
        augment=None,
        path_column=None,
        num_workers="auto",
        weights=None,
        freeze=None,
        unfreeze_at=None,
        backbone_lr_scale=1.0,
        input_normalization="auto",
        activation="relu",
        dropout=0.0,
        weight_decay=0.0,
        l1=0.0,
        early_stopping=True,
        patience=5,
        validation_fraction=0.1,
        tol=1e-4,
        max_epochs=20,
        batch_size="auto",
        lr=1e-3,
        optimizer="adam",
        lr_schedule="cosine",
        callbacks=None,
        label_smoothing=0.0,
        class_weight=None,
        random_state=None,
        device="auto",
        precision="32",
        compile=False,
        verbose=0,
        warm_start=False,
        checkpoint=None,
    ):
        self.backbone = backbone
        self.image_size = image_size
        self.augment = augment
        self.path_column = path_column
        self.num_workers = num_workers
        self.weights = weights
        self.freeze = freeze
        self.unfreeze_at = unfreeze_at
        self.backbone_lr_scale = backbone_lr_scale
        self.input_normalization = input_normalization
        self.activation = activation
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.l1 = l1
        self.early_stopping = early_stopping
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.tol = tol
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.compile = compile
        self.verbose = verbose
        self.warm_start = warm_start
        self.checkpoint = checkpoint

    # ------------------------------------------------------------ data side
    def _validate_X(self, X, *, reset: bool):
        if not reset:
            check_is_fitted(self)
        # At prediction, mixed-size lists are resized to the training size.
        if reset:
            size = resolve_image_size(self.image_size, self.backbone)
        else:
            size = self.image_shape_
        paths = resolve_paths(X, self.path_column)
        if paths is not None:
            return self._validate_files(
                np.asarray(paths, dtype=object), size, reset=reset
            )
        if not reset and self.input_kind_ == "files":
            raise ValueError(
                f"{type(self).__name__} was fitted on image files; pass file "
                f"paths to predict as well."
            )
        # Models pickled before float_scale_ existed used floats as given.
        fitted = getattr(self, "float_scale_", None)
        images, float_scale = as_image_tensor(
            X, size, float_scale=INFER if reset else fitted
        )
        if reset:
            self.input_kind_ = "array"
            self.float_scale_ = float_scale
            self.n_channels_ = int(images.shape[1])
            self.image_shape_ = size or tuple(int(s) for s in images.shape[-2:])
            self._check_pixel_range()
        elif images.shape[1] != self.n_channels_:
            raise ValueError(
                f"X has {images.shape[1]} channel(s), but {type(self).__name__} "
                f"was fitted on images with {self.n_channels_} channel(s)."
            )
        return images

    def _validate_files(self, paths: np.ndarray, size, *, reset: bool) -> np.ndarray:
        if not reset:
            return paths
        scan = check_training_files(paths, size)
        self.input_kind_ = "files"
        self.float_scale_ = 1.0
        self.mode_ = scan.mode
        self.n_channels_ = scan.n_channels
        self.image_shape_ = size or scan.size
        return paths

    def _check_pixel_range(self) -> None:
        """Refuse augmentation that needs pixels when X holds none."""
        if self.float_scale_ is None and getattr(self.augment, "_needs_pixels", False):
            raise ValueError(
                f"augment={type(self.augment).__name__}(...) works on pixel "
                f"values in [0, 1] or [0, 255], but the training images hold "
                f"floats outside [0, 255]. Pass the images unstandardized "
                f"(ImageClassifier normalizes them itself, see mean_ and std_)."
            )

    def _make_dataset(self, X, y=None, sample_weight=None, *, index=None):
        if index is not None:
            X = X[index]
        if self.input_kind_ == "files":  # X: paths (_validate_X checked)
            return FileImageDataset(
                list(X),
                mode=self.mode_,
                image_size=self.image_shape_,
                y=y,
                sample_weight=sample_weight,
            )
        if not isinstance(X, torch.Tensor):
            raise ValueError(
                f"{type(self).__name__} was fitted on image arrays; pass arrays "
                f"to predict as well."
            )
        return TensorDataset(
            {"x": X}, y, sample_weight, prepare=ImagePrepare(self.image_shape_)
        )

    def _fit_adapter(self, X, train_idx: np.ndarray, starting: StartingWeights) -> None:
        preset = preset_statistics(self.input_normalization)
        if preset is not None:
            self.mean_, self.std_ = preset
            return
        if self.input_normalization == "auto" and weights_bring_statistics(
            starting, self.backbone
        ):
            self.mean_ = self.std_ = None  # set from the weights when built
            return
        rng = np.random.default_rng(0)
        sample = np.sort(rng.permutation(train_idx)[:N_STAT_IMAGES])
        dataset = self._make_dataset(X, index=sample)
        # closing: its worker processes stop when the statistics are in.
        with contextlib.closing(dataset):
            self.mean_, self.std_ = image_statistics(dataset, self._num_workers())

    def _num_workers(self) -> int:
        if self.num_workers != "auto":
            return int(self.num_workers)
        if getattr(self, "input_kind_", "array") != "files":
            return 0
        return min(4, os.cpu_count() or 1)

    def _search_space(self) -> dict:
        return _image_space(self)

    def _resolve_batch_size(self, n_train: int) -> int:
        if self.batch_size == "auto":
            return int(min(128, max(16, n_train // 10)))
        return int(self.batch_size)

    # --------------------------------------------------------- network side
    _weights_prefix = "backbone."

    def _resolve_weights(self) -> StartingWeights:
        return resolve_weights(self.weights, self.backbone)

    def _check_training_params(self) -> None:
        super()._check_training_params()
        preset_statistics(self.input_normalization)

    def _cache_features(self, module, train_ds, valid_ds, callbacks, device):
        # Augmentation changes the images every epoch; under an accelerator
        # each process sees its own shard of the batches.
        self.feature_cache_ = False
        if self.augment is not None or active_accelerator() is not None:
            return train_ds, valid_ds, callbacks
        cached = cache_frozen_features(
            module,
            [train_ds, valid_ds],
            unfreeze_at=self.unfreeze_at,
            device=device,
            num_workers=self._num_workers(),
        )
        self.feature_cache_ = cached is not None
        if cached is None:
            return train_ds, valid_ds, callbacks
        (train_ds, valid_ds), extra = cached
        return train_ds, valid_ds, [*callbacks, *extra]

    def _build_module(self, n_outputs: int) -> torch.nn.Module:
        # For loading saved weights (they replace pretrained ones): no download.
        return self._build_network(n_outputs, library=None)[0]

    def _build_and_load(
        self, n_outputs: int, starting: StartingWeights
    ) -> tuple[torch.nn.Module, TransferReport | None]:
        module, pretrained = self._build_network(n_outputs, starting.library)
        if starting.library is not None:  # the library loaded them
            return module, pretrained
        return module, self._load_state(module, starting)

    def _build_network(self, n_outputs: int, library):
        """The network, with ``library``'s pretrained weights if any, and
        what they loaded; records the statistics it normalizes with."""
        network, pretrained, (self.mean_, self.std_) = build_image_network(
            self.backbone,
            n_channels=self.n_channels_,
            n_outputs=n_outputs,
            activation=make_activation(self.activation),
            activation_is_default=self.activation == "relu",
            dropout=float(self.dropout),
            library=library,
            statistics=(self.mean_, self.std_),
            prefer_pretrained=self.input_normalization == "auto",
            image_shape=self.image_shape_,
            float_scale=getattr(self, "float_scale_", None),
            weights_param=self.weights,
        )
        return network, pretrained

    def _transfer_state(self, module: torch.nn.Module, state: dict, source: str):
        adopt_state_statistics(module, state)
        return super()._transfer_state(module, state, source)

    def _load_state(
        self, module: torch.nn.Module, starting: StartingWeights
    ) -> TransferReport | None:
        report = super()._load_state(module, starting)
        if report is not None:
            self.mean_, self.std_ = statistics_after_transfer(
                module, (self.mean_, self.std_), self.input_normalization
            )
        return report

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.input_tags.string = True
        return tags
