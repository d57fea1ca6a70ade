"""The grid a frame is evaluated on, as the command line and sweep configurations spell it."""

from __future__ import annotations

from ..errors import InputError

__all__ = ["resolve_N"]


def resolve_N(spec: str, T: int, boundary: str) -> int | None:
    """N for a cell: ``None`` for linear convolution; ``"4T"`` -> 4T; ``"1024"`` -> 1024."""
    if boundary == "linear":
        return None
    s = str(spec).strip()
    try:
        if s.upper().endswith("T"):
            k = s[:-1]
            return int(float(k) * T) if k else T
        return int(s)
    except ValueError:
        raise InputError(f"--N: cannot read {spec!r} (use an integer or kT such as 4T)") from None
