r"""Sampling random FIR filterbanks.

A filterbank is an array of shape ``(..., J, T)``: J filters of T taps each. The paper's
initialisation draws every tap i.i.d. from $\mathcal N(0, \sigma^2)$ with

$$
\sigma^2 = \frac{c}{J\,T},
$$

where the *variance scale* $c$ is 1 by default. With $c = 1$,
$\mathbb E\,\|\Phi x\|^2 = \sigma^2 J T \|x\|^2 = \|x\|^2$: energy is preserved on average.

Every sampler takes an explicit PRNG key and is a pure function, so it composes with
``jit`` and ``vmap`` (batch over a leading axis by vmapping over keys).
"""

from __future__ import annotations

import numpy as np
import jax
import jax.numpy as jnp

from ..base.lazy import chex

__all__ = ["gaussian_sigma", "gaussian_filterbank", "fold_taps"]


def gaussian_sigma(J: int, T: int, scale: float = 1.0) -> float:
    r"""Standard deviation of the taps: $\sigma = \sqrt{c / (J T)}$.

    Args:
      J: number of filters.
      T: number of taps.
      scale: the variance scale $c$.

    Returns:
      $\sigma$, a Python float.
    """
    return float((scale / (J * T)) ** 0.5)


def gaussian_filterbank(key: jax.Array, J: int, T: int, *, scale: float = 1.0,
                        dtype=jnp.float32) -> jax.Array:
    r"""Draw one J×T Gaussian filterbank, taps i.i.d. $\mathcal N(0, c/(JT))$.

    Args:
      key: a PRNG key; the draw is a deterministic function of it.
      J: number of filters.
      T: number of taps.
      scale: the variance scale $c$ (1 preserves energy in expectation).
      dtype: float32 by default; float64 needs ``jax_enable_x64``.

    Returns:
      Array of shape ``(J, T)``.
    """
    from .rng import normal

    return gaussian_sigma(J, T, scale) * normal(key, (J, T), dtype=dtype)


def fold_taps(w, N: int):
    r"""Taps folded mod N: the filter that circular convolution on $\mathbb Z_N$ applies.

    $\tilde w[n] = \sum_k w[n + kN]$; unchanged when L <= N.

    Args:
      w: taps, shape ``(..., L)``; NumPy in, NumPy out (float64 kept), JAX arrays otherwise.
      N: the signal length (static).

    Returns:
      ``(..., min(L, N))``.

    Raises:
      AssertionError: (chex, at trace time) ``w`` is a scalar.
    """
    chex.assert_shape(w, (..., None), custom_message="fold_taps: w must be (..., L)")
    L = w.shape[-1]
    if L <= N:
        return w
    xp = np if isinstance(w, np.ndarray) else jnp
    w = xp.pad(w, [(0, 0)] * (w.ndim - 1) + [(0, (-L) % N)])
    return w.reshape(w.shape[:-1] + (-1, N)).sum(axis=-2)
