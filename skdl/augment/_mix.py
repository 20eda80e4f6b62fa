"""Mixup and CutMix: augmentation that mixes pairs of samples and targets.

Both follow torchvision's convention: one mixing weight ``lam`` drawn from
``Beta(alpha, alpha)`` per batch, and each sample paired with the one before
it in the (shuffled) batch. Image batches go through
``torchvision.transforms.v2.MixUp``/``CutMix``. Those take labels either as
class indices or as a 2-D float matrix, which they mix linearly with the
images; passing one-hot labels, binary probabilities or regression values as
that matrix, with the sample weights as one more column, lets torchvision mix
targets and weights for every task with the same ``lam``.

Tables are mixed here instead: torchvision's mixers only accept 4-D image
batches and do not expose ``lam``, which tables need to decide which row's
category codes to keep.
"""

from __future__ import annotations

import numbers

import torch
from sklearn.utils._param_validation import Interval
from torchvision.transforms import v2

from ._base import BaseAugmenter, Batch

__all__ = ["CutMix", "Mixup"]


class _NeedsTargets:
    """Hides ``transform``/``fit_transform``: mixing cannot run on X alone.

    Accessing the method on an instance raises an ``AttributeError`` that
    says why and what to use instead, so ``hasattr`` is False and scikit-learn
    does not treat the mixers as plain transformers.
    """

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        name = type(obj).__name__
        raise AttributeError(
            f"{name} has no {self.name}: mixing combines samples *and their "
            f"targets*, so it cannot run on X alone. Estimators apply it to "
            f"training batches (augment={name}()); use skdl.augment.expand(X, y, "
            f"augmenter, n_per_sample) to mix a dataset offline, or "
            f"skdl.augment.plot_augmented(X, augmenter) to preview it on images."
        )


class _BaseMixer(BaseAugmenter, auto_wrap_output_keys=None):
    """Shared parameters, target packing and the missing ``transform``."""

    _parameter_constraints: dict = {
        "alpha": [Interval(numbers.Real, 0, None, closed="neither")],
    }
    _torchvision_class: type = v2.MixUp

    transform = _NeedsTargets()
    fit_transform = _NeedsTargets()

    def augment_batch(
        self,
        X_batch: Batch,
        y_batch: torch.Tensor | None = None,
        *,
        n_classes: int | None = None,
    ) -> tuple[Batch, torch.Tensor | None]:
        """Mix each sample, its target and its weight with a partner's.

        Parameters
        ----------
        X_batch : dict of str to torch.Tensor
            Images (``"x"``, float (N, C, H, W)) or, for :class:`Mixup`,
            tables (``"x_num"`` and/or ``"x_cat"``). ``"sample_weight"``
            (N,) is mixed like the targets; other keys pass through.
        y_batch : torch.Tensor
            Class indices (int64 (N,)), binary 0/1 floats (N, 1), regression
            values (N, k) or soft targets (float).
        n_classes : int or None, default=None
            Number of classes; required when ``y_batch`` holds class indices.

        Returns
        -------
        X_batch : dict of str to torch.Tensor
            A new dict with mixed inputs and weights.
        y_batch : torch.Tensor
            Soft targets: class probabilities (float32 (N, n_classes)) for
            class indices, mixed values for float targets.
        """
        self._validate_params()
        kind = self._check_batch(X_batch)
        labels, unpack = _pack_targets(
            y_batch, X_batch.get("sample_weight"), n_classes, type(self).__name__
        )
        out = dict(X_batch)
        if len(labels) < 2:
            # Nothing to pair with: only the target encoding changes.
            y_out, _ = unpack(labels)
            return out, y_out
        if kind == "image":
            mixer = self._torchvision_class(alpha=float(self.alpha))
            out["x"], labels = mixer(X_batch["x"], labels)
        else:
            out, labels = self._mix_table(out, labels)
        y_out, weight = unpack(labels)
        if weight is not None:
            out["sample_weight"] = weight
        return out, y_out

    def _mix_table(self, out: Batch, labels: torch.Tensor):
        alpha = torch.tensor([float(self.alpha)])
        lam = float(torch.distributions.Beta(alpha, alpha).sample(()))
        if "x_num" in out:
            out["x_num"] = _mix(out["x_num"], lam)
        if "x_cat" in out and lam < 0.5:
            # Codes cannot be averaged: keep those of the dominant row.
            out["x_cat"] = out["x_cat"].roll(1, 0)
        return out, _mix(labels, lam)


