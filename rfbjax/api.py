r"""The Python API: one function per capability, arguments validated, results returned.

Every function here checks its arguments *before* anything is traced or computed and raises
`rfbjax.InputError` (a `ValueError`) with a message that starts with the name of the
offending argument. Results are typed (a `typing.NamedTuple` or a frozen dataclass) and
have ``to_dict()``, which gives the JSON-ready payload that the matching CLI subcommand writes.

**The grid N, everywhere.** ``N`` is the length of the cyclic group $\mathbb Z_N$ on which
the convolution is circular (the DFT grid of the frame bounds): an int, or a string ``"kT"``
(k times each filter length T, e.g. ``"4T"``). ``N=None`` means the default grid (stated per
function) and ``N=math.inf`` (or ``"inf"``) means linear convolution on $\ell^2(\mathbb Z)$
(continuous frequency). The command line spells it the same way (`rfbjax.base.grid`).

| capability              | function                                                          |
| ----------------------- | ----------------------------------------------------------------- |
| frame bounds of a layer | `layer_frame_bounds` (jit / vmap / grad)                          |
| energy response         | `energy_statistics` (exact moments, exact law, Monte Carlo)       |
| frame bounds (random)   | `bounds_statistics` (Monte Carlo and the predictor)               |
| (J, T) sweep            | `sweep_bounds` (in memory, or a resumable folder)                 |
| scaling law             | `fit_scaling_law`                                                 |
| adversarial inputs      | `search_adversarial`                                              |

Prediction, audit, cascades and remedies live in their own modules and are exported at the top
level too (``rfbjax.predict``, ``rfbjax.audit``, ``rfbjax.cascade_bounds``, ``rfbjax.tighten``).
"""

from __future__ import annotations

import functools
import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, NamedTuple, Sequence, Union

import numpy as np

from .errors import InputError

__all__ = [
    "FrameBounds",
    "Table",
    "EnergyResult",
    "BoundsResult",
    "SweepResult",
    "ScalingLawResult",
    "layer_frame_bounds",
    "default_grid",
    "energy_statistics",
    "bounds_statistics",
    "sweep_bounds",
    "fit_scaling_law",
    "search_adversarial",
]

GridSize = Union[int, float, str, None]
"""An int N (circular on Z_N), ``"kT"`` (k times each T), ``None`` (the default grid) or
``math.inf`` / ``"inf"`` (linear on l2(Z)); `rfbjax.base.grid`."""

ATTACK_DEFAULT_N = 1024


