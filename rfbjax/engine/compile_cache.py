r"""Compile once, across runs too: where rfbjax keeps compiled programs between processes.

Two stores live under one directory, both on by default:

* ``xla/``: JAX's persistent compilation cache (XLA executables keyed by JAX from the lowered
  program, the compiler and the devices). Thresholds are set so that small programs are
  cached too (no minimum compile time, no minimum size).
* ``exported/``: the Monte Carlo driver's and ``tighten``'s programs serialised with `jax.export`
  (StableHLO, never pickle), so that a warm process skips Python tracing and lowering as
  well. An entry is keyed by a digest of everything the program depends on
  (`program_key`): the measurement function (module, name and the values it closes
  over), the argument shapes and dtypes, the block and chunk sizes, the devices (platform,
  kind, count), the JAX/jaxlib versions, the JAX settings that change numbers
  (``jax_enable_x64``, the PRNG implementation, ``jax_threefry_partitionable``, matmul
  precision) and a digest of rfbjax's own source files — editing rfbjax invalidates
  every entry.

Where (first that applies):

1. ``RFBJAX_CACHE_DIR``: a directory, or ``off`` (also ``0``, ``none``, ``false``) to
   switch both stores off;
2. ``platformdirs.user_cache_dir("rfbjax")`` when platformdirs is installed;
3. ``$XDG_CACHE_HOME/rfbjax``, else ``~/.cache/rfbjax`` (XDG base directory rules).

Trust. A cache entry is a program the run will execute (an XLA executable is native code), so
the cache trusts only what only the current user could have written. Folders are created 0700;
before use the root and its ``xla/`` and ``exported/`` folders must be owned by the current user
and writable by no one else (links on the way, e.g. ``~/.cache`` on another disk, are fine);
otherwise the caches are off for this run with one warning line naming the folder and why
(printed under ``--quiet`` too: it is a security notice). rfbjax's own entries carry a digest
of their content, checked on load: a mismatch or a missing digest (an entry of release 0.1.0) is
a miss and the entry is rewritten. Every value read from a metadata entry is validated. Entries
are written through `rfbjax.base.files.atomic_write_bytes` (a fresh temporary file, then a
rename) with mode 0600. Pruning and `clear` act only in a root that holds rfbjax's marker
(``CACHEDIR.TAG``, written when rfbjax creates the root or adopts a 0.1.0 one that holds nothing
but ``xla/`` and ``exported/``) and only on files of rfbjax's and JAX's naming; a folder without
the marker is used but never pruned.

If the user configured JAX's own cache (``JAX_COMPILATION_CACHE_DIR`` /
``jax_compilation_cache_dir``), rfbjax leaves it as it is and keeps only ``exported/`` in its
own directory. The directory is kept under ``RFBJAX_CACHE_MAX_SIZE`` (default 1 GiB; accepts
``512MB`` etc.) by deleting the least recently used files when `enable` runs. Clear it
with `clear` or by deleting the directory.

Nothing here changes numbers: a cached program is the program that would be compiled.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys
import threading

from ..base.files import atomic_write_bytes

__all__ = ["cache_dir", "enable", "active", "clear", "untrusted", "MARKER", "program_key", "load_exported",
           "store_exported", "load_meta", "store_meta", "cache_size", "DEFAULT_MAX_SIZE", "lower", "calls_lapack"]

DEFAULT_MAX_SIZE = 1024 ** 3
_OFF = {"off", "0", "none", "false", "no", "disable", "disabled"}
_lock = threading.Lock()
_state: dict = {"enabled": None, "dir": None, "owned": False}
#: the marker of a root rfbjax created (the Cache Directory Tagging convention, plus our line)
MARKER = "CACHEDIR.TAG"
_MARKER_TEXT = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                "# This file marks the compile cache of rfbjax; rfbjax prunes only folders "
                "holding it.\n")
#: file names rfbjax and JAX give to cache entries (nothing else is ever deleted)
_OWN_NAMES = {"exported": re.compile(r"[0-9a-f]{40}\.(jaxexport|json)|\.tmp-[A-Za-z0-9_]+"),
              "xla": re.compile(r"[A-Za-z0-9_.\-]+-[0-9a-f]{64}-(cache|atime)")}
_EXPORT_MAGIC = b"rfbjax-export/1 "
_source_digest: list = []


def cache_dir() -> str | None:
    """The cache directory by the rules above, or None when ``RFBJAX_CACHE_DIR=off``.

    Reads the environment at each call; creates nothing.
    """
    env = os.environ.get("RFBJAX_CACHE_DIR")
    if env is not None:
        if env.strip().lower() in _OFF or not env.strip():
            return None
        return os.path.abspath(os.path.expanduser(env.strip()))
    try:  # imported only here: it is optional, and absent on some machines
        import platformdirs

        return os.path.abspath(platformdirs.user_cache_dir("rfbjax", appauthor=False))
    except ImportError:
        pass
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    if not base or not os.path.isabs(base):  # XDG: a relative value is invalid, ignore it
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rfbjax")


def _max_size() -> int:
    text = os.environ.get("RFBJAX_CACHE_MAX_SIZE")
    if not text:
        return DEFAULT_MAX_SIZE
    from ..base.memory import parse_memory

    try:
        return parse_memory(text)
    except ValueError:
        return DEFAULT_MAX_SIZE


def untrusted(path: str) -> str | None:
    """Why the folder ``path`` may hold entries someone else wrote, or None when only the
    current user can write there (owned by them, no write bit for group or others).

    The folder itself may be reached through a symbolic link (its target is checked).
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        return f"is owned by another user (uid {st.st_uid})"
    if st.st_mode & 0o022:
        return f"is writable by {'others' if st.st_mode & 0o002 else 'its group'} " \
               f"(mode {stat.S_IMODE(st.st_mode):04o})"
    if not os.access(path, os.W_OK | os.X_OK):
        return "is not writable"
    return None


