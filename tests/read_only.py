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