# ----------------------------------------------------------------------------- validation
def _int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= minimum, or InputError naming ``name`` (bools and 2.5 refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if not (isinstance(value, numbers.Real) and float(value).is_integer()
                and not isinstance(value, bool)):
            raise InputError(f"{name}: must be an integer, got {value!r}")
    v = int(value)
    if v < minimum:
        raise InputError(f"{name}: must be >= {minimum}, got {v}")
    return v


def _int_list(name: str, value: Any, minimum: int = 1) -> tuple[int, ...]:
    vals = (value,) if isinstance(value, numbers.Number) else tuple(value)
    if not vals:
        raise InputError(f"{name}: empty list")
    return tuple(_int(name, v, minimum) for v in vals)


def _is_inf(N: Any) -> bool:
    return isinstance(N, float) and math.isinf(N) and N > 0


def _grid(name: str, N: Any, stride: int = 1, T: int = 1) -> int | None:
    """Validate N (`rfbjax.base.grid.parse_N`: an int >= 2, ``"kT"``, ``"inf"`` or
    ``math.inf``) at filter length T: ``None`` is returned as -1 (the caller's default),
    ℓ²(ℤ) as None (linear convolution), otherwise the int grid, which ``stride`` divides."""
    if N is None:
        return -1
    from .base.grid import parse_N

    n = parse_N(N, name).at(T)
    if n is not None and n % stride:
        raise InputError(f"{name}: stride {stride} does not divide N={n} (the strided analysis "
                         f"on Z_N needs stride | N)")
    return n


def _float_dtype(name: str, dtype: Any) -> str:
    """'float32' or 'float64'; float64 needs ``jax_enable_x64``."""
    import jax

    try:
        dt = np.dtype(dtype).name
    except TypeError:
        raise InputError(f"{name}: not a dtype: {dtype!r}") from None
    if dt not in ("float32", "float64"):
        raise InputError(f"{name}: must be float32 or float64, got {dt}")
    if dt == "float64" and not jax.config.read("jax_enable_x64"):
        raise InputError(f"{name}: float64 needs 64-bit JAX: call "
                         f"jax.config.update('jax_enable_x64', True) first")
    return dt


def _probability(name: str, p: Any) -> float:
    try:
        v = float(p)
    except (TypeError, ValueError):
        raise InputError(f"{name}: must be a number in (0, 1), got {p!r}") from None
    if not 0.0 < v < 1.0:
        raise InputError(f"{name}: must be in (0, 1), got {p!r}")
    return v


def default_grid(T: int, stride: int = 1) -> int:
    """The grid used when ``N=None``: a multiple of ``stride``, at least ``max(1024, 8T)``,
    5-smooth after division by the stride (fast FFTs). The same default as ``rfbjax audit``.

    Examples:
      >>> import rfbjax
      >>> rfbjax.default_grid(64), rfbjax.default_grid(200, stride=2), rfbjax.default_grid(512, 3)
      (1024, 1600, 4320)
    """
    from .models.audits import default_N
    return int(default_N(_int("T", T), _int("stride", stride)))


# ----------------------------------------------------------------------------- frame bounds
class FrameBounds(NamedTuple):
    r"""Optimal frame bounds: $A\|x\|^2 \le \|\Phi x\|^2 \le B\|x\|^2$.

    A NamedTuple (hence a JAX pytree): ``A, B = layer_frame_bounds(...)`` unpacks, ``jit`` and
    ``vmap`` return it whole.

    Examples:
      >>> import rfbjax
      >>> rfbjax.FrameBounds(A=0.5, B=2.0).to_dict()
      {'A': 0.5, 'B': 2.0, 'kappa': 4.0}
      >>> rfbjax.FrameBounds(A=0.0, B=2.0).to_dict()["kappa"]
      inf
    """

    A: Any
    B: Any

    @property
    def kappa(self) -> Any:
        r"""The condition number $\kappa = B/A$ ($+\infty$ where A = 0)."""
        from .kernels.frames import condition_number

        return condition_number(self.A, self.B)

    def to_dict(self) -> dict:
        """``{"A", "B", "kappa"}`` as Python floats (scalars) or nested lists."""
        return {"A": np.asarray(self.A).tolist(), "B": np.asarray(self.B).tolist(),
                "kappa": np.asarray(self.kappa).tolist()}


def layer_frame_bounds(w: Any, N: GridSize = None, stride: int = 1) -> FrameBounds:
    r"""Optimal frame bounds (A, B) of a strided conv1d layer, or of many at once.

    The layer with weights $w_{jc}$ (J outputs, C inputs, T taps) and stride d maps
    $(x_c)_{c<C}$ on $\mathbb Z_N$ to $y_j[m] = (\sum_c w_{jc} \circledast x_c)[md]$.
    Its frame operator is block diagonal over the base frequencies $\xi < M = N/d$:

    $$
    \mathcal M(\xi) = \tfrac1d\, G(\xi)^H G(\xi), \qquad
    G(\xi)[j, (c, a)] = \hat w_{jc}[\xi + aM],
    $$

    and $A = \min_\xi \lambda_{\min}(\mathcal M(\xi))$,
    $B = \max_\xi \lambda_{\max}(\mathcal M(\xi))$
    (`rfbjax.kernels.strided`; at d = 1 and C = 1 the Littlewood–Paley sum
    $P(\omega) = \sum_j |\hat w_j(\omega)|^2$). A = 0 exactly when J < Cd; a computed
    minimum under `rfbjax.kernels.frames.rounding_floor` is reported as A = 0.

    Args:
      w: real floating weights (float32 or float64), shape ``(J, T)`` (a filterbank: C = 1),
        ``(J, C, T)`` (one layer; a 3-D array is always *one* layer, in PyTorch's
        ``Conv1d.weight`` layout), or ``(..., J, C, T)`` (a batch of layers). A batch of
        filterbanks is ``(K, J, 1, T)``.
      N: the grid $\mathbb Z_N$, a multiple of ``stride`` (taps beyond N wrap around).
        ``None``: `default_grid` ``(T, stride)`` (at least max(1024, 8T)).
        ``math.inf``: linear convolution on $\ell^2(\mathbb Z)$ (continuous frequency;
        only for C = 1 at stride 1).
      stride: d >= 1.

    ``N`` and ``stride`` are **static** under ``jax.jit`` (Python ints; mark them with
    ``static_argnums``/``static_argnames``); ``w`` is traced. The result is differentiable
    in ``w`` (``jax.grad`` of ``A`` or ``B``; at a repeated extreme eigenvalue the gradient is
    that of one of the tied branches) and ``vmap`` maps over a leading axis of ``w``.

    Returns:
      `FrameBounds` ``(A, B)``, each of shape ``w.shape[:-3]`` (``()`` for one layer or
      filterbank), in ``w``'s dtype.

    Raises:
      InputError: ``w`` not real floating, of fewer than 2 dimensions, or with an empty axis;
        ``stride`` < 1 or not dividing ``N``; ``N`` < 2; ``N=math.inf`` with C > 1 or d > 1.

    Examples:
      Two filters that only scale the input (by 1 and by 1/2) form a tight frame with
      A = B = 1 + 1/4 at stride 1; at stride 2 they keep one sample in two of the same
      product, so half the inputs are lost (A = 0):

      >>> import numpy as np, rfbjax
      >>> w = np.array([[1.0, 0.0], [0.5, 0.0]], dtype=np.float32)
      >>> [float(v) for v in rfbjax.layer_frame_bounds(w, N=8)]
      [1.25, 1.25]
      >>> [float(v) for v in rfbjax.layer_frame_bounds(w, N=8, stride=2)]
      [0.0, 1.25]
      >>> rfbjax.layer_frame_bounds(w, N=9, stride=2)
      Traceback (most recent call last):
      ...
      rfbjax.errors.InputError: N: stride 2 does not divide N=9 (the strided analysis on Z_N needs stride | N)
    """
    import jax.numpy as jnp

    d = _int("stride", stride)
    shape = tuple(getattr(w, "shape", np.shape(w)))
    if len(shape) < 2:
        raise InputError(f"w: expected shape (J, T), (J, C, T) or (..., J, C, T), got {shape}")
    if 0 in shape:
        raise InputError(f"w: has an empty axis, shape {shape}")
    dt = getattr(w, "dtype", None)
    if dt is None:
        w = np.asarray(w)
        dt = w.dtype
    if np.dtype(dt).name not in ("float32", "float64"):
        raise InputError(f"w: must be a real floating array (float32 or float64), got {dt}")
    T = shape[-1]
    C = 1 if len(shape) == 2 else shape[-2]
    n = _grid("N", N, d, T)
    if n == -1:
        n = default_grid(T, d)
    if n is None and (C != 1 or d != 1):
        raise InputError("N: frame bounds on l2(Z) (N=math.inf) are implemented for one input "
                         f"channel at stride 1, got C={C}, stride={d}; give a finite N")
    return FrameBounds(*_layer_bounds_jit()(jnp.asarray(w), n, d))


@functools.lru_cache(maxsize=None)
def _layer_bounds_jit():
    """The validated computation, compiled once per (shape, dtype, N, stride): called eagerly it
    costs one compilation instead of one per primitive; under an outer jit it is inlined."""
    import jax

    def bounds(w, n, d):
        from .kernels.strided import layer_frame_bounds as polyphase_layer_bounds, strided_frame_bounds

        fb = w if w.ndim == 2 else (w[..., 0, :] if w.shape[-2] == 1 else None)
        if n is None:
            from .kernels.autocorr import filterbank_autocorr
            from .kernels.frames import linear_frame_bounds

            return linear_frame_bounds(filterbank_autocorr(fb))
        if fb is not None:   # a filterbank (C = 1): the same bounds, by the cheaper (J, T) route
            return strided_frame_bounds(fb, n, d)
        return polyphase_layer_bounds(w, n, d)

    return jax.jit(bounds, static_argnums=(1, 2))


# ----------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class Table:
    """Rows of results, one dict per setting, and the configuration that produced them.

    ``result["mean_kappa"]`` is that column as a float64 NumPy array (None → NaN), ``len``,
    iteration (over the row dicts) and ``columns`` work as expected; ``to_dict()`` is the JSON
    payload of the matching CLI subcommand's ``--json``.
    """

    command: str
    config: dict
    rows: tuple = ()

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict]:
        return iter(self.rows)

    @property
    def columns(self) -> list[str]:
        """Every key that occurs in a row, in first-seen order."""
        seen: dict = {}
        for r in self.rows:
            seen.update(dict.fromkeys(r))
        return list(seen)

    def __getitem__(self, column: str) -> np.ndarray:
        if column not in self.columns:
            raise KeyError(f"no column {column!r}; columns: {', '.join(self.columns)}")
        vals = [r.get(column) for r in self.rows]
        if all(isinstance(v, (numbers.Number, type(None))) and not isinstance(v, bool)
               for v in vals):
            return np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
        return np.array(vals, dtype=object)

    def to_dict(self) -> dict:
        return {"command": self.command, "config": dict(self.config),
                "rows": [dict(r) for r in self.rows]}


