r"""Target filterbanks for the training study, built here (never downloaded).

Two families, both FIR with exactly T taps, both float64 NumPy ``(J, T)``:

- ``parseval``: A random *paraunitary* (lossless) filterbank. With stride d the analysis
    $y_j[m] = \sum_t g_j[t]\, x[md - t]$ splits into polyphase parts
    $x_a[m] = x[md - a]$ and filters $h_{ja}[k] = g_j[kd + a]$, so
    $y = H(z)\,(x_a)_a$ with the J×d polyphase matrix $H(z) = \sum_k C_k z^{-k}$.
    The layer is Parseval-tight ($\|\Phi_d x\| = \|x\|$, A = B = 1 on every
    $\mathbb Z_N$ with d | N) exactly when $H(e^{i\theta})^H H(e^{i\theta}) = I_d$. Such an
    H of degree K is built as $V_K(z) \cdots V_1(z)\, U$ with U a J×d matrix of
    orthonormal columns and degree-one lossless blocks
    $V_k(z) = I - v_k v_k^\top + z^{-1} v_k v_k^\top$ ($v_k$ unit vectors):
    $V^H V = (I-P)^2 + P^2 = I$ for the projection $P = v v^\top$. K = T/d − 1 gives
    T taps. Random U and $v_k$ (from a seed) give a generic tight filterbank, for any J ≥ d:
    `rfbjax.kernels.parseval` with rank-one projectors, in float64.

- ``gammatone``: An auditory filterbank: fourth-order gammatone impulse responses
    $g_j[t] = t^3 e^{-2\pi b_j t / f_s} \cos(2\pi f_j t / f_s)$, centre frequencies
    $f_j$ equally spaced on the ERB-rate scale $E(f) = 21.4 \log_{10}(1 + 0.00437 f)$
    from 0 Hz (the first channel is a low-pass) to 0.9 × Nyquist, bandwidths
    $b_j = 1.019\, \mathrm{ERB}(f_j)$ with $\mathrm{ERB}(f) = 24.7 (1 + 0.00437 f)$ Hz,
    truncated to T taps with a raised-cosine taper over the last quarter. Each channel is scaled
    to unit peak gain; it is a frame but not a tight one (its κ is reported).

Both are finally scaled so that the mean eigenvalue of the polyphase matrices $\mathcal M(\xi)$
(the mean of $P/d$ at stride d) is 1 — the gain of an energy-preserving layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import InputError

__all__ = ["TARGET_NAMES", "Target", "paraunitary_fir", "gammatone_fir", "make_target"]

TARGET_NAMES = ("parseval", "gammatone")


@dataclass(frozen=True)
class Target:
    """A fixed filterbank the student imitates.

    Attributes:
      name: ``parseval`` or ``gammatone``.
      w: float64 ``(J, T)`` taps.
      stride: the stride it is used with.
      description: one line for reports.
    """

    name: str
    w: np.ndarray
    stride: int
    description: str


def paraunitary_fir(J: int, T: int, stride: int = 1, *, seed: int = 0) -> np.ndarray:
    r"""A random Parseval-tight FIR filterbank ``(J, T)`` for stride d (module docstring).

    Exact up to rounding: A = B = 1 on every $\mathbb Z_N$ with d | N. Needs J ≥ d and
    d | T. Cost O(J T²/d) (K = T/d − 1 degree-one blocks on a polynomial of ≤ T/d coefficients).
    """
    import jax
    import jax.numpy as jnp

    from ...kernels.parseval import check_parseval_shape, parseval_init, parseval_kernel

    check_parseval_shape(J, 1, T, stride, what="parseval target: ")
    d = int(stride)
    with jax.enable_x64(True):
        key = jnp.array([int(seed) & 0xFFFFFFFF, 0x7A26E7], dtype=jnp.uint32)
        p = parseval_init(key, J, 1, T, d, ranks=1 if T > d else None, dtype=jnp.float64)
        w = np.asarray(parseval_kernel(p), dtype=np.float64)[:, 0, :]
    return np.ascontiguousarray(w)


def _erb_rate(f):
    return 21.4 * np.log10(1.0 + 0.00437 * f)


def _erb_rate_inverse(e):
    return (10.0 ** (e / 21.4) - 1.0) / 0.00437


def gammatone_fir(J: int, T: int, sample_rate: float = 22050.0) -> np.ndarray:
    r"""A fourth-order gammatone filterbank ``(J, T)``, ERB-spaced from 0 Hz to 0.9 × Nyquist,
    each channel at unit peak gain (module docstring)."""
    fs = float(sample_rate)
    nyq = fs / 2.0
    fc = _erb_rate_inverse(np.linspace(0.0, _erb_rate(0.9 * nyq), J)) if J > 1 else np.array([0.0])
    # bandwidths grow with the channel spacing (in ERBs) when J is too small to cover the band
    spacing = _erb_rate(0.9 * nyq) / max(J - 1, 1)
    b = 1.019 * 24.7 * (1.0 + 0.00437 * fc) * max(1.0, spacing)
    t = np.arange(T, dtype=np.float64)
    env = t[None, :] ** 3 * np.exp(-2.0 * np.pi * b[:, None] * t[None, :] / fs)
    g = env * np.cos(2.0 * np.pi * fc[:, None] * t[None, :] / fs)
    n_taper = max(T // 4, 1)
    taper = np.ones(T)
    taper[T - n_taper:] = 0.5 * (1.0 + np.cos(np.pi * (np.arange(n_taper) + 1) / n_taper))
    g = g * taper
    gain = np.abs(np.fft.rfft(g, n=max(8 * T, 4096), axis=-1)).max(axis=-1)
    return g / gain[:, None]


def _unit_mean_eigenvalue(w: np.ndarray, stride: int) -> np.ndarray:
    """Scale w so that the mean of P/d over frequency is 1: mean P = Σ_j ||w_j||², so divide by
    sqrt(Σ ||w||² / d)."""
    return w / math.sqrt(float(np.sum(w * w)) / stride)


def make_target(name: str, J: int, T: int, stride: int = 1, *, seed: int = 0,
                sample_rate: float = 22050.0) -> Target:
    """The named target (``parseval`` or ``gammatone``), scaled to mean eigenvalue 1."""
    if name == "parseval":
        w = paraunitary_fir(J, T, stride, seed=seed)
        desc = (f"random paraunitary FIR filterbank, exactly Parseval-tight at stride {stride} "
                f"(seed {seed})")
    elif name == "gammatone":
        w = gammatone_fir(J, T, sample_rate)
        desc = (f"4th-order gammatone FIR filterbank, ERB-spaced 0 Hz to "
                f"{0.45 * sample_rate:.0f} Hz at {sample_rate:g} Hz, unit peak gain per channel")
    else:
        raise InputError(f"--target: unknown target {name!r} (choose from "
                         f"{', '.join(TARGET_NAMES)})")
    return Target(name, _unit_mean_eigenvalue(w, stride), int(stride), desc)
