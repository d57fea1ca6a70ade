"""Certificates: the exact optima known in closed form (vertex argument), frame bounds of a
filterbank, built-in signals for comparison, spectral peaks.
"""

from __future__ import annotations


import numpy as np
import jax
import jax.numpy as jnp

from ...errors import InputError
from ...kernels.frames import circular_frame_bounds, condition_number, power_response
from .constraints import Constraints, _subspace_projection
from .objectives import Objective, _jit_rho

#: Built-in signals that `builtin_values` compares a search with (``sine:K`` = K cycles).
BASELINE_SIGNALS = ("impulse", "white", "brownian", "alternating", "sine:1", "sine:3", "vowel",
                    "flute", "snare")


_jit_bounds = jax.jit(circular_frame_bounds, static_argnums=1)
_jit_power = jax.jit(power_response, static_argnums=1)


def frame_summary(w, N: int, dtype=jnp.float32) -> dict:
    """Circular frame bounds of one filterbank ``w (J, T)`` on Z_N (stride 1): ``{"A", "B",
    "kappa", "P"}`` with P the power response on the rfft bins (NumPy ``(N//2+1,)``)."""
    w = jnp.asarray(w, dtype=dtype)
    A, B = _jit_bounds(w, int(N))
    P = _jit_power(_jit_rho(w), int(N))
    return {"A": float(A), "B": float(B), "kappa": float(condition_number(A, B)),
            "P": np.asarray(P, dtype=np.float64)}


def _fold_fft(g: np.ndarray, N: int) -> np.ndarray:
    r"""$G[m] = \sum_{\tau=0}^{T-1} g(\tau) \cos(2\pi m\tau/N)$ for m = 0 … N-1 (float64).

    g ``(..., T)`` is folded onto $\mathbb Z_N$ first (T > N is fine)."""
    g = np.asarray(g, dtype=np.float64)
    T = g.shape[-1]
    h = np.zeros(g.shape[:-1] + (N,))
    np.add.at(h, (..., np.arange(T) % N), g)
    return np.fft.fft(h, axis=-1).real