@dataclass(frozen=True)
class EnergyResult(Table):
    """`energy_statistics`: one row per (signal, J, T) (columns as ``rfbjax energy``)."""


@dataclass(frozen=True)
class BoundsResult(Table):
    """`bounds_statistics`: one row per (J, T) (columns as ``rfbjax bounds``)."""


@dataclass(frozen=True)
class SweepResult(Table):
    """`sweep_bounds`: one summary row per completed (J, T) cell, and the raw samples
    ``samples[(J, T)] = (A, B)`` (float64 arrays); ``path`` is the sweep folder, if any."""

    samples: dict = field(default_factory=dict)
    path: str | None = None

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["path"] = self.path
        return d


@dataclass(frozen=True)
class ScalingLawResult:
    """`fit_scaling_law`: one `rfbjax.studies.scaling.LawResult` per target κ₀."""

    laws: tuple
    config: dict

    def __iter__(self) -> Iterator[Any]:
        return iter(self.laws)

    def __len__(self) -> int:
        return len(self.laws)

    def to_dict(self) -> dict:
        return {"command": "scaling-law", "config": dict(self.config),
                "laws": [dict(law.__dict__) for law in self.laws]}


# ----------------------------------------------------------------------------- energy
def _signals(signals: Any, N: GridSize, sample_rate: float) -> tuple[list, bool]:
    """(label, x) pairs and whether the convolution is linear."""
    linear = _is_inf(N)
    n: int | None = None if (linear or N is None) else _int("N", N, 2)
    if isinstance(signals, (str, np.ndarray)) or hasattr(signals, "shape"):
        items: list = [signals]
    elif isinstance(signals, Mapping):
        items = list(signals.items())
    else:
        items = list(signals)
    if not items:
        raise InputError("signals: empty")
    out = []
    for i, item in enumerate(items):
        label = None
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            label, item = item
        if isinstance(item, str):
            from .report.signals import parse_signal_spec

            lab, x = parse_signal_spec(item, n, sample_rate)
            out.append((label or lab, np.asarray(x, dtype=np.float64)))
            continue
        x = np.asarray(item)
        if x.ndim == 2 and label is None:
            out += [(f"signal{i}.{k}", row) for k, row in enumerate(_real("signals", x))]
            continue
        if x.ndim != 1:
            raise InputError(f"signals: each signal must be 1-D, got shape {x.shape}")
        out.append((label or f"signal{i}", _real("signals", x)))
    for label, x in out:
        if x.shape[-1] < 2:
            raise InputError(f"signals: {label} has {x.shape[-1]} samples, need >= 2")
        if n is not None and x.shape[-1] != n:
            raise InputError(f"N: {n} differs from the length {x.shape[-1]} of signal {label} "
                             f"(N=None takes each signal's own length)")
        if not np.any(x):
            raise InputError(f"signals: {label} is all zeros")
    return out, linear


