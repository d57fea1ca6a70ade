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
    """(J·N/d) × (C·N) of a conv1d layer w (J, C, T): block (j, c) is w_jc's circulant, every d-th row."""
    return np.hstack([analysis_matrix(w[:, c, :], N, stride) for c in range(w.shape[1])])


def layer_frame_bounds_explicit(w, N, stride: int = 1):
    """Extreme squared singular values of :func:`layer_analysis_matrix` (C·N of them, zeros included)."""
    C = w.shape[1]
    s = np.linalg.svd(layer_analysis_matrix(w, N, stride), compute_uv=False)
    full = np.zeros(C * N)
    full[: s.size] = s
    return float(np.min(full ** 2)), float(np.max(full ** 2))


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


def aliasing_terms_dense(ws, omegas, stride: int):
    """G_k(omega) = (1/d) sum_j conj(w_j^(omega)) w_j^(omega - k/d), k < d, by explicit DTFT sums
    (omega in cycles per sample); returns complex (d, len(omegas))."""
    ws = np.asarray(ws, dtype=np.float64)
    d = int(stride)
    t = np.arange(ws.shape[-1])
    om = np.asarray(omegas, dtype=np.float64)
    W0 = ws @ np.exp(-2j * np.pi * np.outer(t, om))                       # (J, n)
    out = []
    for k in range(d):
        Wk = ws @ np.exp(-2j * np.pi * np.outer(t, om - k / d))
        out.append(np.sum(np.conj(W0) * Wk, axis=0) / d)
    return np.array(out)


def aliasing_energy_dense(ws, N: int, stride: int) -> float:
    """mean over the N-point grid of sum_{k != 0} |G_k|^2, over c^2 (c = the mean of G_0)."""
    G = aliasing_terms_dense(ws, np.arange(N) / N, stride)
    c = float(np.mean(G[0].real))
    return float(np.mean(np.sum(np.abs(G[1:]) ** 2, axis=0)) / c ** 2)


def structured_conv_matrix(w, N, stride: int = 1, groups: int = 1, dilation: int = 1):
    """(J·N/d) × (C·N) of a grouped, dilated, strided conv1d computed directly, one unit input
    at a time: y[j, m] = sum_{c in j's group} sum_t w[j, c - group start, t] x[c, (m d - t δ) mod N]
    (w: (J, C/g, T), C = g·C/g)."""
    J, Cg, T = w.shape
    g, d, M = groups, stride, N // stride
    C = g * Cg
    out = np.zeros((J * M, C * N))
    for col in range(C * N):
        x = np.zeros((C, N))
        x[divmod(col, N)] = 1.0
        y = np.zeros((J, M))
        for j in range(J):
            k = j // (J // g)
            for cl in range(Cg):
                for m in range(M):
                    y[j, m] += sum(w[j, cl, t] * x[k * Cg + cl, (m * d - t * dilation) % N]
                                   for t in range(T))
        out[:, col] = y.reshape(-1)
    return out


def conv_transpose_matrix(w, N, stride: int = 1, groups: int = 1):
    """(C_out·N) × (C_in·N/d) of a circular ConvTranspose1d as PyTorch computes it, directly:
    u[o, (s d + k) mod N] += w[i, o - group start, k] z[i, s] (w: (C_in, C_out/g, T))."""
    Cin, Cog, T = w.shape
    g, d, M = groups, stride, N // stride
    Cout = g * Cog
    out = np.zeros((Cout * N, Cin * M))
    for col in range(Cin * M):
        i, s = divmod(col, M)
        k_grp = i // (Cin // g)
        u = np.zeros((Cout, N))
        for ol in range(Cog):
            for k in range(T):
                u[k_grp * Cog + ol, (s * d + k) % N] += w[i, ol, k]
        out[:, col] = u.reshape(-1)
    return out


def extreme_eigenvalues(Phi):
    """(min eig of Φ^T Φ, min eig of Φ Φ^T, max eig): the frame and Riesz lower bounds and B."""
    s = np.linalg.svd(Phi, compute_uv=False)
    rows, cols = Phi.shape
    frame = float(s.min() ** 2) if rows >= cols and s.size == cols else 0.0
    riesz = float(s.min() ** 2) if cols >= rows and s.size == rows else 0.0
    return frame, riesz, float(s.max() ** 2)


def strided_circular_xcorr(x, w, stride: int):
    """y[j, m] = sum_c sum_t w[j, c, t] x[c, (m d + t) mod L], m < L/d: the conv1d of the
    frameworks (cross-correlation) with circular padding, explicit loops; x (C, L), w (J, C, T)."""
    C, L = x.shape
    J, _, T = w.shape
    y = np.zeros((J, L // stride))
    for j in range(J):
        for m in range(L // stride):
            y[j, m] = sum(w[j, c, t] * x[c, (m * stride + t) % L] for c in range(C) for t in range(T))
    return y


def parseval_kernel_sequential(params):
    """The Parseval kernel by the K − 1 factors applied one after another (a ``lax.scan``).

    Brute-force reference for `rfbjax.kernels.parseval.parseval_kernel` (JAX, any dtype):
    $H \\leftarrow (I - P_k) H + z^{-1} P_k H$ for k = 1 … K − 1 starting from $H = Q$, with the
    same QR parametrisation, rank masks and second-order projector $P = U(I + E)U^\\top$.
    """
    import math

    import jax
    import jax.numpy as jnp

    from rfbjax.kernels.parseval import _orthonormal, gram_defect

    p = params
    J, C, T, d = p.J, p.C, p.T, p.stride
    K, Cd = T // d, C * d
    rmax = p.projectors.shape[-1]
    dt = p.isometry.dtype
    hi = "highest"
    Q = _orthonormal(p.isometry)
    Q = Q + 0.5 * jnp.matmul(Q, jax.lax.stop_gradient(gram_defect(Q)), precision=hi)
    H0 = jnp.zeros((J, K * Cd), dt).at[:, :Cd].set(Q)
    if K > 1:
        mask = np.arange(rmax)[None, :] < np.asarray(p.ranks)[:, None]
        U = _orthonormal(p.projectors) * jnp.asarray(mask, dt)[:, None, :]
        E = jax.lax.stop_gradient(gram_defect(U))

        def factor(H, UE):
            Uk, Ek = UE
            X = jnp.matmul(Uk.T, H, precision=hi)
            X = X + jnp.matmul(Ek, X, precision=hi)
            PH = jnp.matmul(Uk, X, precision=hi)
            shifted = jnp.concatenate([jnp.zeros_like(PH[:, :Cd]), PH[:, :-Cd]], axis=1)
            return H - PH + shifted, None

        H, _ = jax.lax.scan(factor, H0, (U, E))
    else:
        H = H0
    w = H.reshape(J, K, C, d).transpose(0, 2, 1, 3).reshape(J, C, T)
    return w if p.gain == 1.0 else (math.sqrt(p.gain) * w).astype(dt)
