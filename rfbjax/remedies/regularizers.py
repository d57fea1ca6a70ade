r"""Differentiable stability penalties for conv1d layers, and an optax transformation adding them.

A layer's kernel ``w`` has shape ``(J, T)`` (one input channel), ``(J, C, T)`` (one layer, PyTorch
layout: out, in, taps) or ``(..., J, C, T)`` (a batch of layers: the penalties return shape
``(...)``). With stride d dividing N, the layer acts on the N-point grid through the Cd×Cd
polyphase matrices $\mathcal M(\xi)$, $\xi = 0 \dots N/d - 1$
(`rfbjax.kernels.strided.polyphase_matrices`): the diagonal of $\mathcal M(\xi)$ is
$G_0 = P/d$ at the d alias frequencies $(\xi + aN/d)/N$ of every channel, the entries
coupling different alias frequencies are the aliasing terms $G_k$, k ≠ 0, and those coupling
two channels at one frequency are cross-channel terms. The frame bounds are
$A = \min_\xi \lambda_{\min}$, $B = \max_\xi \lambda_{\max}$, and c denotes the mean
eigenvalue $c = \operatorname{mean}_\xi \operatorname{tr}\mathcal M(\xi) / (Cd) = \sum_{j,c}\|w_{jc}\|^2/(Cd)$
(the gain on white noise).

Penalties (all scale-invariant: multiplying w by a constant changes none of them):

* `kappa_penalty`: $B/A - 1 = \kappa - 1$ on the grid, exactly. Not smooth (a max and
  a min); with ``temperature=t`` the extremes become log-sum-exps over every (ξ, eigenvalue)
  pair in units of c, $B_t = c\,t \log\sum e^{\lambda/(ct)} \ge B$ and
  $A_t = -c\,t \log\sum e^{-\lambda/(ct)} \le A$, so the smooth value $B_t/A_t - 1$ is an
  upper bound of κ − 1 that is within $O(t \log(\#\text{terms}))$ of it. Infinite when the
  layer is not a frame (J < Cd).
* `tightness_penalty`: $\operatorname{mean}_\xi \|\mathcal M(\xi)/c - I\|_F^2$, the
  scale-free frame-operator penalty $\|S/c - I\|_F^2$ per base frequency. Smooth (a quartic
  polynomial in the taps over a quadratic), zero exactly when $\mathcal M(\xi) = cI$ for
  every ξ, i.e. when the layer is tight. At stride 1 with one channel it is
  $\sum_{\tau \ne 0} \rho(\tau)^2 / \rho(0)^2$ (ρ the filterbank autocorrelation).
* `smooth_sailing_penalty`: $(B - c)/c$, the scale-free form of the smooth-sailing regulariser
  $\tfrac12\|\Phi\|_2^2 - \tfrac1{2\nu}\|\Phi\|_F^2 = \tfrac12 (B - c)$ of the analysis
  operator Φ (ν its smaller dimension; $\|\Phi\|_2^2 = B$, $\|\Phi\|_F^2/\nu = c$). Zero exactly
  for tight layers, smooth wherever the top eigenvalue is simple, on the κ grid.
* `aliasing_penalty`: $\operatorname{mean}_\xi \sum_{a \ne b} |\mathcal M_{(c,a),(c',b)}(\xi)|^2 / (Cd\,c^2)$,
  the energy of the aliasing terms per row relative to $c^2$. Zero at stride 1 and for
  every aliasing-free layer; a Gaussian layer with many filters has about (d − 1)/J.

**The grid.** ``N=None`` picks one from T: for the tightness and aliasing penalties the
smallest fast-FFT multiple of d with N ≥ 2T − 1, where the grid mean *equals* the mean over
continuous frequencies (the squared entries are trigonometric polynomials of degree 2T − 2 whose
period-1/d part is sampled without aliasing), so ``N=None`` and ``N=math.inf`` (the layer on
$\ell^2(\mathbb Z)$, linear convolution) give the same exact number. For κ, ``N=None`` is a
grid of at least 4T points (κ on it is within a few tenths of (κ − 1) of the
$\ell^2(\mathbb Z)$ value, see `rfbjax.kernels.strided.certified_bounds`); ``N=math.inf`` is refused
there (use `rfbjax.remedies.tightening.tighten` or the certified bounds). A finite N is the circular
layer on $\mathbb Z_N$ (taps folded mod N). N, stride and the shape are static under jit.

All functions are pure JAX: jit, vmap and grad compose, in float32 and float64.

**Training.** `penalize` is an optax ``GradientTransformation`` that adds
$\beta\, \nabla \text{penalty}$ of the selected kernels to their gradients, before the
optimiser, like ``optax.add_decayed_weights``:

```python
tx = optax.chain(penalize(kappa_penalty, 1e-2, stride=4, temperature=0.01,
                          select=lambda path, leaf: "frontend" in path),
                 optax.adam(1e-3))
```

Which one to use: the tightness penalty is smooth and cheap and pulls the whole response
towards flat (good as a default, and what to decay to reach κ ≈ 1); the κ penalty acts only on
the worst frequencies (use the smooth variant for gradient methods; the exact one has
sub-gradients on two frequencies only); the aliasing penalty leaves the passband alone and only
discourages stride-induced aliasing.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import jax
import jax.numpy as jnp

from ..errors import InputError
from ..kernels.frames import condition_number
from ..kernels.strided import (_bounds_from_eigenvalues, check_stride, grid_size, half_spectrum_weights,
                      polyphase_eigenvalues, polyphase_matrices)

__all__ = ["kappa_penalty", "tightness_penalty", "aliasing_penalty", "smooth_sailing_penalty",
           "penalize", "as_layer",
           "exact_grid", "kappa_grid"]


def as_layer(w) -> jax.Array:
    """``(J, T) -> (J, 1, T)``; arrays of 3 or more dimensions are ``(..., J, C, T)`` already."""
    w = jnp.asarray(w)
    if w.ndim < 2:
        raise InputError(f"weights: need a kernel of shape (J, T) or (..., J, C, T), got shape "
                         f"{tuple(w.shape)}")
    if not jnp.issubdtype(w.dtype, jnp.floating):
        w = w.astype(jnp.float32)
    return w[:, None, :] if w.ndim == 2 else w


def exact_grid(T: int, stride: int = 1, N=None) -> int:
    """The grid of the tightness and aliasing penalties: N ≥ 2T − 1 (exact) for None or inf."""
    if N is None or N == math.inf:
        return grid_size(T, stride, 2 * T - 1)
    return _finite_grid(N, stride)


def kappa_grid(T: int, stride: int = 1, N=None) -> int:
    """The grid of the κ penalty: at least 4T points for None; math.inf is refused."""
    if N is None:
        return grid_size(T, stride, 4 * T)
    if N == math.inf:
        raise InputError("N=inf: the condition number on l2(Z) is not a finite-grid quantity; "
                         "use a finite N or rfbjax.remedies.tightening.certify")
    return _finite_grid(N, stride)


def _finite_grid(N, stride) -> int:
    if int(N) != N or N < 1:
        raise InputError(f"N: must be a positive integer, None or math.inf, got {N}")
    check_stride(int(N), stride)
    return int(N)


def _mean_gain(M: jax.Array, wts) -> jax.Array:
    """c = mean over all ξ of tr M(ξ) / K, from the half spectrum ``(..., n_xi, K, K)``."""
    K = M.shape[-1]
    tr = jnp.real(jnp.trace(M, axis1=-2, axis2=-1))
    return jnp.sum(tr * wts, axis=-1) / K


def kappa_penalty(w: jax.Array, *, stride: int = 1, N=None,
                  temperature: float | None = None) -> jax.Array:
    r"""$\kappa - 1 = B/A - 1$ of the layer on the N-point grid (exact), or its smooth
    log-sum-exp upper bound with ``temperature`` t (in units of the mean eigenvalue c).

    Args:
      w: ``(J, T)``, ``(J, C, T)`` or ``(..., J, C, T)``.
      stride: d (static).
      N: grid (static); None: at least 4T points; must be a multiple of d.
      temperature: None for the exact value; t > 0 for $B_t/A_t - 1$ (module docstring).

    Returns:
      ``(...)``; +inf where the layer is not a frame on the grid (A = 0, e.g. J < Cd).
    """
    w = as_layer(w)
    d = int(stride)
    J, C, T = w.shape[-3:]
    N = kappa_grid(T, d, N)
    lam = polyphase_eigenvalues(w, N, d, layer=True)            # (..., n_xi, min(J, Cd))
    if temperature is None:
        A, B = _bounds_from_eigenvalues(lam, C * d, J, T, w.dtype)
        return condition_number(A, B) - 1
    if not temperature > 0:
        raise InputError(f"temperature: must be > 0, got {temperature}")
    if J < C * d:
        return jnp.full(lam.shape[:-2], jnp.inf, dtype=lam.dtype)
    wts = jnp.asarray(half_spectrum_weights(N, d), dtype=lam.dtype)
    c = jnp.sum(jnp.sum(lam, axis=-1) * wts, axis=-1) / (C * d)
    flat = lam.reshape(lam.shape[:-2] + (-1,))
    c = c[..., None]
    t = jnp.asarray(temperature, dtype=lam.dtype)
    B = t * jax.nn.logsumexp(flat / (c * t), axis=-1)
    A = -t * jax.nn.logsumexp(-flat / (c * t), axis=-1)
    return jnp.where(A > 0, B / jnp.where(A > 0, A, 1.0), jnp.inf) - 1


def tightness_penalty(w: jax.Array, *, stride: int = 1, N=None) -> jax.Array:
    r"""$\operatorname{mean}_\xi \|\mathcal M(\xi)/c - I\|_F^2$, c the mean eigenvalue.

    Zero exactly when the layer is tight on the grid; for N None or math.inf (a grid with
    N ≥ 2T − 1) exactly the value on $\ell^2(\mathbb Z)$. On $\mathbb Z_N$ it is
    $\|S/c - I\|_F^2 / (N/d)$ with S the CN×CN frame operator.

    Args:
      w: ``(J, T)``, ``(J, C, T)`` or ``(..., J, C, T)``.
      stride: static.
      N: static.

    Returns:
      ``(...)``.
    """
    w = as_layer(w)
    d = int(stride)
    N = exact_grid(w.shape[-1], d, N)
    M = polyphase_matrices(w, N, d)                              # (..., n_xi, K, K)
    wts = jnp.asarray(half_spectrum_weights(N, d), dtype=w.dtype)
    c = _mean_gain(M, wts)[..., None, None, None]
    K = M.shape[-1]
    D = M / c - jnp.eye(K, dtype=w.dtype)
    sq = jnp.sum(D.real ** 2 + D.imag ** 2, axis=(-2, -1))
    return jnp.sum(sq * wts, axis=-1)


def smooth_sailing_penalty(w: jax.Array, *, stride: int = 1, N=None) -> jax.Array:
    r"""$(B - c)/c$: the smooth-sailing regulariser of the analysis operator, scale-free.

    For Φ with $S = \Phi^*\Phi$, $\tfrac12\|\Phi\|_2^2 - \tfrac{1}{2\nu}\|\Phi\|_F^2
    = \tfrac12 (B - c)$ with B the largest eigenvalue of S and c its mean eigenvalue
    (module docstring); dividing by c makes it scale-invariant. $\ge 0$, zero exactly when
    the layer is tight on the grid; its gradient moves only the top eigenvalue(s) against the
    mean.

    Args:
      w: ``(J, T)``, ``(J, C, T)`` or ``(..., J, C, T)``.
      stride: d (static).
      N: grid (static); None: at least 4T points (as `kappa_penalty`); math.inf is refused.

    Returns:
      ``(...)``.
    """
    w = as_layer(w)
    d = int(stride)
    J, C, T = w.shape[-3:]
    N = kappa_grid(T, d, N)
    lam = polyphase_eigenvalues(w, N, d, layer=True)            # (..., n_xi, min(J, Cd))
    wts = jnp.asarray(half_spectrum_weights(N, d), dtype=lam.dtype)
    c = jnp.sum(jnp.sum(lam, axis=-1) * wts, axis=-1) / (C * d)
    B = jnp.max(lam[..., -1], axis=-1)
    return (B - c) / c


def _alias_mask(C: int, d: int) -> np.ndarray:
    """True where row and column are different alias frequencies (index c*d + a)."""
    a = np.tile(np.arange(d), C)
    return a[:, None] != a[None, :]


def aliasing_penalty(w: jax.Array, *, stride: int, N=None) -> jax.Array:
    r"""The aliasing energy $\operatorname{mean}_\xi \sum_{a \ne b} |\mathcal M_{(c,a),(c',b)}(\xi)|^2 / (Cd\,c^2)$.

    Only entries coupling different alias frequencies count (cross-channel terms at one
    frequency are not aliasing). Zero at stride 1 and for every aliasing-free layer; for N None
    or math.inf exactly the value on $\ell^2(\mathbb Z)$.

    Args:
      w: ``(J, T)``, ``(J, C, T)`` or ``(..., J, C, T)``.
      stride: d (static).
      N: static.

    Returns:
      ``(...)``.
    """
    w = as_layer(w)
    d = int(stride)
    check_stride(None, d)
    C, T = w.shape[-2:]
    N = exact_grid(T, d, N)
    M = polyphase_matrices(w, N, d)
    wts = jnp.asarray(half_spectrum_weights(N, d), dtype=w.dtype)
    c = _mean_gain(M, wts)
    mask = jnp.asarray(_alias_mask(C, d))
    sq = jnp.sum(jnp.where(mask, M.real ** 2 + M.imag ** 2, 0.0), axis=(-2, -1))
    return jnp.sum(sq * wts, axis=-1) / (C * d * c ** 2)


# ----------------------------------------------------------------------------- optax
def _path_str(path) -> str:
    return "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


def _to_torch_layout(x, layout: str):
    if layout == "torch":
        return x
    # Keras / Flax Conv kernels: (T, J) or (T, C, J)
    return x.T if x.ndim == 2 else jnp.swapaxes(x, -1, -3)


def penalize(penalty: Callable, beta: float, select=None, *, layout: str = "torch",
             **penalty_kwargs):
    r"""An optax ``GradientTransformation`` adding $\beta\,\nabla_w \sum \text{penalty}(w)$
    to the updates of the selected kernels (put it first in an ``optax.chain``).

    Args:
      penalty: e.g. `kappa_penalty`, `tightness_penalty`, `aliasing_penalty`
        (any ``w -> (...)`` function; values over leading axes are summed).
      beta: the weight β (a float).
      select: which parameter leaves are conv1d kernels: None (every leaf with 3 dimensions, or
        the parameters themselves when they are one array), a callable
        ``(path: str, leaf) -> bool`` (path like ``"encoder/conv0/kernel"``), or a pytree of
        bools with the structure of the parameters.
      layout: ``"torch"`` (J, C, T) or ``"keras"`` / ``"flax"`` (T, C, J).
      **penalty_kwargs: passed to the penalty (``stride``, ``N``, ``temperature``).

    The ``update`` function needs ``params``.
    """
    import optax

    if layout not in ("torch", "keras", "flax"):
        raise InputError(f"layout: must be torch, keras or flax, got {layout!r}")

    def mask_of(params):
        if select is None:
            if isinstance(params, (jax.Array, np.ndarray)):
                return True
            return jax.tree.map(lambda x: getattr(x, "ndim", 0) == 3, params)
        if callable(select):
            return jax.tree_util.tree_map_with_path(lambda p, x: bool(select(_path_str(p), x)),
                                                    params)
        return select

    def total(x):
        return jnp.sum(penalty(_to_torch_layout(x, layout), **penalty_kwargs))

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("penalize: update() needs params (the kernels the penalty acts on)")
        mask = mask_of(params)

        def add(u, p, m):
            if not m:
                return u
            return u + (beta * jax.grad(total)(p)).astype(u.dtype)

        return jax.tree.map(add, updates, params, mask), state

    return optax.GradientTransformation(init_fn, update_fn)