def _real(name: str, x: np.ndarray) -> np.ndarray:
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise InputError(f"{name}: must be real numbers, got dtype {x.dtype}")
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise InputError(f"{name}: contains NaN or Inf")
    return x


def _layer_setting(init: str, stride: int, Js: Sequence[int], Ns: Sequence[int | None]) -> None:
    from .kernels import initializers

    initializers.get(init)
    for n in Ns:
        if stride > 1 and n is None:
            raise InputError("stride: strided analyses are computed on Z_N (circular); "
                             "N=math.inf allows stride 1 only")
        for J in Js:
            initializers.validate(init, J, stride=stride, N=n)


def energy_statistics(signals: Any, J: int | Sequence[int], T: int | Sequence[int], *,
                      N: GridSize = None, stride: int = 1, init: str = "gaussian",
                      rescale: bool = False, samples: int = 1000, seed: int = 0,
                      dtype: Any = "float32", p: float = 0.05, theory: bool = True,
                      max_memory: int | str | None = None,
                      progress: bool = False) -> EnergyResult:
    r"""The normalised energy $E = \|\Phi x\|^2/\|x\|^2$ of random filterbanks on given
    signals: exact mean and variance, the exact law's quantiles and tail bounds, and a Monte
    Carlo estimate, per (signal, J, T).

    For i.i.d. taps of variance $\sigma^2$ (Gaussian: $1/(JT)$) and circular
    convolution, $\mathbb E[E] = 1$ and
    $\mathbb V[E] = \frac{2}{J T^2} \sum_{|\tau|<T} (T - |\tau|)\, R_x(\tau)^2 / R_x(0)^2$
    (stride 1; the strided and non-Gaussian moments are in `rfbjax.kernels.strided`).

    Args:
      signals: a 1-D array, a 2-D array (one signal per row), a list of arrays, a dict
        ``{label: array}``, or signal specs as strings (``"white"``, ``"sine:3"``,
        ``"speech.wav@0:4096"``; see `rfbjax.report.signals.parse_signal_spec`).
      J: an int or a list of ints (every combination of J and T is measured).
      T: an int or a list of ints.
      N: ``None`` (default): circular convolution on each signal's own length (built-in specs
        are generated with 1024 samples); an int: circular, and every signal must have that
        length (built-in specs are generated with it); ``math.inf``: linear convolution.
      stride: keep every d-th output; d must divide every signal's length (circular).
      init: the filter initialiser (`rfbjax.kernels.initializers`).
      rescale: the filter initialiser's ``rescale`` option (`rfbjax.kernels.initializers`).
      samples: Monte Carlo filterbanks per setting.
      seed: the PRNG seed (same seed, same numbers, whatever ``max_memory``).
      dtype: ``"float32"`` or ``"float64"`` (the latter needs ``jax_enable_x64``).
      p: the tail level of the deviation columns (``alpha_*``).
      theory: also compute the exact law's columns.
      max_memory: memory budget of one Monte Carlo chunk (bytes or ``"512MB"``).

    Returns:
      `EnergyResult`; ``result["var_analytic"]``, ``result["var_mc"]`` … are columns.

    Not jittable (a driver: it compiles and runs its own kernels).
    """
    from .engine import montecarlo as mc
    from .studies.experiments import energy_rows

    Js, Ts = _int_list("J", J), _int_list("T", T)
    d = _int("stride", stride)
    n_samples = _int("samples", samples, 2)
    dt = _float_dtype("dtype", dtype)
    pv = _probability("p", p)
    budget = _memory(max_memory)
    sigs, linear = _signals(signals, N, 22050.0)
    boundary = "linear" if linear else "circular"
    if not linear:
        for label, x in sigs:
            if x.shape[-1] % d:
                raise InputError(f"stride: {d} does not divide N={x.shape[-1]} (signal {label})")
    _layer_setting(init, d, Js, [None] if linear else sorted({x.shape[-1] for _, x in sigs}))
    extra: dict = {} if (init == "gaussian" and d == 1) else \
        {"init": init, "stride": d, "rescale": bool(rescale)}
    rows = energy_rows(sigs, Js, Ts, n_samples=n_samples, seed=int(seed), boundary=boundary,
                       dtype=dt, p=pv, max_memory=budget if budget else mc.DEFAULT_MAX_MEMORY,
                       progress=progress, theory=theory, **extra)
    config = {"J": list(Js), "T": list(Ts), "N": None if N is None else
              (math.inf if linear else int(N)), "boundary": boundary, "samples": n_samples,
              "seed": int(seed), "dtype": dt, "p": pv, "signals": [lab for lab, _ in sigs],
              "stride": d, "init": init, "rescale": bool(rescale)}
    return EnergyResult("energy", config, tuple(rows))


