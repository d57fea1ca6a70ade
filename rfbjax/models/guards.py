r"""Guards for reading files that come from anywhere: sizes checked before allocating, zip members
inflated no further than they declare, pickled containers walked without recursion.

Every reader of weight files (`rfbjax.models.weights` and the readers beside it) calls these
functions, so that one rule holds for every format:

* `ReadBudget` — the bytes a reader may allocate for one file: every declared size (a tensor's
  shape times its item size, a zip member's uncompressed size, an HDF5 dataset's shape) is
  charged to it *before* the allocation, against ``--max-memory`` and against the bytes the
  file really has (`ReadBudget.charge`);
* `declared_nbytes` — the size of a declared shape in Python integers (never overflows, refuses
  negative, non-integer and infinite entries);
* `zip_budget` — the budget of a zip archive (members are compressed);
* `read_member` / `open_member` — one member of a zip archive: refused when it is encrypted or
  compressed by a method other than stored, deflate, bzip2 or LZMA, when its declared size is
  over the budget, and cut off (an error) if it inflates past its declared size;
* `flatten_tree` — a nested container of dicts, lists and tuples as ``{"a.b.0": leaf}``,
  walked with an explicit stack (no recursion), visiting each container once (a container that
  holds itself ends the walk with an error) and at most `MAX_NODES` nodes;
* `reading` — a context manager that turns *any* exception raised while reading into one
  `rfbjax.errors.InputError` line naming the file.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import stat
import zipfile

from ..errors import InputError

__all__ = ["ReadBudget", "declared_nbytes", "read_member", "open_member", "flatten_tree",
           "reading", "check_input_file", "zip_budget", "MAX_NODES", "MAX_DEPTH", "MAX_HEADER"]

#: containers and leaves a pickled checkpoint may hold (a real state dict has thousands)
MAX_NODES = 1_000_000
#: nesting depth of a pickled checkpoint (real ones are a few levels deep)
MAX_DEPTH = 256
#: bytes of a format's header (safetensors JSON, npy header, HDF5 metadata) read before data
MAX_HEADER = 100 * 1024 ** 2

_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_CHUNK = 1 << 20


def check_input_file(path: str, what: str = "WEIGHTS") -> int:
    """Refuse, without opening it, anything but a readable regular file; returns its size.

    A FIFO would block the reader for ever, a device could be endless: both are refused here.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{what}: no such file '{path}'") from None
    except OSError as exc:
        raise InputError(f"{what}: cannot read '{path}' ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{what}: '{path}' is a directory (give a weights file)")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{what}: '{path}' is not a regular file (a FIFO, socket or device)")
    if not os.access(path, os.R_OK):
        raise InputError(f"{what}: cannot read '{path}' (permission denied)")
    return int(st.st_size)


def declared_nbytes(shape, itemsize: int, *, what: str = "a tensor") -> int:
    """Bytes of an array of ``shape`` (any sequence of integers) and ``itemsize``, exactly.

    Raises:
        ValueError: an entry that is not a non-negative integer (``inf``, ``-1``, ``2.5``,
            a string), or a rank over 64.
    """
    dims = tuple(shape)
    if len(dims) > 64:
        raise ValueError(f"{what} declares {len(dims)} dimensions")
    n = int(itemsize)
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int):
            if isinstance(d, float) and math.isfinite(d) and d == int(d):
                d = int(d)
            elif hasattr(d, "__index__") and not isinstance(d, float):
                d = d.__index__()
            else:
                raise ValueError(f"{what} declares a size {d!r:.40} that is not an integer")
        if d < 0:
            raise ValueError(f"{what} declares a negative size {d}")
        n *= d
    return n


class ReadBudget:
    """Bytes one reader may allocate for one file.

    Args:
        path: the file (named in every refusal).
        max_bytes: the memory budget (``--max-memory``).
        file_bytes: the file's size on disk: an uncompressed tensor cannot hold more bytes
            than this; None when the data is compressed (then only ``max_bytes`` bounds it).
    """

    def __init__(self, path: str, max_bytes: int, file_bytes: int | None = None):
        self.path, self.max_bytes, self.file_bytes = path, int(max_bytes), file_bytes
        self.used = 0
        self.archive_bytes: int | None = None

    def charge(self, nbytes: int, what: str, *, stored: int | None = None) -> None:
        """Account for an allocation of ``nbytes`` before making it.

        Args:
            nbytes: bytes about to be allocated.
            what: names the tensor or member in the refusal.
            stored: the bytes the file holds for it (its storage, its member); ``nbytes``
                beyond them is refused (a stored tensor holds no more than its storage).

        Raises:
            InputError: over the budget, over what is stored, or over the file's size.
        """
        from ..engine.resources import format_bytes

        nbytes = int(nbytes)
        if stored is not None and nbytes > stored:
            raise InputError(f"'{self.path}': {what} declares {format_bytes(nbytes)} but the file "
                             f"stores {format_bytes(stored)} for it")
        if self.file_bytes is not None and nbytes > self.file_bytes:
            raise InputError(f"'{self.path}': {what} declares {format_bytes(nbytes)}, more than "
                             f"the whole file ({format_bytes(self.file_bytes)})")
        if self.used + nbytes > self.max_bytes:
            raise InputError(f"'{self.path}': reading {what} needs "
                             f"{format_bytes(self.used + nbytes)} in all, over --max-memory "
                             f"{format_bytes(self.max_bytes)}")
        self.used += nbytes


