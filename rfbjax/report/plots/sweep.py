"""Sweep figures: heat map of E[kappa] over (J, T) and E[kappa] against T."""

from __future__ import annotations

import math

from .common import pyplot, save_figure


# ----------------------------------------------------------------------------- sweeps
def sweep_figures(data, laws, out_dir: str, *, pdf: bool = False) -> list[str]:
    """Heat map of E[kappa] over (J, T) with iso-kappa contours and the fitted laws, and
    E[kappa] against T for a few J with the paper's kappa-tilde and rfbjax's predictor.

    Args:
      data: `rfbjax.studies.sweep.SweepData`.
      laws: results of `rfbjax.studies.scaling.scaling_law`.

    Returns:
      The paths written.
    """
    plt = pyplot()
    import numpy as np

    from ...theory.predictor import kappa_tilde_paper, predict

    Js = sorted({J for J, _ in data.samples})
    Ts = sorted({T for _, T in data.samples})
    table = {row["J"]: {} for row in data.summaries}
    for row in data.summaries:
        table[row["J"]][row["T"]] = row["mean_kappa"]
    K = np.array([[table.get(J, {}).get(T, np.nan) if table.get(J, {}).get(T) is not None
                   else np.inf for T in Ts] for J in Js], dtype=np.float64)
    paths = []

    fig, ax = plt.subplots(layout="constrained", figsize=(7, 4.8))
    logK = np.log10(np.where(np.isfinite(K), K, np.nan))
    mesh = ax.pcolormesh(np.log2(Ts), np.log2(Js), logK, shading="nearest", cmap="viridis")
    fig.colorbar(mesh, ax=ax, label="log10 E[kappa]")
    levels = sorted({law.kappa0 for law in laws})
    if len(Ts) > 1 and len(Js) > 1:
        cs = ax.contour(np.log2(Ts), np.log2(Js), logK, levels=np.log10(levels), colors="w",
                        linewidths=0.8)
        ax.clabel(cs, fmt={np.log10(k): f"kappa={k:g}" for k in levels}, fontsize=7)
    Tf = np.geomspace(min(Ts), max(Ts), 100)
    for law in laws:
        f = law.fits
        if not f:
            continue
        ax.plot(np.log2(Tf), np.log2(np.maximum(f["a"]["value"] + f["b"]["value"] * np.log(Tf),
                                                1e-3)), "r-", lw=1)
        ax.plot(np.log2(Tf), np.log2(f["c"]["value"] * Tf ** f["gamma"]["value"]), "r:", lw=1)
        ok = np.isfinite(law.Jstar)
        ax.plot(np.log2(np.array(law.T)[ok]), np.log2(np.array(law.Jstar)[ok]), "r.", ms=5)
    ax.set_xlabel("log2 T (filter length)")
    ax.set_ylabel("log2 J (number of filters)")
    ax.set_ylim(np.log2(min(Js)) - 0.5, np.log2(max(Js)) + 0.5)
    ax.set_title("E[kappa] of Gaussian filterbanks; red: J*(T), log law (—), power law (···)",
                 fontsize=9)
    paths += save_figure(fig, out_dir, "kappa_heatmap", pdf)

    fig, ax = plt.subplots(layout="constrained", figsize=(7, 4.5))
    N_spec = data.config.get("N", "4T")
    boundary = data.config.get("boundary", "circular")
    stride = int(data.config.get("stride", 1))
    init = data.config.get("init", "gaussian")
    # the predictor and kappa-tilde model stride-1 i.i.d. taps (every i.i.d. initialiser shares the
    # Gaussian kappa law); they are not drawn for strided sweeps or the tight frame
    theory = stride == 1 and init != "tight"
    pick = Js if len(Js) <= 4 else [Js[0], Js[len(Js) // 3], Js[2 * len(Js) // 3], Js[-1]]
    for i, J in enumerate(pick):
        color = f"C{i}"
        ks = [table[J].get(T) for T in Ts]
        ax.plot(Ts, [k if k is not None else np.nan for k in ks], "o-", color=color,
                label=f"J={J} Monte Carlo")
        if not theory:
            continue
        kt = [kappa_tilde_paper(J, T) for T in Ts]
        ax.plot(Ts, [np.nan if v is None else v for v in kt], "--", color=color, alpha=0.6)
        from ...base.grid import resolve_N

        Ns = [resolve_N(N_spec, T, boundary) for T in Ts]
        pred = [predict(J, T, math.inf if N is None else N).E_kappa for T, N in zip(Ts, Ns)]
        ax.plot(Ts, pred, ":", color=color, lw=2)
    if theory:
        ax.plot([], [], "k--", alpha=0.6, label="paper's kappa-tilde (where defined)")
        ax.plot([], [], "k:", lw=2, label="rfbjax predictor")
    ax.set_title(f"init {init}, stride {stride}, N = {N_spec}", fontsize=9)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("T")
    ax.set_ylabel("E[kappa]")
    ax.legend(fontsize=7)
    paths += save_figure(fig, out_dir, "kappa_vs_T", pdf)
    return paths

