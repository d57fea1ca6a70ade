r"""Seeds: every integer in :math:`[0, 2^{64})` names its own random stream, in any precision.

JAX's threefry key is two 32-bit words. :func:`seed_key` builds it directly from the seed's
high and low words, ``[seed >> 32, seed & 0xFFFFFFFF]``: this is what ``PRNGKey(seed)`` gives
with 64-bit mode on, and for seeds below :math:`2^{32}` also what it gives in 32-bit mode — so
existing results keep their numbers — but it no longer depends on ``jax_enable_x64`` (in 32-bit
mode ``PRNGKey`` keeps only the low word, so seeds :math:`2^{32}` apart used to share a stream).
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

__all__ = ["SEED_LIMIT", "check_seed", "seed_key"]

#: seeds are integers in [0, SEED_LIMIT)
SEED_LIMIT = 1 << 64


def check_seed(seed, name: str = "--seed") -> int:
    """``seed`` as a Python int in [0, 2^64); anything else raises :class:`InputError`.

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


def seed_key(seed: int):
    """The raw threefry key ``uint32[2]`` of ``seed``: ``[seed >> 32, seed & 0xFFFFFFFF]``.

    The same key in float32 and float64 mode; distinct seeds give distinct keys.
    """
    import jax.numpy as jnp

    seed = check_seed(seed, "seed")
    return jnp.asarray(np.array([seed >> 32, seed & 0xFFFFFFFF], dtype=np.uint32))
