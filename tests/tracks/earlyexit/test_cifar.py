"""CIFAR-10 and CIFAR-100 loaders: tiny copies written in the python pickle layout, broken ones, other readers."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from harness.data import DataLayoutError, DataMissingError
from harness.tracks.earlyexit import INDEX_COLUMNS, cifar
from harness.tracks.earlyexit._pickle import Py2Str, read_pickle, write_pickle

SEED = 0
NAMES = ("ant", "bee", "cat")
FETCH = r"Download cifar-10-python\.tar\.gz from https://www\.cs\.toronto\.edu/~kriz/cifar\.html"


def _images(n_images: int, seed: int) -> np.ndarray:
    return np.random.default_rng([SEED, seed]).integers(0, 256, size=(n_images, 32, 32, 3), dtype=np.uint8)


def _labels(n_images: int, n_classes: int, seed: int) -> np.ndarray:
    return np.random.default_rng([SEED, seed, 1]).permutation(np.arange(n_images) % n_classes)


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, dict]:
    """A CIFAR-10 copy of 3 classes: 23 training images (five batches of 4 or 5) and 7 test images."""
    train = (_images(23, 1), _labels(23, 3, 1))
    test = (_images(7, 2), _labels(7, 3, 2))
    folder = cifar.write_cifar10(tmp_path, train, test, label_names=NAMES)
    return folder, {"train": train, "test": test}


def _rewrite(folder: Path, name: str, **changes: object) -> None:
    """Rewrite one pickle of the copy with some keys replaced (None deletes the key)."""
    entry = {key.decode(): value for key, value in read_pickle(folder / name).items()}
    for key, value in changes.items():
        if value is None:
            entry.pop(key)
        else:
            entry[key] = value
    write_pickle({Py2Str(key.encode()): value for key, value in entry.items()}, folder / name)


def test_round_trip_of_a_tiny_copy(tiny):
    folder, written = tiny
    index = cifar.load_cifar10(folder.parent)
    assert index.class_names == NAMES and index.n_classes == 3
    frame = index.images
    assert list(frame.columns) == list(INDEX_COLUMNS)
    assert frame["image_id"].tolist() == list(range(30))
    assert frame["split"].tolist() == ["train"] * 23 + ["test"] * 7
    assert frame["label"].dtype == np.int64 and index.pixels.dtype == np.uint8
    for split in ("train", "test"):
        np.testing.assert_array_equal(index.read(split), written[split][0])
        np.testing.assert_array_equal(index.labels(split), written[split][1])
    sizes = [len(read_pickle(folder / f"data_batch_{i}")[b"labels"]) for i in range(1, 6)]
    assert sizes == [5, 5, 5, 4, 4]
    assert frame["source"].iloc[0] == "data_batch_1#0" and frame["source"].iloc[-1] == "test_batch#6"
    assert cifar.load_cifar10(folder).images.equals(frame)  # the batches folder itself works as root too


def test_resized_read(tiny):
    index = cifar.load_cifar10(tiny[0])
    assert index.read("test", size=16).shape == (7, 16, 16, 3)
    assert index.read("test", size=32) is not None


def test_files_read_like_official_python2_pickles(tiny):
    folder, written = tiny
    as_bytes = pickle.loads((folder / "data_batch_1").read_bytes(), encoding="bytes")
    assert set(as_bytes) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert as_bytes[b"data"].shape == (5, 3072) and as_bytes[b"data"].dtype == np.uint8
    as_text = pickle.loads((folder / "batches.meta").read_bytes(), encoding="latin1")
    assert as_text["label_names"] == list(NAMES) and as_text["num_vis"] == 3072
    # the first row holds the red plane of the first image, then green, then blue
    np.testing.assert_array_equal(as_bytes[b"data"][0, :1024].reshape(32, 32), written["train"][0][0, :, :, 0])
    np.testing.assert_array_equal(as_bytes[b"data"][0, 2048:].reshape(32, 32), written["train"][0][0, :, :, 2])


def test_torchvision_reads_the_same_arrays(tiny, monkeypatch):
    tv_cifar = pytest.importorskip("torchvision.datasets.cifar")
    folder, written = tiny
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *args, **kwargs: True)  # our files have other md5s
    for train, split in ((True, "train"), (False, "test")):
        dataset = tv_cifar.CIFAR10(str(folder.parent), train=train, download=False)
        np.testing.assert_array_equal(dataset.data, written[split][0])
        assert dataset.targets == written[split][1].tolist() and dataset.classes == list(NAMES)


def test_cifar100_round_trip_and_torchvision(tmp_path, monkeypatch):
    names = ("apple", "bus", "cloud", "dolphin")
    train, test = (_images(12, 3), _labels(12, 4, 3)), (_images(5, 4), _labels(5, 4, 4))
    folder = cifar.write_cifar100(tmp_path, train, test, fine_label_names=names, coarse_of_fine=[0, 1, 0, 1],
                                  coarse_label_names=("a", "b"))
    index = cifar.load_cifar100(tmp_path)
    assert index.class_names == names
    np.testing.assert_array_equal(index.read("train"), train[0])
    np.testing.assert_array_equal(index.labels("test"), test[1])
    assert cifar.list_subsets_cifar100(tmp_path) == ["all"] and cifar.list_subsets_cifar10(tmp_path) == []
    tv_cifar = pytest.importorskip("torchvision.datasets.cifar")
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *args, **kwargs: True)
    dataset = tv_cifar.CIFAR100(str(folder.parent), train=False, download=False)
    assert dataset.targets == test[1].tolist() and dataset.classes == list(names)


def test_list_subsets(tiny, tmp_path):
    assert cifar.list_subsets_cifar10(tiny[0].parent) == ["all"]
    assert cifar.list_subsets_cifar10(tiny[0]) == ["all"]
    assert cifar.list_subsets_cifar10(tmp_path / "nowhere") == []


def test_missing_root_and_folder_say_where_to_get_it(tmp_path):
    with pytest.raises(DataMissingError, match=rf"CIFAR-10 folder .*nowhere does not exist\. {FETCH}"):
        cifar.load_cifar10(tmp_path / "nowhere")
    with pytest.raises(DataMissingError, match=rf"batches\.meta is in neither .* {FETCH} .*"
                       r"<data-root>/cifar10/cifar-10-batches-py/batches\.meta exists"):
        cifar.load_cifar10(tmp_path)
    with pytest.raises(DataLayoutError, match=r"subset of CIFAR-10 must be one of all; got 'train'"):
        cifar.load_cifar10(tmp_path, "train")


def test_missing_batch_is_named(tiny):
    (tiny[0] / "data_batch_3").unlink()
    missing = rf"file data_batch_3 is missing; the dataset needs data_batch_1, .*{FETCH}"
    with pytest.raises(DataMissingError, match=missing):
        cifar.load_cifar10(tiny[0])


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], r"\(UnpicklingError|EOFError", id="truncated"),
        pytest.param(lambda raw: b"\x89PNG\r\n\x1a\n" + raw[8:200], r"\(UnpicklingError", id="not-a-pickle"),
        pytest.param(lambda raw: b"", r"\(EOFError", id="empty"),
    ],
)
def test_corrupt_file_is_named(tiny, content, reason):
    path = tiny[0] / "test_batch"
    path.write_bytes(content(path.read_bytes()))
    with pytest.raises(DataLayoutError, match=rf"file test_batch cannot be read as a CIFAR pickle {reason}.*{FETCH}"):
        cifar.load_cifar10(tiny[0])


class _Payload:
    # eval, not print: Ray (imported by other tests of the session) replaces builtins.print with its own
    # function, which would change the global the pickle names.
    def __reduce__(self):
        return eval, ("print('the unpickler ran code')",)


def test_pickle_with_foreign_global_is_refused_without_running_it(tiny, capsys):
    (tiny[0] / "data_batch_2").write_bytes(pickle.dumps({b"data": _Payload()}, protocol=2))
    refused = r"file data_batch_2 cannot be read .*global (__builtin__|builtins)\.eval is not allowed in a CIFAR"
    with pytest.raises(DataLayoutError, match=refused):
        cifar.load_cifar10(tiny[0])
    assert "ran code" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "changes", "match"),
    [
        pytest.param("data_batch_2", {"data": np.zeros((5, 3000), np.uint8)},
                     r"'data' of file data_batch_2 must be a uint8 array of shape \(n_images, 3072\) .*got uint8 array "
                     r"of shape \(5, 3000\)", id="wrong-shape"),
        pytest.param("data_batch_2", {"data": np.zeros((5, 3072), np.float32)},
                     r"'data' of file data_batch_2 must be a uint8 array .*got float32 array", id="wrong-dtype"),
        pytest.param("test_batch", {"data": np.zeros((5, 32, 32, 3), np.uint8)},
                     r"got uint8 array of shape \(5, 32, 32, 3\)", id="image-shaped"),
        pytest.param("data_batch_1", {"labels": [0, 3, 1, 1, 2]},
                     r"label 3 at row 1 of file data_batch_1 is out of range: batches\.meta names 3 classes, so labels "
                     r"must lie in \[0, 2\] \(1 labels out of range\)", id="label-too-large"),
        pytest.param("test_batch", {"labels": [-1] * 7},
                     r"label -1 at row 0 of file test_batch is out of range:.*\(7 labels out of range\)",
                     id="negative"),
        pytest.param("data_batch_5", {"labels": [0, 1, 2]},
                     r"file data_batch_5 holds 4 images in 'data' but 3 labels in 'labels'", id="count-mismatch"),
        pytest.param("data_batch_5", {"labels": [0.5] * 4},
                     r"'labels' of file data_batch_5 must be a list of integer labels", id="float-labels"),
        pytest.param("data_batch_4", {"labels": None},
                     r"file data_batch_4 has no key 'labels' \(keys: batch_label, data, filenames\); it is not a "
                     r"CIFAR-10 file", id="missing-key"),
        pytest.param("batches.meta", {"label_names": [Py2Str(b"ant"), Py2Str(b"ant"), Py2Str(b"cat")]},
                     r"'label_names' of batches\.meta must be a list of distinct, non-empty class names",
                     id="dup-names"),
        pytest.param("batches.meta", {"label_names": []}, r"'label_names' of batches\.meta must be a list",
                     id="no-names"),
    ],
)
def test_bad_content_is_named_with_the_fix(tiny, name, changes, match):
    _rewrite(tiny[0], name, **changes)
    with pytest.raises(DataLayoutError, match=rf"CIFAR-10 at .*{match}.*{FETCH}"):
        cifar.load_cifar10(tiny[0])


def test_file_that_is_not_a_dict(tiny):
    write_pickle([1, 2, 3], tiny[0] / "data_batch_1")
    with pytest.raises(DataLayoutError, match=rf"file data_batch_1 must hold a dict; got list\. {FETCH}"):
        cifar.load_cifar10(tiny[0])


def test_class_without_training_image_is_an_error(tmp_path):
    train, test = (_images(6, 5), np.array([0, 1, 0, 1, 0, 1])), (_images(3, 6), np.array([0, 1, 2]))
    cifar.write_cifar10(tmp_path, train, test, label_names=NAMES)
    with pytest.raises(DataLayoutError, match=r"class 2 \(cat\) of batches\.meta has no training image in "
                       r"data_batch_1, .* \(1 classes empty\)"):
        cifar.load_cifar10(tmp_path)


def test_cifar100_errors_name_its_files(tmp_path):
    names = ("apple", "bus")
    folder = cifar.write_cifar100(tmp_path, (_images(4, 7), np.array([0, 1, 0, 1])), (_images(2, 8), np.array([0, 5])),
                                  fine_label_names=names)
    fetch = r"Download cifar-100-python\.tar\.gz from .* <data-root>/cifar100/cifar-100-python/meta exists"
    with pytest.raises(DataLayoutError, match=rf"CIFAR-100 at .*label 5 at row 1 of file test is out of range: meta "
                       rf"names 2 classes.*{fetch}"):
        cifar.load_cifar100(tmp_path)
    (folder / "train").unlink()
    with pytest.raises(DataMissingError, match=r"file train is missing; the dataset needs train, test, meta"):
        cifar.load_cifar100(tmp_path)


def test_reading_a_dataset_imports_no_torch():
    import subprocess
    import sys

    code = (
        "import sys; import harness.tracks.earlyexit as ee; from harness.tracks.earlyexit import cifar, image_folder; "
        "assert 'torch' not in sys.modules, 'torch imported'; ee.ExitNet; assert 'torch' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
