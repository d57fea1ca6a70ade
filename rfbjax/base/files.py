"""The one writer of files.

`atomic_write_bytes` writes a temporary file that it creates itself (exclusively, in the target's
folder), then renames it over the target: no reader ever sees half a file, a failure leaves
nothing behind, and nothing is written through a symbolic link, neither one planted at the
target's name nor at a temporary name. Every file rfbjax writes (JSON, tables, figures, arrays,
the compile cache) goes through it.

The file that is replaced keeps its permission bits (a private 0600 file stays private); a new
file gets the usual ``0666 & ~umask``. Where a regular file is expected, a link, a folder, a
FIFO or a device is refused (`target_problem` says so before any work), and so is every
such thing at the target when writing.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile

__all__ = ["atomic_write_bytes", "target_problem"]


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: read once: toggling the umask later would race with files other threads create
_UMASK = _read_umask()


def target_problem(path: str) -> str | None:
    """Why ``path`` cannot receive a file written by rfbjax, or None when it can.

    A missing path or a regular file can; a symbolic link (rfbjax never writes through one),
    a folder, a FIFO, a socket or a device cannot. Nothing is opened (a FIFO would block).
    """
    try:
        mode = os.lstat(path).st_mode
    except OSError:   # missing, or a parent that is not a folder: the write itself will say
        return None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "is a symbolic link (rfbjax does not write through links)"
    if stat.S_ISDIR(mode):
        return "is a directory"
    if stat.S_ISFIFO(mode):
        return "is a FIFO, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is a device, not a regular file"


def atomic_write_bytes(path: str, data: bytes, *, mode: int | None = None) -> None:
    """Write `data` to `path` atomically.

    Args:
        path: the file to write; its folder is created if missing.
        data: the whole content.
        mode: permission bits of a new file (default ``0666 & ~umask``); a replaced file
            keeps its own.

    Raises:
        OSError: naming `path` (not the temporary file) when the folder cannot be written,
            or when `path` is a symbolic link, a folder, a FIFO or a device (refused, not
            followed and not replaced).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    problem = target_problem(path)
    if problem is not None:
        code = (errno.ELOOP if "link" in problem else errno.EISDIR if "directory" in problem
                else errno.EINVAL)
        raise OSError(code, problem, path)
    try:
        bits = stat.S_IMODE(os.lstat(path).st_mode) & 0o777   # a replaced file keeps its bits
    except FileNotFoundError:
        bits = (0o666 if mode is None else mode) & ~_UMASK
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)   # O_CREAT | O_EXCL: never a link
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), bits)   # mkstemp creates 0600
            f.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _naming(exc, path) from None
        raise


def _naming(exc: OSError, path: str) -> OSError:
    """The same error, naming the user's `path` rather than our temporary file."""
    return OSError(exc.errno, exc.strerror or str(exc), path)
