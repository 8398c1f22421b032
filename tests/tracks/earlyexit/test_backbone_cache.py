"""The backbone cache: trained once per key, read back exactly, kept in the cache of derived files, no file open."""

from __future__ import annotations

import os
import threading

import torch

from harness.cache import resolve_cache_root
from harness.cards import dataset_fingerprint
from harness.tracks.earlyexit.backbone_cache import backbone_folder, cache_key, cache_path, cached_state


def _trainer(calls):
    def train():
        calls.append(1)
        return {"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(2)}

    return train


def _open_files():
    return {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
            if os.path.exists(f"/proc/self/fd/{fd}")}


def test_trained_once_then_loaded(tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    (data / "data.bin").write_bytes(b"x")
    before = dataset_fingerprint(data)
    folder = backbone_folder("demo", "all", before, cache_root=cache)
    assert folder.is_relative_to(cache / "earlyexit" / "demo" / "all") and not folder.is_relative_to(data)
    calls = []
    first = cached_state(folder, {"seed": 0}, _trainer(calls))
    second = cached_state(folder, {"seed": 0}, _trainer(calls))
    assert calls == [1]
    torch.testing.assert_close(first, second)
    assert cache_path(folder, cache_key({"seed": 0})).is_file()
    assert sorted(p.name for p in data.iterdir()) == ["data.bin"] and dataset_fingerprint(data) == before
    cached_state(folder, {"seed": 1}, _trainer(calls))
    assert calls == [1, 1]  # another key trains again
    assert not [f for f in _open_files() if str(cache) in f]


def test_the_folder_follows_the_fingerprint_and_defaults_to_the_session_cache(tmp_path):
    folder = backbone_folder("demo", "all", "aaaa")
    assert folder.is_relative_to(resolve_cache_root())  # $PARBENCH_CACHE of the test session
    assert backbone_folder("demo", "all", "bbbb") != folder  # a changed dataset gives another folder


def test_concurrent_jobs_train_once(tmp_path):
    calls, results = [], []
    threads = [threading.Thread(target=lambda: results.append(cached_state(tmp_path, {"s": 2}, _trainer(calls))))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and len(results) == 3


def test_a_cache_that_cannot_be_written_trains_in_the_job(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")  # a cache folder below a plain file cannot be created, even by root
    calls = []
    cached_state(blocker / "earlyexit", {"seed": 0}, _trainer(calls))
    cached_state(blocker / "earlyexit", {"seed": 0}, _trainer(calls))
    assert calls == [1, 1]
