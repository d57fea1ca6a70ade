"""Options and parsing shared by the subcommands (edges only: no algorithm here)."""

from __future__ import annotations

import argparse
import math
import re
import sys

from ..errors import InputError
from ..base.memory import parse_memory
from ..report.outputs import check_json_target, check_writable, write_json  # noqa: F401  (re-exported for subcommands)
from ..report.tables import fmt, format_table  # noqa: F401  (re-exported for subcommands)
from ..engine.resources import check_list_length, check_plan, default_budget  # noqa: F401


def seed_arg(text: str) -> int:
    """argparse type of ``--seed``: an integer in [0, 2^64) (refused at parse time, exit 2)."""
    from ..engine.seeds import check_seed

    try:
        return check_seed(text, "seed")
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("seed: ")) from None


def add_seed(p: argparse.ArgumentParser, help: str = "PRNG seed, an integer in [0, 2^64) "
             "(default 0)") -> None:
    """--seed: any integer in [0, 2^64); distinct seeds give distinct streams in any dtype."""
    p.add_argument("--seed", type=seed_arg, default=0, help=help)


def add_max_memory(p: argparse.ArgumentParser) -> None:
    """--max-memory: the whole command's memory budget (see `rfbjax.engine.resources`)."""
    p.add_argument("--max-memory", default=None, metavar="SIZE",
                   help="memory budget of the whole command, e.g. 2GB, 512MB (default: the "
                   "smaller of 4 GiB and half the physical memory); the Monte Carlo chunks "
                   "get what the rest leaves, with the same numbers whatever the budget")


def memory_budget(text) -> int:
    """Bytes of ``--max-memory`` (its default when None); one line for anything unreadable."""
    if text is None:
        return default_budget()
    try:
        return parse_memory(text)
    except (ValueError, OverflowError) as exc:
        msg = str(exc) if isinstance(exc, ValueError) else f"cannot read {text!r}"
        raise InputError(f"--max-memory: {msg}") from None


def add_common(p: argparse.ArgumentParser, *, samples: int = 1000) -> None:
    """--seed, --samples, --dtype, --quiet, --json, --max-memory."""
    add_seed(p)
    p.add_argument("--samples", type=int, default=samples,
                   help=f"Monte Carlo filterbanks per setting (default {samples})")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="floating point precision (default float32)")
    p.add_argument("--quiet", action="store_true", help="no table, no progress bar")
    p.add_argument("--json", metavar="PATH", help="also write machine-readable results here")
    add_max_memory(p)


def add_grid(p: argparse.ArgumentParser, default: str) -> None:
    """--N on the grid commands (`rfbjax.base.grid`), and --boundary, its deprecated 0.2 form."""
    from ..base.grid import N_HELP

    p.add_argument("--N", default=default, help=f"{N_HELP} (default {default})")
    p.add_argument("--boundary", choices=["circular", "linear"], default=None,
                   help="deprecated: write --N inf for linear convolution on l2(Z) (--boundary "
                   "circular is the default and can be left out)")


def grid_arg(args):
    """The parsed ``--N`` (`rfbjax.base.grid.Grid`); ``--boundary linear`` is read as ``--N inf``
    with a warning on stderr saying what to write instead."""
    from ..base.grid import Grid, parse_N

    boundary = getattr(args, "boundary", None)
    command = getattr(args, "command", "rfbjax")
    if boundary is not None:
        instead = "--N inf" if boundary == "linear" else "nothing (circular is the default)"
        sys.stderr.write(f"rfbjax {command}: warning: --boundary is deprecated and will be "
                         f"removed; write {instead}\n")
    if boundary == "linear":
        return Grid("inf", math.inf)
    return parse_N(args.N, "--N")


def add_layer_options(p: argparse.ArgumentParser, *, stride_note: str = "D must divide N") -> None:
    """--stride, --init, --rescale: the layer being modelled (strided conv1d, its initialiser)."""
    from ..kernels.initializers import NAMES

    p.add_argument("--stride", type=int, default=1, metavar="D",
                   help=f"keep every D-th output ({stride_note}; default 1)")
    p.add_argument("--init", choices=NAMES, default="gaussian",
                   help="filter initialiser (default gaussian, the paper's)")
    p.add_argument("--rescale", action="store_true",
                   help="rescale the taps to the energy-preserving variance D/(J T)")


#: the help of ``--progress``, an option of every subcommand (added by `rfbjax.cli.build_parser`)
PROGRESS_HELP = ("show the progress bar on stderr even when it is not a terminal (it is shown on "
                 "a terminal anyway; --quiet hides it)")


def show_progress(args) -> bool:
    """Whether a command shows its progress bar: never with ``--quiet``; on a terminal always,
    elsewhere (a log file, a pipe) only with ``--progress``."""
    if getattr(args, "quiet", False):
        return False
    if getattr(args, "progress", False):
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress_bar(total: int, desc: str, enabled, *, unit: str = "filterbank"):
    """One overall bar (stderr) for a whole command: every setting, compilation included.

    The one style of every command's progress: ``desc`` names the command, the postfix the
    item at work (a layer's name, a run), ``unit`` what is counted. The ETA is the plain
    average rate so far (no smoothing), so time spent compiling counts. ``enabled`` is a bool
    or the parsed arguments (`show_progress`). Returns None when disabled.
    """
    if not isinstance(enabled, bool):
        enabled = show_progress(enabled)
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, smoothing=0.0, dynamic_ncols=True,
                leave=False, file=sys.stderr)


