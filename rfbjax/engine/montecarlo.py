r"""The Monte Carlo driver: the one place that knows about chunks, memory, devices and progress.

A *measurement* is a pure function ``fn(key) -> pytree of arrays`` that draws one random
filterbank from ``key`` and measures it. `run` evaluates it for samples
$i = 0 \dots S-1$ with

$$
\mathrm{key}_i = \mathrm{fold\_in}(\mathrm{stream\_key}(\mathrm{seed}, \mathrm{tags}), i),
$$

so sample i's random numbers depend only on (seed, measurement, i).

Reproducibility whatever the chunk size or the number of devices: samples are evaluated in
*blocks* of a fixed size that depends only on the measurement's per-sample footprint (never on
the memory budget or the device count); a chunk is a whole number of blocks per device, looped
over with ``lax.map``, and the sample axis is split over a 1-D device mesh with ``shard_map``.
Every block therefore runs the same compiled computation on the same inputs, and the results
are bit-identical for any ``max_memory`` and any number of devices.

Block policy (`choose_block_policy`): on CPU a block holds about 4 MiB of working set (cache
sized, 1…256 samples); on a GPU or TPU about 256 MiB (at most 1/16 of the device's memory;
1…8192 samples), so that one ``lax.map`` step keeps the device busy with many thousands of
filter spectra. The policy follows the platform of the devices; ``RFBJAX_BLOCK_POLICY=accelerator``
(or ``cpu``), or the ``block_policy`` argument of `run`, forces one. Numbers are
bit-identical within one policy; across policies they agree to float tolerance (another batch
size may change XLA's summation order).

Compiled programs persist across processes (`rfbjax.engine.compile_cache`): the driver's
programs are exported with `jax.export` once and reloaded by later runs without tracing.
Within a process, `prepare` traces a run's program and hands its compilation to a
background thread; a table of runs (every T of ``energy`` or ``bounds``, the cells of a sweep)
prepares them all before running the first, so compilations overlap each other, the tracing
and the Monte Carlo. On CPU the programs are compiled with faster XLA options
(`compile_options`).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import weakref
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from ..base.memory import DEFAULT_MAX_MEMORY, parse_memory  # noqa: F401  (part of this module's API)

__all__ = [
    "stream_key",
    "sample_keys",
    "block_size",
    "choose_block_policy",
    "plan_chunks",
    "run",
    "prepare",
    "Job",
    "compile_options",
    "cancel",
    "cancelling",
    "cancel_all",
    "start_all",
    "summarize",
    "Summary",
    "DEFAULT_MAX_MEMORY",
    "parse_memory",
]

#: policy -> (target working set of one block in bytes, largest block)
_POLICIES = {"cpu": (4 * 1024 ** 2, 256), "accelerator": (256 * 1024 ** 2, 8192)}
_BLOCK_TARGET_BYTES, _MAX_BLOCK = _POLICIES["cpu"]


def stream_key(seed: int, *tags: Any) -> np.ndarray:
    """The base key of one measurement: ``fold_in(seed_key(seed), hash(tags))``, as NumPy ``uint32[2]``.

    ``seed`` is any integer in [0, 2^64) (`rfbjax.engine.seeds.seed_key`: the same key in
    float32 and float64 mode, equal to ``PRNGKey(seed)`` for seeds below 2^32). ``tags``
    identify the random stream (e.g. ``("gaussian", J, T, scale, dtype)``); the hash is a stable
    31-bit digest of their ``repr``, identical across processes and machines.
    Computed on the host (`rfbjax.engine.seeds.fold_in_words`, the same words as
    ``jax.random.fold_in``), so that deriving it compiles nothing.
    """
    from .seeds import fold_in_words, seed_words

    digest = hashlib.blake2b(repr(tags).encode(), digest_size=4).digest()
    tag = int.from_bytes(digest, "little") & 0x7FFFFFFF
    return fold_in_words(seed_words(seed), tag)


def sample_keys(key: jax.Array, idx: jax.Array) -> jax.Array:
    """Keys of samples ``idx``: ``fold_in(key, i)`` for each i (vectorised)."""
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, idx)


def choose_block_policy(devices: Sequence[jax.Device] | None = None,
                        policy: str | None = None) -> str:
    """``"cpu"`` or ``"accelerator"``: the argument, else ``RFBJAX_BLOCK_POLICY``, else the platform.

    ``auto`` (the default) picks ``cpu`` for CPU devices and ``accelerator`` for GPU/TPU.
    """
    choice = policy or os.environ.get("RFBJAX_BLOCK_POLICY", "auto")
    choice = choice.strip().lower()
    if choice == "auto":
        devs = list(devices) if devices is not None else jax.devices()
        return "cpu" if devs[0].platform == "cpu" else "accelerator"
    if choice not in _POLICIES:
        raise ValueError(f"block policy must be auto, cpu or accelerator, got {choice!r} "
                         "(RFBJAX_BLOCK_POLICY)")
    return choice


def _device_memory(devices) -> int | None:
    try:
        stats = (list(devices) if devices is not None else jax.devices())[0].memory_stats()
        return int(stats["bytes_limit"]) if stats and "bytes_limit" in stats else None
    except Exception:
        return None


def block_size(bytes_per_sample: int, policy: str = "cpu",
               device_memory: int | None = None) -> int:
    """Samples per block: the largest power of two whose working set fits the policy's target.

    ``cpu``: about 4 MiB (1…256 samples); ``accelerator``: about 256 MiB, or 1/16 of
    ``device_memory`` if that is smaller (1…8192 samples). Depends only on the measurement's
    footprint and the policy (not on the memory budget or the device count), which is what
    makes results independent of the chunking.
    """
    target, largest = _POLICIES[policy]
    if device_memory:
        target = min(target, int(device_memory) // 16)
    b = max(1, int(target // max(1, int(bytes_per_sample))))
    b = 1 << (b.bit_length() - 1)
    return int(min(largest, b))


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
                max_memory: int, devices: int, min_chunks: int = 1, *,
                block: int | None = None) -> ChunkPlan:
    """Choose the chunk (samples per compiled call) under the memory budget.

    Live memory per call is about ``devices * block * bytes_per_sample`` (one block per device
    at a time) plus the chunk's outputs; the chunk is the largest whole number of blocks per
    device that fits, made as equal as possible across chunks (one compilation). ``block``
    defaults to the CPU policy's `block_size`.
    """
    block = block if block is not None else block_size(bytes_per_sample)
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


def run(fn: Callable[..., Any], key, n_samples: int, *args, **options):
    """Evaluate ``fn(key_i, *args)`` for ``i = 0 … n_samples-1``; returns the stacked pytree (NumPy).

    ``prepare(fn, key, n_samples, *args, **options).result()``: see `prepare` for the
    arguments. To overlap the compilations of several runs, `prepare` them all first.
    """
    return prepare(fn, key, n_samples, *args, **options).result()


def prepare(fn: Callable[..., Any], key, n_samples: int, *args,
            bytes_per_sample: int, out_bytes_per_sample: int | None = None,
            max_memory: int = DEFAULT_MAX_MEMORY, devices: Sequence[jax.Device] | None = None,
            progress: bool = True, desc: str = "", min_chunks: int | None = None,
            on_chunk: Callable[[int], None] | None = None, block_policy: str | None = None,
            block: int | None = None) -> "Job":
    """Plan and start compiling one Monte Carlo run; `Job.result` evaluates it.

    The program is traced and lowered here, in the calling thread, and compiled in a
    background thread (`compile_options`), so that preparing the runs of a table one
    after the other compiles their programs in parallel with each other and with the
    tracing. Compiled once per (fn, block, devices, argument shapes), and kept across
    processes (`rfbjax.engine.compile_cache`): pass data such as signal lag profiles through
    ``args`` rather than closing over them, so that calls with new data of the same shapes
    reuse the compilation.

    Args:
      fn: pure measurement ``(key, *args) -> pytree of arrays`` (one sample).
      key: the measurement's base key (`stream_key`).
      n_samples: S.
      bytes_per_sample: working-set estimate of one sample (sizes the blocks and chunks).
      out_bytes_per_sample: size of one sample's outputs (default: from ``jax.eval_shape``,
        remembered across processes with the compiled program).
      max_memory: budget in bytes for one chunk.
      devices: devices to shard the sample axis over (default: every device of every process;
        in a multi-process run — after ``jax.distributed.initialize`` — each process computes
        the blocks of its own devices and the results are gathered on every process). On CPU
        a measurement that calls LAPACK uses one device per process (`_safe_devices`).
      progress: show a tqdm bar (it appears only if the run lasts more than 2 seconds).
      on_chunk: called with the number of samples finished after each chunk (outer progress).
      block_policy: ``"cpu"``, ``"accelerator"`` or ``"auto"`` (default: ``RFBJAX_BLOCK_POLICY``,
        else by platform; see `choose_block_policy`).
      block: force the samples per block (benchmarks of the block size only: another block
        may change the numbers to float tolerance).
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    from . import compile_cache

    compile_cache.enable()
    key = np.asarray(key, dtype=np.uint32)
    avals = _avals((key,) + tuple(args))
    out_bytes, lapack = _sample_facts(fn, key, args, avals)
    mesh = _mesh(_safe_devices(devices, lapack))
    ndev = mesh.devices.size
    if block is None:
        policy = choose_block_policy(list(mesh.devices.flat), block_policy)
        block = block_size(bytes_per_sample, policy,
                           _device_memory(mesh.devices.flat) if policy == "accelerator" else None)
        if policy == "accelerator":  # no block much larger than the whole run
            block = min(block, 1 << max(0, (int(n_samples) - 1).bit_length()))
    elif block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    if out_bytes_per_sample is None:
        out_bytes_per_sample = out_bytes
    if min_chunks is None:
        min_chunks = 8 if (progress or on_chunk is not None) else 1
    plan = plan_chunks(n_samples, bytes_per_sample, out_bytes_per_sample, max_memory, ndev,
                       min_chunks=min_chunks, block=block)
    program = _program(fn, plan.block, mesh, plan.chunk, avals, key, args)
    return Job(program, plan, mesh, key, tuple(args), int(n_samples), desc, bool(progress),
               on_chunk)


