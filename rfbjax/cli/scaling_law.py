"""``rfbjax scaling-law DIR``: J*(T) at target condition numbers, fitted laws, bootstrap intervals."""

from __future__ import annotations

import math
import os
import sys

from ..errors import InputError
from . import common


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
    try:
        laws = fit_scaling_law(samples, kappas, bootstrap=args.bootstrap, seed=args.seed).laws
    except ValueError as exc:   # InputError included
        raise InputError(f"{args.dir}: {exc}") from None
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
        w(f"{'T':>6} {'J*':>9}   {'95% CI':<20} {'censored':>8}\n")
        for T, J, ci, outside, cens in zip(law.T, law.Jstar, law.Jstar_ci, law.Jstar_outside,
                                           law.Jstar_censored):
            point = (f"> {hi_J}" if outside == "above" else f"< {lo_J}" if outside == "below"
                     else "-" if math.isnan(J) else f"{J:.2f}")
            share = cens[0] + cens[1]
            w(f"{T:>6} {point:>9}   {_interval(ci, lo_J, hi_J):<20} "
              f"{(f'{100 * share:.0f}%' if share else ''):>8}\n")
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
    w(f"wrote {out}\n")
    return 0


def _interval(ci, lo_J, hi_J) -> str:
    """``[62.05, 63.98]``; an end reaching censored replicates is open: ``[62.05, > 64)``."""
    lo, hi = ci
    if lo is not None and hi is not None and (math.isnan(lo) or math.isnan(hi)):
        return "-"
    a = f"(< {lo_J}" if lo is None else f"[{lo:.2f}"
    b = f"> {hi_J})" if hi is None else f"{hi:.2f}]"
    return f"{a}, {b}"


def _ci(d):
    lo, hi = d["ci"]
    return f"[{lo:.3g}, {hi:.3g}]"
