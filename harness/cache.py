"""The cache of derived files: what a track computes once from a dataset and every job then reads.

The fedrec track's split and sampled negatives and the earlyexit track's trained backbones live here, never in
the dataset's folder: a dataset may sit on a read-only mount (a shared cluster copy), and files written beside it
would change its fingerprint.

Location: ``--cache PATH``, else ``$PARBENCH_CACHE``, else ``~/.cache/parbench/derived``. Each derived product
has its own folder, ``<cache>/<track>/<dataset>/<subset>/v<version>-<key>`` (:func:`derived_folder`), where
``<key>`` hashes the dataset's fingerprint (:func:`harness.cards.dataset_fingerprint`), the track's version of
what it derives and anything else the files depend on; a changed dataset or a new version gives a new folder, an
old folder is never read again (delete it at will). :func:`write_folder` fills a folder atomically (a temporary
folder, then a rename), so a killed job or two concurrent writers leave either nothing or one complete folder.
On a Ray cluster the cache needs the same path on every node; a node without it computes the same files itself.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> folder = derived_folder("demo", "toy", "easy", fingerprint="0123", version="1", cache_root=root)
    >>> folder.relative_to(root).parts[:3], folder.name.startswith("v1-")
    (('demo', 'toy', 'easy'), True)
    >>> written = write_folder(folder, lambda tmp: (tmp / "a.txt").write_text("x"))
    >>> (written / "a.txt").read_text()
    'x'
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.api import file_digest, stable_hash
from harness.errors import ParbenchError

__all__ = [
    "CACHE_ENV",
    "cached_tensors",
    "check_outside",
    "content_digest",
    "default_cache_root",
    "derived_folder",
    "resolve_cache_root",
    "write_folder",
]

#: Environment variable naming the cache of derived files.
CACHE_ENV = "PARBENCH_CACHE"


def default_cache_root() -> Path:
    """Return ``$PARBENCH_CACHE`` or ``~/.cache/parbench/derived``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "parbench" / "derived"


def resolve_cache_root(cache: str | Path | None = None) -> Path:
    """Return the absolute cache folder: ``cache`` (``--cache``) when given, else :func:`default_cache_root`."""
    root = Path(cache).expanduser() if cache else default_cache_root()
    return root.absolute()


def check_outside(cache_root: Path, folder: Path) -> None:
    """Refuse a cache that lies inside a dataset folder (its files would change the dataset's fingerprint).

    Raises:
        ParbenchError: ``cache_root`` is ``folder`` or lies below it; says what to pass instead.
    """
    cache, data = Path(cache_root).resolve(), Path(folder).resolve()
    if cache == data or data in cache.parents:
        msg = (
            f"the cache of derived files {cache} lies inside the dataset folder {data}; files written there would "
            f"change the dataset's fingerprint. Pass --cache (or ${CACHE_ENV}) a folder outside it."
        )
        raise ParbenchError(msg)


def derived_folder(
    track: str,
    dataset: str,
    subset: str,
    *,
    fingerprint: str,
    version: str,
    extra: Mapping[str, Any] | None = None,
    cache_root: str | Path | None = None,
) -> Path:
    """Return ``<cache>/<track>/<dataset>/<subset>/v<version>-<key>``, the folder of one derived product.

    Args:
        track: The track that derives the files.
        dataset: The dataset card's name.
        subset: The subset.
        fingerprint: The dataset folder's fingerprint (:func:`harness.cards.dataset_fingerprint`).
        version: The track's version of what it derives; bump it whenever the files could change.
        extra: Anything else the files depend on (JSON-serialisable), hashed into the key with the fingerprint
            and the version.
        cache_root: The cache folder; ``None`` means :func:`default_cache_root`.

    Returns:
        The folder (not created): 16 hex characters of key, so a changed dataset, version or ``extra`` gives
        another folder.
    """
    key = stable_hash({"fingerprint": fingerprint, "version": version, **dict(extra or {})})
    return resolve_cache_root(cache_root) / track / dataset / subset / f"v{version}-{key}"


def write_folder(folder: str | Path, fill: Callable[[Path], Any]) -> Path:
    """Create ``folder`` atomically: ``fill(tmp)`` writes into a temporary sibling, which is then renamed.

    A folder that already exists is left as it is (another process wrote the same files first), and the
    temporary one is removed.

    Args:
        folder: The folder to create.
        fill: Writes the files into the folder it receives.

    Returns:
        ``folder``.

    Raises:
        OSError: The cache cannot be written (read-only, full); the temporary folder is removed, as it is when
            ``fill`` raises anything else.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))  # one per writer
    try:
        tmp.chmod(0o755)  # as a folder made by mkdir, not mkdtemp's owner-only mode
        fill(tmp)
        tmp.rename(folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not folder.is_dir():  # else another writer renamed the same files into place first
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def content_digest(paths: Iterable[str | Path], *, root: str | Path) -> str:
    """Hash the path relative to ``root`` and the SHA-256 of the content of each file (order-independent).

    Unlike the fingerprint (path and size only), it changes when a file's bytes change at the same size. Each
    file is read once per process (:func:`harness.api.file_digest` caches by path, size and modification time).

    Returns:
        16 hex characters.
    """
    root = Path(root)
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(f"{path.relative_to(root).as_posix()}\0{file_digest(path)}\n".encode())
    return digest.hexdigest()[:16]


def cached_tensors(
    path: str | Path, compute: Callable[[], dict[str, Any]], *, record: Mapping[str, Any], what: str, log: Any = None
) -> dict[str, Any]:
    """Tensors stored at ``path`` (safetensors), or computed once by ``compute()`` and stored there.

    A lock file beside ``path`` (``fcntl.flock``) makes a second process wait for the first instead of computing
    the same tensors twice; the file is written under a temporary name and renamed, so a killed process leaves no
    half-written file, and ``record`` goes beside it as ``<path>.json`` with the seconds ``compute`` took. Where
    the folder cannot be written, the tensors are computed in this process and the log says so. The file is read
    from its bytes (no memory map, no open file left behind).

    Args:
        path: The ``.safetensors`` file.
        compute: Returns the state dict (CPU tensors) when the file is missing.
        record: JSON-serialisable description of what the tensors depend on.
        what: What the tensors are, for the log (e.g. ``"shared backbone 1a2b"``).
        log: The job's logger.

    Returns:
        The state dict.
    """
    from safetensors.torch import load, save

    path = Path(path)
    lock = path.with_suffix(".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.touch(exist_ok=True)
    except OSError as exc:
        if log is not None:
            log.warning("%s: the cache %s cannot be written (%s); computing it in this job", what, path.parent, exc)
        return compute()
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if path.is_file():
            if log is not None:
                log.info("%s loaded from the cache", what)
            return load(path.read_bytes())
        started = time.perf_counter()
        state = compute()
        seconds = time.perf_counter() - started
        tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        tmp.write_bytes(save({k: v.contiguous() for k, v in state.items()}))
        tmp.replace(path)
        text = json.dumps({**dict(record), "train_seconds": round(seconds, 1)}, indent=2, sort_keys=True, default=str)
        path.with_suffix(".json").write_text(text + "\n")
        if log is not None:
            log.info("%s computed in %.1f s and cached", what, seconds)
        return state
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
