"""Image inputs given as file paths, decoded lazily one batch at a time.

:func:`resolve_paths` recognises file input (a list or array of paths, a
pandas Series, or a DataFrame column) and checks that the files exist;
:func:`scan_images` reads their headers; :class:`FileImageDataset` holds only
the paths and decodes each batch when it is needed, in the main process or in
DataLoader worker processes. It implements the batch protocol of
:class:`skdl._training.data.TensorDataset`, so skdl's estimators train on it unchanged.

Worker processes
----------------
With ``num_workers > 0`` each dataset keeps one pool of persistent workers, so
later epochs do not pay the start-up again. The pool stops when the dataset is
closed (:meth:`FileImageDataset.close`, or a ``with`` block) or garbage
collected; skdl's estimators close their datasets when ``fit`` or ``predict``
returns, so no worker outlives the call. Workers are started with
``fork`` on Linux with Python < 3.12 (fast, and safe here: workers only run
PIL and single-threaded torch code). Where ``fork`` is unavailable or
deprecated for multi-threaded processes (Python >= 3.12) they use
``forkserver`` or ``spawn``, which re-import the main script: scripts that use
workers there need the usual ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

from ._decode import (
    ImageDecodeError,
    ImageScan,
    check_same_size,
    decode_image,
    load_images,
    normalize_image_size,
    scan_images,
)

__all__ = [
    "FileImageDataset",
    "ImageDecodeError",
    "ImageScan",
    "check_training_files",
    "load_images",
    "resolve_paths",
    "scan_images",
]

#: Column names tried, case-insensitively, when a DataFrame has several columns.
PATH_COLUMNS = ("path", "filepath", "file", "filename", "image", "image_path")

Batch = tuple[dict[str, torch.Tensor], "torch.Tensor | None"]

# Overridable for tests; None picks the start method with `_start_method`.
_START_METHOD: str | None = None


# ---------------------------------------------------------------- file input
def resolve_paths(X, path_column: str | None = None) -> list[str] | None:
    """Return the image file paths in X, or None if X is not file input.

    Parameters
    ----------
    X : object
        File input is a list, tuple or 1-D array of str or path-like objects
        (a 2-D array with one column is accepted too), a pandas Series of
        str, or a DataFrame with a column of paths. Other columns of a
        DataFrame are ignored.
    path_column : str or None, default=None
        The DataFrame column holding the paths. None picks the only column
        of a one-column frame, else the first column named (ignoring case)
        one of ``"path"``, ``"filepath"``, ``"file"``, ``"filename"``,
        ``"image"`` or ``"image_path"``. Ignored for other kinds of X.

    Returns
    -------
    paths : list of str or None
        Absolute paths, in the order of X; None when X holds no strings or
        paths (numeric arrays, nested lists), so that the caller can treat
        it as pixel arrays.

    Raises
    ------
    ValueError
        If X is empty, mixes paths with other values (e.g. missing values),
        or is a DataFrame whose path column cannot be determined.
    FileNotFoundError
        If files do not exist; the message names the first few.
    """
    if isinstance(X, pd.DataFrame):
        column = _path_column(X, path_column)
        if column is None:
            return None
        values = X[column].tolist()
        where = f"column {column!r} of X"
    elif isinstance(X, pd.Series):
        values = X.tolist()
        where = "X"
    elif isinstance(X, np.ndarray):
        if X.dtype.kind not in "OU" or X.ndim not in (1, 2):
            return None
        if X.ndim == 2:
            if X.shape[1] != 1:
                return None
            X = X[:, 0]
        values = X.tolist()
        where = "X"
    elif isinstance(X, (list, tuple)):
        values = list(X)
        where = "X"
    elif isinstance(X, (str, os.PathLike)):
        raise ValueError(
            f"X is a single path ({os.fspath(X)!r}); pass a list of image file "
            f"paths, e.g. [path]."
        )
    else:
        return None
    return _check_paths(values, where)


def _is_path(value) -> bool:
    return isinstance(value, (str, os.PathLike))


def _is_text_column(series: pd.Series) -> bool:
    if pd.api.types.is_string_dtype(series.dtype):
        return True
    return series.dtype == object and any(_is_path(v) for v in series.head(20))


def _path_column(X: pd.DataFrame, path_column: str | None):
    columns = list(X.columns)
    if path_column is not None:
        if path_column not in columns:
            raise ValueError(
                f"path_column={path_column!r} is not a column of X; its columns "
                f"are {columns}."
            )
        return path_column
    if len(columns) == 1:
        return columns[0]
    lowered = {str(c).lower(): c for c in columns}
    for name in PATH_COLUMNS:
        if name in lowered:
            return lowered[name]
    if not any(_is_text_column(X[c]) for c in columns):
        return None
    raise ValueError(
        f"Could not tell which column of X holds the image paths: none is "
        f"named one of {list(PATH_COLUMNS)}. The columns are {columns}; pass "
        f"path_column='<name>' to choose one."
    )


def _check_paths(values: list, where: str) -> list[str] | None:
    if len(values) == 0:
        raise ValueError(f"{where} is empty: expected at least one image.")
    flags = [_is_path(v) for v in values]
    if not any(flags):
        return None
    if not all(flags):
        bad = flags.index(False)
        raise ValueError(
            f"{where} mixes image paths with other values: entry {bad} is "
            f"{values[bad]!r}. Every entry must be a file path (str or "
            f"path-like); drop or fill missing entries."
        )
    paths = [os.path.abspath(os.fspath(v)) for v in values]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        shown = ", ".join(repr(p) for p in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise FileNotFoundError(
            f"{len(missing)} of {len(paths)} image files in {where} do not exist "
            f"or are not files: {shown}{more}."
        )
    return paths


# ------------------------------------------------------------------- dataset
class _Decoder(Dataset):
    """The picklable part of a FileImageDataset that workers receive.

    It holds no reference to the dataset, so a dataset's worker pool does
    not keep the dataset alive.
    """

    def __init__(self, paths: np.ndarray, mode: str, size) -> None:
        self.paths = paths
        self.mode = mode
        self.size = size
        # Workers started by forkserver or spawn do not see a limit the user
        # raised in the main process; they take it from here.
        self.max_image_pixels = Image.MAX_IMAGE_PIXELS

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.decode_batch([i])[0]

    def __getitems__(self, indices: list[int]) -> torch.Tensor:
        # DataLoader calls this with a whole batch of indices.
        return self.decode_batch(indices)

    def decode_batch(self, indices) -> torch.Tensor:
        """Decode the files ``indices`` into a float32 (N, C, H, W) tensor."""
        paths = self.paths[np.asarray(indices, dtype=np.intp)]
        if get_worker_info() is not None:
            Image.MAX_IMAGE_PIXELS = getattr(
                self, "max_image_pixels", Image.MAX_IMAGE_PIXELS
            )
        arrays = [decode_image(p, self.mode, self.size) for p in paths]
        check_same_size([a.shape for a in arrays], paths)
        channels = 1 if self.mode == "L" else 3
        height, width = arrays[0].shape[:2] if arrays else self.size or (0, 0)
        out = torch.empty((len(arrays), channels, height, width))
        if get_worker_info() is not None:
            # Written straight into shared memory: no copy when it is sent to
            # the main process.
            out.share_memory_()
        # numpy, not torch, for the conversion: torch's intra-op threads
        # slow this small elementwise work down badly on a busy machine.
        target = out.numpy()
        for row, a in zip(target, arrays):
            np.divide(
                a.transpose(2, 0, 1),
                np.float32(255.0 if a.dtype == np.uint8 else 1.0),
                out=row,
                dtype=np.float32,
            )
        return out


def _identity(batch):
    return batch


class _OrderSampler(Sampler):
    """A batch sampler replaying lists of indices set before each pass."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def _start_method() -> str:
    if _START_METHOD is not None:
        return _START_METHOD
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and sys.platform == "linux" and sys.version_info < (3, 12):
        return "fork"
    if "forkserver" in methods:
        return "forkserver"
    return "spawn"


