"""From an estimator's flat hyperparameters to its :class:`TrainingPlan`.

The one place where estimator parameter names meet the training engine:
``fit``, ``warm_start`` and ``partial_fit`` all call :func:`resolve_plan`,
and :func:`skdl._training.net.build_net` reads only the plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._registry import resolve_optimizer
from .._training.plan import TrainingPlan

if TYPE_CHECKING:
    from .._base import BaseDLEstimator

__all__ = ["resolve_plan"]


def resolve_plan(
    estimator: BaseDLEstimator,
    device: str,
    n_train: int,
    *,
    batch_size: int | None = None,
) -> TrainingPlan:
    """Resolve ``estimator``'s hyperparameters for ``n_train`` training rows.

    Parameters
    ----------
    estimator : BaseDLEstimator
        The estimator, with validated parameters.
    device : str
        The device ``fit`` resolved (and checked) for this fit.
    n_train : int
        Training rows of the network, which size the ``"auto"`` batch size
        and patience.
    batch_size : int or None, default=None
        A batch size decided elsewhere (``partial_fit`` keeps the one the
        network trained with); None resolves the estimator's.

    Returns
    -------
    plan : TrainingPlan
    """
    if batch_size is None:
        batch_size = estimator._resolve_batch_size(n_train)
    return TrainingPlan(
        device=device,
        precision=estimator.precision,
        compile=bool(estimator.compile),
        optimizer=resolve_optimizer(estimator.optimizer),
        lr=float(estimator.lr),
        weight_decay=float(estimator.weight_decay),
        l1=float(estimator.l1),
        backbone_lr_scale=float(estimator.backbone_lr_scale),
        max_epochs=int(estimator.max_epochs),
        batch_size=int(batch_size),
        patience=estimator._resolve_patience(n_train),
        tol=float(estimator.tol),
        lr_schedule=estimator.lr_schedule,
        # Weight averaging is a tabular parameter; other estimators have none.
        ema_epochs=getattr(estimator, "ema_epochs", None),
        callbacks=estimator.callbacks,
        verbose=int(estimator.verbose),
    )
