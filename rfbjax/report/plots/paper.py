r"""Figures of the paper's experiments (``rfbjax reproduce``), reusable from notebooks.

Every function takes the plain dicts that `rfbjax.studies.reproduce` returns (and writes to
``results.json``), so a figure can be redrawn from a saved run:

```python
import json
from rfbjax.report.plots import paper
res = json.load(open("out/demo/results.json"))
fig = paper.energy_deviation_figure(res["energy"], kind="synthetic")
```

Figures (matplotlib, Agg backend):

- `energy_deviation_figure` — experiments 1 and 2: deviation $Y - 1$ against T,
  Monte Carlo mean and 5–95 % band, exact quantiles, Cantelli / Chernoff / Bernstein bounds
  (with spectrograms on top when waveforms are given);
- `energy_histogram_figure` — experiment 3: histograms of Y at the largest T with the exact
  density;
- `frame_bounds_figure` — experiment 4: $\bar A, \bar B$ against T;
- `condition_number_figure` — experiment 5: $\mathbb E[\kappa]$ and
  $\bar B/\bar A$ against T;
- `theory_check_figure` — experiment 6: z-scores of the Monte Carlo against theory;
- `paper_figures` — all of them, saved.
"""

from __future__ import annotations

import numpy as np

from .common import plain_log_ticks, pyplot, save_figure

__all__ = [
    "FIGURES",
    "energy_deviation_axes",
    "spectrogram_axes",
    "energy_deviation_figure",
    "energy_histogram_figure",
    "frame_bounds_figure",
    "condition_number_figure",
    "theory_check_figure",
    "paper_figures",
]

#: (file name, title) of the figures, in reading order.
FIGURES = (
    ("energy_synthetic", "Energy deviation of synthetic signals"),
    ("energy_sounds", "Energy deviation of sounds"),
    ("energy_histograms", "Distribution of the energy response at the largest T"),
    ("frame_bounds", "Mean frame bounds"),
    ("condition_number", "Expected condition number"),
    ("theory_check", "Theory against Monte Carlo"),
)

_BOUND_STYLE = {
    "exact": dict(color="k", ls="--", lw=1.3, label="exact 5 % / 95 % quantile"),
    "cantelli": dict(color="C3", ls="-", lw=1.0, label="Cantelli bound (p = 0.05)"),
    "chernoff": dict(color="C0", ls="-", lw=1.0, label="Chernoff bound (p = 0.05)"),
    "bernstein": dict(color="C2", ls=":", lw=1.2, label="Bernstein-type bound (p = 0.05)"),
}


def _arr(v) -> np.ndarray:
    """A results list to float array (null -> NaN)."""
    return np.array([np.nan if x is None else x for x in v], dtype=np.float64)


def _columns(energy: dict, kind: str | None = None, labels=None) -> list[dict]:
    cols = energy["signals"]
    if labels is not None:
        by = {c["label"]: c for c in cols}
        return [by[lab] for lab in labels]
    return [c for c in cols if kind is None or c["kind"] == kind]


