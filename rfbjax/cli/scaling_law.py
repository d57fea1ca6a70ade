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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", default=None,
                   help="where to write the JSON (default DIR/scaling_law.json)")
    p.add_argument("--figures", action="store_true", help="also draw the heat map and curves")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run, command="scaling-law")


def _parse_kappas(text):
    try:
        vals = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise InputError(f"--kappa: cannot parse {text!r}") from None
    if not vals or any(not (v > 1) for v in vals):
        raise InputError(f"--kappa: targets must be > 1, got {text!r}")
    return vals


def run(args) -> int:
    kappas = _parse_kappas(args.kappa)
    if args.bootstrap < 0:
        raise InputError("--bootstrap: must be >= 0")
    from ..api import fit_scaling_law
    from ..sweep import load_sweep

    data = load_sweep(args.dir)
    try:
        laws = fit_scaling_law(data, kappas, bootstrap=args.bootstrap, seed=args.seed).laws
    except InputError as exc:
        raise InputError(f"{args.dir}: {exc}") from None
    payload = {"command": "scaling-law", "dir": os.path.abspath(args.dir),
               "config": data.config, "laws": [law.__dict__ for law in laws]}
    out = args.json or os.path.join(args.dir, "scaling_law.json")
    common.write_json(out, payload)
    if args.figures:
        from ..plots import sweep_figures

        sweep_figures(data, laws, args.dir)
    if args.quiet:
        return 0
    w = sys.stdout.write
    for law in laws:
        w(f"kappa0 = {law.kappa0:g}\n")
        w(f"{'T':>6} {'J*':>9} {'95% CI':>21}\n")
        for T, J, ci in zip(law.T, law.Jstar, law.Jstar_ci):
            if math.isnan(J):
                w(f"{T:>6} {'-':>9}\n")
            else:
                w(f"{T:>6} {J:>9.2f}   [{ci[0]:>7.2f}, {ci[1]:>7.2f}]\n")
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


def _ci(d):
    lo, hi = d["ci"]
    return f"[{lo:.3g}, {hi:.3g}]"
