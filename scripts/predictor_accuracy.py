#!/usr/bin/env python
"""Accuracy of rfbjax's sampling-free frame-bound predictor against Monte Carlo.

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

``--stride 2,4,8`` checks ``predict(J, T, N, stride=D)`` instead: circular
convolution on ``--N`` bins (default 1024), Gaussian taps N(0, D/(JT)), the cells with
J >= 4D of the (J, T) grid, one sweep directory per stride (``--sweep`` is their prefix, e.g.
``out/predictor_stride/mc_D4``), and also compares E[A] and E[B]. ``--linear`` adds the
l2(Z) check: ``predict(J, T, math.inf, stride=D)`` against Monte Carlo on a large circular grid
(``--linear-N``, default 16384) for a few cells. Writes ``predictor_accuracy_stride.csv``.

    python scripts/predictor_accuracy.py --stride 2,4,8 --J 8:64:log2 --T 32:1024:log2 \
        --samples 1000 --sweep out/predictor_stride/mc_D --out out/predictor_stride --linear
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time

import numpy as np


def _write_csv(out: str, name: str, rows: list[dict]) -> str:
    """Write rows to OUT/NAME atomically; returns the path."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, name)
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(path + ".tmp", path)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sweep", default="out/sweep_grid", help="sweep directory (reused/resumed)")
    ap.add_argument("--out", default="out/predictor")
    ap.add_argument("--J", default="4:256:log2")
    ap.add_argument("--T", default="8:4096:log2")
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stride", help="comma-separated strides D > 1: check the strided predictor")
    ap.add_argument("--N", default="1024", help="DFT bins for --stride (default 1024)")
    ap.add_argument("--linear", action="store_true", help="with --stride: also check N = inf")
    ap.add_argument("--linear-N", type=int, default=16384)
    args = ap.parse_args(argv)
    if args.stride:
        return strided_main(args)

    from rfbjax.cli.common import parse_int_list
    from rfbjax.report.plots.common import pyplot, save_figure
    from rfbjax.studies.sweep import SweepConfig, load_sweep, resolve_N, run_sweep
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

    path = _write_csv(args.out, "predictor_accuracy.csv", rows)
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


def _fmt_err(x):
    return f"{100 * x:+.2f}%"


def strided_main(args) -> int:
    from rfbjax.cli.common import parse_int_list
    from rfbjax.studies.sweep import SweepConfig, load_sweep, run_sweep
    from rfbjax.theory.predictor import predict

    Js, Ts = parse_int_list(args.J, "--J"), parse_int_list(args.T, "--T")
    Ds = parse_int_list(args.stride, "--stride")
    N = int(args.N)
    rows = []
    for D in Ds:
        JD = [J for J in Js if J >= 4 * D]
        if not JD:
            continue
        sweep = f"{args.sweep}{D}"
        cfg = SweepConfig(J=tuple(JD), T=tuple(Ts), samples=args.samples, N=str(N), seed=args.seed,
                          stride=D)
        run_sweep(cfg, sweep, progress=True)
        mc = {(r["J"], r["T"]): r for r in load_sweep(sweep).summaries}
        for J in JD:
            for T in Ts:
                r = mc[(J, T)]
                t0 = time.perf_counter()
                p = predict(J, T, N, stride=D)
                t_pred = time.perf_counter() - t0
                rows.append({
                    "D": D, "J": J, "T": T, "N": N,
                    "mc_kappa": r["mean_kappa"], "se_kappa": r["se_kappa"], "pred_kappa": p.E_kappa,
                    "rel_err_kappa": p.E_kappa / r["mean_kappa"] - 1.0,
                    "z_kappa": (p.E_kappa - r["mean_kappa"]) / r["se_kappa"],
                    "mc_A": r["mean_A"], "se_A": r["se_A"], "pred_A": p.E_A,
                    "rel_err_A": p.E_A / r["mean_A"] - 1.0,
                    "mc_B": r["mean_B"], "se_B": r["se_B"], "pred_B": p.E_B,
                    "rel_err_B": p.E_B / r["mean_B"] - 1.0,
                    "mc_q95": r["q95_kappa"], "pred_q95": p.kappa_quantiles[0.95],
                    "E_aliasing": p.E_aliasing,
                    "pred_seconds": t_pred, "mc_seconds": r["seconds"],
                })
    print(f"{'D':>2} {'J':>4} {'T':>5} {'MC E[k]':>9} {'se':>6} {'pred':>8} {'err':>7} "
          f"{'z':>5} {'errA':>7} {'errB':>7} {'alias':>6} {'sec':>5}")
    for r in rows:
        print(f"{r['D']:>2} {r['J']:>4} {r['T']:>5} {r['mc_kappa']:>9.3f} {r['se_kappa']:>6.3f} "
              f"{r['pred_kappa']:>8.3f} {_fmt_err(r['rel_err_kappa']):>7} {r['z_kappa']:>+5.1f} "
              f"{_fmt_err(r['rel_err_A']):>7} {_fmt_err(r['rel_err_B']):>7} "
              f"{r['E_aliasing']:>6.3f} {r['pred_seconds']:>5.2f}")
    err = np.abs([r["rel_err_kappa"] for r in rows])
    worst = rows[int(np.argmax(err))]
    summary = (f"strided predictor (D in {Ds}, N={N}, {args.samples} draws/cell): mean |rel. error| "
               f"of E[kappa] = {100 * err.mean():.2f}%, max = {100 * err.max():.2f}% (D={worst['D']}, "
               f"J={worst['J']}, T={worst['T']}) over {len(rows)} cells; E[A]: mean "
               f"{100 * np.mean(np.abs([r['rel_err_A'] for r in rows])):.2f}%, E[B]: mean "
               f"{100 * np.mean(np.abs([r['rel_err_B'] for r in rows])):.2f}%; |z| > 3 in "
               f"{int(np.sum(np.abs([r['z_kappa'] for r in rows]) > 3))} cells; predictor seconds "
               f"per cell: median {np.median([r['pred_seconds'] for r in rows]):.2f}, max "
               f"{max(r['pred_seconds'] for r in rows):.2f}")
    print(summary)
    lin_rows = []
    if args.linear:
        import math

        for D, J, T in [(2, 16, 32), (4, 32, 64), (8, 64, 128)]:
            sweep = f"{args.sweep}lin{D}"
            cfg = SweepConfig(J=(J,), T=(T,), samples=args.samples, N=str(args.linear_N),
                              seed=args.seed, stride=D)
            run_sweep(cfg, sweep, progress=True)
            r = load_sweep(sweep).summaries[0]
            p = predict(J, T, math.inf, stride=D)
            lin_rows.append({"D": D, "J": J, "T": T, "N_mc": args.linear_N,
                             "mc_kappa": r["mean_kappa"], "se_kappa": r["se_kappa"],
                             "pred_kappa_inf": p.E_kappa,
                             "rel_err_kappa": p.E_kappa / r["mean_kappa"] - 1.0})
            print(f"l2(Z) D={D} J={J} T={T}: MC at N={args.linear_N} {r['mean_kappa']:.3f} "
                  f"+- {r['se_kappa']:.3f}, predict(N=inf) {p.E_kappa:.3f} "
                  f"({_fmt_err(lin_rows[-1]['rel_err_kappa'])})")
    path = _write_csv(args.out, "predictor_accuracy_stride.csv", rows)
    with open(os.path.join(args.out, "summary_stride.txt"), "w") as f:
        f.write(summary + "\n")
        for r in lin_rows:
            f.write(f"l2(Z) {r}\n")
    print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
