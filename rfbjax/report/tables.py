"""Text tables for terminals and ``.txt`` reports: number formatting and aligned columns.

The library's report writers and the CLI share these (the library never imports ``rfbjax.cli``).
"""

from __future__ import annotations

import math

__all__ = ["fmt", "format_table"]


def fmt(v, width: int = 10, prec: int = 4) -> str:
    """Right-aligned number for tables (inf, nan and None readable)."""
    if v is None:
        return "-".rjust(width)
    if isinstance(v, bool):
        return str(v).rjust(width)
    if isinstance(v, int):
        return str(v).rjust(width)
    if isinstance(v, float) and math.isinf(v):
        return ("inf" if v > 0 else "-inf").rjust(width)
    if isinstance(v, float) and math.isnan(v):
        return "nan".rjust(width)
    if isinstance(v, str):
        return v.rjust(width)
    a = abs(v)
    if a != 0 and (a < 1e-3 or a >= 1e5):
        return f"{v:.{prec - 1}e}".rjust(width)
    return f"{v:.{prec}f}".rjust(width)


def format_table(rows: list[dict], columns: list[tuple[str, str, int]]) -> str:
    """``rows`` under ``columns`` = [(key, header, width), ...]; each column widens to its
    longest cell, so the columns stay aligned whatever the values."""
    cells = [[fmt(r.get(k), w) for k, _, w in columns] for r in rows]
    widths = [max([len(h), w] + [len(c[i]) for c in cells])
              for i, (_, h, w) in enumerate(columns)]
    lines = [" ".join(h.rjust(widths[i]) for i, (_, h, _w) in enumerate(columns))]
    lines += [" ".join(c[i].rjust(widths[i]) for i in range(len(columns))) for c in cells]
    return "\n".join(lines) + "\n"
