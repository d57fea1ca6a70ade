r"""The Monte Carlo driver: the one place that knows about chunks, memory, devices and progress.

A *measurement* is a pure function ``fn(key) -> pytree of arrays`` that draws one random
filterbank from ``key`` and measures it. :func:`run` evaluates it for samples
:math:`i = 0 \dots S-1` with

.. math:: \mathrm{key}_i = \mathrm{fold\_in}(\mathrm{stream\_key}(\mathrm{seed}, \mathrm{tags}), i),

so sample i's random numbers depend only on (seed, measurement, i).

Reproducibility whatever the chunk size or the number of devices: samples are evaluated in
*blocks* of a fixed size that depends only on the measurement's per-sample footprint (never on
the memory budget or the device count); a chunk is a whole number of blocks per device, looped
over with ``lax.map``, and the sample axis is split over a 1-D device mesh with ``shard_map``.
Every block therefore runs the same compiled computation on the same inputs, and the results
are bit-identical for any ``max_memory`` and any number of devices.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

__all__ = [
    "stream_key",
    "sample_keys",
    "block_size",
    "plan_chunks",
    "run",
    "summarize",
    "Summary",
    "DEFAULT_MAX_MEMORY",
    "parse_memory",
]

DEFAULT_MAX_MEMORY = 2 * 1024 ** 3
_BLOCK_TARGET_BYTES = 4 * 1024 ** 2
_MAX_BLOCK = 256


def stream_key(seed: int, *tags: Any) -> jax.Array:
    """The base key of one measurement: ``fold_in(seed_key(seed), hash(tags))``.

    ``seed`` is any integer in [0, 2^64) (:func:`rfbjax.seeds.seed_key`: the same key in
    float32 and float64 mode, equal to ``PRNGKey(seed)`` for seeds below 2^32). ``tags``
    identify the random stream (e.g. ``("gaussian", J, T, scale, dtype)``); the hash is a stable
    31-bit digest of their ``repr``, identical across processes and machines.
    """
    from .seeds import seed_key

    digest = hashlib.blake2b(repr(tags).encode(), digest_size=4).digest()
    tag = int.from_bytes(digest, "little") & 0x7FFFFFFF
    return jax.random.fold_in(seed_key(seed), tag)


def sample_keys(key: jax.Array, idx: jax.Array) -> jax.Array:
    """Keys of samples ``idx``: ``fold_in(key, i)`` for each i (vectorised)."""
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, idx)


def block_size(bytes_per_sample: int) -> int:
    """Samples per block: a power of two with about 4 MiB of working set, 1…256.

    Depends only on the measurement's footprint, which is what makes results independent of
    the chunking.
    """
    b = max(1, int(_BLOCK_TARGET_BYTES // max(1, int(bytes_per_sample))))
    b = 1 << (b.bit_length() - 1)
    return int(min(_MAX_BLOCK, b))


def parse_memory(text: str | int | float) -> int:
    """'2GB', '512MB', '1.5G', '300k' or a plain number of bytes -> bytes."""
    if isinstance(text, (int, float)):
        return int(text)
    s = str(text).strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
    if s and s[-1] in mult:
        value, factor = s[:-1], mult[s[-1]]
    else:
        value, factor = s, 1
    try:
        out = int(float(value) * factor)
    except ValueError:
        raise ValueError(f"cannot read a memory size from {text!r} (try 2GB, 512MB)") from None
    if out <= 0:
        raise ValueError(f"memory size must be positive, got {text!r}")
    return out


@dataclass(frozen=True)
class ChunkPlan:
    block: int
    blocks_per_device: int
    devices: int
    n_chunks: int

    @property
    def chunk(self) -> int:
        return self.block * self.blocks_per_device * self.devices


def plan_chunks(n_samples: int, bytes_per_sample: int, out_bytes_per_sample: int,
                max_memory: int, devices: int, min_chunks: int = 1) -> ChunkPlan:
    """Choose the chunk (samples per compiled call) under the memory budget.

    Live memory per call is about ``devices * block * bytes_per_sample`` (one block per device
    at a time) plus the chunk's outputs; the chunk is the largest whole number of blocks per
    device that fits, made as equal as possible across chunks (one compilation).
    """
    block = block_size(bytes_per_sample)
    unit = block * devices
    work = devices * block * bytes_per_sample
    room = max(0, max_memory - work)
    by_memory = max(1, room // max(1, out_bytes_per_sample) // unit)
    needed_units = math.ceil(n_samples / unit)
    n_chunks = max(min(min_chunks, needed_units), math.ceil(needed_units / by_memory))
    per_chunk_units = math.ceil(needed_units / n_chunks)
    n_chunks = math.ceil(needed_units / per_chunk_units)
    return ChunkPlan(block, per_chunk_units, devices, n_chunks)


def _mesh(devices: Sequence[jax.Device] | None) -> Mesh:
    """1-D mesh over the given devices, by default every device of every process."""
    devs = list(devices) if devices is not None else jax.devices()
    return Mesh(np.array(devs), ("samples",))


def _to_host(a) -> np.ndarray:
    """A (possibly multi-process) sharded result as a full NumPy array on every process."""
    if getattr(a, "is_fully_addressable", True):
        return np.asarray(a)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(a, tiled=True))


def run(fn: Callable[..., Any], key: jax.Array, n_samples: int, *args,
        bytes_per_sample: int, out_bytes_per_sample: int | None = None,
        max_memory: int = DEFAULT_MAX_MEMORY, devices: Sequence[jax.Device] | None = None,
        progress: bool = True, desc: str = "", min_chunks: int | None = None,
        on_chunk: Callable[[int], None] | None = None):
    """Evaluate ``fn(key_i, *args)`` for ``i = 0 … n_samples-1``; returns the stacked pytree (NumPy).

    Compiled once per (fn, block, devices, argument shapes): pass data such as signal lag
    profiles through ``args`` rather than closing over them, so that calls with new data of the
    same shapes reuse the compilation.

    Args:
      fn: pure measurement ``(key, *args) -> pytree of arrays`` (one sample).
      key: the measurement's base key (:func:`stream_key`).
      n_samples: S.
      bytes_per_sample: working-set estimate of one sample (sizes the blocks and chunks).
      out_bytes_per_sample: size of one sample's outputs (default: from ``jax.eval_shape``).
      max_memory: budget in bytes for one chunk.
      devices: devices to shard the sample axis over (default: every device of every process;
        in a multi-process run — after ``jax.distributed.initialize`` — each process computes
        the blocks of its own devices and the results are gathered on every process).
      progress: show a tqdm bar (it appears only if the run lasts more than 2 seconds).
      on_chunk: called with the number of samples finished after each chunk (outer progress).
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    mesh = _mesh(devices)
    ndev = mesh.devices.size
    if out_bytes_per_sample is None:
        shapes = jax.eval_shape(fn, key, *args)
        out_bytes_per_sample = sum(int(np.prod(s.shape)) * s.dtype.itemsize
                                   for s in jax.tree_util.tree_leaves(shapes))
    plan = plan_chunks(n_samples, bytes_per_sample, out_bytes_per_sample, max_memory, ndev,
                       min_chunks=min_chunks if min_chunks is not None else (8 if progress else 1))
    sharded = _compiled(fn, plan.block, mesh, len(args))
    idx_sharding = NamedSharding(mesh, P("samples"))

    results = []
    bar = _progress(n_samples, desc, progress)
    try:
        for c in range(plan.n_chunks):
            start = c * plan.chunk
            host_idx = np.arange(start, start + plan.chunk, dtype=np.uint32)
            idx = jax.make_array_from_callback(host_idx.shape, idx_sharding,
                                               lambda sl: host_idx[sl])
            out = jax.tree_util.tree_map(_to_host, sharded(key, idx, *args))
            results.append(out)
            done = min(plan.chunk, n_samples - start)
            if bar is not None:
                bar.update(done)
            if on_chunk is not None:
                on_chunk(done)
    finally:
        if bar is not None:
            bar.close()
    stacked = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=0)[:n_samples], *results)
    return stacked


