"""Sweep figures: heat map of E[κ] over (J, T) and E[κ] against T."""

from __future__ import annotations

import math

from .common import plain_log_ticks, pyplot, save_figure

__all__ = ["sweep_figures", "heatmap_figure", "curves_figure", "MAX_CURVES"]

#: at most this many J get a curve in ``kappa_vs_T.png``; the legend names the others
MAX_CURVES = 6


def _grid(data):
    """(Js, Ts, table, K): the swept values of the configuration, ``table[J][T]`` = E[κ] of the
    completed cells (``math.inf`` where a draw had A = 0), and K[J, T] (NaN: not computed)."""
    import numpy as np

    Js = sorted({int(J) for J in data.config.get("J", [])} | {J for J, _ in data.samples})
    Ts = sorted({int(T) for T in data.config.get("T", [])} | {T for _, T in data.samples})
    table: dict = {J: {} for J in Js}
    for row in data.summaries:
        k = row.get("mean_kappa")
        table[row["J"]][row["T"]] = math.inf if k is None else float(k)
    K = np.array([[table[J].get(T, np.nan) for T in Ts] for J in Js], dtype=np.float64)
    return Js, Ts, table, K


def _values(xs) -> str:
    return ", ".join(str(x) for x in xs)


def heatmap_figure(data, laws):
    """E[κ] over the (J, T) grid, iso-κ contours at the targets κ₀ of ``laws``, the estimated
    J*(T) and both fitted laws; cells not computed yet and cells with E[κ] = ∞ are marked."""
    plt = pyplot()
    import numpy as np
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    Js, Ts, _table, K = _grid(data)
    x, y = np.log2(Ts), np.log2(Js)
    fig, ax = plt.subplots(layout="constrained", figsize=(7.4, 5.4))
    ax.set_facecolor("0.85")                       # a cell with no value shows the background
    finite = np.isfinite(K)
    Kf = np.where(finite, K, np.nan)
    handles = []
    if finite.any():
        lo, hi = float(np.nanmin(Kf)), float(np.nanmax(Kf))
        mesh = ax.pcolormesh(x, y, Kf, shading="nearest", cmap="viridis",
                             norm=LogNorm(vmin=lo, vmax=max(hi, lo * 1.0001)))
        cb = fig.colorbar(mesh, ax=ax, label="E[κ] (Monte Carlo)")
        if hi / lo < 1e3:
            plain_log_ticks(cb.ax.yaxis)
    if np.isnan(K).any():
        handles.append(Patch(facecolor="0.85", edgecolor="0.5", label="not computed yet"))
    inf_cells = np.argwhere(np.isinf(K))
    for i, j in inf_cells:
        ax.add_patch(plt.Rectangle((x[j] - 0.5, y[i] - 0.5), 1, 1, facecolor="none",
                                   edgecolor="0.3", hatch="xx", lw=0))
    if len(inf_cells):
        handles.append(Patch(facecolor="none", edgecolor="0.3", hatch="xx",
                             label="E[κ] = ∞ (some draw has A = 0)"))
    levels = sorted({law.kappa0 for law in laws})
    logK = np.log10(Kf)
    if len(Ts) > 1 and len(Js) > 1 and np.isfinite(logK).sum() >= 4:
        cs = ax.contour(x, y, logK, levels=np.log10(levels), colors="w", linewidths=0.8)
        ax.clabel(cs, fmt={np.log10(k): f"κ = {k:g}" for k in levels}, fontsize=7)
        handles.append(Line2D([], [], color="w", lw=0.8,
                              label=f"E[κ] = κ₀ (κ₀ = {_values(f'{k:g}' for k in levels)})"))
    Tf = np.geomspace(min(Ts), max(Ts), 100)
    drawn = {"fit": False, "point": False, "above": False, "below": False}
    for law in laws:
        f = law.fits
        if f:
            Jlog = f["a"]["value"] + f["b"]["value"] * np.log(Tf)
            Jpow = f["c"]["value"] * Tf ** f["gamma"]["value"]
            # a fitted law is drawn only where it stays inside the J grid (the axes' range)
            for Jfit, ls in ((Jlog, "-"), (Jpow, ":")):
                inside = (Jfit >= min(Js) / 2 ** 0.5) & (Jfit <= max(Js) * 2 ** 0.5)
                ax.plot(np.log2(Tf), np.where(inside, np.log2(np.maximum(Jfit, 1e-300)), np.nan),
                        color="r", ls=ls, lw=1)
            drawn["fit"] = True
        T = np.asarray(law.T, dtype=np.float64)
        Jstar = np.asarray(law.Jstar, dtype=np.float64)
        ok = np.isfinite(Jstar)
        if ok.any():
            ax.plot(np.log2(T[ok]), np.log2(Jstar[ok]), "r.", ms=5)
            drawn["point"] = True
        outside = list(law.Jstar_outside or [None] * len(T))
        for side, marker, edge in (("above", "^", max(Js)), ("below", "v", min(Js))):
            at = np.array([o == side for o in outside], dtype=bool)
            if at.any():
                ax.plot(np.log2(T[at]), np.full(at.sum(), np.log2(edge)), marker, color="r",
                        ms=5, mfc="none")
                drawn[side] = True
    if drawn["point"]:
        handles.append(Line2D([], [], color="r", ls="none", marker=".", ms=5,
                              label="J*(T): E[κ] = κ₀ (interpolated)"))
    for side, marker, edge in (("above", "^", max(Js)), ("below", "v", min(Js))):
        if drawn[side]:
            sign = ">" if side == "above" else "<"
            handles.append(Line2D([], [], color="r", ls="none", marker=marker, ms=5, mfc="none",
                                  label=f"J* {sign} {edge}: {side} the grid"))
    if drawn["fit"]:
        handles.append(Line2D([], [], color="r", ls="-", lw=1, label="J* = a + b log T"))
        handles.append(Line2D([], [], color="r", ls=":", lw=1, label="J* = c T^γ"))
    ax.set_xticks(x, [str(T) for T in Ts])
    ax.set_yticks(y, [str(J) for J in Js])
    ax.set_xlim(x[0] - 0.5, x[-1] + 0.5)
    ax.set_ylim(y[0] - 0.5, y[-1] + 0.5)
    ax.set_xlabel("filter length T (log scale)")
    ax.set_ylabel("number of filters J (log scale)")
    ax.set_title(f"E[κ] over (J, T), {data.config.get('init', 'gaussian')} init", fontsize=10)
    if handles:
        leg = fig.legend(handles=handles, fontsize=7, loc="outside lower center", ncol=3)
        leg.get_frame().set_facecolor("0.7")       # the white contour stays visible
    return fig