def _is_ours(root: str) -> bool:
    try:
        with open(os.path.join(root, MARKER), "rb") as f:
            return f.read(4096).decode("utf-8", "replace") == _MARKER_TEXT
    except OSError:
        return False


def _open_root(path: str) -> tuple[str | None, bool]:
    """Create or check the cache root and its subfolders: ``(None, _)`` after one warning when
    it cannot be trusted, else ``(reason None, owned)``; ``owned``: the marker is there."""
    created = not os.path.lexists(path)
    try:
        if created:
            os.makedirs(path, mode=0o700)
        for sub in ("exported", "xla"):
            sp = os.path.join(path, sub)
            if not os.path.lexists(sp) and untrusted(path) is None:
                os.mkdir(sp, 0o700)
    except OSError as exc:
        return f"{path}: cannot be created ({exc.strerror or exc})", False
    for folder in (path, os.path.join(path, "exported"), os.path.join(path, "xla")):
        why = untrusted(folder)
        if why is not None:
            return f"'{folder}' {why}", False
    owned = _is_ours(path)
    if not owned:
        try:
            names = set(os.listdir(path))
        except OSError:
            names = {None}
        if names <= {"xla", "exported"}:   # created here, or by release 0.1.0: ours to mark
            try:
                atomic_write_bytes(os.path.join(path, MARKER), _MARKER_TEXT.encode(),
                                   mode=0o600)
                owned = True
            except OSError:
                pass
    return None, owned


def enable() -> str | None:
    """Switch the persistent caches on for this process (idempotent); returns the directory.

    Call before the first compilation (the CLI does so before running a command; the Monte
    Carlo driver calls it too). Returns None, changing nothing, when the cache is off, when the
    directory cannot be created, or when it can be written by someone else (one warning line
    on stderr says which folder and why).
    """
    with _lock:
        if _state["enabled"] is not None:
            return _state["dir"]
        path = cache_dir()
        owned = False
        if path is not None:
            why, owned = _open_root(path)
            if why is not None:
                sys.stderr.write(f"rfbjax: warning: compile cache off for this run: {why}\n")
                path = None
        _state["enabled"], _state["dir"], _state["owned"] = path is not None, path, owned
        if path is None:
            return None
        if owned:
            _prune(path, _max_size())
        import jax

        if not jax.config.jax_compilation_cache_dir:
            jax.config.update("jax_compilation_cache_dir", os.path.join(path, "xla"))
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
            _atomic_xla_entries()
            _reset_jax_cache_if_checked()
        return path


