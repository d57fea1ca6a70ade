r"""Conv1d layers as networks compute them: groups, dilation, transposed convolutions, Riesz
bounds, and the float64 host spectra the audits use.

All functions here take and return NumPy arrays (float64 kept: the audits and the float64 path of
`rfbjax.kernels.cascade.cascade_bounds` need float64 arithmetic whatever JAX's 64-bit mode says).
A layer ``w`` of shape ``(J, C_g, T)`` with ``groups`` $g$ maps $C = g C_g$ channels to
$J$ outputs; on $\mathbb Z_N$ with stride d ($M = N/d$) its polyphase matrix at base frequency
$\xi$ is $G(\xi)[j, (c, a)] = \hat w_{jc}[\xi + aM]$ (docs/theory.md §4).

* **Groups.** Output block k (filters $kJ/g \dots (k+1)J/g - 1$) sees only input block k, so
  $G(\xi)$ is block diagonal with g blocks of size $J/g \times C_g d$: the eigenvalues of the
  frame operator are those of the blocks together, $A = \min_k A_k$, $B = \max_k B_k$, and the
  layer is rank deficient as soon as $J/g < C_g d$ (`group_blocks`, `block_diagonal`).
* **Dilation** δ: the kernel with δ − 1 zeros between taps, $(T - 1)\delta + 1$ taps
  (`dilate`).
* **Transposed** layers (ConvTranspose1d, weight ``(C_in, C_out/g, T)``, stride d) are the adjoint
  of the strided conv whose $J = C_{in}$ filters act on $C_{out}$ channels, i.e. the weight read
  as it is stored, ``(J, C_g, T)`` with $C_g = C_{out}/g$. Adjoint and conv share their singular
  values; as a map from $J$ channels at rate $1/d$ to $C_{out}$ channels its stability is given by
  the Riesz bounds below.
* **Riesz bounds.** $\Phi\Phi^*$ has, per base frequency, the $J \times J$ blocks
  $\frac1d G(\xi) G(\xi)^H$; their smallest eigenvalue over ξ is the lower Riesz bound
  $A_R$ of the filters (positive exactly when $J \le C d$ and $G(\xi)$ has full row rank at every
  ξ), the largest is the same B as the frame's. $\kappa_R = B / A_R$ is the stability of a
  decoder $\Phi^*$ and of the part of the input a contracting layer keeps.

`spectral_curves` computes, a block of frequencies at a time, $\lambda_{\min}$ of the frame
operator, $\lambda_{\min}$ of $\frac1d GG^H$ and $\lambda_{\max}$ from one eigenvalue problem
of size $\min(J, Cd)$ per frequency.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import InputError

__all__ = ["dilate", "group_blocks", "block_diagonal", "check_structure", "spectral_curves",
           "spectral_extremes", "structured_bounds", "alias_matrices", "gram",
           "single_threaded_blas", "BLOCK_BYTES"]

#: working memory of one spectral block (bytes)
BLOCK_BYTES = 192 * 1024 ** 2


# ----------------------------------------------------------------------------- structure
def check_structure(shape, *, groups: int = 1, dilation: int = 1, transposed: bool = False,
                    name: str = "") -> None:
    """InputError unless ``groups`` and ``dilation`` are integers >= 1 and ``groups`` divides the
    layer's output filters (the stored first axis: J for a conv, $C_{in}$ for a transposed one).

    Args:
      shape: the stored weight shape ``(J, C_g, T)``.
      groups: g.
      dilation: δ.
      transposed: a ConvTranspose1d weight ``(C_in, C_out/g, T)``.
      name: the layer's name for the message.
    """
    what = f" {name}" if name else ""
    for opt, v in (("groups", groups), ("dilation", dilation)):
        if int(v) != v or v < 1:
            raise InputError(f"--{opt}:{what} must be an integer >= 1, got {v}")
    if shape[0] % int(groups):
        axis = "input channels C_in" if transposed else "output channels J"
        raise InputError(f"--groups:{what} {groups} does not divide the layer's {shape[0]} {axis} "
                         f"(weight {tuple(shape)})")


def _is_jax(w) -> bool:
    return not isinstance(w, np.ndarray) and type(w).__module__.startswith("jax")


def dilate(w, dilation: int):
    """``(..., T) -> (..., (T - 1)δ + 1)``: δ − 1 zeros between consecutive taps (NumPy in,
    NumPy out; JAX arrays and tracers stay JAX)."""
    d = int(dilation)
    if d == 1:
        return w if _is_jax(w) else np.asarray(w)
    T = w.shape[-1]
    shape = w.shape[:-1] + ((T - 1) * d + 1,)
    if _is_jax(w):
        import jax.numpy as jnp

        return jnp.zeros(shape, w.dtype).at[..., ::d].set(w)
    w = np.asarray(w)
    out = np.zeros(shape, dtype=w.dtype)
    out[..., ::d] = w
    return out


def group_blocks(w, groups: int) -> np.ndarray:
    """``(J, C_g, T) -> (g, J/g, C_g, T)``: the diagonal blocks of a grouped layer."""
    w = np.asarray(w)
    J, Cg, T = w.shape
    g = int(groups)
    return w.reshape(g, J // g, Cg, T)


def block_diagonal(w, groups: int):
    """``(J, C_g, T) -> (J, g C_g, T)``: the grouped layer as a dense one (zeros off the blocks;
    NumPy in, NumPy out; JAX arrays and tracers stay JAX)."""
    g = int(groups)
    J, Cg, T = w.shape
    if g == 1:
        return w if _is_jax(w) else np.asarray(w)
    if _is_jax(w):
        import jax.numpy as jnp

        blocks = w.reshape(g, J // g, Cg, T)
        out = jnp.zeros((g, J // g, g, Cg, T), w.dtype)
        for k in range(g):
            out = out.at[k, :, k].set(blocks[k])
        return out.reshape(J, g * Cg, T)
    blocks = group_blocks(w, groups)
    out = np.zeros((g, J // g, g, Cg, T), dtype=blocks.dtype)
    for k in range(g):
        out[k, :, k] = blocks[k]
    return out.reshape(J, g * Cg, T)


# ----------------------------------------------------------------------------- host spectra
def _dft_at(w: np.ndarray, N: int, k: np.ndarray, W: np.ndarray | None = None) -> np.ndarray:
    r"""$\hat w[k] = \sum_t w[t] e^{-2\pi i k t/N}$ at integer bins ``k`` (any shape):
    ``(..., T) -> (..., *k.shape)`` complex128, from the rfft ``W`` when given (bins above N/2
    read as conjugates), else by one real matrix product (T ≤ N taps, already folded)."""
    k = np.asarray(k) % N
    if W is not None:
        upper = k > N // 2
        S = W[..., np.where(upper, N - k, k)]
        return np.where(upper, np.conj(S), S)
    T = w.shape[-1]
    ang = (2.0 * np.pi / N) * ((np.arange(T)[:, None] * k.reshape(1, -1)) % N)
    flat = w.reshape(-1, T)
    S = (flat @ np.cos(ang)) - 1j * (flat @ np.sin(ang))
    return S.reshape(w.shape[:-1] + k.shape)


def alias_matrices(w, N, d, xs, W=None):
    """G(ξ) for the base frequencies ``xs``: ``(B, J, C, T) -> (B, len(xs), J, C*d)``."""
    M = N // d
    k = np.asarray(xs)[:, None] + M * np.arange(d)[None, :]
    S = _dft_at(w, N, k, W)                                  # (B, J, C, nx, d)
    Bn, J, C = S.shape[:3]
    return S.transpose(0, 3, 1, 2, 4).reshape(Bn, len(xs), J, C * d)


def gram(G, d):
    """The smaller of G^H G/d and G G^H/d (same non-zero eigenvalues)."""
    Gh = np.conj(np.swapaxes(G, -1, -2))
    return (Gh @ G if G.shape[-2] >= G.shape[-1] else G @ Gh) / d


_BLAS = None


def single_threaded_blas():
    """A context in which BLAS/LAPACK use one thread (``threadpoolctl``; a no-op without it).

    The eigenvalue problems here are small (≤ a few hundred) and many: a multi-threaded LAPACK
    spends most of its time synchronising, several times the CPU of one thread on a busy machine;
    the frequencies are parallel instead."""
    global _BLAS
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS = ThreadpoolController()   # found once: looking up the libraries takes ms
        except ImportError:   # pragma: no cover - threadpoolctl is a dependency
            _BLAS = False
    if _BLAS is False:   # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return _BLAS.limit(limits=1, user_api="blas")


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:   # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def spectral_curves(w: np.ndarray, N: int, stride: int = 1, *, max_bytes: int = BLOCK_BYTES,
                    workers: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""$\lambda_{\min}$ of the frame operator's blocks $\frac1d G^H G$, $\lambda_{\min}$ of
    the Riesz blocks $\frac1d G G^H$ and their common $\lambda_{\max}$, for
    $\xi = 0 \dots \lfloor M/2 \rfloor$, float64, a block of frequencies at a time.

    The blocks are independent: ``workers`` threads (default: the CPUs this process may use)
    take them in turn, each with single-threaded BLAS/LAPACK and ``max_bytes / workers`` of
    working memory. Every frequency's matrix is computed and diagonalised on its own, so the
    values do not depend on ``workers`` or on the block size (only whether the spectra come from
    one rfft — when they fit in a third of ``max_bytes`` — or from direct sums moves them, by
    float64 round-off).

    Args:
      w: ``(B, J, C, T)`` layers (taps folded mod N, T ≤ N).
      N: a multiple of ``stride``.
      max_bytes: working memory of all blocks in flight (the spectra, G and the Gram matrices).
      workers: threads (``None``: the CPUs available).

    Returns:
      ``(frame_min, riesz_min, lam_max)``, each ``(B, M//2 + 1)``; ``frame_min`` is exactly 0
        when J < Cd, ``riesz_min`` exactly 0 when J > Cd.
    """
    Bn, J, C, T = w.shape
    d = int(stride)
    M = N // d
    n_xi = M // 2 + 1
    K = C * d
    r = min(J, K)
    W = None
    if Bn * J * C * (N // 2 + 1) * 16 <= max_bytes // 3:
        W = np.fft.rfft(w, n=N, axis=-1)
    per_xi = Bn * 16 * (3 * J * K + 3 * r * r) + 16 * T * d
    workers = max(1, int(_workers() if workers is None else workers))
    step = int(min(n_xi, max(1, (max_bytes // (2 * workers)) // per_xi)))
    workers = min(workers, -(-n_xi // step))
    frame_min = np.zeros((Bn, n_xi))
    riesz_min = np.zeros((Bn, n_xi))
    lam_max = np.zeros((Bn, n_xi))

    def block(x0):
        xs = np.arange(x0, min(n_xi, x0 + step))
        lam = np.linalg.eigvalsh(gram(alias_matrices(w, N, d, xs, W), d))
        lam_max[:, xs] = lam[..., -1]
        if J >= K:
            frame_min[:, xs] = lam[..., 0]
        if J <= K:
            riesz_min[:, xs] = lam[..., 0]

    with single_threaded_blas():
        if workers == 1:
            for x0 in range(0, n_xi, step):
                block(x0)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(block, range(0, n_xi, step)))
    return frame_min, riesz_min, lam_max


def spectral_extremes(w: np.ndarray, N: int, stride: int = 1, *, max_bytes: int = BLOCK_BYTES,
                      workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""$\lambda_{\min}$ and $\lambda_{\max}$ of the frame operator's blocks
    $\mathcal M(\xi) = \frac1d G^H G$ (`spectral_curves` without the Riesz curve)."""
    lo, _, hi = spectral_curves(w, N, stride, max_bytes=max_bytes, workers=workers)
    return lo, hi


def structured_bounds(w, N: int, stride: int = 1, *, groups: int = 1, dilation: int = 1,
                      max_bytes: int = BLOCK_BYTES) -> dict:
    r"""Frame and Riesz bounds of one layer as the network computes it, float64 on the host.

    Args:
      w: the stored weight ``(J, C_g, T)`` (for a transposed layer: ``(C_in, C_out/g, T)``, the
        strided conv it transposes).
      N: the grid, a multiple of ``stride`` and at least the dilated kernel's length.
      stride: d.
      groups: g (block-diagonal analysis).
      dilation: δ (the dilated kernel).

    Returns:
      ``{"A", "B", "riesz_A"}``: $A = \min_k A_k$, $B = \max_k B_k$,
        $A_R = \min_k A_{R,k}$ over the g groups (0 where the counting forbids a bound; values
        under `rfbjax.kernels.frames.rounding_floor` count as 0).
    """
    from .filters import fold_taps
    from .frames import rounding_floor

    w = np.asarray(w, dtype=np.float64)
    check_structure(w.shape, groups=groups, dilation=dilation)
    wd = dilate(w, dilation)
    T = wd.shape[-1]
    blocks = fold_taps(group_blocks(wd, groups), int(N))
    lo, rlo, hi = spectral_curves(blocks, int(N), int(stride), max_bytes=max_bytes)
    B = float(hi.max())
    floor = float(rounding_floor(B, T, np.float64))
    A, AR = float(lo.min()), float(rlo.min())
    return {"A": A if A > floor else 0.0, "B": B, "riesz_A": AR if AR > floor else 0.0}