_COMPILED: dict = {}


def _compiled(fn, block: int, mesh: Mesh, n_args: int):
    """The jitted, sharded chunk function for one measurement (cached: compile once)."""
    cache_key = (fn, block, tuple(d.id for d in mesh.devices.flat), n_args)
    hit = _COMPILED.get(cache_key)
    if hit is not None:
        return hit

    def local(key, idx, *args):
        blocks = idx.reshape(-1, block)
        out = jax.lax.map(lambda ib: jax.vmap(lambda k: fn(k, *args))(sample_keys(key, ib)),
                          blocks)
        return jax.tree_util.tree_map(lambda a: a.reshape((-1,) + a.shape[2:]), out)

    specs = (P(), P("samples")) + (P(),) * n_args
    compiled = jax.jit(jax.shard_map(local, mesh=mesh, in_specs=specs, out_specs=P("samples")))
    if len(_COMPILED) > 256:
        _COMPILED.clear()
    _COMPILED[cache_key] = compiled
    return compiled


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc or "samples", unit="sample", delay=2.0, leave=False)


@dataclass(frozen=True)
class Summary:
    """Monte Carlo summary of one scalar measurement over S samples.

    ``se`` is the standard error of the mean, :math:`s/\\sqrt S`; ``se_var`` the standard error
    of the unbiased sample variance, :math:`\\sqrt{(m_4 - s^4 (S-3)/(S-1))/S}` with :math:`m_4`
    the fourth central sample moment. ``n_inf`` counts infinite samples (e.g. :math:`\\kappa`
    with A = 0); the moments are then infinite (or NaN for the spread) as they should be.
    """

    n: int
    mean: float
    var: float
    std: float
    se: float
    se_var: float
    quantiles: dict = field(default_factory=dict)
    n_inf: int = 0


def summarize(samples, quantiles: Sequence[float] = (0.05, 0.95)) -> Summary:
    """Mean, variance, standard errors and quantiles of a 1-D sample (computed in float64)."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    n = x.size
    if n < 2:
        raise ValueError("need at least 2 samples to summarise")
    n_inf = int(np.sum(np.isinf(x)))
    with np.errstate(invalid="ignore"):
        qv = np.quantile(x, list(quantiles)) if quantiles else np.array([])
    qv = np.where(np.isnan(qv), np.inf, qv)  # interpolating towards an infinite sample
    qs = {float(q): float(v) for q, v in zip(quantiles, qv)}
    if n_inf:
        return Summary(n, float("inf"), float("nan"), float("nan"), float("nan"), float("nan"),
                       qs, n_inf)
    mean = float(np.mean(x))
    d = x - mean
    var = float(np.sum(d * d) / (n - 1))
    m4 = float(np.mean(d ** 4))
    se_var = math.sqrt(max(0.0, (m4 - var ** 2 * (n - 3) / (n - 1)) / n))
    std = math.sqrt(var)
    return Summary(n, mean, var, std, std / math.sqrt(n), se_var, qs, 0)