def _atomic_xla_entries() -> None:
    """Make JAX's writes of ``xla/`` entries atomic (a temporary file renamed into place), so
    that a full disk or a killed process leaves no truncated entry for later runs to trip over.

    JAX's file cache writes an entry in place; its ``put`` is replaced, for the file cache
    without eviction (the one configured here), by the same logic through the atomic writer.
    With eviction on (a ``jax_compilation_cache_max_size`` set by the user) JAX's own ``put``
    runs, locks and access times included.
    """
    try:
        from jax._src import lru_cache
    except Exception:  # a private detail of JAX: without it, JAX's own writer stays
        return
    original = getattr(lru_cache.LRUCache, "put", None)
    suffix = getattr(lru_cache, "_CACHE_SUFFIX", None)
    if original is None or suffix is None or getattr(original, "_rfbjax_atomic", False):
        return

    def put(self, key, value):
        if getattr(self, "eviction_enabled", True) or not key:
            return original(self, key, value)
        target = os.path.join(str(self.path), f"{key}{suffix}")
        if os.path.exists(target):
            return None
        if not _write_atomic(target, bytes(value)):
            raise OSError(f"cannot write the compile cache entry {target!r}")
        return None

    put._rfbjax_atomic = True  # type: ignore[attr-defined]
    lru_cache.LRUCache.put = put


def active() -> bool:
    """Whether `enable` has switched the caches on in this process."""
    return bool(_state["enabled"])


def _reset_jax_cache_if_checked() -> None:
    """If something compiled before `enable`, JAX has already decided 'no cache'."""
    try:
        from jax._src import compilation_cache as cc

        if getattr(cc, "_cache_checked", False) and not getattr(cc, "_cache_used", True):
            cc.reset_cache()
    except Exception:  # a private detail of JAX: without it, the cache starts next process
        pass


def _files(path: str):
    """Cache entries of rfbjax's and JAX's naming in ``xla/`` and ``exported/`` (regular files
    only, no sub-folders): ``(path, size, last use)``."""
    for sub, pattern in _OWN_NAMES.items():
        root = os.path.join(path, sub)
        try:
            names = os.listdir(root)
        except OSError:
            continue
        for n in names:
            if not pattern.fullmatch(n):
                continue
            p = os.path.join(root, n)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                yield p, st.st_size, max(st.st_atime, st.st_mtime)


def cache_size(path: str | None = None) -> int:
    """Bytes used by the cache's entries (0 when off or empty)."""
    path = path or cache_dir()
    return sum(s for _, s, _ in _files(path)) if path else 0


def _prune(path: str, limit: int) -> None:
    files = list(_files(path))
    total = sum(s for _, s, _ in files)
    if total <= limit:
        return
    for p, s, _ in sorted(files, key=lambda f: f[2]):  # least recently used first
        try:
            os.remove(p)
        except OSError:
            continue
        total -= s
        if total <= 0.75 * limit:
            break


def clear(path: str | None = None) -> int:
    """Delete every cached program; returns the bytes freed.

    Acts only in a root holding rfbjax's marker, and only on entries of rfbjax's and JAX's
    naming in ``xla/`` and ``exported/``; any other file stays.
    """
    path = path or cache_dir()
    if not path or not _is_ours(path):
        return 0
    freed = 0
    for p, s, _ in list(_files(path)):
        try:
            os.remove(p)
            freed += s
        except OSError:
            pass
    return freed


# ----------------------------------------------------------------------------- exported programs
def _rfbjax_source_digest() -> str:
    if not _source_digest:
        root = os.path.dirname(os.path.abspath(__file__))
        h = hashlib.blake2b(digest_size=16)
        for dirpath, dirnames, names in os.walk(root):
            dirnames.sort()
            for n in sorted(names):
                if n.endswith(".py"):
                    p = os.path.join(dirpath, n)
                    h.update(os.path.relpath(p, root).encode())
                    with open(p, "rb") as f:
                        h.update(f.read())
        _source_digest.append(h.hexdigest())
    return _source_digest[0]


_SIMPLE = (int, float, str, bool, bytes, type(None))


