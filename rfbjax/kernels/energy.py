r"""Energy response of a filterbank, $E(x) = \|\Phi x\|^2 = \sum_j \|x \circledast w_j\|^2$.

The fast route is docs/theory.md formula (1): expanding the square,

$$
\|x \circledast w\|^2 = \sum_{|\tau| < T} r_w(\tau)\, R_x(\tau \bmod N)
\quad\Longrightarrow\quad
E(x) = \sum_{\tau=0}^{T-1} c_\tau\, \rho(\tau)\, R_x(\tau),
$$

with $c_0 = 1, c_{\tau>0} = 2$ (both sequences are even). Given the lag profiles of M
signals (`rfbjax.kernels.autocorr.lag_profile`), the energies of S filterbanks are one
``(S, T) @ (T, M)`` matrix product: the signal length N no longer enters the per-filterbank cost.

For Gaussian taps $w_j[t] \sim \mathcal N(0, \sigma^2)$ i.i.d., $\|x \circledast w\|^2 = w^\top Q w$
with the Toeplitz matrix $Q[t,t'] = R_x(t-t')$, and (docs/theory.md formula (3))

$$
\mathbb E[E] = \sigma^2 J T\, R_x(0), \qquad
\mathbb V[E] = 2\sigma^4 J \operatorname{tr}(Q^2)
= 2\sigma^4 J \sum_{|\tau|<T} (T-|\tau|)\, R_x(\tau)^2.
$$
"""

from __future__ import annotations

import numpy as np
import jax
import jax.numpy as jnp

from ..base.lazy import chex
from .autocorr import lag_weights
from .filters import fold_taps

__all__ = ["energy_response", "energy_by_convolution", "energy_moments"]


def energy_response(rho: jax.Array, R_lags: jax.Array) -> jax.Array:
    r"""Energies $E_{s,m} = \sum_\tau c_\tau\, \rho_s(\tau)\, R_m(\tau)$ (filterbank s, signal m).

    docs/theory.md formula (1): one matrix product over the T lags.

    Args:
      rho: filterbank autocorrelations, shape ``(..., T)`` (one-sided).
      R_lags: signal lag profiles, shape ``(M, T)`` (`rfbjax.kernels.autocorr.lag_profile`).

    Returns:
      ``(..., M)``: the energy of every signal through every filterbank.

    Raises:
      AssertionError: (chex, at trace time) ``R_lags`` is not ``(M, T)`` with the ``T`` of
        ``rho``.
    """
    chex.assert_shape(rho, (..., None), custom_message="energy_response: rho must be (..., T)")
    T = rho.shape[-1]
    chex.assert_shape(R_lags, (None, T),
                      custom_message=f"energy_response: R_lags must be (M, T) with T={T} as rho")
    weighted = R_lags * lag_weights(T, R_lags.dtype)
    return jnp.einsum("...t,mt->...m", rho, weighted)


def energy_by_convolution(w: jax.Array, x: jax.Array, *, boundary: str = "circular") -> jax.Array:
    r"""The direct route: convolve every filter with the signal, square and sum.

    Circular: $(x \circledast w)[n] = \sum_t w[t]\, x[(n-t) \bmod N]$ computed with N-point
    FFTs (filters longer than N are folded mod N first, which is what circular convolution does).
    Linear: the full convolution of length N+T-1, with FFTs of length >= N+T-1.
    Cost: J FFTs of length ~N per filterbank per signal. Used as a reference and a baseline.

    Args:
      w: filterbanks, ``(..., J, T)``.
      x: one signal, ``(N,)``.
      boundary: ``"circular"`` or ``"linear"``.

    Returns:
      ``(...)``: $\sum_j \|x \ast w_j\|^2$.

    Raises:
      ValueError: an unknown ``boundary``.
      AssertionError: (chex, at trace time) ``w`` has fewer than 2 dimensions or ``x`` is not
        one signal ``(N,)``.
    """
    from .autocorr import fft_size

    chex.assert_shape(w, (..., None, None),
                      custom_message="energy_by_convolution: w must be (..., J, T)")
    chex.assert_rank(x, 1, custom_message="energy_by_convolution: x must be one signal (N,)")
    N = x.shape[-1]
    T = w.shape[-1]
    if boundary == "circular":
        L = N
        w = fold_taps(w, N)
    elif boundary == "linear":
        L = fft_size(N + T - 1)
    else:
        raise ValueError(f"unknown boundary {boundary!r}")
    y = jnp.fft.irfft(jnp.fft.rfft(w, n=L, axis=-1) * jnp.fft.rfft(x, n=L), n=L, axis=-1)
    if boundary == "linear":
        y = y[..., : N + T - 1]
    return jnp.sum(y * y, axis=(-2, -1))


def energy_moments(R_lags: jax.Array, J: int, T: int, *, scale: float = 1.0):
    r"""Exact mean and variance of $E(x)$ for i.i.d. Gaussian taps, $\sigma^2 = c/(JT)$.

    $$
    \mathbb E[E] = \sigma^2 J T R_x(0), \qquad
    \mathbb V[E] = 2 \sigma^4 J \sum_{\tau=0}^{T-1} c_\tau (T-\tau) R_x(\tau)^2 .
    $$

    Args:
      R_lags: lag profiles ``(..., T)`` of the signals (`rfbjax.kernels.autocorr.lag_profile`,
        which already applies the circular wrap or the linear zero padding).
      J: number of filters.
      T: number of taps.
      scale: the variance scale c.

    Returns:
      ``(mean, var)`` each of shape ``(...)``, for the *unnormalised* energy; divide by
      $R_x(0)$ and $R_x(0)^2$ for $E/\|x\|^2$. NumPy in, NumPy out (no
      compilation); JAX arrays otherwise (J, T static under jit).

    Raises:
      ValueError: ``R_lags`` does not have T lags.
    """
    if R_lags.shape[-1] != T:
        raise ValueError(f"R_lags has {R_lags.shape[-1]} lags, expected T={T}")
    xp = np if isinstance(R_lags, np.ndarray) else jnp
    sigma2 = scale / (J * T)
    dtype = R_lags.dtype
    mult = lag_weights(T, dtype) * (T - np.arange(T, dtype=dtype))
    mean = sigma2 * J * T * R_lags[..., 0]
    var = 2.0 * sigma2 ** 2 * J * xp.sum(mult * R_lags ** 2, axis=-1)
    return mean, var
