r"""Tightening a FIR conv1d layer with its T taps fixed: κ ≤ target on $\ell^2(\mathbb Z)$, close to the input.

Given a kernel w (``(J, T)``, ``(J, C, T)`` or a batch ``(..., J, C, T)``) and a stride d,
`tighten` returns weights v of the same shape whose condition number on
$\ell^2(\mathbb Z)$ (linear convolution, continuous frequency) is *certified* to be at most
``target``, starting from w and stopping as soon as that holds:

1. **Quasi-Newton on the tightness objective.** L-BFGS (optax, zoom line search, inside one
   ``lax.while_loop``) minimises `rfbjax.remedies.regularizers.tightness_penalty`
   $\operatorname{mean}_\xi \|\mathcal M(\xi)/c - I\|_F^2$ (smooth, scale-free, exact for
   $\ell^2(\mathbb Z)$ on a grid of N ≥ 2T − 1 points) from w. After every step the
   certified κ on the N-point check grid (`rfbjax.kernels.strided.certified_bounds`: grid bounds
   widened by $\delta = \beta g/(1-\beta)$, $\beta = \pi^2(T-1)^2/(2N^2)$) is compared with the
   target; the loop stops when it is met.
2. **κ finish.** If the tightness descent stalls above the target (a flat valley of the
   mean-square objective whose worst frequency is still too far off), L-BFGS continues on the
   smooth κ penalty (`rfbjax.remedies.regularizers.kappa_penalty` with a temperature small enough
   that the log-sum-exp is within a quarter of ``target − 1``).
3. **Back towards the input.** The iterate usually overshoots (the check grid is conservative).
   A bisection on the segment from the tightened iterate to w (both at the best scale) finds
   the point nearest w whose κ, certified on a grid 4× finer, still meets the target.

The result is rescaled by the best scale $c = \langle v, w\rangle / \|v\|^2$, so the reported
distance is $\|c v - w\| / \|w\|$. Everything is deterministic (no random numbers), jit-compiled
once per (shape, stride, N, target) and vmapped over the layers of a batch (each stops on its own).

Requests that cannot succeed are refused: J < Cd (no stride-d layer of J filters is a frame:
κ = ∞ for every choice of taps), target ≤ 1 (κ = 1 needs more taps in general, and the
certificate has a positive margin), and a grid too coarse to certify (N ≤ π(T − 1)/√2).
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np
import jax
import jax.numpy as jnp

from ..errors import InputError
from ..base.grid import parse_N
from ..kernels.frames import condition_number
from ..engine import compile_cache
from ..engine.montecarlo import compile_options
from .regularizers import as_layer, exact_grid, kappa_penalty, tightness_penalty
from ..kernels.strided import certified_bounds, check_stride, grid_size, layer_frame_bounds

__all__ = ["tighten", "TightenResult", "certified_kappa", "default_grid", "estimate_bytes"]

#: memory the solver may use before it refuses (bytes)
DEFAULT_MAX_MEMORY = 4 << 30


@dataclass
class TightenResult:
    r"""What `tighten` returns. Per-layer fields have the batch shape of the input.

    Attributes:
      weights: the tightened kernel, same shape as the input (dtype of the computation).
      kappa_before: κ of the input on the fine grid (a lower bound of its
        $\ell^2(\mathbb Z)$ value).
      kappa_after: certified upper bound of κ on $\ell^2(\mathbb Z)$ of ``weights``.
      kappa_after_grid: κ of ``weights`` on the fine grid.
      distance: $\|v - w\| / \|w\|$ (``weights`` already carry the best scale).
      steps: L-BFGS steps taken (both phases).
      converged: ``kappa_after <= target``.
      seconds: wall time of the call (compilation included).
      N: the check grid.
      N_fine: the fine certification grid.
      target: as given.
      stride: as given.
    """

    weights: jax.Array
    kappa_before: np.ndarray
    kappa_after: np.ndarray
    kappa_after_grid: np.ndarray
    distance: np.ndarray
    steps: np.ndarray
    converged: np.ndarray
    seconds: float
    N: int
    N_fine: int
    target: float
    stride: int

    def summary(self) -> dict:
        """JSON-ready summary (lists for batches)."""
        def val(x):
            x = np.asarray(x)
            return x.item() if x.ndim == 0 else x.tolist()

        return {"target": self.target, "stride": self.stride, "N": self.N, "N_fine": self.N_fine,
                "shape": list(self.weights.shape), "dtype": str(self.weights.dtype),
                "kappa_before": val(self.kappa_before), "kappa_after": val(self.kappa_after),
                "kappa_after_grid": val(self.kappa_after_grid), "distance": val(self.distance),
                "steps": val(self.steps), "converged": val(self.converged),
                "seconds": self.seconds}


def default_grid(T: int, stride: int = 1) -> int:
    """The check grid when N is not given: the smallest fast-FFT multiple of d with N ≥ 4T."""
    return grid_size(T, stride, 4 * T)


def certified_kappa(w: jax.Array, N: int, stride: int = 1) -> jax.Array:
    r"""Certified upper bound of κ on $\ell^2(\mathbb Z)$ from the N-point grid
    (`rfbjax.kernels.strided.certified_bounds`, rounding included); +inf when nothing is certified.

    Args:
      w: ``(..., J, C, T)`` (``(J, T)`` is read as one channel).
      N: static.
      stride: static.

    Returns:
      ``(...)``.
    """
    w = as_layer(w)
    A, B = layer_frame_bounds(w, N, stride)
    lo, hi = certified_bounds(A, B, w.shape[-1], N, w.dtype)
    return condition_number(lo, hi)


def estimate_bytes(shape, stride: int, N: int, dtype) -> int:
    """Rough peak memory of the solver: spectra and polyphase matrices of every layer on the
    fine grid (4N), times a factor for the optimiser's copies."""
    J, C, T = shape[-3:]
    layers = int(np.prod(shape[:-3])) if len(shape) > 3 else 1
    item = np.dtype(dtype).itemsize * 2                      # complex
    K = C * stride
    n_xi = 4 * N // stride // 2 + 1
    per_layer = item * (J * C * 4 * N + n_xi * (J * K + K * K))
    return int(8 * layers * per_layer + 40 * layers * J * C * T * np.dtype(dtype).itemsize)


