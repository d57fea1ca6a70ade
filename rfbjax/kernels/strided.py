r"""Strided filterbanks: polyphase frame bounds, the strided energy response and its moments.

The analysis with stride d keeps every d-th output of every filter (circular convolution on
$\mathbb Z_N$, d divides N, $M = N/d$):

$$
(\Phi_d x)_j[m] = (x \circledast w_j)[m d], \qquad m = 0 \dots M-1 .
$$

**Frame bounds (docs/theory.md §4).** Keeping every d-th sample aliases the spectrum: the M-point DFT
of the kept samples is $\tfrac1d \sum_a \hat w_j[\xi + aM]\, \hat x[\xi + aM]$, so with the
vectors $v_\xi = (\hat x[\xi + aM])_{a<d}$ (which partition the N bins) Parseval gives

$$
\|\Phi_d x\|^2 = \frac1N \sum_{\xi=0}^{M-1} v_\xi^H\, \mathcal M(\xi)\, v_\xi,
\qquad \mathcal M(\xi) = \frac1d\, G(\xi)^H G(\xi), \quad G(\xi)[j, a] = \hat w_j[\xi + aM],
$$

and the optimal bounds are $A = \min_\xi \lambda_{\min}(\mathcal M(\xi))$,
$B = \max_\xi \lambda_{\max}(\mathcal M(\xi))$. Two savings, both exact:

* real filters give $\mathcal M(M-\xi) = \Pi\, \overline{\mathcal M(\xi)}\, \Pi^\top$ (Π a
  permutation of the aliases), the same eigenvalues: only $\xi = 0 \dots \lfloor M/2 \rfloor$
  are computed;
* $G^H G$ (d×d) and $G G^H$ (J×J) have the same non-zero eigenvalues: the smaller one
  is decomposed. When J < d the d×d matrix has rank ≤ J, so A = 0 (κ = ∞) exactly.

All eigenvalue problems are one batched ``eigvalsh`` over (filterbanks, frequencies); there is
no loop over frequencies. d = 1 reduces to the Littlewood–Paley sum $\mathcal M(\xi) = P(2\pi\xi/N)$.

A conv1d *layer* with C input channels, ``w`` of shape ``(J, C, T)``, maps $(x_1 \dots x_C)$
to $y_j = \sum_c w_{jc} \circledast x_c$ (kept every d-th sample). The same algebra holds with
the aliases of every channel stacked: $G(\xi)[j, (c, a)] = \hat w_{jc}[\xi + aM]$, a
$J \times Cd$ matrix, and $\mathcal M(\xi)$ is $Cd \times Cd$ (C×C per frequency
at stride 1). A = 0 whenever J < Cd.

**Energy.** $\|\Phi_d x\|^2 = \frac{1}{Nd} \sum_\xi \sum_j \bigl|\sum_a \hat w_j[\xi+aM]\, \hat x[\xi+aM]\bigr|^2$:
J FFTs of length N per filterbank, then a multiply-and-alias-sum per signal
(`rfbjax.kernels.strided.strided_energy`). In the time domain
$\|\Phi_d x\|^2 = \sum_j w_j^\top Q_d w_j$ with

$$
Q_d[t, t'] = \sum_m x[md - t]\, x[md - t'] = R_{c(t)}(t - t'), \qquad c(t) = (-t) \bmod d,
$$

where $R_c(\tau) = \sum_{n \equiv c\ (d)} x[n]\, x[n + \tau]$ are the *phase autocorrelations*
(indices mod N; $\sum_c R_c = R_x$; for d = 1, $Q_1$ is the Toeplitz matrix of docs/theory.md formula (3)).

**Moments.** For taps i.i.d. with mean 0, variance $\sigma^2$ and fourth moment
$\mu_4 = \beta\sigma^4$ ($\beta$ = 3 Gaussian, 9/5 uniform, 1 Rademacher),
$\operatorname{Var}(w^\top Q w) = 2\sigma^4 \operatorname{tr}(Q^2) + (\mu_4 - 3\sigma^4) \sum_t Q_{tt}^2$, so

$$
\mathbb E\|\Phi_d x\|^2 = J\sigma^2 \sum_{t<T} e_{c(t)}, \qquad
\mathbb V\|\Phi_d x\|^2 = J\sigma^4 \Bigl[2 \sum_{t,t'<T} R_{c(t)}(t-t')^2
+ (\beta - 3) \sum_{t<T} e_{c(t)}^2\Bigr],
$$

with $e_c = R_c(0)$ the energy of the c-th polyphase component of x. When d divides T,
$\sum_t e_{c(t)} = (T/d)\|x\|^2$ and $\sigma^2 = d/(JT)$ preserves energy in expectation
for every x; otherwise the mean depends on how x's energy splits over the d phases. For d = 1
and β = 3 this is docs/theory.md formula (3). **Linear** convolution keeps outputs $md < N+T-1$: it is the
circular case on x zero-padded to a multiple L of d with $L \ge N + T - 1$
(`rfbjax.kernels.strided.stride_support`).

Frame bounds and energies here are JAX (jit/vmap, any float dtype); the moments and
$Q_d$ are float64 NumPy (a handful of signals, exactness first).
"""

