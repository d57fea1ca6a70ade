"""The one writer of files.

`atomic_write_bytes` writes a temporary file that it creates itself (exclusively, in the target's
folder), then renames it over the target: no reader ever sees half a file, a failure leaves
nothing behind, and nothing is written through a symbolic link, neither one planted at the
target's name nor at a temporary name. Every file rfbjax writes (JSON, tables, figures, arrays,
the compile cache) goes through it.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile

__all__ = ["atomic_write_bytes"]


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: read once: toggling the umask later would race with files other threads create
_UMASK = _read_umask()


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write `data` to `path` atomically.

    Args:
        path: the file to write; its folder is created if missing.
        data: the whole content.

    Raises:
        OSError: naming `path` (not the temporary file) when the folder cannot be written,
            when `path` is a folder, or when `path` is a symbolic link (it is refused, not
            followed and not replaced).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISLNK(mode):
        raise OSError(errno.ELOOP, "is a symbolic link (rfbjax does not write through links)",
                      path)
    if mode is not None and stat.S_ISDIR(mode):
        raise OSError(errno.EISDIR, "is a directory", path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)   # O_CREAT | O_EXCL: never a link
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~_UMASK)   # mkstemp creates 0600: the usual mode
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
