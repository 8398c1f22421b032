"""Reading images and masks from disk into arrays, in parallel, with errors that name the file.

Decoding goes through Pillow, which releases the GIL while it inflates a PNG or decodes a JPEG,
so a thread pool speeds up a batch about as many times as there are cores.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from harness.data.errors import DataLayoutError

__all__ = ["image_shape", "read_images", "read_masks"]

#: Errors Pillow raises on a file that is not an image, is truncated or has a broken chunk.
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)
#: Image modes whose pixel values are read as-is for a mask (anything else is converted to RGB).
_SCALAR_MODES = ("1", "L", "I", "I;16", "I;16B", "I;16L", "F")
#: Below this many files a batch is decoded in the calling thread.
_MIN_PARALLEL = 8


def _decode_error(path: str | Path, exc: BaseException, what: str = "image") -> DataLayoutError:
    msg = (
        f"{what} {path} cannot be decoded ({type(exc).__name__}: {exc}); the file is truncated, "
        "corrupt or not an image. Re-extract it from the dataset archive."
    )
    return DataLayoutError(msg)


def image_shape(path: str | Path, *, what: str = "image") -> tuple[int, int]:
    """Return ``(height, width)`` of an image file, reading only its header.

    Args:
        path: Image file.
        what: Word used for the file in the error message (``"image"``, ``"mask"``).

    Raises:
        DataLayoutError: The file does not exist or its header cannot be parsed; names the file.

    Example:
        >>> image_shape("bottle/train/good/000.png")  # doctest: +SKIP
        (900, 900)
    """
    try:
        with Image.open(path) as img:
            width, height = img.size
    except FileNotFoundError as exc:
        msg = f"{what} {path} does not exist."
        raise DataLayoutError(msg) from exc
    except _DECODE_ERRORS as exc:
        raise _decode_error(path, exc, what) from exc
    return height, width


def _normalize_size(size: int | Sequence[int] | None, name: str) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, (int, np.integer)):
        pair = (int(size), int(size))
    else:
        pair = tuple(int(s) for s in size)
    if len(pair) != 2 or min(pair) < 1:
        msg = f"{name} must be None, a positive int or a (height, width) pair; got {size!r}."
        raise ValueError(msg)
    return pair  # type: ignore[return-value]


def _run(fn: Callable[[int], None], n_items: int, n_workers: int | None) -> None:
    workers = n_workers if n_workers is not None else min(8, os.cpu_count() or 1)
    if workers <= 1 or n_items < _MIN_PARALLEL:
        for i in range(n_items):
            fn(i)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # list() re-raises the first worker exception in the caller.
        list(pool.map(fn, range(n_items)))


def _decode_rgb(path: str, shape: tuple[int, int] | None) -> np.ndarray:
    try:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
            if shape is not None and rgb.size != (shape[1], shape[0]):
                rgb = rgb.resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
            return np.asarray(rgb, dtype=np.uint8)
    except FileNotFoundError as exc:
        msg = f"image {path} does not exist."
        raise DataLayoutError(msg) from exc
    except _DECODE_ERRORS as exc:
        raise _decode_error(path, exc) from exc


def read_images(
    paths: Iterable[str | Path],
    size: int | Sequence[int] | None = None,
    *,
    n_workers: int | None = None,
) -> np.ndarray:
    """Decode image files into one RGB batch.

    Grayscale, palette and RGBA images are converted to RGB (alpha is dropped).

    Args:
        paths: Image files, e.g. the ``image_path`` column of an index.
        size: ``None`` keeps the native size, which must then be the same for every image; an int
            ``s`` resizes to ``s x s``, a ``(height, width)`` pair to that size (bilinear).
        n_workers: Decoding threads; ``None`` means ``min(8, os.cpu_count())``, 1 decodes serially.

    Returns:
        uint8 array of shape (n_images, H, W, 3).

    Raises:
        DataLayoutError: A file is missing or cannot be decoded, or native sizes differ; names the file.

    Example:
        >>> read_images(index.image_path, 128).shape  # doctest: +SKIP
        (83, 128, 128, 3)
    """
    files = [str(p) for p in paths]
    shape = _normalize_size(size, "size")
    if shape is None:
        if not files:
            return np.zeros((0, 0, 0, 3), dtype=np.uint8)
        shape = image_shape(files[0])
        for path in files[1:]:
            other = image_shape(path)
            if other != shape:
                msg = (
                    f"images of one batch must share a size when size=None; {files[0]} is {shape} "
                    f"(height, width) but {path} is {other}. Pass size= to resize them."
                )
                raise DataLayoutError(msg)
        native = True
    else:
        native = False
    out = np.empty((len(files), shape[0], shape[1], 3), dtype=np.uint8)

    def _one(i: int) -> None:
        out[i] = _decode_rgb(files[i], None if native else shape)

    _run(_one, len(files), n_workers)
    return out


def _decode_mask(path: str, shape: tuple[int, int] | None) -> np.ndarray:
    try:
        with Image.open(path) as img:
            if img.mode in _SCALAR_MODES:
                values = np.asarray(img)
                mask = values != 0 if values.ndim == 2 else values.any(axis=-1)
            else:
                mask = np.asarray(img.convert("RGB")).any(axis=-1)
    except FileNotFoundError as exc:
        msg = f"mask {path} does not exist."
        raise DataLayoutError(msg) from exc
    except _DECODE_ERRORS as exc:
        raise _decode_error(path, exc, "mask") from exc
    if shape is not None and mask.shape != shape:
        resized = Image.fromarray(mask.astype(np.uint8) * 255).resize((shape[1], shape[0]), Image.Resampling.NEAREST)
        mask = np.asarray(resized) > 0
    return mask


def read_masks(
    paths: Iterable[str | Path | None],
    shape: Sequence[int] | None = None,
    *,
    n_workers: int | None = None,
) -> np.ndarray:
    """Decode ground-truth masks into one boolean batch; any nonzero pixel is anomalous.

    Masks stored as 0/255 (MVTec AD), 0/1 or with class indices (VisA) all read the same way.

    Args:
        paths: Mask files, e.g. the ``mask_path`` column of an index; ``""`` or ``None`` stands for
            a good image and gives an all-False mask.
        shape: ``(height, width)`` of the output, normally the native image size. A mask of another
            size is resized with nearest-neighbour sampling (exact only when sizes match, which
            the loaders guarantee between a mask and its image). ``None`` keeps the native mask
            size, which must then be the same for every mask, and needs at least one mask file.
        n_workers: Decoding threads; ``None`` means ``min(8, os.cpu_count())``.

    Returns:
        bool array of shape (n_images, H, W).

    Raises:
        DataLayoutError: A file is missing or cannot be decoded; names the file.
        ValueError: ``shape`` is None and no size can be taken from a mask file.

    Example:
        >>> read_masks(["", "ground_truth/crack/000_mask.png"], (900, 900)).shape  # doctest: +SKIP
        (2, 900, 900)
    """
    files = ["" if p is None else str(p) for p in paths]
    out_shape = _normalize_size(shape, "shape") if shape is not None else None
    if out_shape is None:
        real = [p for p in files if p]
        if not real and files:
            msg = "shape of read_masks must be given when every path is empty (all images good); got None."
            raise ValueError(msg)
        out_shape = image_shape(real[0], what="mask") if real else (0, 0)
        for path in real[1:]:
            other = image_shape(path, what="mask")
            if other != out_shape:
                msg = (
                    f"masks of one batch must share a size when shape=None; {real[0]} is {out_shape} "
                    f"but {path} is {other}. Pass shape= to resize them."
                )
                raise DataLayoutError(msg)
    out = np.zeros((len(files), out_shape[0], out_shape[1]), dtype=bool)

    def _one(i: int) -> None:
        if files[i]:
            out[i] = _decode_mask(files[i], out_shape)

    _run(_one, len(files), n_workers)
    return out
