"""Objectives of the adversarial search: differentiable, scale-invariant functions of x.

Formulas: `rfbjax.studies.attack` (package docstring).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import jax
import jax.numpy as jnp

from ...engine import montecarlo as mc
from ...kernels.autocorr import filterbank_autocorr, lag_profile, signal_autocorr
from ...kernels.energy import energy_moments, energy_response
from ...errors import InputError
from ...kernels.filters import gaussian_filterbank

OBJECTIVES = ("variance", "fixed", "population")

_jit_rho = jax.jit(filterbank_autocorr)


def variance_value(x: jax.Array, J: int, T: int, *, scale: float = 1.0) -> jax.Array:
    r"""$\mathbb V[\|\Phi x\|^2]/\|x\|^4$ by docs/theory.md formula (3), circular; x ``(..., N)`` -> ``(...)``.

    $$
    \frac{2\sigma^4 J}{R_x(0)^2} \sum_{\tau=0}^{T-1} c_\tau (T-\tau) R_x(\tau \bmod N)^2,
    \qquad \sigma^2 = \mathrm{scale}/(JT).
    $$
    """
    R = signal_autocorr(x)
    _, var = energy_moments(lag_profile(R, T), J, T, scale=scale)
    return var / R[..., 0] ** 2


def energy_ratio(x: jax.Array, rho: jax.Array) -> jax.Array:
    r"""$\|\Phi x\|^2/\|x\|^2 = \sum_\tau c_\tau \rho(\tau) R_x(\tau)/R_x(0)$ (docs/theory.md formula (1)).

    x ``(N,)``; rho ``(..., T)`` (one or many filterbanks) -> ``(...)``.
    """
    T = rho.shape[-1]
    R = signal_autocorr(x)
    return energy_response(rho, lag_profile(R, T)[None])[..., 0] / R[0]


def population_value(x: jax.Array, rhos: jax.Array) -> jax.Array:
    r"""$\frac1K \sum_k (\|\Phi_k x\|^2/\|x\|^2 - 1)^2$ for ``rhos (K, T)``, x ``(N,)``."""
    e = energy_ratio(x, rhos)
    return jnp.mean((e - 1.0) ** 2)


@dataclass(frozen=True)
class Objective:
    """A scale-invariant objective ``fn(params, x) -> scalar`` and the data it closes over.

    ``params`` is a pytree of arrays (``{}`` for ``variance``, ``{"rho": (T,)}`` for ``fixed``,
    ``{"rhos": (K, T)}`` for ``population``). Keeping it an argument (not a closure) lets one
    compiled search be vmapped over many filterbanks. ``weights`` keeps the filters of ``fixed``.
    """

    name: str
    J: int
    T: int
    fn: Callable[[Any, jax.Array], jax.Array]
    params: Any = field(default_factory=dict)
    weights: np.ndarray | None = None
    K: int | None = None

    def value(self, x, params=None) -> jax.Array:
        """The objective at x ``(N,)`` (jitted: one compilation per shape)."""
        return jax.jit(self.fn)(self.params if params is None else params, jnp.asarray(x))


def _variance_fn(J, T):
    def fn(params, x):
        del params
        return variance_value(x, J, T)
    return fn


def _fixed_fn(params, x):
    return energy_ratio(x, params["rho"])


def _population_fn(params, x):
    return population_value(x, params["rhos"])


def variance_objective(J: int, T: int) -> Objective:
    """The exact variance of the normalised energy over Gaussian filterbanks (docs/theory.md formula (3))."""
    _check_JT(J, T)
    return Objective("variance", int(J), int(T), _variance_fn(int(J), int(T)), {})


def fixed_objective(w, *, dtype=jnp.float32) -> Objective:
    """``||Phi x||^2/||x||^2`` for one filterbank ``w`` of shape ``(J, T)``."""
    w = np.asarray(w)
    if w.ndim != 2:
        raise InputError(f"fixed: expected filters of shape (J, T), got {w.shape}")
    J, T = w.shape
    rho = _jit_rho(jnp.asarray(w, dtype=dtype))
    return Objective("fixed", J, T, _fixed_fn, {"rho": rho}, weights=np.asarray(w, np.float64))


def population_objective(rhos, J: int) -> Objective:
    """Mean squared deviation over K filterbanks given by their autocorrelations ``(K, T)``."""
    rhos = jnp.asarray(rhos)
    if rhos.ndim != 2:
        raise InputError(f"population: expected rho's of shape (K, T), got {rhos.shape}")
    return Objective("population", int(J), int(rhos.shape[-1]), _population_fn, {"rhos": rhos},
                     K=int(rhos.shape[0]))


def sample_filterbanks(seed: int, J: int, T: int, K: int, *, start: int = 0,
                       dtype=jnp.float32) -> jax.Array:
    """K Gaussian filterbanks ``(K, J, T)``: samples ``start … start+K-1`` of the Monte Carlo stream.

    The keys are those of `rfbjax.engine.montecarlo` for the distribution
    ``filterbank_tags(J, T, 1.0, dtype)``, so sample i is the filterbank that ``rfbjax energy`` /
    ``bounds`` draw as sample i for the same seed and dtype.
    """
    from ...engine.measure import filterbank_tags

    _check_JT(J, T)
    key = mc.stream_key(seed, *filterbank_tags(J, T, 1.0, dtype))
    keys = mc.sample_keys(key, jnp.arange(start, start + K, dtype=jnp.uint32))
    return jax.vmap(lambda k: gaussian_filterbank(k, J, T, dtype=dtype))(keys)


def sample_population(seed: int, J: int, T: int, K: int, *, dtype=jnp.float32,
                      chunk: int = 1024) -> jax.Array:
    """Autocorrelations ``(K, T)`` of the first K filterbanks of the seed's stream, drawn and
    reduced ``chunk`` at a time (the filters themselves are never all in memory)."""
    from ...engine.measure import filterbank_tags

    if int(K) < 1:
        raise InputError(f"--K: must be >= 1, got {K}")
    _check_JT(J, T)
    K, size = int(K), int(min(chunk, K))
    key = mc.stream_key(seed, *filterbank_tags(J, T, 1.0, dtype))
    name = jnp.dtype(dtype).name
    parts = [_population_chunk(key, jnp.uint32(s), int(J), int(T), size, name)
             for s in range(0, K, size)]
    return jnp.concatenate(parts, axis=0)[:K]


@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5))
def _population_chunk(key, start, J, T, size, dtype):
    keys = mc.sample_keys(key, start + jnp.arange(size, dtype=jnp.uint32))
    return jax.vmap(lambda k: filterbank_autocorr(gaussian_filterbank(k, J, T, dtype=dtype)))(keys)


def load_weights(path: str, *, population: bool = False) -> np.ndarray:
    """Filters from a ``.npy`` file: ``(J, T)`` or ``(J, 1, T)`` (a conv1d weight), or with a
    leading K axis for a population. Returns ``(J, T)`` or ``(K, J, T)`` float64.

    Raises:
      InputError: unreadable file, wrong shape, non-finite or all-zero filters.
    """
    try:
        w = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"--weights: cannot read '{path}' as a .npy array ({reason})") from None
    if not isinstance(w, np.ndarray):
        raise InputError(f"--weights: '{path}' holds no single array (an .npz archive?)")
    return as_weights(w, population=population, name=f"--weights: '{path}'")


def as_weights(w, *, population: bool = False, name: str = "weights:") -> np.ndarray:
    """Filters ``(J, T)`` or ``(J, 1, T)`` (with a leading K axis for a population) as a float64
    ``(J, T)`` or ``(K, J, T)`` array.

    Raises:
      InputError: ``"{name} ..."``: wrong shape or dtype, non-finite or all-zero filters.
    """
    w = np.asarray(w)
    want = "(K, J, T) or (K, J, 1, T)" if population else "(J, T) or (J, 1, T)"
    nd = 3 if population else 2
    if w.ndim == nd + 1 and w.shape[-2] == 1:
        w = w[..., 0, :]
    if (w.ndim != nd or w.size == 0 or not np.issubdtype(w.dtype, np.number)
            or np.iscomplexobj(w)):
        raise InputError(f"{name} has shape {w.shape} (dtype {w.dtype}), "
                         f"expected a real array of shape {want}")
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise InputError(f"{name} contains NaN or Inf")
    if not np.any(w):
        raise InputError(f"{name} is all zeros")
    return w


def _check_JT(J, T):
    if int(J) < 1 or int(T) < 1:
        raise InputError(f"--J/--T: must be >= 1, got J={J}, T={T}")
