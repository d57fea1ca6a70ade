r"""Autocorrelations: of the signal ($R_x$) and of the filterbank ($\rho$).

Everything rfbjax computes flows through the filterbank autocorrelation

$$
\rho(\tau) = \sum_{j=1}^{J} r_{w_j}(\tau), \qquad
r_w(\tau) = \sum_t w[t]\, w[t+\tau], \quad |\tau| < T,
$$

which is even in $\tau$ for real filters. rfbjax stores it **one-sided**, lags
$0 \dots T-1$, as an array of shape ``(..., T)``.

The signal autocorrelation is either circular (on $\mathbb Z_N$),
$R_x(\tau) = \sum_n x[n]\,x[(n+\tau) \bmod N]$, or linear (zero outside the support),
$R_x(\tau) = \sum_n x[n]\,x[n+\tau]$. Both are even in $\tau$.

Both are computed with FFTs (Wiener–Khinchin): $R = \mathcal F^{-1}|\mathcal F x|^2$, with a
transform long enough ($\ge 2L-1$ for a support of length $L$) that no wrap-around
occurs where it must not.
"""

from __future__ import annotations

import numpy as np
import jax
import jax.numpy as jnp

from ..base.lazy import chex

__all__ = [
    "fft_size",
    "filterbank_autocorr",
    "signal_autocorr",
    "lag_profile",
    "lag_weights",
    "symmetric_extension",
]

BOUNDARIES = ("circular", "linear")


def fft_size(n: int) -> int:
    r"""Smallest $2^a 3^b 5^c \ge n$ (a fast FFT length)."""
    n = int(n)
    if n <= 1:
        return 1
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def filterbank_autocorr(w: jax.Array) -> jax.Array:
    r"""One-sided filterbank autocorrelation $\rho(\tau)$, $\tau = 0 \dots T-1$.

    $$
    \rho(\tau) = \sum_j \sum_t w_j[t]\, w_j[t+\tau]
    = \mathcal F^{-1}_L\Big[\sum_j |\mathcal F_L w_j|^2\Big](\tau),
    $$

    with a zero-padded transform of length $L \ge 2T-1$ (no wrap-around). The sum over
    filters happens in the Fourier domain, so the cost is J forward real FFTs and one inverse.

    Args:
      w: filters, shape ``(..., J, T)``.

    Returns:
      ``(..., T)``: $\rho(0), \dots, \rho(T-1)$; $\rho(-\tau) = \rho(\tau)$.

    Raises:
      AssertionError: (chex, at trace time) ``w`` has fewer than 2 dimensions.
    """
    chex.assert_shape(w, (..., None, None),
                      custom_message="filterbank_autocorr: w must be (..., J, T)")
    T = w.shape[-1]
    if T == 1:
        return jnp.sum(w * w, axis=-2)
    L = fft_size(2 * T - 1)
    W = jnp.fft.rfft(w, n=L, axis=-1)
    power = jnp.sum(W.real ** 2 + W.imag ** 2, axis=-2)
    return jnp.fft.irfft(power, n=L, axis=-1)[..., :T].astype(w.dtype)


def signal_autocorr(x, *, boundary: str = "circular") -> jax.Array:
    r"""Signal autocorrelation $R_x(\tau)$ for lags $\tau = 0 \dots N-1$.

    * ``circular``: $R_x(\tau) = \sum_n x[n]\, x[(n+\tau) \bmod N]$ (N-periodic);
    * ``linear``: $R_x(\tau) = \sum_{n=0}^{N-1-\tau} x[n]\, x[n+\tau]$, and 0 for
      $|\tau| \ge N$.

    $R_x(0) = \|x\|^2$ in both cases.

    Args:
      x: signals, shape ``(..., N)``. NumPy in, NumPy out (no compilation, float64 kept: how
        the Monte Carlo prepares its signals); JAX arrays otherwise.
      boundary: ``"circular"`` or ``"linear"``.

    Returns:
      ``(..., N)``: $R_x(0), \dots, R_x(N-1)$.

    Raises:
      ValueError: an unknown ``boundary``.
      AssertionError: (chex, at trace time) ``x`` is a scalar.
    """
    _check_boundary(boundary)
    xp = np if isinstance(x, np.ndarray) else jnp
    x = xp.asarray(x)
    chex.assert_shape(x, (..., None), custom_message="signal_autocorr: x must be (..., N)")
    N = x.shape[-1]
    L = N if boundary == "circular" else fft_size(2 * N - 1)
    X = xp.fft.rfft(x, n=L, axis=-1)
    return xp.fft.irfft(X.real ** 2 + X.imag ** 2, n=L, axis=-1)[..., :N].astype(x.dtype)


