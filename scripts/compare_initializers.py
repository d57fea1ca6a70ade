#!/usr/bin/env python
"""E[kappa] against the filter length T for every initialiser of rfbjax.kernels.initializers.

Monte Carlo of the frame bounds of J = 40 filters (default), circular convolution on Z_N with
N = max(4T, 256) (rounded up to a multiple of the stride), S filterbanks per (init, T), seed 0.
Writes out/compare_initializers.csv and out/compare_initializers.png and prints E[kappa] as a
T × init table (with its standard error), plus rfbjax's sampling-free Gaussian prediction.

    python scripts/compare_initializers.py [--J 40] [--T 2:1024:log2] [--samples 1000]
                                           [--stride 1] [--out out]

kappa does not change when all taps are multiplied by a constant, so initialisers that differ
only by their variance have the same law of kappa (gaussian = glorot_normal = he_normal;
pytorch = glorot_uniform): their columns differ by Monte Carlo noise only (each init has its
own random stream).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def grid_N(T: int, stride: int) -> int:
    n = max(4 * T, 256)
    return stride * math.ceil(n / stride)


def run(J, Ts, S, stride, seed, progress=True):
    from rfbjax.kernels import initializers as inits
    from rfbjax.engine import montecarlo as mc
    from rfbjax.engine.measure import sample_bounds
    from rfbjax.theory.predictor import predict

    rows = []
    for name in inits.NAMES:
        for T in Ts:
            N = grid_N(T, stride)
            t0 = time.perf_counter()
            out = sample_bounds(J, T, N, S, seed=seed, init=name, stride=stride)
            sK = mc.summarize(out["kappa"])
            sA, sB = mc.summarize(out["A"]), mc.summarize(out["B"])
            info = inits.describe(name, J, T, stride=stride, N=N)
            rows.append({"init": name, "family": info["family"], "J": J, "T": T, "N": N,
                         "stride": stride, "filter_length": info["filter_length"],
                         "kurtosis": info["kurtosis"], "tap_variance": info["tap_variance"],
                         "mean_kappa": sK.mean, "se_kappa": sK.se,
                         "q05_kappa": sK.quantiles[0.05], "q95_kappa": sK.quantiles[0.95],
                         "frac_kappa_inf": sK.n_inf / sK.n,
                         "mean_A_over_gain": sA.mean / info["energy_gain"],
                         "mean_B_over_gain": sB.mean / info["energy_gain"],
                         "pred_kappa_gaussian": (predict(J, T, N)["E_kappa"]
                                                 if stride == 1 else None),
                         "samples": S, "seconds": time.perf_counter() - t0})
            if progress:
                r = rows[-1]
                print(f"  {name:<15} T={T:<5} E[kappa]={r['mean_kappa']:.4g} "
                      f"(se {r['se_kappa']:.2g})", file=sys.stderr, flush=True)
    return rows


def table(rows, Ts) -> str:
    names = list(dict.fromkeys(r["init"] for r in rows))
    by = {(r["init"], r["T"]): r for r in rows}
    head = f"{'T':>5} " + " ".join(f"{n:>15}" for n in names) + f" {'gauss pred':>11}"
    lines = [head]
    for T in Ts:
        cells = []
        for n in names:
            r = by[(n, T)]
            k = r["mean_kappa"]
            cells.append(f"{'inf':>15}" if not math.isfinite(k) else
                         f"{k:>9.3f}±{r['se_kappa']:<5.3f}"[:15].rjust(15))
        p = by[(names[0], T)]["pred_kappa_gaussian"]
        lines.append(f"{T:>5} " + " ".join(cells) + (f" {p:>11.3f}" if p is not None else ""))
    return "\n".join(lines)


def figure(rows, out_dir):
    import numpy as np

    from rfbjax.report.plots.common import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    styles = {"gaussian": "-", "uniform": "--", "rademacher": ":", "tight": "-."}
    for i, name in enumerate(dict.fromkeys(r["init"] for r in rows)):
        rs = [r for r in rows if r["init"] == name]
        T = np.array([r["T"] for r in rs])
        k = np.array([r["mean_kappa"] for r in rs])
        ax.plot(T, k, styles[rs[0]["family"]], marker="o", ms=3, color=f"C{i}", label=name)
    pred = [(r["T"], r["pred_kappa_gaussian"]) for r in rows
            if r["init"] == "gaussian" and r["pred_kappa_gaussian"] is not None]
    if pred:
        ax.plot(*zip(*pred), color="k", lw=0.8, alpha=0.6, label="Gaussian prediction")
    J, stride = rows[0]["J"], rows[0]["stride"]
    ax.set_xscale("log", base=2)
    ax.set_xlabel("filter length T (taps)")
    ax.set_ylabel("E[κ] = E[B/A]")
    ax.set_title(f"condition number by initialiser, J = {J}, stride {stride}, N = max(4T, 256)")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    return save_figure(fig, out_dir, "compare_initializers")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--J", type=int, default=40)
    ap.add_argument("--T", default="2:1024:log2")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="out")
    args = ap.parse_args(argv)
    from rfbjax.cli.common import parse_int_list
    from rfbjax.base.files import atomic_write_bytes

    Ts = parse_int_list(args.T, "--T")
    rows = run(args.J, Ts, args.samples, args.stride, args.seed)
    os.makedirs(args.out, exist_ok=True)
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    csv_path = os.path.join(args.out, "compare_initializers.csv")
    atomic_write_bytes(csv_path, buf.getvalue().encode())
    fig_path = figure(rows, args.out)[0]
    print(f"# E[kappa] (± s.e.), J={args.J}, stride {args.stride}, N = max(4T, 256), "
          f"{args.samples} filterbanks per cell, seed {args.seed}")
    print(table(rows, Ts))
    print(f"wrote {csv_path}, {fig_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