@dataclass(eq=False)
class Job:
    """A prepared Monte Carlo run (`prepare`): its plan and its program being compiled."""

    program: Any
    plan: ChunkPlan
    mesh: Mesh
    key: np.ndarray
    args: tuple
    n_samples: int
    desc: str = ""
    progress: bool = False
    on_chunk: Callable[[int], None] | None = None
    _started: Any = None
    _cancelled: bool = False

    def cancel(self) -> None:
        """Stop this job: a started job that has not begun never runs; a running one stops
        after its current chunk (its `result` then raises ``CancelledError``)."""
        self._cancelled = True
        if self._started is not None:
            self._started.cancel()

    def start(self) -> "Job":
        """Run in the background as soon as the program is compiled; `result` waits.

        Started jobs run one at a time, in the order they were started (one chunk in memory at
        a time, as in the foreground), on a thread that mostly waits for the devices, so the
        caller can go on preparing the next runs meanwhile. In a multi-process run (several
        hosts) nothing runs in the background: the processes' collectives must come in the
        same order, so every compilation and run stays in the calling thread.
        """
        if self._started is None and jax.process_count() == 1:
            self._started = _runner().submit(self._run)
            _STARTED.add(self)
        return self

    def result(self):
        """The stacked pytree of outputs (NumPy): waits for a started job, else runs it here."""
        if self._started is not None:
            return self._started.result()
        return self._run()

    def _run(self):
        program = self.program.result() if isinstance(self.program, Future) else self.program
        plan, n_samples = self.plan, self.n_samples
        idx_sharding = NamedSharding(self.mesh, P("samples"))
        results = []
        bar = _progress(n_samples, self.desc, self.progress)
        try:
            for c in range(plan.n_chunks):
                if self._cancelled:
                    raise CancelledError(f"Monte Carlo run {self.desc or ''} cancelled")
                start = c * plan.chunk
                host_idx = np.arange(start, start + plan.chunk, dtype=np.uint32)
                idx = jax.make_array_from_callback(host_idx.shape, idx_sharding,
                                                   lambda sl: host_idx[sl])
                out = jax.tree_util.tree_map(_to_host, program(self.key, idx, *self.args))
                results.append(out)
                done = min(plan.chunk, n_samples - start)
                if bar is not None:
                    bar.update(done)
                if self.on_chunk is not None:
                    self.on_chunk(done)
        finally:
            if bar is not None:
                bar.close()
        return jax.tree_util.tree_map(
            lambda *xs: np.concatenate(xs, axis=0)[:n_samples], *results)