def lbfgs(f, x0, *, stop, max_steps: int, memory: int = 10, tol: float = 0.0, k0=0):
    r"""Minimise a smooth f from x0 by L-BFGS with a backtracking (Armijo) line search, inside one
    ``lax.while_loop``; stop early when ``stop(x)`` is true.

    The usual two-loop recursion applies the inverse-Hessian estimate built from the last
    ``memory`` pairs $(s_k, y_k)$ (pairs with $s^\top y \le 10^{-10}\|s\|\|y\|$ are
    skipped, which keeps it positive definite); the first step has length 0.1·max(‖x0‖, 1) along
    $-\nabla f$. The line search halves the step until
    $f(x + tp) \le f(x) + 10^{-4} t\, \nabla f^\top p$ (at most 30 times). f and its gradient are
    traced once (the first evaluation runs through the line search), which keeps compilation short.

    Args:
      f: ``x -> scalar`` (x of any shape).
      stop: ``x -> bool`` (checked after every step).
      max_steps: step limit (counting ``k0`` already taken).
      tol: the loop also ends when a step lowers f by no more than ``tol·|f|`` (a stall).

    Shapes and the ints are static.

    Returns:
      ``(x, steps, stopped)``: the last iterate, the step count (including ``k0``), ``stop(x)``.
    """
    shape = x0.shape
    dtype = x0.dtype
    vg = jax.value_and_grad(lambda z: f(z.reshape(shape)))
    n = x0.size
    m = int(memory)
    x0 = x0.reshape(-1)
    first_len = 0.1 * jnp.maximum(jnp.linalg.norm(x0), 1.0)

    def direction(g, S, Y, rho, k):
        nv = jnp.minimum(k, m)

        def back(i, c):
            q, alpha = c
            j = (k - 1 - i) % m
            a = jnp.where(i < nv, rho[j] * jnp.vdot(S[j], q), 0.0)
            return q - a * Y[j], alpha.at[j].set(a)

        q, alpha = jax.lax.fori_loop(0, m, back, (g, jnp.zeros(m, dtype)))
        last = (k - 1) % m
        yy = jnp.vdot(Y[last], Y[last])
        gamma = jnp.where((nv > 0) & (yy > 0), jnp.vdot(S[last], Y[last]) / jnp.where(yy > 0, yy, 1),
                          first_len / jnp.maximum(jnp.linalg.norm(g), jnp.finfo(dtype).tiny))
        r = gamma * q

        def fwd(i, r):
            j = (k - nv + i) % m
            b = rho[j] * jnp.vdot(Y[j], r)
            return jnp.where(i < nv, r + S[j] * (alpha[j] - b), r)

        r = jax.lax.fori_loop(0, m, fwd, r)
        p = -r
        bad = ~(jnp.vdot(g, p) < 0)
        return jnp.where(bad, -g * first_len / jnp.maximum(jnp.linalg.norm(g), jnp.finfo(dtype).tiny),
                         p)

    def line_search(x, fx, g, p):
        slope = jnp.vdot(g, p)

        def cond(c):
            t, fn, _, it = c
            return (it == 0) | (~(fn <= fx + 1e-4 * t * slope) & (it < 30))

        def body(c):
            t, _, _, it = c
            t = 0.5 * t
            fn, gn = vg(x + t * p)
            return t, fn, gn, it + 1

        inf = jnp.asarray(jnp.inf, dtype)
        t, fn, gn, it = jax.lax.while_loop(cond, body, (jnp.asarray(2.0, dtype), inf, g, 0))
        return t, fn, gn, ~(fn <= fx + 1e-4 * t * slope)

    def cond(c):
        x, fx, g, S, Y, rho, npair, k, stopped, stalled = c
        return ~stopped & ~stalled & (k < max_steps)

    def body(c):
        x, fx, g, S, Y, rho, npair, k, stopped, stalled = c
        init = ~jnp.isfinite(fx)                          # first pass: just evaluate f at x0
        p = jnp.where(init, 0.0, direction(g, S, Y, rho, npair))
        t, fn, gn, failed = line_search(x, fx, g, p)
        s_, y_ = t * p, gn - g
        sy = jnp.vdot(s_, y_)
        keep = (sy > 1e-10 * jnp.linalg.norm(s_) * jnp.linalg.norm(y_)) & ~init
        j = npair % m
        S = jnp.where(keep, S.at[j].set(s_), S)
        Y = jnp.where(keep, Y.at[j].set(y_), Y)
        rho = jnp.where(keep, rho.at[j].set(1.0 / jnp.where(keep, sy, 1.0)), rho)
        npair = jnp.where(keep, npair + 1, npair)
        x = jnp.where(failed, x, x + s_)
        fn = jnp.where(failed, fx, fn)
        gn = jnp.where(failed, g, gn)
        stalled = ~init & (failed | (fx - fn <= tol * jnp.abs(fx)))
        k = jnp.where(init, k, k + 1)
        return x, fn, gn, S, Y, rho, npair, k, stop(x.reshape(shape)), stalled

    zeros = jnp.zeros((m, n), dtype)
    c0 = (x0, jnp.asarray(jnp.inf, dtype), jnp.zeros_like(x0), zeros, zeros, jnp.zeros(m, dtype),
          jnp.asarray(0), jnp.asarray(k0), stop(x0.reshape(shape)), jnp.asarray(False))
    x, _, _, _, _, _, _, k, stopped, _ = jax.lax.while_loop(cond, body, c0)
    return x.reshape(shape), k, stopped
