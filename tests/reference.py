"""Brute-force references: explicit loops and explicit matrices, float64 NumPy, small sizes only."""

from __future__ import annotations

import numpy as np


def autocorr_filter(w):
    """r_w(tau) = sum_t w[t] w[t+tau], tau = 0..T-1, by a double loop."""
    T = len(w)
    return np.array([sum(w[t] * w[t + tau] for t in range(T - tau)) for tau in range(T)])


def autocorr_signal_circular(x):
    N = len(x)
    return np.array([sum(x[n] * x[(n + tau) % N] for n in range(N)) for tau in range(N)])


def autocorr_signal_linear(x):
    N = len(x)
    return np.array([sum(x[n] * x[n + tau] for n in range(N - tau)) for tau in range(N)])


def circular_conv(x, w):
    """(x ⊛ w)[n] = sum_t w[t] x[(n - t) mod N], explicit double loop."""
    N = len(x)
    return np.array([sum(w[t] * x[(n - t) % N] for t in range(len(w))) for n in range(N)])


def circulant_matrix(w, N):
    """The N×N matrix C with C x = x ⊛ w (taps beyond N wrap around)."""
    C = np.zeros((N, N))
    for n in range(N):
        for t in range(len(w)):
            C[n, (n - t) % N] += w[t]
    return C


def analysis_matrix(ws, N, stride: int = 1):
    """(J·N/d) × N: the circulant matrices of all filters stacked, keeping every d-th row."""
    return np.vstack([circulant_matrix(w, N)[::stride] for w in ws])


def layer_analysis_matrix(w, N, stride: int = 1):
    """A conv1d layer (J, C, T) on Z_N: the channels' analysis matrices side by side, (J·N/d) × (C·N)."""
    return np.hstack([analysis_matrix(w[:, c, :], N, stride) for c in range(w.shape[1])])


def linear_analysis_matrix(ws, N):
    """(J·(N+T-1)) × N: full linear convolution of every filter, stacked."""
    blocks = []
    for w in ws:
        T = len(w)
        M = np.zeros((N + T - 1, N))
        for n in range(N):
            M[n:n + T, n] = w
        blocks.append(M)
    return np.vstack(blocks)


def energy_explicit(ws, x, boundary="circular"):
    """sum_j ||x * w_j||^2 by explicit convolution."""
    if boundary == "circular":
        return float(sum(np.sum(circular_conv(x, w) ** 2) for w in ws))
    return float(sum(np.sum(np.convolve(x, w) ** 2) for w in ws))


def frame_bounds_explicit(ws, N, stride: int = 1):
    """Extreme squared singular values of the explicit analysis matrix."""
    s = np.linalg.svd(analysis_matrix(ws, N, stride), compute_uv=False)
    full = np.zeros(N)
    full[: len(s)] = s
    return float(np.min(full ** 2)), float(np.max(full ** 2))


def power_response_dense(ws, omegas):
    """P(ω) = sum_j |sum_t w_j[t] e^{-iωt}|^2 evaluated directly."""
    ws = np.asarray(ws)
    t = np.arange(ws.shape[-1])
    E = np.exp(-1j * np.outer(omegas, t))
    return np.sum(np.abs(ws @ E.T) ** 2, axis=0)


def energy_variance_explicit(x, J, T, boundary="circular", scale=1.0):
    """2 σ⁴ J tr(Q²) with the explicit T×T matrix Q[t,t'] = R_x(t - t') (wrapped or zero-padded)."""
    N = len(x)
    R = autocorr_signal_circular(x) if boundary == "circular" else autocorr_signal_linear(x)

    def r(k):
        k = abs(k)
        if boundary == "circular":
            return R[k % N]
        return R[k] if k < N else 0.0

    Q = np.array([[r(a - b) for b in range(T)] for a in range(T)])
    sigma2 = scale / (J * T)
    return 2 * sigma2 ** 2 * J * np.trace(Q @ Q)