from __future__ import annotations

import math

import numpy as np
import jax
import jax.numpy as jnp

from ..base.lazy import chex
from ..errors import InputError
from .filters import fold_taps  # noqa: F401  (re-exported: part of this module's API)
from .frames import circular_frame_bounds, rounding_floor
from .initializers import canonical_tight  # noqa: F401  (re-exported: it used to live here)

__all__ = [
    "check_stride",
    "fold_taps",
    "polyphase_factors",
    "polyphase_eigenvalues",
    "polyphase_matrices",
    "half_spectrum_weights",
    "grid_size",
    "certified_bounds",
    "strided_frame_bounds",
    "layer_frame_bounds",
    "canonical_tight",
    "strided_energy",
    "stride_support",
    "phase_autocorr",
    "strided_gram",
    "strided_energy_moments",
]


def check_stride(N: int | None, stride: int, *, what: str = "N") -> None:
    """InputError unless ``stride >= 1`` and (for circular convolution) d divides N.

    Args:
      N: the grid, or None (linear convolution: nothing to divide).
      stride: d.
      what: the name of N in the message.

    Raises:
      InputError: ``stride`` is not an integer >= 1, or does not divide ``N``.
    """
    if int(stride) != stride or stride < 1:
        raise InputError(f"--stride: must be an integer >= 1, got {stride}")
    if N is not None and N % stride:
        raise InputError(f"--stride: {stride} does not divide {what}={N} (the strided analysis "
                         f"on Z_N needs d | N)")


def _alias_index(N: int, d: int, half: bool):
    """Bins ``xi + a*M`` for xi = 0..n_xi-1 (rows) and a = 0..d-1 (columns), as rfft indices
    plus a mask of the bins above N/2 (read as the conjugate of bin N - k)."""
    M = N // d
    n_xi = M // 2 + 1 if half else M
    k = np.arange(n_xi)[:, None] + M * np.arange(d)[None, :]
    upper = k > N // 2
    return np.where(upper, N - k, k), upper


def polyphase_factors(w: jax.Array, N: int, stride: int, *, half: bool = True) -> jax.Array:
    r"""The alias matrices $G(\xi)[j, (c, a)] = \hat w_{jc}[\xi + aM]$ (N-point DFTs).

    Args:
      w: ``(..., J, C, T)`` (a layer; use ``w[..., None, :]`` for a filterbank).
      N: the grid, a multiple of ``stride`` (static).
      stride: d (static).
      half: only $\xi = 0 \dots \lfloor M/2 \rfloor$ (enough for the eigenvalues of real filters).

    Returns:
      complex ``(..., n_xi, J, C*d)``.

    Raises:
      AssertionError: (chex, at trace time) ``w`` has fewer than 3 dimensions, or ``stride``
        does not divide ``N``.
    """
    chex.assert_shape(w, (..., None, None, None),
                      custom_message="polyphase_factors: w must be (..., J, C, T)")
    chex.assert_is_divisible(int(N), int(stride),
                             custom_message=f"polyphase_factors: stride {stride} must divide N={N}")
    d = int(stride)
    W = jnp.fft.rfft(fold_taps(w, N), n=N, axis=-1)               # (..., J, C, N//2+1)
    idx, upper = _alias_index(N, d, half)
    G = jnp.take(W, jnp.asarray(idx.reshape(-1)), axis=-1)        # (..., J, C, n_xi*d)
    G = G.reshape(G.shape[:-1] + idx.shape)                       # (..., J, C, n_xi, d)
    G = jnp.where(jnp.asarray(upper), jnp.conj(G), G)
    G = jnp.moveaxis(G, -2, -4)                                   # (..., n_xi, J, C, d)
    return G.reshape(G.shape[:-2] + (-1,))