def lag_profile(R, T: int, *, boundary: str = "circular") -> jax.Array:
    r"""The values of $R_x$ that a filter of T taps sees: lags $0 \dots T-1$.

    Circular: $R_x(\tau \bmod N)$ (filters longer than the signal wrap around).
    Linear: $R_x(\tau)$ for $\tau < N$, zero beyond.

    Args:
      R: autocorrelation for lags ``0 … N-1``, shape ``(..., N)`` (from
        `rfbjax.kernels.autocorr.signal_autocorr`).
      T: number of taps.
      boundary: ``"circular"`` or ``"linear"``, as for ``R``.

    Returns:
      ``(..., T)``; NumPy in, NumPy out, JAX arrays otherwise.

    Raises:
      ValueError: an unknown ``boundary``.
      AssertionError: (chex, at trace time) ``R`` is a scalar.
    """
    _check_boundary(boundary)
    xp = np if isinstance(R, np.ndarray) else jnp
    R = xp.asarray(R)
    chex.assert_shape(R, (..., None), custom_message="lag_profile: R must be (..., N)")
    N = R.shape[-1]
    if boundary == "circular":
        return xp.take(R, np.arange(T) % N, axis=-1)
    if T <= N:
        return R[..., :T]
    pad = [(0, 0)] * (R.ndim - 1) + [(0, T - N)]
    return xp.pad(R, pad)


def lag_weights(T: int, dtype=np.float32) -> np.ndarray:
    r"""Multiplicities of the one-sided lags in a two-sided sum: $c_0 = 1$, $c_\tau = 2$.

    For even sequences $\sum_{|\tau|<T} f(\tau) = \sum_{\tau=0}^{T-1} c_\tau f(\tau)$.
    A NumPy array: a constant under ``jit``, and nothing to compile outside it.

    Args:
      T: number of lags.
      dtype: of the result.

    Returns:
      ``(T,)``.
    """
    c = np.full((T,), 2.0, dtype=np.dtype(dtype))
    c[0] = 1.0
    return c


def symmetric_extension(rho: jax.Array, N: int) -> jax.Array:
    r"""The two-sided sequence $\rho(\tau),\ |\tau| < T$, folded onto $\mathbb Z_N$.

    $$
    c[k] = \sum_{|\tau| < T,\ \tau \equiv k \ (\mathrm{mod}\ N)} \rho(\tau),
    \qquad k = 0 \dots N-1.
    $$

    Its N-point DFT is the power response on the DFT grid.

    Args:
      rho: one-sided autocorrelations, shape ``(..., T)``.
      N: the grid (static).

    Returns:
      ``(..., N)``.

    Raises:
      AssertionError: (chex, at trace time) ``rho`` is a scalar.
    """
    chex.assert_shape(rho, (..., None),
                      custom_message="symmetric_extension: rho must be (..., T)")
    T = rho.shape[-1]
    lags = np.concatenate([np.arange(T), -np.arange(1, T)]) % N
    vals = jnp.concatenate([rho, rho[..., 1:]], axis=-1)
    out = jnp.zeros(rho.shape[:-1] + (N,), dtype=rho.dtype)
    if 2 * T - 1 <= N:
        return out.at[..., lags].set(vals)
    return out.at[..., lags].add(vals)


def _check_boundary(boundary: str) -> None:
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
