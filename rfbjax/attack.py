r"""Adversarial inputs: search for signals that a random filterbank treats worst (THEORY.md §6).

Three objectives, each a differentiable, scale-invariant function of the input x (so they are
functions of :math:`x/\|x\|`), built from the core through the signal autocorrelation
:math:`R_x` (one FFT of length N, differentiable):

``variance``
    :math:`\mathbb V[\|\Phi x\|^2]/\|x\|^4` over the Gaussian filterbank distribution, exactly,
    through formula (3): ``energy_moments(lag_profile(signal_autocorr(x), T), J, T)``.
    No sampling. Supremum :math:`2/J` (constant and alternating signals).
``fixed``
    :math:`\|\Phi x\|^2/\|x\|^2 = \sum_\tau c_\tau\,\rho(\tau) R_x(\tau)/R_x(0)` for one filterbank
    (its autocorrelation :math:`\rho`). Maximum B, minimum A (the circular frame bounds).
``population``
    :math:`\frac1K\sum_k (\|\Phi_k x\|^2/\|x\|^2 - 1)^2` over a fixed sample of K filterbanks
    (a ``(K, T)`` array of :math:`\rho`'s: one matrix product per signal, restarts included).
    Its expectation over the sample is the ``variance`` objective.

**Exact optima (the vertex argument).** Write :math:`p_k = |\hat x_k|^2/\|x\|^2` for the power
spectrum of x over the rfft bins (:math:`p \ge 0`, :math:`\sum p = 1`). Then
:math:`R_x(\tau)/\|x\|^2 = \sum_k p_k \cos(2\pi k\tau/N)` is linear in p, so the ``fixed`` objective
is linear in p, and the ``variance`` and ``population`` objectives are sums of squares of linear
functions of p with non-negative weights: convex in p. A convex (or linear) function on a simplex
is maximised at a vertex, i.e. by a single rfft bin: a pure (co)sine. Hence, under a band
constraint alone, the maximum of every objective — and the minimum of ``fixed`` — is its value
at the best allowed bin, computed here in closed form (:func:`certificate`); with a time support
or an ε-ball as well, the same number is a bound. Unconstrained this gives back
:math:`2/J` (DC or Nyquist) and :math:`A, B` (THEORY.md §6).

**Feasibility: projection, not parametrisation.** The optimiser works on an internal variable z
(the signal scaled to unit RMS, ``z = sqrt(N) x``, so that a learning rate is a step relative
to the RMS whatever N is; with ``near``, ``z = sqrt(N) δ``). After every optimiser step z is
projected exactly onto the feasible set:

* allowed bands: zero the forbidden rfft bins (an orthogonal projection onto a subspace);
* time support: zero the samples outside ``[start, stop)``;
* both: the intersection of the two subspaces, through an orthonormal basis computed once
  (SVD) — composing the two masks would leave the band;
* ``near`` (x = x₀ + δ): the constraints above apply to the perturbation δ, then δ is scaled
  into the ball ‖δ‖ ≤ ε‖x₀‖ (exact: the ball is centred on the subspace's origin);
* otherwise z is rescaled to ‖z‖ = √N (the objectives are scale-invariant: this only fixes the
  gauge, so that Adam's steps keep their meaning).

Projection was chosen over a parametrisation because the constraint sets are subspaces (plus a
ball), whose projections are exact and cheap (one rfft pair or a mask), the iterates are
feasible at every step (every point of every history curve is a legal signal), and any optax
optimiser works unchanged; a parametrisation such as x = band_filter(u) would be feasible too
but distorts the geometry of the search (and the ε-ball has no clean parametrisation).

**Search.** Many random restarts at once (``vmap``), the whole loop one jitted
``lax.while_loop`` with no Python work per step; every restart stops when its best value has
not improved by a relative ``tol`` for ``patience`` steps (then it is frozen), and the loop
ends when all have stopped or after ``steps`` steps. Restarts start from Gaussian noise with
random spectral slopes (from blue to brown), projected: the objectives are convex in the power
spectrum, so they have many local maxima (every pure tone is one, nearly) and where a restart
ends depends mostly on where its spectrum starts.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import jax
import jax.numpy as jnp
import optax

from . import montecarlo as mc
from .autocorr import filterbank_autocorr, lag_profile, signal_autocorr
from .energy import energy_moments, energy_response
from .errors import InputError
from .filters import gaussian_filterbank
from .frames import circular_frame_bounds, power_response

__all__ = [
    "OBJECTIVES",
    "SCHEDULES",
    "Objective",
    "Constraints",
    "AttackResult",
    "variance_value",
    "energy_ratio",
    "population_value",
    "variance_objective",
    "fixed_objective",
    "population_objective",
    "sample_filterbanks",
    "load_weights",
    "parse_bands",
    "band_mask",
    "make_constraints",
    "make_projection",
    "make_optimizer",
    "initial_points",
    "make_solver",
    "tone_values",
    "certificate",
    "spectral_peak",
    "attack",
]

OBJECTIVES = ("variance", "fixed", "population")
SCHEDULES = ("constant", "cosine", "exponential", "warmup_cosine")


# ----------------------------------------------------------------------------- objectives
def variance_value(x: jax.Array, J: int, T: int, *, scale: float = 1.0) -> jax.Array:
    r""":math:`\mathbb V[\|\Phi x\|^2]/\|x\|^4` by formula (3), for x of shape ``(..., N)`` (circular)."""
    R = signal_autocorr(x)
    _, var = energy_moments(lag_profile(R, T), J, T, scale=scale)
    return var / R[..., 0] ** 2


def energy_ratio(x: jax.Array, rho: jax.Array) -> jax.Array:
    r""":math:`\|\Phi x\|^2/\|x\|^2` for one signal x ``(N,)`` and filterbank(s) ``rho (..., T)`` -> ``(...)``."""
    T = rho.shape[-1]
    R = signal_autocorr(x)
    return energy_response(rho, lag_profile(R, T)[None])[..., 0] / R[0]


def population_value(x: jax.Array, rhos: jax.Array) -> jax.Array:
    r""":math:`\frac1K \sum_k (\|\Phi_k x\|^2/\|x\|^2 - 1)^2` for ``rhos (K, T)``, x ``(N,)``."""
    e = energy_ratio(x, rhos)
    return jnp.mean((e - 1.0) ** 2)


@dataclass(frozen=True)
class Objective:
    """A scale-invariant objective ``fn(params, x) -> scalar`` and the data it closes over.

    ``params`` is a pytree of arrays (``{}`` for ``variance``, ``{"rho": (T,)}`` for ``fixed``,
    ``{"rhos": (K, T)}`` for ``population``); keeping it an argument lets a caller vmap one
    compiled search over many filterbanks. ``weights`` keeps the filters themselves (fixed).
    """

    name: str
    J: int
    T: int
    fn: Callable[[Any, jax.Array], jax.Array]
    params: Any = field(default_factory=dict)
    weights: np.ndarray | None = None
    K: int | None = None

    def value(self, x, params=None) -> jax.Array:
        return self.fn(self.params if params is None else params, x)


def _variance_fn(J, T):
    def fn(params, x):
        return variance_value(x, J, T)
    return fn


def _fixed_fn(params, x):
    return energy_ratio(x, params["rho"])


def _population_fn(params, x):
    return population_value(x, params["rhos"])


def variance_objective(J: int, T: int) -> Objective:
    """The exact variance of the normalised energy over Gaussian filterbanks (formula (3))."""
    _check_JT(J, T)
    return Objective("variance", int(J), int(T), _variance_fn(int(J), int(T)), {})


def fixed_objective(w, *, dtype=jnp.float32) -> Objective:
    """``||Phi x||^2/||x||^2`` for one filterbank ``w`` of shape ``(J, T)``."""
    w = jnp.asarray(w, dtype=dtype)
    J, T = w.shape
    return Objective("fixed", J, T, _fixed_fn, {"rho": filterbank_autocorr(w)},
                     weights=np.asarray(w))


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

    The keys are those of :mod:`rfbjax.montecarlo` for the filterbank distribution
    ``("filterbank", "gaussian", J, T, 1.0, dtype)``, so sample i is the filterbank that
    ``rfbjax energy``/``bounds`` draw as sample i for the same seed.
    """
    from .measure import filterbank_tags

    _check_JT(J, T)
    key = mc.stream_key(seed, *filterbank_tags(J, T, 1.0, dtype))
    keys = mc.sample_keys(key, jnp.arange(start, start + K, dtype=jnp.uint32))
    return jax.vmap(lambda k: gaussian_filterbank(k, J, T, dtype=dtype))(keys)


