"""What differs between classification and regression: targets, loss, output.

These mixins are shared by every skdl estimator (tabular and image), so the
output layer always follows the task: one logit with a sigmoid for binary
problems, one logit per class with a softmax for multiclass problems, and a
linear output for regression. The sigmoid and softmax live in the loss
(``BCEWithLogitsLoss``, ``CrossEntropyLoss``) during training, which is the
numerically stable form, and in ``predict_proba`` afterwards.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import column_or_1d
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _assert_all_finite, check_array, check_is_fitted
from torch import nn

from ._estimator.continued import ClassifierPartialFitMixin, RegressorPartialFitMixin
from ._validation.labels import check_class_labels
from ._validation.sample_weights import loss_weights

__all__ = [
    "ClassifierTaskMixin",
    "RegressorTaskMixin",
    "accuracy_from_logits",
    "fit_temperature",
    "r2_from_outputs",
]


class SmoothedBCEWithLogitsLoss(nn.Module):
    """Per-sample binary cross-entropy against smoothed targets.

    The binary counterpart of ``CrossEntropyLoss(label_smoothing=eps)`` on two
    classes: a target ``t`` becomes ``t * (1 - eps) + eps / 2``.
    """

    def __init__(self, smoothing: float) -> None:
        super().__init__()
        self.smoothing = smoothing

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Unreduced loss, like ``BCEWithLogitsLoss(reduction="none")``."""
        target = target * (1.0 - self.smoothing) + 0.5 * self.smoothing
        return nn.functional.binary_cross_entropy_with_logits(
            logits, target, reduction="none"
        )


def accuracy_from_logits(logits: torch.Tensor, y_true: torch.Tensor) -> float:
    """Accuracy of logits (one column: binary; several: multiclass).

    ``y_true`` holds class indices, 0/1 floats, or class probabilities (as
    produced by mixup), whose argmax is then the label.
    """
    logits = logits.detach().cpu()
    y_true = y_true.detach().cpu()
    if logits.ndim == 1 or logits.shape[1] == 1:
        pred = (logits.reshape(-1) > 0).long()
        true = (y_true.reshape(-1) > 0.5).long()
    else:
        pred = logits.argmax(dim=1)
        true = y_true.argmax(dim=1) if y_true.ndim > 1 else y_true.long()
    return float((pred == true).double().mean())


#: Standard deviation of the log-normal prior on the softmax temperature; see
#: :func:`fit_temperature`. Chosen on small scikit-learn datasets (iris, wine,
#: breast cancer, digits), where validation splits have 15 to 45 rows.
TEMPERATURE_PRIOR = 0.5


def _nll(logits: torch.Tensor, y: torch.Tensor) -> float:
    if logits.shape[1] == 1:
        loss = nn.functional.binary_cross_entropy_with_logits(
            logits.reshape(-1), y.reshape(-1).double()
        )
    else:
        loss = nn.functional.cross_entropy(logits, y.long())
    return float(loss)


def fit_temperature(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The temperature T that best calibrates ``logits / T`` on held-out data.

    Temperature scaling (Guo et al., 2017) rescales the logits by one positive
    number: the predicted class never changes, but over- or under-confident
    probabilities (e.g. after label smoothing) are corrected. T minimizes the
    summed log-loss plus ``(log T)**2 / (2 * TEMPERATURE_PRIOR**2)``, a
    log-normal prior centred on 1. Without it, a small validation split that
    the network happens to classify perfectly drives T towards 0 and makes
    every prediction (wrong ones included) nearly certain.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_outputs)
        Held-out logits.
    y : torch.Tensor of shape (n_samples,) or (n_samples, 1)
        Their true classes: indices, or 0/1 targets for one binary logit.

    Returns
    -------
    temperature : float
        In [0.05, 20].
    """
    logits = logits.detach().double().cpu()
    y = y.detach().cpu()
    n = len(y)

    def objective(log_t: float) -> float:
        prior = log_t**2 / (2 * TEMPERATURE_PRIOR**2)
        return n * _nll(logits / math.exp(log_t), y) + prior

    # One bounded 1-D search over log T: scipy's Brent method needs no
    # gradients and converges in a few dozen log-loss evaluations.
    result = minimize_scalar(
        objective, bounds=(math.log(0.05), math.log(20.0)), method="bounded"
    )
    return float(math.exp(result.x))


def r2_from_outputs(pred: torch.Tensor, y_true: torch.Tensor) -> float:
    """R^2 averaged over outputs; invariant to the target's standardization."""
    pred = pred.detach().double().cpu().reshape(y_true.shape[0], -1)
    y_true = y_true.detach().double().cpu().reshape(y_true.shape[0], -1)
    ss_res = ((y_true - pred) ** 2).sum(dim=0)
    ss_tot = ((y_true - y_true.mean(dim=0)) ** 2).sum(dim=0)
    return float((1 - ss_res / ss_tot.clamp_min(1e-12)).mean())


