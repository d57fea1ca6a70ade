r"""Measurements: per-sample pure functions (draw one filterbank, measure it) and their Monte Carlo.

Each ``*_measurement`` returns the pieces the driver (:mod:`rfbjax.montecarlo`) needs: a
function ``key -> outputs`` for one sample, the tags of its random stream and a per-sample
memory estimate. The stream tags name the *filterbank distribution* only — ``("filterbank",
init, J, T, scale, dtype)`` — so the energy and the frame bounds of the same (seed, J, T) are
measured on the same draws.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import jax
import jax.numpy as jnp

from . import montecarlo as mc
from .autocorr import fft_size, filterbank_autocorr, lag_profile, signal_autocorr
from .energy import energy_response
from .filters import gaussian_filterbank
from .frames import circular_frame_bounds, condition_number, linear_frame_bounds

__all__ = ["Measurement", "filterbank_tags", "energy_measurement", "bounds_measurement",
           "sample_energy", "sample_bounds"]


@dataclass(frozen=True)
class Measurement:
    """``fn(key, *args)`` measures one random filterbank; ``args`` are the data it needs."""

    fn: Callable
    tags: tuple
    bytes_per_sample: int
    args: tuple = ()


def filterbank_tags(J: int, T: int, scale: float, dtype, init: str = "gaussian") -> tuple:
    return ("filterbank", init, int(J), int(T), float(scale), jnp.dtype(dtype).name)


def energy_measurement(R_lags, J: int, T: int, *, scale: float = 1.0,
                       dtype=jnp.float32) -> Measurement:
    r"""Normalised energies :math:`\|\Phi x_m\|^2/\|x_m\|^2` of M signals for one filterbank.

    Args:
      R_lags: ``(M, T)`` lag profiles of the signals (:func:`~rfbjax.autocorr.lag_profile`).
    """
    R = jnp.asarray(R_lags, dtype=dtype)
    fn = _energy_fn(J, T, float(scale), jnp.dtype(dtype).name)
    itemsize = jnp.dtype(dtype).itemsize
    L = fft_size(2 * T - 1)
    return Measurement(fn, filterbank_tags(J, T, scale, dtype), itemsize * (J * T + 3 * J * L),
                       (R,))


@functools.lru_cache(maxsize=None)
def _energy_fn(J, T, scale, dtype):
    def fn(key, R):
        w = gaussian_filterbank(key, J, T, scale=scale, dtype=dtype)
        return energy_response(filterbank_autocorr(w), R) / R[:, 0]

    return fn


@functools.lru_cache(maxsize=None)
def _bounds_fn(J, T, N, scale, dtype):
    def fn(key):
        w = gaussian_filterbank(key, J, T, scale=scale, dtype=dtype)
        if N is None:
            A, B = linear_frame_bounds(filterbank_autocorr(w))
        else:
            A, B = circular_frame_bounds(w, N)
        return {"A": A, "B": B, "kappa": condition_number(A, B)}

    return fn


def bounds_measurement(J: int, T: int, N: int | None, *, scale: float = 1.0,
                       dtype=jnp.float32) -> Measurement:
    """Frame bounds A, B and kappa of one filterbank; ``N=None`` means linear (l2(Z))."""
    fn = _bounds_fn(J, T, N, float(scale), jnp.dtype(dtype).name)
    itemsize = jnp.dtype(dtype).itemsize
    L = fft_size(2 * T - 1)
    grid = N if N is not None else 8 * T
    work = J * T + 3 * J * max(L, grid) + 3 * grid
    return Measurement(fn, filterbank_tags(J, T, scale, dtype), itemsize * work)


def signal_lags(signals, T: int, *, boundary: str = "circular", dtype=np.float64) -> np.ndarray:
    """``(M, T)`` lag profiles of a list of 1-D signals (any lengths), in float64 by default."""
    rows = []
    for x in signals:
        R = signal_autocorr(jnp.asarray(np.asarray(x, dtype=np.float64)), boundary=boundary)
        rows.append(np.asarray(lag_profile(R, T, boundary=boundary)))
    return np.stack(rows).astype(dtype)


def sample_energy(signals, J: int, T: int, n_samples: int, *, seed: int = 0,
                  boundary: str = "circular", scale: float = 1.0, dtype=jnp.float32,
                  max_memory: int = mc.DEFAULT_MAX_MEMORY, progress: bool = False,
                  devices=None) -> np.ndarray:
    """Monte Carlo of normalised energies: ``(n_samples, M)`` for M signals."""
    m = energy_measurement(signal_lags(signals, T, boundary=boundary), J, T, scale=scale,
                           dtype=dtype)
    return mc.run(m.fn, mc.stream_key(seed, *m.tags), n_samples, *m.args,
                  bytes_per_sample=m.bytes_per_sample, max_memory=max_memory,
                  progress=progress, devices=devices, desc=f"energy J={J} T={T}")


def sample_bounds(J: int, T: int, N: int | None, n_samples: int, *, seed: int = 0,
                  scale: float = 1.0, dtype=jnp.float32, max_memory: int = mc.DEFAULT_MAX_MEMORY,
                  progress: bool = False, devices=None) -> dict:
    """Monte Carlo of frame bounds: ``{"A", "B", "kappa"}`` arrays of length n_samples."""
    m = bounds_measurement(J, T, N, scale=scale, dtype=dtype)
    return mc.run(m.fn, mc.stream_key(seed, *m.tags), n_samples,
                  bytes_per_sample=m.bytes_per_sample, max_memory=max_memory,
                  progress=progress, devices=devices, desc=f"bounds J={J} T={T}")
