"""The pickle files of the CIFAR python layout: a reader that only builds arrays, and a writer of the same bytes.

The official ``cifar-10-python.tar.gz`` and ``cifar-100-python.tar.gz`` hold Python 2 pickles (protocol 2) of a
dict whose keys and strings are Python 2 ``str`` and whose ``data`` is a numpy uint8 array. Python 3 reads them
with ``pickle.load(f, encoding="bytes")`` (keys become ``b"data"``, as on the CIFAR page) or
``encoding="latin1"`` (keys become ``"data"``, as torchvision reads them).

:func:`read_pickle` unpickles with an allow-list of globals (numpy's array and dtype reconstructors and
``_codecs.encode``, which a Python 3 protocol-2 pickle uses for bytes), so a tampered or foreign file cannot
run code: any other global is an error. :func:`write_pickle` writes Python 2 ``str`` objects
(``SHORT_BINSTRING``/``BINSTRING``) for :class:`Py2Str` values and the array as numpy 1.x pickled it
(``numpy.core.multiarray._reconstruct``), so a generated file reads exactly like an official one under both
encodings.
"""

from __future__ import annotations

import codecs
import io
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ForbiddenGlobalError", "Py2Str", "read_pickle", "write_pickle"]

#: (module, name) -> object: the only globals a CIFAR pickle may reference.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(0))[0],
    ("numpy._core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(0))[0],
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class ForbiddenGlobalError(pickle.UnpicklingError):
    """A pickle that references a global outside the allow-list (it is not a CIFAR file)."""


class Py2Str(bytes):
    """Bytes written as a Python 2 ``str``: read back as bytes (``encoding="bytes"``) or str (``"latin1"``)."""


class _Reader(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            msg = f"global {module}.{name} is not allowed in a CIFAR pickle"
            raise ForbiddenGlobalError(msg) from None


def read_pickle(path: Path) -> Any:
    """Unpickle ``path`` with ``encoding="bytes"``, allowing numpy arrays and plain containers only.

    Raises:
        OSError: The file cannot be read.
        ForbiddenGlobalError: The pickle references another global.
        pickle.UnpicklingError, EOFError, ValueError, TypeError, ...: The file is truncated or not a pickle.
    """
    with Path(path).open("rb") as handle:
        return _Reader(handle, encoding="bytes").load()


class _Py2Writer(pickle._Pickler):  # the pure-Python pickler: its dispatch table can be extended
    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: Py2Str) -> None:
        size = len(obj)
        if size < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([size]) + bytes(obj))
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", size) + bytes(obj))
        self.memoize(obj)

    def save_ndarray(self, obj: np.ndarray) -> None:
        """An array as numpy 1.x pickled it: _reconstruct(ndarray, (0,), 'b') then BUILD with its state."""
        array = np.ascontiguousarray(obj)
        self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
        self.write(pickle.GLOBAL + b"numpy\nndarray\n")
        self.save((0,))
        self.save(Py2Str(b"b"))
        self.write(pickle.TUPLE3 + pickle.REDUCE)
        self.write(pickle.MARK)
        self.save(1)
        self.save(tuple(int(s) for s in array.shape))
        self.write(pickle.GLOBAL + b"numpy\ndtype\n")
        self.save(Py2Str(array.dtype.str[1:].encode()))
        self.save(0)
        self.save(1)
        self.write(pickle.TUPLE3 + pickle.REDUCE)
        order = array.dtype.str[0] if array.dtype.itemsize > 1 else "|"
        self.save((3, Py2Str(order.encode()), None, None, None, -1, -1, 0))
        self.write(pickle.BUILD)
        self.save(False)  # noqa: FBT003 - the pickled value itself
        self.save(Py2Str(array.tobytes()))
        self.write(pickle.TUPLE + pickle.BUILD)

    dispatch[Py2Str] = save_py2_str
    dispatch[np.ndarray] = save_ndarray


def write_pickle(obj: Any, path: Path) -> None:
    """Write ``obj`` (dicts, lists, tuples, ints, :class:`Py2Str`, numpy arrays) as a Python 2 protocol-2 pickle."""
    buffer = io.BytesIO()
    _Py2Writer(buffer, protocol=2).dump(obj)
    Path(path).write_bytes(buffer.getvalue())

