r"""`ParsevalConv1d` for Equinox: a strided conv1d layer that is Parseval for every parameter value.

A drop-in for ``eqx.nn.Conv1d`` without bias (a bias is not linear, so it has no frame bounds):
``ParsevalConv1d(in_channels, out_channels, kernel_size, stride, key=key)`` maps one signal
``(in_channels, L)`` to ``(out_channels, M)``, like ``eqx.nn.Conv1d``; ``jax.vmap`` it over a
batch. The trainable leaves are the free parameters of `rfbjax.parseval_init`, stored as
``parseval_isometry`` and ``parseval_projectors``; the kernel is rebuilt from them by
`rfbjax.parseval_kernel` at every call, so $\|\Phi x\|^2 = g\,\|x\|^2$ holds after any gradient
step. Padding: `rfbjax.layers.conv` (circular by default, the padding under which the identity is
exact; VALID and SAME keep only $\|y\|^2 \le g\,\|x\|^2$). Shapes: out_channels ≥
in_channels · stride and kernel_size a multiple of stride.

Needs Equinox (``pip install rfbjax[equinox]``).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..errors import InputError
from ..kernels.parseval import ParsevalParams, parseval_init, parseval_kernel
from .conv import check_input, check_padding, one_int, raw_key, strided_conv1d

__all__ = ["ParsevalConv1d"]


class ParsevalConv1d(eqx.Module):
    """A Parseval strided conv1d (module docstring): input ``(C, L)``, output ``(J, M)``.

    Attributes:
      parseval_isometry: ``(J, C*stride)`` free matrix (`rfbjax.ParsevalParams.isometry`).
      parseval_projectors: ``(K-1, J, max(ranks))`` free matrices, K = kernel_size/stride.
      in_channels: C.
      out_channels: J.
      kernel_size: T.
      stride: d.
      padding: ``"CIRCULAR"``, ``"VALID"`` or ``"SAME"``.
      ranks: the projector ranks.
      gain: A = B = gain.
    """

    parseval_isometry: jax.Array
    parseval_projectors: jax.Array
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    kernel_size: int = eqx.field(static=True)
    stride: int = eqx.field(static=True)
    padding: str = eqx.field(static=True)
    ranks: tuple = eqx.field(static=True)
    gain: float = eqx.field(static=True)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, *,
                 padding: str = "CIRCULAR", ranks=None, gain: float = 1.0, dtype=None, key):
        """Draw a random Parseval layer (`rfbjax.parseval_init`: Haar-random isometry and
        projectors).

        Args:
          in_channels: C.
          out_channels: J ≥ C · stride.
          kernel_size: T, a multiple of stride (int or 1-tuple).
          stride: d (int or 1-tuple).
          padding: ``"CIRCULAR"`` (default), ``"VALID"`` or ``"SAME"``.
          ranks: projector ranks (`rfbjax.parseval_init`).
          gain: A = B = gain.
          dtype: float32 (default) or float64.
          key: a JAX PRNG key.

        Raises:
          InputError: a shape with no Parseval layer, bad padding, ranks, gain, dtype or key.
        """
        T, d = one_int("kernel_size", kernel_size), one_int("stride", stride)
        pad = check_padding(padding)
        p = parseval_init(raw_key(key), out_channels, in_channels, T, d, ranks=ranks,
                          dtype=jnp.float32 if dtype is None else dtype, gain=gain)
        self.parseval_isometry, self.parseval_projectors = p.isometry, p.projectors
        self.in_channels, self.out_channels, self.kernel_size = p.C, p.J, p.T
        self.stride, self.padding, self.ranks, self.gain = p.stride, pad, p.ranks, p.gain

    @property
    def params(self) -> ParsevalParams:
        """The free parameters as a `rfbjax.ParsevalParams`."""
        return ParsevalParams(self.parseval_isometry, self.parseval_projectors,
                              self.out_channels, self.in_channels, self.kernel_size,
                              self.stride, self.ranks, self.gain)

    def kernel(self) -> jax.Array:
        """The ``(J, C, T)`` kernel, the one to audit: `rfbjax.parseval_kernel` of `params`."""
        return parseval_kernel(self.params)

    def __call__(self, x: jax.Array, *, key=None) -> jax.Array:
        """Apply the layer to one signal.

        Args:
          x: ``(in_channels, L)``; L a multiple of stride under circular padding.
          key: ignored (the Equinox layer convention).

        Returns:
          ``(out_channels, M)``, M = L/stride under circular padding.

        Raises:
          InputError: (at trace time) a wrong rank, channel count or length.
        """
        if x.ndim != 2:
            raise InputError(f"input: shape {tuple(x.shape)} must be (in_channels, length) = "
                             f"({self.in_channels}, L); vmap over a batch")
        check_input((1,) + x.shape, self.in_channels, self.kernel_size, self.stride, self.padding)
        return strided_conv1d(x[None], self.kernel(), self.stride, self.padding)[0]
