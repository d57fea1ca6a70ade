r"""Initialisers that need a remedy, beside the kernel-level samplers they extend.

This module is the public initialiser namespace (``rfbjax.initializers``): every sampler of
`rfbjax.kernels.initializers` plus the tightened draw below.

`tight_fir` keeps the T taps: a Gaussian draw (σ² = c·d/(JT)) tightened by
`rfbjax.remedies.tightening.tighten` until κ on $\ell^2(\mathbb Z)$ is certified ≤ ``target``
(1.01 by default), then scaled so that the mean gain $\sum\|w\|^2/(Cd)$ is c (so
$A \le c \le B$). It is meant for initialising a model's conv1d kernel from Python
(`tight_fir_init` gives a Flax-style ``init(key, shape, dtype)``); it costs one optimisation
per draw (about a second for J = 40, T = 256 and a few for T = 1024 on a 2-core CPU, see the
README), so it is not offered to the Monte Carlo commands, whose κ it would fix at the target
by construction. Its draws lie at a relative distance $\|w_{\text{tight}} - c\,w\|/\|w\|$
of roughly 0.1–0.25 from the Gaussian draw they start from (reported by ``return_result``).
"""

from __future__ import annotations

import math
from typing import Callable

from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from ..kernels.initializers import *  # noqa: F401,F403  (the public namespace)
from ..kernels.initializers import __all__ as _KERNEL_NAMES

if TYPE_CHECKING:
    import jax

__all__ = [*_KERNEL_NAMES, "tight_fir", "tight_fir_init"]


def tight_fir(key: jax.Array, J: int, T: int, *, C: int | None = None, stride: int = 1,
              target: float = 1.01, N: int | None = None, scale: float = 1.0,
              dtype=np.float32, return_result: bool = False):
    r"""A Gaussian draw tightened with its T taps: κ on $\ell^2(\mathbb Z)$ certified ≤ ``target``.

    The draw is `rfbjax.kernels.filters.gaussian_filterbank` (``C=None``: the same numbers as the
    ``gaussian`` initialiser for this key) or, with C input channels, taps i.i.d.
    $\mathcal N(0, c\,d/(JT))$ of shape ``(J, C, T)``; it is tightened by
    `rfbjax.remedies.tightening.tighten` (stride d, check grid N, deterministic) and scaled so that
    the mean gain $\sum\|w\|^2/(Cd)$ equals c = ``scale``.

    Args:
      key: PRNG key.
      J: filters.
      T: taps.
      C: input channels (None: a ``(J, T)`` filterbank).
      stride: passed to ``tighten`` (static).
      target: passed to ``tighten`` (static).
      N: passed to ``tighten`` (static).
      scale: the gain c.
      dtype: of the draw and the optimisation.
      return_result: also return the `rfbjax.remedies.tightening.TightenResult` (κ before and
        after, distance from the draw, steps, seconds).

    Returns:
      ``(J, T)`` or ``(J, C, T)`` (and the result when asked).

    Raises:
      InputError: J < C·d (no frame exists) or target ≤ 1.
    """
    import jax
    import jax.numpy as jnp

    from ..kernels import rng
    from ..kernels.filters import gaussian_filterbank
    from ..remedies.tightening import tighten

    d = int(stride)
    sigma = math.sqrt(float(scale) * d / (J * T))
    if C is None:
        w = gaussian_filterbank(key, J, T, scale=float(scale) * d, dtype=dtype)
    else:
        w = sigma * rng.normal(key, (J, C, T), dtype=dtype)
    res = tighten(w, stride=d, N=N, target=target)
    v = res.weights
    gain = jnp.sum(v ** 2) / ((1 if C is None else C) * d)
    v = (v * jnp.sqrt(float(scale) / gain)).astype(dtype)
    return (v, res) if return_result else v


def tight_fir_init(*, stride: int = 1, target: float = 1.01, N: int | None = None,
                   scale: float = 1.0, layout: str = "torch") -> Callable:
    """A Flax/JAX-style initialiser ``init(key, shape, dtype=float32)`` drawing `tight_fir`
    kernels: ``shape`` is ``(J, C, T)`` (``layout="torch"``) or ``(T, C, J)`` (``"flax"``/``"keras"``,
    e.g. ``flax.linen.Conv(features=J, kernel_size=(T,), kernel_init=tight_fir_init(...))``)."""
    if layout not in ("torch", "flax", "keras"):
        raise InputError(f"layout: must be torch, flax or keras, got {layout!r}")

    def init(key, shape, dtype=np.float32):
        if len(shape) != 3:
            raise InputError(f"tight_fir_init: a conv1d kernel has 3 dimensions, got {shape}")
        J, C, T = shape if layout == "torch" else shape[::-1]
        w = tight_fir(key, J, T, C=C, stride=stride, target=target, N=N, scale=scale,
                      dtype=dtype)
        return w if layout == "torch" else w.transpose(2, 1, 0)

    return init
