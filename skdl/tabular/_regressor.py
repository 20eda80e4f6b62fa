"""TabularRegressor: an MLP regressor for arrays and mixed-type DataFrames."""

from __future__ import annotations

from sklearn.base import RegressorMixin

from .._tasks import RegressorTaskMixin
from ._base import TabularMixin

__all__ = ["TabularRegressor"]


class TabularRegressor(RegressorMixin, RegressorTaskMixin, TabularMixin):
    """Neural-network regressor for tables, with its knobs as hyperparameters.

    Accepts numeric arrays and pandas DataFrames mixing numeric, bool,
    categorical and string columns with missing values. Numeric columns are
    imputed (with indicators) and scaled; categorical and string columns get
    learned embeddings, and categories unseen in training map to a reserved
    "unknown" embedding. Training runs on skorch; the fitted skorch net is
    ``net_``.

    The output layer is linear, with one unit per target; 2-D ``y`` gives
    multi-output regression. Targets are standardized for training and
    predictions are returned on the original scale.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(256, 256)
        Width of each hidden layer; ``()`` gives a linear model.
    activation : str or subclass of torch.nn.Module, default="relu"
        Hidden activation: ``"relu"``, ``"leaky_relu"`` (slope 0.01),
        ``"tanh"``, ``"sigmoid"``, ``"gelu"``, ``"elu"``, ``"selu"``,
        ``"silu"``, ``"mish"``, ``"softplus"``, ``"prelu"``, ``"identity"``,
        or a module class constructible without arguments.
    dropout : float, default=0.0
        Dropout probability after each hidden activation, in [0, 1).
    normalization : {"batch", "layer"} or None, default=None
        Batch or layer normalization before each hidden activation.
    weight_decay : float, default=0.0
        L2 penalty on weights (not biases or normalization parameters),
        applied by the optimizer.
    l1 : float, default=0.0
        L1 penalty on weights, added to the training loss. ``history_``
        records the data loss without it.
    scaling : {"robust_clip", "standard", "robust", "minmax", "quantile"} \
or None, default="robust_clip"
        How numeric columns are scaled (after median imputation).
        ``"robust_clip"`` centres each column on its median, divides by its
        interquartile range and squashes outliers smoothly into (-3, 3), as
        RealMLP does; the others are scikit-learn's scalers
        (``"quantile"`` maps to a normal distribution), None leaves values
        as they are.
    embedding_dim : int or None, default=None
        Width of every categorical embedding; None sizes each one by its
        cardinality (``min(32, round(1.6 * n_categories ** 0.56))``).
    numeric_embedding : {"piecewise", "periodic"} or None, default="piecewise"
        How numeric features enter the network. ``"piecewise"`` encodes
        each one by its position among (at most) 32 quantile bins of the
        training data, then a linear map per feature that starts at zero
        (:class:`skdl.modules.PiecewiseLinearEmbedding`, "PLE"); it gives
        the network tree-like thresholds and trains in fewer epochs.
        ``"periodic"`` embeds each one with trainable sin/cos features and
        a small linear map per feature
        (:class:`skdl.modules.PeriodicEmbedding`, "PLR"); it scored higher
        on the benchmark's two 1,000-row tables. Both keep the scaled value
        next to the embedding; None feeds only the scaled values.
    feature_scale : bool, default=False
        Give every input of the first hidden layer (each numeric feature's
        value or embedding, each categorical embedding) a learnable scale,
        initialized at 1 and trained with 6 times ``lr``: RealMLP's
        "scaling layer" (Holzmüller et al., 2024), a soft, learned feature
        selection that lets the network quiet uninformative columns.
    n_ensemble : int or "auto", default="auto"
        Number of networks trained and averaged (their predicted
        probabilities, or their predictions for regression). Each member has
        its own initialization, shuffling and validation split, so together
        they learn from every row. Ensembles of 3 to 5 are usually more
        accurate and better calibrated than one network, at proportionally
        more training and prediction time. ``"auto"`` trains 5 networks on
        fewer than 3,000 samples, where one network's early stopping rests on
        a small validation split and each fit takes seconds, and one network
        otherwise; a continued fit trains the ensemble it has, and a first
        ``partial_fit`` one network. The resolved number is ``n_ensemble_``.
    ema_epochs : float or None, default=1.0
        Keep an exponential moving average of the weights over about this
        many epochs (the per-step decay is ``1 - 1 / (ema_epochs *
        batches_per_epoch)``, so the span does not depend on the table's
        size), and validate, early-stop and predict with the averaged
        weights; the optimizer still steps the raw ones. Averaging smooths
        out the noise of the last updates (Polyak averaging; an EMA of the
        weights is common in image models). None trains and keeps the raw
        weights. On skdl's tabular benchmark (all rows) it raised the wins
        against scikit-learn's MLP from 14 to 17 of 19 tables
        (``docs/benchmarks``).
    augment : augmenter or None, default=None
        A tabular augmenter from :mod:`skdl.augment` (``GaussianNoise`` on
        the scaled numeric features, ``Mixup``), applied on the fly to
        training batches only; tunable as ``augment__<name>``.
    weights : path-like, fitted estimator or None, default=None
        Starting weights: a fitted skdl tabular estimator (classifier or
        regressor) trained on the same columns, whose embeddings and hidden
        layers are transferred and whose fitted column encoding is reused;
        or a path to a state dict written by :meth:`save_weights`. The
        output layer is always rebuilt for this task. Tensors whose shapes
        do not fit are reported with a
        :class:`skdl.finetune.WeightsMismatchWarning` and in
        ``transfer_report_``.
    freeze : None, "backbone", int or list of str, default=None
        What to freeze: nothing; everything but the output layer; the first
        ``k`` hidden layers (the embeddings belong to the first); or
        parameters whose names match glob patterns such as ``"blocks.0.*"``.
        Frozen parameters get no updates and no weight decay.
    unfreeze_at : int or None, default=None
        Epoch (1-based) at which frozen parameters thaw; ignored when nothing
        is frozen.
    backbone_lr_scale : float, default=1.0
        Learning rate of everything but the output layer, relative to ``lr``.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training data,
        score it every epoch, stop when the validation loss has not improved
        by ``tol`` for ``patience`` epochs, and restore the best epoch's
        weights. With False, train ``max_epochs`` on all the data.
    patience : int or "auto", default="auto"
        Epochs without improvement before early stopping. ``"auto"`` waits
        4 epochs when the training split has 3,000 rows or more and
        ``ema_epochs`` is set (the averaged weights' validation loss is
        smooth, so a short pause already means it has turned), and 10 on
        smaller splits, where it still pauses between slow gains. Without
        ``ema_epochs`` it waits 10 epochs, or 5 from 10,000 rows.
    validation_fraction : float, default=0.1
        Share of the training data held out for validation.
    tol : float, default=1e-4
        Minimum decrease of the validation loss that counts as improvement.
    max_epochs : int, default=200
        Maximum number of passes over the training data.
    batch_size : int or "auto", default="auto"
        Rows per batch; ``"auto"`` is ``min(256, max(32, n_train // 30))``.
    lr : float, default=2e-3
        Learning rate (the peak rate for ``lr_schedule="onecycle"``). The
        weight average of ``ema_epochs`` evens out the noisier steps of this
        rate, twice that of scikit-learn's MLP: with it, ``2e-3`` trained
        faster and scored as well or higher than ``1e-3`` on the benchmark;
        without it, ``2e-3`` had scored lower (``docs/benchmarks``).
    optimizer : str or subclass of torch.optim.Optimizer, default="adam"
        ``"adam"``, ``"adamw"``, ``"sgd"`` (Nesterov momentum 0.9),
        ``"rmsprop"``, ``"adagrad"``, ``"nadam"``, ``"radam"``, or a class.
    lr_schedule : str or None, default=None
        ``"cosine"``, ``"cosine_warmup"``, ``"onecycle"`` (all per batch over
        ``max_epochs``), ``"plateau"`` (divide by 5 when the monitored loss
        stalls for ``patience // 3`` epochs), ``"step"``, ``"exponential"``;
        None keeps ``lr`` constant.
    callbacks : list of skorch.callbacks.Callback or None, default=None
        Extra skorch callbacks, e.g. to log each epoch to an experiment
        tracker; an entry may also be a ``(name, callback)`` pair. Every fit
        trains with deep copies, so the list itself is never changed and
        clones (as in ``GridSearchCV``) share nothing; the copies a fit used
        are in ``net_.callbacks_``. They run after skdl's own callbacks
        (history, early stopping, schedule), so they see each epoch's
        complete history row. See :ref:`long_runs`.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, the validation split, shuffling and
        dropout. The same seed gives identical predictions on CPU.
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
    n_outputs_ : int
        Number of targets.
    target_mean_, target_scale_ : ndarray of shape (`n_outputs_`,)
        Standardization of the target learned in fit.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when fitted on a DataFrame with string column names.
    encoder_ : TabularEncoder
        The fitted imputation, scaling and category encoding.
    history_ : pandas.DataFrame
        One row per epoch (index ``epoch``, from 1): ``train_loss``; when
        validating, ``valid_loss`` (mean squared error of the standardized
        target), ``train_score`` (R² over the epoch's training batches, with
        dropout and augmentation on) and ``valid_score`` (R²); ``lr`` and
        ``duration`` in seconds.
        The training columns come from the raw weights as they train, the
        validation columns from the weight average (``ema_epochs``).
    best_epoch_ : int
        Epoch whose weights were kept (lowest validation loss), or the last
        epoch without early stopping.
    n_epochs_ : int
        Number of epochs run.
    n_iter_ : int
        Same as ``n_epochs_``, for scikit-learn tooling.
    patience_ : int
        The early-stopping patience the last training call used
        (``patience="auto"`` resolved for its number of training rows).
    n_ensemble_ : int
        The number of networks in the fitted model (``n_ensemble="auto"``
        resolved for the number of samples of the first fit).
    batch_size_ : int
        The batch size the last training call used (``batch_size="auto"``
        resolved for its number of training rows).
    transfer_report_ : TransferReport or None
        What ``weights`` loaded (None without weights).
    frozen_parameters_ : list of str
        Names of the parameters ``freeze`` froze.
    net_ : skorch.NeuralNet
        The fitted skorch net, for power users; the first member of an
        ensemble. ``history_``, ``best_epoch_``, ``n_epochs_`` and
        ``stopped_early_`` describe this net.
    nets_ : list of skorch.NeuralNet
        All ``n_ensemble_`` fitted nets, ``net_`` first.

    See Also
    --------
    TabularClassifier : The classification counterpart.
    sklearn.neural_network.MLPRegressor : scikit-learn's MLP.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skdl import TabularRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = TabularRegressor(hidden_layer_sizes=(32,), max_epochs=50,
    ...                        lr=1e-2, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> reg.score(X, y) > 0.4
    True
    """

    def __init__(
        self,
        hidden_layer_sizes=(256, 256),
        *,
        activation="relu",
        dropout=0.0,
        normalization=None,
        weight_decay=0.0,
        l1=0.0,
        scaling="robust_clip",
        embedding_dim=None,
        numeric_embedding="piecewise",
        feature_scale=False,
        n_ensemble="auto",
        ema_epochs=1.0,
        augment=None,
        weights=None,
        freeze=None,
        unfreeze_at=None,
        backbone_lr_scale=1.0,
        early_stopping=True,
        patience="auto",
        validation_fraction=0.1,
        tol=1e-4,
        max_epochs=200,
        batch_size="auto",
        lr=2e-3,
        optimizer="adam",
        lr_schedule=None,
        callbacks=None,
        random_state=None,
        device="auto",
        precision="32",
        compile=False,
        verbose=0,
        warm_start=False,
        checkpoint=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.normalization = normalization
        self.weight_decay = weight_decay
        self.l1 = l1
        self.scaling = scaling
        self.embedding_dim = embedding_dim
        self.numeric_embedding = numeric_embedding
        self.feature_scale = feature_scale
        self.n_ensemble = n_ensemble
        self.ema_epochs = ema_epochs
        self.augment = augment
        self.weights = weights
        self.freeze = freeze
        self.unfreeze_at = unfreeze_at
        self.backbone_lr_scale = backbone_lr_scale
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
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.compile = compile
        self.verbose = verbose
        self.warm_start = warm_start
        self.checkpoint = checkpoint
