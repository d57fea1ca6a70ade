"""Writing results: JSON that strict parsers accept, written atomically."""

from __future__ import annotations

import json
import math
import os
import tempfile

import numpy as np

from .errors import InputError

__all__ = ["to_jsonable", "write_json", "atomic_write_bytes", "check_writable"]


def to_jsonable(obj):
    """NumPy scalars/arrays to Python; non-finite floats to ``None`` (strict JSON has no inf)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    return obj


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: never a half-written file."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str, payload: dict) -> None:
    """Strict JSON (inf/nan become null), indented, written atomically."""
    text = json.dumps(to_jsonable(payload), indent=2, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode())


def check_writable(path: str, name: str, *, directory: bool = False) -> None:
    """Fail early (before any computation) when ``path`` cannot be written.

    Walks up to the first existing ancestor: it must be a writable directory; an existing
    ``path`` must be a directory when ``directory`` and a file otherwise.
    """
    path = os.path.abspath(path)
    if os.path.exists(path):
        if directory and not os.path.isdir(path):
            raise InputError(f"{name}: {path!r} exists and is not a directory")
        if not directory and os.path.isdir(path):
            raise InputError(f"{name}: {path!r} is a directory")
    parent = path if directory and os.path.isdir(path) else os.path.dirname(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise InputError(f"{name}: cannot create {path!r}: {parent!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{name}: cannot write to {parent!r} (permission denied)")
