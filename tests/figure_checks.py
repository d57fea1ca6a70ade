"""What every figure of rfbjax must satisfy, checked on the matplotlib objects (not on pixels).

`figure_problems(fig)` lists, in words, what a reader would trip on:

- "kappa" in ASCII anywhere in the figure's texts (κ is written as κ);
- a title that `rfbjax.report.plots.common.fit_titles` would wrap (too wide for its axes or the
  figure), or that sticks out of the canvas once laid out;
- a line or band with points outside its axes' limits;
- a line, band, span or contour that no legend explains: it is in a legend under its own label,
  or (drawn without a label) its colour and, for a line, its dash pattern and marker each appear
  among the legend's entries. A panel with a single curve and no legend of its own is explained
  by its title and axis labels.
"""

from __future__ import annotations

import numpy as np


def _rgb(color) -> tuple:
    from matplotlib.colors import to_rgba

    r, g, b, _a = to_rgba(color)
    return (round(r, 3), round(g, 3), round(b, 3))


def _legends(fig) -> list:
    return [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)


def _legend_keys(fig):
    """(labels, colours, line styles, patch styles) of every legend entry of the figure."""
    from matplotlib.collections import Collection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    labels, colours, styles, patches = set(), set(), set(), set()
    for leg in _legends(fig):
        labels |= {t.get_text() for t in leg.get_texts()}
        for h in leg.legend_handles:
            if isinstance(h, Line2D):
                colours.add(_rgb(h.get_color()))
                styles.add((h.get_linestyle(), h.get_marker()))
            elif isinstance(h, Patch):
                colours.add(_rgb(h.get_facecolor()))
                colours.add(_rgb(h.get_edgecolor()))
                patches.add(h.get_hatch())
            elif isinstance(h, Collection):      # a band, or the bars of an error bar entry
                for c in list(h.get_facecolor())[:1] + list(h.get_edgecolor())[:1]:
                    colours.add(_rgb(c))
    return labels, colours, styles, patches


def _drawn(ax):
    """(kind, artist, label) for what the axes draw: lines, bands, spans, contours."""
    from matplotlib.collections import LineCollection, PolyCollection, QuadMesh
    from matplotlib.contour import ContourSet
    from matplotlib.patches import Polygon, Rectangle

    in_container = {}
    skip = set()
    for cont in ax.containers:
        parts = list(cont.get_children())
        if parts:
            in_container[id(parts[0])] = cont.get_label()
            skip |= {id(p) for p in parts[1:]}
    out = []
    for line in ax.lines:
        if id(line) in skip or not np.asarray(line.get_xdata(), dtype=float).size:
            continue
        out.append(("line", line, in_container.get(id(line), line.get_label())))
    for col in ax.collections:
        if id(col) in skip or isinstance(col, QuadMesh):
            continue
        if isinstance(col, ContourSet):
            out.append(("contour", col, col.get_label()))
        elif isinstance(col, PolyCollection):
            out.append(("band", col, col.get_label()))
        elif isinstance(col, LineCollection) and len(col.get_segments()):
            out.append(("lines", col, col.get_label()))
    for p in ax.patches:
        if isinstance(p, (Rectangle, Polygon)):
            out.append(("patch", p, p.get_label()))
    return out


def _explained(kind, art, label, keys) -> bool:
    labels, colours, styles, patches = keys
    if label and not label.startswith("_"):
        return label in labels
    if kind == "line":
        return (_rgb(art.get_color()) in colours
                and (art.get_linestyle(), art.get_marker()) in styles)
    if kind in ("band", "lines", "contour"):
        cols = art.get_facecolor() if kind == "band" else art.get_edgecolor()
        return len(cols) > 0 and _rgb(cols[0]) in colours
    if kind == "patch":
        if art.get_hatch():
            return art.get_hatch() in patches
        return _rgb(art.get_facecolor()) in colours
    return False


def _outside(ax) -> list[str]:
    """Lines and bands with points beyond the axes' limits (axis lines: their one coordinate)."""
    from matplotlib.collections import PolyCollection

    x0, x1 = sorted(ax.get_xlim())
    y0, y1 = sorted(ax.get_ylim())

    def beyond(v, lo, hi, log):
        v = np.asarray(v, dtype=float)
        v = v[np.isfinite(v)]
        if log:
            v, lo, hi = np.log(v[v > 0]), np.log(lo), np.log(hi)
        tol = 1e-6 * (hi - lo)
        return bool(v.size) and bool((v < lo - tol).any() or (v > hi + tol).any())

    xlog, ylog = ax.get_xscale() == "log", ax.get_yscale() == "log"
    bad = []
    for line in ax.lines:
        x, y = line.get_xdata(), line.get_ydata()
        tr = line.get_transform()
        check_x = check_y = False
        if tr == ax.transData:
            check_x = check_y = True
        elif tr == ax.get_yaxis_transform():
            check_y = True
        elif tr == ax.get_xaxis_transform():
            check_x = True
        if (check_x and beyond(x, x0, x1, xlog)) or (check_y and beyond(y, y0, y1, ylog)):
            bad.append(f"line {line.get_label()!r} leaves the axes {ax.get_title()!r}")
    for col in ax.collections:
        if isinstance(col, PolyCollection) and col.get_transform() == ax.transData:
            for path in col.get_paths():
                v = path.vertices
                if beyond(v[:, 0], x0, x1, xlog) or beyond(v[:, 1], y0, y1, ylog):
                    bad.append(f"band {col.get_label()!r} leaves the axes {ax.get_title()!r}")
                    break
    return bad


def figure_problems(fig) -> list[str]:
    """Everything `figure_problems` (module docstring) finds in ``fig``; empty when none."""
    from matplotlib.text import Text

    from rfbjax.report.plots.common import fit_titles

    problems = []
    for t in fig.findobj(Text):
        if "kappa" in t.get_text().lower():
            problems.append(f"'kappa' in a text: {t.get_text()!r}")
    titles = [ax.title for ax in fig.axes] + ([fig._suptitle] if fig._suptitle else [])
    before = [t.get_text() for t in titles]
    fit_titles(fig)
    problems += [f"title wraps: {b!r}" for b, t in zip(before, titles) if t.get_text() != b]
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")
    fig.canvas.draw()
    box = fig.bbox
    for t in titles:
        ext = t.get_window_extent()
        if t.get_text() and (ext.x0 < box.x0 - 1 or ext.x1 > box.x1 + 1):
            problems.append(f"title outside the figure: {t.get_text()!r}")
    keys = _legend_keys(fig)
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison or getattr(ax, "_colorbar", None) is not None:
            continue
        problems += _outside(ax)
        drawn = _drawn(ax)
        if len(drawn) == 1 and ax.get_legend() is None:
            continue
        for kind, art, label in drawn:
            if not _explained(kind, art, label, keys):
                what = label if label and not label.startswith("_") else _describe(kind, art)
                problems.append(f"{kind} {what} in {ax.get_title()!r} is in no legend")
    return problems


def _describe(kind, art) -> str:
    if kind == "line":
        return f"({_rgb(art.get_color())}, {art.get_linestyle()}, {art.get_marker()})"
    return f"({type(art).__name__})"


def legend_texts(fig) -> list[str]:
    return [t.get_text() for leg in _legends(fig) for t in leg.get_texts()]
