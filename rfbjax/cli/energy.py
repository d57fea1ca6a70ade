"""``rfbjax energy``: analytic and Monte Carlo energy response of random filterbanks."""

from __future__ import annotations

import sys

from ..errors import InputError
from ..engine.resources import EXACT_LAW_MAX_T
from . import common

COLUMNS = [("signal", "signal", 14), ("J", "J", 4), ("T", "T", 5), ("N", "N", 6),
           ("mean_exact", "mean_exact", 10), ("mean", "mean", 9),
           ("var_exact", "var_exact", 10), ("var", "var", 10), ("se_var", "se_var", 9),
           ("z_var", "z_var", 6), ("q05", "q05", 8), ("q95", "q95", 8)]
#: the exact law's columns, where it was computed
EXACT_COLUMNS = [("q05_exact", "q05_exact", 9), ("q95_exact", "q95_exact", 9),
                 ("alpha_exact", "alpha_exact", 11), ("alpha_cantelli", "alpha_cantelli", 14),
                 ("alpha_chernoff", "alpha_chernoff", 14),
                 ("alpha_bernstein", "alpha_bernstein", 15)]


def add_parser(sub):
    p = sub.add_parser("energy", help="energy response ||Phi x||^2/||x||^2: theory and Monte Carlo",
                       description="Per signal and filter length T: exact mean and variance of "
                       "||Phi x||^2/||x||^2 for Gaussian filterbanks, and its Monte Carlo.")
    p.add_argument("signals", nargs="+", metavar="SIGNAL",
                   help="built-in (impulse, white, brownian, alternating, sine:K, vowel, flute, "
                   "snare) or an audio file, optionally PATH@start:length")
    p.add_argument("--J", default="10", help="number of filters (default 10)")
    p.add_argument("--T", default="8:1024:log2", help="filter lengths (default 8:1024:log2)")
    p.add_argument("--N", type=int, default=None,
                   help="signal length, an integer (default 1024 for built-ins, the file's length "
                   "for files)")
    p.add_argument("--boundary", choices=["circular", "linear"], default="circular",
                   help="convolution of the signal of length N: circular on Z_N (default) or "
                   "linear (zero-padded)")
    p.add_argument("--p", type=float, default=0.05,
                   help="tail level of the deviation columns (default 0.05)")
    p.add_argument("--exact-max-T", type=int, default=EXACT_LAW_MAX_T, metavar="T",
                   help="compute the exact law (one T×T eigendecomposition, O(T³)) only up to "
                   f"this T; larger T get a note instead (default {EXACT_LAW_MAX_T})")
    p.add_argument("--no-exact-law", action="store_true",
                   help="skip the exact law's columns (quantiles, alpha) for every T")
    common.add_layer_options(p, stride_note="circular: D must divide N")
    common.add_common(p)
    p.set_defaults(func=run)


def _load_signals(specs, N):
    import numpy as np

    from ..report.signals import parse_signal_spec

    out = []
    for spec in specs:
        label, x = parse_signal_spec(spec, N)
        out.append((label, np.asarray(x, dtype=np.float64)))
    return out


def _check_memory(args, Js, Ts, exact_max_T) -> int:
    """The whole command's memory plan (before any signal is loaded); returns the Monte Carlo's
    share of the budget."""
    from ..kernels import initializers
    from ..engine.resources import energy_plan
    from ..report.signals import spec_length_bound

    lengths = [spec_length_bound(spec, args.N) for spec in args.signals]
    gaussian = initializers.get(args.init).family == "gaussian"
    plan = energy_plan(lengths, Js, Ts, samples=args.samples, dtype=args.dtype,
                       boundary=args.boundary, stride=args.stride,
                       t_taps=initializers.get(args.init).t_taps,
                       exact_Ts=[T for T in Ts if T <= exact_max_T] if gaussian else [],
                       budget=args.max_memory_bytes)
    return common.check_plan(plan)


def run(args) -> int:
    common.setup_dtype(args)
    common.check_common(args)
    Js = common.parse_int_list(args.J, "--J")
    Ts = common.parse_int_list(args.T, "--T")
    if args.N is not None and args.N < 2:
        raise InputError(f"--N: must be >= 2, got {args.N}")
    if not (0.0 < args.p < 1.0):
        raise InputError(f"--p: must be in (0, 1), got {args.p}")
    from ..kernels import initializers
    from ..kernels.strided import check_stride

    check_stride(None, args.stride)
    if args.exact_max_T < 0:
        raise InputError(f"--exact-max-T: must be >= 0, got {args.exact_max_T}")
    exact_max_T = 0 if args.no_exact_law else args.exact_max_T
    max_memory = _check_memory(args, Js, Ts, exact_max_T)
    signals = _load_signals(args.signals, args.N)
    for label, x in signals:
        if args.boundary == "circular":
            check_stride(x.shape[0], args.stride, what=f"N (signal {label})")
        for J in Js:
            for T in Ts:
                initializers.validate(args.init, J, stride=args.stride, T=T,
                                      N=x.shape[0] if args.boundary == "circular" else None)
    extra = {} if (args.init == "gaussian" and args.stride == 1) else \
        {"init": args.init, "stride": args.stride, "rescale": args.rescale}

    from ..studies.experiments import energy_rows

    bar = common.progress_bar(len(Js) * len(Ts) * args.samples, "energy", args)
    try:
        rows = energy_rows(signals, Js, Ts, n_samples=args.samples, seed=args.seed,
                           boundary=args.boundary, dtype=args.dtype, p=args.p,
                           max_memory=max_memory, exact_max_T=exact_max_T,
                           progress=bar if bar is not None else False, **extra)
    finally:
        if bar is not None:
            bar.close()
    config = {"J": Js, "T": Ts, "N": args.N, "boundary": args.boundary, "samples": args.samples,
              "seed": args.seed, "dtype": args.dtype, "p": args.p,
              "signals": [label for label, _ in signals], "stride": args.stride,
              "init": args.init, "rescale": args.rescale, "exact_max_T": exact_max_T}
    if args.json:
        common.write_json(args.json, {"command": "energy", "config": config, "rows": rows})
    if not args.quiet:
        cols = list(COLUMNS)
        if rows and any("alpha_exact" in r for r in rows):
            cols += EXACT_COLUMNS
        common.print_table(rows, cols)
        folded = sorted({(r["signal"], r["T"], r["N"]) for r in rows if r.get("folded")})
        if folded:
            sys.stdout.write(f"note: {len(folded)} (signal, T) settings have T > N: circular "
                             "convolution wraps the filters around (rho folded mod N)\n")
        skipped = sorted({r["T"] for r in rows if r.get("exact_law_note")})
        if args.init == "tight":
            sys.stdout.write("note: --init tight: canonical tight frame of a Gaussian draw; its "
                             "filters are N taps long (periodic on Z_N), not T: the energy is "
                             "||x||^2 for every draw\n")
        elif skipped and args.no_exact_law:
            sys.stdout.write("note: exact law skipped (--no-exact-law)\n")
        elif skipped:
            sys.stdout.write(f"note: exact law skipped for T > {exact_max_T} (T = "
                             f"{', '.join(map(str, skipped))}): one T×T eigendecomposition, "
                             "O(T³); raise --exact-max-T to compute it\n")
        elif rows and not rows[0].get("exact_law", True):
            sys.stdout.write(f"note: the exact-law columns need Gaussian taps; not computed for "
                             f"--init {args.init} (mean_exact/var_exact use its fourth moment)\n")
        if args.json:
            sys.stdout.write(f"wrote {args.json}\n")
    return 0
