"""Search spaces: ``param_distributions`` for scikit-learn's random searches."""

from __future__ import annotations

import numpy as np
from scipy.stats import loguniform, uniform
from sklearn.utils import check_random_state

from ._estimator.unwrap import unwrap_estimator

__all__ = ["search_space"]


class ZeroOr:
    """A distribution that is 0 with probability ``p_zero``, else ``dist``.

    Penalties such as weight decay are often best switched off; a log-uniform
    range cannot include 0, so the random search draws 0 itself some of the
    time. It has the ``rvs`` method that ``RandomizedSearchCV`` samples from.

    Parameters
    ----------
    dist : scipy.stats frozen distribution
        The distribution of the non-zero values.
    p_zero : float, default=0.3
        Probability of drawing exactly 0.
    """

    def __init__(self, dist, p_zero: float = 0.3) -> None:
        self.dist = dist
        self.p_zero = p_zero

    def rvs(self, size=None, random_state=None):
        """Draw samples, as ``scipy.stats`` distributions do."""
        rng = check_random_state(random_state)
        values = np.asarray(self.dist.rvs(size=size, random_state=rng), dtype=float)
        zero = rng.uniform(size=values.shape) < self.p_zero
        values = np.where(zero, 0.0, values)
        return float(values) if size is None else values

    def __repr__(self) -> str:
        name = getattr(self.dist.dist, "name", type(self.dist).__name__)
        args = ", ".join(f"{a:g}" for a in self.dist.args)
        return f"ZeroOr({name}({args}), p_zero={self.p_zero})"


def _common_space() -> dict:
    return {
        "lr": loguniform(1e-4, 1e-2),
        "weight_decay": ZeroOr(loguniform(1e-6, 1e-2)),
        "dropout": uniform(0.0, 0.5),
        "activation": ["relu", "gelu", "silu", "leaky_relu"],
        "lr_schedule": [None, "cosine", "cosine_warmup", "onecycle"],
    }


def _tabular_space(estimator) -> dict:
    from .tabular import TabularClassifier

    space = {
        **_common_space(),
        "hidden_layer_sizes": [(128,), (256, 256), (512, 512), (256, 256, 256)],
        "normalization": [None, "batch", "layer"],
        "scaling": ["robust_clip", "quantile", "standard"],
        "numeric_embedding": [None, "periodic", "piecewise", "piecewise"],
        "feature_scale": [False, True],
        "ema_epochs": [None, 0.5, 1.0, 1.0, 2.0],
        "batch_size": [64, 128, 256, 512],
    }
    if isinstance(estimator, TabularClassifier):
        space["label_smoothing"] = [0.0, 0.05, 0.1, 0.1, 0.2]
    return space


def _image_space(estimator) -> dict:
    from .augment import ImageAugmenter

    space = {
        **_common_space(),
        "lr": loguniform(3e-4, 3e-3),
        "weight_decay": ZeroOr(loguniform(1e-5, 1e-3)),
        "augment": [
            None,
            ImageAugmenter(hflip=True),
            ImageAugmenter(hflip=True, crop_scale=(0.8, 1.0)),
            ImageAugmenter(hflip=True, rotation=10, translate=0.1),
        ],
    }
    if estimator.weights is not None:
        space.update(
            freeze=[None, "backbone"],
            unfreeze_at=[None, 3, 5],
            backbone_lr_scale=[0.1, 0.3, 1.0],
        )
    return space


def _find_skdl_step(estimator) -> tuple:
    """The skdl estimator in (possibly nested) pipelines and its param prefix."""
    from ._base import BaseDLEstimator

    model, prefix, _ = unwrap_estimator(estimator, fitted=False, caller="search_space")
    if not isinstance(model, BaseDLEstimator):
        raise TypeError(
            f"search_space needs a skdl estimator (TabularClassifier, "
            f"TabularRegressor, ImageClassifier) or a Pipeline ending in one, got "
            f"{type(model).__name__}."
        )
    return model, prefix


def search_space(estimator) -> dict:
    """A ``param_distributions`` dict for tuning a skdl estimator.

    The ranges are those that tabular and image deep-learning practice
    searches first (learning rate, schedule, regularization, width and depth,
    and for tables the scaling and numeric embeddings), as scipy
    distributions and lists that :class:`~sklearn.model_selection.
    RandomizedSearchCV` samples from. ``max_epochs`` is left out, so that
    :class:`~sklearn.model_selection.HalvingRandomSearchCV` can use it as its
    resource (``resource="max_epochs"``, with ``max_resources`` set to the
    largest epoch budget).

    Parameters
    ----------
    estimator : skdl estimator or Pipeline
        A :class:`skdl.TabularClassifier`, :class:`skdl.TabularRegressor` or
        :class:`skdl.ImageClassifier`, or a ``Pipeline`` (or meta-estimator
        with an ``estimator`` parameter, or a ``TransformedTargetRegressor``)
        ending in one; the keys then carry the step prefix (``"model__lr"``,
        ``"regressor__lr"``). For an ``ImageClassifier`` with
        ``weights`` set, the fine-tuning strategy (``freeze``,
        ``unfreeze_at``, ``backbone_lr_scale``) is searched too.

    Returns
    -------
    param_distributions : dict
        Parameter names to lists or distributions with an ``rvs`` method.
        Edit it freely: it is a new dict on every call.

    Examples
    --------
    >>> from sklearn.model_selection import RandomizedSearchCV
    >>> from skdl import TabularClassifier, search_space
    >>> clf = TabularClassifier(random_state=0)
    >>> search = RandomizedSearchCV(clf, search_space(clf), n_iter=20)
    >>> sorted(search_space(clf))[:3]
    ['activation', 'batch_size', 'dropout']
    """
    model, prefix = _find_skdl_step(estimator)
    # The estimator says which ranges fit it (``_search_space``), so this
    # function imports no estimator family.
    space = model._search_space()
    return {f"{prefix}{k}": v for k, v in space.items()}
