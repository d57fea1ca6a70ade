"""``rfbjax bounds``: Monte Carlo frame bounds A, B and condition number of random filterbanks."""

from __future__ import annotations

import sys

from ..errors import InputError
from . import common

COLUMNS = [("J", "J", 4), ("T", "T", 5), ("N", "N", 6), ("mean_A", "mean_A", 8), ("se_A", "se_A", 8),
           ("mean_B", "mean_B", 8), ("se_B", "se_B", 8), ("mean_kappa", "mean_kappa", 10),
           ("se_kappa", "se_kappa", 9), ("q05_kappa", "q05_kappa", 9), ("q95_kappa", "q95_kappa", 9)]

#: the predictions beside the Monte Carlo, where they apply
PRED_COLUMNS = [("pred_A", "pred_A", 8), ("pred_B", "pred_B", 8), ("pred_kappa", "pred_kappa", 10),
                ("kappa_tilde_paper", "kappa_tilde_paper", 11)]


def add_parser(sub):
    p = sub.add_parser("bounds", help="frame bounds A, B and kappa = B/A: Monte Carlo",
                       description="Per (J, T): Monte Carlo of the optimal frame bounds of "
                       "random filterbanks (circular convolution on Z_N with stride D, or linear "
                       "convolution on l2(Z)); Gaussian taps by default, --init for others.")
    p.add_argument("--J", default="5,10,40", help="numbers of filters (default 5,10,40)")
    p.add_argument("--T", default="8:1024:log2", help="filter lengths (default 8:1024:log2)")
    common.add_grid(p, "1024")
    common.add_layer_options(p, stride_note="D must divide N; not with --N inf")
    common.add_common(p)
    p.set_defaults(func=run)


def run(args) -> int:
    common.setup_dtype(args)
    common.check_common(args)
    Js = common.parse_int_list(args.J, "--J")
    Ts = common.parse_int_list(args.T, "--T")
    grid = common.grid_arg(args)
    grids = {T: grid.at(T) for T in Ts}
    for N in sorted(set(grids.values()), key=lambda n: n or 0):
        check_setting(args, Js, N)
    max_memory = check_memory(args, [(J, T, grids[T]) for J in Js for T in Ts])
    extra = {} if (args.init == "gaussian" and args.stride == 1) else \
        {"init": args.init, "stride": args.stride, "rescale": args.rescale}

    from ..studies.experiments import bounds_rows

    bar = common.progress_bar(len(Js) * len(Ts) * args.samples, "bounds", args)
    try:
        opts = dict(n_samples=args.samples, seed=args.seed, dtype=args.dtype,
                    max_memory=max_memory, progress=bar if bar is not None else False, **extra)
        if grid.kind != "multiple":
            rows = bounds_rows(Js, Ts, grids[Ts[0]], **opts)
        else:   # one grid per T (kT); rows in the same order (J outer, T inner)
            by_T = {T: bounds_rows(Js, [T], grids[T], **opts) for T in Ts}
            rows = [by_T[T][i] for i in range(len(Js)) for T in Ts]
    finally:
        if bar is not None:
            bar.close()
    config = {"J": Js, "T": Ts, "N": grid.at(1) if grid.kind == "int" else grid.spec(),
              "boundary": "linear" if grid.linear else "circular", "samples": args.samples,
              "seed": args.seed, "dtype": args.dtype, "stride": args.stride, "init": args.init,
              "rescale": args.rescale}
    if args.json:
        common.write_json(args.json, {"command": "bounds", "config": config, "rows": rows})
    if not args.quiet:
        cols = list(COLUMNS)
        if rows and "pred_kappa" in rows[0]:
            cols += PRED_COLUMNS
        shown, inf_notes = common.kappa_table(rows)
        common.print_table(shown, cols)
        for line in inf_notes:
            sys.stdout.write(line + "\n")
        if any(grids[T] is not None and T > grids[T] for T in Ts):
            sys.stdout.write("note: T > N for some rows: circular convolution wraps the filters "
                             "around (rho folded mod N)\n")
        for line in setting_notes(args, rows):
            sys.stdout.write(line + "\n")
        if args.json:
            sys.stdout.write(f"wrote {args.json}\n")
    return 0


def check_memory(args, cells) -> int:
    """The memory plan of the cells ``(J, T, N)`` (shared with ``rfbjax sweep``); returns the
    Monte Carlo's share of ``--max-memory``."""
    from ..engine.resources import bounds_plan

    return common.check_plan(bounds_plan(cells, samples=args.samples, dtype=args.dtype,
                                         init=args.init, stride=args.stride,
                                         budget=args.max_memory_bytes))


def check_setting(args, Js, N) -> None:
    """--stride / --init against the rest (shared with ``rfbjax sweep``)."""
    from ..kernels import initializers
    from ..kernels.strided import check_stride

    check_stride(None, args.stride)
    if args.stride > 1 and N is None:
        raise InputError("--stride: strided frame bounds are computed on Z_N, not on l2(Z); "
                         "give an integer --N instead of inf")
    if N is not None:
        check_stride(N, args.stride)
    for J in Js:
        initializers.validate(args.init, J, stride=args.stride, N=N)


def setting_notes(args, rows) -> list[str]:
    """One-line notes on what a non-default --stride / --init changes in the table."""
    notes = []
    if args.init == "tight":
        notes.append("note: --init tight: canonical tight frame of a Gaussian draw; its filters "
                     "are N taps long (periodic on Z_N), not T, and kappa = 1 by construction")
    if args.init != "gaussian" or args.stride > 1:
        notes.append("note: pred_* / kappa_tilde_paper model Gaussian taps (kappa_tilde_paper: "
                     "stride 1 only); shown as '-' where they do not apply")
    return notes
