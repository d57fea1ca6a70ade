"""rfbjax: how stable is a waveform convnet's first layer when its filters are random?

The package is built in layers; a module imports only from its own layer or lower ones
(docs/architecture.md)::

    edges     rfbjax.cli, rfbjax.api, rfbjax.demo
    studies   rfbjax.studies (tables, sweeps, scaling law, reproduce, attack, training)
    report    rfbjax.report (signals and audio in; JSON, tables, markdown, figures out)
    models    rfbjax.models (weight files, audits)  |  remedies  rfbjax.remedies
    theory    rfbjax.theory (exact laws, deviation bounds, predictors)
    engine    rfbjax.engine (Monte Carlo driver, measurements, compile cache, memory plans)
    kernels   rfbjax.kernels (filters, rho, energy, frame bounds, polyphase, cascades)
    base      rfbjax.errors, rfbjax.base

The capabilities, one function each, arguments validated, results returned
(`rfbjax.api`): `layer_frame_bounds`, `energy_statistics`, `bounds_statistics`, `sweep_bounds`,
`fit_scaling_law`, `search_adversarial`, `predict`, `audit`, `cascade_bounds`, `tighten`.
Every name is imported on first use, so `import rfbjax` (and the command line's `--help`)
does not load JAX.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from typing import Any

from .base.version import __version__
from .errors import InputError

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
    "audit": "rfbjax.models.audits",
    "cascade_bounds": "rfbjax.kernels.cascade",
    "tighten": "rfbjax.remedies.tightening",
    # building blocks
    "filterbank_autocorr": "rfbjax.kernels.autocorr",
    "signal_autocorr": "rfbjax.kernels.autocorr",
    "lag_profile": "rfbjax.kernels.autocorr",
    "fft_size": "rfbjax.kernels.autocorr",
    "energy_response": "rfbjax.kernels.energy",
    "energy_by_convolution": "rfbjax.kernels.energy",
    "energy_moments": "rfbjax.kernels.energy",
    "gaussian_filterbank": "rfbjax.kernels.filters",
    "gaussian_sigma": "rfbjax.kernels.filters",
    "power_response": "rfbjax.kernels.frames",
    "power_response_from_filters": "rfbjax.kernels.frames",
    "circular_power_response": "rfbjax.kernels.frames",
    "frame_bounds": "rfbjax.kernels.frames",
    "condition_number": "rfbjax.kernels.frames",
    "circular_frame_bounds": "rfbjax.kernels.frames",
    "linear_frame_bounds": "rfbjax.kernels.frames",
    "parseval_init": "rfbjax.kernels.parseval",
    "parseval_kernel": "rfbjax.kernels.parseval",
    "ParsevalParams": "rfbjax.kernels.parseval",
}

#: the flat module paths of release 0.1 -> where the module lives now. ``import rfbjax.NAME``
#: and ``rfbjax.NAME`` give the module itself (one object, registered under both names);
#: names outside ``_QUIET`` warn once with the new path.
_MOVED: dict[str, str] = {
    "regularizers": "rfbjax.remedies.regularizers",
    "initializers": "rfbjax.remedies.initializers",
    "tightening": "rfbjax.remedies.tightening",
    "strided": "rfbjax.kernels.strided",
    "filters": "rfbjax.kernels.filters",
    "autocorr": "rfbjax.kernels.autocorr",
    "energy": "rfbjax.kernels.energy",
    "frames": "rfbjax.kernels.frames",
    "cascade": "rfbjax.kernels.cascade",
    "montecarlo": "rfbjax.engine.montecarlo",
    "compile_cache": "rfbjax.engine.compile_cache",
    "measure": "rfbjax.engine.measure",
    "resources": "rfbjax.engine.resources",
    "seeds": "rfbjax.engine.seeds",
    "memory": "rfbjax.base.memory",
    "weights": "rfbjax.models.weights",
    "audits": "rfbjax.models.audits",
    "signals": "rfbjax.report.signals",
    "audio": "rfbjax.report.audio",
    "report_md": "rfbjax.report.markdown",
    "report_table": "rfbjax.report.tables",
    "report_audit": "rfbjax.report.audit_report",
    "plots": "rfbjax.report.plots",
    "experiments": "rfbjax.studies.experiments",
    "sweep": "rfbjax.studies.sweep",
    "scaling": "rfbjax.studies.scaling",
    "reproduce": "rfbjax.studies.reproduce",
    "attack": "rfbjax.studies.attack",
    "study": "rfbjax.studies.training",
}

#: old paths that stay documented (other releases add to them): no warning
_QUIET = frozenset({"regularizers"})

#: public submodules reachable as attributes (``rfbjax.regularizers.<fn>``)
_SUBMODULES = ("api", "theory", "regularizers", "strided", "initializers", "montecarlo", "attack",
               "scaling", "sweep", "signals")


def _new_path(fullname: str) -> str | None:
    """``rfbjax.attack.search`` -> ``rfbjax.studies.attack.search``; None if it did not move."""
    parts = fullname.split(".")
    if len(parts) < 2 or parts[0] != __name__ or parts[1] not in _MOVED:
        return None
    return ".".join([_MOVED[parts[1]], *parts[2:]])


def _moved(fullname: str, new: str, stacklevel: int = 3) -> Any:
    """The module at its new path, registered under the old one too; warns unless documented."""
    mod = importlib.import_module(new)
    sys.modules.setdefault(fullname, mod)
    if fullname.split(".")[1] not in _QUIET:
        warnings.warn(f"{fullname} moved to {new}; import it from there", DeprecationWarning,
                      stacklevel=stacklevel)
    return mod


class _MovedLoader(importlib.abc.Loader):
    """Loads an old path by importing the new one and registering that same module object."""

    def __init__(self, new: str):
        self.new = new

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        # the import system returns whatever sys.modules holds for the old name afterwards
        sys.modules[module.__name__] = _moved(module.__name__, self.new)


class _MovedFinder(importlib.abc.MetaPathFinder):
    """Answers ``import rfbjax.OLD[.sub]`` for the paths in ``_MOVED`` (no files at the old paths)."""

    def find_spec(self, fullname, path=None, target=None):
        new = _new_path(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _MovedLoader(new))


if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _MovedFinder())


def _present(module: str) -> bool:
    """Whether a module of this package exists: a file on disk, looked for without importing
    anything (``find_spec`` would import the parent packages, and with them NumPy)."""
    import os

    parts = module.split(".")[1:]
    base = os.path.join(os.path.dirname(os.path.abspath(__file__)), *parts)
    return os.path.isfile(base + ".py") or os.path.isfile(os.path.join(base, "__init__.py"))


def _module_of(name: str) -> str:
    return _MOVED.get(name) or f"{__name__}.{name}"


__all__ = ["InputError", "__version__",
           *(name for name, module in _EXPORTS.items() if _present(module)),
           *(name for name in _SUBMODULES if _present(_module_of(name)))]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES or name in _MOVED:
        module = _module_of(name)
    else:
        module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        mod = (_moved(f"{__name__}.{name}", module) if name in _MOVED
               else importlib.import_module(module))
    except ModuleNotFoundError as exc:
        if exc.name not in (module, f"{__name__}.{name}"):
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r} "
                             f"({module} is not part of this installation)") from None
    value = mod if (name in _SUBMODULES or name in _MOVED) else getattr(mod, name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
