r"""The grid a frame is evaluated on, spelled one way by every command and API function.

N is one of:

- an integer $N \ge 2$: circular convolution on $\mathbb Z_N$ (the DFT grid);
- ``kT`` (``4T``, ``T``): a multiple of each filter length T, resolved per T;
- ``inf`` (``math.inf`` in Python): linear convolution on $\ell^2(\mathbb Z)$.

`parse_N` reads a spelling once (at parse time, so a typo is refused before anything runs) and
`Grid.at` gives the grid of one filter length: an int, or ``None`` for $\ell^2(\mathbb Z)$.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InputError

__all__ = ["Grid", "parse_N", "resolve_N", "N_HELP", "INF_WORDS"]

#: the words read as $\ell^2(\mathbb Z)$
INF_WORDS = ("inf", "infinity")

#: the help text of ``--N`` on the grid commands
N_HELP = ("the grid: an integer N (circular convolution on Z_N), kT such as 4T (a multiple of "
          "each T) or inf (linear convolution on l2(Z))")


@dataclass(frozen=True)
class Grid:
    """A parsed spelling of N.

    Attributes:
      kind: ``"int"`` (a fixed N), ``"multiple"`` (k times each T) or ``"inf"`` ($\\ell^2(\\mathbb Z)$).
      value: N for ``"int"``, k for ``"multiple"``, ``math.inf`` for ``"inf"``.
    """

    kind: str
    value: float

    @property
    def linear(self) -> bool:
        """True for $\\ell^2(\\mathbb Z)$ (linear convolution)."""
        return self.kind == "inf"

    def at(self, T: int) -> int | None:
        """The grid for filter length T: an int, or ``None`` for $\\ell^2(\\mathbb Z)$."""
        if self.kind == "inf":
            return None
        if self.kind == "multiple":
            return int(self.value) * int(T)
        return int(self.value)

    def spec(self) -> str:
        """The canonical spelling: ``"1024"``, ``"4T"`` or ``"inf"``."""
        if self.kind == "inf":
            return "inf"
        if self.kind == "multiple":
            return f"{int(self.value)}T" if int(self.value) != 1 else "T"
        return str(int(self.value))


def parse_N(spec, name: str = "--N", *, minimum: int = 2) -> Grid:
    """Read N: an int, an integer string, ``"kT"``, ``"inf"`` or ``math.inf``.

    Args:
      spec: the spelling (``1024``, ``"1024"``, ``"4T"``, ``"T"``, ``"inf"``, ``math.inf``).
      name: the option or argument named in the error message.
      minimum: the smallest integer N accepted.

    Returns:
      `Grid`.

    Raises:
      InputError: anything else, in one line naming ``name``.
    """
    if isinstance(spec, Grid):
        return spec
    if isinstance(spec, bool):
        raise InputError(f"{name}: expected an integer, kT (e.g. 4T) or inf, got {spec!r}")
    if isinstance(spec, float) and math.isinf(spec) and spec > 0:
        return Grid("inf", math.inf)
    if isinstance(spec, int) or (isinstance(spec, float) and spec.is_integer()):
        n = int(spec)
        if n < minimum:
            raise InputError(f"{name}: must be >= {minimum}, got {n}")
        return Grid("int", n)
    s = str(spec).strip().lower()
    if s in INF_WORDS:
        return Grid("inf", math.inf)
    try:
        if s.endswith("t"):
            k = int(s[:-1]) if s[:-1] else 1
            if k < 1:
                raise ValueError
            return Grid("multiple", k)
        n = int(s)
    except ValueError:
        raise InputError(f"{name}: expected an integer, kT (e.g. 4T) or inf, got {spec!r}") from None
    if n < minimum:
        raise InputError(f"{name}: must be >= {minimum}, got {n}")
    return Grid("int", n)


def resolve_N(spec, T: int, boundary: str = "circular") -> int | None:
    """N for filter length T: ``None`` for linear convolution (``boundary="linear"`` or N = inf),
    else the int grid (``"4T"`` → 4T, ``"1024"`` → 1024)."""
    if boundary == "linear":
        return None
    return parse_N(spec).at(T)