def zip_budget(path: str, max_bytes: int) -> ReadBudget:
    """The budget of a zip archive: members are compressed, so only ``max_bytes`` bounds what
    they inflate to (each member's compressed size is checked against the file's size)."""
    budget = ReadBudget(path, max_bytes, None)
    budget.archive_bytes = os.path.getsize(path)   # compressed sizes cannot exceed it
    return budget


def _check_member(info: zipfile.ZipInfo, budget: ReadBudget) -> None:
    if info.flag_bits & 0x1:
        raise InputError(f"'{budget.path}': zip member {info.filename!r:.80} is encrypted")
    if info.compress_type not in _METHODS:
        raise InputError(f"'{budget.path}': zip member {info.filename!r:.80} uses compression "
                         f"method {info.compress_type}, which is not read")
    size = budget.archive_bytes
    if size is not None and info.compress_size > size:
        raise InputError(f"'{budget.path}': zip member {info.filename!r:.80} declares more "
                         "compressed bytes than the file has")
    budget.charge(info.file_size, f"zip member {info.filename!r:.80}")


class _Capped(io.RawIOBase):
    """A zip member's stream that fails once it yields more than the member declares."""

    def __init__(self, raw, limit: int, name: str):
        self._raw, self._left, self._name = raw, int(limit), name

    def readable(self):
        return True

    def readinto(self, b):
        data = self._raw.read(min(len(b), self._left + 1))
        if len(data) > self._left:
            raise ValueError(f"zip member {self._name!r:.80} inflates past its declared size")
        self._left -= len(data)
        b[:len(data)] = data
        return len(data)

    def close(self):
        self._raw.close()
        super().close()


def open_member(archive: zipfile.ZipFile, name: str, budget: ReadBudget):
    """A binary stream of member ``name``, after the checks of `read_member` (size charged)."""
    info = archive.getinfo(name)
    _check_member(info, budget)
    return io.BufferedReader(_Capped(archive.open(info), info.file_size, name), _CHUNK)


def read_member(archive: zipfile.ZipFile, name: str, budget: ReadBudget) -> bytes:
    """The bytes of member ``name``: its declared size charged to ``budget`` first, an encrypted
    member or an unknown compression method refused, reading stopped past the declared size."""
    info = archive.getinfo(name)
    _check_member(info, budget)
    out = bytearray()
    with archive.open(info) as f:
        while True:
            chunk = f.read(min(_CHUNK, info.file_size - len(out) + 1))
            if not chunk:
                break
            out += chunk
            if len(out) > info.file_size:
                raise ValueError(f"zip member {name!r:.80} inflates past its declared size")
    return bytes(out)


def flatten_tree(obj, is_leaf, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH,
                 expand=None) -> dict:
    """Leaves of a nested container as ``{"a.b.0": leaf}``, in order, without recursion.

    Dicts, lists and tuples are descended into (dict keys as ``str``); other values that are
    not leaves are dropped. The walk keeps an explicit stack and a set of the containers on
    the current path.

    Args:
        obj: the root.
        is_leaf: predicate for the values kept.
        max_nodes: most values visited (containers and leaves together).
        max_depth: deepest nesting.
        expand: optional; for a value that is neither a leaf nor a container, a dict of its
            children (descended into like a dict) or ``None`` (dropped).

    Raises:
        ValueError: a container inside itself, more than ``max_nodes`` values, nesting deeper
            than ``max_depth``.
    """
    out: dict = {}
    visited = 0
    on_path: set[int] = set()
    stack: list = [(obj, "", 0, False)]
    while stack:
        node, prefix, depth, leaving = stack.pop()
        if leaving:
            on_path.discard(id(node))
            continue
        visited += 1
        if visited > max_nodes:
            raise ValueError(f"more than {max_nodes} values nested in the file")
        if is_leaf(node):
            out[prefix] = node
            continue
        if isinstance(node, dict):
            items = [(str(k), v) for k, v in node.items()]
        elif isinstance(node, (list, tuple)):
            items = [(str(i), v) for i, v in enumerate(node)]
        else:
            inner = expand(node) if expand is not None else None
            if not isinstance(inner, dict):
                continue
            items = [(str(k), v) for k, v in inner.items()]
        if id(node) in on_path:
            raise ValueError("a container holds itself")
        if depth >= max_depth:
            raise ValueError(f"containers nested deeper than {max_depth} levels")
        on_path.add(id(node))
        stack.append((node, prefix, depth, True))
        for k, v in reversed(items):
            stack.append((v, f"{prefix}.{k}" if prefix else k, depth + 1, False))
    return out


@contextlib.contextmanager
def reading(path: str, what: str):
    """Turn any exception raised inside into one `InputError` naming ``path``.

    ``what`` names the format (``"a PyTorch checkpoint"``). An `InputError` passes unchanged;
    `KeyboardInterrupt` and `SystemExit` are not caught.
    """
    try:
        yield
    except InputError:
        raise
    except MemoryError:
        raise InputError(f"cannot read '{path}' as {what}: out of memory while reading") \
            from None
    except RecursionError:
        raise InputError(f"cannot read '{path}' as {what}: nested too deeply") from None
    except Exception as exc:
        from ..base.text import printable

        detail = printable(str(exc)[:200]) if str(exc) else type(exc).__name__
        raise InputError(f"cannot read '{path}' as {what} ({detail})") from None
