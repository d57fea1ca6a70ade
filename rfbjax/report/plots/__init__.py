"""Figures (matplotlib, Agg backend: no display needed), reused by the CLI, reports and notebooks.

One module per family of figures:

- `rfbjax.report.plots.sweep`: heat map of E[kappa] over (J, T), E[kappa] against T;
- `rfbjax.report.plots.paper`: the figures of ``rfbjax reproduce`` (energy deviation, frame bounds);
- `rfbjax.report.plots.attack`: adversarial search results;
- `rfbjax.report.plots.audit`: power response of an audited layer.
"""

from __future__ import annotations

from .sweep import sweep_figures  # noqa: F401
