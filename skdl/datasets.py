"""Loaders for the real image datasets used by skdl's tests, benchmarks and examples.

The data are not shipped with skdl. They live in a data home folder (see
:func:`get_data_home`) laid out as::

    <data home>/images/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    <data home>/images/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    <data home>/images/cifar10-jpg-subset/{train,test}/<class>/NNNN.jpg
    <data home>/images/hymenoptera_data/{train,val}/{ants,bees}/*.jpg

Array datasets (MNIST, Fashion-MNIST) are returned as ``(X, y)`` arrays;
image-folder datasets as a DataFrame of file paths and labels, ready to pass
to an image estimator, which decodes the files lazily.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "FASHION_MNIST_CLASSES",
    "IMAGE_EXTENSIONS",
    "get_data_home",
    "load_cifar10_subset",
    "load_fashion_mnist",
    "load_hymenoptera",
    "load_image_folder",
    "load_mnist",
]

#: Fashion-MNIST class names, indexed by label.
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: File extensions (lower case) that :func:`load_image_folder` treats as images.
IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".bmp",
        ".tif",
        ".tiff",
        ".webp",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
    }
)

_IDX_IMAGES_MAGIC = 2051
_IDX_LABELS_MAGIC = 2049
_IDX_PREFIX = {"train": "train", "test": "t10k"}


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Return the folder holding skdl's real datasets.

    Parameters
    ----------
    data_home : str, path-like or None, default=None
        The folder. None uses the environment variable ``SKDL_DATA``, else
        ``../shared/data`` relative to the current directory, if it exists.

    Returns
    -------
    path : pathlib.Path
        The existing data folder.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist; the message says how to point skdl at
        the data.
    """
    if data_home is not None:
        path, origin = Path(data_home), "the data_home argument"
    elif os.environ.get("SKDL_DATA"):
        path, origin = Path(os.environ["SKDL_DATA"]), "the SKDL_DATA variable"
    else:
        path, origin = Path("..") / "shared" / "data", "the default location"
    path = path.expanduser().absolute()
    if not path.is_dir():
        raise FileNotFoundError(
            f"skdl's data folder {str(path)!r} (from {origin}) does not exist. "
            f"Pass data_home=... or set the environment variable SKDL_DATA to "
            f"the folder that holds images/ (e.g. export "
            f"SKDL_DATA=/path/to/shared/data)."
        )
    return path


def _check_split(split: str, allowed: tuple[str, ...]) -> None:
    if split not in allowed:
        raise ValueError(f"split must be one of {list(allowed)}, got {split!r}.")


def _check_n_samples(n_samples) -> None:
    if n_samples is None:
        return
    if (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, (int, np.integer))
        or n_samples < 1
    ):
        raise ValueError(
            f"n_samples must be None or a positive int, got {n_samples!r}."
        )


def _read_at_most(f, size: int, chunk: int = 1 << 24) -> bytes:
    """Read up to ``size`` bytes in chunks, stopping at the end of the data.

    A corrupt header may announce billions of items; reading them in one
    call would allocate that much memory up front (a bare MemoryError)
    instead of finding that the file is shorter.
    """
    parts, left = [], size
    while left > 0:
        part = f.read(min(chunk, left))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _read_idx(
    path: Path, magic: int, item_shape: tuple[int, ...], n_samples: int | None
) -> tuple[np.ndarray, int]:
    """Read an IDX file (``.gz``), checking its header and length.

    Returns the first ``n_samples`` items (all if None; only those are
    decompressed) and the item count in the header.
    """
    n_dims = 1 + len(item_shape)
    header_size = 4 + 4 * n_dims
    item_size = int(np.prod(item_shape, dtype=np.int64))
    if not path.is_file():
        raise FileNotFoundError(
            f"IDX file {str(path)!r} does not exist. The data folder must hold "
            f"images/<dataset>/ as laid out in this module's docstring; pass "
            f"data_home=... or set SKDL_DATA to the folder that holds images/."
        )
    try:
        with gzip.open(path, "rb") as f:
            header = f.read(header_size)
            if len(header) < header_size:
                raise ValueError(f"the header is truncated ({len(header)} bytes)")
            values = np.frombuffer(header, dtype=">u4")
            if values[0] != magic:
                raise ValueError(
                    f"its magic number is {values[0]}, expected {magic} "
                    f"({'images' if magic == _IDX_IMAGES_MAGIC else 'labels'})"
                )
            count, dims = int(values[1]), tuple(int(v) for v in values[2:])
            if dims != item_shape:
                raise ValueError(f"its items have shape {dims}, expected {item_shape}")
            n = count if n_samples is None else min(count, int(n_samples))
            data = _read_at_most(f, n * item_size)
            if len(data) != n * item_size:
                raise ValueError(
                    f"it holds {len(data) // item_size} of the {n} items its header "
                    f"announces"
                )
            if n == count and f.read(1):
                raise ValueError("it has data beyond the items its header announces")
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise ValueError(
            f"{str(path)!r} is not a valid IDX file: {exc}. Re-download it."
        ) from exc
    return np.frombuffer(data, dtype=np.uint8).reshape((n, *item_shape)), count


def _load_idx_dataset(name, split, data_home, n_samples):
    _check_split(split, ("train", "test"))
    _check_n_samples(n_samples)
    folder = get_data_home(data_home) / "images" / name
    prefix = _IDX_PREFIX[split]
    images = folder / f"{prefix}-images-idx3-ubyte.gz"
    labels = folder / f"{prefix}-labels-idx1-ubyte.gz"
    X, n_images = _read_idx(images, _IDX_IMAGES_MAGIC, (28, 28), n_samples)
    y, n_labels = _read_idx(labels, _IDX_LABELS_MAGIC, (), n_samples)
    if n_images != n_labels:
        raise ValueError(
            f"{str(images)!r} holds {n_images} images but {str(labels)!r} holds "
            f"{n_labels} labels; the files do not belong together."
        )
    y = y.astype(np.int64)
    if y.size and y.max() > 9:
        raise ValueError(f"{str(labels)!r}: labels must be 0-9, found {y.max()}.")
    return X.copy(), y


