"""Figures of the training study: held-out loss and κ against step, median and band over seeds."""

from __future__ import annotations

import numpy as np

from .common import plain_log_ticks, pyplot, save_figure

__all__ = ["study_figure", "study_figures", "figure_name"]

_COLORS = ("C0", "C1", "C2", "C3", "C4")
#: how a penalty's name reads in a figure
_PENALTY = {"kappa": "κ", "none": "none", "tightness": "tightness",
            "smooth_sailing": "smooth sailing (B − c)/c"}


def figure_name(target: str, stride: int) -> str:
    return f"study_{target}_s{stride}"


def study_figure(results: dict, target: str, stride: int, out_dir: str | None = None, *,
                 pdf: bool = False):
    """Two rows (held-out loss, κ; log scales) × one column per penalty; one colour per init
    (the Parseval arm, trained without a penalty, appears in the ``none`` column).

    Lines are the median over seeds, bands the range (min to max) over seeds; the training
    loss median is dashed; the target's κ is a dotted black line. Writes
    ``out_dir/study_{target}_s{stride}.png`` and returns the paths when ``out_dir`` is given,
    otherwise returns the figure."""
    plt = pyplot()
    cfg = results["config"]
    pens = list(cfg.penalties)
    runs = [r for r in results["runs"] if r["target"] == target and r["stride"] == stride]
    tk = next(t["kappa"] for t in results["targets"]
              if t["name"] == target and t["stride"] == stride)
    fig, axes = plt.subplots(2, len(pens), figsize=(4.2 * len(pens) + 0.6, 6.4), squeeze=False,
                             sharex=True, sharey="row")
    for col, pen in enumerate(pens):
        for ci, init in enumerate(cfg.inits):
            rs = [r for r in runs if r["init"] == init and r["penalty"] == pen]
            if not rs:
                continue
            step = np.asarray(rs[0]["step"])
            color = _COLORS[ci % len(_COLORS)]
            for row, key in enumerate(("val_loss", "kappa")):
                y = np.array([np.asarray(r[key], float) for r in rs])
                y = np.where(np.isfinite(y) & (y > 0), y, np.nan)
                ax = axes[row, col]
                ax.fill_between(step, np.nanmin(y, 0), np.nanmax(y, 0), color=color, alpha=0.2,
                                lw=0)
                ax.plot(step, np.nanmedian(y, 0), color=color, lw=1.4,
                        label=f"{init} (held-out)" if row == 0 else init)
                if key == "val_loss":
                    tr = np.array([np.asarray(r["loss"], float) for r in rs])
                    ax.plot(step, np.median(tr, 0), color=color, lw=0.9, ls="--",
                            label=f"{init} (training)")
        beta = f", β = {cfg.beta[pen]:g}" if pen != "none" else ""
        axes[0, col].set_title(f"penalty: {_PENALTY.get(pen, pen)}{beta}", fontsize=10)
        axes[1, col].axhline(tk, color="k", ls=":", lw=1, label=f"target κ = {tk:.4g}")
        for row in range(2):
            axes[row, col].set_yscale("log")
            axes[row, col].grid(True, which="both", alpha=0.25)
        axes[1, col].set_xlabel("Adam step")
    for row in range(2):
        lo, hi = axes[row, 0].get_ylim()
        if hi / lo < 1e3:
            plain_log_ticks(axes[row, 0].yaxis)
    axes[0, 0].set_ylabel("relative MSE (loss)")
    axes[1, 0].set_ylabel("κ = B/A (exact, N-point grid)")
    from matplotlib.patches import Patch

    band = Patch(facecolor="0.5", alpha=0.2, label=f"band: range over {cfg.seeds} seeds")
    for row in range(2):
        # every init once, from whichever column has it (the Parseval arm: penalty none only)
        seen: dict = {}
        for ax in axes[row]:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(lab, h)
        axes[row, 0].legend(handles=list(seen.values()) + [band], fontsize=7)
    fig.suptitle(f"Distilling a {target} target, J = {cfg.J}, T = {cfg.T}, N = {cfg.N}, "
                 f"stride {stride}: median over {cfg.seeds} seeds", fontsize=11)
    if out_dir is None:
        return fig
    return save_figure(fig, out_dir, figure_name(target, stride), pdf=pdf)


def study_figures(results: dict, out_dir: str, *, pdf: bool = False) -> dict:
    """One figure per (target, stride); ``{(target, stride): [paths]}``."""
    cfg = results["config"]
    return {(t, d): study_figure(results, t, d, out_dir, pdf=pdf)
            for d in cfg.strides for t in cfg.targets}
