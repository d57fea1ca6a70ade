r"""Power response and frame bounds of a filterbank (stride 1).

The Littlewood–Paley sum (power response) is the Fourier transform of the filterbank
autocorrelation (docs/theory.md formula (2)):

$$
P(\omega) = \sum_j |\hat w_j(\omega)|^2 = \sum_{|\tau|<T} \rho(\tau)\, e^{-i\omega\tau}
= \rho(0) + 2 \sum_{\tau=1}^{T-1} \rho(\tau) \cos(\omega\tau).
$$

The optimal frame bounds $A\|x\|^2 \le \|\Phi x\|^2 \le B\|x\|^2$ are

* circular convolution on $\mathbb Z_N$: $A = \min_k P(2\pi k/N)$, $B = \max_k P(2\pi k/N)$;
* linear convolution on $\ell^2(\mathbb Z)$: min and max of $P$ over $\omega \in [0, \pi]$,

and the condition number is $\kappa = B/A$ ($+\infty$ when $A = 0$).
Real filters make $P$ even, so the bins $k = 0 \dots N/2$ hold every value.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ..base.lazy import chex
from .autocorr import fft_size, filterbank_autocorr, symmetric_extension
from .filters import fold_taps

__all__ = [
    "power_response",
    "power_response_from_filters",
    "circular_power_response",
    "frame_bounds",
    "condition_number",
    "circular_frame_bounds",
    "linear_frame_bounds",
    "rounding_floor",
]


def power_response(rho: jax.Array, N: int) -> jax.Array:
    r"""P on the DFT grid $\omega_k = 2\pi k/N$, $k = 0 \dots \lfloor N/2 \rfloor$, from $\rho$.

    $\rho$ is folded mod N when $2T-1 > N$ (`rfbjax.kernels.autocorr.symmetric_extension`),
    then one real FFT of length N.

    Args:
      rho: one-sided filterbank autocorrelations, ``(..., T)``.
      N: the grid (static).

    Returns:
      ``(..., N//2 + 1)``.

    Raises:
      AssertionError: (chex, at trace time) ``rho`` is a scalar.
    """
    chex.assert_shape(rho, (..., None), custom_message="power_response: rho must be (..., T)")
    c = symmetric_extension(rho, N)
    return jnp.fft.rfft(c, axis=-1).real


def power_response_from_filters(w: jax.Array, N: int) -> jax.Array:
    r"""P on the DFT grid as $\sum_j |\mathrm{DFT}_N(\tilde w_j)|^2$.

    $\tilde w_j$ is $w_j$ folded mod N (the filter that circular convolution on
    $\mathbb Z_N$ actually applies). J real FFTs of length N; cheaper than the
    $\rho$ route when $2T-1$ is close to or above N.

    Args:
      w: filterbanks, ``(..., J, T)``.
      N: the grid (static).

    Returns:
      ``(..., N//2 + 1)``.

    Raises:
      AssertionError: (chex, at trace time) ``w`` has fewer than 2 dimensions.
    """
    chex.assert_shape(w, (..., None, None),
                      custom_message="power_response_from_filters: w must be (..., J, T)")
    W = jnp.fft.rfft(fold_taps(w, N), n=N, axis=-1)
    return jnp.sum(W.real ** 2 + W.imag ** 2, axis=-2)


def circular_power_response(w: jax.Array, N: int) -> jax.Array:
    r"""P on the N-point DFT grid, by whichever route is cheaper for (T, N).

    The $\rho$ route costs J FFTs of length ``fft_size(2T-1)`` plus one of length N;
    the filter route J FFTs of length N. Both give the same numbers up to rounding (tested).

    Args:
      w: filterbanks, ``(..., J, T)``.
      N: the grid (static).

    Returns:
      ``(..., N//2 + 1)``.

    Raises:
      AssertionError: (chex, at trace time) ``w`` has fewer than 2 dimensions.
    """
    chex.assert_shape(w, (..., None, None),
                      custom_message="circular_power_response: w must be (..., J, T)")
    T = w.shape[-1]
    if fft_size(2 * T - 1) < N:
        return power_response(filterbank_autocorr(w), N)
    return power_response_from_filters(w, N)


def rounding_floor(B: jax.Array, T: int, dtype) -> jax.Array:
    r"""Values of P below this are indistinguishable from 0: $16\,\varepsilon \log_2(2T)\, B$.

    FFT rounding error grows like the log of the transform length; measured in float32 it stays
    under $3\varepsilon B$ for T up to 4096 (both routes), so the floor has a wide margin. A
    computed minimum under it is reported as $A = 0$ (hence $\kappa = \infty$):
    condition numbers above ~1e4–1e5 need ``float64`` to be resolved.

    Args:
      B: upper frame bounds (any shape).
      T: number of taps (the transform length grows with it).
      dtype: the floating type of the computation ($\varepsilon$ is its machine epsilon).

    Returns:
      The floor, shaped like ``B``.
    """
    eps = jnp.finfo(dtype).eps
    return 16.0 * eps * math.log2(2 * max(int(T), 1)) * B


def frame_bounds(P: jax.Array, T: int | None = None):
    r"""Frame bounds $(A, B)$ from power-response samples: min and max over the last axis.

    Negative rounding noise and values under `rfbjax.kernels.frames.rounding_floor` give $A = 0$.

    Args:
      P: power-response samples, ``(..., K)``.
      T: number of taps, for the rounding floor (default K).

    Returns:
      ``(A, B)``, shapes ``(...)``.

    Raises:
      AssertionError: (chex, at trace time) ``P`` is a scalar.
    """
    chex.assert_shape(P, (..., None), custom_message="frame_bounds: P must be (..., K)")
    A = jnp.min(P, axis=-1)
    B = jnp.max(P, axis=-1)
    floor = rounding_floor(B, T if T is not None else P.shape[-1], P.dtype)
    A = jnp.where(A <= floor, jnp.zeros_like(A), A)
    return A, B


def condition_number(A: jax.Array, B: jax.Array) -> jax.Array:
    r"""$\kappa = B/A$, and $+\infty$ where $A = 0$ (no division warning, no NaN).

    Args:
      A: lower frame bounds.
      B: upper frame bounds (broadcast against ``A``).

    Returns:
      $\kappa$, elementwise.
    """
    safe = jnp.where(A > 0, A, jnp.ones_like(A))
    return jnp.where(A > 0, B / safe, jnp.full_like(B, jnp.inf))


def circular_frame_bounds(w: jax.Array, N: int):
    r"""(A, B) of the circular filterbank on $\mathbb Z_N$, stride 1.

    Args:
      w: filterbanks, ``(..., J, T)``.
      N: the grid (static).

    Returns:
      ``(A, B)``, shapes ``(...)``.

    Raises:
      AssertionError: (chex, at trace time) ``w`` has fewer than 2 dimensions.
    """
    chex.assert_shape(w, (..., None, None),
                      custom_message="circular_frame_bounds: w must be (..., J, T)")
    return frame_bounds(circular_power_response(w, N), T=w.shape[-1])


def _cos_series(rho, omega, order):
    """d^order/dω^order of P(ω) = ρ0 + 2 Σ ρ(τ) cos(ωτ), at ω of shape (...)."""
    T = rho.shape[-1]
    tau = jnp.arange(T, dtype=rho.dtype)
    phase = omega[..., None] * tau
    base = [jnp.cos, lambda u: -jnp.sin(u), lambda u: -jnp.cos(u)][order](phase)
    weight = jnp.where(tau == 0, 1.0, 2.0).astype(rho.dtype) * tau ** order
    return jnp.sum(rho * weight * base, axis=-1)


def linear_frame_bounds(rho: jax.Array, *, oversample: int = 8, newton_steps: int = 3):
    r"""(A, B) of the filterbank on $\ell^2(\mathbb Z)$ (linear convolution, continuous $\omega$).

    P is sampled on a grid of $M \ge 8T$ points (``oversample`` = 8), where Bernstein's inequality
    $|P'| \le (T-1) \max P$ bounds the miss by $(T-1) B\, \pi / M$; then a few
    Newton steps on $P'$ from the grid's arg-min and arg-max move to the true extrema
    (a step is kept only if it improves the value and stays within one grid cell).

    Args:
      rho: one-sided filterbank autocorrelations, ``(..., T)``.
      oversample: the grid has at least ``oversample`` · T points (static).
      newton_steps: Newton steps from the grid extrema (static).

    Returns:
      ``(A, B)``, shapes ``(...)``.

    Raises:
      AssertionError: (chex, at trace time) ``rho`` is a scalar.
    """
    chex.assert_shape(rho, (..., None),
                      custom_message="linear_frame_bounds: rho must be (..., T)")
    T = rho.shape[-1]
    M = fft_size(max(oversample * T, 2 * T - 1, 16))
    P = power_response(rho, M)
    h = 2 * jnp.pi / M
    k_min = jnp.argmin(P, axis=-1)
    k_max = jnp.argmax(P, axis=-1)
    A = jnp.min(P, axis=-1)
    B = jnp.max(P, axis=-1)

    def refine(k, val, better):
        w0 = k.astype(rho.dtype) * h
        w = w0
        best = val
        for _ in range(newton_steps):
            d1 = _cos_series(rho, w, 1)
            d2 = _cos_series(rho, w, 2)
            step = jnp.where(d2 != 0, d1 / jnp.where(d2 != 0, d2, 1.0), 0.0)
            w_new = jnp.clip(w - step, jnp.maximum(w0 - h, 0.0), jnp.minimum(w0 + h, jnp.pi))
            v_new = _cos_series(rho, w_new, 0)
            ok = better(v_new, best)
            best = jnp.where(ok, v_new, best)
            w = jnp.where(ok, w_new, w)
        return best

    A = refine(k_min, A, lambda v, b: v < b)
    B = refine(k_max, B, lambda v, b: v > b)
    floor = rounding_floor(B, T, rho.dtype)
    A = jnp.where(A <= floor, jnp.zeros_like(A), A)
    return A, B