class _WorkerPool:
    """A DataLoader with persistent workers, reused across passes."""

    def __init__(self, decoder: _Decoder, num_workers: int, pin_memory: bool):
        self.key = (num_workers, pin_memory)
        self.sampler = _OrderSampler()
        self.busy = False
        method = _start_method()
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            context.set_forkserver_preload([__name__])
        self.loader = DataLoader(
            decoder,
            batch_sampler=self.sampler,
            num_workers=num_workers,
            collate_fn=_identity,
            pin_memory=pin_memory,
            persistent_workers=True,
            multiprocessing_context=context,
        )

    def close(self) -> None:
        """Stop the worker processes now.

        Left to garbage collection, a pool caught in a reference cycle (as
        after an exception) may be finalized after its queues, and each
        worker then takes seconds to time out.
        """
        iterator = getattr(self.loader, "_iterator", None)
        self.loader._iterator = None
        shutdown = getattr(iterator, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()


def check_training_files(paths, size: tuple[int, int] | None) -> ImageScan:
    """Scan training image files; they need one size or an ``image_size``."""
    scan = scan_images(list(paths))
    if size is None and scan.size is None:
        raise ValueError(
            f"The image files come in {len(scan.sizes)} different sizes "
            f"(height x width: {scan.describe_sizes()}); set "
            f"image_size=(H, W), e.g. image_size=224, so they can be resized "
            f"to one size."
        )
    return scan


class FileImageDataset(Dataset):
    """Image files decoded lazily, one batch at a time.

    Only the paths are stored; pixels exist just for the batch being
    produced. Each image is decoded with PIL, converted to ``mode`` and, if
    ``image_size`` is given, resized with PIL's antialiased bilinear filter
    (see :func:`skdl.vision._decode.decode_image`).

    Parameters
    ----------
    paths : sequence of str or path-like
        The image files, e.g. from :func:`resolve_paths`.
    mode : {"L", "RGB"}
        Colour mode to decode to, e.g. ``scan_images(paths).mode``.
    image_size : int, (int, int) or None, default=None
        ``(height, width)`` to resize every image to; an int means a square.
        None keeps the stored size, and then every batch must have images of
        one size.
    y : torch.Tensor, array-like or None, default=None
        Encoded target, one row per path.
    sample_weight : torch.Tensor, array-like or None, default=None
        Per-sample loss weights; they travel with the batch under the key
        ``"sample_weight"``.

    Attributes
    ----------
    paths : ndarray of str (dtype object)
        The absolute paths.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike],
        *,
        mode: str,
        image_size=None,
        y=None,
        sample_weight=None,
    ) -> None:
        if mode not in ("L", "RGB"):
            raise ValueError(f"mode must be 'L' or 'RGB', got {mode!r}.")
        array = np.empty(len(paths), dtype=object)
        array[:] = [os.path.abspath(os.fspath(p)) for p in paths]
        self.paths = array
        self.mode = mode
        self.image_size = normalize_image_size(image_size)
        self.y = None if y is None else torch.as_tensor(y)
        self.sample_weight = (
            None
            if sample_weight is None
            else torch.as_tensor(sample_weight, dtype=torch.float32)
        )
        for name, values in (("y", self.y), ("sample_weight", self.sample_weight)):
            if values is not None and len(values) != len(array):
                raise ValueError(
                    f"{name} has {len(values)} rows but there are {len(array)} paths."
                )
        self._decoder = _Decoder(array, mode, self.image_size)
        self._pool: _WorkerPool | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def __getstate__(self) -> dict:
        # Worker processes cannot be pickled; a copy starts its own.
        state = self.__dict__.copy()
        state["_pool"] = None
        return state

    def __getitem__(self, i: int):
        # Only for generic consumers such as a plain DataLoader; skdl itself
        # iterates with ``batches``.
        x = {"x": self._decoder[i]}
        if self.sample_weight is not None:
            x["sample_weight"] = self.sample_weight[i]
        return x, (self.y[i] if self.y is not None else torch.zeros(()))

    def subset(self, index: np.ndarray) -> FileImageDataset:
        """Return the rows ``index`` as a new dataset."""
        index = np.asarray(index, dtype=np.intp)
        idx = torch.as_tensor(index, dtype=torch.long)
        return FileImageDataset(
            self.paths[index],
            mode=self.mode,
            image_size=self.image_size,
            y=None if self.y is None else self.y[idx],
            sample_weight=None
            if self.sample_weight is None
            else self.sample_weight[idx],
        )

    def n_batches(self, batch_size: int) -> int:
        """Number of batches of ``batch_size`` in one pass."""
        return math.ceil(len(self) / batch_size)

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        rng: np.random.Generator | None = None,
        transform: Callable[[dict, torch.Tensor | None], Batch] | None = None,
        num_workers: int = 0,
        pin_memory: bool | None = None,
        **_: object,
    ) -> Iterator[Batch]:
        """Yield ``(inputs, y)`` batches, decoding the files of each.

        Parameters
        ----------
        batch_size : int
            Images per batch; the last batch may be smaller.
        shuffle : bool, default=False
            Visit the images in a permutation drawn from ``rng``.
        rng : numpy.random.Generator or None, default=None
            Source of the permutation; a fresh one is drawn on every pass.
        transform : callable or None, default=None
            ``transform(inputs, y) -> (inputs, y)`` applied to each batch in
            the main process (augmentation).
        num_workers : int, default=0
            Worker processes decoding batches ahead; 0 decodes in this
            process.
        pin_memory : bool or None, default=None
            Return batches in page-locked memory (faster copies to a GPU).
            None pins when CUDA is available. Only used with workers.

        Yields
        ------
        inputs : dict of str to torch.Tensor
            ``"x"``: float32 ``(N, C, H, W)`` in [0, 1]; ``"sample_weight"``:
            float32 ``(N,)`` when weights were given.
        y : torch.Tensor or None
            The matching rows of the target.
        """
        n = len(self)
        if shuffle:
            rng = rng if rng is not None else np.random.default_rng()
            order = rng.permutation(n)
        else:
            order = np.arange(n)
        index_batches = [order[s : s + batch_size] for s in range(0, n, batch_size)]
        if num_workers > 0 and index_batches:
            if pin_memory is None:
                pin_memory = torch.cuda.is_available()
            images = self._from_workers(index_batches, num_workers, pin_memory)
        else:
            images = (self._decoder.decode_batch(idx) for idx in index_batches)
        # Driven by `images`, so that the worker pass runs to its end.
        for i, x in enumerate(images):
            rows = torch.from_numpy(index_batches[i])
            inputs = {"x": x}
            if self.sample_weight is not None:
                inputs["sample_weight"] = self.sample_weight[rows]
            yb = None if self.y is None else self.y[rows]
            if transform is not None:
                inputs, yb = transform(inputs, yb)
            yield inputs, yb

    def _from_workers(
        self, index_batches: list[np.ndarray], num_workers: int, pin_memory: bool
    ) -> Iterator[torch.Tensor]:
        pool = self._pool
        if pool is None or pool.busy or pool.key != (num_workers, pin_memory):
            pool = _WorkerPool(self._decoder, num_workers, pin_memory)
            if self._pool is None or not self._pool.busy:
                self._pool = pool
        pool.busy = True
        pool.sampler.batches = [idx.tolist() for idx in index_batches]
        try:
            yield from pool.loader
        except BaseException:
            # A failed or abandoned pass leaves the workers mid-epoch; start
            # afresh next time rather than reuse them.
            if self._pool is pool:
                self._pool = None
            pool.close()
            raise
        finally:
            pool.busy = False

    def close(self) -> None:
        """Stop this dataset's worker processes, if it started any.

        Workers persist between passes so that later epochs start at once;
        they also stop when the dataset is garbage collected. The dataset
        stays usable: a later pass with workers starts new ones.
        """
        pool, self._pool = self._pool, None
        if pool is not None and not pool.busy:
            pool.close()

    def __enter__(self) -> FileImageDataset:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