def _temperature(target: float, n_terms: int) -> float:
    """Log-sum-exp temperature for the κ finish: its bias t·log(n) stays under (target − 1)/4."""
    return (target - 1.0) / (4.0 * math.log(max(n_terms, 2)))


@functools.lru_cache(maxsize=None)
def _phase(shape, dtype, d, N, options, N_obj, target, max_steps, memory, objective):
    """jit(vmap(one layer's L-BFGS phase)) for the stacked layers ``(L, J, C, T)``, cached."""
    J, C, T = shape[-3:]
    if objective == "tightness":
        def f(v):
            return tightness_penalty(v, stride=d, N=N_obj)
        tol = 1e-6
    else:
        t = _temperature(target, (N // d // 2 + 1) * min(J, C * d))

        def f(v):
            return kappa_penalty(v, stride=d, N=N, temperature=t)
        tol = 0.0

    def stop(v):
        return certified_kappa(v, N, d) <= target

    def one(v, k0):
        return lbfgs(f, v, stop=stop, max_steps=max_steps, memory=memory, tol=tol, k0=k0)

    return jax.jit(jax.vmap(one))


@functools.lru_cache(maxsize=None)
def _finish(shape, dtype, d, N, options, N_fine, target, out_shape):
    """jit: best scale, bisection back towards the input (certified on N_fine), κ before/after,
    distance; the weights at the input's norms, in the input's shape ``out_shape``."""
    def one(v, w):
        v = v * (jnp.vdot(v, w) / jnp.vdot(v, v))

        def bis(_, lohi):
            lo, hi = lohi
            mid = 0.5 * (lo + hi)
            good = certified_kappa(v + mid * (w - v), N_fine, d) <= target
            return jnp.where(good, mid, lo), jnp.where(good, hi, mid)

        zero, one_ = jnp.zeros((), v.dtype), jnp.ones((), v.dtype)
        lo, _ = jax.lax.fori_loop(0, 16, bis, (zero, one_))
        v = v + lo * (w - v)
        return v * (jnp.vdot(v, w) / jnp.vdot(v, v))           # the best scale again

    def run(v, w, norms):
        v = jax.vmap(one)(v, w)
        both = jnp.stack([w, v])
        A, B = layer_frame_bounds(both, N_fine, d)
        lo, hi = certified_bounds(A[1], B[1], shape[-1], N_fine, v.dtype)
        dist = jnp.sqrt(jnp.sum((v - w) ** 2, axis=(-3, -2, -1)))
        out = (v * norms[:, None, None, None]).reshape(out_shape)
        return out, condition_number(A[0], B[0]), condition_number(lo, hi), \
            condition_number(A[1], B[1]), dist

    return jax.jit(run)


@functools.lru_cache(maxsize=None)
def _start(shape, dtype, options):
    """jit: whether every tap is finite, each layer's norm, the layers at unit norm."""
    def run(w):
        norms = jnp.sqrt(jnp.sum(w ** 2, axis=(-3, -2, -1)))
        unit = w / jnp.where(norms > 0, norms, 1)[:, None, None, None]
        return jnp.all(jnp.isfinite(w)), norms, unit

    return jax.jit(run)


_PROGRAMS: dict = {}


def _call(builder, parts: tuple, options: tuple, *args):
    """``builder(*parts)`` (a jitted program) applied to ``args``, compiled once per process
    with the driver's compile ``options``.

    Lowered through the export cache (`rfbjax.engine.compile_cache.lower`) when the cache is
    active: a warm process reloads the program instead of tracing it (the L-BFGS loops cost
    about 0.3 s each to trace and lower), and the XLA executable comes from the persistent
    cache. The numbers are those of the jitted program either way.
    """
    specs = tuple(jax.ShapeDtypeStruct(np.shape(a), a.dtype) for a in args)
    avals = tuple((s.shape, str(s.dtype)) for s in specs)
    memo = (builder, parts, options, avals)
    compiled = _PROGRAMS.get(memo)
    if compiled is None:
        key = compile_cache.program_key(builder, "tightening/v1", parts, options, avals)
        compiled = compile_cache.lower(builder(*parts), specs, key).compile(dict(options))
        if len(_PROGRAMS) > 64:
            _PROGRAMS.clear()
        _PROGRAMS[memo] = compiled
    return compiled(*args)


#: the phases of `tighten`, as its progress reports them
PHASES = ("tightness descent", "kappa descent", "certificate on 4N points")


def tighten(w, *, stride: int = 1, N: int | str | None = None, target: float = 1.01,
            max_steps: int = 3000, memory: int = 10,
            max_memory: int = DEFAULT_MAX_MEMORY, on_phase=None) -> TightenResult:
    r"""Weights with the same T taps whose κ on $\ell^2(\mathbb Z)$ is certified ≤ ``target``,
    as close to w (up to scale) as this descent gets (module docstring).

    Args:
      w: ``(J, T)``, ``(J, C, T)`` (one layer, PyTorch layout) or ``(..., J, C, T)`` (many at
        once). Computed in its float dtype (float64 needs ``jax_enable_x64``).
      stride: d (static).
      N: the check grid, a multiple of d larger than π(T − 1)/√2: an int or ``"kT"`` (e.g.
        ``"4T"``); None: `default_grid` (≥ 4T). The final certificate uses 4N.
      target: κ to reach, > 1.
      max_steps: L-BFGS steps per layer (both phases).
      memory: L-BFGS history.
      max_memory: refuse shapes whose estimate exceeds it (bytes).
      on_phase: called as ``on_phase(label)`` when each of the `PHASES` begins (every layer
        of a batch runs each phase at once, in one compiled program): progress.

    Returns:
      `TightenResult` (``weights`` has the shape of ``w``).

    Raises:
      InputError: J < Cd, target ≤ 1, N not a multiple of d or too coarse, too much memory.
    """
    t0 = time.perf_counter()
    # shapes and checks on the host: the only XLA programs are the three below
    w = np.asarray(w)
    if w.ndim < 2:
        raise InputError(f"weights: need a kernel of shape (J, T) or (..., J, C, T), got shape "
                         f"{tuple(w.shape)}")
    dtype = w.dtype if jnp.issubdtype(w.dtype, jnp.floating) else np.dtype(np.float32)
    w = w.astype(jax.dtypes.canonicalize_dtype(dtype), copy=False)
    orig_shape = w.shape
    if w.ndim == 2:
        w = w[:, None, :]
    d = int(stride)
    check_stride(None, d)
    J, C, T = w.shape[-3:]
    if not target > 1.0 or not math.isfinite(target):
        raise InputError(f"--target: must be a number > 1 (κ ≥ 1 always), got {target}")
    if J < C * d:
        raise InputError(f"J={J} filters with C={C} input channels and stride {d}: J < C*D, "
                         f"no such layer is a frame (kappa is infinite for every choice of taps)")
    if N is None:
        N = default_grid(T, d)
    grid = parse_N(N, "--N", minimum=1)
    if grid.linear:
        raise InputError("--N: inf: the certificate is always on l2(Z); --N is the check grid "
                         "of the descent, an integer or kT (e.g. 4T, the default)")
    N = grid.at(T)
    check_stride(N, d)
    if N <= math.pi * (T - 1) / math.sqrt(2):
        raise InputError(f"--N: {N} is too coarse to certify {T} taps between grid points "
                         f"(need N > {math.pi * (T - 1) / math.sqrt(2):.0f}; default 4T)")
    need = estimate_bytes(w.shape, d, N, w.dtype)
    if need > max_memory:
        raise InputError(f"{need / 2**30:.1f} GiB needed for shape {tuple(w.shape)} at N={N} "
                         f"(limit {max_memory / 2**30:.1f} GiB): tighten fewer layers at a time")
    batch = w.shape[:-3]
    flat = w.reshape((-1, J, C, T))
    # the driver's compile options (fast LLVM pipeline on CPU): part of the cache keys
    options = tuple(sorted(compile_options(jax.default_backend()).items()))
    key = (flat.shape, str(flat.dtype), d, N, options)
    finite, norms, unit = _call(_start, key[:2] + (options,), options, flat)
    if not bool(finite):
        raise InputError("weights: NaN or Inf values")
    if not bool(np.all(np.asarray(norms) > 0)):
        raise InputError("weights: a layer is all zeros (nothing to tighten)")
    N_obj = exact_grid(T, d)
    N_fine = 4 * N
    tick = on_phase if on_phase is not None else (lambda label: None)
    k0 = np.zeros(flat.shape[0], dtype=np.int32)
    tick(PHASES[0])
    phase = key + (N_obj, float(target), int(max_steps), int(memory))
    v, k, met = _call(_phase, phase + ("tightness",), options, unit, k0)
    tick(PHASES[1])
    if not bool(np.all(np.asarray(met))):
        v, k, _ = _call(_phase, phase + ("kappa",), options, v, k)
    tick(PHASES[2])
    v, kb, ka, kg, dist = _call(_finish, key + (N_fine, float(target), orig_shape), options,
                                v, unit, norms)
    v = jax.block_until_ready(v)
    res = TightenResult(
        weights=v,
        kappa_before=np.asarray(kb).reshape(batch), kappa_after=np.asarray(ka).reshape(batch),
        kappa_after_grid=np.asarray(kg).reshape(batch),
        distance=np.asarray(dist).reshape(batch), steps=np.asarray(k).reshape(batch),
        converged=(np.asarray(ka) <= target).reshape(batch),
        seconds=time.perf_counter() - t0, N=N, N_fine=N_fine, target=float(target), stride=d)
    return res
