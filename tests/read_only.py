"""A read-only view of a folder for the tests that run a track on a dataset it must not write to."""

from __future__ import annotations

import os


def read_only_prefix(source, view):
    """A command prefix under which ``view`` is a read-only view of ``source``, or the reason there is none.

    A read-only bind mount in a private mount namespace (``unshare -rm``: it vanishes with the command, and needs
    no privilege where user namespaces are allowed); else, for a user other than root, the copy's permission bits.
    As root without a private mount namespace nothing stops a write, and the test is skipped.
    """
    import shutil
    import subprocess

    unshare = shutil.which("unshare")
    script = 'mount --bind "$0" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    if unshare is not None:
        prefix = [unshare, "-rm", "sh", "-c", script, str(source), str(view)]
        if subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode == 0:
            return prefix, ""
    if os.geteuid() != 0:
        for path in [source, *source.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        view.rmdir()
        view.symlink_to(source, target_is_directory=True)
        return [], ""
    return None, "running as root without unshare -rm: neither a read-only bind mount nor permission bits work here"


#: Run in a child process: check that the data root is read-only, then run one smoke job of argv's track,
#: dataset and method on it and print the runner's counts as the last line (JSON).
READ_ONLY_RUN = """
import json, sys
from pathlib import Path
from harness.runner import plan_run, run_plan
from harness.store import Store

view, cache, results = map(Path, sys.argv[1:4])
track, dataset, method = sys.argv[4:7]
try:
    (view / "probe").write_text("x")
except OSError as exc:
    print("data root read-only, errno", exc.errno)
else:
    sys.exit(f"{view} is writable")
plan = plan_run(track, budget="smoke", dataset=dataset, data_root=view, method_names=[method], cache=cache)
summary = run_plan(plan, Store(results), progress=False)
print(json.dumps({"counts": dict(summary.counts), "failed": summary.failed}))
"""


def run_on_read_only_view(source, tmp_path, *, track, dataset, method):
    """Run one smoke job of ``track`` on a read-only view of the folder ``source`` (the data root).

    Returns:
        (the runner's counts and failures, the cache folder, the results folder); skips the test where no
        read-only view can be made (:func:`read_only_prefix`).
    """
    import json
    import subprocess
    import sys
    from pathlib import Path

    import pytest

    import harness

    view = tmp_path / "view"
    view.mkdir()
    prefix, reason = read_only_prefix(source, view)
    if prefix is None:
        pytest.skip(reason)
    cache, results = tmp_path / "cache", tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": str(Path(harness.__file__).resolve().parents[1])}
    done = subprocess.run([*prefix, sys.executable, "-c", READ_ONLY_RUN, str(view), str(cache), str(results), track,
                           dataset, method], capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "data root read-only" in done.stdout
    return json.loads(done.stdout.strip().splitlines()[-1]), cache, results