def curves_figure(data):
    """E[κ] against T for up to `MAX_CURVES` values of J (evenly spread over the grid, both
    ends included; the legend names the others), with the paper's κ̃ and rfbjax's predictor
    where they apply (stride 1, i.i.d. taps)."""
    plt = pyplot()
    import numpy as np
    from matplotlib.lines import Line2D

    from ...base.grid import resolve_N
    from ...theory.predictor import kappa_tilde_paper, predict

    Js, Ts, table, _K = _grid(data)
    N_spec = data.config.get("N", "4T")
    boundary = data.config.get("boundary", "circular")
    stride = int(data.config.get("stride", 1))
    init = data.config.get("init", "gaussian")
    # the predictor and κ̃ model stride-1 i.i.d. taps (every i.i.d. initialiser shares the
    # Gaussian κ law); they are not drawn for strided sweeps or the tight frame
    theory = stride == 1 and init != "tight"
    have = [J for J in Js if table[J]]
    if len(have) <= MAX_CURVES:
        pick = have
    else:
        pick = sorted({have[round(i * (len(have) - 1) / (MAX_CURVES - 1))]
                       for i in range(MAX_CURVES)})
    fig, ax = plt.subplots(layout="constrained", figsize=(8.4, 4.5))
    infinite = []
    for i, J in enumerate(pick):
        color = f"C{i}"
        ks = np.array([table[J].get(T, np.nan) for T in Ts], dtype=np.float64)
        infinite += [(J, T) for T, k in zip(Ts, ks) if np.isinf(k)]
        ax.plot(Ts, np.where(np.isfinite(ks), ks, np.nan), "o-", color=color, ms=4,
                label=f"J = {J}: Monte Carlo")
        if not theory:
            continue
        kt = [kappa_tilde_paper(J, T) for T in Ts]
        ax.plot(Ts, [np.nan if v is None else v for v in kt], "--", color=color, alpha=0.6)
        Ns = [resolve_N(N_spec, T, boundary) for T in Ts]
        pred = [predict(J, T, math.inf if N is None else N).E_kappa for T, N in zip(Ts, Ns)]
        ax.plot(Ts, pred, ":", color=color, lw=2)
    if theory:
        ax.plot([], [], "k--", alpha=0.6, label="paper's κ̃ (where defined)")
        ax.plot([], [], "k:", lw=2, label="rfbjax predictor E[κ]")
    notes = []
    rest = [J for J in have if J not in pick]
    if rest:
        notes.append(f"not drawn: J = {_values(rest)} (at most {MAX_CURVES} curves; every J is in "
                     "the heat map)")
    empty = [J for J in Js if not table[J]]
    if empty:
        notes.append(f"not computed yet: J = {_values(empty)}")
    missing = [(J, T) for J in pick for T in Ts if T not in table[J]]
    if missing:
        notes.append("gaps: cells not computed yet")
    if infinite:
        notes.append("gaps: E[κ] = ∞ (some draw has A = 0) at "
                     + ", ".join(f"J = {J}, T = {T}" for J, T in infinite[:4])
                     + (", …" if len(infinite) > 4 else ""))
    if not theory:
        notes.append("no predictor or κ̃: they model stride 1 with i.i.d. taps")
    for note in notes:
        ax.plot([], [], " ", label=note)
    ax.set_title(f"E[κ] against T: {init} init, stride {stride}, N = {N_spec}", fontsize=10)
    ax.set_xscale("log", base=2)
    ax.set_xticks(Ts, [str(T) for T in Ts])
    ax.minorticks_off()
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    if hi / lo < 1e3:
        plain_log_ticks(ax.yaxis)
    ax.set_xlabel("filter length T")
    ax.set_ylabel("E[κ], κ = B / A")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
              handles=ax.get_legend_handles_labels()[0]
              + ([] if pick else [Line2D([], [], ls="none", label="no completed cell")]))
    return fig


def sweep_figures(data, laws, out_dir: str, *, pdf: bool = False) -> list[str]:
    """Write ``kappa_heatmap.png`` (`heatmap_figure`) and ``kappa_vs_T.png`` (`curves_figure`).

    Args:
      data: `rfbjax.studies.sweep.SweepData`.
      laws: results of `rfbjax.studies.scaling.scaling_law`.
      out_dir: folder to write to.
      pdf: also write each figure as PDF.

    Returns:
      The paths written.
    """
    return (save_figure(heatmap_figure(data, laws), out_dir, "kappa_heatmap", pdf)
            + save_figure(curves_figure(data), out_dir, "kappa_vs_T", pdf))
