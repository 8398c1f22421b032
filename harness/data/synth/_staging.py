"""The frame of every generator: check the requested subsets, write into a staging folder, rename it into place.

An interrupted run never leaves a half dataset behind.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["check_subsets", "jpeg_bytes", "manifest_matches", "staged"]


def check_subsets(subsets: Iterable[str], known: Iterable[str]) -> None:
    """Raise ``ValueError`` naming the first unknown subset and listing the known ones."""
    known = tuple(known)
    unknown = sorted(set(subsets) - set(known))
    if unknown:
        msg = f"generate: subset {unknown[0]!r} is unknown; known subsets: {', '.join(known)}."
        raise ValueError(msg)


def manifest_matches(root: Path, manifest: str, params: dict) -> bool:
    """True when ``root/manifest`` is a JSON file whose ``parameters`` equal ``params`` (a dataset to keep)."""
    try:
        existing = json.loads((Path(root) / manifest).read_text())
    except (OSError, ValueError):
        return False
    return existing.get("parameters") == params


def jpeg_bytes(pixels: object, quality: int) -> bytes:
    """The JPEG file of a uint8 RGB array (H, W, 3) at ``quality``, as Pillow writes it."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@contextmanager
def staged(
    root: str | Path, *, overwrite: bool = False, same: Callable[[Path], bool] | None = None
) -> Iterator[Path]:
    """Yield an empty staging folder beside ``root``; when the block ends without error, it becomes ``root``.

    The staging folder is ``.<root name>.partial-<pid>-<random>`` in ``root``'s parent, so concurrent writers never
    share one. It is removed whatever happens; ``root`` is only touched once everything was written.

    Args:
        root: The dataset folder to create.
        overwrite: Replace an existing non-empty ``root`` (an empty one is always replaced).
        same: Optional check ``same(root) -> bool``: when the final rename fails because another process put a
            dataset at ``root`` first, that dataset is kept if ``same`` accepts it; otherwise the error propagates.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp()) / "data"
        >>> with staged(root) as folder:
        ...     _ = (folder / "a.txt").write_text("a")
        >>> sorted(p.name for p in root.iterdir())
        ['a.txt']
    """
    root = Path(root).expanduser().absolute()
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = root.parent / f".{root.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
        _move_into_place(staging, root, overwrite=overwrite, same=same)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(staging: Path, root: Path, *, overwrite: bool, same: Callable[[Path], bool] | None) -> None:
    if root.exists() and (overwrite or not any(root.iterdir())):
        old = root.parent / f".{root.name}.old-{uuid.uuid4().hex[:8]}"
        root.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    try:
        staging.rename(root)
    except OSError:
        if same is None or not same(root):
            raise