def _identity(obj, depth: int = 0):
    """A stable description of a value a program closes over, or None if there is none."""
    if isinstance(obj, _SIMPLE):
        return (type(obj).__name__, repr(obj))
    if isinstance(obj, (tuple, list)):
        parts = [_identity(o, depth) for o in obj]
        return None if any(p is None for p in parts) else (type(obj).__name__, tuple(parts))
    if callable(obj) and depth < 4:
        mod = getattr(obj, "__module__", "") or ""
        if not (mod == "rfbjax" or mod.startswith("rfbjax.")):
            return None  # outside rfbjax its source is not in the digest
        code = getattr(obj, "__code__", None)
        cells = getattr(obj, "__closure__", None) or ()
        parts = []
        for c in cells:
            try:
                parts.append(_identity(c.cell_contents, depth + 1))
            except ValueError:  # empty cell
                parts.append(("empty",))
        if any(p is None for p in parts):
            return None
        defaults = _identity(tuple(getattr(obj, "__defaults__", None) or ()), depth + 1)
        if defaults is None:
            return None
        return ("fn", mod, getattr(obj, "__qualname__", ""),
                code.co_firstlineno if code is not None else -1, tuple(parts), defaults)
    return None


def program_key(fn, *parts) -> str | None:
    """Digest naming one compiled program of ``fn`` (see the module docstring), or None.

    ``parts`` are the static facts of the call (shapes, dtypes, block, chunk, device ids).
    None means the program cannot be named safely (a function from outside rfbjax, or one
    closing over arrays): it is then traced and compiled as usual.
    """
    ident = _identity(fn)
    if ident is None:
        return None
    import jax
    import jaxlib

    devs = jax.devices()
    settings = tuple(str(getattr(jax.config, name, None)) for name in (
        "jax_enable_x64", "jax_default_prng_impl", "jax_threefry_partitionable",
        "jax_default_matmul_precision"))
    desc = repr((ident, parts, jax.__version__, jaxlib.__version__, devs[0].platform,
                 str(devs[0].device_kind), len(devs), settings, sys.version_info[:2],
                 _rfbjax_source_digest()))
    return hashlib.blake2b(desc.encode(), digest_size=20).hexdigest()


def _exported_path(key: str, suffix: str = ".jaxexport") -> str | None:
    path = _state["dir"] if _state["enabled"] else None
    return os.path.join(path, "exported", key + suffix) if path else None


def _write_atomic(p: str, blob: bytes) -> bool:
    """Write through the atomic writer (mode 0600): readers never see half a file; False when
    it fails."""
    try:
        atomic_write_bytes(p, blob, mode=0o600)
        return True
    except OSError:
        return False


def _digest(blob: bytes) -> str:
    return hashlib.blake2b(blob, digest_size=32).hexdigest()


def _read_entry(p: str, limit: int) -> bytes | None:
    """An entry's bytes (a regular file, at most ``limit`` bytes), or None."""
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        return f.read(limit + 1)


#: the values a metadata record may hold, each with its check
_META_FIELDS = {"out_bytes": lambda v: isinstance(v, int) and not isinstance(v, bool)
                and 0 <= v < 1 << 50,
                "lapack": lambda v: isinstance(v, bool)}


def load_meta(key: str | None) -> dict | None:
    """A small JSON record stored with `store_meta` (e.g. a program's output size), or None.

    None too when the record's digest does not match its content, or when a field is not of
    its type and range (``out_bytes``: a non-negative integer, ``lapack``: a bool); a record
    is all its fields or nothing.
    """
    p = _exported_path(key, ".json") if key else None
    blob = _read_entry(p, 64 * 1024) if p else None
    if blob is None:
        return None
    try:
        out = json.loads(blob)
        record, digest = out["record"], out["digest"]
        if not isinstance(record, dict) or digest != _digest(_canonical(record)):
            return None
        if any(k in _META_FIELDS and not _META_FIELDS[k](v) for k, v in record.items()):
            return None
        return record
    except (ValueError, KeyError, TypeError):
        return None


def _canonical(record: dict) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


def store_meta(key: str | None, record: dict) -> bool:
    """Store a small JSON record under ``key`` with its digest; False when the cache is off."""
    p = _exported_path(key, ".json") if key else None
    if p is None:
        return False
    body = _canonical(record)
    return _write_atomic(p, json.dumps({"record": record, "digest": _digest(body)}).encode())


