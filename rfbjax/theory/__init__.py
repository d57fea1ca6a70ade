"""Exact theory for random filterbanks: laws, deviation bounds, predictors (one module each)."""

from . import energy_law  # noqa: F401
