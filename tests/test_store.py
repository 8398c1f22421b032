import pytest

from harness.errors import ResultsError
from harness.store import SCHEMA, Store


def _row(key, status="ok", value=1.0):
    return {"job_key": key, "track": "toy", "metric": "accuracy", "value": value, "status": status, "seed": 0}


def test_write_is_atomic_replaces_and_reads_back(tmp_path):
    store = Store(tmp_path)
    store.open("toy")
    store.write("toy", "k1", [_row("k1", "error", None)])
    store.write("toy", "k1", [_row("k1")])
    store.write("toy", "k2", [_row("k2", "timeout", None)])
    rows = store.read("toy")
    assert list(rows.columns) == SCHEMA.names
    assert store.statuses("toy") == {"k1": "ok", "k2": "timeout"}
    assert not list(store.track_dir("toy").glob(".tmp-*"))


def test_stray_temporary_files_are_removed_on_open(tmp_path):
    store = Store(tmp_path)
    store.open("toy")
    stray = store.track_dir("toy") / ".tmp-k-123.parquet"
    stray.write_bytes(b"half a file")
    store.open("toy")
    assert not stray.exists()


def test_corrupt_file_names_itself_and_the_fix(tmp_path):
    store = Store(tmp_path)
    store.open("toy")
    (store.track_dir("toy") / "bad.parquet").write_bytes(b"garbage")
    with pytest.raises(ResultsError, match=r"bad.parquet cannot be read .*delete it and run again"):
        store.read("toy")


def test_empty_store_reads_as_empty_frame(tmp_path):
    assert Store(tmp_path).read("toy").empty
