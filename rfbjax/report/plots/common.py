"""Shared plumbing for figures: a headless pyplot, an atomic save (PNG, optionally PDF), plain
tick labels on log axes."""

from __future__ import annotations

import io
import os

from ...base.files import atomic_write_bytes


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out_dir: str, name: str, pdf: bool = False, dpi: int = 120) -> list[str]:
    """Write ``fig`` as ``out_dir/name.png`` (and ``.pdf`` when asked), close it, return the paths.

    Each file goes through `rfbjax.base.files.atomic_write_bytes`: no half-written figure
    is left, and nothing is written through a link.
    """
    plt = pyplot()
    fit_titles(fig)
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")   # titles, labels and legends inside the canvas
    paths = []
    try:
        for ext in ("png", "pdf") if pdf else ("png",):
            path = os.path.join(out_dir, f"{name}.{ext}")
            buf = io.BytesIO()
            fig.savefig(buf, dpi=dpi, format=ext)
            atomic_write_bytes(path, buf.getvalue())
            paths.append(path)
    finally:
        plt.close(fig)
    return paths


def fit_titles(fig) -> None:
    """Wrap the figure's and the axes' titles onto several lines where they are wider than
    the figure or their axes (so none is clipped)."""
    import textwrap

    width_pt = fig.get_figwidth() * 72.0

    def wrap(text_obj, points):
        text = text_obj.get_text()
        if not text or "\n" in text:
            return
        chars = max(12, int(points / (0.55 * text_obj.get_fontsize())))
        if len(text) > chars:
            text_obj.set_text(textwrap.fill(text, chars))

    if getattr(fig, "_suptitle", None) is not None:
        wrap(fig._suptitle, width_pt * 0.95)
    for ax in fig.axes:
        share = ax.get_position().width
        wrap(ax.title, width_pt * share * 1.1)


def plain_log_ticks(axis) -> None:
    """Label a log-scaled axis (``ax.xaxis`` or ``ax.yaxis``) at 1, 2, 5 × 10^k in plain numbers
    (``20``, not ``2×10¹``), with no labels on the minor ticks."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.6g}"))
    axis.set_minor_formatter(NullFormatter())