# ----------------------------------------------------------------------------- experiments 1, 2
def energy_deviation_axes(ax, energy: dict, col: dict, *, legend: bool = True,
                          bounds=("cantelli", "chernoff", "bernstein")) -> None:
    """One signal's panel: deviation Y − 1 = (‖Φx‖² − ‖x‖²)/‖x‖² against T."""
    T = np.asarray(energy["T"], dtype=np.float64)
    mean = _arr(col["mean_mc"]) - 1.0
    ax.fill_between(T, _arr(col["q05_mc"]) - 1.0, _arr(col["q95_mc"]) - 1.0, color="C1",
                    alpha=0.3, lw=0, label="Monte Carlo 5–95 % band")
    ax.plot(T, mean, "o-", color="C1", ms=3, lw=1.2, label="Monte Carlo mean")
    ex = _BOUND_STYLE["exact"]
    ax.plot(T, _arr(col["q95_exact"]) - 1.0, **ex)
    ax.plot(T, _arr(col["q05_exact"]) - 1.0, **{k: v for k, v in ex.items() if k != "label"})
    for method in bounds:
        st = _BOUND_STYLE[method]
        ax.plot(T, _arr(col[f"alpha_{method}"]), **st)
        ax.plot(T, -_arr(col[f"alpha_{method}_lower"]),
                **{k: v for k, v in st.items() if k != "label"})
    ax.axhline(0.0, color="0.5", lw=0.6, label="no deviation")
    ax.axhline(-1.0, color="0.5", lw=0.6, ls=":", label="−1: floor (‖Φx‖² ≥ 0)")
    ax.set_xscale("log", base=2)
    # every drawn curve inside the axes; a lower bound under −1 is vacuous and shown as such
    drawn = np.concatenate([_arr(col[f"alpha_{m}"]) for m in bounds]
                           + [-_arr(col[f"alpha_{m}_lower"]) for m in bounds]
                           + [_arr(col[f"{q}_{src}"]) - 1.0 for q in ("q05", "q95")
                              for src in ("mc", "exact")])
    top, low = np.nanmax(drawn), np.nanmin(drawn)
    ax.set_ylim(min(-1.15, low - 0.05 * (top - low)), max(0.2, top + 0.05 * (top - low)))
    ax.set_xlabel("filter length T")
    ax.set_ylabel("(‖Φx‖² − ‖x‖²) / ‖x‖²")
    ax.set_title(f"{col['label']} (N = {col['N']})", fontsize=10)
    if legend:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def spectrogram_axes(ax, x, sample_rate: float, label: str = "") -> None:
    """Log-magnitude spectrogram of a waveform (Hann window of about 23 ms)."""
    x = np.asarray(x, dtype=np.float64)
    nfft = int(min(len(x), max(64, 2 ** int(np.round(np.log2(0.023 * sample_rate))))))
    nfft = max(16, nfft)
    ax.specgram(x, NFFT=nfft, Fs=sample_rate, noverlap=nfft * 3 // 4, window=np.hanning(nfft),
                cmap="magma", scale="dB", mode="magnitude", vmin=None)
    ax.set_ylim(0, min(8000.0, sample_rate / 2))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    ax.set_title(f"{label} ({sample_rate:g} Hz)", fontsize=10)


def energy_deviation_figure(energy: dict, *, kind: str | None = None, labels=None,
                            waveforms: dict | None = None):
    """Deviation against T, one panel per signal (``kind`` = "synthetic" / "sound", or
    ``labels``); with ``waveforms`` = {label: (x, rate)}, spectrograms on a top row."""
    plt = pyplot()
    cols = _columns(energy, kind, labels)
    n = max(1, len(cols))
    spec = bool(waveforms) and all(c["label"] in waveforms for c in cols)
    rows = 2 if spec else 1
    fig, axes = plt.subplots(rows, n, layout="constrained", squeeze=False,
                             figsize=(4.2 * n + (1.8 if n == 1 else 0.0), 3.6 * rows))
    for i, col in enumerate(cols):
        if spec:
            x, rate = waveforms[col["label"]]
            spectrogram_axes(axes[0, i], x, rate, col["label"])
        energy_deviation_axes(axes[-1, i], energy, col, legend=(i == len(cols) - 1))
    fig.suptitle(f"Energy response of J = {energy['J']} Gaussian filters of length T, "
                 f"{energy['samples']} draws per T", fontsize=10)
    return fig


