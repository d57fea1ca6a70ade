"""``rfbjax predict``: sampling-free predictions of the frame bounds (no Monte Carlo)."""

from __future__ import annotations

import math
import sys

from ..errors import InputError
from . import common

COLUMNS = [("J", "J", 4), ("T", "T", 5), ("N", "N", 6), ("pred_A", "pred_A", 8),
           ("pred_B", "pred_B", 8), ("pred_kappa", "pred_kappa", 10),
           ("pred_q05_kappa", "pred_q05_kappa", 9), ("pred_q95_kappa", "pred_q95_kappa", 9),
           ("pred_ratio_mean_B_mean_A", "pred_B/A", 8), ("kappa_tilde_paper", "kappa_tilde_paper", 11)]
STRIDE_COLUMNS = (COLUMNS[:3] + [("stride", "stride", 3)] + COLUMNS[3:-1]
                  + [("pred_aliasing", "pred_aliasing", 8)])
#: the legend under the table: the abbreviated columns
LEGEND = ["pred_B/A: pred_ratio_mean_B_mean_A, E[B]/E[A] (below pred_kappa = E[B/A])"]


def add_parser(sub):
    p = sub.add_parser("predict", help="predicted E[A], E[B], E[kappa] without sampling",
                       description="Per (J, T): rfbjax's sampling-free prediction of the mean frame "
                       "bounds and condition number of Gaussian filterbanks (Rice-formula "
                       "extreme values of the power response at stride 1, of the polyphase "
                       "eigenvalues at stride D), with the paper's kappa-tilde (stride 1).")
    p.add_argument("--J", default="5,10,40", help="numbers of filters (default 5,10,40)")
    p.add_argument("--T", default="8:1024:log2", help="filter lengths (default 8:1024:log2)")
    common.add_grid(p, "1024")
    p.add_argument("--stride", type=int, default=1, metavar="D",
                   help="keep every D-th output (D must divide N; J != D). Adds the expected "
                   "aliasing energy relative to the passband, E[aliasing_penalty] (default 1)")
    p.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    common.add_max_memory(p)
    p.set_defaults(func=run)


def run(args) -> int:
    Js = common.parse_int_list(args.J, "--J")
    Ts = common.parse_int_list(args.T, "--T")
    grid = common.grid_arg(args)
    Ns = [math.inf if grid.linear else grid.at(T) for T in Ts]
    d = args.stride
    if d < 1:
        raise InputError(f"--stride: must be an integer >= 1, got {d}")
    for N in Ns:
        if not math.isinf(N) and N % d:
            raise InputError(f"--stride: {d} does not divide N={N}")
    if d > 1 and d in Js:
        raise InputError(f"--J: J = stride = {d} is not modelled (E[kappa] is infinite there); "
                         "use J != stride")
    from ..engine.resources import predict_plan

    common.check_plan(predict_plan([(J, T, N) for J in Js for T, N in zip(Ts, Ns)],
                                   budget=common.memory_budget(args.max_memory)))
    if args.json:
        common.check_json_target(args.json, "--json", "predict")

    from ..theory.predictor import kappa_tilde_paper, predict

    rows = []
    bar = common.progress_bar(len(Js) * len(Ts), "predict", args, unit="cell")
    for J in Js:
        for T, N in zip(Ts, Ns):
            if bar is not None:
                bar.set_postfix_str(f"J={J} T={T}", refresh=False)
            row = predict(J, T, N, stride=d).to_dict()
            if bar is not None:
                bar.update(1)
            if d == 1:
                kt = float(kappa_tilde_paper(J, T))
                row["kappa_tilde_paper"] = kt if math.isfinite(kt) else None
            rows.append(row)
    if bar is not None:
        bar.close()
    if args.json:
        common.write_json(args.json, {"command": "predict", "config": {"J": Js, "T": Ts,
                                                                     "N": grid.spec(), "stride": d},
                                      "rows": rows})
    if not args.quiet:
        common.print_table(rows, COLUMNS if d == 1 else STRIDE_COLUMNS)
        for line in LEGEND:
            sys.stdout.write(line + "\n")
        if d == 1:
            sys.stdout.write("kappa_tilde_paper: (1 + 2 sqrt(log T / J)) / (1 - 2 sqrt(log T / J)), "
                             "undefined (-) where J <= 4 log T\n")
        else:
            sys.stdout.write(f"stride {d}: Gaussian taps N(0, {d}/(J T)); pred_aliasing: expected "
                             "aliasing energy / passband energy, E[aliasing_penalty] (about "
                             "(D-1)/J); kappa = inf where J <= D + 1\n")
        if args.json:
            sys.stdout.write(f"wrote {args.json}\n")
    return 0
