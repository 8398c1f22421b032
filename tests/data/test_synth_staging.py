"""The staging frame shared by the synthetic generators: all or nothing, concurrent writers, subset checks."""

from __future__ import annotations

import pytest

from harness.data.synth._staging import check_subsets, staged


def test_block_written_into_place_and_staging_removed(tmp_path):
    with staged(tmp_path / "data") as folder:
        assert folder.parent == tmp_path and folder.name.startswith(".data.partial-")
        (folder / "x.txt").write_text("x")
    assert [p.name for p in tmp_path.iterdir()] == ["data"]
    assert (tmp_path / "data" / "x.txt").read_text() == "x"


def test_error_in_block_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="boom"), staged(tmp_path / "data") as folder:
        (folder / "x.txt").write_text("x")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_dataset_kept_unless_overwrite(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "old.txt").write_text("old")
    with pytest.raises(OSError), staged(root) as folder:
        (folder / "new.txt").write_text("new")
    assert [p.name for p in root.iterdir()] == ["old.txt"]
    with staged(root, overwrite=True) as folder:
        (folder / "new.txt").write_text("new")
    assert [p.name for p in root.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_concurrent_writer_that_finished_first_is_kept_when_same(tmp_path):
    root = tmp_path / "data"
    with staged(root, same=lambda other: (other / "x.txt").read_text() == "x") as folder:
        (folder / "x.txt").write_text("x")
        root.mkdir()  # another process finishes the same dataset meanwhile
        (root / "x.txt").write_text("x")
    assert [p.name for p in root.iterdir()] == ["x.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_unknown_subset_named_with_the_known_ones():
    check_subsets(("a",), ("a", "b"))
    with pytest.raises(ValueError, match=r"subset 'z' is unknown; known subsets: a, b\."):
        check_subsets(("a", "z"), ("a", "b"))