def _gram(G: jax.Array, d: int) -> jax.Array:
    r"""The smaller of $G^H G/d$ (K×K) and $G G^H/d$ (J×J): same non-zero eigenvalues."""
    J, K = G.shape[-2], G.shape[-1]
    if J >= K:
        return jnp.einsum("...ja,...jb->...ab", jnp.conj(G), G) / d
    return jnp.einsum("...ja,...ka->...jk", G, jnp.conj(G)) / d


def polyphase_eigenvalues(w: jax.Array, N: int, stride: int, *, layer: bool = False) -> jax.Array:
    r"""Eigenvalues of $\mathcal M(\xi)$, $\xi = 0 \dots \lfloor M/2 \rfloor$, ascending.

    When Cd = 1 (one channel, stride 1) the 1×1 matrix is the power response itself and no
    eigensolver runs.

    Args:
      w: ``(..., J, T)`` filterbanks, or ``(..., J, C, T)`` layers with ``layer=True``.
      N: the grid, a multiple of ``stride`` (static).
      stride: d (static).
      layer: read ``w`` as layers ``(..., J, C, T)``.

    Returns:
      ``(..., n_xi, min(J, C*d))``: the non-zero part of the spectrum (when J < Cd the
      remaining Cd − J eigenvalues are exactly 0).

    Raises:
      AssertionError: (chex, at trace time) ``w`` has fewer than 2 dimensions (3 with
        ``layer=True``), or ``stride`` does not divide ``N``.
    """
    if layer:
        chex.assert_shape(w, (..., None, None, None),
                          custom_message="polyphase_eigenvalues: layer w must be (..., J, C, T)")
    else:
        chex.assert_shape(w, (..., None, None),
                          custom_message="polyphase_eigenvalues: w must be (..., J, T)")
    if not layer:
        w = w[..., None, :]
    G = polyphase_factors(w, N, stride)
    if G.shape[-1] == 1:
        return jnp.sum(G.real ** 2 + G.imag ** 2, axis=-2)
    return jnp.linalg.eigvalsh(_gram(G, int(stride)))


def polyphase_matrices(w: jax.Array, N: int, stride: int) -> jax.Array:
    r"""The Cd×Cd matrices $\mathcal M(\xi) = \frac1d G(\xi)^H G(\xi)$ of a layer, for
    $\xi = 0 \dots \lfloor M/2 \rfloor$ (the others are permuted conjugates for real taps).

    Row/column ``c*d + a`` is input channel c at the alias frequency $(\xi + aM)/N$: the
    diagonal holds $G_0 = P/d$ per channel, entries with a ≠ b are the aliasing terms
    $G_k$, entries with c ≠ c' and a = b couple channels at one frequency.

    Args:
      w: ``(..., J, C, T)``.
      N: the grid, a multiple of ``stride`` (static).
      stride: d (static).

    Returns:
      complex ``(..., n_xi, C*d, C*d)``.

    Raises:
      AssertionError: (chex, at trace time) ``w`` has fewer than 3 dimensions, or ``stride``
        does not divide ``N``.
    """
    chex.assert_shape(w, (..., None, None, None),
                      custom_message="polyphase_matrices: w must be (..., J, C, T)")
    G = polyphase_factors(w, N, stride)
    return jnp.einsum("...ja,...jb->...ab", jnp.conj(G), G) / int(stride)


