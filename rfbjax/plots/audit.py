"""The figure of ``rfbjax audit``: power response of an audited conv1d layer and, with a stride
or several input channels, the eigenvalue envelope whose extremes are A and B."""

from __future__ import annotations

import numpy as np

from .common import pyplot, save_figure

__all__ = ["audit_figure"]

_MAX_LINES = 8


def audit_figure(result, out_dir: str | None = None, name: str = "power_response", *,
                 pdf: bool = False):
    """Panels for an :class:`rfbjax.audit.AuditResult`.

    1. :math:`P_c(\\omega)/d` for every input channel c (more than 8 channels: their minimum,
       median and maximum), ω in cycles/sample over [0, 1/2]. At stride 1 with one channel the
       frame bounds are min and max of this curve: A and B are marked.
    2. (stride > 1 or C > 1) :math:`\\lambda_{\\min}(\\xi)` and :math:`\\lambda_{\\max}(\\xi)` of the
       polyphase matrices against the base frequency :math:`\\xi/N \\in [0, 1/(2d)]`, for the layer
       (or the single channel): A is the lowest point of the lower curve, B the highest of the
       upper one.

    Writes ``out_dir/name.png`` (and ``.pdf``) when ``out_dir`` is given and returns the paths;
    otherwise returns the figure.
    """
    plt = pyplot()
    s = result.shape
    d, C, N = s["stride"], s["C"], s["N"]
    P = np.asarray(result.power, dtype=np.float64) / d
    f = np.arange(P.shape[-1]) / N
    two = d > 1 or C > 1
    fig, axes = plt.subplots(1, 2 if two else 1, figsize=(11 if two else 6.5, 4), squeeze=False)
    ax = axes[0, 0]
    if C <= _MAX_LINES:
        for c in range(C):
            ax.plot(f, P[c], lw=1.0, label=f"channel {c}" if C > 1 else None)
    else:
        ax.fill_between(f, P.min(0), P.max(0), color="C0", alpha=0.25, label="min–max over channels")
        ax.plot(f, np.median(P, 0), color="C0", lw=1.0, label="median over channels")
    summary = result.rows[-1]
    if not two:
        for key, col, lab in (("A", "C3", "A"), ("B", "C2", "B")):
            ax.axhline(summary[key], color=col, ls="--", lw=0.8, label=f"{lab} = {summary[key]:.4g}")
        fA = summary.get("freq_A")
        if fA is not None:
            ax.plot([fA], [summary["A"]], "o", color="C3", ms=5)
        ax.plot([summary["freq_B"]], [summary["B"]], "o", color="C2", ms=5)
    ax.set_xlabel("frequency (cycles/sample)")
    ax.set_ylabel("P(ω)/d" if d > 1 else "P(ω)")
    ax.set_xlim(0, 0.5)
    ax.set_ylim(bottom=0)
    ax.set_title("power response (Littlewood–Paley sum)" + (f" / stride {d}" if d > 1 else ""))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    if two:
        label, cur = result.curves[-1]
        ax2 = axes[0, 1]
        ax2.fill_between(cur["xi"], cur["lam_min"], cur["lam_max"], color="C1", alpha=0.25)
        ax2.plot(cur["xi"], cur["lam_max"], color="C2", lw=1.0, label="λ_max(ξ)")
        ax2.plot(cur["xi"], cur["lam_min"], color="C3", lw=1.0, label="λ_min(ξ)")
        ax2.axhline(summary["B"], color="C2", ls="--", lw=0.8, label=f"B = {summary['B']:.4g}")
        ax2.axhline(summary["A"], color="C3", ls="--", lw=0.8, label=f"A = {summary['A']:.4g}")
        ax2.set_xlabel("base frequency ξ/N (cycles/sample)")
        ax2.set_ylabel("eigenvalue")
        ax2.set_xlim(0, 0.5 / d)
        k = summary["kappa"]
        if np.isfinite(k) and k > 50:
            ax2.set_yscale("log")
        else:
            ax2.set_ylim(bottom=0)
        ax2.set_title(f"{label}: polyphase eigenvalues, κ = {k:.4g}" if np.isfinite(k)
                      else f"{label}: polyphase eigenvalues, κ = ∞")
        ax2.legend(fontsize=8)
    if out_dir is None:
        return fig
    return save_figure(fig, out_dir, name, pdf=pdf)
