r"""Compile once, across runs too: where rfbjax keeps compiled programs between processes.

Two stores live under one directory, both on by default:

* ``xla/``: JAX's persistent compilation cache (XLA executables keyed by JAX from the lowered
  program, the compiler and the devices). Thresholds are set so that small programs are
  cached too (no minimum compile time, no minimum size).
* ``exported/``: the Monte Carlo driver's programs serialised with `jax.export`
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

If the user configured JAX's own cache (``JAX_COMPILATION_CACHE_DIR`` /
``jax_compilation_cache_dir``), rfbjax leaves it as it is and keeps only ``exported/`` in its
own directory. The directory is kept under ``RFBJAX_CACHE_MAX_SIZE`` (default 1 GiB; accepts
``512MB`` etc.) by deleting the least recently used files when `enable` runs. Clear it
with `clear` or by deleting the directory.

Nothing here changes numbers: a cached program is the program that would be compiled.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading

from ..base.files import atomic_write_bytes

__all__ = ["cache_dir", "enable", "active", "clear", "program_key", "load_exported",
           "store_exported", "load_meta", "store_meta", "cache_size", "DEFAULT_MAX_SIZE"]

DEFAULT_MAX_SIZE = 1024 ** 3
_OFF = {"off", "0", "none", "false", "no", "disable", "disabled"}
_lock = threading.Lock()
_state: dict = {"enabled": None, "dir": None}
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


def enable() -> str | None:
    """Switch the persistent caches on for this process (idempotent); returns the directory.

    Call before the first compilation (the CLI does so before running a command; the Monte
    Carlo driver calls it too). Returns None, changing nothing, when the cache is off or the
    directory cannot be created.
    """
    with _lock:
        if _state["enabled"] is not None:
            return _state["dir"]
        path = cache_dir()
        if path is not None:
            try:
                os.makedirs(os.path.join(path, "exported"), exist_ok=True)
            except OSError:
                path = None
        _state["enabled"], _state["dir"] = path is not None, path
        if path is None:
            return None
        _prune(path, _max_size())
        import jax

        if not jax.config.jax_compilation_cache_dir:
            xla = os.path.join(path, "xla")
            os.makedirs(xla, exist_ok=True)
            jax.config.update("jax_compilation_cache_dir", xla)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
            _reset_jax_cache_if_checked()
        return path


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
    for sub in ("xla", "exported"):
        root = os.path.join(path, sub)
        for dirpath, _, names in os.walk(root):
            for n in names:
                p = os.path.join(dirpath, n)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                yield p, st.st_size, max(st.st_atime, st.st_mtime)


def cache_size(path: str | None = None) -> int:
    """Bytes used by the cache (0 when off or empty)."""
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
    """Delete every cached program; returns the bytes freed. Only rfbjax's own subfolders."""
    path = path or cache_dir()
    if not path:
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
    """Write through the atomic writer: readers never see half a file; False when it fails."""
    try:
        atomic_write_bytes(p, blob)
        return True
    except OSError:
        return False


def load_meta(key: str | None) -> dict | None:
    """A small JSON record stored with `store_meta` (e.g. a program's output size)."""
    p = _exported_path(key, ".json") if key else None
    if p is None or not os.path.exists(p):
        return None
    try:
        import json

        with open(p, encoding="utf-8") as f:
            out = json.load(f)
        return out if isinstance(out, dict) else None
    except (OSError, ValueError):
        return None


def store_meta(key: str | None, record: dict) -> bool:
    """Store a small JSON record under ``key``; False when the cache is off."""
    p = _exported_path(key, ".json") if key else None
    if p is None:
        return False
    import json

    return _write_atomic(p, json.dumps(record).encode())


def load_exported(key: str | None):
    """The `jax.export.Exported` stored under ``key``, or None (absent, off, unreadable)."""
    p = _exported_path(key) if key else None
    if p is None or not os.path.exists(p):
        return None
    try:
        from jax import export

        with open(p, "rb") as f:
            blob = f.read()
        os.utime(p)  # recently used: kept by the pruning
        return export.deserialize(bytearray(blob))
    except Exception:  # a truncated or foreign file: recompile (and overwrite it)
        return None


def store_exported(key: str | None, exported) -> bool:
    """Serialise ``exported`` under ``key`` (atomic write); False when off or not possible."""
    p = _exported_path(key) if key else None
    if p is None:
        return False
    try:
        blob = exported.serialize()   # needs the flatbuffers package
    except Exception:
        return False
    return _write_atomic(p, blob)
