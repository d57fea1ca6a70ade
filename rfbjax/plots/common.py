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
    os.makedirs(out_dir, exist_ok=True)
    fig.tight_layout()
    paths = []
    for ext in ("png", "pdf") if pdf else ("png",):
        path = os.path.join(out_dir, f"{name}.{ext}")
        tmp = os.path.join(out_dir, f".{name}.tmp.{ext}")
        fig.savefig(tmp, dpi=dpi, format=ext)
        os.replace(tmp, path)
        paths.append(path)
    plt.close(fig)
    return paths