#: XLA options of the driver's programs on CPU (see `compile_options`)
CPU_FAST_COMPILE = {"xla_backend_optimization_level": 1, "xla_cpu_use_fusion_emitters": False}


def compile_options(platform: str) -> dict:
    """XLA compile options of the driver's programs on ``platform``.

    On CPU, compiling dominates a cold run (every filter length is its own program, and the
    threefry rounds of the Gaussian draw are what LLVM spends its time on): LLVM's level-1
    pipeline without XLA's new fusion emitters compiles these programs 2–3× faster and runs
    them within a few per cent (``scripts/bench.py --process``; the numbers were bit-identical
    in every program measured). ``RFBJAX_FAST_COMPILE=0`` restores XLA's defaults, e.g. for
    runs of hours. Accelerators keep their defaults. The options are part of the compilation
    cache's key, so switching never mixes programs.
    """
    if platform != "cpu":
        return {}
    if os.environ.get("RFBJAX_FAST_COMPILE", "1").strip().lower() in ("0", "off", "false", "no"):
        return {}
    return dict(CPU_FAST_COMPILE)


_STARTED: "weakref.WeakSet[Job]" = weakref.WeakSet()


def cancel_all() -> None:
    """Cancel every started job of this process that has not finished (the command line does
    this when a command stops on an error or Ctrl-C)."""
    cancel(list(_STARTED))