def half_spectrum_weights(N: int, stride: int) -> np.ndarray:
    r"""Weights turning a sum over $\xi = 0 \dots \lfloor M/2 \rfloor$ into the mean over all
    M base frequencies ($\xi$ and $M - \xi$ count twice, 0 and M/2 once). Sum to 1.

    Args:
      N: the grid.
      stride: d; $M = N/d$.

    Returns:
      ``(M//2 + 1,)`` float64.
    """
    M = N // int(stride)
    wts = np.full(M // 2 + 1, 2.0)
    wts[0] = 1.0
    if M % 2 == 0:
        wts[-1] = 1.0
    return wts / M


def grid_size(T: int, stride: int, minimum: int) -> int:
    """The smallest fast-FFT multiple of d that is at least ``minimum`` (and at least d).

    Args:
      T: number of taps (the rule does not depend on it).
      stride: d.
      minimum: the least grid size.

    Returns:
      ``d * fft_size(ceil(minimum / d))`` (`rfbjax.kernels.autocorr.fft_size`).
    """
    from .autocorr import fft_size

    d = int(stride)
    return d * fft_size(max(1, math.ceil(max(int(minimum), 1) / d)))


def certified_bounds(A: jax.Array, B: jax.Array, T: int, N: int, dtype=None):
    r"""Frame bounds on $\ell^2(\mathbb Z)$ (linear convolution) from those on the N-point grid.

    Between grid points the extreme eigenvalues of $\mathcal M(\xi)$ can only move so
    far, because every entry of $\mathcal M(\xi) - c I$ is a trigonometric polynomial of
    degree T − 1 in $\xi$ (cycles per sample, period 1). With the grid spacing
    $h = 1/N$, $c = (A_N + B_N)/2$, $g = (B_N - A_N)/2$ and
    $\beta = \pi^2 (T-1)^2 / (2N^2)$ (< 1 needs $N > \pi (T-1)/\sqrt 2$):

    * on a cell, $\mathcal M(\xi) = L(\xi) + E(\xi)$, L the linear interpolation of the
      two end matrices, whose spectrum lies in $[A_N, B_N]$ ($\lambda_{\min}$ is concave and
      $\lambda_{\max}$ convex in the matrix), and $\|E\|_2 \le \frac{h^2}{8} \sup\|\mathcal M''\|_2$;
    * Bernstein's inequality, applied to every $y^H(\mathcal M - cI)x$, gives
      $\sup\|\mathcal M''\|_2 \le (2\pi(T-1))^2 s$ with
      $s = \sup_\xi \|\mathcal M(\xi) - cI\|_2 \le g + \beta s$;

    so $A \ge A_N - \delta$, $B \le B_N + \delta$ with $\delta = \beta g / (1 - \beta)$.
    At stride 1 this is the bound on P between grid points through $|P''|$. When ``dtype``
    is given, `rfbjax.kernels.frames.rounding_floor` of it is added to δ (eigenvalue rounding).
    A lower bound ≤ 0 is returned as 0 (nothing certified).

    Args:
      A: lower bounds on the grid (any shape).
      B: upper bounds on the grid (shaped like ``A``).
      T: number of taps.
      N: the grid (static).
      dtype: the floating type the bounds were computed in (adds its rounding floor), or None.

    Returns:
      ``(A_lower, B_upper)``: guaranteed $A_{\ell^2} \ge A_{\mathrm{lower}}$,
      $B_{\ell^2} \le B_{\mathrm{upper}}$.

    Raises:
      InputError: N is too coarse ($\beta \ge 1$) to certify T taps.
    """
    beta = math.pi ** 2 * (max(int(T), 1) - 1) ** 2 / (2.0 * int(N) ** 2)
    if beta >= 1.0:
        raise InputError(f"N={N} is too coarse to certify {T} taps between grid points "
                         f"(need N > {math.pi * (T - 1) / math.sqrt(2):.0f})")
    delta = beta / (1.0 - beta) * (B - A) / 2
    if dtype is not None:
        delta = delta + rounding_floor(B, T, dtype)
    lo = A - delta
    return jnp.where(lo > 0, lo, jnp.zeros_like(lo)), B + delta


def _bounds_from_eigenvalues(lam, n_inputs: int, J: int, L: int, dtype):
    B = jnp.max(lam[..., -1], axis=-1)
    if J < n_inputs:
        return jnp.zeros_like(B), B
    A = jnp.min(lam[..., 0], axis=-1)
    floor = rounding_floor(B, L, dtype)
    return jnp.where(A <= floor, jnp.zeros_like(A), A), B


def strided_frame_bounds(w: jax.Array, N: int, stride: int, *, method: str = "auto"):
    r"""Optimal frame bounds (A, B) of the stride-d filterbank on $\mathbb Z_N$.

    ``method="auto"`` uses the Littlewood–Paley route of
    `rfbjax.kernels.frames.circular_frame_bounds` at d = 1 (bit-identical to it) and the
    polyphase eigenvalues otherwise; ``"polyphase"`` forces the eigenvalue route (also at
    d = 1). A computed $\lambda_{\min}$ under `rfbjax.kernels.frames.rounding_floor` is
    reported as A = 0; J < d gives A = 0 exactly.

    Args:
      w: filterbanks, ``(..., J, T)``.
      N: signal length, a multiple of ``stride`` (static).
      stride: d (static).
      method: ``"auto"`` or ``"polyphase"``.

    Returns:
      ``(A, B)``, shapes ``(...)``.

    Raises:
      ValueError: ``stride`` does not divide ``N``, or an unknown ``method``.
      AssertionError: (chex, at trace time) ``w`` has fewer than 2 dimensions.
    """
    chex.assert_shape(w, (..., None, None),
                      custom_message="strided_frame_bounds: w must be (..., J, T)")
    d = int(stride)
    if N % d:
        raise ValueError(f"stride {d} does not divide N={N}")
    if method == "auto" and d == 1:
        return circular_frame_bounds(w, N)
    if method not in ("auto", "polyphase"):
        raise ValueError(f"unknown method {method!r}")
    lam = polyphase_eigenvalues(w, N, d)
    return _bounds_from_eigenvalues(lam, d, w.shape[-2], w.shape[-1], w.dtype)


def layer_frame_bounds(w: jax.Array, N: int, stride: int = 1):
    r"""(A, B) of a conv1d layer ``(..., J, C, T)`` with stride d.

    The layer is the map $(x_c)_{c<C} \mapsto (\sum_c w_{jc} \circledast x_c)[md]$ on
    $\mathbb Z_N$; $\mathcal M(\xi)$ is Cd×Cd.

    Args:
      w: layers, ``(..., J, C, T)``.
      N: signal length, a multiple of ``stride`` (static).
      stride: d (static).

    Returns:
      ``(A, B)``, shapes ``(...)``.

    Raises:
      ValueError: ``stride`` does not divide ``N``.
      AssertionError: (chex, at trace time) ``w`` has fewer than 3 dimensions.
    """
    chex.assert_shape(w, (..., None, None, None),
                      custom_message="layer_frame_bounds: w must be (..., J, C, T)")
    d = int(stride)
    if N % d:
        raise ValueError(f"stride {d} does not divide N={N}")
    lam = polyphase_eigenvalues(w, N, d, layer=True)
    J, C, T = w.shape[-3:]
    return _bounds_from_eigenvalues(lam, C * d, J, T, w.dtype)


def strided_energy(w: jax.Array, X: jax.Array, stride: int) -> jax.Array:
    r"""Energies of M signals through a stride-d filterbank, by the alias sum.

    $$
    \|\Phi_d x_m\|^2 = \frac{1}{Nd}\sum_{\xi,j} \Bigl|\sum_a \hat w_j[\xi+aM]\,\hat x_m[\xi+aM]\Bigr|^2 .
    $$

    Args:
      w: filters ``(..., J, L)`` (any L; folded mod N).
      X: N-point DFTs of M signals on $\mathbb Z_N$, complex ``(M, N)``.
      stride: d, dividing N (static).

    Returns:
      ``(..., M)``.

    Raises:
      AssertionError: (chex, at trace time) ``w`` has fewer than 2 dimensions, ``X`` is not
        ``(M, N)``, or ``stride`` does not divide N.
    """
    chex.assert_shape(w, (..., None, None), custom_message="strided_energy: w must be (..., J, L)")
    chex.assert_rank(X, 2, custom_message="strided_energy: X must be the DFTs (M, N) of M signals")
    chex.assert_is_divisible(X.shape[-1], int(stride),
                             custom_message=f"strided_energy: stride {stride} must divide "
                                            f"N={X.shape[-1]}")
    N = X.shape[-1]
    d = int(stride)
    W = jnp.fft.fft(fold_taps(w, N), n=N, axis=-1)                  # (..., J, N)
    Y = W[..., None, :, :] * X[:, None, :]                          # (..., M, J, N)
    Z = Y.reshape(Y.shape[:-1] + (d, N // d)).sum(axis=-2)          # alias sum
    return jnp.sum(Z.real ** 2 + Z.imag ** 2, axis=(-2, -1)) / (N * d)


# ----------------------------------------------------------------------------- moments (NumPy)
def stride_support(x, T: int, stride: int, boundary: str = "circular") -> np.ndarray:
    """The signal on the group the strided analysis lives on (float64).

    Circular: x itself (its length must be a multiple of d). Linear: x zero-padded to the
    smallest multiple L of d with L ≥ N + T - 1, where circular convolution equals the full
    linear convolution and the kept outputs are those at md < N + T - 1.

    Args:
      x: the signal, N samples (flattened).
      T: number of taps.
      stride: d.
      boundary: ``"circular"`` or ``"linear"``.

    Returns:
      ``(N,)`` (circular) or ``(L,)`` (linear), float64 NumPy.

    Raises:
      ValueError: ``stride`` does not divide N (circular), or an unknown ``boundary``.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    N = x.shape[0]
    d = int(stride)
    if boundary == "circular":
        if N % d:
            raise ValueError(f"stride {d} does not divide N={N}")
        return x
    if boundary != "linear":
        raise ValueError(f"unknown boundary {boundary!r}")
    L = d * math.ceil((N + T - 1) / d)
    return np.concatenate([x, np.zeros(L - N)])


def phase_autocorr(x, stride: int) -> np.ndarray:
    r"""Phase autocorrelations $R_c(\tau) = \sum_{n \equiv c\ (d)} x[n]\, x[(n+\tau) \bmod N]$.

    Computed in float64 by d cross-correlations through FFTs. $\sum_c R_c = R_x$ and
    $R_c(0)$ is the energy of the c-th polyphase component.

    Args:
      x: the signal on $\mathbb Z_N$, N samples (flattened).
      stride: d.

    Returns:
      ``(d, N)``: $R_c(\tau)$ for lags $\tau = 0 \dots N-1$.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    N = x.shape[0]
    d = int(stride)
    mask = (np.arange(N)[None, :] % d) == np.arange(d)[:, None]
    Xc = np.fft.rfft(np.where(mask, x, 0.0), axis=-1)
    X = np.fft.rfft(x)
    return np.fft.irfft(np.conj(Xc) * X, n=N, axis=-1)


def strided_gram(x, T: int, stride: int) -> np.ndarray:
    r"""The T×T matrix $Q_d[t,t'] = R_{(-t) \bmod d}((t - t') \bmod N)$ with
    $\|\Phi_d x\|^2 = \sum_j w_j^\top Q_d w_j$.

    Args:
      x: the signal on $\mathbb Z_N$ (see `rfbjax.kernels.strided.stride_support`).
      T: number of taps.
      stride: d.

    Returns:
      ``(T, T)`` float64 NumPy.
    """
    R = phase_autocorr(x, stride)
    N = R.shape[-1]
    t = np.arange(T)
    return R[((-t) % stride)[:, None], (t[:, None] - t[None, :]) % N]


def strided_energy_moments(x, J: int, T: int, stride: int, *, tap_variance: float,
                           kurtosis: float = 3.0):
    r"""Exact mean and variance of $\|\Phi_d x\|^2$ for i.i.d. zero-mean taps.

    $$
    \mathbb E = J\sigma^2 \sum_{t<T} e_{c(t)}, \qquad
    \mathbb V = J\sigma^4 \Bigl[2 \sum_{t,t'<T} R_{c(t)}(t-t')^2
    + (\beta - 3)\sum_{t<T} e_{c(t)}^2\Bigr]
    $$

    with $c(t) = (-t) \bmod d$, $e_c = R_c(0)$, $\beta = E[w^4]/\sigma^4$ (``kurtosis``).
    The double sum is $\operatorname{tr}(Q_d^2)$, computed in O(dT) with cumulative sums over
    the lags (no T×T matrix). d = 1, β = 3 is docs/theory.md formula (3).

    Args:
      x: the signal on $\mathbb Z_N$ (apply `rfbjax.kernels.strided.stride_support` first for
        linear convolution); d must divide N.
      J: number of filters.
      T: number of taps.
      stride: d.
      tap_variance: $\sigma^2$.
      kurtosis: β (3 Gaussian, 9/5 uniform, 1 Rademacher).

    Returns:
      ``(mean, var)`` as Python floats, unnormalised (divide by $\|x\|^2$, $\|x\|^4$).
    """
    R = phase_autocorr(x, stride)
    N = R.shape[-1]
    d = int(stride)
    taus = np.arange(-(T - 1), T) % N                        # index i <-> lag i - (T-1)
    sq = R[:, taus] ** 2                                      # (d, 2T-1)
    cs = np.concatenate([np.zeros((d, 1)), np.cumsum(sq, axis=1)], axis=1)
    t = np.arange(T)
    c = (-t) % d
    # for row t the lags t - t' run over t-T+1 … t, i.e. indices t … t+T-1
    tr_q2 = float(np.sum(cs[c, t + T] - cs[c, t]))
    diag = R[c, 0]
    s2 = float(tap_variance)
    mean = J * s2 * float(np.sum(diag))
    var = J * s2 ** 2 * (2.0 * tr_q2 + (float(kurtosis) - 3.0) * float(np.sum(diag ** 2)))
    return mean, var
