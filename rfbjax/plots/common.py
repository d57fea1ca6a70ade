"""Shared plumbing for figures: a headless pyplot and an atomic save (PNG, optionally PDF)."""

from __future__ import annotations

import os


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out_dir: str, name: str, pdf: bool = False, dpi: int = 120) -> list[str]:
    """Write ``fig`` as ``out_dir/name.png`` (and ``.pdf`` when asked), close it, return the paths.

    Each file is written under a temporary name and renamed, so no half-written figure is left.
    """
    plt = pyplot()
    fit_titles(fig)
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")   # titles, labels and legends inside the canvas
    paths = []
    try:
        os.makedirs(out_dir, exist_ok=True)
        for ext in ("png", "pdf") if pdf else ("png",):
            path = os.path.join(out_dir, f"{name}.{ext}")
            tmp = os.path.join(out_dir, f".{name}.tmp.{ext}")
            try:
                fig.savefig(tmp, dpi=dpi, format=ext)
                os.replace(tmp, path)
            except OSError as exc:   # name the figure's path, not the temporary file
                raise OSError(exc.errno, exc.strerror or str(exc), path) from None
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
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
