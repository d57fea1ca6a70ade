"""Modules imported on first use.

`chex` checks array shapes when a kernel is traced. A run that reloads its compiled programs
from the cache traces nothing, so it need not pay for importing chex: the stand-in below
imports it at its first attribute access.
"""

from __future__ import annotations

import importlib


class LazyModule:
    """Stands in for a module and imports it at the first attribute access.

    Args:
      name: the module's import name.
    """

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


#: `chex`, imported when a kernel's trace-time shape check first runs
chex = LazyModule("chex")
