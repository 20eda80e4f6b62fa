"""What to change when :func:`~skdl.diagnostics.diagnose` finds a problem.

Each suggestion names a hyperparameter, its current value and the value to
try, as the user would type it; the fitted estimator's parameters and the
rules that fired (``context``: ``signals``, ``best``, ``stopped``) decide
which apply.
"""

from __future__ import annotations

from ..tabular._base import resolve_hidden_layer_sizes

__all__ = [
    "LOW_LR",
    "exploded_suggestions",
    "overfitting_suggestions",
    "underfitting_suggestions",
]

#: Learning rates below this are suggested to be raised when underfitting.
LOW_LR = 1e-4


def _fmt(value) -> str:
    """A parameter value as the user would type it."""
    if isinstance(value, float):
        return repr(float(f"{value:.6g}"))
    return repr(value)


def _layer_sizes(params: dict) -> tuple[int, ...] | None:
    sizes = params.get("hidden_layer_sizes")
    return None if sizes is None else resolve_hidden_layer_sizes(sizes)


def overfitting_suggestions(params: dict, context: dict) -> list[str]:
    """Regularize more: the changes to try for an overfitting network.

    Parameters
    ----------
    params : dict
        The fitted estimator's parameters (``patience`` as resolved).
    context : dict
        ``best`` (the kept epoch) and ``stopped`` (whether early stopping
        fired).

    Returns
    -------
    list of str
        One suggestion per applicable hyperparameter, then more data.
    """
    out = []
    dropout = params.get("dropout")
    if dropout is not None and dropout < 0.5:
        new = round(min(0.5, dropout + 0.2), 2)
        out.append(f"raise `dropout` from {_fmt(dropout)} to {_fmt(new)}")
    weight_decay = params.get("weight_decay")
    if weight_decay == 0:
        out.append("add an L2 penalty: `weight_decay=1e-3`")
    elif weight_decay is not None:
        out.append(
            f"raise `weight_decay` from {_fmt(weight_decay)} to "
            f"{_fmt(weight_decay * 10)}"
        )
    l1 = params.get("l1")
    if l1 == 0:
        out.append("or add an L1 penalty, which drives weights to zero: `l1=1e-5`")
    elif l1 is not None:
        out.append(f"raise `l1` from {_fmt(l1)} to {_fmt(l1 * 10)}")
    if "augment" in params:
        if params["augment"] is None:
            example = (
                "ImageAugmenter(rotation=10)"
                if "backbone" in params
                else "GaussianNoise(std=0.1)"
            )
            out.append(f"turn on `augment`, e.g. `augment={example}` from skdl.augment")
        else:
            out.append("strengthen `augment` (larger transformations, or Mixup)")
    if params.get("weights") is not None and params.get("freeze") is None:
        out.append(
            "fine-tune fewer parameters: `freeze='backbone'` keeps the "
            "pretrained features fixed (add `unfreeze_at` for a second stage)"
        )
    sizes = _layer_sizes(params)
    if sizes:
        smaller = tuple(max(8, size // 2) for size in sizes)
        if smaller != sizes:
            out.append(
                f"shrink the network: `hidden_layer_sizes` from {sizes} to {smaller}"
            )
    patience = params.get("patience")
    if context["stopped"] and patience is not None and patience > 3:
        new = max(3, patience // 2)
        out.append(
            f"shorten `patience` from {patience} to {new}: the epochs after "
            f"epoch {context['best']} only widened the gap; the restored weights "
            f"stay those of the best epoch and training ends sooner"
        )
    out.append("more training data, if you can get it, helps most of all")
    return out


def underfitting_suggestions(params: dict, context: dict) -> list[str]:
    """Regularize less, train longer or grow: changes for an underfitting network.

    Parameters
    ----------
    params : dict
        The fitted estimator's parameters (``patience`` as resolved).
    context : dict
        ``signals`` (the underfitting rules that fired) and ``stopped``
        (whether early stopping fired).

    Returns
    -------
    list of str
        The applicable suggestions, or a learning-rate schedule to try when
        none applies.
    """
    out = []
    lr = params.get("lr")
    if "still_improving" in context["signals"]:
        max_epochs = params.get("max_epochs")
        if max_epochs is not None:
            out.append(
                f"train longer: raise `max_epochs` from {max_epochs} to "
                f"{2 * max_epochs}, as the loss was still falling"
            )
    if lr is not None and lr < LOW_LR:
        out.append(f"raise `lr` from {_fmt(lr)} to 0.001: tiny steps learn slowly")
    if {"high_loss", "high_bias"} & set(context["signals"]):
        dropout = params.get("dropout") or 0
        if dropout > 0:
            new = round(dropout / 2, 2) if dropout > 0.1 else 0.0
            out.append(f"lower `dropout` from {_fmt(dropout)} to {_fmt(new)}")
        weight_decay = params.get("weight_decay") or 0
        if weight_decay > 0:
            out.append(
                f"lower `weight_decay` from {_fmt(weight_decay)} to "
                f"{_fmt(weight_decay / 10)}"
            )
        l1 = params.get("l1") or 0
        if l1 > 0:
            out.append(f"lower `l1` from {_fmt(l1)} to {_fmt(l1 / 10)}")
        if params.get("augment") is not None:
            out.append("weaken `augment`, or set `augment=None`")
        sizes = _layer_sizes(params)
        if sizes == ():
            out.append(
                "add hidden layers: `hidden_layer_sizes=(256, 256)` instead of "
                "() (a linear model)"
            )
        elif sizes:
            wider = tuple(min(1024, 2 * size) for size in sizes)
            if wider != sizes:
                out.append(f"widen `hidden_layer_sizes` from {sizes} to {wider}")
        if params.get("freeze") is not None and params.get("unfreeze_at") is None:
            out.append(
                f"train the frozen layers too: `freeze=None` instead of "
                f"{_fmt(params['freeze'])}, or thaw them later with `unfreeze_at`"
            )
        backbone = params.get("backbone")
        if backbone == "cnn":
            out.append("use a larger `backbone`, e.g. `backbone='resnet18'`")
        elif backbone is not None:
            out.append("use a larger `backbone`")
        patience = params.get("patience")
        if context["stopped"] and patience is not None:
            out.append(
                f"raise `patience` from {patience} to {2 * patience}: early "
                f"stopping may have ended a slow descent"
            )
    if not out:
        out.append(
            "try a learning-rate schedule such as `lr_schedule='onecycle'`; if "
            "that fails too, the features may hold little more signal"
        )
    return out


def exploded_suggestions(params: dict, context: dict) -> list[str]:
    """Lower the learning rate: the change for a loss that exploded.

    Parameters
    ----------
    params : dict
        The fitted estimator's parameters.
    context : dict
        Unused; for the same signature as the other suggestion functions.

    Returns
    -------
    list of str
        Lowering ``lr`` (a hundredfold, as explosions need large cuts).
    """
    lr = params.get("lr")
    if lr is None:
        return ["lower the learning rate: the training loss exploded"]
    return [
        f"lower `lr` from {_fmt(lr)} to {_fmt(lr / 100)}: the training loss "
        f"exploded, so the steps overshoot; more epochs or a larger network "
        f"will not help"
    ]
