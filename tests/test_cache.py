"""The cache of derived files: where it is, how a folder is keyed, atomic writes, never inside a dataset folder."""

from __future__ import annotations

import threading

import pytest

from harness.cache import (
    CACHE_ENV,
    check_outside,
    content_digest,
    default_cache_root,
    derived_folder,
    resolve_cache_root,
    write_folder,
)
from harness.errors import ParbenchError


def test_location_is_the_option_then_the_environment_then_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env"))
    assert default_cache_root() == tmp_path / "env" and resolve_cache_root() == tmp_path / "env"
    assert resolve_cache_root(tmp_path / "given") == tmp_path / "given"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_root() == tmp_path / "home" / ".cache" / "parbench" / "derived"


def test_the_key_follows_the_fingerprint_the_version_and_the_extra(tmp_path):
    def folder(**kwargs):
        args = {"fingerprint": "f1", "version": "1", "cache_root": tmp_path, **kwargs}
        return derived_folder("fedrec", "lastfm_2k", "all", **args)

    base = folder()
    assert base.parent == tmp_path / "fedrec" / "lastfm_2k" / "all" and base.name.startswith("v1-")
    assert base == folder()
    others = [folder(fingerprint="f2"), folder(version="2"), folder(extra={"sources": "x"})]
    assert len({base, *others}) == 4


def test_write_folder_is_atomic_and_keeps_the_first_writer(tmp_path):
    target = tmp_path / "a" / "b"
    written = write_folder(target, lambda tmp: (tmp / "x.txt").write_text("first"))
    assert written == target and (target / "x.txt").read_text() == "first"
    write_folder(target, lambda tmp: (tmp / "x.txt").write_text("second"))
    assert (target / "x.txt").read_text() == "first" and sorted(p.name for p in target.parent.iterdir()) == ["b"]

    def failing(tmp):
        (tmp / "half.txt").write_text("x")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_folder(tmp_path / "c", failing)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]  # neither the folder nor its temporary copy


def test_concurrent_writers_leave_one_complete_folder(tmp_path):
    target = tmp_path / "split"
    errors = []

    def writer(value):
        try:
            write_folder(target, lambda tmp: [(tmp / f"{i}.txt").write_text(value) for i in range(20)])
        except OSError as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(str(v),)) for v in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len({p.read_text() for p in target.iterdir()}) == 1 and len(list(target.iterdir())) == 20
    assert [p.name for p in tmp_path.iterdir()] == ["split"]


def test_content_digest_sees_an_edit_of_the_same_size(tmp_path):
    path = tmp_path / "user_artists.dat"
    path.write_text("2\t51\t13883\n")
    before = content_digest([path], root=tmp_path)
    path.write_text("2\t52\t13883\n")
    assert content_digest([path], root=tmp_path) != before


def test_a_cache_inside_the_dataset_folder_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    check_outside(tmp_path / "cache", data)
    for inside in (data, data / "derived"):
        with pytest.raises(ParbenchError, match=r"lies inside the dataset folder .*; .* Pass --cache"):
            check_outside(inside, data)


def test_the_runner_refuses_a_cache_inside_the_dataset_folder(data_root):
    from harness.runner import plan_run

    plan = plan_run("fedrec", budget="smoke", data_root=data_root, method_names=["popularity"])
    with pytest.raises(ParbenchError, match="lies inside the dataset folder"):
        plan_run("fedrec", budget="smoke", data_root=data_root, method_names=["popularity"],
                 cache=plan.root / "derived")
