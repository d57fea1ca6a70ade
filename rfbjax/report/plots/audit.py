"""The figure of ``rfbjax audit``: power response of an audited conv1d layer and, with a stride
or several input channels, the eigenvalue envelope whose extremes are A and B."""

from __future__ import annotations

import numpy as np

from ...base.text import printable
from .common import pyplot, save_figure

__all__ = ["audit_figure", "model_figure"]

_MAX_LINES = 8


def _db(P):
    """Power in dB, floored 200 dB under the peak (a dead band shows as a deep notch)."""
    P = np.asarray(P, dtype=np.float64)
    top = max(float(np.max(P)), np.finfo(np.float64).tiny)
    return 10.0 * np.log10(np.maximum(P, top * 1e-20))


def _kappa(k: float) -> str:
    return f"{k:.4g}" if np.isfinite(k) else "∞"


def _power_lines(ax, f, P, name: str, lw: float = 1.0) -> None:
    """One labelled line per input channel (one channel: a single line named ``name``), or
    beyond `_MAX_LINES` channels their min–max band and median."""
    C = P.shape[0]
    if C <= _MAX_LINES:
        for c in range(C):
            ax.plot(f, P[c], lw=lw, label=f"channel {c}" if C > 1 else name)
    else:
        ax.fill_between(f, P.min(0), P.max(0), color="C0", alpha=0.25,
                        label=f"min–max over {C} channels")
        ax.plot(f, np.median(P, 0), color="C0", lw=lw, label="median over channels")


def audit_figure(result, out_dir: str | None = None, name: str = "power_response", *,
                 pdf: bool = False, fs: float | None = None):
    r"""Panels for an `rfbjax.models.audits.LayerAudit` (frequencies in Hz when ``fs`` is given).

    1. $P_c(\omega)/d$ for every input channel c (more than 8 channels: their minimum,
       median and maximum), ω in cycles/sample over [0, 1/2]. At stride 1 with one channel the
       frame bounds are min and max of this curve: A and B are marked.
    2. (stride > 1 or C > 1) $\lambda_{\min}(\xi)$ and $\lambda_{\max}(\xi)$ of the
       polyphase matrices against the base frequency $\xi/N \in [0, 1/(2d)]$, for the layer
       (or the single channel): A is the lowest point of the lower curve, B the highest of the
       upper one.

    Writes ``out_dir/name.png`` (and ``.pdf``) when ``out_dir`` is given and returns the paths;
    otherwise returns the figure.
    """
    plt = pyplot()
    s = result.shape
    d, C, N = s["stride"], s["C"], s["N"]
    P = np.asarray(result.power, dtype=np.float64) / d
    scale = float(fs) if fs else 1.0
    unit = "Hz" if fs else "cycles/sample"
    f = scale * np.arange(P.shape[-1]) / N
    P = _db(P)
    two = d > 1 or C > 1
    fig, axes = plt.subplots(1, 2 if two else 1, figsize=(12 if two else 6.5, 4), squeeze=False,
                             layout="constrained")
    ax = axes[0, 0]
    _power_lines(ax, f, P, "P(ω)/d" if d > 1 else "P(ω)")
    summary = result.rows[-1]
    if not two:
        for key, col, lab in (("A", "C3", "A"), ("B", "C2", "B")):
            if summary[key] > 0:
                ax.axhline(_db(summary[key]), color=col, ls="--", lw=0.8,
                           label=f"{lab} = {summary[key]:.4g}")
        fA = summary.get("freq_A")
        if fA is not None and summary["A"] > 0:
            ax.plot([scale * fA], [_db(summary["A"])], "o", color="C3", ms=5,
                    label="where A is attained")
        ax.plot([scale * summary["freq_B"]], [_db(summary["B"])], "o", color="C2", ms=5,
                label="where B is attained")
    ax.set_xlabel(f"frequency ({unit})")
    ax.set_ylabel("P(ω)/d (dB)" if d > 1 else "P(ω) (dB)")
    ax.set_xlim(0, 0.5 * scale)
    ax.set_title(f"power response, stride {d}" if d > 1 else "power response", fontsize=10)
    ax.legend(fontsize=8)
    if two:
        label, cur = result.curves[-1]
        ax2 = axes[0, 1]
        xi = scale * cur["xi"]
        ax2.fill_between(xi, cur["lam_min"], cur["lam_max"], color="C1", alpha=0.25,
                         label="range of all eigenvalues")
        ax2.plot(xi, cur["lam_max"], color="C2", lw=1.0, label="λ_max(ξ)")
        ax2.plot(xi, cur["lam_min"], color="C3", lw=1.0, label="λ_min(ξ)")
        ax2.axhline(summary["B"], color="C2", ls="--", lw=0.8, label=f"B = {summary['B']:.4g}")
        ax2.axhline(summary["A"], color="C3", ls="--", lw=0.8, label=f"A = {summary['A']:.4g}")
        ax2.set_xlabel(f"base frequency ξ/N ({unit})")
        ax2.set_ylabel("eigenvalue")
        ax2.set_xlim(0, 0.5 * scale / d)
        k = summary["kappa"]
        if np.isfinite(k) and k > 50:
            ax2.set_yscale("log")
        else:
            top = float(np.max(cur["lam_max"]))
            ax2.set_ylim(-0.03 * top, 1.05 * top)       # a line at A = 0 stays visible
        # (another change escapes control characters in layer names: apply it to ``label`` here)
        ax2.set_title(f"{label}: polyphase eigenvalues, κ = {_kappa(k)}", fontsize=10)
        ax2.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    if out_dir is None:
        return fig
    return save_figure(fig, out_dir, name, pdf=pdf)


def model_figure(model, out_dir: str | None = None, name: str = "power_response", *,
                 pdf: bool = False, fs: float | None = None):
    r"""One panel per layer of an `rfbjax.models.audits.ModelAudit` (in Hz of each layer's input
    rate when ``fs`` is given, see `rfbjax.models.audits.input_rates`): the power response
    $P_c(\omega)/d$ in dB (one line per input channel, or their min–max band and median
    beyond 8 channels), with the layer's name, shape (filters × input channels × taps), stride
    and κ in the title."""
    plt = pyplot()
    layers = model.layers
    n = len(layers)
    cols = min(3, n)
    rows = -(-n // cols)
    from ...models.audits import input_rates

    rates = input_rates(model, fs) if fs else [None] * n
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False,
                             layout="constrained")
    for ax, lay, rate in zip(axes.ravel(), layers, rates):
        scale = float(rate) if rate else 1.0
        s = lay.shape
        P = _db(np.asarray(lay.power, dtype=np.float64) / s["stride"])
        f = scale * np.arange(P.shape[-1]) / s["N"]
        _power_lines(ax, f, P, "P(ω)/d", lw=0.9)
        ax.set_title(f"{printable(lay.name)}\nJ×C×T = {s['J']}×{s['C']}×{s['T']}, "
                     f"stride {s['stride']}, "
                     f"κ = {_kappa(lay.kappa)}", fontsize=9)
        ax.legend(fontsize=6, ncol=2 if 4 < s["C"] <= _MAX_LINES else 1)
        ax.set_xlim(0, 0.5 * scale)
        ax.set_xlabel("frequency (Hz, layer input)" if rate else "frequency (cycles/sample)",
                      fontsize=8)
        ax.set_ylabel("P(ω)/d (dB)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    if out_dir is None:
        return fig
    return save_figure(fig, out_dir, name, pdf=pdf)
