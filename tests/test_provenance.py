"""The git state stamped on result rows: a change of code makes a run dirty, a change under results/ does not."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from harness.provenance import git_state

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "leaderboards").mkdir(parents=True)
    (tmp_path / "results" / "leaderboards" / "panel.png").write_bytes(b"old")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    git_state(tmp_path, fresh=True)
    return tmp_path


def test_clean_checkout(repo):
    assert git_state(repo) == (_git(repo, "rev-parse", "HEAD").strip(), False)


def test_rewritten_output_keeps_the_run_clean(repo):
    (repo / "results" / "leaderboards" / "panel.png").write_bytes(b"new")
    assert git_state(repo, fresh=True)[1] is False


def test_changed_code_makes_it_dirty(repo):
    (repo / "code.py").write_text("x = 2\n")
    assert git_state(repo, fresh=True)[1] is True


def test_the_answer_is_kept_until_asked_afresh(repo):
    assert git_state(repo)[1] is False
    (repo / "code.py").write_text("x = 2\n")  # an edit made while a run goes on
    assert git_state(repo)[1] is False
    assert git_state(repo, fresh=True)[1] is True


def test_untracked_files_do_not_count(repo):
    (repo / "notes.txt").write_text("scratch")
    assert git_state(repo, fresh=True)[1] is False


def test_outside_git(tmp_path):
    assert git_state(tmp_path, fresh=True) == ("unknown", False)
