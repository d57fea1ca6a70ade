"""Figures (matplotlib, Agg backend: no display needed), reused by the CLI, reports and notebooks.

One module per family of figures:

- :mod:`rfbjax.report.plots.sweep`: heat map of E[kappa] over (J, T), E[kappa] against T;
- :mod:`rfbjax.report.plots.paper`: the figures of ``rfbjax reproduce`` (energy deviation, frame bounds);
- :mod:`rfbjax.report.plots.attack`: adversarial search results;
- :mod:`rfbjax.report.plots.audit`: power response of an audited layer.
"""

from __future__ import annotations

from .sweep import sweep_figures  # noqa: F401
