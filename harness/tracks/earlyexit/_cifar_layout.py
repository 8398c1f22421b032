"""The CIFAR python layout: its folders and files, and a writer that produces them as the official archives do.

:data:`CIFAR10` and :data:`CIFAR100` describe the two layouts (folder, files, keys, archive);
:func:`write_cifar10` and :func:`write_cifar100` write images and labels into them with
:func:`harness.tracks.earlyexit._pickle.write_pickle`, so that the loaders of :mod:`harness.tracks.earlyexit.cifar`
(which re-exports both writers), torchvision and the ``pickle.load(f, encoding="bytes")`` recipe of the CIFAR page
read them. The generators of the early-exit track and the tests write through them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.tracks.earlyexit._pickle import Py2Str, write_pickle

__all__ = ["CIFAR10", "CIFAR100", "IMAGE_SIDE", "ROW_LENGTH", "SOURCE", "Layout", "write_cifar10", "write_cifar100"]

#: Side of a CIFAR image in pixels, and the length of one row of ``data`` (3 colour planes of 32x32).
IMAGE_SIDE = 32
ROW_LENGTH = 3 * IMAGE_SIDE * IMAGE_SIDE
#: Where the archives are published.
SOURCE = "https://www.cs.toronto.edu/~kriz/cifar.html"


@dataclass(frozen=True)
class Layout:
    """One CIFAR layout: where its files are and which keys hold the labels and the class names."""

    title: str
    folder: str
    archive: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    meta_file: str
    names_key: str
    labels_key: str
    data_root_name: str

    @property
    def placement(self) -> str:
        """Example path of the metadata file under the data root."""
        return f"<data-root>/{self.data_root_name}/{self.folder}/{self.meta_file}"


CIFAR10 = Layout(
    "CIFAR-10", "cifar-10-batches-py", "cifar-10-python.tar.gz", tuple(f"data_batch_{i}" for i in range(1, 6)),
    ("test_batch",), "batches.meta", "label_names", "labels", "cifar10",
)
CIFAR100 = Layout(
    "CIFAR-100", "cifar-100-python", "cifar-100-python.tar.gz", ("train",), ("test",), "meta", "fine_label_names",
    "fine_labels", "cifar100",
)


def _rows(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, list[int]]:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE, 3):
        msg = f"images of a CIFAR writer must be uint8 of shape (n, 32, 32, 3); got {images.dtype} {images.shape}."
        raise ValueError(msg)
    if len(labels) != len(images):
        msg = f"a CIFAR writer needs one label per image; got {len(images)} images and {len(labels)} labels."
        raise ValueError(msg)
    return images.transpose(0, 3, 1, 2).reshape(len(images), ROW_LENGTH), [int(v) for v in labels]


def _names(names: Iterable[str]) -> list[Py2Str]:
    return [Py2Str(str(n).encode()) for n in names]


def _name_of(names: Sequence[str], label: int) -> str:
    """Class name of ``label`` for a file name; a label out of range (a broken copy for a test) gets a number."""
    return str(names[label]) if 0 <= label < len(names) else f"class{label}"


def write_cifar10(
    root: str | Path,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    *,
    label_names: Sequence[str],
    filenames: tuple[Sequence[str], Sequence[str]] | None = None,
) -> Path:
    """Write images in the CIFAR-10 layout (``root/cifar-10-batches-py``), as the official pickles are written.

    The training images are split in order into five batches as evenly as possible (``np.array_split``).

    Args:
        root: Folder to write into; ``cifar-10-batches-py/`` is created inside it.
        train: (uint8 array of shape (n_train, 32, 32, 3), int array of shape (n_train,)) images and labels.
        test: The same for the test images.
        label_names: Name of each class, written to ``batches.meta``.
        filenames: Optional (train names, test names), one per image; default ``<class>_<row>.png``.

    Returns:
        The ``cifar-10-batches-py`` folder.

    Example:
        >>> import tempfile
        >>> images, labels = np.zeros((10, 32, 32, 3), np.uint8), np.arange(10) % 2
        >>> folder = write_cifar10(tempfile.mkdtemp(), (images, labels), (images, labels), label_names=["a", "b"])
        >>> from harness.tracks.earlyexit.cifar import load_cifar10
        >>> load_cifar10(folder).pixels.shape
        (20, 32, 32, 3)
    """
    folder = Path(root) / CIFAR10.folder
    folder.mkdir(parents=True, exist_ok=True)
    (train_rows, train_labels), (test_rows, test_labels) = _rows(*train), _rows(*test)
    names = filenames or tuple(
        [f"{_name_of(label_names, v)}_{i:05d}.png" for i, v in enumerate(lab)] for lab in (train_labels, test_labels)
    )
    chunks = np.array_split(np.arange(len(train_rows)), len(CIFAR10.train_files))
    for number, (name, chunk) in enumerate(zip(CIFAR10.train_files, chunks, strict=True), start=1):
        write_pickle({
            Py2Str(b"batch_label"): Py2Str(f"training batch {number} of {len(chunks)}".encode()),
            Py2Str(b"labels"): [train_labels[i] for i in chunk],
            Py2Str(b"data"): train_rows[chunk],
            Py2Str(b"filenames"): _names(names[0][i] for i in chunk),
        }, folder / name)
    write_pickle({
        Py2Str(b"batch_label"): Py2Str(b"testing batch 1 of 1"),
        Py2Str(b"labels"): test_labels,
        Py2Str(b"data"): test_rows,
        Py2Str(b"filenames"): _names(names[1]),
    }, folder / CIFAR10.test_files[0])
    write_pickle({
        Py2Str(b"num_cases_per_batch"): len(chunks[0]),
        Py2Str(b"label_names"): _names(label_names),
        Py2Str(b"num_vis"): ROW_LENGTH,
    }, folder / CIFAR10.meta_file)
    return folder


def write_cifar100(
    root: str | Path,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    *,
    fine_label_names: Sequence[str],
    coarse_of_fine: Sequence[int] | None = None,
    coarse_label_names: Sequence[str] = ("all",),
) -> Path:
    """Write images in the CIFAR-100 layout (``root/cifar-100-python``: ``train``, ``test``, ``meta``).

    Args:
        root: Folder to write into.
        train: (uint8 array of shape (n_train, 32, 32, 3), int array of shape (n_train,)) images and fine labels.
        test: The same for the test images.
        fine_label_names: Name of each fine class.
        coarse_of_fine: Coarse label of each fine class; default 0 for every class.
        coarse_label_names: Name of each coarse class.

    Returns:
        The ``cifar-100-python`` folder.
    """
    folder = Path(root) / CIFAR100.folder
    folder.mkdir(parents=True, exist_ok=True)
    coarse = list(coarse_of_fine) if coarse_of_fine is not None else [0] * len(fine_label_names)
    for name, (images, labels) in zip(("train", "test"), (train, test), strict=True):
        rows, fine = _rows(images, labels)
        write_pickle({
            Py2Str(b"filenames"): _names(f"{_name_of(fine_label_names, v)}_{i:05d}.png" for i, v in enumerate(fine)),
            Py2Str(b"batch_label"): Py2Str(f"{'training' if name == 'train' else 'testing'} batch 1 of 1".encode()),
            Py2Str(b"fine_labels"): fine,
            Py2Str(b"coarse_labels"): [coarse[v] if 0 <= v < len(coarse) else 0 for v in fine],
            Py2Str(b"data"): rows,
        }, folder / name)
    write_pickle({
        Py2Str(b"fine_label_names"): _names(fine_label_names),
        Py2Str(b"coarse_label_names"): _names(coarse_label_names),
    }, folder / CIFAR100.meta_file)
    return folder