def load_weights(path: str, *, population: bool = False) -> np.ndarray:
    """Filters from a ``.npy`` file: ``(J, T)`` or ``(J, 1, T)`` (a conv1d weight), or with a
    leading K axis for a population. Returns ``(J, T)`` or ``(K, J, T)`` float64.

    Raises:
      InputError: unreadable file, wrong shape, non-finite or all-zero filters.
    """
    try:
        w = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"--weights: cannot read '{path}' as a .npy array ({exc})") from None
    want = "(K, J, T) or (K, J, 1, T)" if population else "(J, T) or (J, 1, T)"
    nd = 3 if population else 2
    if w.ndim == nd + 1 and w.shape[-2] == 1:
        w = w[..., 0, :]
    if w.ndim != nd or min(w.shape) < 1 or not np.issubdtype(w.dtype, np.number) \
            or np.iscomplexobj(w):
        raise InputError(f"--weights: '{path}' has shape {w.shape} (dtype {w.dtype}), "
                         f"expected a real array of shape {want}")
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise InputError(f"--weights: '{path}' contains NaN or Inf")
    if not np.any(w):
        raise InputError(f"--weights: '{path}' is all zeros")
    return w


def _check_JT(J, T):
    if int(J) < 1 or int(T) < 1:
        raise InputError(f"J and T must be >= 1, got J={J}, T={T}")