def cancel(jobs) -> None:
    """Cancel every job of ``jobs`` (`Job.cancel`; objects without ``cancel`` are skipped):
    what a table does when it stops early, so that no started run goes on in the background."""
    for job in jobs:
        stop = getattr(job, "cancel", None)
        if stop is not None:
            stop()


@contextlib.contextmanager
def cancelling(jobs):
    """Within this block, an exception (or Ctrl-C) cancels ``jobs`` (a list, or a dict's values)
    before it propagates: no started run is left going on in the background."""
    try:
        yield
    except BaseException:
        cancel(jobs.values() if isinstance(jobs, dict) else jobs)
        raise


def start_all(prepare_one: Callable[..., Any], settings) -> dict:
    """``{setting: prepare_one(*setting).start()}`` for a table of runs: every program traced
    here, compiled in the background and run as soon as it is ready (one run at a time, in
    order) while the next is traced. If preparing one fails, the runs already started are
    cancelled; collect them inside `cancelling` for the same guarantee afterwards."""
    jobs: dict = {}
    with cancelling(jobs):
        for setting in settings:
            jobs[setting] = prepare_one(*setting).start()
    return jobs


_POOLS: dict = {}


def _pool(name: str, workers: int):
    if name not in _POOLS:
        _POOLS[name] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"rfbjax-{name}")
    return _POOLS[name]


def _runner():
    """The thread that runs started jobs (`Job.start`), one at a time, in order."""
    return _pool("run", 1)


def _compile_pool():
    """Threads that compile programs in the background (XLA releases the GIL while compiling)."""
    return _pool("compile", max(1, min(4, os.cpu_count() or 1)))


def _avals(values) -> tuple:
    """(shape, dtype) of each argument: the static facts a compiled program depends on."""
    return tuple((tuple(int(d) for d in np.shape(v)), str(getattr(v, "dtype", np.asarray(v).dtype)))
                 for v in values)


_FACTS: dict = {}


#: primitives that JAX lowers to LAPACK/BLAS kernels on CPU (see `_safe_devices`)
_LAPACK_PRIMITIVES = frozenset({
    "eigh", "eig", "svd", "cholesky", "cholesky_update", "lu", "qr", "geqrf", "geqp3",
    "householder_product", "triangular_solve", "schur", "hessenberg", "tridiagonal",
    "tridiagonal_solve"})


def _primitives(jaxpr) -> set:
    """Names of every primitive in a jaxpr, sub-jaxprs (loops, conds, calls) included."""
    names: set = set()
    stack = [jaxpr]
    while stack:
        jx = stack.pop()
        jx = getattr(jx, "jaxpr", jx)            # a ClosedJaxpr holds its Jaxpr
        for eqn in jx.eqns:
            names.add(eqn.primitive.name)
            for v in eqn.params.values():
                for u in (v if isinstance(v, (tuple, list)) else (v,)):
                    if hasattr(u, "eqns") or hasattr(getattr(u, "jaxpr", None), "eqns"):
                        stack.append(u)
    return names