def _memory(max_memory: Any) -> int | None:
    if max_memory is None:
        return None
    from .engine.montecarlo import parse_memory

    try:
        return parse_memory(max_memory)
    except ValueError as exc:
        raise InputError(f"max_memory: {exc}") from None


# ----------------------------------------------------------------------------- bounds
def bounds_statistics(J: int | Sequence[int], T: int | Sequence[int], N: GridSize = None, *,
                      stride: int = 1, init: str = "gaussian", rescale: bool = False,
                      samples: int = 1000, seed: int = 0, dtype: Any = "float32",
                      theory: bool = True, max_memory: int | str | None = None,
                      progress: bool = False) -> BoundsResult:
    r"""Monte Carlo of the frame bounds A, B and $\kappa = B/A$ of random filterbanks,
    per (J, T), with the sampling-free predictions (`rfbjax.theory.predictor.predict`)
    where they apply (Gaussian taps, stride 1).

    Args:
      J: an int or a list of ints (every combination of J and T).
      T: an int or a list of ints.
      N: the grid $\mathbb Z_N$ (a multiple of ``stride``); ``None``: per T,
        `default_grid` ``(T, stride)`` (1024 for T <= 128, as ``rfbjax bounds``; 8T and
        up beyond, so that long filters neither wrap around nor see a coarse grid);
        ``math.inf``: linear convolution on $\ell^2(\mathbb Z)$ (stride 1 only).
      stride: as in `energy_statistics`.
      init: as in `energy_statistics`.
      rescale: as in `energy_statistics`.
      samples: as in `energy_statistics`.
      seed: as in `energy_statistics`.
      dtype: as in `energy_statistics`.
      theory: as in `energy_statistics`.
      max_memory: as in `energy_statistics`.

    Returns:
      `BoundsResult`: ``result["mean_kappa"]``, ``result["q95_kappa"]``,
        ``result["pred_kappa"]`` … one entry per (J, T), J the outer loop.

    Not jittable (a driver). Each A, B is `layer_frame_bounds` of one draw.
    """
    from .engine import montecarlo as mc
    from .studies.experiments import bounds_rows

    Js, Ts = _int_list("J", J), _int_list("T", T)
    d = _int("stride", stride)
    n_samples = _int("samples", samples, 2)
    dt = _float_dtype("dtype", dtype)
    budget = _memory(max_memory)
    from .base.grid import parse_N

    ns = {T: _grid("N", N, d, T) for T in Ts}
    n = ns[Ts[0]] if len(set(ns.values())) == 1 else -1   # one grid for every T, or one per T
    grids = {T: (default_grid(T, d) if ns[T] == -1 else ns[T]) for T in Ts}
    _layer_setting(init, d, Js, sorted(set(grids.values()), key=lambda v: v or 0))
    extra: dict = {} if (init == "gaussian" and d == 1) else \
        {"init": init, "stride": d, "rescale": bool(rescale)}
    opts = dict(n_samples=n_samples, seed=int(seed), dtype=dt, progress=progress, theory=theory,
                max_memory=budget if budget else mc.DEFAULT_MAX_MEMORY, **extra)
    if n != -1:
        rows = bounds_rows(Js, Ts, n, **opts)
    else:   # one grid per T; rows in the same order (J outer, T inner)
        by_T = {T: bounds_rows(Js, [T], grids[T], **opts) for T in Ts}
        rows = [by_T[T][i] for i in range(len(Js)) for T in Ts]
    spelled = None if N is None else (math.inf if n is None else
                                      (n if n != -1 else parse_N(N).spec()))
    config = {"J": list(Js), "T": list(Ts), "N": spelled,
              "boundary": "linear" if n is None else "circular", "samples": n_samples,
              "seed": int(seed), "dtype": dt, "stride": d, "init": init,
              "rescale": bool(rescale)}
    return BoundsResult("bounds", config, tuple(rows))


