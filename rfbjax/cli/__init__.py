"""The ``rfbjax`` command line: a thin layer over the library.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` and
``run(args) -> int``. Bad input raises `rfbjax.errors.InputError` (or an argparse
error) and becomes one line on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import InputError

#: subcommand modules, in the order ``rfbjax --help`` lists them
COMMANDS = ["energy", "bounds"]
_OPTIONAL_COMMANDS = ["predict", "sweep", "scaling_law", "reproduce", "audit", "attack", "tighten",
                      "train_study"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of usage + message."""

    def error(self, message):  # noqa: D401
        prog = self.prog
        sys.stderr.write(f"{prog}: error: {message}\n")
        raise SystemExit(2)


def _modules():
    mods = []
    for name in COMMANDS + _OPTIONAL_COMMANDS:
        try:
            mods.append(importlib.import_module(f"{__name__}.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    return mods


class _Declared(Exception):
    """Raised by `_Peek` with what a subcommand declares about itself."""


class _Peek:
    """Stands in for argparse's subparsers: learns a subcommand's name and help, then stops."""

    def add_parser(self, name, **kwargs):
        raise _Declared(name, kwargs)


def _declaration(mod) -> tuple[str, dict]:
    try:
        mod.add_parser(_Peek())
    except _Declared as found:
        return found.args
    raise RuntimeError(f"{mod.__name__}.add_parser declared no subcommand")


def _chosen(argv) -> str | None:
    """The subcommand named on the command line (the first word that is not an option)."""
    for tok in argv:
        if not tok.startswith("-"):
            return tok
    return None


def build_parser(argv=None) -> argparse.ArgumentParser:
    """The full parser of the chosen subcommand; the others only by name and help.

    Building a subcommand's options imports the library (JAX); ``rfbjax --help`` and a bad
    command name need none of that. ``argv=None`` builds every subcommand in full.
    """
    parser = _Parser(prog="rfbjax", description="Stability of random FIR filterbanks, in JAX.")
    from ..base.version import __version__

    parser.add_argument("--version", action="version", version=f"rfbjax {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    chosen = _chosen(argv) if argv is not None else None
    for mod in _modules():
        name, kwargs = _declaration(mod)
        if argv is None or name == chosen:
            mod.add_parser(sub)
            _add_progress(sub.choices[name])
        else:
            sub.add_parser(name, help=kwargs.get("help"), add_help=False)
    return parser


def _add_progress(p: argparse.ArgumentParser) -> None:
    """``--progress``, the same option on every subcommand (`rfbjax.cli.common.show_progress`)."""
    from .common import PROGRESS_HELP

    if "--progress" not in p._option_string_actions:
        p.add_argument("--progress", action="store_true", help=PROGRESS_HELP)


#: most CPU devices the command line asks XLA for (one per core)
MAX_HOST_DEVICES = 8


def _host_devices() -> None:
    """One XLA CPU device per core (at most `MAX_HOST_DEVICES`), before JAX starts.

    The Monte Carlo driver splits the samples over devices, so on CPU every core runs blocks of
    its own (W1 of ``scripts/bench.py --process``: about 1.3× faster on 2 cores); the numbers do
    not depend on the device count. ``RFBJAX_HOST_DEVICES=N`` chooses N (1: one device, XLA's
    default); an ``XLA_FLAGS`` that already sets ``--xla_force_host_platform_device_count`` is
    left alone, and nothing changes once JAX is imported (rfbjax used as a library).
    Accelerators are not affected. Measurements that call LAPACK still run on one device
    (`rfbjax.engine.montecarlo._safe_devices`: jaxlib's batched eigensolver can deadlock XLA's
    CPU pool when every core has a device).
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" in flags or "jax" in sys.modules:
        return
    text = os.environ.get("RFBJAX_HOST_DEVICES", "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise InputError(f"RFBJAX_HOST_DEVICES: must be a whole number >= 1, got {text!r}")
        n = int(text)
    else:
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cores = os.cpu_count() or 1
        n = min(MAX_HOST_DEVICES, cores)
    if n > 1:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()


def _idle_blas_threads() -> None:
    """Let NumPy's BLAS threads sleep as soon as they are idle, before NumPy is loaded.

    The exact theory's linear algebra (NumPy, multithreaded BLAS) runs while the Monte Carlo
    keeps every core busy; OpenBLAS threads otherwise spin for a while after each call and
    take CPU from it (warm W2 of ``scripts/bench.py --process``: about 1 s of CPU, 0.3 s of
    wall on 2 cores). Sets ``OPENBLAS_THREAD_TIMEOUT=4`` (the shortest spin) and
    ``OMP_WAIT_POLICY=PASSIVE`` (OpenMP builds) unless set already; large matrices still use
    every thread. Nothing changes once NumPy is loaded (rfbjax used as a library).
    """
    if "numpy" in sys.modules:
        return
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _idle_blas_threads()   # before the parser's modules load NumPy
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        _host_devices()
        from ..engine.compile_cache import enable

        enable()   # programs compiled by earlier runs are reused (RFBJAX_CACHE_DIR=off: not)
        return int(args.func(args) or 0)
    except InputError as exc:
        from ..base.text import printable

        sys.stderr.write(f"rfbjax {args.command}: error: {printable(exc)}\n")   # one line
        return 2
    except OSError as exc:  # a file system refusal at write time: one line, not a traceback
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"rfbjax {args.command}: error: {where}{exc.strerror or exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("rfbjax: interrupted\n")
        return 130
    finally:   # on an error or Ctrl-C, no Monte Carlo run goes on in the background
        if "rfbjax.engine.montecarlo" in sys.modules:
            sys.modules["rfbjax.engine.montecarlo"].cancel_all()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
