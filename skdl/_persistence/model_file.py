"""Reading the safe model file that an estimator's ``save`` writes.

:func:`load` checks the file's format, version and checksum, decodes its
JSON part with :func:`skdl._persistence.plain.decode` (which names classes from an
allow-list only), rebuilds each network with the estimator's own module
builder and loads its tensors from the safetensors part strictly. Nothing
is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
import zlib
from pathlib import Path

import sklearn
import torch

from .. import finetune

__all__ = ["FORMAT", "FORMAT_VERSION", "load"]

#: Identifies the safe model file; a newer format version is refused.
FORMAT = "skdl-model"
FORMAT_VERSION = 1
JSON_NAME = "skdl.json"
TENSORS_NAME = "tensors.safetensors"


#: Private attributes that ``save`` stores besides the public fitted ones.
PRIVATE_STATE = ("_y_was_1d",)


def is_stored_attribute(name: str) -> bool:
    """Whether ``save`` stores the attribute ``name`` (and ``load`` sets it).

    Fitted attributes (``classes_``, not ``_private`` or ``__dunder__`` ones)
    and :data:`PRIVATE_STATE`; the networks are stored as tensors instead.
    """
    fitted = name.endswith("_") and not name.startswith("_") and name.isidentifier()
    return (fitted or name in PRIVATE_STATE) and name not in ("net_", "nets_")


def estimator_classes() -> dict:
    """The classes a model file may hold, by the name it records."""
    from ..tabular import TabularClassifier, TabularRegressor
    from ..vision import ImageClassifier

    return {
        f"skdl.{cls.__name__}": cls
        for cls in (TabularClassifier, TabularRegressor, ImageClassifier)
    }


def checksum(content: dict, tensor_bytes: bytes) -> str:
    """SHA-256 over the JSON content (keys sorted) and the tensor bytes."""
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode())
    digest.update(tensor_bytes)
    return digest.hexdigest()


def versions() -> dict:
    """The versions of skdl, scikit-learn and torch, recorded in each file."""
    from .. import __version__

    return {
        "skdl": __version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
    }


def _read(path: Path) -> tuple[dict, bytes]:
    """The header and tensor bytes of a model file, checked for integrity."""
    if path.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a folder, not a model file.")
    if not path.is_file():
        raise FileNotFoundError(f"Model file {str(path)!r} does not exist.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if not {JSON_NAME, TENSORS_NAME} <= names:
                raise ValueError(
                    f"{str(path)!r} is not an skdl model file written by "
                    f"save(): it lacks {JSON_NAME} and {TENSORS_NAME}."
                )
            raw, tensor_bytes = archive.read(JSON_NAME), archive.read(TENSORS_NAME)
        header = json.loads(raw)
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        UnicodeDecodeError,
        RecursionError,
    ) as exc:
        raise ValueError(
            f"{str(path)!r} is not a complete skdl model file: it is truncated, "
            f"corrupt or not written by save() ({exc})."
        ) from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{str(path)!r} is not a valid skdl model file: its {JSON_NAME} is not "
            f"JSON ({exc})."
        ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not an skdl model file written by save().")
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        written = header.get("versions", {}).get("skdl", "an unknown version")
        from .. import __version__

        raise ValueError(
            f"{str(path)!r} was written by skdl {written} in model format "
            f"{version!r}, which this skdl ({__version__}) cannot read (it "
            f"reads format {FORMAT_VERSION} and older). Upgrade skdl to load it."
        )
    content = {k: v for k, v in header.items() if k != "sha256"}
    if header.get("sha256") != checksum(content, tensor_bytes):
        raise ValueError(
            f"{str(path)!r} was modified or corrupted after it was saved: its "
            f"checksum does not match its contents. Save the model again."
        )
    return header, tensor_bytes


def load(path, *, params=None, device=None, expected=None):
    """Load an estimator saved with ``save()``, without running code from it.

    The file is read as JSON and safetensors only, never unpickled; the
    networks are rebuilt by skdl and their tensors loaded strictly. The
    loaded estimator predicts exactly as the saved one did.

    Parameters
    ----------
    path : str or path-like
        A file written by the ``save`` method of a skdl estimator.
    params : dict or None, default=None
        Parameter values to pass again: those that ``save`` could not store
        as plain data (a custom module or optimizer class, a fitted
        estimator as ``weights``, a ``RandomState``), which the error
        message names; others may be given to override the stored ones.
    device : str or None, default=None
        Where the networks predict; None uses the device they were saved
        from, or the CPU when that is a GPU that is not available here.
    expected : type or None, default=None
        An estimator class the file must hold, e.g.
        ``skdl.TabularClassifier``.

    Returns
    -------
    estimator : TabularClassifier, TabularRegressor or ImageClassifier
        The fitted estimator.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is truncated, corrupt, modified after saving, not an
        skdl model file, or written by a newer skdl in a format this version
        cannot read.
    TypeError
        If the file holds another estimator class than ``expected``, or
        parameters that must be passed again through ``params``.
    """
    import safetensors.torch

    from .plain import FormatError, decode

    path = Path(path)
    header, tensor_bytes = _read(path)
    cls = estimator_classes().get(header.get("estimator"))
    if cls is None:
        raise ValueError(
            f"{str(path)!r} holds a {header.get('estimator')!r}, which is not an "
            f"estimator this skdl knows."
        )
    if expected is not None and cls is not expected:
        raise TypeError(
            f"{str(path)!r} holds a {cls.__name__}, not a "
            f"{getattr(expected, '__name__', expected)}."
        )
    given = dict(params or {})
    known = set(cls().get_params(deep=False))
    unknown = sorted(set(given) - known)
    if unknown:
        raise TypeError(f"{cls.__name__} has no parameter(s) {unknown}.")
    dropped = sorted(set(header.get("params", {})) - known)
    if dropped:
        raise ValueError(
            f"{str(path)!r} was saved with {cls.__name__} parameter(s) "
            f"{dropped}, which this skdl version does not have; load it with "
            f"the skdl version that saved it "
            f"({header.get('versions', {}).get('skdl', 'unknown')})."
        )
    needed = {
        k: v for k, v in header.get("params_not_stored", {}).items() if k not in given
    }
    if needed:
        listed = ", ".join(f"{k} (a {v})" for k, v in needed.items())
        example = ", ".join(f"{k!r}: ..." for k in needed)
        raise TypeError(
            f"{str(path)!r} was saved without parameter(s) {listed}, which "
            f"cannot be stored as plain data. Pass them again: "
            f"skdl.load(path, params={{{example}}})."
        )
    _warn_versions(header.get("versions", {}), path)
    try:
        tensors = safetensors.torch.load(tensor_bytes)
        arrays = {k: v.numpy() for k, v in tensors.items() if k.startswith("array.")}
        stored = {k: decode(v, arrays) for k, v in header["params"].items()}
        estimator = cls(**{**stored, **given})
        estimator._validate_params()
        for key, plain in header["attributes"].items():
            if not is_stored_attribute(key):
                raise FormatError(f"{key!r} is not a fitted attribute")
            setattr(estimator, key, decode(plain, arrays))
        nets = [
            _rebuild_net(estimator, i, meta, tensors, header["n_outputs"], device)
            for i, meta in enumerate(header["networks"])
        ]
    except (FormatError, KeyError, AttributeError, RecursionError) as exc:
        raise ValueError(
            f"{str(path)!r} is not a valid skdl model file ({exc})."
        ) from exc
    if not nets:
        raise ValueError(f"{str(path)!r} holds no networks.")
    estimator.nets_ = nets
    estimator.net_ = nets[0]
    return estimator


def _warn_versions(saved: dict, path: Path) -> None:
    """Warn when the file's scikit-learn differs: its encoders' attributes may."""
    ours = versions()["scikit-learn"]
    theirs = saved.get("scikit-learn")
    if theirs is not None and theirs != ours:
        warnings.warn(
            f"{str(path)!r} was saved with scikit-learn {theirs}; this is "
            f"{ours}. Its encoders are restored attribute by attribute, which "
            f"may not be valid across scikit-learn versions; check its "
            f"predictions, or refit.",
            UserWarning,
            stacklevel=3,
        )


def _device_here(saved: str, requested) -> str:
    """``requested`` (checked), else ``saved`` if it is here, else the CPU."""
    if requested is not None:
        from .._training.devices import resolve_device

        return resolve_device(str(requested))
    kind = torch.device(saved).type
    if kind == "cuda" and torch.cuda.is_available():
        return saved
    return "cpu"


def _rebuild_net(estimator, index: int, meta: dict, tensors: dict, n_outputs, device):
    """Build member ``index``'s network as fit did, then load its tensors."""
    from skorch.callbacks import EarlyStopping

    from .._registry import resolve_optimizer
    from .._training.data import BatchIterator
    from .._training.net import SkdlNet

    prefix = f"net.{index}."
    state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    with torch.random.fork_rng(devices=[]):  # leave the caller's seed alone
        module = estimator._module_for_loading(int(n_outputs))
    finetune.load_state_dict_strict(module, state, f"member {index} of the file")
    callbacks = []
    if meta.get("patience") is not None:
        stopper = EarlyStopping(
            monitor="valid_loss",
            patience=int(meta["patience"]),
            threshold=estimator.tol,
            threshold_mode="abs",
        )
        callbacks.append(("early_stopping", stopper))
    net = SkdlNet(
        module,
        callbacks=callbacks,
        criterion=estimator._criterion(),
        optimizer=resolve_optimizer(estimator.optimizer),
        lr=estimator.lr,
        batch_size=int(meta["batch_size"]),
        iterator_train=BatchIterator,
        iterator_valid=BatchIterator,
        iterator_valid__num_workers=estimator._num_workers(),
        train_split=None,
        l1=estimator.l1,
        weight_decay=estimator.weight_decay,
        backbone_lr_scale=estimator.backbone_lr_scale,
        precision=estimator.precision,
        device=_device_here(str(meta["device"]), device),
        verbose=0,
    )
    net.initialize()
    net._set_training(False)
    return net
