"""Where a fit trains (``device``) and in what precision (``precision``).

Both are checked when ``fit`` starts, so that a device torch cannot use or a
precision the device cannot run fails with a message naming the parameter,
not inside torch at the first batch.
"""

from __future__ import annotations

import torch

from .accelerate import active_accelerator

__all__ = ["check_precision", "resolve_device"]


def resolve_device(device: str) -> str:
    """The torch device a fit with ``device=device`` trains on.

    Parameters
    ----------
    device : str
        The estimator's ``device``: ``"auto"``, ``"cpu"``, ``"cuda"``,
        ``"cuda:N"`` or another torch device type.

    Returns
    -------
    device : str
        The accelerator's device inside :func:`skdl.use_accelerator`; for
        ``"auto"`` a CUDA GPU when there is one, else the CPU.

    Raises
    ------
    ValueError
        If torch cannot parse ``device`` or has no such device here.
    """
    accelerator = active_accelerator()
    if accelerator is not None:
        # Inside use_accelerator the accelerator places the model. Its
        # CPU device may read "cpu:0", which torch cannot unpickle to.
        placed = torch.device(accelerator.device)
        return "cpu" if placed.type == "cpu" else str(placed)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}."
        ) from exc
    if parsed.type == "cpu":
        # "cpu:0" is the same device, but tensors tagged with it cannot be
        # unpickled (torch knows no location "cpu:0").
        return "cpu"
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but no CUDA GPU is available "
            f"to torch here; use device='auto' or 'cpu'."
        )
    if parsed.type not in ("cpu", "cuda"):
        backend = getattr(torch.backends, parsed.type, None) or getattr(
            torch, parsed.type, None
        )
        available = getattr(backend, "is_available", None)
        if available is None or not available():
            raise ValueError(
                f"device={device!r} was requested but torch has no "
                f"{parsed.type!r} device here; use device='auto' or 'cpu'."
            )
    return device


def check_precision(precision: str, device: str) -> None:
    """Refuse a ``precision`` that training on ``device`` cannot run.

    Parameters
    ----------
    precision : {"32", "bf16-mixed", "16-mixed"}
        The estimator's ``precision``.
    device : str
        The resolved device (:func:`resolve_device`).

    Raises
    ------
    ValueError
        For mixed precision under :func:`skdl.use_accelerator` (the
        accelerator sets it), ``"16-mixed"`` off CUDA, or ``"bf16-mixed"`` on
        a GPU without bfloat16.
    """
    if precision != "32" and active_accelerator() is not None:
        raise ValueError(
            f"precision={precision!r} cannot be combined with "
            f"use_accelerator: set mixed precision on the Accelerator "
            f"(e.g. Accelerator(mixed_precision='bf16')) and leave "
            f"precision='32'."
        )
    kind = torch.device(device).type
    if precision == "16-mixed" and kind != "cuda":
        raise ValueError(
            f"precision='16-mixed' needs a CUDA GPU (float16 autocast with "
            f"a gradient scaler), but the model trains on {device!r}. Use "
            f"precision='bf16-mixed' or '32' on this device."
        )
    if (
        precision == "bf16-mixed"
        and kind == "cuda"
        and not torch.cuda.is_bf16_supported()
    ):
        raise ValueError(
            f"precision='bf16-mixed' needs a GPU with bfloat16 support "
            f"(NVIDIA Ampere or newer), which {device!r} lacks. Use "
            f"precision='16-mixed' instead."
        )