def setup_dtype(args) -> None:
    """Turn on 64-bit floats in JAX when asked (must happen before any array is made)."""
    if args.dtype == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)


def check_common(args) -> None:
    if args.samples < 2:
        raise InputError(f"--samples: need at least 2, got {args.samples}")
    args.max_memory_bytes = memory_budget(args.max_memory)
    if getattr(args, "json", None):
        check_json_target(args.json, "--json", getattr(args, "command", None))


def parse_int_list(text: str, name: str, *, minimum: int = 1) -> list[int]:
    """Integers from a list: ``8,16,32``, a range ``8:1024:log2`` / ``8:64:8`` or ``8,16,...,1024``.

    ``A:B:log2`` is the powers of two times A up to B; ``A:B:S`` an arithmetic range with
    step S (B included when reached); ``A,B,...,C`` continues the geometric (B/A integer) or
    arithmetic progression of its first two terms up to C.
    """
    s = str(text).replace(" ", "")
    try:
        if ":" in s:
            parts = s.split(":")
            if len(parts) not in (2, 3):
                raise ValueError
            a, b = int(parts[0]), int(parts[1])
            step = parts[2] if len(parts) == 3 else "1"
            m = re.fullmatch(r"log(\d+)", step)
            if m:
                base = int(m.group(1))
                if base < 2 or a < 1:
                    raise ValueError
                vals, v = [], a
                while v <= b:
                    vals.append(v)
                    v *= base
            else:
                st = int(step)
                if st < 1:
                    raise ValueError
                check_list_length(max(0, (b - a) // st + 1), name)
                vals = list(range(a, b + 1, st))
        elif "..." in s:
            head, _, tail = s.partition("...")
            first = [int(t) for t in head.strip(",").split(",") if t]
            last = int(tail.strip(","))
            if len(first) < 2:
                raise ValueError
            a, b = first[0], first[1]
            vals = list(first)
            ratio, step = (b // a if a > 0 and b % a == 0 else 0), b - a
            candidates = []
            if ratio > 1 and all(first[i + 1] == first[i] * ratio for i in range(len(first) - 1)):
                candidates.append((False, lambda v: v * ratio))
            if step > 0 and all(first[i + 1] - first[i] == step for i in range(len(first) - 1)):
                candidates.append((True, lambda v: v + step))
            for arithmetic, nxt in candidates:  # geometric first, then arithmetic: the one
                if arithmetic:                      # that ends on C; bounded before it grows
                    check_list_length(max(0, (last - a) // step + 1), name)
                vals = list(first)
                while nxt(vals[-1]) <= last:
                    vals.append(nxt(vals[-1]))
                if vals[-1] == last:
                    break
            else:
                raise ValueError
        else:
            check_list_length(s.count(",") + 1, name)
            vals = [int(t) for t in s.split(",") if t != ""]
    except InputError:
        raise
    except ValueError:
        raise InputError(f"{name}: cannot parse {text!r} (use e.g. 8,16,32 or 8:1024:log2)") from None
    if not vals:
        raise InputError(f"{name}: empty list {text!r}")
    for v in vals:
        if v < minimum:
            raise InputError(f"{name}: values must be >= {minimum}, got {v}")
    return vals


def print_table(rows: list[dict], columns: list[tuple[str, str, int]], out=None) -> None:
    """Print ``rows`` with ``columns`` = [(key, header, width), ...] (see
    `rfbjax.report.tables.format_table`)."""
    import sys

    (out or sys.stdout).write(format_table(rows, columns))


def kappa_table(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """Rows of a frame-bound table ready to print, and notes on the draws with κ = ∞.

    Where some draws have A = 0 (κ = ∞), mean_kappa is inf and its standard error is not a
    number: the table shows "-" there and a note says how many draws, per (J, T); the
    quantiles still rank every draw."""
    shown, parts = [], []
    for r in rows:
        frac = r.get("frac_kappa_inf") or 0.0
        n = r.get("samples")
        if frac > 0:   # (rows read back from JSON hold None for the infinite values)
            r = dict(r, se_kappa=None, **{k: math.inf for k in ("mean_kappa", "q05_kappa",
                                                               "q95_kappa") if r.get(k) is None})
            count = f"{round(frac * n)} of {n}" if isinstance(n, int) else f"{100 * frac:.1f} %"
            parts.append(f"J={r['J']} T={r['T']}: {count}")
        shown.append(r)
    notes = []
    if parts:
        notes.append("note: kappa = inf (A = 0) in some draws, so mean_kappa is inf there: "
                     + "; ".join(parts) + " (q05/q95 rank every draw)")
    return shown, notes

