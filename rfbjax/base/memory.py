"""Memory budgets: the default of one Monte Carlo chunk and sizes such as ``2GB`` (no JAX here,
so that the command line can build its options without loading it)."""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_MEMORY", "parse_memory"]

DEFAULT_MAX_MEMORY = 2 * 1024 ** 3


def parse_memory(text: str | int | float) -> int:
    """'2GB', '512MB', '1.5G', '300k' or a plain number of bytes -> bytes."""
    if isinstance(text, (int, float)):
        return int(text)
    s = str(text).strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
    if s and s[-1] in mult:
        value, factor = s[:-1], mult[s[-1]]
    else:
        value, factor = s, 1
    try:
        out = int(float(value) * factor)
    except ValueError:
        raise ValueError(f"cannot read a memory size from {text!r} (try 2GB, 512MB)") from None
    if out <= 0:
        raise ValueError(f"memory size must be positive, got {text!r}")
    return out
