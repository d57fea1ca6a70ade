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
           "check_json_target", "remove_stale", "read_manifest", "written_by_rfbjax",
           "json_marker", "file_digest", "MANIFEST", "MARKER_KEY"]


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


#: top-level key marking a JSON file as rfbjax's (its ``"format"`` is this layout's number)
MARKER_KEY = "rfbjax"
JSON_FORMAT = 1

#: the top-level keys of each command's ``--json`` file in release 0.1.0 (no marker then)
LEGACY_JSON_KEYS = {c: {"command", "config", "rows"} for c in ("energy", "bounds", "sweep",
                                                                 "predict")}
LEGACY_JSON_KEYS["scaling-law"] = {"command", "dir", "config", "kappa", "partial", "laws"}


def json_marker(command: str | None) -> dict:
    """``{"format": 1, "version": ..., "command": ...}``: what every JSON file rfbjax writes
    carries under its top-level ``"rfbjax"`` key."""
    from ..base.version import __version__

    return {"format": JSON_FORMAT, "version": __version__, "command": command}


def write_json(path: str, payload: dict, *, command: str | None = None) -> None:
    """Strict JSON (inf/nan become null), indented, written atomically, with the ``"rfbjax"``
    marker at its top level (`json_marker`; ``command`` defaults to the payload's
    ``"command"``). The payload's own keys are kept as they are."""
    body = dict(to_jsonable(payload))
    body[MARKER_KEY] = json_marker(command if command is not None else body.get("command"))
    text = json.dumps(body, indent=2, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode())


def check_writable(path: str, name: str, *, directory: bool = False) -> None:
    """Fail early (before any computation) when ``path`` cannot be written.

    Walks up to the first existing ancestor: it must be a writable directory; an existing
    ``path`` must be a directory when ``directory`` and a file otherwise.
    """
    path = os.path.abspath(path)
    if not directory and not os.path.islink(path):
        from ..base.files import target_problem

        problem = target_problem(path)
        if problem is not None:
            raise InputError(f"{name}: {path!r} {problem}")
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


def _pattern(p: str):
    """A glob on relative paths where ``*`` and ``?`` never cross a ``/``."""
    import re

    parts = p.split("/")
    return re.compile("/".join(fnmatch.translate(q).replace("(?s:", "(?:").replace(".*", "[^/]*")
                               .replace("\\z", "").replace("\\Z", "") for q in parts) + r"\Z")


def _matches(rel: str, patterns) -> bool:
    return any(_pattern(p).match(rel) for p in patterns)


def _read_marker(path: str) -> dict | None:
    """A small JSON object at ``path`` (a regular file, never a FIFO, at most 16 MiB) or None."""
    import stat

    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 16 * 1024 ** 2:
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

    def is_scratch(rel):   # a planted link or FIFO at a scratch name is never ours
        return _matches(rel, scratch) and os.path.isfile(os.path.join(path, rel)) \
            and not os.path.islink(os.path.join(path, rel))

    if all(is_scratch(f) for f in files):
        return "empty"   # nothing, empty sub-folders, or a write of ours still in progress
    foreign = [f for f in files if not (is_scratch(f) or _matches(f, tuple(own) + (MANIFEST,)))]
    if foreign:
        raise InputError(f"{name}: {path!r} holds files that rfbjax {command} did not write "
                         f"(e.g. {foreign[0]!r}); give a new or empty folder")
    data = _read_marker(os.path.join(path, marker)) if marker in files else None
    ours = data is not None and (is_ours(data) if is_ours else data.get("command") == command)
    if not ours:
        raise InputError(f"{name}: {path!r} is not empty and has no {marker} of rfbjax {command}; "
                         "give a new or empty folder")
    return "reuse"


#: the list of files a command wrote in its output folder, with their digests
MANIFEST = ".rfbjax-manifest.json"


def file_digest(path: str) -> str | None:
    """blake2b digest of a regular file's content (None for anything else)."""
    import hashlib

    if os.path.islink(path) or not os.path.isfile(path):
        return None
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(path: str) -> dict | None:
    """``{relative path: digest}`` of the files rfbjax last wrote in the folder ``path``, or
    None when it has no manifest (a folder of release 0.1.0) or an unreadable one."""
    data = _read_marker(os.path.join(path, MANIFEST))
    files = data.get("files") if data is not None and MARKER_KEY in data else None
    if not isinstance(files, dict):
        return None
    return {str(k): v for k, v in files.items() if isinstance(v, str)}


def remove_stale(path: str, own, keep, *, command: str | None = None) -> None:
    """After a successful run into a reused folder: remove the files of our earlier run that
    this run did not write (``keep``: absolute paths), then record this run's files.

    The earlier run's files are those listed in the folder's manifest (`MANIFEST`), removed
    only while their content is still the one recorded (a file changed since is kept); in a
    folder of release 0.1.0 (no manifest) they are the files named like ``own`` (globs whose
    ``*`` does not cross folders). Nothing is ever removed by a glob over a manifest folder.
    The new manifest lists ``keep`` with their digests, written atomically.
    """
    path = os.path.abspath(path)
    keep = {os.path.abspath(k) for k in keep}
    old = read_manifest(path)
    if old is None:
        stale = [rel for rel in _files_under(path) if _matches(rel, tuple(own))]
        check = {}
    else:
        stale, check = list(old), old
    for rel in stale:
        full = os.path.abspath(os.path.join(path, rel))
        if full in keep or os.path.commonpath([full, path]) != path:
            continue
        digest = file_digest(full)
        if digest is None or (rel in check and check[rel] != digest):
            continue   # gone, a link, or changed since we wrote it: not ours to remove
        os.unlink(full)
    files = {}
    for full in sorted(keep):
        digest = file_digest(full)
        if digest is not None and os.path.commonpath([full, path]) == path:
            files[os.path.relpath(full, path).replace(os.sep, "/")] = digest
    write_json(os.path.join(path, MANIFEST), {"files": files}, command=command)


def written_by_rfbjax(data, command: str | None = None) -> bool:
    """Whether the JSON object ``data`` is a file rfbjax wrote: it carries the ``"rfbjax"``
    marker (of ``command`` when given), or it is exactly the 0.1.0 layout of ``command``."""
    if not isinstance(data, dict):
        return False
    mark = data.get(MARKER_KEY)
    if isinstance(mark, dict) and isinstance(mark.get("format"), int):
        return command is None or mark.get("command") == command
    return (command is not None and data.get("command") == command
            and set(data) == LEGACY_JSON_KEYS.get(command))


def check_json_target(path: str, name: str, command: str | None = None) -> None:
    """``--json PATH``: writable, and an existing file there must be JSON that rfbjax wrote
    (`written_by_rfbjax`, for ``command``); anything else is never overwritten. A link there
    is replaced by a regular file, never written through; a FIFO, device or folder is refused.
    """
    check_writable(path, name)
    if os.path.lexists(path) and not os.path.islink(path):
        data = _read_marker(path)
        if not written_by_rfbjax(data, command):
            raise InputError(f"{name}: {os.path.abspath(path)!r} exists and was not written by "
                             f"rfbjax{' ' + command if command else ''}; refusing to overwrite it")
