"""rfbjax: how stable is a waveform convnet's first layer when its filters are random?

Data flow (one module per idea)::

    filters  -> autocorr (rho, R_x) -> energy (<rho, R_x>)   -> montecarlo -> theory / sweeps / attacks
                                    -> frames (P, A, B, kappa)

Core modules are pure array functions (explicit PRNG keys; jit/vmap/grad compose over them);
the Monte Carlo driver owns chunking, devices and progress; the CLI is a thin layer on top.

The capabilities, one function each, arguments validated, results returned
(:mod:`rfbjax.api`): :func:`layer_frame_bounds`, :func:`energy_statistics`,
:func:`bounds_statistics`, :func:`sweep_bounds`, :func:`fit_scaling_law`,
:func:`search_adversarial`, :func:`predict`, :func:`audit`, :func:`cascade_bounds`,
:func:`tighten`. Every name is imported on first use, so ``import rfbjax`` (and the command
line's ``--help``) does not load JAX.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import InputError

__version__ = "0.1.0"

#: public name -> the module that defines it (imported on first access)
_EXPORTS: dict[str, str] = {
    # the API: one function per capability
    "layer_frame_bounds": "rfbjax.api",
    "energy_statistics": "rfbjax.api",
    "bounds_statistics": "rfbjax.api",
    "sweep_bounds": "rfbjax.api",
    "fit_scaling_law": "rfbjax.api",
    "search_adversarial": "rfbjax.api",
    "default_grid": "rfbjax.api",
    "FrameBounds": "rfbjax.api",
    "EnergyResult": "rfbjax.api",
    "BoundsResult": "rfbjax.api",
    "SweepResult": "rfbjax.api",
    "ScalingLawResult": "rfbjax.api",
    "predict": "rfbjax.theory.predictor",
    "audit": "rfbjax.audits",
    "cascade_bounds": "rfbjax.cascade",
    "tighten": "rfbjax.tightening",
    # building blocks
    "filterbank_autocorr": "rfbjax.autocorr",
    "signal_autocorr": "rfbjax.autocorr",
    "lag_profile": "rfbjax.autocorr",
    "fft_size": "rfbjax.autocorr",
    "energy_response": "rfbjax.energy",
    "energy_by_convolution": "rfbjax.energy",
    "energy_moments": "rfbjax.energy",
    "gaussian_filterbank": "rfbjax.filters",
    "gaussian_sigma": "rfbjax.filters",
    "power_response": "rfbjax.frames",
    "power_response_from_filters": "rfbjax.frames",
    "circular_power_response": "rfbjax.frames",
    "frame_bounds": "rfbjax.frames",
    "condition_number": "rfbjax.frames",
    "circular_frame_bounds": "rfbjax.frames",
    "linear_frame_bounds": "rfbjax.frames",
}

#: public submodules reachable as attributes (``rfbjax.regularizers.<fn>``)
_SUBMODULES = ("api", "regularizers", "strided", "initializers", "montecarlo", "theory", "attack",
               "scaling", "sweep", "signals")


def _present(module: str) -> bool:
    """Whether a module of this package exists: a file on disk, looked for without importing
    anything (``find_spec`` would import the parent packages, and with them NumPy)."""
    import os

    parts = module.split(".")[1:]
    base = os.path.join(os.path.dirname(os.path.abspath(__file__)), *parts)
    return os.path.isfile(base + ".py") or os.path.isfile(os.path.join(base, "__init__.py"))


__all__ = ["InputError", "__version__",
           *(name for name, module in _EXPORTS.items() if _present(module)),
           *(name for name in _SUBMODULES if _present(f"{__name__}.{name}"))]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name) or (f"{__name__}.{name}" if name in _SUBMODULES else None)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r} "
                             f"({module} is not part of this installation)") from None
    value = mod if name in _SUBMODULES else getattr(mod, name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