# ----------------------------------------------------------------------------- experiment 3
def energy_histogram_figure(energy: dict):
    """Histograms of Y = ‖Φx‖²/‖x‖² at the largest T for the sounds, with the exact density."""
    plt = pyplot()
    hists = energy["histograms"]
    n = max(1, len(hists))
    fig, axes = plt.subplots(1, n, layout="constrained", figsize=(max(4.2 * n, 5.5), 3.4),
                             squeeze=False)
    for ax, h in zip(axes[0], hists):
        edges = np.asarray(h["edges"])
        ax.stairs(h["density_mc"], edges, fill=True, color="C1", alpha=0.45,
                  label="Monte Carlo")
        ax.plot(h["centres"], h["density_exact"], "k-", lw=1.3, label="exact density")
        ax.axvline(1.0, color="0.5", lw=0.7, label="1: energy kept")
        for q in ("q05", "q95"):
            ax.axvline(h[f"{q}_exact"], color="k", ls="--", lw=0.9)
        ax.set_xlabel("‖Φx‖² / ‖x‖²")
        ax.set_ylabel("density")
        ax.set_title(f"{h['label']}, T = {h['T']}", fontsize=10)
    if hists:
        axes[0, 0].plot([], [], "k--", lw=0.9, label="exact 5 % / 95 % quantiles")
        axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Energy response at T = {hists[0]['T'] if hists else '-'}, "
                 f"J = {energy['J']}, {energy['samples']} draws", fontsize=10)
    return fig


# ----------------------------------------------------------------------------- experiments 4, 5
def _curve(bounds: dict, J: int) -> dict:
    for c in bounds["curves"]:
        if c["J"] == J:
            return c
    raise KeyError(f"no frame-bound curve for J={J}")


def frame_bounds_figure(bounds: dict, J: int | None = None):
    """Mean A and B against T for one J, with the paper's curves and the predictor."""
    plt = pyplot()
    J = int(J if J is not None else bounds["J_frame_plot"])
    c = _curve(bounds, J)
    T = np.asarray(bounds["T"], dtype=np.float64)
    fig, ax = plt.subplots(layout="constrained", figsize=(9.0, 4.2))
    for key, color, name in (("B", "C3", "B"), ("A", "C0", "A")):
        ax.errorbar(T, _arr(c[f"mean_{key}"]), yerr=2 * _arr(c[f"se_{key}"]), fmt="o-",
                    color=color, ms=4, capsize=2, label=f"Monte Carlo mean {name} (±2 s.e.)")
        ax.plot(T, _arr(c[f"pred_{key}"]), ":", color=color, lw=2,
                label=f"rfbjax predictor E[{name}]")
        ax.plot(T, _arr(c[f"chi2_{key}"]), "--", color=color, lw=1,
                label=f"{'max' if key == 'B' else 'min'} of T i.i.d. χ²_J/J (paper)")
        ax.plot(T, _arr(c[f"gauss_{key}"]), "-.", color=color, lw=0.8, alpha=0.7,
                label=f"1 {'+' if key == 'B' else '−'} 2√(log T / J) (paper)")
    ax.axhline(1.0, color="0.5", lw=0.6, label="A = B = 1: a tight frame")
    ax.axhline(0.0, color="0.5", lw=0.6, ls=":", label="0: no lower bound")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("filter length T")
    ax.set_ylabel("frame bound")
    ax.set_title(f"Frame bounds of J = {J} Gaussian filters, N = {bounds['N']} "
                 f"(circular), {bounds['samples']} draws", fontsize=10)
    _legend_outside(ax)
    return fig