def load_exported(key: str | None):
    """The `jax.export.Exported` stored under ``key``, or None (absent, off, unreadable, or its
    digest does not match)."""
    p = _exported_path(key) if key else None
    blob = _read_entry(p, 1 << 30) if p else None
    if blob is None:
        return None
    head, sep, body = blob.partition(b"\n")
    if not sep or not head.startswith(_EXPORT_MAGIC) \
            or head[len(_EXPORT_MAGIC):].decode("ascii", "replace") != _digest(body):
        return None      # a file of 0.1.0, truncated or changed: a miss, rewritten
    try:
        from jax import export

        os.utime(p)  # recently used: kept by the pruning
        return export.deserialize(bytearray(body))
    except Exception:  # cannot be read by this JAX: recompile (and overwrite it)
        return None


def store_exported(key: str | None, exported) -> bool:
    """Serialise ``exported`` under ``key`` with its digest (atomic write); False when off or
    not possible."""
    p = _exported_path(key) if key else None
    if p is None:
        return False
    try:
        blob = bytes(exported.serialize())   # needs the flatbuffers package
    except Exception:
        return False
    return _write_atomic(p, _EXPORT_MAGIC + _digest(blob).encode() + b"\n" + blob)


# ----------------------------------------------------------------------------- lowering
_no_lapack = threading.local()


def _lapack_targets() -> tuple | None:
    """The names of jaxlib's CPU LAPACK kernels as bytes, or None when jaxlib does not list
    them (then every exported program is treated as calling LAPACK)."""
    try:
        from jax._src.lib import lapack

        names = tuple(n.encode() for n, _, _ in lapack.registrations().get("cpu", ()))
        return names or None
    except Exception:
        return None


def _lapack_guard() -> bool:
    """Let `lower` skip JAX's LAPACK set-up for an exported program that calls no LAPACK.

    JAX's lowering of a call of an exported program on CPU always initialises jaxlib's LAPACK
    kernels, which imports ``scipy.linalg`` (about 0.1 s warm, 0.3 s under a profiler) even
    when the program calls none of them. The set-up is wrapped once so that it is skipped
    while `lower` lowers a program whose serialised module names no LAPACK kernel; everywhere
    else (other threads, programs with LAPACK, JAX's own lowering of ``eigh`` and friends,
    which initialise LAPACK themselves) it runs as before. False, changing nothing, when this
    private detail of JAX is not there.
    """
    try:
        from jax._src.export import _export
    except Exception:
        return False
    original = getattr(_export, "_ensure_backends_initialized", None)
    if original is None:
        return False
    if getattr(original, "_rfbjax_guard", False):
        return True

    def ensure(platforms, *rest, **kw):
        if getattr(_no_lapack, "on", False):
            return None
        return original(platforms, *rest, **kw)

    ensure._rfbjax_guard = True  # type: ignore[attr-defined]
    _export._ensure_backends_initialized = ensure
    return True


def calls_lapack(exported) -> bool:
    """Whether the serialised module of ``exported`` may call a jaxlib LAPACK kernel (True
    when that cannot be told: a name found anywhere in the bytes counts)."""
    names = _lapack_targets()
    try:
        blob = bytes(exported.mlir_module_serialized)
    except Exception:
        return True
    return names is None or any(n in blob for n in names)


def lower(jitted, specs, key: str | None):
    """``jitted.lower(*specs)``, through the export cache when ``key`` names the program.

    With the cache active and a ``key`` (`program_key`): the `jax.export.Exported` stored under
    ``key`` is reloaded (or ``jitted`` is exported for ``specs`` and stored), and its call is
    lowered instead of ``jitted``: no Python tracing of the program in a warm process, and
    no LAPACK set-up when it calls no LAPACK (`calls_lapack`). Without a key, with the cache
    off, or when the export fails, ``jitted`` is lowered as usual; the numbers are the same
    either way.
    """
    import jax

    if key is None or not active():
        return jitted.lower(*specs)
    exported = load_exported(key)
    if exported is None:
        try:
            from jax import export

            exported = export.export(jitted)(*specs)
            if not store_exported(key, exported):
                exported = None
        except Exception:  # not exportable (e.g. a custom call): trace as usual
            exported = None
    if exported is None:
        return jitted.lower(*specs)
    target = jax.jit(exported.call)
    if calls_lapack(exported) or not _lapack_guard():
        return target.lower(*specs)
    _no_lapack.on = True
    try:
        return target.lower(*specs)
    finally:
        _no_lapack.on = False
