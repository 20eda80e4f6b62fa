"""Saving fitted estimators: the safe model file and the weights file.

:meth:`~PersistMixin.save` stores a whole fitted estimator in one zip file
holding ``skdl.json`` (parameters, fitted attributes and the encoders as
plain data, see :mod:`skdl._persistence.plain`) and ``tensors.safetensors`` (every
network's state dict and the numeric arrays); :func:`skdl.load`
(:mod:`skdl._persistence.model_file`) reads it back without unpickling anything. A
checksum over both parts catches files that were truncated, corrupted or
edited.

:meth:`~PersistMixin.save_weights` writes the networks' state dicts only,
with a fingerprint of the fitted attributes that predictions depend on
(:data:`FINGERPRINTED`), so that :meth:`~PersistMixin.load_weights` can
refuse weights trained on a differently encoded table.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import torch
from sklearn.utils.validation import check_is_fitted

from .. import finetune
from .model_file import (
    FORMAT,
    FORMAT_VERSION,
    JSON_NAME,
    TENSORS_NAME,
    checksum,
    estimator_classes,
    is_stored_attribute,
    versions,
)

__all__ = ["FINGERPRINTED", "PersistMixin"]

#: Fitted attributes that turn inputs into what the networks see, or their
#: outputs into predictions. ``save_weights`` stores a digest of each, and
#: ``load_weights`` refuses a file whose digests differ from the estimator's.
#: (An image model's ``mean_`` and ``std_`` are buffers of its network, so
#: they travel with the weights.)
FINGERPRINTED = {
    "n_features_in_": "number of columns",
    "feature_names_in_": "column names",
    "encoder_": "column encoding (imputation, scaling, categories)",
    "classes_": "classes",
    "n_outputs_": "number of targets",
    "target_mean_": "target scaling",
    "target_scale_": "target scaling",
    "_y_was_1d": "target shape",
    "input_kind_": "kind of input (image arrays or files)",
    "float_scale_": "pixel scale",
    "mode_": "image mode",
    "n_channels_": "number of channels",
    "image_shape_": "image size",
}


def _check_destination(path: Path) -> None:
    if path.is_dir():
        raise IsADirectoryError(
            f"Cannot save to {str(path)!r}: it is a folder; pass a file path."
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot save to {str(path)!r}: the folder {str(path.parent)!r} "
            f"does not exist. Create it first (os.makedirs)."
        )


def _write_atomically(path: Path, write) -> None:
    """``write(file)`` into a temporary file, then move it to ``path``.

    A save that fails part-way (a full disk, an interrupt) leaves any
    previous file at ``path`` as it was rather than half overwritten.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _is_model_file(path) -> bool:
    """Whether ``path`` is a model file written by ``save`` (not by torch)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return JSON_NAME in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


class PersistMixin:
    """``save``, ``save_weights`` and ``load_weights`` of every estimator."""

    def _module_for_loading(self, n_outputs: int) -> torch.nn.Module:
        """A fresh network for the fitted attributes, to load saved weights into.

        Builds what ``fit`` built, without loading any starting weights.
        """
        return self._build_module(n_outputs)

    def _fingerprints(self) -> dict[str, str]:
        from .plain import fingerprint

        return {
            name: fingerprint(getattr(self, name))
            for name in FINGERPRINTED
            if hasattr(self, name)
        }

    def save(self, path) -> None:
        """Save the fitted estimator to a file that loads without running code.

        The file holds the parameters, the fitted attributes (encoders,
        classes, calibration, image statistics, history) as plain data and
        every network's tensors in safetensors format; :func:`skdl.load`
        rebuilds an estimator that predicts identically. Unlike a pickle, a
        file from an untrusted source cannot run code when loaded. See
        :doc:`/user_guide/persistence`.

        Parameter values that are not plain data (a user's own module or
        optimizer class, a fitted estimator as ``weights``, a
        ``RandomState``) are not stored; :func:`skdl.load` then asks for
        them again through its ``params`` argument.

        Parameters
        ----------
        path : str or path-like
            Destination file, conventionally ending in ``.skdl``. Its folder
            must exist.

        Raises
        ------
        FileNotFoundError
            If the destination folder does not exist.
        TypeError
            If the estimator is not one of skdl's own classes, or a fitted
            attribute holds a value that cannot be stored as plain data.
        """
        import safetensors.torch

        from .plain import Unstorable, encode

        check_is_fitted(self)
        path = Path(path)
        _check_destination(path)
        name = f"skdl.{type(self).__name__}"
        if estimator_classes().get(name) is not type(self):
            raise TypeError(
                f"save() stores skdl's own estimator classes; "
                f"{type(self).__qualname__} is not one. Use pickle or joblib "
                f"for it (only with files you trust)."
            )
        arrays: dict = {}
        params, missing = {}, {}
        for key, value in self.get_params(deep=False).items():
            try:
                params[key] = encode(value, arrays, f"parameter {key}")
            except Unstorable as exc:
                missing[key] = exc.kind
        attributes = {}
        for key, value in vars(self).items():
            if not is_stored_attribute(key):
                continue
            try:
                attributes[key] = encode(value, arrays, f"fitted attribute {key}")
            except Unstorable as exc:
                raise TypeError(
                    f"Cannot save {type(self).__name__}: {exc} as plain data."
                ) from None
        tensors = {k: torch.from_numpy(a) for k, a in arrays.items()}
        networks = []
        for i, net in enumerate(self.nets_):
            state = net.module_.state_dict()
            for key, tensor in state.items():
                # Copies: safetensors refuses tensors that share memory.
                tensors[f"net.{i}.{key}"] = tensor.detach().cpu().clone()
            # The patience early stopping used: ``patience_``, as the plan
            # resolved it. Nets that trained without early stopping
            # (early_stopping=False, partial_fit) get none.
            stopper = dict(net.callbacks_).get("early_stopping")
            # (Models pickled before patience_ existed: the callback's.)
            resolved = getattr(self, "patience_", getattr(stopper, "patience", None))
            patience = None if stopper is None else int(resolved)
            networks.append(
                {
                    "batch_size": int(net.batch_size),
                    "device": net.device,
                    "patience": patience,
                }
            )
        tensor_bytes = safetensors.torch.save(tensors)
        content = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "estimator": name,
            "versions": versions(),
            "params": params,
            "params_not_stored": missing,
            "attributes": attributes,
            "n_outputs": int(self._n_outputs()),
            "networks": networks,
        }
        header = {**content, "sha256": checksum(content, tensor_bytes)}

        def write(file):
            with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(JSON_NAME, json.dumps(header, indent=1))
                archive.writestr(TENSORS_NAME, tensor_bytes)

        _write_atomically(path, write)

    def save_weights(self, path) -> None:
        """Save the trained networks' weights (state dicts) to ``path``.

        Load them into an estimator fitted with the same settings on the
        same data with :meth:`load_weights`, or start a new one from them
        with ``weights=path``. The file (read with ``torch.load(path,
        weights_only=True)``) is a dict holding the first network's state
        dict under ``"state_dict"``, every member's under ``"ensemble"`` for
        an ensemble, the calibration temperatures under ``"temperatures"``,
        and under ``"skdl_fingerprint"`` a digest of each fitted attribute
        that predictions depend on (the column encoding, the classes, the
        target's scale), which :meth:`load_weights` checks. To save the whole
        model, use :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            Destination file. Its folder must exist.

        Raises
        ------
        FileNotFoundError
            If the destination folder does not exist.
        """
        check_is_fitted(self)
        path = Path(path)
        _check_destination(path)
        states = [finetune.cpu_state_dict(net.module_) for net in self.nets_]
        saved = {"state_dict": states[0], "skdl_fingerprint": self._fingerprints()}
        if len(states) > 1:
            saved["ensemble"] = states
        temperatures = getattr(self, "temperatures_", None)
        if temperatures is not None:
            saved["temperatures"] = torch.as_tensor(temperatures, dtype=torch.float64)
        _write_atomically(path, lambda file: torch.save(saved, file))

    def load_weights(self, path):
        """Load weights saved by :meth:`save_weights` into the networks.

        The estimator must have been fitted with the same settings on data
        encoded the same way: the file's fingerprint of the column encoding,
        classes and target scale must match this estimator's, otherwise the
        networks would receive inputs (or produce outputs) that mean
        something else, and the file is refused. The calibration
        temperatures saved with the weights are restored with them.

        Parameters
        ----------
        path : str or path-like
            File written by :meth:`save_weights`.

        Returns
        -------
        self : object
            The estimator, predicting with the loaded weights.

        Raises
        ------
        ValueError
            If the file holds no state dict, another number of networks,
            networks of another architecture, or weights fitted on
            differently encoded data. Nothing is loaded then.
        """
        check_is_fitted(self)
        nets = self.nets_
        if _is_model_file(path):
            raise ValueError(
                f"{str(path)!r} is a whole model written by save(), not a "
                f"weights file; load it with skdl.load(path)."
            )
        saved = finetune.read_weights_file(path)
        if not isinstance(saved, dict):
            raise ValueError(
                f"{str(path)!r} holds a {type(saved).__name__}, not a state dict "
                f"as written by save_weights()."
            )
        states = saved.get("ensemble", [saved.get("state_dict", saved)])
        if len(states) != len(nets):
            raise ValueError(
                f"{str(path)!r} holds the weights of {len(states)} network(s), "
                f"but this estimator has {len(nets)} (n_ensemble); fit it with "
                f"the settings the file was saved from."
            )
        self._check_fingerprint(saved.get("skdl_fingerprint"), path)
        backup = [
            {k: v.detach().clone() for k, v in net.module_.state_dict().items()}
            for net in nets
        ]
        try:
            for net, state in zip(nets, states):
                finetune.load_state_dict_strict(
                    net.module_, state, f"file {str(path)!r}"
                )
        except BaseException:
            for net, state in zip(nets, backup):
                net.module_.load_state_dict(state)
            raise
        # An image network normalizes its input with its own buffers.
        module = nets[0].module_
        if hasattr(self, "mean_") and isinstance(
            getattr(module, "mean", None), torch.Tensor
        ):
            self.mean_ = module.mean.flatten().cpu().double().numpy()
            self.std_ = module.std.flatten().cpu().double().numpy()
        temperatures = saved.get("temperatures")
        if isinstance(temperatures, torch.Tensor) and hasattr(self, "temperatures_"):
            self.temperatures_ = temperatures.double().numpy().copy()
        return self

    def _check_fingerprint(self, saved, path) -> None:
        if not isinstance(saved, dict):
            warnings.warn(
                f"{str(path)!r} does not record the data encoding its weights "
                f"were trained with (it was not written by save_weights() of "
                f"this skdl version), so skdl cannot check that it matches "
                f"this {type(self).__name__}'s; predictions are wrong if it "
                f"does not.",
                UserWarning,
                stacklevel=3,
            )
            return
        ours = self._fingerprints()
        differ = [k for k in FINGERPRINTED if saved.get(k) != ours.get(k)]
        if differ:
            what = ", ".join(dict.fromkeys(FINGERPRINTED[k] for k in differ))
            raise ValueError(
                f"The weights in {str(path)!r} were trained on data encoded "
                f"differently than this {type(self).__name__}'s (different "
                f"{what}), e.g. fitted on another sample of the table; they "
                f"would give wrong predictions here. Load them into the "
                f"estimator they were saved from, save whole models with "
                f"save() and skdl.load(), or start a new fit from them with "
                f"weights=path."
            )