def tone_values(obj: Objective, N: int) -> np.ndarray:
    r"""The objective at the unit-energy cosine of every rfft bin k = 0 … N//2 (float64 NumPy).

    With $R(\tau)/R(0) = \cos(2\pi k\tau/N)$ (for any phase):

    * ``fixed``: $P(2\pi k/N) = \sum_\tau c_\tau \rho(\tau) \cos(2\pi k \tau/N)$;
    * ``population``: the mean over the sample of $(P_i(2\pi k/N) - 1)^2$;
    * ``variance``: $\frac{2}{JT^2}\sum_\tau c_\tau (T-\tau)\cos^2(2\pi k\tau/N)
      = \frac{1}{JT^2}\big(T^2 + \sum_\tau c_\tau (T-\tau)\cos(2\pi (2k)\tau/N)\big)$,

    each one FFT of length N. By the vertex argument (module docstring) the max over the allowed
    bins is the maximum over the band (and for ``fixed`` the min is the minimum).
    """
    T = obj.T
    cw = np.full(T, 2.0)
    cw[0] = 1.0
    k = np.arange(N // 2 + 1)
    if obj.name == "variance":
        G = _fold_fft(cw * (T - np.arange(T)), N)
        return (T * T + G[(2 * k) % N]) / (obj.J * T * T)
    if obj.name == "fixed":
        return _fold_fft(cw * np.asarray(obj.params["rho"], np.float64), N)[k]
    rhos = np.asarray(obj.params["rhos"], dtype=np.float64)
    acc = np.zeros(k.size)
    for s in range(0, rhos.shape[0], 256):  # (256, N) at a time
        P = _fold_fft(cw * rhos[s:s + 256], N)[:, k]
        acc += np.sum((P - 1.0) ** 2, axis=0)
    return acc / rhos.shape[0]


def certificate(obj: Objective, c: Constraints, maximize: bool) -> dict | None:
    """What a search can be compared with: ``{"value", "kind", "note", ...}`` or None.

    ``kind`` is ``"exact"`` (the optimum over the feasible set) or ``"upper_bound"`` /
    ``"lower_bound"`` (with a time support or an ε-ball the feasible set shrinks and the value
    over the band only bounds the optimum). For ``fixed`` without a band the value is literally
    the frame bound of `rfbjax.kernels.frames.circular_frame_bounds`.
    """
    if obj.name == "population" and not maximize:
        return None
    if obj.name == "variance" and not maximize:
        attained = c.allowed is None and c.support is None and not c.near and obj.T <= c.N
        return {"value": 2.0 / (obj.J * obj.T), "kind": "exact" if attained else "lower_bound",
                "note": "2/(JT): R_x(tau) = 0 for 0 < tau < T (an impulse)"}
    if c.near or c.allowed is None:
        bins = np.arange(c.N // 2 + 1)  # with x0, x's spectrum is not restricted to the band
    else:
        bins = np.flatnonzero(c.allowed)
    vals = tone_values(obj, c.N)
    j = int(bins[np.argmax(vals[bins])] if maximize else bins[np.argmin(vals[bins])])
    value = float(vals[j])
    kind = "exact" if c.band_only else ("upper_bound" if maximize else "lower_bound")
    band = "allowed " if c.allowed is not None and not c.near else ""
    if obj.name == "variance":
        note = ("2/J (constant or alternating signal)" if not band else
                "best pure tone over the allowed bins (vertex argument)")
    elif obj.name == "fixed":
        note = f"{'B = max' if maximize else 'A = min'} of the power response P over the {band}DFT bins"
        if not band:
            A, B = _jit_bounds(jnp.asarray(obj.weights), c.N)
            value = float(B) if maximize else float(A)
            note += " (rfbjax.kernels.frames.circular_frame_bounds)"
    else:
        note = f"best pure tone over the {band}bins: mean over the sample of (P_k - 1)^2"
    return {"value": value, "kind": kind, "note": note, "bin": j, "frequency": j / c.N}


def spectral_peak(x: np.ndarray, sample_rate: float | None = None) -> dict:
    """Peak of the power spectrum of x: bin, cycles/sample, period, Hz, and the share of the
    energy within ±2 bins of it (near 1 for a pure tone, i.e. a locally periodic signal)."""
    x = np.asarray(x, dtype=np.float64)
    N = x.size
    p = np.abs(np.fft.rfft(x)) ** 2
    g = np.full(p.shape, 2.0)
    g[0] = 1.0
    if N % 2 == 0:
        g[-1] = 1.0
    p = p * g
    k = int(np.argmax(p))
    f = k / N
    out = {"bin": k, "cycles_per_sample": f, "period_samples": (1.0 / f) if k else None,
           "energy_share_pm2_bins": float(p[max(0, k - 2):k + 3].sum() / p.sum())}
    if sample_rate:
        out["hz"] = f * float(sample_rate)
    return out


def builtin_values(obj: Objective, c: Constraints, *, sample_rate: float = 22050.0,
                   names=BASELINE_SIGNALS, dtype=None) -> list[dict] | None:
    """The objective at the built-in signals, each made feasible by the orthogonal projection
    onto the constraint subspace (band ∩ support) and renormalised: ``[{"signal", "value",
    "feasible_share"}]`` (``feasible_share``: the share of its energy the projection keeps; a
    signal with none left, e.g. ``alternating`` without Nyquist, gets ``value`` None).
    Returns None with ``near`` (built-ins are not in the ε-ball around x₀).
    """
    from ...report.signals import make_signal

    if c.near:
        return None
    if dtype is None:
        dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    sub = _subspace_projection(c, dtype)
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=dtype), obj.params)
    rows = []
    for name in names:
        try:
            x = make_signal(name, c.N, sample_rate)
        except InputError:  # e.g. sine:3 at N = 4, or a sample rate too low for a sound
            continue
        xp = np.asarray(sub(jnp.asarray(x, dtype=dtype)), dtype=np.float64)
        share = float(np.dot(xp, xp))
        value = None
        if share > 1e-10:
            value = float(obj.value(jnp.asarray(xp / np.sqrt(share), dtype=dtype), params))
        rows.append({"signal": name, "value": value, "feasible_share": share})
    return rows
