#!/usr/bin/env python
"""Accuracy of rfbjax's sampling-free frame-bound predictor against Monte Carlo (issue 3).

Grid (default): J = 4…256 (powers of 2) × T = 8…4096, circular convolution with N = 4T bins,
stride 1, Gaussian taps N(0, 1/(JT)), 2000 filterbanks per cell. The Monte Carlo is an
``rfbjax sweep`` directory (resumable: an existing directory with the same configuration, such
as the one ``scripts/bench_sweep.py`` writes, is reused and only missing cells are computed).

Per cell it compares E[kappa] from Monte Carlo with

* ``rfbjax.theory.predictor.predict(J, T, N)["E_kappa"]`` (no sampling), and
* the paper's kappa-tilde(J, T) (undefined where J <= 4 log T),

prints the table and a summary line, and writes ``predictor_accuracy.csv`` and
``predictor_accuracy.png`` into ``--out``. The predictor's cost is timed against the Monte Carlo
seconds the sweep recorded for the same cell.

    python scripts/predictor_accuracy.py [--sweep out/sweep_grid] [--out out/predictor]
        [--J 4:256:log2] [--T 8:4096:log2] [--samples 2000]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sweep", default="out/sweep_grid", help="sweep directory (reused/resumed)")
    ap.add_argument("--out", default="out/predictor")
    ap.add_argument("--J", default="4:256:log2")
    ap.add_argument("--T", default="8:4096:log2")
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from rfbjax.cli.common import parse_int_list
    from rfbjax.plots.common import pyplot, save_figure
    from rfbjax.sweep import SweepConfig, load_sweep, resolve_N, run_sweep
    from rfbjax.theory.predictor import kappa_tilde_paper, predict

    Js, Ts = parse_int_list(args.J, "--J"), parse_int_list(args.T, "--T")
    cfg = SweepConfig(J=tuple(Js), T=tuple(Ts), samples=args.samples, N="4T", seed=args.seed)
    run_sweep(cfg, args.sweep, progress=True)
    data = load_sweep(args.sweep)
    mc = {(r["J"], r["T"]): r for r in data.summaries}

    rows = []
    for J in Js:
        for T in Ts:
            r = mc[(J, T)]
            N = resolve_N("4T", T, "circular")
            t0 = time.perf_counter()
            pr = predict(J, T, N)
            t_pred = time.perf_counter() - t0
            kt = float(kappa_tilde_paper(J, T))
            k_mc = r["mean_kappa"]
            rows.append({
                "J": J, "T": T, "N": N, "mc_kappa": k_mc, "se_kappa": r["se_kappa"],
                "mc_A": r["mean_A"], "mc_B": r["mean_B"],
                "pred_kappa": pr["E_kappa"], "pred_A": pr["E_A"], "pred_B": pr["E_B"],
                "rel_err_pred": pr["E_kappa"] / k_mc - 1.0,
                "rel_err_A": pr["E_A"] / r["mean_A"] - 1.0, "rel_err_B": pr["E_B"] / r["mean_B"] - 1.0,
                "paper_kappa": kt if math.isfinite(kt) else float("nan"),
                "rel_err_paper": kt / k_mc - 1.0 if math.isfinite(kt) else float("nan"),
                "pred_seconds": t_pred, "mc_seconds": r["seconds"],
                "cost_ratio": t_pred / r["seconds"],
            })

    hdr = (f"{'J':>4} {'T':>5} {'MC E[k]':>9} {'se':>7} {'pred':>9} {'err':>7} "
           f"{'paper':>9} {'err':>8} {'cost':>7}")
    print(hdr)
    for r in rows:
        paper = "-" if math.isnan(r["paper_kappa"]) else f"{r['paper_kappa']:.3f}"
        perr = "-" if math.isnan(r["rel_err_paper"]) else f"{100 * r['rel_err_paper']:+.1f}%"
        print(f"{r['J']:>4} {r['T']:>5} {r['mc_kappa']:>9.4f} {r['se_kappa']:>7.4f} "
              f"{r['pred_kappa']:>9.4f} {100 * r['rel_err_pred']:>+6.2f}% {paper:>9} {perr:>8} "
              f"{100 * r['cost_ratio']:>6.2f}%")
    err = np.abs([r["rel_err_pred"] for r in rows])
    perr = np.abs([r["rel_err_paper"] for r in rows])
    defined = np.isfinite(perr)
    worst = rows[int(np.argmax(err))]
    cost = np.array([r["cost_ratio"] for r in rows])
    summary = (f"rfbjax predictor: mean |rel. error| of E[kappa] = {100 * err.mean():.2f}%, "
               f"max = {100 * err.max():.2f}% (J={worst['J']}, T={worst['T']}) over {len(rows)} "
               f"cells; paper kappa-tilde defined in {int(defined.sum())}/{len(rows)} cells, mean "
               f"|rel. error| there {100 * np.mean(perr[defined]) if defined.any() else float('nan'):.1f}%"
               f" (rfbjax on the same cells: {100 * np.mean(err[defined]) if defined.any() else float('nan'):.2f}%); "
               f"predictor cost / Monte Carlo cost: median {100 * np.median(cost):.3f}%, "
               f"max {100 * cost.max():.3f}%")
    print(summary)

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "predictor_accuracy.csv")
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(path + ".tmp", path)
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write(summary + "\n")

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(Js)))
    for J, c in zip(Js, colors):
        sel = [r for r in rows if r["J"] == J]
        T_ = [r["T"] for r in sel]
        axes[0].plot(T_, [r["mc_kappa"] for r in sel], "o", color=c, ms=4, label=f"J={J}")
        axes[0].plot(T_, [r["pred_kappa"] for r in sel], "-", color=c, lw=1.2)
        axes[0].plot(T_, [r["paper_kappa"] for r in sel], ":", color=c, lw=1)
        axes[1].plot(T_, [100 * r["rel_err_pred"] for r in sel], "o-", color=c, ms=3)
    axes[0].set(xscale="log", yscale="log", xlabel="T (taps)", ylabel="E[kappa]",
                title="Monte Carlo (dots), rfbjax predictor (lines), paper (dotted)")
    axes[0].set_xscale("log", base=2)
    axes[0].legend(fontsize=7, ncol=2)
    axes[1].axhspan(-5, 5, color="0.9")
    axes[1].set_xscale("log", base=2)
    axes[1].set(xlabel="T (taps)", ylabel="predictor error on E[kappa] (%)",
                title="relative error, N = 4T")
    print("wrote", path, *save_figure(fig, args.out, "predictor_accuracy"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