def load_fashion_mnist(
    split: str = "train",
    *,
    data_home: str | os.PathLike | None = None,
    n_samples: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST: 28x28 grayscale images of 10 clothing classes.

    Parameters
    ----------
    split : {"train", "test"}, default="train"
        60,000 training or 10,000 test images.
    data_home : str, path-like or None, default=None
        See :func:`get_data_home`.
    n_samples : int or None, default=None
        Return only the first ``n_samples`` images, in file order (the files
        are in random order, so every class appears; the class proportions
        are close to but not exactly balanced). Only that part of the file is
        decompressed. None returns all.

    Returns
    -------
    X : ndarray of shape (n_samples, 28, 28), dtype uint8
        The images.
    y : ndarray of shape (n_samples,), dtype int64
        Labels 0-9; their names are :data:`FASHION_MNIST_CLASSES`.

    Raises
    ------
    ValueError
        If a file is corrupt (bad magic number, dimensions or length).
    FileNotFoundError
        If the data folder or a file is missing.

    Examples
    --------
    >>> from skdl.datasets import load_fashion_mnist
    >>> X, y = load_fashion_mnist(n_samples=100)  # doctest: +SKIP
    >>> X.shape, y[0]  # doctest: +SKIP
    ((100, 28, 28), 9)
    """
    return _load_idx_dataset("fashion-mnist", split, data_home, n_samples)


def load_mnist(
    split: str = "train",
    *,
    data_home: str | os.PathLike | None = None,
    n_samples: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST: 28x28 grayscale images of handwritten digits 0-9.

    Parameters
    ----------
    split : {"train", "test"}, default="train"
        60,000 training or 10,000 test images.
    data_home : str, path-like or None, default=None
        See :func:`get_data_home`.
    n_samples : int or None, default=None
        Return only the first ``n_samples`` images, in file order (see
        :func:`load_fashion_mnist`). None returns all.

    Returns
    -------
    X : ndarray of shape (n_samples, 28, 28), dtype uint8
        The images.
    y : ndarray of shape (n_samples,), dtype int64
        The digits.

    Raises
    ------
    ValueError
        If a file is corrupt (bad magic number, dimensions or length).
    FileNotFoundError
        If the data folder or a file is missing.
    """
    return _load_idx_dataset("mnist", split, data_home, n_samples)


def load_image_folder(root: str | os.PathLike) -> pd.DataFrame:
    """List the images of a folder with one subfolder per class.

    The layout is torchvision's ``ImageFolder``: ``root/<class>/<file>``,
    with files in nested folders below a class folder included. Files with
    an extension in :data:`IMAGE_EXTENSIONS` (any case) are listed; hidden
    files and other files are skipped. Nothing is decoded.

    Parameters
    ----------
    root : str or path-like
        The folder holding the class folders.

    Returns
    -------
    frame : pandas.DataFrame
        Columns ``path`` (absolute path, str) and ``label`` (the class
        folder's name), sorted by label, then path.

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a folder.
    ValueError
        If no image is found under a class folder of ``root``.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"Image folder {str(root)!r} does not exist.")
    rows = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if class_dir.name.startswith("."):
            continue
        for dirpath, dirnames, filenames in os.walk(class_dir):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith("."):
                    continue
                if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                    path = os.path.abspath(os.path.join(dirpath, name))
                    rows.append((path, class_dir.name))
    if not rows:
        raise ValueError(
            f"No images found in {str(root)!r}: expected one subfolder per class "
            f"holding files with extensions {sorted(IMAGE_EXTENSIONS)}."
        )
    rows.sort(key=lambda row: (row[1], row[0]))
    return pd.DataFrame(rows, columns=["path", "label"])


def load_cifar10_subset(
    split: str = "train", *, data_home: str | os.PathLike | None = None
) -> pd.DataFrame:
    """List a CIFAR-10 subset stored as 32x32 RGB JPEG files.

    Parameters
    ----------
    split : {"train", "test"}, default="train"
        500 images per class (5,000) or 100 per class (1,000).
    data_home : str, path-like or None, default=None
        See :func:`get_data_home`.

    Returns
    -------
    frame : pandas.DataFrame
        Columns ``path`` and ``label`` (``"airplane"``, ``"automobile"``,
        ...); see :func:`load_image_folder`.
    """
    _check_split(split, ("train", "test"))
    root = get_data_home(data_home) / "images" / "cifar10-jpg-subset" / split
    return load_image_folder(root)


def load_hymenoptera(
    split: str = "train", *, data_home: str | os.PathLike | None = None
) -> pd.DataFrame:
    """List the ants-vs-bees images of PyTorch's transfer-learning tutorial.

    RGB images of varying size (mostly about 500x375); the training split
    also holds a palette GIF (``ants/imageNotFound.gif``) and a ``.jpeg``
    file, as in the official archive.

    Parameters
    ----------
    split : {"train", "val"}, default="train"
        245 training or 153 validation images.
    data_home : str, path-like or None, default=None
        See :func:`get_data_home`.

    Returns
    -------
    frame : pandas.DataFrame
        Columns ``path`` and ``label`` (``"ants"`` or ``"bees"``); see
        :func:`load_image_folder`.
    """
    _check_split(split, ("train", "val"))
    root = get_data_home(data_home) / "images" / "hymenoptera_data" / split
    return load_image_folder(root)