def _sample_facts(fn, key, args, avals) -> tuple[int, bool]:
    """Bytes of one sample's outputs and whether the sample calls LAPACK, from one trace of
    ``fn``; remembered on disk, so a warm run traces nothing."""
    from . import compile_cache

    memo = (fn, avals)
    if memo in _FACTS:
        return _FACTS[memo]
    pkey = (compile_cache.program_key(fn, "montecarlo.sample_facts/v2", avals)
            if compile_cache.active() else None)
    meta = compile_cache.load_meta(pkey)
    if (meta is not None and isinstance(meta.get("out_bytes"), int)
            and isinstance(meta.get("lapack"), bool)):
        facts = (meta["out_bytes"], meta["lapack"])
    else:
        jaxpr, shapes = jax.make_jaxpr(fn, return_shape=True)(key, *args)
        out = sum(int(np.prod(s.shape)) * s.dtype.itemsize
                  for s in jax.tree_util.tree_leaves(shapes))
        facts = (int(out), bool(_primitives(jaxpr) & _LAPACK_PRIMITIVES))
        compile_cache.store_meta(pkey, {"out_bytes": facts[0], "lapack": facts[1]})
    _FACTS[memo] = facts
    return facts


def run_devices(fn: Callable[..., Any], *args, devices: Sequence[jax.Device] | None = None
                ) -> list:
    """The devices a run of ``fn`` (arguments ``args``, as for `prepare`) is sharded over:
    ``devices`` (default: every device of every process), or one per process on CPU when the
    measurement calls LAPACK (`_safe_devices`). Memory plans use it to size the smallest
    chunk as the run will."""
    key = np.zeros(2, dtype=np.uint32)
    _, lapack = _sample_facts(fn, key, args, _avals((key,) + tuple(args)))
    return _safe_devices(devices, lapack)


def _safe_devices(devices, lapack: bool):
    """The devices to shard over: all of them, except that a CPU program calling LAPACK runs
    on one device per process.

    jaxlib's batched LAPACK kernels (eigvalsh of many matrices, …) split the batch over XLA's
    CPU thread pool and wait for the pieces, from a thread of that same pool. With one CPU
    device per core (``--xla_force_host_platform_device_count``, which the command line sets)
    every pool thread can be such a waiting kernel, and nothing is left to run the pieces: the
    run hangs for ever (seen with ``rfbjax bounds --J 2 --stride 4`` on 2 cores, jaxlib
    0.10.2). With one device the driver's programs run one LAPACK call at a time, which
    leaves the other threads free. The numbers do not depend on the device count.
    """
    devs = list(devices) if devices is not None else jax.devices()
    if not lapack or len(devs) == 1 or devs[0].platform != "cpu":
        return devs
    first: dict = {}
    for d in devs:
        first.setdefault(d.process_index, d)
    return list(first.values())


_PROGRAMS: dict = {}


def _program(fn, block: int, mesh: Mesh, chunk: int, avals: tuple, key, args):
    """The chunk program for these shapes, being compiled (a future of a compiled callable).

    Reloaded from the export cache, or traced and stored; lowered here and compiled in the
    background pool with `compile_options`. The plain jitted function is lowered instead
    when the cache is off, the function cannot be named safely, the run spans several
    processes, or the export fails; the numbers are the same either way.
    """
    from . import compile_cache

    dev_ids = tuple(d.id for d in mesh.devices.flat)
    options = compile_options(mesh.devices.flat[0].platform)
    memo = (fn, block, dev_ids, chunk, avals, tuple(sorted(options.items())))
    hit = _PROGRAMS.get(memo)
    if hit is not None:
        return hit
    jitted = _compiled(fn, block, mesh, len(args))
    idx_spec = jax.ShapeDtypeStruct((chunk,), np.uint32, sharding=NamedSharding(mesh, P("samples")))
    specs = [jax.ShapeDtypeStruct(np.shape(v), getattr(v, "dtype", None) or np.asarray(v).dtype)
             for v in (key,) + tuple(args)]
    specs = [specs[0], idx_spec] + specs[1:]
    pkey = compile_cache.program_key(fn, "montecarlo.run/v1", block, len(dev_ids), chunk, avals)
    lowered = compile_cache.lower(jitted, specs, pkey if jax.process_count() == 1 else None)
    if jax.process_count() == 1:
        program = _compile_pool().submit(lowered.compile, options)
    else:   # several processes: every compilation and run in one thread, in the same order
        program = lowered.compile(options)
    if len(_PROGRAMS) > 256:
        _PROGRAMS.clear()
    _PROGRAMS[memo] = program
    return program


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
    r"""Monte Carlo summary of one scalar measurement over S samples.

    ``se`` is the standard error of the mean, $s/\sqrt S$; ``se_var`` the standard error
    of the unbiased sample variance, $\sqrt{(m_4 - s^4 (S-3)/(S-1))/S}$ with $m_4$
    the fourth central sample moment. ``n_inf`` counts infinite samples (e.g. $\kappa$
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
