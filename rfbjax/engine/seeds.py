r"""Seeds: every integer in $[0, 2^{64})$ names its own random stream, in any precision.

JAX's threefry key is two 32-bit words. `seed_key` builds it directly from the seed's
high and low words, ``[seed >> 32, seed & 0xFFFFFFFF]``: this is what ``PRNGKey(seed)`` gives
with 64-bit mode on, and for seeds below $2^{32}$ also what it gives in 32-bit mode — so
existing results keep their numbers — but it no longer depends on ``jax_enable_x64`` (in 32-bit
mode ``PRNGKey`` keeps only the low word, so seeds $2^{32}$ apart used to share a stream).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["SEED_LIMIT", "check_seed", "seed_key", "seed_words", "fold_in_words", "threefry2x32"]

#: seeds are integers in [0, SEED_LIMIT)
SEED_LIMIT = 1 << 64


def check_seed(seed, name: str = "--seed") -> int:
    """``seed`` as a Python int in [0, 2^64); anything else raises `InputError`.

    Accepts ints (and NumPy integers) and strings of decimal digits; refuses bools, floats,
    negative and too large values.
    """
    if isinstance(seed, str):
        text = seed.strip()
        if not text.lstrip("+").isdigit():
            raise InputError(f"{name}: must be an integer in [0, 2^64), got {seed!r}")
        seed = int(text)
    elif isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise InputError(f"{name}: must be an integer in [0, 2^64), got {seed!r}")
    seed = int(seed)
    if not 0 <= seed < SEED_LIMIT:
        raise InputError(f"{name}: must be an integer in [0, 2^64), got {seed}")
    return seed


def seed_words(seed: int) -> np.ndarray:
    """The raw threefry key of ``seed`` as a NumPy ``uint32[2]``: ``[seed >> 32, seed & 0xFFFFFFFF]``."""
    seed = check_seed(seed, "seed")
    return np.array([seed >> 32, seed & 0xFFFFFFFF], dtype=np.uint32)


def seed_key(seed: int):
    """The raw threefry key ``uint32[2]`` of ``seed``: ``[seed >> 32, seed & 0xFFFFFFFF]``.

    The same key in float32 and float64 mode; distinct seeds give distinct keys.
    """
    import jax.numpy as jnp

    return jnp.asarray(seed_words(seed))


# Threefry-2x32 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011), 20
# rounds: the block cipher behind JAX's default PRNG. Deriving a handful of keys on the host
# with it costs microseconds, where the same step in JAX compiles a small XLA program per
# process (tests/test_montecarlo.py checks every word against jax.random.fold_in).
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA


def _rotl(v: np.ndarray, r: int) -> np.ndarray:
    return (v << np.uint32(r)) | (v >> np.uint32(32 - r))


def threefry2x32(key, x0, x1):
    """Threefry-2x32 of the counter pairs ``(x0, x1)`` (uint32 arrays) under ``key`` (uint32[2])."""
    k = np.asarray(key, dtype=np.uint32)
    ks = (k[0], k[1], np.uint32(k[0] ^ k[1] ^ np.uint32(_PARITY)))
    x0 = np.asarray(x0, dtype=np.uint32) + ks[0]
    x1 = np.asarray(x1, dtype=np.uint32) + ks[1]
    with np.errstate(over="ignore"):
        for i in range(5):
            for r in _ROTATIONS[i % 2]:
                x0 = x0 + x1
                x1 = _rotl(x1, r) ^ x0
            x0 = x0 + ks[(i + 1) % 3]
            x1 = x1 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x0, x1


def fold_in_words(key, data: int) -> np.ndarray:
    """``jax.random.fold_in(key, data)`` for a raw threefry key and a 32-bit ``data``, in NumPy."""
    data = int(data)
    if not 0 <= data < (1 << 32):
        raise ValueError(f"fold_in data must be a 32-bit unsigned integer, got {data}")
    y0, y1 = threefry2x32(key, np.zeros(1, np.uint32), np.array([data], np.uint32))
    return np.concatenate([y0, y1]).astype(np.uint32)
