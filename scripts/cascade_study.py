"""Study: κ of randomly initialised wav2vec 2.0-style conv stacks against depth and width.

Stacks of the first L layers of wav2vec 2.0's feature encoder (kernels 10, 3, 3, 3, 3, 2, 2;
strides 5, 2, 2, 2, 2, 2, 2; one input channel), all of width W, PyTorch's default Conv1d
initialisation, biases and nonlinearities ignored (the linear composite,
:func:`rfbjax.kernels.cascade.cascade_bounds`, float64, N = the audit's default grid for the composite
kernel). A stack whose width is below its composite stride D (W < D) has fewer outputs than
inputs per frequency: no lower frame bound, decided by counting, not computed.

Usage: ``python scripts/cascade_study.py [--draws 3] [--out docs/img] [--json results.json]``.
Writes ``cascade_kappa.png`` and prints a Markdown table (median κ over the draws, with their
range).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import machine_info, save_results  # noqa: E402

WIDTHS = (64, 128, 256, 512)


def main() -> int:
    import jax

    from rfbjax.models.audits import default_N
    from rfbjax.kernels.cascade import WAV2VEC2_KERNELS, WAV2VEC2_STRIDES, cascade_bounds, draw_stack
    from rfbjax.report.plots.common import pyplot, save_figure

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--depth", type=int, default=7)
    ap.add_argument("--out", default="docs/img")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = []
    t0 = time.perf_counter()
    with jax.enable_x64(True):
        for W in WIDTHS:
            for L in range(1, args.depth + 1):
                ks, ds = WAV2VEC2_KERNELS[:L], WAV2VEC2_STRIDES[:L]
                D = int(np.prod(ds))
                T = ks[0] + sum(int(np.prod(ds[:l])) * (ks[l] - 1) for l in range(1, L))
                row = {"width": W, "depth": L, "stride": D, "taps": T, "rank_deficient": W < D}
                if W >= D:
                    N = default_N(T, D)
                    bounds = jax.jit(cascade_bounds, static_argnums=(1, 2))
                    kap = []
                    for i in range(args.draws):
                        ws = draw_stack(jax.random.PRNGKey(1000 * W + 10 * L + i), [W] * L, ks,
                                        dtype=np.float64)
                        A, B = bounds(ws, tuple(ds), N)
                        kap.append(float(B / A) if A > 0 else float("inf"))
                    row.update(N=N, kappa=kap, median=float(np.median(kap)))
                rows.append(row)
                print(f"W={W:4d} L={L} D={D:4d} T={T:4d} "
                      + ("rank deficient (W < D)" if W < D else f"median kappa {row['median']:.4g}"),
                      flush=True)
    wall = time.perf_counter() - t0
    print(f"\n| width \\ depth | " + " | ".join(str(L) for L in range(1, args.depth + 1)) + " |")
    print("|---" * (args.depth + 1) + "|")
    for W in WIDTHS:
        cells = []
        for r in (r for r in rows if r["width"] == W):
            cells.append("∞ (W < D)" if r["rank_deficient"] else
                         f"{r['median']:.3g} [{min(r['kappa']):.3g}, {max(r['kappa']):.3g}]")
        print(f"| {W} | " + " | ".join(cells) + " |")
    n_def = sum(r["rank_deficient"] for r in rows)
    print(f"\n{n_def} of {len(rows)} cells rank deficient; {wall:.0f} s")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, W in enumerate(WIDTHS):
        rr = [r for r in rows if r["width"] == W and not r["rank_deficient"]]
        ax.plot([r["depth"] for r in rr], [r["median"] for r in rr], "o-", color=f"C{i}",
                label=f"width {W}")
        for r in rr:
            ax.plot([r["depth"]] * len(r["kappa"]), r["kappa"], ".", color=f"C{i}", ms=3,
                    alpha=0.5)
        dead = [r["depth"] for r in rows if r["width"] == W and r["rank_deficient"]]
        if dead:
            ax.annotate(f"W={W}: κ = ∞ from depth {dead[0]} (W < D)", xy=(0.02, 0.95 - 0.07 * i),
                        xycoords="axes fraction", fontsize=8, color=f"C{i}")
    ax.set_yscale("log")
    ax.set_xlabel("depth L (first L layers of the wav2vec 2.0 encoder)")
    ax.set_ylabel("κ of the linear composite")
    ax.set_title(f"PyTorch-default stacks, median of {args.draws} draws", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    path = save_figure(fig, args.out, "cascade_kappa")[0]
    print(f"wrote {path}")
    save_results(args.json, {**machine_info(), "wall_s": wall,
                             "uptime": os.popen("uptime").read().strip()}, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
