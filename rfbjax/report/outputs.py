"""Writing results: JSON that strict parsers accept, written atomically."""

from __future__ import annotations

import fnmatch
import json
import math
import os

import numpy as np

from ..base.files import atomic_write_bytes
from ..errors import InputError

__all__ = ["to_jsonable", "write_json", "check_writable", "check_out_dir",
           "check_json_target", "remove_stale"]


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


#: files any command may leave while writing (temporary names, renamed when complete)
SCRATCH = (".tmp-*", ".*.tmp.*", ".*.tmp")


def _files_under(folder: str) -> list[str]:
    """Relative paths (with '/') of every file and symbolic link under ``folder``."""
    out = []
    for root, dirs, files in os.walk(folder):
        rel = os.path.relpath(root, folder)
        for d in list(dirs):
            if os.path.islink(os.path.join(root, d)):
                out.append(d if rel == "." else f"{rel}/{d}")
                dirs.remove(d)
        out += [f if rel == "." else f"{rel}/{f}".replace(os.sep, "/") for f in files]
    return sorted(out)


def _matches(rel: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(rel, p) for p in patterns)


def _read_marker(path: str) -> dict | None:
    try:
        if os.path.getsize(path) > 16 * 1024 ** 2:
            return None
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def check_out_dir(path: str, name: str, *, command: str, own, marker: str,
                  is_ours=None) -> str:
    """Decide, before any computation, whether ``path`` may receive this command's outputs.

    * missing (its first existing ancestor a writable folder) -> ``"new"``;
    * an empty folder -> ``"empty"``;
    * a folder holding only files named like this command's outputs (``own``: glob patterns on
      paths relative to it, ``*`` crossing folders) *and* its ``marker`` file written by this
      command (a JSON object whose ``"command"`` is ``command``, or for which ``is_ours``
      returns True) -> ``"reuse"`` (the command then overwrites its own earlier outputs);
    * anything else -> `InputError` naming a file this command did not write.

    Temporary files of an interrupted write (``.tmp-*``) count as ours.
    """
    check_writable(path, name, directory=True)
    path = os.path.abspath(path)
    if not os.path.exists(path):
        return "new"
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"{name}: cannot write to {path!r} (permission denied)")
    files = _files_under(path)
    scratch = SCRATCH + tuple(f"*/{p}" for p in SCRATCH)
    if all(_matches(f, scratch) for f in files):
        return "empty"   # nothing, empty sub-folders, or a write of ours still in progress
    foreign = [f for f in files if not _matches(f, tuple(own) + scratch)]
    if foreign:
        raise InputError(f"{name}: {path!r} holds files that rfbjax {command} did not write "
                         f"(e.g. {foreign[0]!r}); give a new or empty folder")
    data = _read_marker(os.path.join(path, marker)) if marker in files else None
    ours = data is not None and (is_ours(data) if is_ours else data.get("command") == command)
    if not ours:
        raise InputError(f"{name}: {path!r} is not empty and has no {marker} of rfbjax {command}; "
                         "give a new or empty folder")
    return "reuse"


def remove_stale(path: str, own, keep) -> None:
    """After a successful run into a reused folder: remove our earlier outputs (files matching
    ``own``) that this run did not write (``keep``: absolute paths); nothing else is touched."""
    keep = {os.path.abspath(k) for k in keep}
    for rel in _files_under(path):
        full = os.path.abspath(os.path.join(path, rel))
        if _matches(rel, tuple(own)) and full not in keep and os.path.isfile(full):
            os.unlink(full)


def check_json_target(path: str, name: str) -> None:
    """``--json PATH``: writable, and an existing file there must be JSON that rfbjax wrote
    (an object with a ``"command"`` key); anything else is never overwritten."""
    check_writable(path, name)
    if os.path.exists(path):
        data = _read_marker(path)
        if data is None or "command" not in data:
            raise InputError(f"{name}: {os.path.abspath(path)!r} exists and was not written by "
                             "rfbjax; refusing to overwrite it")
