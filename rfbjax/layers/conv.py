r"""The strided conv1d that both Parseval modules run, and its argument checks.

Both frameworks' conv1d layers compute a cross-correlation,
$y_j[m] = \sum_c \sum_{t<T} w[j, c, t]\, x_c[md + t]$ (window of output m starting at input
sample md). The modules keep that convention; only the padding differs:

- ``"CIRCULAR"`` (default): indices are taken mod L, so the layer is the analysis operator on
  $\mathbb Z_L$ and output m reads $x[(md + t) \bmod L]$; L/d outputs per channel. For a
  Parseval kernel and d | L, $\|y\|^2 = g\,\|x\|^2$ exactly (up to rounding) for every x: the
  cross-correlation is the convolution of `rfbjax.kernels.parseval` applied to the time-reversed
  signal, and reversal keeps the energy. L not a multiple of d is refused.
- ``"VALID"``: no padding, $\lfloor (L - T)/d \rfloor + 1$ outputs (needs L ≥ T).
- ``"SAME"``: zeros, $\lceil L/d \rceil$ outputs, $T - 1$ zeros split as the framework does
  (the extra one on the right).

With zeros (VALID, SAME) the outputs are a subset of those of the full linear convolution of
the zero-extended signal, which is Parseval on $\ell^2(\mathbb Z)$. So
$\|y\|^2 \le g\,\|x\|^2$ always (B = g, the layer stays $\sqrt g$-Lipschitz) but the lower
bound fails: the energy of the dropped outputs near the two ends is lost, up to all of it for
a signal concentrated within T − 1 samples of an end (A = 0 as a frame on $\mathbb R^L$).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InputError
from ..kernels.parseval import nearest_multiple

if TYPE_CHECKING:
    import jax

__all__ = ["PADDINGS", "check_padding", "check_input", "one_int", "raw_key", "strided_conv1d"]

#: the paddings the modules accept
PADDINGS = ("CIRCULAR", "VALID", "SAME")


def check_padding(padding) -> str:
    """The padding name, upper-cased; InputError (one line) for anything else."""
    if isinstance(padding, str) and padding.upper() in PADDINGS:
        return padding.upper()
    raise InputError(f"padding: must be one of {', '.join(PADDINGS)}, got {padding!r}")


def one_int(name: str, v) -> int:
    """An int ≥ 1 given as an int or a 1-tuple (the frameworks' spellings); InputError else."""
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = v[0]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise InputError(f"{name}: must be an integer >= 1 (or a 1-tuple of one), got {v!r}")
    return int(v)


def raw_key(key) -> jax.Array:
    """A raw ``uint32[2]`` key from a raw or a typed JAX key."""
    import jax
    import jax.numpy as jnp

    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    if key.shape != (2,) or key.dtype != jnp.uint32:
        raise InputError(f"key: must be a JAX PRNG key (jax.random.key or a raw uint32[2]), got "
                         f"{key.dtype.name}{list(key.shape)}")
    return key


def check_input(shape, C: int, T: int, stride: int, padding: str) -> None:
    """InputError (one line) unless a ``(B, C, L)`` input fits the layer (`strided_conv1d`)."""
    if shape[1] != C:
        raise InputError(f"input: {shape[1]} channels, the layer has in_channels={C}")
    L = shape[2]
    if padding == "CIRCULAR" and L % stride:
        raise InputError(f"input: length {L} is not a multiple of the stride {stride} "
                         f"(circular padding needs one); nearest valid length "
                         f"{nearest_multiple(L, stride)}")
    if padding == "VALID" and L < T:
        raise InputError(f"input: length {L} is shorter than the {T} taps (VALID padding)")


def strided_conv1d(x: jax.Array, w: jax.Array, stride: int, padding: str) -> jax.Array:
    r"""Cross-correlate ``x`` ``(B, C, L)`` with ``w`` ``(J, C, T)`` at ``stride``: ``(B, J, M)``.

    Args:
      x: ``(B, C, L)`` signals.
      w: ``(J, C, T)`` kernel (PyTorch layout).
      stride: d.
      padding: one of `PADDINGS` (module docstring).

    Returns:
      ``(B, J, M)``, M = L/d (CIRCULAR), ⌈L/d⌉ (SAME), ⌊(L − T)/d⌋ + 1 (VALID).

    Raises:
      InputError: (at trace time) C differing from the kernel's, L not a multiple of d under
        CIRCULAR, L < T under VALID.
    """
    import jax
    import jax.numpy as jnp

    J, C, T = w.shape
    check_input(x.shape, C, T, stride, padding)
    L = x.shape[2]
    if padding == "CIRCULAR":
        x = jnp.pad(x, ((0, 0), (0, 0), (0, T - 1)), mode="wrap")
        pads = [(0, 0)]
    elif padding == "VALID":
        pads = [(0, 0)]
    else:
        total = max((-(-L // stride) - 1) * stride + T - L, 0)
        pads = [(total // 2, total - total // 2)]
    dt = jnp.result_type(x.dtype, w.dtype)
    return jax.lax.conv_general_dilated(x.astype(dt), w.astype(dt), (stride,), pads,
                                        dimension_numbers=("NCH", "OIH", "NCH"))
