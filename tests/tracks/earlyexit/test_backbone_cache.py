"""The backbone cache: trained once per key, read back exactly, left out of the fingerprint, no file left open."""

from __future__ import annotations

import os
import threading

import torch

from harness.cards import CACHE_FOLDER, dataset_fingerprint
from harness.tracks.earlyexit.backbone_cache import cache_key, cache_path, cached_state


def _trainer(calls):
    def train():
        calls.append(1)
        return {"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(2)}

    return train


def _open_files():
    return {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
            if os.path.exists(f"/proc/self/fd/{fd}")}


def test_trained_once_then_loaded(tmp_path):
    (tmp_path / "data.bin").write_bytes(b"x")
    before = dataset_fingerprint(tmp_path)
    calls = []
    first = cached_state(tmp_path, {"seed": 0}, _trainer(calls))
    second = cached_state(tmp_path, {"seed": 0}, _trainer(calls))
    assert calls == [1]
    torch.testing.assert_close(first, second)
    assert cache_path(tmp_path, cache_key({"seed": 0})).is_file()
    assert str(cache_path(tmp_path, "k")).startswith(str(tmp_path / CACHE_FOLDER / "earlyexit"))
    assert dataset_fingerprint(tmp_path) == before
    cached_state(tmp_path, {"seed": 1}, _trainer(calls))
    assert calls == [1, 1]  # another key trains again
    assert not [f for f in _open_files() if CACHE_FOLDER in f]


def test_concurrent_jobs_train_once(tmp_path):
    calls, results = [], []
    threads = [threading.Thread(target=lambda: results.append(cached_state(tmp_path, {"s": 2}, _trainer(calls))))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and len(results) == 3


def test_a_read_only_folder_trains_in_the_job(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        calls = []
        cached_state(folder, {"seed": 0}, _trainer(calls))
        cached_state(folder, {"seed": 0}, _trainer(calls))
        assert calls == [1, 1] or os.geteuid() == 0  # root writes anyway
    finally:
        folder.chmod(0o700)
