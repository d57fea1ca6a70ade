"""``rfbjax scaling-law DIR``: J*(T) at target condition numbers, fitted laws, bootstrap intervals."""

from __future__ import annotations

import math
import os
import sys

from ..errors import InputError
from . import common

COLUMNS = [("T", "T", 6), ("Jstar", "Jstar", 9), ("Jstar_ci", "Jstar_ci", 20),
           ("Jstar_censored", "Jstar_censored", 14)]
LEGEND = ["Jstar: J at which E[kappa] = kappa0 (interpolated in log J; '> J_max' / '< J_min' "
          "outside the grid)",
          "Jstar_ci: bootstrap interval (95%); an end beyond the grid is open, e.g. "
          "[62.1, > 64); '> 64' when every replicate lies above the grid",
          "Jstar_censored: shares of bootstrap replicates below, above the grid of J"]


def add_parser(sub):
    p = sub.add_parser("scaling-law", help="J*(T) for target kappa, log vs power law fits",
                       description="From a sweep directory: for each target kappa0 and T, the "
                       "number of filters J* at which E[kappa] = kappa0 (interpolated in log J), "
                       "with bootstrap intervals, and fits J* = a + b log T and J* = c T^gamma.")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--kappa", default="2,3,5", help="target condition numbers (default 2,3,5)")
    p.add_argument("--bootstrap", type=int, default=500, help="bootstrap replicates (default 500)")
    common.add_seed(p, "seed of the bootstrap, an integer in [0, 2^64) (default 0)")
    p.add_argument("--json", metavar="PATH", default=None,
                   help="where to write the JSON (default DIR/scaling_law_kappa<targets>.json, "
                   "one file per set of targets)")
    p.add_argument("--figures", action="store_true", help="also draw the heat map and curves")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run, command="scaling-law")


def _parse_kappas(text):
    try:
        vals = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise InputError(f"--kappa: cannot parse {text!r}") from None
    if not vals or any(not (math.isfinite(v) and v > 1) for v in vals):
        raise InputError(f"--kappa: targets must be finite and > 1, got {text!r}")
    common.check_list_length(len(vals), "--kappa")
    return vals


def results_name(kappas) -> str:
    """``scaling_law_kappa2_3_5.json``: the default results file of one set of targets."""
    return "scaling_law_kappa" + "_".join(f"{k:g}" for k in kappas) + ".json"


def _complete_grid(data):
    """The J rows of the sweep with every T complete; a list of what a partial sweep lacks."""
    Js, Ts = data.config["J"], data.config["T"]
    missing = [(J, T) for J in Js for T in Ts if (J, T) not in data.samples]
    full = [J for J in Js if all((J, T) in data.samples for T in Ts)]
    return {(J, T): data.samples[(J, T)] for J in full for T in Ts}, missing, full


def run(args) -> int:
    kappas = _parse_kappas(args.kappa)
    if args.bootstrap < 0:
        raise InputError("--bootstrap: must be >= 0")
    common.check_list_length(args.bootstrap, "--bootstrap")
    from ..api import fit_scaling_law
    from ..studies.sweep import load_sweep

    if os.path.exists(args.dir) and not os.path.isdir(args.dir):
        raise InputError(f"{args.dir}: is not a directory (give a sweep directory)")
    out = args.json or os.path.join(args.dir, results_name(kappas))
    common.check_json_target(out, "--json", "scaling-law")
    data = load_sweep(args.dir)
    samples, missing, full = _complete_grid(data)
    n_cells = len(data.config["J"]) * len(data.config["T"])
    partial = None
    if missing:
        partial = {"complete_cells": n_cells - len(missing), "cells": n_cells,
                   "missing": [list(c) for c in missing], "J_used": full}
        sys.stderr.write(f"warning: partial sweep: {n_cells - len(missing)} of {n_cells} cells "
                         f"complete; using J = {', '.join(map(str, full)) or 'none'} (every T "
                         f"complete); first missing cell J={missing[0][0]}, T={missing[0][1]}\n")
    if len(full) < 2:
        raise InputError(f"{args.dir}: need at least 2 values of J with every T complete, "
                         f"have {len(full)}; resume the sweep first")
    from ..studies.scaling import interval_text, progress_units

    bar = common.progress_bar(progress_units(args.bootstrap, len(kappas)), "scaling-law", args,
                              unit="replicate")
    try:
        laws = fit_scaling_law(samples, kappas, bootstrap=args.bootstrap, seed=args.seed,
                               on_progress=bar.update if bar is not None else None).laws
    except ValueError as exc:   # InputError included
        raise InputError(f"{args.dir}: {exc}") from None
    finally:
        if bar is not None:
            bar.close()
    payload = {"command": "scaling-law", "dir": os.path.abspath(args.dir),
               "config": data.config, "kappa": kappas, "partial": partial,
               "laws": [law.__dict__ for law in laws]}
    common.write_json(out, payload)
    if args.figures:
        from ..report.plots.sweep import sweep_figures

        sweep_figures(data, laws, args.dir)
    if args.quiet:
        return 0
    w = sys.stdout.write
    if partial:
        w(f"warning: partial sweep ({partial['complete_cells']} of {partial['cells']} cells)\n")
    for law in laws:
        lo_J, hi_J = law.J_range
        w(f"kappa0 = {law.kappa0:g}\n")
        rows = []
        for t, (T, J) in enumerate(zip(law.T, law.Jstar)):
            outside = law.Jstar_outside[t]
            below, above = law.Jstar_censored[t]
            rows.append({"T": T, "Jstar": (f"> {hi_J}" if outside == "above" else f"< {lo_J}"
                                           if outside == "below" else None if math.isnan(J)
                                           else J),
                         "Jstar_ci": interval_text(law.Jstar_ci[t], law.Jstar_ci_side[t],
                                                   law.J_range),
                         "Jstar_censored": f"{100 * below:.0f}%, {100 * above:.0f}%"})
        common.print_table(rows, COLUMNS)
        f = law.fits
        if f:
            w(f"  log law   J* = a + b log T : a = {f['a']['value']:.3g} {_ci(f['a'])}, "
              f"b = {f['b']['value']:.3g} {_ci(f['b'])}  AIC {f['aic_log']:.2f}\n")
            w(f"  power law J* = c T^gamma   : c = {f['c']['value']:.3g} {_ci(f['c'])}, "
              f"gamma = {f['gamma']['value']:.3g} {_ci(f['gamma'])}  AIC {f['aic_power']:.2f}\n")
            w(f"  preferred: {law.preferred} (lower AIC; log preferred in "
              f"{100 * law.bootstrap_preference_log:.0f}% of bootstrap replicates)\n")
        else:
            w("  fewer than 3 values of T bracket this target: no fit\n")
    for line in LEGEND:
        w(line + "\n")
    w(f"wrote {out}\n")
    return 0


def _ci(d):
    lo, hi = d["ci"]
    return f"[{lo:.3g}, {hi:.3g}]"