def _legend_outside(ax) -> None:
    """Legend right of the axes, the Monte Carlo entries (error bars) first."""
    from matplotlib.container import ErrorbarContainer

    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(handles)),
                   key=lambda i: not isinstance(handles[i], ErrorbarContainer))
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=7,
              loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def condition_number_figure(bounds: dict):
    """E[κ] and B̄/Ā against T for every J, with κ̃ (where defined) and the predictor."""
    plt = pyplot()
    T = np.asarray(bounds["T"], dtype=np.float64)
    fig, ax = plt.subplots(layout="constrained", figsize=(8.6, 4.4))
    for i, c in enumerate(bounds["curves"]):
        color = f"C{i}"
        ax.errorbar(T, _arr(c["mean_kappa"]), yerr=2 * _arr(c["se_kappa"]), fmt="o-",
                    color=color, ms=4, capsize=2, label=f"J = {c['J']}: E[κ] Monte Carlo")
        ax.plot(T, _arr(c["ratio_B_A"]), "s--", color=color, ms=3, mfc="none", lw=0.9)
        ax.plot(T, _arr(c["pred_kappa"]), ":", color=color, lw=2)
        ax.plot(T, _arr(c["kappa_tilde"]), "^-.", color=color, ms=3, lw=0.8, alpha=0.7)
    ax.plot([], [], "ks--", ms=3, mfc="none", lw=0.9, label="B̄ / Ā (Monte Carlo)")
    ax.plot([], [], "k:", lw=2, label="rfbjax predictor E[κ]")
    ax.plot([], [], "k^-.", ms=3, lw=0.8, label="paper's κ̃ (where defined)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("filter length T")
    plain_log_ticks(ax.yaxis)
    ax.set_ylabel("condition number κ = B / A")
    ax.set_title(f"Condition number of Gaussian filterbanks, N = {bounds['N']}, "
                 f"{bounds['samples']} draws", fontsize=10)
    _legend_outside(ax)
    return fig


# ----------------------------------------------------------------------------- experiment 6
def theory_check_figure(check: dict):
    """z-scores (Monte Carlo − exact) / s.e. of the mean and the variance, per signal and T."""
    plt = pyplot()
    rows = check["rows"]
    labels = list(dict.fromkeys(r["signal"] for r in rows))
    fig, axes = plt.subplots(1, 2, layout="constrained", figsize=(10, 3.6), sharey=True)
    for ax, key, name in ((axes[0], "z_mean", "mean"), (axes[1], "z_var", "variance")):
        for i, lab in enumerate(labels):
            rs = [r for r in rows if r["signal"] == lab]
            jitter = 1.0 + 0.04 * (i - len(labels) / 2)   # side by side, not on top
            T = np.array([r["T"] for r in rs], dtype=np.float64) * jitter
            ax.plot(T, [r[key] for r in rs], "o", ms=4, color=f"C{i}", label=lab)
        for lev, st in ((2, ":"), (4, "--")):
            ax.axhline(lev, color="0.4", ls=st, lw=0.8, label=f"±{lev}")
            ax.axhline(-lev, color="0.4", ls=st, lw=0.8)
        ax.axhline(0, color="0.6", lw=0.6, label="0: agreement")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("filter length T")
        ax.set_title(f"z-score of the Monte Carlo {name}", fontsize=10)
    axes[0].set_ylabel("(Monte Carlo − exact) / s.e.")
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return fig


# ----------------------------------------------------------------------------- all
def paper_figures(results: dict, out_dir: str, *, waveforms: dict | None = None,
                  pdf: bool = False, on_step=None) -> dict:
    """Draw and save the six figures of ``results`` (see `FIGURES`) into ``out_dir``.

    Returns ``{name: [paths]}`` in reading order; ``on_step(name)`` is called after each figure.
    """
    energy, bounds = results["energy"], results["bounds"]
    makers = {
        "energy_synthetic": lambda: energy_deviation_figure(energy, kind="synthetic"),
        "energy_sounds": lambda: energy_deviation_figure(energy, kind="sound",
                                                         waveforms=waveforms),
        "energy_histograms": lambda: energy_histogram_figure(energy),
        "frame_bounds": lambda: frame_bounds_figure(bounds),
        "condition_number": lambda: condition_number_figure(bounds),
        "theory_check": lambda: theory_check_figure(results["theory_check"]),
    }
    out = {}
    for name, _title in FIGURES:
        out[name] = save_figure(makers[name](), out_dir, name, pdf)
        if on_step is not None:
            on_step(f"figure {name}")
    return out
