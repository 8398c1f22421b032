"""Keep glibc from growing the heap without bound on repeated large CPU temporaries.

glibc raises its mmap threshold each time a large mmapped block is freed (up to 32 MiB on 64-bit).
Once raised, large temporaries come from the heap instead; when a small tensor that outlives the
temporary is carved out of its freed space, the next temporary no longer fits and the heap grows.
anomalib's greedy coreset allocates a (n_patches, d) temporary per selected centre and keeps a
small distance vector each time, so after the 2-thread convolutions of a CPU job had raised the
threshold, PatchCore's resident memory grew by about 7 MiB per centre (6 GiB at 1023 centres on
the ``default`` budget, where one thread stayed at 1 GiB). Fixing the threshold keeps every large
temporary mmapped and returned when freed.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["MMAP_THRESHOLD_BYTES", "pin_mmap_threshold"]

#: Allocations at least this large are always mmapped (glibc's dynamic threshold starts at 128 KiB).
MMAP_THRESHOLD_BYTES = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc <malloc.h>


def pin_mmap_threshold(n_bytes: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at ``n_bytes`` for this process (no-op off glibc Linux).

    Args:
        n_bytes: Allocations of at least this many bytes are mmapped and unmapped on free.

    Returns:
        True when glibc accepted the setting, False where there is no glibc ``mallopt``.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, int(n_bytes)))