# ----------------------------------------------------------------------------- sweep
def _sweep_N(N: Any) -> tuple[str, str]:
    """(N spec, boundary) of a SweepConfig from the API's N (``None``: the sweep default 4T)."""
    from .studies.sweep import sweep_grid

    return sweep_grid("4T" if N is None else N, "N")


def sweep_bounds(J: int | Sequence[int], T: int | Sequence[int], N: Union[GridSize, str] = None,
                 *, samples: int = 2000, stride: int = 1, init: str = "gaussian",
                 rescale: bool = False, seed: int = 0, dtype: Any = "float32",
                 out: str | os.PathLike | None = None, max_memory: int | str | None = None,
                 progress: bool = False, devices: Any = None) -> SweepResult:
    r"""Monte Carlo of the frame bounds over a (J, T) grid, keeping every raw sample.

    Without ``out`` everything stays in memory and nothing is written. With ``out`` the sweep is
    the resumable folder of ``rfbjax sweep`` (`rfbjax.studies.sweep`): completed cells are skipped,
    an interrupted run resumes bit-identically, a folder holding another configuration is refused.

    Args:
      J: an int or a list of ints.
      T: an int or a list of ints.
      N: per cell: ``None`` (default) is ``"4T"`` (the sweep default, N = 4T); an int; a string
        ``"kT"``; ``math.inf``: linear convolution on $\ell^2(\mathbb Z)$.
      samples: draws per cell (>= 2). Others as in `bounds_statistics`.
      out: the sweep folder (created if needed), or None.
      devices: JAX devices to shard the samples over (default: all local ones).

    Returns:
      `SweepResult`: summary rows (``mean_kappa``, ``se_kappa``, ``q95_kappa`` …) and
        ``samples[(J, T)] = (A, B)``; feed it to `fit_scaling_law`.
    """
    from .engine import montecarlo as mc
    from .studies.sweep import (SweepConfig, _prepare_cell, load_sweep, resolve_N, run_sweep,
                        summarize_cell, validate)
    from .kernels.initializers import effective_rescale

    Js, Ts = _int_list("J", J), _int_list("T", T)
    d = _int("stride", stride)
    n_samples = _int("samples", samples, 2)
    dt = _float_dtype("dtype", dtype)
    budget = _memory(max_memory) or mc.DEFAULT_MAX_MEMORY
    spec, boundary = _sweep_N(N)
    cfg = SweepConfig(J=Js, T=Ts, samples=n_samples, N=spec, boundary=boundary, seed=int(seed),
                      dtype=dt, init=init, stride=d, rescale=effective_rescale(init, rescale))
    validate(cfg)
    if out is not None:
        from .report.outputs import check_writable

        path = os.fspath(out)
        check_writable(path, "out", directory=True)
        run_sweep(cfg, path, max_memory=budget, progress=progress, devices=devices)
        data = load_sweep(path)
        return SweepResult("sweep", cfg.to_json(), tuple(data.summaries), dict(data.samples),
                           path)
    rows, raw = [], {}
    jobs = mc.start_all(lambda j, t: _prepare_cell(
        cfg, j, t, resolve_N(cfg.N, t, cfg.boundary), max_memory=budget, on_chunk=None,
        devices=devices), cfg.cells())
    with mc.cancelling(jobs):
        for j, t in cfg.cells():
            n = resolve_N(cfg.N, t, cfg.boundary)
            out_ = jobs.pop((j, t)).result()
            A = np.asarray(out_["A"], dtype=np.float64)
            B = np.asarray(out_["B"], dtype=np.float64)
            raw[(j, t)] = (A, B)
            rows.append(summarize_cell(j, t, n, A, B))
    return SweepResult("sweep", cfg.to_json(), tuple(rows), raw, None)


