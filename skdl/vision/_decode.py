"""Reading image files: header scans and per-file decoding with PIL.

Everything here works on one file at a time and is free of torch, so it runs
the same in the main process and in DataLoader worker processes.

Colour handling
---------------
A set of files is decoded to one colour mode, chosen by :func:`scan_images`:
``"L"`` (one channel) when every file is grayscale, else ``"RGB"``. Alpha
channels are dropped (as torchvision's default loader does), palette and CMYK
images are converted to RGB, and 16-bit or 32-bit grayscale images are scaled
from their full integer range (``I;16``: 0-65535) to [0, 1] instead of being
clipped at 255 as PIL's own ``convert("L")`` would.

EXIF orientation tags are not applied: pixels are used as stored, which is
what torchvision's ``ImageFolder`` does too.
"""

from __future__ import annotations

import numbers
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

__all__ = [
    "GRAYSCALE_MODES",
    "ImageDecodeError",
    "ImageScan",
    "check_same_size",
    "decode_image",
    "image_array",
    "load_images",
    "normalize_image_size",
    "pil_images_to_arrays",
    "scan_images",
]

#: PIL modes decoded to one channel; every other mode becomes RGB.
GRAYSCALE_MODES = frozenset(
    {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
)
# Modes whose values do not fit uint8; they are scaled to [0, 1] by hand.
_INTEGER_WIDE = {"I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0}
_INTEGER_WIDE |= {"I;16N": 65535.0, "I": 65535.0}
_RESAMPLE = Image.Resampling.BILINEAR


class ImageDecodeError(OSError, ValueError):
    """An image file could not be opened or decoded; the message names it.

    It subclasses :class:`OSError` (what PIL raises for unreadable files) and
    :class:`ValueError` (bad input), and it takes a single message argument
    so that it survives being re-raised from a DataLoader worker process.
    """


@dataclass(frozen=True)
class ImageScan:
    """What the headers of a set of image files say.

    Attributes
    ----------
    mode : {"L", "RGB"}
        The colour mode every file is decoded to: ``"L"`` only when all files
        are grayscale, else ``"RGB"``.
    sizes : dict of (int, int) to int
        Number of files of each ``(height, width)``.
    source_modes : dict of str to int
        Number of files of each PIL mode as stored (``"RGB"``, ``"P"``, ...).
    n_images : int
        Number of files scanned.
    """

    mode: str
    sizes: dict[tuple[int, int], int] = field(repr=False)
    source_modes: dict[str, int] = field(repr=False)
    n_images: int

    @property
    def n_channels(self) -> int:
        """Channels after decoding: 1 for ``"L"``, 3 for ``"RGB"``."""
        return 1 if self.mode == "L" else 3

    @property
    def size(self) -> tuple[int, int] | None:
        """The common ``(height, width)``, or None when sizes differ."""
        return next(iter(self.sizes)) if len(self.sizes) == 1 else None

    def describe_sizes(self, limit: int = 5) -> str:
        """The most common sizes as ``"HxW (count)"``, for messages."""
        common = sorted(self.sizes.items(), key=lambda kv: -kv[1])
        parts = [f"{h}x{w} ({n})" for (h, w), n in common[:limit]]
        if len(common) > limit:
            parts.append(f"... {len(common) - limit} more")
        return ", ".join(parts)


def _open_error(path: str, exc: BaseException) -> ImageDecodeError:
    if isinstance(exc, Image.DecompressionBombError):
        return ImageDecodeError(
            f"Image file {path!r} is too large for PIL's decompression-bomb "
            f"guard ({exc}); a file this large can be an attack that exhausts "
            f"memory. If you trust it, raise the limit knowingly before fitting "
            f"or predicting, e.g. PIL.Image.MAX_IMAGE_PIXELS = 300_000_000 "
            f"(None removes the guard), or shrink the file."
        )
    return ImageDecodeError(
        f"Could not read image file {path!r}: {type(exc).__name__}: {exc}. "
        f"The file is missing, unreadable, corrupt or not an image format "
        f"PIL supports; fix or remove it."
    )


def scan_images(paths: Sequence[str | os.PathLike]) -> ImageScan:
    """Read the headers of image files to find their colour mode and sizes.

    Only headers are read (PIL opens files lazily), so scanning tens of
    thousands of files takes seconds. Corrupt pixel data further into a file
    is only found when it is decoded.

    Parameters
    ----------
    paths : sequence of str or path-like
        The image files.

    Returns
    -------
    scan : ImageScan
        The decoding mode (``"L"`` if every file is grayscale, else
        ``"RGB"``), the sizes seen and the stored PIL modes.

    Raises
    ------
    ImageDecodeError
        If a file cannot be opened or is not a recognised image; the message
        names the file.
    ValueError
        If ``paths`` is empty.
    """
    if len(paths) == 0:
        raise ValueError("scan_images needs at least one image file, got none.")
    sizes: Counter = Counter()
    modes: Counter = Counter()
    for path in paths:
        path = os.fspath(path)
        try:
            with Image.open(path) as im:
                width, height = im.size
                modes[im.mode] += 1
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise _open_error(path, exc) from exc
        sizes[(height, width)] += 1
    mode = "L" if all(m in GRAYSCALE_MODES for m in modes) else "RGB"
    return ImageScan(
        mode=mode, sizes=dict(sizes), source_modes=dict(modes), n_images=len(paths)
    )


def normalize_image_size(image_size) -> tuple[int, int] | None:
    """Turn ``image_size`` (None, an int or ``(height, width)``) into a pair.

    An int ``s`` means ``(s, s)``: images are resized to a square, changing
    their aspect ratio if needed, so that every batch has one shape.
    """
    if image_size is None:
        return None
    values = (image_size, image_size) if _is_int(image_size) else image_size
    try:
        valid = len(values) == 2 and all(_is_int(v) and v >= 1 for v in values)
    except TypeError:
        valid = False
    if not valid:
        raise ValueError(
            f"image_size must be None, a positive int or a (height, width) pair "
            f"of positive ints, got {image_size!r}."
        )
    return int(values[0]), int(values[1])


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _to_mode(im: Image.Image, mode: str) -> Image.Image:
    """Convert an 8-bit image to ``mode``, dropping any alpha channel."""
    if im.mode == mode:
        return im
    if (im.mode in ("P", "PA") and "transparency" in im.info) or im.mode == "La":
        # Going through RGBA avoids PIL's palette-transparency warning and
        # the unsupported La -> L conversion.
        im = im.convert("RGBA")
    return im.convert(mode)


def decode_image(
    path: str, mode: str, size: tuple[int, int] | None = None
) -> np.ndarray:
    """Decode one image file to an ``(H, W, C)`` array in ``mode``.

    Parameters
    ----------
    path : str
        The image file. Multi-frame files (animated GIF, TIFF) give their
        first frame.
    mode : {"L", "RGB"}
        Colour mode to convert to.
    size : (int, int) or None
        ``(height, width)`` to resize to with PIL's antialiased bilinear
        filter, or None to keep the stored size. Large JPEGs are first
        decoded at a reduced scale (PIL's ``draft``, a power of two no
        smaller than ``size``), which is several times faster.

    Returns
    -------
    image : ndarray of shape (H, W, C)
        ``uint8`` for 8-bit images; ``float32`` in [0, 1] for 16-bit and
        32-bit grayscale images, whose range does not fit in ``uint8``.

    Raises
    ------
    ImageDecodeError
        If the file cannot be opened or its pixel data is corrupt or
        truncated; the message names the file.
    """
    try:
        with Image.open(path) as im:
            if size is not None and im.format == "JPEG":
                im.draft(None, (size[1], size[0]))
            im.load()
            array = image_array(im, mode, size)
    except ImageDecodeError:
        raise
    except (
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        Image.DecompressionBombError,
    ) as exc:
        raise _open_error(path, exc) from exc
    if array.ndim == 2:
        array = array[:, :, None]
    return array


def image_array(
    im: Image.Image, mode: str, size: tuple[int, int] | None = None
) -> np.ndarray:
    """A loaded PIL image as an array in ``mode``, by the module's colour rules.

    Parameters
    ----------
    im : PIL.Image.Image
        The image, loaded.
    mode : {"L", "RGB"}
        Colour mode to convert to.
    size : (int, int) or None, default=None
        ``(height, width)`` to resize to, or None to keep the size.

    Returns
    -------
    image : ndarray of shape (H, W) or (H, W, 3)
        ``uint8`` for 8-bit images, ``float32`` in [0, 1] for wider ones.
    """
    if im.mode in _INTEGER_WIDE or im.mode == "F":
        return _wide_to_float(im, mode, size)
    im = _to_mode(im, mode)
    if size is not None and im.size != (size[1], size[0]):
        im = im.resize((size[1], size[0]), _RESAMPLE)
    return np.asarray(im)


def pil_images_to_arrays(images: Sequence) -> list:
    """The PIL images of a list as arrays, decoded as image files would be.

    One colour mode for all of them (``"L"`` when every PIL image is
    grayscale, else ``"RGB"``), so that they stack; other items (arrays) are
    returned as they are.

    Parameters
    ----------
    images : sequence
        PIL images, possibly mixed with arrays.

    Returns
    -------
    arrays : list
        ``(H, W)`` or ``(H, W, 3)`` arrays in place of the PIL images.
    """
    pil = [im for im in images if isinstance(im, Image.Image)]
    mode = "L" if all(im.mode in GRAYSCALE_MODES for im in pil) else "RGB"
    return [
        image_array(im, mode) if isinstance(im, Image.Image) else im for im in images
    ]


def _wide_to_float(
    im: Image.Image, mode: str, size: tuple[int, int] | None
) -> np.ndarray:
    """A 16/32-bit or float grayscale image as float32 in [0, 1]."""
    scale = _INTEGER_WIDE.get(im.mode, 1.0)
    gray = np.asarray(im).astype(np.float32) / np.float32(scale)
    np.clip(gray, 0.0, 1.0, out=gray)
    if size is not None and gray.shape != size:
        resized = Image.fromarray(gray, mode="F").resize((size[1], size[0]), _RESAMPLE)
        gray = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    if mode == "RGB":
        return np.repeat(gray[:, :, None], 3, axis=2)
    return gray


def load_images(
    paths: Sequence[str | os.PathLike],
    *,
    mode: str | None = None,
    image_size=None,
) -> np.ndarray:
    """Decode image files fully into one ``uint8`` array, in memory.

    Meant for previews, plots and small sets: unlike the lazy datasets used
    in training, every pixel is held in memory at once.

    Parameters
    ----------
    paths : sequence of str or path-like
        The image files.
    mode : {"L", "RGB"} or None, default=None
        Colour mode; None picks it with :func:`scan_images`.
    image_size : int, (int, int) or None, default=None
        Resize every image to this size (an int means a square). Required
        when the files have different sizes.

    Returns
    -------
    images : ndarray of shape (n_images, height, width, channels), dtype uint8
        16-bit images are rounded to 8 bits.

    Raises
    ------
    ValueError
        If the images have different sizes and ``image_size`` is None.
    ImageDecodeError
        If a file cannot be decoded; the message names it.
    """
    paths = [os.fspath(p) for p in paths]
    if mode is None:
        mode = scan_images(paths).mode
    if mode not in ("L", "RGB"):
        raise ValueError(f"mode must be 'L' or 'RGB', got {mode!r}.")
    size = normalize_image_size(image_size)
    arrays = []
    for path in paths:
        array = decode_image(path, mode, size)
        if array.dtype != np.uint8:
            array = np.round(array * 255).astype(np.uint8)
        arrays.append(array)
    check_same_size([a.shape[:2] for a in arrays], paths)
    if not arrays:
        channels = 1 if mode == "L" else 3
        height, width = size if size is not None else (0, 0)
        return np.empty((0, height, width, channels), dtype=np.uint8)
    return np.stack(arrays)


def check_same_size(shapes: Sequence[tuple[int, ...]], paths: Sequence[str]) -> None:
    """Raise a ValueError naming files of different sizes (``(H, W)`` shapes).

    Parameters
    ----------
    shapes : sequence of tuple
        ``(height, width, ...)`` of each decoded image.
    paths : sequence of str
        The matching files.
    """
    seen: dict[tuple[int, int], str] = {}
    for shape, path in zip(shapes, paths):
        seen.setdefault((int(shape[0]), int(shape[1])), path)
    if len(seen) <= 1:
        return
    examples = "; ".join(f"{h}x{w}: {p!r}" for (h, w), p in list(seen.items())[:5])
    raise ValueError(
        f"The images have different sizes ({len(seen)} distinct (height x width)"
        f", e.g. {examples}). Set image_size (an int or a (height, width) pair) "
        f"to resize every image to one size."
    )
