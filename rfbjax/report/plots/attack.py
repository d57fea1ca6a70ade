"""The figure of an adversarial search (``rfbjax attack``): the signal found, its spectrum and
autocorrelation, and the objective against the step for every restart."""

from __future__ import annotations

import numpy as np

from .common import pyplot, save_figure

__all__ = ["attack_figure"]

#: the objectives' formulas, for the axis label of panel 4
_OBJECTIVE = {
    "variance": "V[‖Φx‖²] / ‖x‖⁴",
    "fixed": "‖Φx‖² / ‖x‖²",
    "population": "mean over k of (‖Φₖx‖²/‖x‖² − 1)²",
}


def attack_figure(result, out_dir: str | None = None, name: str = "attack", *,
                  allowed=None, x0=None, power=None, T: int | None = None,
                  sample_rate: float | None = None, title: str | None = None, pdf: bool = False):
    """Four panels for an `rfbjax.studies.attack.AttackResult`:

    1. waveform of the best signal (and x₀ for a search near a recording);
    2. power spectrum in dB over the rfft bins (floored at −120 dB), forbidden bins shaded grey, with the filterbank's power
       response P on a second axis when ``power`` (``(N//2+1,)``) is given;
    3. circular autocorrelation R_x(τ)/R_x(0) for lags up to max(2T, 64) (the first T are what a
       filter of T taps sees: shaded);
    4. objective against step, one line per restart (until it stopped), the best restart bold,
       and the certificate as a dashed line.

    Writes ``out_dir/name.png`` (and ``.pdf``) when ``out_dir`` is given and returns the paths;
    otherwise returns the figure (for notebooks).
    """
    plt = pyplot()
    x = np.asarray(result.x, dtype=np.float64)
    N = x.size
    fig, axes = plt.subplots(2, 2, layout="constrained", figsize=(11, 7))
    ax_w, ax_s, ax_r, ax_h = axes.ravel()

    # 1. waveform
    t = np.arange(N) if not sample_rate else np.arange(N) / sample_rate * 1e3
    if x0 is not None:
        ax_w.plot(t, x0, color="0.65", lw=0.8, label="x0")
    ax_w.plot(t, x, color="C0", lw=0.8, label="found")
    ax_w.set_xlabel("sample" if not sample_rate else "time (ms)")
    ax_w.set_title("best signal")
    if x0 is not None:
        ax_w.legend(loc="upper right", fontsize=8)

    # 2. spectrum
    X = np.abs(np.fft.rfft(x)) ** 2
    f = np.arange(X.size) / N
    floor_db = -120.0
    ax_s.plot(f, 10 * np.log10(np.maximum(X / max(X.max(), 1e-300), 10 ** (floor_db / 10))),
              color="C0", lw=0.8, label=f"|x̂|² (dB, peak 0, floor {floor_db:g})")
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=bool)
        df = 0.5 / N
        for i, k in enumerate(np.flatnonzero(~allowed)):
            ax_s.axvspan(f[k] - df, f[k] + df, color="0.6", alpha=0.35, lw=0,
                         label="forbidden bins" if i == 0 else None)
    ax_s.set_ylim(floor_db - 5, 5)
    ax_s.set_xlabel("frequency (cycles/sample)")
    ax_s.set_ylabel("power (dB, peak 0)")
    ax_s.set_title("power spectrum")
    handles, labels = ax_s.get_legend_handles_labels()
    if power is not None:
        ax_p = ax_s.twinx()
        ax_p.plot(f, np.asarray(power), color="C1", lw=0.8, label="filterbank P(ω) (right axis)")
        ax_p.set_ylabel("filterbank P(ω)", color="C1")
        more = ax_p.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    if len(handles) > 1:
        ax_s.legend(handles, labels, loc="lower left", fontsize=7)

    # 3. autocorrelation
    R = np.fft.irfft(np.abs(np.fft.rfft(x)) ** 2, n=N)
    R = R / R[0]
    L = min(N, max(2 * (T or 0), 64))
    ax_r.plot(np.arange(L), R[:L], color="C0", lw=0.8, label="R_x(τ)/R_x(0)")
    if T:
        ax_r.axvspan(0, min(T, L) - 1, color="C2", alpha=0.12, lw=0, label=f"lags < T = {T}")
        ax_r.legend(loc="upper right", fontsize=8)
    ax_r.set_ylim(-1.05, 1.05)
    ax_r.set_xlabel("lag τ (samples)")
    ax_r.set_title("circular autocorrelation")

    # 4. history
    H = np.asarray(result.history)
    steps = np.asarray(result.steps)
    b = result.best_restart
    others = [r for r in range(H.shape[1]) if r != b]
    for i, r in enumerate(others):
        stop = int(steps[r]) + 1
        ax_h.plot(np.arange(stop), H[:stop, r], lw=0.5, alpha=0.5, color="C0",
                  label=f"the other {len(others)} restarts" if i == 0 else None)
    ax_h.plot(np.arange(int(steps[b]) + 1), H[:int(steps[b]) + 1, b], lw=1.6, color="C3",
              label=f"best restart ({b})")
    cert = result.certificate
    if cert is not None:
        kind = {"exact": "exact optimum"}.get(cert["kind"], cert["kind"].replace("_", " "))
        ax_h.axhline(cert["value"], ls="--", color="k", lw=0.9,
                     label=f"{kind}: {cert['value']:.4g}")
    if result.x0_value is not None:
        ax_h.axhline(result.x0_value, ls=":", color="0.4", lw=0.9,
                     label=f"x0: {result.x0_value:.4g}")
    ax_h.set_xlabel("step")
    ax_h.set_ylabel(_OBJECTIVE.get(result.objective, result.objective))
    ax_h.set_title(f"objective, {result.restarts} restarts "
                   f"({'maximise' if result.maximize else 'minimise'})")
    ax_h.legend(loc="best", fontsize=8)

    if title:
        fig.suptitle(title, fontsize=10)
    if out_dir is None:
        return fig
    return save_figure(fig, out_dir, name, pdf=pdf)