# ----------------------------------------------------------------------------- scaling law
def fit_scaling_law(sweep: Any, kappa: float | Sequence[float] = (2.0, 3.0, 5.0), *,
                    bootstrap: int = 500, seed: int = 0, ci: float = 0.95,
                    on_progress: Any = None) -> ScalingLawResult:
    r"""The number of filters $J^*(T)$ at which $\mathbb E[\kappa] = \kappa_0$, and
    the fits $J^* = a + b\log T$ and $J^* = c\,T^\gamma$ with bootstrap intervals
    (`rfbjax.studies.scaling`).

    Args:
      sweep: a `SweepResult`, a sweep folder (path), a loaded
        `rfbjax.studies.sweep.SweepData`, or raw samples ``{(J, T): (A, B)}`` on a complete grid.
      kappa: target condition number(s) κ₀ > 1.
      bootstrap: replicates (>= 0).
      seed: their PRNG seed.
      ci: the interval's coverage.
      on_progress: called with the units of work done (bootstrap replicates drawn and
        fitted, `rfbjax.studies.scaling.progress_units` in all), e.g. a tqdm bar's ``update``.

    Returns:
      `ScalingLawResult`, one `rfbjax.studies.scaling.LawResult` per κ₀.

    Examples:
      Samples where $\mathbb E[\kappa] = 1 + 2T/J$ (A = 1 and B = κ in every draw):
      $J^* = 2T/(\kappa_0 - 1)$, read off the grid by interpolation in log J.

      >>> import numpy as np, rfbjax
      >>> raw = {(J, T): (np.ones(3), np.full(3, 1 + 2 * T / J)) for J in (4, 8, 16, 32)
      ...        for T in (4, 8)}
      >>> law = rfbjax.fit_scaling_law(raw, kappa=3.0, bootstrap=0).laws[0]
      >>> [round(j, 2) for j in law.Jstar]
      [4.0, 8.0]
    """
    from .studies.scaling import scaling_law

    targets: list[float] = []
    for k in ([kappa] if isinstance(kappa, numbers.Real) else list(kappa)):  # type: ignore[arg-type]
        if isinstance(k, bool) or not isinstance(k, numbers.Real) or not 1 < float(k) < math.inf:
            raise InputError(f"kappa: targets must be finite numbers > 1, got {k!r}")
        targets.append(float(k))
    if not targets:
        raise InputError("kappa: empty list")
    n_boot = _int("bootstrap", bootstrap, 0)
    level = _probability("ci", ci)
    config: dict = {}
    if isinstance(sweep, SweepResult) or (hasattr(sweep, "samples") and hasattr(sweep, "config")):
        raw, config = sweep.samples, dict(sweep.config)   # also a loaded rfbjax.studies.sweep.SweepData
    elif isinstance(sweep, (str, os.PathLike)):
        from .studies.sweep import load_sweep

        data = load_sweep(os.fspath(sweep))
        raw, config = data.samples, dict(data.config)
    elif isinstance(sweep, Mapping):
        raw = dict(sweep)
    else:
        raise InputError(f"sweep: expected a SweepResult, a folder or {{(J, T): (A, B)}}, got "
                         f"{type(sweep).__name__}")
    if not raw:
        raise InputError("sweep: no cells")
    samples = {}
    for key, val in raw.items():
        try:
            (j, t), (A, B) = key, val
        except (TypeError, ValueError):
            raise InputError("sweep: keys must be (J, T) and values (A, B)") from None
        samples[(int(j), int(t))] = (np.asarray(A, np.float64), np.asarray(B, np.float64))
    try:
        laws = scaling_law(samples, [float(k) for k in targets], n_boot=n_boot, seed=int(seed),
                           ci=level, on_progress=on_progress)
    except ValueError as exc:
        raise InputError(f"sweep: {exc}") from None
    config.update({"kappa": [float(k) for k in targets], "bootstrap": n_boot, "seed": int(seed),
                   "ci": level})
    return ScalingLawResult(tuple(laws), config)


