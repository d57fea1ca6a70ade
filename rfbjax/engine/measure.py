r"""Measurements: per-sample pure functions (draw one filterbank, measure it) and their Monte Carlo.

Each ``*_measurement`` returns the pieces the driver (`rfbjax.engine.montecarlo`) needs: a
function ``key -> outputs`` for one sample, the tags of its random stream and a per-sample
memory estimate. The stream tags name the *filterbank distribution* only — ``("filterbank",
init, J, T, scale, dtype)`` — so the energy and the frame bounds of the same (seed, J, T) are
measured on the same draws. Non-default initialisers and strides add to the tags
(``init`` is already there; ``("stride", d)`` and ``("rescale",)`` are appended only when not
default), so the default streams are unchanged and different settings never share draws.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import jax
import jax.numpy as jnp

from . import montecarlo as mc
from ..kernels.autocorr import fft_size, filterbank_autocorr, lag_profile, signal_autocorr
from ..kernels.energy import energy_response
from ..kernels import initializers as inits
from ..kernels.filters import gaussian_filterbank
from ..kernels.frames import circular_frame_bounds, condition_number, linear_frame_bounds
from ..kernels.strided import check_stride, strided_energy, strided_frame_bounds, stride_support

__all__ = ["Measurement", "filterbank_tags", "energy_measurement", "bounds_measurement",
           "strided_energy_measurement", "sample_energy", "sample_bounds", "prepare_energy",
           "prepare_bounds"]


@dataclass(frozen=True)
class Measurement:
    """``fn(key, *args)`` measures one random filterbank; ``args`` are the data it needs."""

    fn: Callable
    tags: tuple
    bytes_per_sample: int
    args: tuple = ()


def filterbank_tags(J: int, T: int, scale: float, dtype, init: str = "gaussian",
                    stride: int = 1, rescale: bool = False) -> tuple:
    tags = ("filterbank", init, int(J), int(T), float(scale), jnp.dtype(dtype).name)
    if int(stride) != 1:
        tags += ("stride", int(stride))
    if rescale:
        tags += ("rescale",)
    return tags


def _is_default(init: str, stride: int) -> bool:
    return init == "gaussian" and int(stride) == 1


def energy_measurement(R_lags, J: int, T: int, *, scale: float = 1.0,
                       dtype=jnp.float32, init: str = "gaussian",
                       rescale: bool = False) -> Measurement:
    r"""Normalised energies $\|\Phi x_m\|^2/\|x_m\|^2$ of M signals for one filterbank (stride 1).

    Args:
      R_lags: ``(M, T)`` lag profiles of the signals (`rfbjax.kernels.autocorr.lag_profile`).
      init: an initialiser with T-tap filters (`rfbjax.kernels.initializers`); ``tight`` and
        strides go through `strided_energy_measurement`.
    """
    R = np.asarray(R_lags, dtype=jnp.dtype(dtype))   # NumPy: no eager cast to compile
    if _is_default(init, 1):
        fn = _energy_fn(J, T, float(scale), jnp.dtype(dtype).name)
        tags = filterbank_tags(J, T, scale, dtype)
    else:
        rescale = inits.effective_rescale(init, rescale)
        fn = _energy_init_fn(J, T, float(scale), jnp.dtype(dtype).name, init, rescale)
        tags = filterbank_tags(J, T, scale, dtype, init, 1, rescale)
    return Measurement(fn, tags, energy_sample_bytes(J, T, dtype), (R,))


def energy_sample_bytes(J: int, T: int, dtype=jnp.float32, *, stride: int = 1, N: int = 0,
                        M: int = 1) -> int:
    """Working set of one energy sample: the taps and their FFTs (stride 1), or with a stride
    (group length N, M signals) J FFTs of length N and the per-signal products."""
    itemsize = jnp.dtype(dtype).itemsize
    if int(stride) == 1 and not N:
        return itemsize * (J * T + 3 * J * fft_size(2 * T - 1))
    return itemsize * (J * max(T, N) + 2 * J * N * (3 + 2 * M))


@functools.lru_cache(maxsize=None)
def _energy_init_fn(J, T, scale, dtype, init, rescale):
    def fn(key, R):
        w = inits.draw(init, key, J, T, dtype=dtype, scale=scale, rescale=rescale)
        return energy_response(filterbank_autocorr(w), R) / R[:, 0]

    return fn


def strided_energy_measurement(X, r0, N: int, J: int, T: int, *, stride: int = 1,
                               scale: float = 1.0, dtype=jnp.float32, init: str = "gaussian",
                               rescale: bool = False) -> Measurement:
    r"""Normalised energies with stride d (every d-th output kept) of M signals on $\mathbb Z_N$.

    The frequency route of `rfbjax.kernels.strided.strided_energy`: J FFTs of length N per
    filterbank, then a multiply-and-alias-sum per signal. Also serves ``tight`` (N-tap filters).

    Args:
      X: ``(M, N)`` complex DFTs of the signals (zero-padded for linear convolution, see
        `rfbjax.kernels.strided.stride_support`).
      r0: ``(M,)`` their energies.
    """
    cdtype = np.result_type(jnp.dtype(dtype), np.complex64)
    X = np.asarray(X, dtype=cdtype)   # NumPy: the driver moves it, nothing compiled eagerly
    r0 = np.asarray(r0, dtype=jnp.dtype(dtype))
    rescale = inits.effective_rescale(init, rescale)
    fn = _strided_energy_fn(J, T, N, int(stride), float(scale), jnp.dtype(dtype).name, init,
                            rescale)
    return Measurement(fn, filterbank_tags(J, T, scale, dtype, init, stride, rescale),
                       energy_sample_bytes(J, T, dtype, stride=stride, N=N, M=X.shape[0]),
                       (X, r0))


@functools.lru_cache(maxsize=None)
def _strided_energy_fn(J, T, N, stride, scale, dtype, init, rescale):
    def fn(key, X, r0):
        w = inits.draw(init, key, J, T, dtype=dtype, stride=stride, scale=scale, rescale=rescale,
                       N=N)
        return strided_energy(w, X, stride) / r0

    return fn


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


@functools.lru_cache(maxsize=None)
def _bounds_init_fn(J, T, N, scale, dtype, init, stride, rescale):
    def fn(key):
        w = inits.draw(init, key, J, T, dtype=dtype, stride=stride, scale=scale, rescale=rescale,
                       N=N)
        if N is None:
            A, B = linear_frame_bounds(filterbank_autocorr(w))
        else:
            A, B = strided_frame_bounds(w, N, stride)
        return {"A": A, "B": B, "kappa": condition_number(A, B)}

    return fn


def bounds_measurement(J: int, T: int, N: int | None, *, scale: float = 1.0,
                       dtype=jnp.float32, init: str = "gaussian", stride: int = 1,
                       rescale: bool = False) -> Measurement:
    """Frame bounds A, B and kappa of one filterbank; ``N=None`` means linear (l2(Z)).

    ``stride`` d > 1 (circular only, d | N) uses the polyphase eigenvalues
    (`rfbjax.kernels.strided.strided_frame_bounds`); ``init`` names an initialiser of
    `rfbjax.kernels.initializers`. The defaults (Gaussian, stride 1) are the original measurement.
    """
    itemsize = jnp.dtype(dtype).itemsize
    L = fft_size(2 * T - 1)
    grid = N if N is not None else 8 * T
    work = J * T + 3 * J * max(L, grid) + 3 * grid
    if _is_default(init, stride):
        fn = _bounds_fn(J, T, N, float(scale), jnp.dtype(dtype).name)
        return Measurement(fn, filterbank_tags(J, T, scale, dtype), itemsize * work)
    inits.validate(init, J, stride=stride, N=N, T=T)
    if int(stride) != 1:
        if N is None:
            raise ValueError("strided frame bounds need circular convolution (N)")
        check_stride(N, stride)
        K = min(J, int(stride))
        work += 3 * J * N + 4 * (N // (2 * int(stride)) + 1) * K * K   # spectra, G, Gram
    if not inits.get(init).t_taps:
        work += 4 * J * N
    rescale = inits.effective_rescale(init, rescale)
    fn = _bounds_init_fn(J, T, N, float(scale), jnp.dtype(dtype).name, init, int(stride), rescale)
    return Measurement(fn, filterbank_tags(J, T, scale, dtype, init, stride, rescale),
                       itemsize * work)


def signal_lags(signals, T: int, *, boundary: str = "circular", dtype=np.float64) -> np.ndarray:
    """``(M, T)`` lag profiles of a list of 1-D signals (any lengths), in float64 by default.

    Computed in NumPy float64 whatever ``jax_enable_x64`` says (they feed the exact theory; and
    NumPy compiles nothing, where eager JAX would compile every op for every new shape), then
    cast to ``dtype``.
    """
    rows = [lag_profile(signal_autocorr(np.asarray(x, dtype=np.float64), boundary=boundary), T,
                        boundary=boundary) for x in signals]
    return np.stack(rows).astype(dtype)


def sample_energy(signals, J: int, T: int, n_samples: int, **options) -> np.ndarray:
    """Monte Carlo of normalised energies: ``(n_samples, M)`` for M signals.

    ``prepare_energy(signals, J, T, n_samples, **options).result()``; see `prepare_energy`.
    """
    return prepare_energy(signals, J, T, n_samples, **options).result()


class _Groups:
    """Monte Carlo jobs of signal groups whose results fill the columns of one array."""

    def __init__(self, n_samples: int, M: int, dtype, jobs):
        self.n_samples, self.M, self.dtype, self.jobs = n_samples, M, dtype, jobs

    def cancel(self) -> None:
        mc.cancel(job for _, job in self.jobs)

    def start(self) -> "_Groups":
        for _, job in self.jobs:
            job.start()
        return self

    def result(self) -> np.ndarray:
        out = np.empty((self.n_samples, self.M), dtype=self.dtype)
        for idx, job in self.jobs:
            out[:, idx] = job.result()
        return out


def prepare_energy(signals, J: int, T: int, n_samples: int, *, seed: int = 0,
                   boundary: str = "circular", scale: float = 1.0, dtype=jnp.float32,
                   max_memory: int = mc.DEFAULT_MAX_MEMORY, progress: bool = False,
                   devices=None, init: str = "gaussian", stride: int = 1,
                   rescale: bool = False, on_chunk=None):
    """Prepare the Monte Carlo of normalised energies (`rfbjax.engine.montecarlo.prepare`).

    Its ``result()`` is the ``(n_samples, M)`` array for M signals. ``on_chunk(n)`` is told the
    samples finished as they finish (an outer progress bar); with several groups (below) each
    group reports its share, so the total is still n_samples.

    With ``stride`` d > 1 (every d-th output kept) or an initialiser whose filters are not T
    taps (``tight``), the signals are grouped by the length of the group they live on (N, or the
    zero-padded length for linear convolution, `rfbjax.kernels.strided.stride_support`) and each
    group runs the frequency-route measurement; the filterbank of sample i is the same in every
    group (same tags).
    """
    if int(stride) == 1 and inits.get(init).t_taps:
        m = energy_measurement(signal_lags(signals, T, boundary=boundary), J, T, scale=scale,
                               dtype=dtype, init=init, rescale=rescale)
        return mc.prepare(m.fn, mc.stream_key(seed, *m.tags), n_samples, *m.args,
                          bytes_per_sample=m.bytes_per_sample, max_memory=max_memory,
                          progress=progress, devices=devices, desc=f"energy J={J} T={T}",
                          on_chunk=on_chunk)
    if inits.get(init).family == "tight" and boundary != "circular":
        inits.validate(init, J, stride=stride, N=None)
    supports = [stride_support(x, T, stride, boundary) for x in signals]
    groups: dict = {}
    for m_idx, xs in enumerate(supports):
        groups.setdefault(xs.shape[0], []).append(m_idx)
    share = None if on_chunk is None else (lambda n: on_chunk(n / len(groups)))
    jobs = []
    for N, idx in groups.items():
        inits.validate(init, J, stride=stride, N=N, T=T)
        xs = np.stack([supports[i] for i in idx])
        X = np.fft.fft(xs, axis=-1)
        m = strided_energy_measurement(X, np.sum(xs * xs, axis=-1), N, J, T, stride=stride,
                                       scale=scale, dtype=dtype, init=init, rescale=rescale)
        jobs.append((idx, mc.prepare(m.fn, mc.stream_key(seed, *m.tags), n_samples, *m.args,
                                     bytes_per_sample=m.bytes_per_sample,
                                     max_memory=max_memory, progress=progress,
                                     devices=devices, desc=f"energy J={J} T={T} d={stride}",
                                     on_chunk=share)))
    return _Groups(n_samples, len(supports), jnp.dtype(dtype), jobs)


def sample_bounds(J: int, T: int, N: int | None, n_samples: int, **options) -> dict:
    """Monte Carlo of frame bounds: ``{"A", "B", "kappa"}`` arrays of length n_samples.

    ``prepare_bounds(J, T, N, n_samples, **options).result()``; see `prepare_bounds`.
    """
    return prepare_bounds(J, T, N, n_samples, **options).result()


def prepare_bounds(J: int, T: int, N: int | None, n_samples: int, *, seed: int = 0,
                   scale: float = 1.0, dtype=jnp.float32, max_memory: int = mc.DEFAULT_MAX_MEMORY,
                   progress: bool = False, devices=None, init: str = "gaussian", stride: int = 1,
                   rescale: bool = False, on_chunk=None) -> mc.Job:
    """Prepare the Monte Carlo of frame bounds (`rfbjax.engine.montecarlo.prepare`).

    ``result()`` gives ``{"A", "B", "kappa"}`` arrays of length n_samples; ``on_chunk(n)`` is
    told the samples finished as they finish (an outer progress bar)."""
    m = bounds_measurement(J, T, N, scale=scale, dtype=dtype, init=init, stride=stride,
                           rescale=rescale)
    return mc.prepare(m.fn, mc.stream_key(seed, *m.tags), n_samples,
                      bytes_per_sample=m.bytes_per_sample, max_memory=max_memory,
                      progress=progress, devices=devices, desc=f"bounds J={J} T={T}",
                      on_chunk=on_chunk)
