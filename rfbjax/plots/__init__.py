"""Figures (matplotlib, Agg backend: no display needed), reused by the CLI, reports and notebooks.

One module per family of figures:

- :mod:`rfbjax.plots.sweep`: heat map of E[kappa] over (J, T), E[kappa] against T;
- :mod:`rfbjax.plots.paper`: the figures of ``rfbjax reproduce`` (energy deviation, frame bounds);
- :mod:`rfbjax.plots.attack`: adversarial search results;
- :mod:`rfbjax.plots.audit`: power response of an audited layer.
"""

from __future__ import annotations

from .sweep import sweep_figures  # noqa: F401