class ClassifierTaskMixin(ClassifierPartialFitMixin):
    """Target encoding, loss and probabilities for classifiers."""

    def _encode_target(self, y, sample_weight=None) -> np.ndarray:
        check_class_labels(y)
        y = column_or_1d(y, warn=True)
        if y.dtype.kind == "f":
            _assert_all_finite(y, input_name="y")
        check_classification_targets(y)
        try:
            encoder = LabelEncoder().fit(y)
        except TypeError as exc:
            kinds = sorted({type(v).__name__ for v in y})
            raise ValueError(
                f"The class labels in y mix types ({', '.join(kinds)}) that "
                f"cannot be ordered; use labels of one type (e.g. all strings), "
                f"and no None."
            ) from exc
        if len(encoder.classes_) < 2:
            only = encoder.classes_[0]
            only = only.item() if hasattr(only, "item") else only
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y to learn "
                f"from, but y contains only 1 class: {only!r}."
            )
        self.classes_ = encoder.classes_
        return encoder.transform(y)

    def _sample_weight(self, weights, y_encoded) -> np.ndarray | None:
        """Loss weights, and ``class_prior_``: the class shares they give."""
        weights = loss_weights(weights, self._task_weights(y_encoded))
        counts = np.bincount(y_encoded, weights=weights, minlength=len(self.classes_))
        self.class_prior_ = counts / counts.sum()
        return weights

    def _task_weights(self, y_encoded: np.ndarray) -> np.ndarray | None:
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, dict):
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(
                    f"class_weight has keys {sorted(map(repr, unknown))} that are "
                    f"not classes of y; the classes are {self.classes_.tolist()}."
                )
            weights = {
                i: float(self.class_weight.get(c, 1.0))
                for i, c in enumerate(self.classes_)
            }
        else:
            weights = self.class_weight
        return compute_sample_weight(weights, y_encoded)

    def _stratify(self, y_encoded: np.ndarray) -> np.ndarray | None:
        counts = np.bincount(y_encoded)
        return y_encoded if counts.min() >= 2 else None

    @property
    def _binary(self) -> bool:
        return len(self.classes_) == 2

    def _n_outputs(self) -> int:
        return 1 if self._binary else len(self.classes_)

    def _augment_n_classes(self) -> int:
        return len(self.classes_)

    def _criterion(self) -> nn.Module:
        smoothing = float(getattr(self, "label_smoothing", 0.0))
        if self._binary:
            if smoothing:
                return SmoothedBCEWithLogitsLoss(smoothing)
            return nn.BCEWithLogitsLoss(reduction="none")
        return nn.CrossEntropyLoss(reduction="none", label_smoothing=smoothing)

    def _target_tensor(self, y_encoded: np.ndarray) -> torch.Tensor:
        if self._binary:
            return torch.as_tensor(y_encoded, dtype=torch.float32).reshape(-1, 1)
        return torch.as_tensor(y_encoded, dtype=torch.long)

    _score_logits = staticmethod(accuracy_from_logits)

    def _calibrate(self, members: list) -> None:
        """Fit a softmax temperature per member on its validation split.

        Only estimators with a ``calibration`` parameter calibrate; members
        trained without a validation split keep the temperature 1.
        """
        if not hasattr(self, "calibration"):
            return
        temperatures = np.ones(len(members))
        if self.calibration == "temperature":
            for i, (net, valid_ds) in enumerate(members):
                if valid_ds is not None:
                    logits, y = self._outputs(net, valid_ds)
                    temperatures[i] = fit_temperature(logits, y)
        self.temperatures_ = temperatures

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : array-like
            Input samples, in the form the estimator was fitted on.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; two columns for a
            binary problem.
        """
        check_is_fitted(self)
        logits = torch.as_tensor(self._forward(X), dtype=torch.float64)
        temperatures = getattr(self, "temperatures_", None)
        if temperatures is not None:
            logits = logits / torch.as_tensor(temperatures).reshape(-1, 1, 1)
        if self._binary:
            p = torch.sigmoid(logits[..., 0])
            proba = torch.stack([1 - p, p], dim=-1)
        else:
            proba = torch.softmax(logits, dim=-1)
        # An ensemble predicts the mean of its members' probabilities.
        return proba.mean(dim=0).numpy()

    def predict(self, X) -> np.ndarray:
        """Predicted class labels.

        Parameters
        ----------
        X : array-like
            Input samples, in the form the estimator was fitted on.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class RegressorTaskMixin(RegressorPartialFitMixin):
    """Target standardization, squared-error loss and outputs for regressors.

    The target is standardized per output during training (the loss in
    ``history_`` is therefore in units of the target's standard deviation)
    and predictions are mapped back to the original scale.
    """

    def _encode_target(self, y, sample_weight=None) -> np.ndarray:
        # scikit-learn's finiteness check sums y first, which overflows (with
        # a RuntimeWarning) for huge finite targets; it then checks properly.
        with np.errstate(over="ignore", invalid="ignore"):
            y = check_array(
                y,
                ensure_2d=False,
                dtype=np.float64,
                input_name="y",
                ensure_min_samples=1,
            )
        if y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}.")
        self._y_was_1d = y.ndim == 1
        y2 = y.reshape(len(y), -1)
        self.n_outputs_ = y2.shape[1]
        # Weighted, so that rows with zero weight do not set the scale.
        w = None
        if sample_weight is not None and sample_weight.sum() > 0:
            w = sample_weight / sample_weight.max()  # no overflow in the sums
        # Moments of y / max|y|, so that the squares and sums of huge targets
        # (1e200) do not overflow; each is at most 1 in magnitude.
        peak = np.abs(y2).max(axis=0)
        peak = np.where(peak > 0, peak, 1.0)
        unit = y2 / peak
        mean = np.average(unit, axis=0, weights=w)
        scale = np.sqrt(np.average((unit - mean) ** 2, axis=0, weights=w))
        spread = scale > 0
        self.target_mean_ = mean * peak
        self.target_scale_ = np.where(spread, scale * peak, 1.0)
        with np.errstate(over="ignore", invalid="ignore"):
            encoded = np.where(
                spread,
                (unit - mean) / np.where(spread, scale, 1.0),
                y2 - self.target_mean_,
            )
        limit = np.finfo(np.float32).max
        if not np.all(np.abs(encoded) <= limit):
            raise ValueError(
                f"y cannot be standardized into the network's float32 range: "
                f"some targets lie more than {limit:.1e} standard deviations "
                f"from the (weighted) mean. This happens when rows with zero "
                f"sample_weight hold targets far larger than the weighted rows; "
                f"drop or clip those rows."
            )
        return encoded

    def _sample_weight(self, weights, y_encoded) -> np.ndarray | None:
        """Loss weights: the user's (a regressor has no class weights)."""
        return loss_weights(weights, None)

    def _stratify(self, y_encoded: np.ndarray) -> None:
        return None

    def _n_outputs(self) -> int:
        return self.n_outputs_

    def _augment_n_classes(self) -> None:
        return None

    def _criterion(self) -> nn.Module:
        return nn.MSELoss(reduction="none")

    def _target_tensor(self, y_encoded: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(y_encoded, dtype=torch.float32)

    _score_logits = staticmethod(r2_from_outputs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X) -> np.ndarray:
        """Predicted targets.

        Parameters
        ----------
        X : array-like
            Input samples, in the form the estimator was fitted on.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions on the scale of the training target.
        """
        check_is_fitted(self)
        # An ensemble predicts the mean of its members' predictions.
        out = np.asarray(self._forward(X), dtype=np.float64).mean(axis=0)
        out = self._decode_target(out.reshape(len(out), -1))
        return out.ravel() if self._y_was_1d else out

    def _decode_target(self, out: np.ndarray) -> np.ndarray:
        """Map standardized outputs back to the target's scale, without overflow.

        Raises
        ------
        ValueError
            If a finite output maps to a value beyond float64's range.
        """
        scale, mean = self.target_scale_, self.target_mean_
        with np.errstate(over="ignore", invalid="ignore"):
            pred = out * scale + mean
            overflow = ~np.isfinite(pred) & np.isfinite(out)
            if overflow.any():
                # Huge targets: the product can overflow where the sum does not.
                k = np.maximum(scale, np.abs(mean))
                pred = np.where(overflow, (out * (scale / k) + mean / k) * k, pred)
        if (~np.isfinite(pred) & np.isfinite(out)).any():
            raise ValueError(
                f"{type(self).__name__} predicts values beyond the float64 range "
                f"(about 1.8e308) for some rows: the target's scale (standard "
                f"deviation {scale.max():.3g}) is too large for these inputs. "
                f"Rescale y (e.g. divide it by a constant or take its log)."
            )
        return pred
