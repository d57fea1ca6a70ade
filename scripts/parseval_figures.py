#!/usr/bin/env python
"""The numbers and the figure of docs/guide/parseval.md.

``--table``: κ − 1 of float32 Parseval kernels (`rfbjax.parseval_kernel`) against K = T/stride,
κ evaluated in float64 (`rfbjax.kernels.strided.layer_frame_bounds` on $\\mathbb Z_N$, N = 4T):
J = 40, C = 1, stride 4, the default ranks, the largest κ − 1 over ``--draws`` keys.

``--figure DIR``: the normalised energy $\\|\\Phi x\\|^2/\\|x\\|^2$ of ``--samples`` random
filterbanks of ``energy --init parseval`` and ``--init gaussian`` (J = 40, T = 256, stride 4,
float32) on the built-in ``vowel`` signal (N = 1024), as histograms: DIR/parseval_energy.png.

    python scripts/parseval_figures.py --table
    python scripts/parseval_figures.py --figure docs/img
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402


def table(draws: int) -> None:
    from rfbjax.kernels.parseval import parseval_init, parseval_kernel
    from rfbjax.kernels.strided import layer_frame_bounds

    J, C, d = 40, 1, 4
    print(f"J={J} C={C} stride={d}, float32 kernels, kappa in float64 on Z_N (N = 4T), "
          f"max over {draws} keys")
    print("| T | K = T/stride | κ − 1 (float32 kernel) |")
    print("|---|---|---|")
    build = jax.jit(parseval_kernel)
    for T in (4, 16, 64, 256, 512, 1024):
        worst = 0.0
        for i in range(draws):
            p = parseval_init(jnp.array([26, i], jnp.uint32), J, C, T, d)
            w = np.asarray(build(p), np.float64)
            A, B = layer_frame_bounds(jnp.asarray(w), 4 * T, d)
            worst = max(worst, float(B) / float(A) - 1.0)
        print(f"| {T} | {T // d} | {worst:.1e} |")


def figure(out_dir: str, samples: int) -> None:
    from rfbjax.engine.measure import sample_energy
    from rfbjax.report.plots.common import pyplot, save_figure
    from rfbjax.report.signals import parse_signal_spec

    J, T, d, N = 40, 256, 4, 1024
    label, x = parse_signal_spec("vowel", N)
    E = {init: sample_energy(x[None], J, T, samples, seed=0, init=init, stride=d)[:, 0]
         for init in ("gaussian", "parseval")}
    for k, v in E.items():
        print(f"{k}: mean {v.mean():.6f}, std {v.std():.2e}, max |E-1| {np.abs(v - 1).max():.1e}")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    bins = np.linspace(min(E["gaussian"].min(), 0.95), max(E["gaussian"].max(), 1.05), 60)
    ax.hist(E["gaussian"], bins=bins, color="tab:blue", alpha=0.75,
            label=f"--init gaussian (std {E['gaussian'].std():.3f})")
    ax.hist(E["parseval"], bins=bins, color="tab:red",
            label=f"--init parseval (max |E−1| = {np.abs(E['parseval'] - 1).max():.0e})")
    ax.set_xlabel(r"$\|\Phi x\|^2 / \|x\|^2$")
    ax.set_ylabel(f"filterbanks (of {samples})")
    ax.set_title(f"energy on '{label}' (N={N}): J={J}, T={T}, stride {d}, float32")
    ax.legend(loc="upper left", fontsize=8)
    print(save_figure(fig, out_dir, "parseval_energy", dpi=90))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--figure", metavar="DIR", default=None)
    ap.add_argument("--samples", type=int, default=2000)
    a = ap.parse_args(argv)
    if a.table:
        table(a.draws)
    if a.figure:
        figure(a.figure, a.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