# ----------------------------------------------------------------------------- constraints
def parse_bands(text: str) -> list[tuple[float, float]]:
    """``"0.01:0.2,0.3:0.49"`` -> [(0.01, 0.2), (0.3, 0.49)]: closed intervals in cycles/sample."""
    bands = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        lo, sep, hi = part.partition(":")
        try:
            if not sep:
                raise ValueError
            lo, hi = float(lo), float(hi)
        except ValueError:
            raise InputError(f"--band: cannot parse {part!r} (use LO:HI in cycles/sample, "
                             f"e.g. 0.01:0.49)") from None
        if not (0.0 <= lo <= hi <= 0.5):
            raise InputError(f"--band: need 0 <= LO <= HI <= 0.5 cycles/sample, got {part!r}")
        bands.append((lo, hi))
    if not bands:
        raise InputError(f"--band: empty band set {text!r}")
    return bands


def band_mask(N: int, bands=None, *, no_dc: bool = False, no_nyquist: bool = False) -> np.ndarray:
    """Allowed rfft bins ``(N//2 + 1,)`` bool: bin k (frequency k/N) is allowed iff it lies in one
    of the closed ``bands`` (all bins when ``bands`` is None), minus DC / Nyquist when asked.

    Raises:
      InputError: no bin is allowed.
    """
    f = np.arange(N // 2 + 1) / N
    if bands is None:
        mask = np.ones(f.shape, dtype=bool)
    else:
        mask = np.zeros(f.shape, dtype=bool)
        tol = 1e-12
        for lo, hi in bands:
            mask |= (f >= lo - tol) & (f <= hi + tol)
    if no_dc:
        mask[0] = False
    if no_nyquist and N % 2 == 0:
        mask[-1] = False
    if not mask.any():
        raise InputError(f"--band: empty band set: no DFT bin of N={N} is allowed "
                         f"(bins are k/N cycles/sample)")
    return mask


@dataclass(frozen=True)
class Constraints:
    """The feasible set. ``allowed``: rfft bins (None: all); ``support``: ``[start, stop)``
    (None: all samples); ``x0`` and ``eps``: x = x₀ + δ with ‖δ‖ ≤ ε‖x₀‖ (band and support
    then constrain δ). ``basis``: orthonormal basis of band ∩ support on the support (internal).
    """

    N: int
    allowed: np.ndarray | None = None
    support: tuple[int, int] | None = None
    x0: np.ndarray | None = None
    eps: float | None = None
    basis: np.ndarray | None = None
    basis_is_complement: bool = False

    @property
    def near(self) -> bool:
        return self.x0 is not None

    @property
    def band_only(self) -> bool:
        """Only a band (or nothing): the vertex argument makes the certificates exact."""
        return self.support is None and self.x0 is None

    def describe(self) -> dict:
        d = {"N": self.N}
        if self.allowed is not None:
            k = np.flatnonzero(self.allowed)
            d["allowed_bins"] = int(k.size)
            d["allowed_bins_of"] = int(self.allowed.size)
            d["dc_allowed"] = bool(self.allowed[0])
            d["nyquist_allowed"] = bool(self.allowed[-1]) if self.N % 2 == 0 else None
        d["support"] = list(self.support) if self.support is not None else None
        d["eps"] = self.eps
        return d


def make_constraints(N: int, *, allowed=None, support=None, x0=None, eps=None) -> Constraints:
    """Validate and assemble the constraints (computes the band ∩ support basis when needed).

    Raises:
      InputError: ε ≤ 0, an empty or out-of-range support, x₀ of the wrong length, or a band and
        a support whose intersection contains no non-zero signal.
    """
    N = int(N)
    if N < 2:
        raise InputError(f"--N: must be >= 2, got {N}")
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=bool)
        if allowed.shape != (N // 2 + 1,):
            raise InputError(f"band mask has shape {allowed.shape}, expected ({N // 2 + 1},)")
        if not allowed.any():
            raise InputError("--band: empty band set")
        if allowed.all():
            allowed = None
    if support is not None:
        a, b = int(support[0]), int(support[1])
        if not (0 <= a < b <= N):
            raise InputError(f"--support: need 0 <= START < STOP <= N={N}, got {a}:{b}")
        support = None if (a, b) == (0, N) else (a, b)
    if x0 is not None:
        x0 = np.asarray(x0, dtype=np.float64)
        if x0.shape != (N,):
            raise InputError(f"--near: signal has shape {x0.shape}, expected ({N},)")
        if eps is None:
            raise InputError("--eps: needed with --near")
    if eps is not None:
        eps = float(eps)
        if x0 is None:
            raise InputError("--eps: only meaningful with --near")
        if not (math.isfinite(eps) and eps > 0):
            raise InputError(f"--eps: must be > 0, got {eps:g}")
    basis, complement = None, False
    if allowed is not None and support is not None:
        basis, complement = _intersection_basis(N, allowed, support)
    return Constraints(N, allowed, support, x0, eps, basis, complement)


def _intersection_basis(N, allowed, support):
    """Orthonormal basis, on the support, of {x supported on [a, b) with no forbidden bin}.

    The forbidden bins give the rows cos(2πkn/N), sin(2πkn/N) restricted to the support (an
    L × m matrix F); the feasible set is the null space of Fᵀ. Returns the smaller of (basis of
    range(F), True) and (basis of the null space, False).
    """
    a, b = support
    n = np.arange(a, b, dtype=np.float64)
    ks = np.flatnonzero(~allowed).astype(np.float64)
    ph = 2 * np.pi * np.outer(n, ks) / N
    F = np.concatenate([np.cos(ph), np.sin(ph)], axis=1)
    F = F[:, np.linalg.norm(F, axis=0) > 1e-9]
    L = b - a
    U, s, _ = np.linalg.svd(F, full_matrices=True)
    rank = int(np.sum(s > s[0] * max(L, F.shape[1]) * 1e-12)) if s.size else 0
    if rank >= L:
        raise InputError(f"--band/--support: no non-zero signal on samples {a}:{b} avoids every "
                         f"forbidden bin ({F.shape[1]} constraints on {L} samples); widen the "
                         f"band or the support")
    if rank <= L - rank:
        return U[:, :rank], True
    return U[:, rank:], False


def make_projection(c: Constraints, dtype=jnp.float32):
    """``(proj, to_signal, z_scale)`` for the internal variable z (see the module docstring).

    ``proj(z)`` maps ``(N,)`` onto the feasible set; ``to_signal(z)`` gives x (not normalised).
    """
    N = c.N
    rootN = math.sqrt(N)

    if c.allowed is not None and c.support is not None:
        a, b = c.support
        Q = jnp.asarray(c.basis, dtype=dtype)

        def sub(z):
            zs = z[a:b]
            coef = Q.T @ zs
            zs = zs - Q @ coef if c.basis_is_complement else Q @ coef
            return jnp.zeros_like(z).at[a:b].set(zs)
    elif c.allowed is not None:
        m = jnp.asarray(c.allowed, dtype=dtype)

        def sub(z):
            return jnp.fft.irfft(jnp.fft.rfft(z) * m, n=N).astype(z.dtype)
    elif c.support is not None:
        tm = np.zeros(N)
        tm[c.support[0]:c.support[1]] = 1.0
        tm = jnp.asarray(tm, dtype=dtype)

        def sub(z):
            return z * tm
    else:
        def sub(z):
            return z

    if c.near:
        x0 = jnp.asarray(c.x0, dtype=dtype)
        radius = c.eps * float(np.linalg.norm(c.x0)) * rootN

        def proj(z):
            z = sub(z)
            nz = jnp.sqrt(jnp.sum(z * z))
            return z * jnp.minimum(1.0, radius / jnp.maximum(nz, 1e-30))

        def to_signal(z):
            return x0 + z / rootN
    else:
        def proj(z):
            z = sub(z)
            nz = jnp.sqrt(jnp.sum(z * z))
            return z * (rootN / jnp.maximum(nz, 1e-30))

        def to_signal(z):
            return z / rootN
    return proj, to_signal


def initial_points(key, c: Constraints, restarts: int, dtype=jnp.float32) -> jax.Array:
    """``(restarts, N)`` starting points z (before projection): Gaussian noise with power spectrum
    ∝ f^(−α), α spread over [−3, 3] across restarts (blue … white … brown), each jittered.

    With ``near`` the points are perturbations of norm ε‖x₀‖·U(0.05, 1) (restart 0 starts
    almost at x₀).
    """
    N = c.N
    k1, k2, k3 = jax.random.split(key, 3)
    alpha = jnp.linspace(-3.0, 3.0, restarts) if restarts > 1 else jnp.zeros((1,))
    alpha = alpha + 0.25 * jax.random.normal(k1, (restarts,))
    white = jax.random.normal(k2, (restarts, N), dtype=jnp.float32)
    f = jnp.maximum(jnp.arange(N // 2 + 1), 0.5) / N
    amp = f[None, :] ** (-alpha[:, None] / 2.0)
    amp = amp / jnp.max(amp, axis=-1, keepdims=True)
    z = jnp.fft.irfft(jnp.fft.rfft(white, axis=-1) * amp, n=N, axis=-1)
    if c.support is not None:
        z = z.at[:, :c.support[0]].set(0.0).at[:, c.support[1]:].set(0.0)
    z = z / jnp.linalg.norm(z, axis=-1, keepdims=True) * math.sqrt(N)
    if c.near:
        radius = c.eps * float(np.linalg.norm(c.x0))
        r = jax.random.uniform(k3, (restarts,), minval=0.05, maxval=1.0).at[0].set(1e-3)
        z = z * (radius * r)[:, None]
    return z.astype(dtype)


# ----------------------------------------------------------------------------- optimiser
def make_optimizer(name: str = "adam", lr: float = 0.05, schedule: str | None = None,
                   steps: int = 500) -> optax.GradientTransformation:
    """``optax.<name>(learning_rate)`` with an optional schedule over ``steps``.

    Schedules: ``constant``; ``cosine`` (cosine decay to 1 % of lr); ``exponential`` (lr ×
    0.01^(step/steps)); ``warmup_cosine`` (linear warm-up over 5 % of the steps, then cosine).

    Raises:
      InputError: unknown optimiser or schedule, lr ≤ 0.
    """
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise InputError(f"--lr: must be > 0, got {lr}")
    schedule = schedule or "constant"
    steps = max(int(steps), 1)
    if schedule == "constant":
        rate = float(lr)
    elif schedule == "cosine":
        rate = optax.cosine_decay_schedule(lr, steps, alpha=0.01)
    elif schedule == "exponential":
        rate = optax.exponential_decay(lr, transition_steps=steps, decay_rate=0.01)
    elif schedule == "warmup_cosine":
        rate = optax.warmup_cosine_decay_schedule(0.0, lr, max(1, steps // 20), steps,
                                                  end_value=0.01 * lr)
    else:
        raise InputError(f"--schedule: unknown {schedule!r} (choose from {', '.join(SCHEDULES)})")
    factory = getattr(optax, str(name), None) if not str(name).startswith("_") else None
    if factory is None or not callable(factory):
        raise InputError(f"--optimizer: optax has no optimiser {name!r} "
                         f"(e.g. adam, adamw, sgd, rmsprop, lion, adabelief, nadam)")
    try:
        tx = factory(learning_rate=rate)
    except TypeError:
        raise InputError(f"--optimizer: optax.{name} is not an optimiser taking a "
                         f"learning_rate") from None
    if not isinstance(tx, optax.GradientTransformation):
        raise InputError(f"--optimizer: optax.{name} is not an optimiser")
    return tx


def make_solver(fn: Callable, c: Constraints, *, maximize: bool = True, steps: int = 500,
                optimizer: str = "adam", lr: float = 0.05, schedule: str | None = None,
                tol: float = 1e-6, patience: int = 50, dtype=jnp.float32):
    """A pure function ``solve(params, z0) -> dict`` running the whole search for the restarts
    ``z0 (R, N)`` as one ``lax.while_loop`` (jit it; vmap it over ``params`` to attack many
    filterbanks at once).

    Returns a dict of arrays: ``best_z (R, N)``, ``best (R,)`` (the objective, not the loss),
    ``history (steps + 1, R)`` (objective at every step; NaN after the loop ended), ``steps
    (R,)`` (optimiser steps each restart took before it stopped), ``iterations`` ().
    """
    if int(steps) < 1:
        raise InputError(f"--steps: must be >= 1, got {steps}")
    if not (tol >= 0):
        raise InputError(f"--tol: must be >= 0, got {tol}")
    if int(patience) < 1:
        raise InputError(f"--patience: must be >= 1, got {patience}")
    steps, patience = int(steps), int(patience)
    tx = make_optimizer(optimizer, lr, schedule, steps)
    proj, to_signal = make_projection(c, dtype)
    sign = 1.0 if maximize else -1.0

    def score(z, params):  # higher is better
        return sign * fn(params, to_signal(z))

    vg = jax.vmap(jax.value_and_grad(lambda z, p: -score(z, p)), in_axes=(0, None))

    def solve(params, z0):
        z0 = jax.vmap(proj)(z0.astype(dtype))
        R = z0.shape[0]
        opt0 = jax.vmap(tx.init)(z0)
        hist0 = jnp.full((steps + 1, R), jnp.nan, dtype=dtype)
        neg_inf = jnp.full((R,), -jnp.inf, dtype=dtype)
        carry0 = (jnp.int32(0), z0, opt0, z0, neg_inf, neg_inf, jnp.zeros((R,), jnp.int32),
                  jnp.zeros((R,), bool), hist0, jnp.zeros((R,), jnp.int32))

        def observe(i, z, best_z, best, ref, count, done, hist, s):
            improved = s > best
            best_z = jnp.where(improved[:, None], z, best_z)
            best = jnp.where(improved, s, best)
            first = i == 0
            gain = best - ref
            significant = first | (gain > tol * jnp.maximum(jnp.abs(ref), 1e-30))
            ref = jnp.where(significant, best, ref)
            count = jnp.where(significant, 0, count + 1)
            done = done | (count >= patience)
            hist = hist.at[i].set(sign * s)
            return best_z, best, ref, count, done, hist

        def cond(carry):
            i, done = carry[0], carry[7]
            return (i < steps) & ~jnp.all(done)

        def body(carry):
            i, z, opt, best_z, best, ref, count, done, hist, nsteps = carry
            loss, g = vg(z, params)
            best_z, best, ref, count, done, hist = observe(i, z, best_z, best, ref, count,
                                                           done, hist, -loss)
            upd, opt_new = jax.vmap(tx.update)(g, opt, z)
            z_new = jax.vmap(proj)(optax.apply_updates(z, upd))
            live = ~done
            z = jnp.where(live[:, None], z_new, z)
            opt = jax.tree_util.tree_map(
                lambda new, old: jnp.where(live.reshape((R,) + (1,) * (new.ndim - 1)), new, old),
                opt_new, opt)
            nsteps = nsteps + live.astype(jnp.int32)
            return (i + 1, z, opt, best_z, best, ref, count, done, hist, nsteps)

        i, z, _, best_z, best, ref, count, done, hist, nsteps = jax.lax.while_loop(
            cond, body, carry0)
        # the last update has not been evaluated yet
        s = jax.vmap(score, in_axes=(0, None))(z, params)
        best_z, best, *_rest, hist = observe(i, z, best_z, best, ref, count, done, hist, s)
        return {"best_z": best_z, "best": sign * best, "history": hist, "steps": nsteps,
                "iterations": i}

    solve.to_signal = to_signal
    solve.proj = proj
    return solve


# ----------------------------------------------------------------------------- certificates
def _tone_profiles(N: int, T: int, dtype=jnp.float64):
    """Lag profiles ``(N//2+1, T)`` of the unit-energy cosines at every rfft bin: cos(2πkτ/N)."""
    k = np.arange(N // 2 + 1)[:, None]
    tau = np.arange(T)[None, :]
    return np.cos(2 * np.pi * ((k * tau) % N) / N)


def tone_values(obj: Objective, N: int) -> np.ndarray:
    """The objective at the unit-energy cosine of every rfft bin k = 0 … N//2 (float64 NumPy).

    By the vertex argument (module docstring) the max over allowed bins is the maximum over the
    band (and the min too, for ``fixed``).
    """
    Rl = _tone_profiles(N, obj.T)
    w = np.full(obj.T, 2.0)
    w[0] = 1.0
    if obj.name == "variance":
        mult = w * (obj.T - np.arange(obj.T))
        return 2.0 / (obj.J * obj.T ** 2) * (Rl ** 2 @ mult)
    if obj.name == "fixed":
        rho = np.asarray(obj.params["rho"], dtype=np.float64)
        return Rl @ (w * rho)
    rhos = np.asarray(obj.params["rhos"], dtype=np.float64)
    P = (Rl * w) @ rhos.T  # (bins, K)
    return np.mean((P - 1.0) ** 2, axis=-1)


def certificate(obj: Objective, c: Constraints, maximize: bool) -> dict | None:
    """What the search can be compared with: ``{"value", "kind", "note"}`` or None.

    ``kind`` is ``"exact"`` (the optimum over the feasible set) or ``"upper_bound"`` /
    ``"lower_bound"`` (with a time support or an ε-ball the vertex value still bounds the optimum).
    """
    exact = c.band_only
    allowed = c.allowed if c.allowed is not None else np.ones(c.N // 2 + 1, bool)
    if obj.name == "variance" and not maximize:
        unconstrained = c.allowed is None and c.support is None and not c.near
        return {"value": 2.0 / (obj.J * obj.T), "kind": "exact" if unconstrained else "lower_bound",
                "note": "2/(JT): R_x(tau) = 0 for 0 < |tau| < T (an impulse)"}
    if obj.name == "population" and not maximize:
        return None
    vals = tone_values(obj, c.N)
    kbins = np.flatnonzero(allowed)
    j = kbins[np.argmax(vals[kbins])] if maximize else kbins[np.argmin(vals[kbins])]
    value = float(vals[j])
    kind = "exact" if exact else ("upper_bound" if maximize else "lower_bound")
    if obj.name == "variance":
        note = ("2/J (constant / alternating signal)" if c.allowed is None else
                "best pure tone over the allowed bins (vertex argument)")
    elif obj.name == "fixed":
        what = "B = max" if maximize else "A = min"
        note = f"{what} of the power response P over the {'allowed ' if c.allowed is not None else ''}DFT bins"
        if c.allowed is None:  # literally the circular frame bounds of rfbjax.frames
            A, B = circular_frame_bounds(jnp.asarray(obj.weights), c.N)
            value = float(B) if maximize else float(A)
    else:
        note = "best pure tone over the allowed bins: mean over the sample of (P_k - 1)^2"
    return {"value": value, "kind": kind, "note": note, "bin": int(j),
            "frequency": float(j / c.N)}


def spectral_peak(x: np.ndarray, sample_rate: float | None = None) -> dict:
    """Peak of the power spectrum of x: bin, cycles/sample, Hz, period, and the fraction of
    the energy within ±2 bins of it (near 1 for a pure tone: a locally periodic signal)."""
    x = np.asarray(x, dtype=np.float64)
    N = x.size
    p = np.abs(np.fft.rfft(x)) ** 2
    w = np.full(p.shape, 2.0)
    w[0] = 1.0
    if N % 2 == 0:
        w[-1] = 1.0
    p = p * w
    k = int(np.argmax(p))
    frac = float(p[max(0, k - 2):k + 3].sum() / p.sum())
    f = k / N
    out = {"bin": k, "cycles_per_sample": f, "period_samples": (1.0 / f) if k else None,
           "energy_fraction_pm2_bins": frac}
    if sample_rate:
        out["hz"] = f * float(sample_rate)
    return out


# ----------------------------------------------------------------------------- driver
@dataclass
class AttackResult:
    """Outcome of :func:`attack` (NumPy; ``x`` normalised to unit energy)."""

    objective: str
    maximize: bool
    x: np.ndarray
    value: float
    values: np.ndarray
    history: np.ndarray
    steps: np.ndarray
    iterations: int
    best_restart: int
    certificate: dict | None
    compile_s: float
    run_s: float
    restarts: int
    x0_value: float | None = None
    delta_norm: float | None = None

    @property
    def ratio(self) -> float | None:
        if not self.certificate or not self.certificate["value"]:
            return None
        return float(self.value / self.certificate["value"])


def attack(obj: Objective, c: Constraints, *, maximize: bool = True, restarts: int = 64,
           steps: int = 500, optimizer: str = "adam", lr: float = 0.05,
           schedule: str | None = None, tol: float = 1e-6, patience: int = 50, seed: int = 0,
           dtype=jnp.float32) -> AttackResult:
    """Run the search: ``restarts`` random starts in one compiled loop, keep the best.

    Raises:
      InputError: restarts < 1, steps < 1, bad optimiser settings.
    """
    if int(restarts) < 1:
        raise InputError(f"--restarts: must be >= 1, got {restarts}")
    solve = make_solver(obj.fn, c, maximize=maximize, steps=steps, optimizer=optimizer, lr=lr,
                        schedule=schedule, tol=tol, patience=patience, dtype=dtype)
    key = jax.random.PRNGKey(int(seed))
    z0 = initial_points(key, c, int(restarts), dtype)
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=dtype), obj.params)
    t0 = time.perf_counter()
    compiled = jax.jit(solve).lower(params, z0).compile()
    t1 = time.perf_counter()
    out = compiled(params, z0)
    out = jax.tree_util.tree_map(np.asarray, jax.block_until_ready(out))
    t2 = time.perf_counter()
    values = out["best"].astype(np.float64)
    b = int(np.nanargmax(values) if maximize else np.nanargmin(values))
    x = np.asarray(solve.to_signal(jnp.asarray(out["best_z"][b])), dtype=np.float64)
    x = x / np.linalg.norm(x)
    x0_value = delta = None
    if c.near:
        x0_value = float(obj.value(jnp.asarray(c.x0, dtype=dtype), params))
        x_raw = np.asarray(solve.to_signal(jnp.asarray(out["best_z"][b])), dtype=np.float64)
        delta = float(np.linalg.norm(x_raw - c.x0) / np.linalg.norm(c.x0))
    return AttackResult(obj.name, bool(maximize), x, float(values[b]), values,
                        out["history"].astype(np.float64), out["steps"], int(out["iterations"]),
                        b, certificate(obj, c, maximize), t1 - t0, t2 - t1, int(restarts),
                        x0_value, delta)