# ----------------------------------------------------------------------------- attack
def search_adversarial(objective: str = "variance", *, J: int | None = None,
                       T: int | None = None, N: GridSize = None, weights: Any = None,
                       population: int = 1000, maximize: bool = True,
                       bands: Sequence[tuple[float, float]] | None = None, no_dc: bool = False,
                       no_nyquist: bool = False, support: tuple[int, int] | None = None,
                       near: Any = None, eps: float = 0.1, restarts: int = 64,
                       steps: int = 500, optimizer: str = "adam", lr: float = 0.1,
                       schedule: str | None = None, tol: float = 1e-6, patience: int = 50,
                       seed: int = 0, dtype: Any = "float32"):
    r"""Gradient search (optax, all restarts in one compiled loop) for the input signal that
    maximises or minimises an objective, certified where a closed form is known
    (`rfbjax.studies.attack`). Returns the result; writes nothing.

    Objectives (scale-invariant, of $x/\|x\|$):

    * ``"variance"``: $\mathbb V[\|\Phi x\|^2]/\|x\|^4$ over Gaussian filterbanks
      (formula (3), exact); supremum 2/J;
    * ``"fixed"``: $\|\Phi x\|^2/\|x\|^2$ for one filterbank (``weights (J, T)`` or
      ``(J, 1, T)``, or draw 0 of ``seed``'s stream); its max is B, its min A;
    * ``"population"``: $\frac1K \sum_k (\|\Phi_k x\|^2/\|x\|^2 - 1)^2$ over K filterbanks
      (``weights (K, J, T)``, or ``population`` draws).

    Args:
      J: filters (default 10, or from ``weights``).
      T: taps (default 64, or from ``weights``).
      N: the signal length (circular on $\mathbb Z_N$); ``None``: 1024, or the length of
        ``near``. ``math.inf`` is refused (the search lives on $\mathbb Z_N$).
      bands: allowed frequency bands ``[(lo, hi), ...]`` in cycles/sample within [0, 0.5].
      no_dc: forbid the DC bin.
      no_nyquist: forbid the Nyquist bin.
      support: ``(start, stop)`` samples.
      near: a signal (array of length N, or a spec string) to search near: x = x₀ + δ with
        $\|\delta\| \le$ ``eps`` $\|x_0\|$.
      restarts: the search (see `rfbjax.studies.attack.attack`).
      steps: the search (see `rfbjax.studies.attack.attack`).
      optimizer: the search (see `rfbjax.studies.attack.attack`).
      lr: the search (see `rfbjax.studies.attack.attack`).
      schedule: the search (see `rfbjax.studies.attack.attack`).
      tol: the search (see `rfbjax.studies.attack.attack`).
      patience: the search (see `rfbjax.studies.attack.attack`).
      seed: filterbanks and starting points.

    Returns:
      `rfbjax.studies.attack.AttackResult` (``.x``, ``.value``, ``.certificate``, ``.ratio``,
        ``.history``; ``to_dict()``).
    """
    import jax.numpy as jnp

    from .studies import attack as at

    if objective not in at.OBJECTIVES:
        raise InputError(f"objective: must be one of {', '.join(at.OBJECTIVES)}, got "
                         f"{objective!r}")
    dt = jnp.dtype(_float_dtype("dtype", dtype))
    for name, v in (("restarts", restarts), ("steps", steps), ("patience", patience)):
        _int(name, v)
    if not (isinstance(lr, numbers.Real) and math.isfinite(lr) and lr > 0):
        raise InputError(f"lr: must be > 0, got {lr!r}")
    if _is_inf(N):
        raise InputError("N: the search runs on Z_N (circular); give a finite N or None")
    x0 = None
    if near is not None:
        if isinstance(near, str):
            from .report.signals import parse_signal_spec

            x0 = parse_signal_spec(near, None if N is None else _int("N", N, 2))[1]
        else:
            x0 = _real("near", np.asarray(near))
            if x0.ndim != 1:
                raise InputError(f"near: must be 1-D, got shape {x0.shape}")
        if N is not None and x0.shape[0] != _int("N", N, 2):
            raise InputError(f"N: {N} differs from the length {x0.shape[0]} of near")
    n = x0.shape[0] if x0 is not None else (ATTACK_DEFAULT_N if N is None else _int("N", N, 2))
    if weights is not None and objective == "variance":
        raise InputError("weights: only for the 'fixed' or 'population' objective")
    w = None
    if weights is not None:
        w = at.as_weights(weights, population=objective == "population", name="weights: the array")
        for name, given, got in (("J", J, w.shape[-2]), ("T", T, w.shape[-1])):
            if given is not None and _int(name, given) != got:
                raise InputError(f"{name}: {given} contradicts weights of shape {w.shape}")
        J, T = w.shape[-2], w.shape[-1]
    J = 10 if J is None else _int("J", J)
    T = 64 if T is None else _int("T", T)
    if objective == "variance":
        obj = at.variance_objective(J, T)
    elif objective == "fixed":
        if w is None:
            w = np.asarray(at.sample_filterbanks(int(seed), J, T, 1, dtype=dt)[0], np.float64)
        obj = at.fixed_objective(w, dtype=dt)
    else:
        if w is not None:
            from .kernels.autocorr import filterbank_autocorr

            rhos = filterbank_autocorr(jnp.asarray(w, dtype=dt))
        else:
            rhos = at.sample_population(int(seed), J, T, _int("population", population), dtype=dt)
        obj = at.population_objective(rhos, J)
    allowed = None
    if bands is not None or no_dc or no_nyquist:
        if bands is not None:
            bands = [(float(lo), float(hi)) for lo, hi in bands]
            for lo, hi in bands:
                if not 0.0 <= lo <= hi <= 0.5:
                    raise InputError(f"bands: need 0 <= lo <= hi <= 0.5 cycles/sample, got "
                                     f"({lo}, {hi})")
        allowed = at.band_mask(n, bands, no_dc=no_dc, no_nyquist=no_nyquist)
    c = at.make_constraints(n, allowed=allowed, support=support, x0=x0,
                            eps=eps if x0 is not None else None)
    at.make_optimizer(optimizer, lr, schedule, int(steps))
    return at.attack(obj, c, maximize=bool(maximize), restarts=int(restarts), steps=int(steps),
                     optimizer=optimizer, lr=float(lr), schedule=schedule, tol=tol,
                     patience=int(patience), seed=int(seed), dtype=dt)
