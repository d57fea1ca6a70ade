"""Figures (matplotlib, Agg backend: no display needed), reused by the CLI, reports and notebooks.

One module per family of figures:

- `rfbjax.report.plots.sweep`: heat map of E[κ] over (J, T), E[κ] against T;
- `rfbjax.report.plots.paper`: the figures of ``rfbjax reproduce`` (energy deviation, frame bounds);
- `rfbjax.report.plots.attack`: adversarial search results;
- `rfbjax.report.plots.audit`: power response of an audited layer;
- `rfbjax.report.plots.study`: the training study;
- `rfbjax.report.plots.common`: the shared save and tick helpers.
"""

from __future__ import annotations

# the 0.1 path `rfbjax.plots.sweep_figures` (now `rfbjax.report.plots`) keeps working
from .sweep import sweep_figures  # noqa: F401