class Mixup(_BaseMixer):
    """Mixup: train on convex combinations of pairs of samples and targets.

    For each training batch, draw ``lam ~ Beta(alpha, alpha)`` and replace
    every sample, target and sample weight by ``lam`` times itself plus
    ``1 - lam`` times those of its partner (the previous sample in the
    shuffled batch). Works for images (through
    ``torchvision.transforms.v2.MixUp``) and tables (numeric features are
    mixed; each row keeps the category codes of whichever row weighs more).
    Class targets become soft class probabilities.

    Mixup has no ``transform``: mixing needs targets. Estimators apply it to
    training batches; :func:`skdl.augment.expand` mixes a dataset offline and
    :func:`skdl.augment.plot_augmented` previews it on images.

    Parameters
    ----------
    alpha : float, default=0.2
        Parameter of the Beta distribution of ``lam``, ``> 0``. Small values
        keep most samples close to an original; 1 draws ``lam`` uniformly.

    See Also
    --------
    CutMix : Pastes a box from one image into another.
    ImageAugmenter : Per-image geometric and photometric augmentation.
    GaussianNoise : Noise on numeric features.

    References
    ----------
    H. Zhang, M. Cisse, Y. N. Dauphin, D. Lopez-Paz. "mixup: Beyond Empirical
    Risk Minimization", ICLR 2018.

    Examples
    --------
    >>> import torch
    >>> from skdl.augment import Mixup
    >>> X_batch = {"x_num": torch.randn(8, 3)}
    >>> y_batch = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    >>> X_mixed, y_soft = Mixup(alpha=0.4).augment_batch(
    ...     X_batch, y_batch, n_classes=3
    ... )
    >>> y_soft.shape
    torch.Size([8, 3])
    >>> bool(torch.allclose(y_soft.sum(dim=1), torch.ones(8)))
    True
    """

    _input_kinds = frozenset({"image", "tabular"})

    def __init__(self, alpha: float = 0.2) -> None:
        self.alpha = alpha


class CutMix(_BaseMixer):
    """CutMix: paste a box from another image, mixing targets by its area.

    For each training batch, draw ``lam ~ Beta(alpha, alpha)`` and one box
    covering about ``1 - lam`` of the image; every image receives that box
    from its partner (the previous image in the shuffled batch), and its
    target and sample weight are mixed in proportion to the pasted area.
    Built on ``torchvision.transforms.v2.CutMix``. Images only.

    CutMix has no ``transform``: mixing needs targets. Estimators apply it to
    training batches; :func:`skdl.augment.expand` mixes a dataset offline and
    :func:`skdl.augment.plot_augmented` previews it.

    Parameters
    ----------
    alpha : float, default=1.0
        Parameter of the Beta distribution of ``lam``, ``> 0``.

    See Also
    --------
    Mixup : Blends whole samples; also works for tables.
    ImageAugmenter : Per-image geometric and photometric augmentation.

    References
    ----------
    S. Yun, D. Han, S. J. Oh, S. Chun, J. Choe, Y. Yoo. "CutMix:
    Regularization Strategy to Train Strong Classifiers with Localizable
    Features", ICCV 2019.

    Examples
    --------
    >>> import torch
    >>> from skdl.augment import CutMix
    >>> X_batch = {"x": torch.rand(4, 3, 32, 32)}
    >>> y_batch = torch.tensor([0, 1, 2, 3])
    >>> X_mixed, y_soft = CutMix().augment_batch(X_batch, y_batch, n_classes=4)
    >>> X_mixed["x"].shape, y_soft.shape
    (torch.Size([4, 3, 32, 32]), torch.Size([4, 4]))
    """

    _input_kinds = frozenset({"image"})
    _other_kind_hint = "CutMix pastes image boxes; use Mixup for tables"
    _torchvision_class = v2.CutMix

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags


def _mix(t: torch.Tensor, lam: float) -> torch.Tensor:
    return t * lam + t.roll(1, 0) * (1.0 - lam)


def _pack_targets(y, weight, n_classes, name):
    """Targets (and weights) as one float matrix, and the way back.

    Class indices become one-hot rows; float targets keep their values. The
    sample weights, if any, are the last column, so that one linear mix
    treats targets and weights alike.
    """
    if y is None:
        raise ValueError(
            f"{name} mixes targets as well as inputs, so augment_batch needs "
            f"y_batch; got None."
        )
    shape, n = y.shape, len(y)
    if y.is_floating_point():
        matrix = y.reshape(n, -1)
    else:
        if n_classes is None:
            raise ValueError(
                f"{name} got class indices (dtype {y.dtype}) without n_classes; "
                f"pass n_classes to one-hot encode them."
            )
        matrix = torch.nn.functional.one_hot(y.reshape(-1).long(), int(n_classes))
        matrix = matrix.to(torch.float32)
        shape = (n, int(n_classes))
    n_targets = matrix.shape[1]
    if weight is not None:
        matrix = torch.cat([matrix, weight.reshape(n, 1).to(matrix)], dim=1)
    weight_dtype = None if weight is None else weight.dtype

    def unpack(mixed: torch.Tensor):
        targets = mixed[:, :n_targets].reshape(shape)
        if weight_dtype is None:
            return targets, None
        return targets, mixed[:, n_targets].to(weight_dtype)

    return matrix, unpack
