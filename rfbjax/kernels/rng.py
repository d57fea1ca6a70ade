r"""The random numbers of every filterbank draw: Threefry-2x32 in counter mode, both words used.

A draw of ``n`` numbers under a key $k$ (a raw ``uint32[2]`` key, e.g. one sample's
``fold_in(stream_key, i)``) enciphers the counter blocks
$(2^{31} + c,\ 0)$, $c = 0 \dots \lceil n/2 \rceil - 1$, with Threefry-2x32 (20 rounds, the
cipher of JAX's default PRNG; Salmon et al., SC 2011) and keeps **both** 32-bit output words:
the first words give elements $0 \dots \lceil n/2\rceil - 1$, the second words the rest.
``jax.random`` (0.10, ``threefry_partitionable``) enciphers one block per 32-bit output and
keeps a mix of the two words, so this costs half the cipher rounds per number and about a
third of the time on CPU (2026-12-03, shared 2-core x86-64 CPU, jax 0.10.2: 266 M words/s
against 92 M/s; normals 158 M/s against 71 M/s). The counter's top bit is set, so these blocks
never coincide with the blocks ``fold_in`` and ``split`` encipher (first word 0): a sample's
taps and the keys derived from its key are different cipher outputs.

Transforms (float32; float64 uses two words per number for a 53-bit uniform):

* normal: $z = \sqrt 2\,\mathrm{erf}^{-1}(u)$ with $u = (m - (2^{23} - \tfrac12))/2^{23}$,
  $m$ the top 24 bits — $u$ lies on a symmetric grid inside the open interval $(-1, 1)$,
  so $z$ is finite, symmetric in law, and reaches $\pm 5.6$ (float32);
* uniform on $(a, b)$: $a + (b - a)(m + \tfrac12)/2^{24}$;
* Rademacher: $\pm 1$ from the top bit.

Each number depends only on the key and its position in the flattened shape, so a sample's
draw is the same under ``vmap``, in any block and on any device.
"""

from __future__ import annotations

import math

import numpy as np
import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["bits", "normal", "uniform", "rademacher", "COUNTER_OFFSET"]

#: the top bit of the first counter word: separates these blocks from fold_in/split's
COUNTER_OFFSET = 1 << 31

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA


def _rotl(v, r: int):
    return lax.shift_left(v, jnp.uint32(r)) | lax.shift_right_logical(v, jnp.uint32(32 - r))


def _threefry(k0, k1, x0, x1):
    k2 = k0 ^ k1 ^ jnp.uint32(_PARITY)
    ks = (k0, k1, k2)
    x0 = x0 + k0
    x1 = x1 + k1
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = _rotl(x1, r) ^ x0
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + jnp.uint32(i + 1)
    return x0, x1


def _raw(key):
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    if key.shape != (2,) or key.dtype != jnp.uint32:
        raise ValueError(f"a raw threefry key uint32[2] is expected, got {key.dtype}{list(key.shape)}")
    return key


def bits(key, n: int) -> jax.Array:
    """``n`` pseudo-random 32-bit words (uint32) of ``key``'s stream, in counter order.

    Args:
      key: a raw threefry key ``uint32[2]`` (or a typed threefry key).
      n: how many words (static). A key's stream has $2^{32}$ distinct words; a draw that
        large (16 GiB per sample) is refused by every memory plan before it runs.
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"bits: n must be >= 0, got {n}")
    key = _raw(key)
    half = (n + 1) // 2
    c = lax.iota(jnp.uint32, half) + jnp.uint32(COUNTER_OFFSET)
    y0, y1 = _threefry(key[0], key[1], c, jnp.zeros_like(c))
    return jnp.concatenate([y0, y1])[:n]


def _size(shape) -> int:
    return int(math.prod(int(s) for s in shape))


def _is64(dtype) -> bool:
    return jnp.dtype(dtype) == jnp.float64 and jax.config.jax_enable_x64


def _grid64(key, n):
    """Float64 numbers m / 2^53, m = 0 … 2^53 − 1, from two words each (x64 mode only)."""
    b = bits(key, 2 * n)
    hi = lax.shift_right_logical(b[:n], jnp.uint32(6)).astype(jnp.float64)   # 26 bits
    lo = lax.shift_right_logical(b[n:], jnp.uint32(5)).astype(jnp.float64)   # 27 bits
    return hi * 134217728.0 + lo                                             # 2^27


def normal(key, shape, dtype=jnp.float32) -> jax.Array:
    """Standard normal numbers of ``shape``, ``sqrt(2)·erfinv(u)`` with u on a symmetric open grid."""
    n = _size(shape)
    if _is64(dtype):
        m = _grid64(key, n)
        u = (m - (2.0 ** 52 - 0.5)) * (1.0 / 2.0 ** 52)
        return (math.sqrt(2.0) * lax.erf_inv(u)).reshape(shape)
    m = lax.shift_right_logical(bits(key, n), jnp.uint32(8)).astype(jnp.float32)
    u = (m - jnp.float32(8388607.5)) * jnp.float32(1.0 / 8388608.0)
    z = jnp.float32(math.sqrt(2.0)) * lax.erf_inv(u)
    return z.reshape(shape).astype(dtype)


def uniform(key, shape, dtype=jnp.float32, minval=0.0, maxval=1.0) -> jax.Array:
    """Uniform numbers on the open interval (minval, maxval), on a grid of step (maxval−minval)/2^24."""
    n = _size(shape)
    if _is64(dtype):
        u = (_grid64(key, n) + 0.5) * (1.0 / 2.0 ** 53)
    else:
        m = lax.shift_right_logical(bits(key, n), jnp.uint32(8)).astype(jnp.float32)
        u = (m + jnp.float32(0.5)) * jnp.float32(1.0 / 16777216.0)
    lo = jnp.asarray(minval, u.dtype)
    return (lo + (jnp.asarray(maxval, u.dtype) - lo) * u).reshape(shape).astype(dtype)


def rademacher(key, shape, dtype=jnp.float32) -> jax.Array:
    """±1 with equal probability (the top bit of each word)."""
    top = lax.shift_right_logical(bits(key, _size(shape)), jnp.uint32(31)).astype(jnp.int32)
    return (1 - 2 * top).reshape(shape).astype(dtype)

