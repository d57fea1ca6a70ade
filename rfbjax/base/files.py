"""The one writer of files: atomic (a temporary file in the same folder, then a rename), so no
reader ever sees half a file, and never through a link planted at the temporary name."""

from __future__ import annotations

import errno
import os
import tempfile

__all__ = ["atomic_write_bytes"]


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: never a half-written file."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if os.path.isdir(path):
        raise OSError(errno.EISDIR, "is a directory", path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _naming(exc, path) from None
        raise


def _naming(exc: OSError, path: str) -> OSError:
    """The same error, naming the user's ``path`` rather than our temporary file."""
    return OSError(exc.errno, exc.strerror or str(exc), path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
