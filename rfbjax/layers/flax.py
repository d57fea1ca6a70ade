r"""`ParsevalConv1d` for Flax NNX: a strided conv1d layer that is Parseval for every parameter value.

A drop-in for ``nnx.Conv`` with one spatial axis and no bias (a bias is not linear, so it has no
frame bounds): ``ParsevalConv1d(in_features, out_features, kernel_size, strides, rngs=rngs)``
maps ``(..., L, in_features)`` (channels last, any leading batch axes, like ``nnx.Conv``) to
``(..., M, out_features)``. The trainable ``nnx.Param`` variables are the free parameters of
`rfbjax.parseval_init`, named ``parseval_isometry`` and ``parseval_projectors`` (so a saved
state shows them under those names); the kernel is rebuilt from them by `rfbjax.parseval_kernel`
at every call, so $\|\Phi x\|^2 = g\,\|x\|^2$ holds after any gradient step. Padding:
`rfbjax.layers.conv` (circular by default, the padding under which the identity is exact;
VALID and SAME keep only $\|y\|^2 \le g\,\|x\|^2$). Shapes: out_features ≥ in_features · strides
and kernel_size a multiple of strides. The kernel is in PyTorch layout ``(J, C, T)``
(`kernel`); ``nnx.Conv`` stores ``(T, C, J)``.

Needs Flax (``pip install rfbjax[flax]``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from ..errors import InputError
from ..kernels.parseval import ParsevalParams, parseval_init, parseval_kernel
from .conv import check_input, check_padding, one_int, raw_key, strided_conv1d

__all__ = ["ParsevalConv1d"]


class ParsevalConv1d(nnx.Module):
    """A Parseval strided conv1d (module docstring): ``(..., L, C)`` to ``(..., M, J)``.

    Attributes:
      parseval_isometry: ``nnx.Param`` ``(J, C*strides)``.
      parseval_projectors: ``nnx.Param`` ``(K-1, J, max(ranks))``, K = kernel_size/strides.
      in_features: C.
      out_features: J.
      kernel_size: T.
      strides: d.
      padding: ``"CIRCULAR"``, ``"VALID"`` or ``"SAME"``.
      ranks: the projector ranks.
      gain: A = B = gain.
    """

    def __init__(self, in_features: int, out_features: int, kernel_size, strides=1, *,
                 padding: str = "CIRCULAR", ranks=None, gain: float = 1.0,
                 param_dtype=jnp.float32, rngs: nnx.Rngs):
        """Draw a random Parseval layer (`rfbjax.parseval_init`: Haar-random isometry and
        projectors) from ``rngs.params()``.

        Args:
          in_features: C.
          out_features: J ≥ C · strides.
          kernel_size: T, a multiple of strides (int or 1-tuple).
          strides: d (int or 1-tuple).
          padding: ``"CIRCULAR"`` (default), ``"VALID"`` or ``"SAME"``.
          ranks: projector ranks (`rfbjax.parseval_init`).
          gain: A = B = gain.
          param_dtype: float32 (default) or float64.
          rngs: ``nnx.Rngs`` with a ``params`` stream.

        Raises:
          InputError: a shape with no Parseval layer, bad padding, ranks, gain or dtype.
        """
        T, d = one_int("kernel_size", kernel_size), one_int("strides", strides)
        pad = check_padding(padding)
        p = parseval_init(raw_key(rngs.params()), out_features, in_features, T, d, ranks=ranks,
                          dtype=param_dtype, gain=gain)
        self.parseval_isometry = nnx.Param(p.isometry)
        self.parseval_projectors = nnx.Param(p.projectors)
        self.in_features, self.out_features, self.kernel_size = p.C, p.J, p.T
        self.strides, self.padding, self.ranks, self.gain = p.stride, pad, p.ranks, p.gain

    @property
    def params(self) -> ParsevalParams:
        """The free parameters as a `rfbjax.ParsevalParams`."""
        return ParsevalParams(self.parseval_isometry[...], self.parseval_projectors[...],
                              self.out_features, self.in_features, self.kernel_size,
                              self.strides, self.ranks, self.gain)

    def kernel(self) -> jax.Array:
        """The ``(J, C, T)`` kernel, the one to audit: `rfbjax.parseval_kernel` of `params`."""
        return parseval_kernel(self.params)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Apply the layer.

        Args:
          x: ``(..., L, in_features)``; L a multiple of strides under circular padding.

        Returns:
          ``(..., M, out_features)``, M = L/strides under circular padding.

        Raises:
          InputError: (at trace time) a wrong rank, channel count or length.
        """
        if x.ndim < 2:
            raise InputError(f"input: shape {tuple(x.shape)} must be (..., length, "
                             f"in_features={self.in_features})")
        lead = x.shape[:-2]
        xb = jnp.swapaxes(x.reshape((-1,) + x.shape[-2:]), 1, 2)           # (B, C, L)
        check_input(xb.shape, self.in_features, self.kernel_size, self.strides, self.padding)
        y = strided_conv1d(xb, self.kernel(), self.strides, self.padding)   # (B, J, M)
        return jnp.swapaxes(y, 1, 2).reshape(lead + (y.shape[2], y.shape[1]))
