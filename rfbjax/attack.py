r"""Adversarial inputs: search for the signals a random filterbank treats worst (THEORY.md §6).

Objectives
----------
Three differentiable functions of the input :math:`x \in \mathbb R^N`, all *scale-invariant*
(functions of :math:`x/\|x\|`), built from the signal autocorrelation
:math:`R_x(\tau) = \sum_n x[n]\,x[(n+\tau) \bmod N]` (one real FFT pair of length N,
differentiable) and the weights :math:`c_0 = 1`, :math:`c_{\tau>0} = 2`:

``variance``
    Formula (3), exact, no sampling, for taps i.i.d. :math:`\mathcal N(0, 1/(JT))`:

    .. math:: f(x) = \frac{\mathbb V[\|\Phi x\|^2]}{\|x\|^4}
              = \frac{2}{J T^2} \sum_{\tau=0}^{T-1} c_\tau (T-\tau)
                \Big(\frac{R_x(\tau)}{R_x(0)}\Big)^2 .

    Supremum :math:`2/J` (constant and alternating signals); infimum :math:`2/(JT)` (an impulse).
``fixed``
    One filterbank, through its autocorrelation :math:`\rho` (formula (1)):

    .. math:: f(x) = \frac{\|\Phi x\|^2}{\|x\|^2}
              = \sum_{\tau=0}^{T-1} c_\tau\, \rho(\tau)\, \frac{R_x(\tau)}{R_x(0)} ,

    whose maximum is the upper frame bound B and minimum the lower one A (circular, stride 1).
``population``
    K fixed filterbanks :math:`\rho_1 \dots \rho_K` (a ``(K, T)`` array; one matrix product per
    signal):

    .. math:: f(x) = \frac1K \sum_{k=1}^K \Big(\frac{\|\Phi_k x\|^2}{\|x\|^2} - 1\Big)^2 ,

    whose expectation over Gaussian populations is the ``variance`` objective (the mean of
    :math:`\|\Phi x\|^2` is exactly :math:`\|x\|^2`).

Exact optima: the vertex argument
---------------------------------
Write :math:`p_k = \gamma_k |\hat x_k|^2 / (N \|x\|^2)` for the share of the energy in rfft bin
k (:math:`\gamma_k = 2` for the bins that stand for a pair :math:`\pm k`, 1 for DC and
Nyquist), so :math:`p \ge 0` and :math:`\sum_k p_k = 1`. Then

.. math:: \frac{R_x(\tau)}{\|x\|^2} = \sum_k p_k \cos(2\pi k \tau / N)

is *linear* in p. Hence ``fixed`` is linear in p (its value at :math:`p = e_k` is the power
response :math:`P(2\pi k/N)`), and ``variance`` and ``population`` are sums of squares of affine
functions of p with non-negative weights, i.e. *convex* in p. A linear or convex function on a
simplex is maximised at a vertex — a single bin, i.e. a pure (co)sine — and a linear one is also
minimised at a vertex. So with a band constraint alone, the maximum of every objective (and the
minimum of ``fixed``) is its value at the best *allowed* bin: :func:`certificate` computes it in
closed form, with one FFT of length N. Unconstrained, this gives back :math:`2/J` and
:math:`A, B`. With a time support or an ε-ball the feasible set is smaller, so the same number is
still a bound (an upper bound for a maximum, a lower bound for a minimum). For the ε-ball, x
contains :math:`x_0`, whose spectrum the band does not restrict, so there every bin counts.

Constraints: projection, not parametrisation
--------------------------------------------
The optimiser moves an internal variable z of norm :math:`\sqrt N` (RMS 1): the signal itself,
:math:`z = \sqrt N\, x/\|x\|`, or with ``near`` the perturbation in units of the ball's radius,
:math:`z = \sqrt N\, \delta/(\varepsilon\|x_0\|)`. So a learning rate is a step relative to the
RMS of the signal (or of the largest allowed perturbation), whatever N and ε. After every optimiser step z is projected exactly onto the feasible set:

* allowed bands: zero the forbidden rfft bins (orthogonal projection onto a subspace);
* a time support ``[start, stop)``: zero the samples outside it;
* both: the orthogonal projection onto the intersection of the two subspaces, through an
  orthonormal basis computed once with an SVD (alternating the two masks would not land in the
  intersection after one round);
* ``near`` (:math:`x = x_0 + \delta`, :math:`\|\delta\| \le \varepsilon \|x_0\|`): the band and
  support constrain the perturbation δ; after projecting δ onto that subspace it is scaled into
  the ball. Because the ball is centred on the subspace's origin, the composition is the exact
  Euclidean projection onto (subspace ∩ ball);
* otherwise z is rescaled to :math:`\|z\| = \sqrt N`. The objectives are scale-invariant, so this
  only fixes the gauge (it keeps Adam's steps meaningful and stops the norm drifting).

Projection was chosen over a parametrisation because every constraint set is a subspace, plus a
ball centred at its origin: the projections are exact and cost one rfft pair, a mask or a small
matrix product; every iterate is feasible, so every point of every history curve is a legal
signal; and any optax optimiser works unchanged on z. A parametrisation (say x = band-limit(u),
or δ = ε‖x₀‖ u/max(1, ‖u‖)) keeps x feasible too, but it rescales the geometry the optimiser
sees, and for the ball it creates a flat region (‖u‖ > 1) where the gradient vanishes radially.

Search
------
:func:`make_solver` returns a pure function ``solve(params, z0)`` that runs every restart of the
search inside one ``lax.while_loop`` (no Python work per step; ``jit`` it, and ``vmap`` it over
``params`` to attack many filterbanks at once): value and gradient of all restarts (``vmap``),
one optax update, the projection. Each restart keeps its best point; a restart stops (is frozen)
once its best value has not improved by a relative ``tol`` within ``patience`` steps, and the
loop ends when every restart has stopped or after ``steps`` steps. Starting points are Gaussian
noise with power spectra :math:`\propto f^{-\alpha}`, α spread over [−3, 3] across restarts (blue
to brown): the ``variance`` and ``population`` objectives are convex in the power spectrum, so
they have several local maxima (pure tones, roughly) and where a restart ends depends mostly on
where its spectrum starts. ``fixed`` is a Rayleigh quotient of the circulant matrix
:math:`\Phi^\top\Phi` on the sphere: no spurious local extrema.
"""

from __future__ import annotations

import functools
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
from .frames import circular_frame_bounds, condition_number, power_response

__all__ = [
    "OBJECTIVES",
    "SCHEDULES",
    "BASELINE_SIGNALS",
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
    "sample_population",
    "load_weights",
    "parse_bands",
    "parse_support",
    "band_mask",
    "make_constraints",
    "make_projection",
    "make_optimizer",
    "initial_points",
    "make_solver",
    "search_many",
    "tone_values",
    "certificate",
    "spectral_peak",
    "builtin_values",
    "frame_summary",
    "attack",
]

OBJECTIVES = ("variance", "fixed", "population")
SCHEDULES = ("constant", "cosine", "exponential", "warmup_cosine")

#: Built-in signals that :func:`builtin_values` compares a search with (``sine:K`` = K cycles).
BASELINE_SIGNALS = ("impulse", "white", "brownian", "alternating", "sine:1", "sine:3", "vowel",
                    "flute", "snare")


# ----------------------------------------------------------------------------- objectives
def variance_value(x: jax.Array, J: int, T: int, *, scale: float = 1.0) -> jax.Array:
    r""":math:`\mathbb V[\|\Phi x\|^2]/\|x\|^4` by formula (3), circular; x ``(..., N)`` -> ``(...)``.

    .. math:: \frac{2\sigma^4 J}{R_x(0)^2} \sum_{\tau=0}^{T-1} c_\tau (T-\tau) R_x(\tau \bmod N)^2,
              \qquad \sigma^2 = \mathrm{scale}/(JT).
    """
    R = signal_autocorr(x)
    _, var = energy_moments(lag_profile(R, T), J, T, scale=scale)
    return var / R[..., 0] ** 2


def energy_ratio(x: jax.Array, rho: jax.Array) -> jax.Array:
    r""":math:`\|\Phi x\|^2/\|x\|^2 = \sum_\tau c_\tau \rho(\tau) R_x(\tau)/R_x(0)` (formula (1)).

    x ``(N,)``; rho ``(..., T)`` (one or many filterbanks) -> ``(...)``.
    """
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
    """The exact variance of the normalised energy over Gaussian filterbanks (formula (3))."""
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

    The keys are those of :mod:`rfbjax.montecarlo` for the distribution
    ``filterbank_tags(J, T, 1.0, dtype)``, so sample i is the filterbank that ``rfbjax energy`` /
    ``bounds`` draw as sample i for the same seed and dtype.
    """
    from .measure import filterbank_tags

    _check_JT(J, T)
    key = mc.stream_key(seed, *filterbank_tags(J, T, 1.0, dtype))
    keys = mc.sample_keys(key, jnp.arange(start, start + K, dtype=jnp.uint32))
    return jax.vmap(lambda k: gaussian_filterbank(k, J, T, dtype=dtype))(keys)


def sample_population(seed: int, J: int, T: int, K: int, *, dtype=jnp.float32,
                      chunk: int = 1024) -> jax.Array:
    """Autocorrelations ``(K, T)`` of the first K filterbanks of the seed's stream, drawn and
    reduced ``chunk`` at a time (the filters themselves are never all in memory)."""
    from .measure import filterbank_tags

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
    want = "(K, J, T) or (K, J, 1, T)" if population else "(J, T) or (J, 1, T)"
    nd = 3 if population else 2
    if w.ndim == nd + 1 and w.shape[-2] == 1:
        w = w[..., 0, :]
    if (w.ndim != nd or w.size == 0 or not np.issubdtype(w.dtype, np.number)
            or np.iscomplexobj(w)):
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
        raise InputError(f"--J/--T: must be >= 1, got J={J}, T={T}")


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


def parse_support(text: str) -> tuple[int, int]:
    """``"START:STOP"`` (samples, STOP excluded) -> (start, stop)."""
    lo, sep, hi = str(text).replace(" ", "").partition(":")
    try:
        if not sep:
            raise ValueError
        return int(lo), int(hi)
    except ValueError:
        raise InputError(f"--support: cannot parse {text!r} (use START:STOP in samples)") from None


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
        raise InputError(f"--band: empty band set: no DFT bin k/N of N={N} is allowed")
    return mask


@dataclass(frozen=True)
class Constraints:
    """The feasible set. ``allowed``: rfft bins (None: all); ``support``: ``[start, stop)``
    (None: all samples); ``x0`` and ``eps``: x = x₀ + δ with ‖δ‖ ≤ ε‖x₀‖ (band and support
    then constrain δ). ``basis``: orthonormal basis of band ∩ support on the support (internal);
    with ``basis_is_complement`` it spans the orthogonal complement instead (the smaller one).
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
        d: dict = {"N": self.N, "band": None}
        if self.allowed is not None:
            d["band"] = {"allowed_bins": int(self.allowed.sum()),
                         "of_bins": int(self.allowed.size),
                         "dc_allowed": bool(self.allowed[0]),
                         "nyquist_allowed": (bool(self.allowed[-1]) if self.N % 2 == 0
                                             else None)}
        d["support"] = list(self.support) if self.support is not None else None
        d["eps"] = self.eps
        return d


def make_constraints(N: int, *, allowed=None, support=None, x0=None, eps=None) -> Constraints:
    """Validate and assemble the constraints (computes the band ∩ support basis when needed).

    Raises:
      InputError: N < 2, ε ≤ 0, an empty or out-of-range support, x₀ of the wrong length or all
        zero, or a band and a support whose intersection contains no non-zero signal.
    """
    N = int(N)
    if N < 2:
        raise InputError(f"--N: must be >= 2, got {N}")
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=bool)
        if allowed.shape != (N // 2 + 1,):
            raise InputError(f"--band: mask has shape {allowed.shape}, expected ({N // 2 + 1},)")
        if not allowed.any():
            raise InputError("--band: empty band set")
        if allowed.all():
            allowed = None
    if support is not None:
        a, b = int(support[0]), int(support[1])
        if not (0 <= a < b <= N):
            raise InputError(f"--support: need 0 <= START < STOP <= N={N}, got {a}:{b}")
        support = None if (a, b) == (0, N) else (a, b)
    if eps is not None:
        eps = float(eps)
        if not (math.isfinite(eps) and eps > 0):
            raise InputError(f"--eps: must be > 0, got {eps:g}")
        if x0 is None:
            raise InputError("--eps: only meaningful with --near")
    if x0 is not None:
        x0 = np.asarray(x0, dtype=np.float64)
        if x0.shape != (N,):
            raise InputError(f"--near: signal has shape {x0.shape}, expected ({N},)")
        if not (np.all(np.isfinite(x0)) and np.any(x0)):
            raise InputError("--near: signal is all zeros or not finite")
        if eps is None:
            raise InputError("--eps: needed with --near")
    basis, complement = None, False
    if allowed is not None and support is not None:
        basis, complement = _intersection_basis(N, allowed, support)
    return Constraints(N, allowed, support, x0, eps, basis, complement)


def _intersection_basis(N, allowed, support):
    """Orthonormal basis, on the support, of {x supported on [a, b) with no forbidden bin}.

    A forbidden bin k gives two linear conditions, Σ_n x[n] cos(2πkn/N) = 0 and the same with
    sin; restricted to the support they are the columns of an L × m matrix F, and the feasible set
    is the orthogonal complement of range(F). Returns ``(basis, is_complement)``: the basis of
    range(F) with True when that is the smaller one, else the basis of the feasible set.
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
                         f"forbidden bin ({F.shape[1]} conditions on {L} samples); widen the "
                         f"band or the support")
    if rank <= L - rank:
        return U[:, :rank], True
    return U[:, rank:], False


def _subspace_projection(c: Constraints, dtype):
    """Orthogonal projection of a ``(N,)`` vector onto band ∩ support (identity if neither)."""
    N = c.N
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
    return sub


def make_projection(c: Constraints, dtype=jnp.float32):
    """``(proj, to_signal)`` for the internal variable z (module docstring).

    ``proj(z)`` maps ``(N,)`` onto the feasible set in z units (the sphere ‖z‖ = √N, or with
    ``near`` the ball ‖z‖ ≤ √N); ``to_signal(z)`` gives x (unit energy, or x₀ + δ with
    δ = ε‖x₀‖ z/√N).
    """
    rootN = math.sqrt(c.N)
    sub = _subspace_projection(c, dtype)

    if c.near:
        x0 = jnp.asarray(c.x0, dtype=dtype)
        unit = c.eps * float(np.linalg.norm(c.x0)) / rootN  # δ per unit of z

        def proj(z):
            z = sub(z)
            nz = jnp.sqrt(jnp.sum(z * z))
            return z * jnp.minimum(1.0, rootN / jnp.maximum(nz, 1e-30))

        def to_signal(z):
            return x0 + z * unit
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
    ∝ f^(−α), α spread over [−3, 3] across restarts (blue … white … brown), each jittered by
    N(0, 0.25²). With ``near`` they are perturbations of norm ε‖x₀‖·U(0.05, 1) (restart 0 starts
    at 0.001 of that: almost at x₀).
    """
    return _initial_points(key, c.N, int(restarts), c.support, c.near, jnp.dtype(dtype).name)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5))
def _initial_points(key, N, restarts, support, near, dtype):
    k1, k2, k3 = jax.random.split(key, 3)
    alpha = jnp.linspace(-3.0, 3.0, restarts) if restarts > 1 else jnp.zeros((1,))
    alpha = alpha + 0.25 * jax.random.normal(k1, (restarts,))
    white = jax.random.normal(k2, (restarts, N), dtype=jnp.float32)
    f = jnp.maximum(jnp.arange(N // 2 + 1), 0.5) / N
    amp = f[None, :] ** (-alpha[:, None] / 2.0)
    amp = amp / jnp.max(amp, axis=-1, keepdims=True)
    z = jnp.fft.irfft(jnp.fft.rfft(white, axis=-1) * amp, n=N, axis=-1)
    if support is not None:
        z = z.at[:, :support[0]].set(0.0).at[:, support[1]:].set(0.0)
    z = z / jnp.linalg.norm(z, axis=-1, keepdims=True) * math.sqrt(N)
    if near:
        r = jax.random.uniform(k3, (restarts,), minval=0.05, maxval=1.0).at[0].set(1e-3)
        z = z * r[:, None]
    return z.astype(dtype)


# ----------------------------------------------------------------------------- optimiser
def make_optimizer(name: str = "adam", lr: float = 0.1, schedule: str | None = None,
                   steps: int = 500) -> optax.GradientTransformation:
    """``optax.<name>(learning_rate=...)`` with an optional schedule over ``steps``.

    Schedules: ``constant``; ``cosine`` (cosine decay to 1 % of lr); ``exponential`` (lr ×
    0.01^(step/steps)); ``warmup_cosine`` (linear warm-up over 5 % of the steps, then cosine).
    The optimiser is tried once on a 2-vector, so one that needs more than the gradient (e.g.
    ``lbfgs``, ``polyak_sgd``) is refused here rather than inside the compiled loop.

    Raises:
      InputError: unknown optimiser or schedule, lr ≤ 0.
    """
    try:
        lr = float(lr)
    except (TypeError, ValueError):
        raise InputError(f"--lr: must be a number, got {lr!r}") from None
    if not (math.isfinite(lr) and lr > 0):
        raise InputError(f"--lr: must be > 0, got {lr:g}")
    schedule = schedule or "constant"
    steps = max(int(steps), 1)
    if schedule == "constant":
        rate = lr
    elif schedule == "cosine":
        rate = optax.cosine_decay_schedule(lr, steps, alpha=0.01)
    elif schedule == "exponential":
        rate = optax.exponential_decay(lr, transition_steps=steps, decay_rate=0.01)
    elif schedule == "warmup_cosine":
        rate = optax.warmup_cosine_decay_schedule(0.0, lr, max(1, steps // 20), steps,
                                                  end_value=0.01 * lr)
    else:
        raise InputError(f"--schedule: unknown {schedule!r} (choose from {', '.join(SCHEDULES)})")
    name = str(name)
    factory = None if name.startswith("_") else getattr(optax, name, None)
    hint = "e.g. adam, adamw, sgd, rmsprop, lion, adabelief, nadam"
    if factory is None or not callable(factory) or isinstance(factory, type):
        raise InputError(f"--optimizer: optax has no optimiser {name!r} ({hint})")
    try:
        tx = factory(learning_rate=rate)
        if not isinstance(tx, optax.GradientTransformation):
            raise TypeError
        p = jax.ShapeDtypeStruct((2,), jnp.float32)
        jax.eval_shape(lambda q: tx.update(q, tx.init(q), q), p)  # traced, not compiled
    except Exception:  # noqa: BLE001 - anything that is not a plain gradient optimiser
        raise InputError(f"--optimizer: optax.{name} is not a gradient optimiser taking a "
                         f"learning_rate ({hint})") from None
    return tx


def _check_search(steps, tol, patience, restarts=1):
    if isinstance(steps, bool) or int(steps) != steps or int(steps) < 1:
        raise InputError(f"--steps: must be an integer >= 1, got {steps}")
    if not (math.isfinite(float(tol)) and float(tol) >= 0):
        raise InputError(f"--tol: must be >= 0, got {tol}")
    if int(patience) < 1:
        raise InputError(f"--patience: must be >= 1, got {patience}")
    if int(restarts) < 1:
        raise InputError(f"--restarts: must be >= 1, got {restarts}")


def make_solver(fn: Callable, c: Constraints, *, maximize: bool = True, steps: int = 500,
                optimizer: str = "adam", lr: float = 0.1, schedule: str | None = None,
                tol: float = 1e-6, patience: int = 50, dtype=jnp.float32):
    """A pure function ``solve(params, z0) -> dict`` running the whole search for the restarts
    ``z0 (R, N)`` as one ``lax.while_loop`` (jit it; vmap it over ``params`` to attack many
    filterbanks at once).

    Per step, for all live restarts at once: loss :math:`= \\mp f(x(z))` and its gradient
    (``vmap(value_and_grad)``), one optax update, the projection. A restart is frozen once its
    best value has not improved by more than ``tol`` (relative) for ``patience`` steps.

    Returns a dict of arrays: ``best_z (R, N)``, ``best (R,)`` (the objective, not the loss),
    ``history (steps + 1, R)`` (objective of the iterate at every step, constant once a restart
    is frozen, NaN after the loop ended), ``steps (R,)`` (optimiser steps each restart took),
    ``iterations`` () (loop iterations).
    """
    _check_search(steps, tol, patience)
    steps, patience, tol = int(steps), int(patience), float(tol)
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
            gain = best - ref
            significant = (i == 0) | (gain > tol * jnp.maximum(jnp.abs(ref), 1e-30))
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
            move = ~done
            z = jnp.where(move[:, None], z_new, z)
            opt = jax.tree_util.tree_map(
                lambda new, old: jnp.where(move.reshape((R,) + (1,) * (new.ndim - 1)), new, old),
                opt_new, opt)
            nsteps = nsteps + move.astype(jnp.int32)
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


def search_many(obj: Objective, params_batch, c: Constraints, *, maximize: bool = True,
                restarts: int = 8, seed: int = 0, dtype=jnp.float32, **solver_kw) -> dict:
    """The same search against a batch of objectives sharing one compiled loop.

    ``params_batch`` is ``obj.params`` with a leading batch axis (e.g. ``{"rho": (F, T)}`` for F
    filterbanks); the solver is ``jit(vmap(solve))``: one compilation whatever F. All batch
    members start from the same ``restarts`` points. Returns NumPy arrays: ``values (F,)`` (the
    best over restarts), ``x (F, N)`` (the best signals, unit energy or x₀ + δ), ``restart_values
    (F, R)``, ``iterations (F,)``, and ``seconds`` (compile and run).
    """
    _check_search(solver_kw.get("steps", 500), solver_kw.get("tol", 1e-6),
                  solver_kw.get("patience", 50), restarts)
    solve = make_solver(obj.fn, c, maximize=maximize, dtype=dtype, **solver_kw)
    z0 = initial_points(jax.random.PRNGKey(int(seed)), c, int(restarts), dtype)
    params_batch = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=dtype), params_batch)
    t0 = time.perf_counter()
    out = jax.jit(jax.vmap(solve, in_axes=(0, None)))(params_batch, z0)
    out = jax.tree_util.tree_map(np.asarray, jax.block_until_ready(out))
    vals = out["best"].astype(np.float64)
    b = np.argmax(vals, axis=1) if maximize else np.argmin(vals, axis=1)
    rows = np.arange(vals.shape[0])
    x = np.asarray(jax.vmap(solve.to_signal)(jnp.asarray(out["best_z"][rows, b])), np.float64)
    return {"values": vals[rows, b], "x": x, "restart_values": vals,
            "iterations": out["iterations"], "seconds": time.perf_counter() - t0}


# ----------------------------------------------------------------------------- certificates
_jit_rho = jax.jit(filterbank_autocorr)
_jit_bounds = jax.jit(circular_frame_bounds, static_argnums=1)
_jit_power = jax.jit(power_response, static_argnums=1)


def frame_summary(w, N: int, dtype=jnp.float32) -> dict:
    """Circular frame bounds of one filterbank ``w (J, T)`` on Z_N (stride 1): ``{"A", "B",
    "kappa", "P"}`` with P the power response on the rfft bins (NumPy ``(N//2+1,)``)."""
    w = jnp.asarray(w, dtype=dtype)
    A, B = _jit_bounds(w, int(N))
    P = _jit_power(_jit_rho(w), int(N))
    return {"A": float(A), "B": float(B), "kappa": float(condition_number(A, B)),
            "P": np.asarray(P, dtype=np.float64)}


def _fold_fft(g: np.ndarray, N: int) -> np.ndarray:
    r""":math:`G[m] = \sum_{\tau=0}^{T-1} g(\tau) \cos(2\pi m\tau/N)` for m = 0 … N-1 (float64).

    g ``(..., T)`` is folded onto :math:`\mathbb Z_N` first (T > N is fine)."""
    g = np.asarray(g, dtype=np.float64)
    T = g.shape[-1]
    h = np.zeros(g.shape[:-1] + (N,))
    np.add.at(h, (..., np.arange(T) % N), g)
    return np.fft.fft(h, axis=-1).real


def tone_values(obj: Objective, N: int) -> np.ndarray:
    r"""The objective at the unit-energy cosine of every rfft bin k = 0 … N//2 (float64 NumPy).

    With :math:`R(\tau)/R(0) = \cos(2\pi k\tau/N)` (for any phase):

    * ``fixed``: :math:`P(2\pi k/N) = \sum_\tau c_\tau \rho(\tau) \cos(2\pi k \tau/N)`;
    * ``population``: the mean over the sample of :math:`(P_i(2\pi k/N) - 1)^2`;
    * ``variance``: :math:`\frac{2}{JT^2}\sum_\tau c_\tau (T-\tau)\cos^2(2\pi k\tau/N)
      = \frac{1}{JT^2}\big(T^2 + \sum_\tau c_\tau (T-\tau)\cos(2\pi (2k)\tau/N)\big)`,

    each one FFT of length N. By the vertex argument (module docstring) the max over the allowed
    bins is the maximum over the band (and for ``fixed`` the min is the minimum).
    """
    T = obj.T
    cw = np.full(T, 2.0)
    cw[0] = 1.0
    k = np.arange(N // 2 + 1)
    if obj.name == "variance":
        G = _fold_fft(cw * (T - np.arange(T)), N)
        return (T * T + G[(2 * k) % N]) / (obj.J * T * T)
    if obj.name == "fixed":
        return _fold_fft(cw * np.asarray(obj.params["rho"], np.float64), N)[k]
    rhos = np.asarray(obj.params["rhos"], dtype=np.float64)
    acc = np.zeros(k.size)
    for s in range(0, rhos.shape[0], 256):  # (256, N) at a time
        P = _fold_fft(cw * rhos[s:s + 256], N)[:, k]
        acc += np.sum((P - 1.0) ** 2, axis=0)
    return acc / rhos.shape[0]


def certificate(obj: Objective, c: Constraints, maximize: bool) -> dict | None:
    """What a search can be compared with: ``{"value", "kind", "note", ...}`` or None.

    ``kind`` is ``"exact"`` (the optimum over the feasible set) or ``"upper_bound"`` /
    ``"lower_bound"`` (with a time support or an ε-ball the feasible set shrinks and the value
    over the band only bounds the optimum). For ``fixed`` without a band the value is literally
    the frame bound of :func:`rfbjax.frames.circular_frame_bounds`.
    """
    if obj.name == "population" and not maximize:
        return None
    if obj.name == "variance" and not maximize:
        attained = c.allowed is None and c.support is None and not c.near and obj.T <= c.N
        return {"value": 2.0 / (obj.J * obj.T), "kind": "exact" if attained else "lower_bound",
                "note": "2/(JT): R_x(tau) = 0 for 0 < tau < T (an impulse)"}
    if c.near or c.allowed is None:
        bins = np.arange(c.N // 2 + 1)  # with x0, x's spectrum is not restricted to the band
    else:
        bins = np.flatnonzero(c.allowed)
    vals = tone_values(obj, c.N)
    j = int(bins[np.argmax(vals[bins])] if maximize else bins[np.argmin(vals[bins])])
    value = float(vals[j])
    kind = "exact" if c.band_only else ("upper_bound" if maximize else "lower_bound")
    band = "allowed " if c.allowed is not None and not c.near else ""
    if obj.name == "variance":
        note = ("2/J (constant or alternating signal)" if not band else
                "best pure tone over the allowed bins (vertex argument)")
    elif obj.name == "fixed":
        note = f"{'B = max' if maximize else 'A = min'} of the power response P over the {band}DFT bins"
        if not band:
            A, B = _jit_bounds(jnp.asarray(obj.weights), c.N)
            value = float(B) if maximize else float(A)
            note += " (rfbjax.frames.circular_frame_bounds)"
    else:
        note = f"best pure tone over the {band}bins: mean over the sample of (P_k - 1)^2"
    return {"value": value, "kind": kind, "note": note, "bin": j, "frequency": j / c.N}


def spectral_peak(x: np.ndarray, sample_rate: float | None = None) -> dict:
    """Peak of the power spectrum of x: bin, cycles/sample, period, Hz, and the share of the
    energy within ±2 bins of it (near 1 for a pure tone, i.e. a locally periodic signal)."""
    x = np.asarray(x, dtype=np.float64)
    N = x.size
    p = np.abs(np.fft.rfft(x)) ** 2
    g = np.full(p.shape, 2.0)
    g[0] = 1.0
    if N % 2 == 0:
        g[-1] = 1.0
    p = p * g
    k = int(np.argmax(p))
    f = k / N
    out = {"bin": k, "cycles_per_sample": f, "period_samples": (1.0 / f) if k else None,
           "energy_share_pm2_bins": float(p[max(0, k - 2):k + 3].sum() / p.sum())}
    if sample_rate:
        out["hz"] = f * float(sample_rate)
    return out


def builtin_values(obj: Objective, c: Constraints, *, sample_rate: float = 22050.0,
                   names=BASELINE_SIGNALS, dtype=None) -> list[dict] | None:
    """The objective at the built-in signals, each made feasible by the orthogonal projection
    onto the constraint subspace (band ∩ support) and renormalised: ``[{"signal", "value",
    "feasible_share"}]`` (``feasible_share``: the share of its energy the projection keeps; a
    signal with none left, e.g. ``alternating`` without Nyquist, gets ``value`` None).
    Returns None with ``near`` (built-ins are not in the ε-ball around x₀).
    """
    from .signals import make_signal

    if c.near:
        return None
    if dtype is None:
        dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    sub = _subspace_projection(c, dtype)
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=dtype), obj.params)
    rows = []
    for name in names:
        try:
            x = make_signal(name, c.N, sample_rate)
        except InputError:  # e.g. sine:3 at N = 4, or a sample rate too low for a sound
            continue
        xp = np.asarray(sub(jnp.asarray(x, dtype=dtype)), dtype=np.float64)
        share = float(np.dot(xp, xp))
        value = None
        if share > 1e-10:
            value = float(obj.value(jnp.asarray(xp / np.sqrt(share), dtype=dtype), params))
        rows.append({"signal": name, "value": value, "feasible_share": share})
    return rows


# ----------------------------------------------------------------------------- driver
@dataclass
class AttackResult:
    """Outcome of :func:`attack` (NumPy). ``x``: the best signal (unit energy; with ``near``,
    x₀ + δ as found, x₀ of unit energy). ``history (steps+1, R)``: objective per step per
    restart. ``steps (R,)``: optimiser steps each restart took. Times in seconds."""

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
        """value / certificate (≤ 1 when maximising, ≥ 1 when minimising; 1 is optimal)."""
        if not self.certificate or not self.certificate["value"]:
            return None
        return float(self.value / self.certificate["value"])

    @property
    def restart_steps_per_s(self) -> float:
        """Throughput of the compiled loop: restarts × loop iterations / run time."""
        return self.restarts * max(self.iterations, 1) / max(self.run_s, 1e-12)


def attack(obj: Objective, c: Constraints, *, maximize: bool = True, restarts: int = 64,
           steps: int = 500, optimizer: str = "adam", lr: float = 0.1,
           schedule: str | None = None, tol: float = 1e-6, patience: int = 50, seed: int = 0,
           dtype=jnp.float32) -> AttackResult:
    """Run the search: ``restarts`` random starts (key ``PRNGKey(seed)``) in one compiled loop,
    keep the best restart, certify it (:func:`certificate`).

    Raises:
      InputError: restarts < 1, steps < 1, bad optimiser settings, every restart non-finite.
    """
    _check_search(steps, tol, patience, restarts)
    solve = make_solver(obj.fn, c, maximize=maximize, steps=steps, optimizer=optimizer, lr=lr,
                        schedule=schedule, tol=tol, patience=patience, dtype=dtype)
    z0 = initial_points(jax.random.PRNGKey(int(seed)), c, int(restarts), dtype)
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=dtype), obj.params)
    t0 = time.perf_counter()
    compiled = jax.jit(solve).lower(params, z0).compile()
    t1 = time.perf_counter()
    out = jax.block_until_ready(compiled(params, z0))
    t2 = time.perf_counter()
    out = jax.tree_util.tree_map(np.asarray, out)
    values = out["best"].astype(np.float64)
    if not np.any(np.isfinite(values)):
        raise InputError("the search produced no finite objective value (try a smaller --lr)")
    values = np.where(np.isfinite(values), values, -np.inf if maximize else np.inf)
    b = int(np.argmax(values) if maximize else np.argmin(values))
    x = np.asarray(solve.to_signal(jnp.asarray(out["best_z"][b])), dtype=np.float64)
    x0_value = delta = None
    if c.near:
        x0_value = float(obj.value(jnp.asarray(c.x0, dtype=dtype), params))
        delta = float(np.linalg.norm(x - c.x0) / np.linalg.norm(c.x0))
    else:
        x = x / np.linalg.norm(x)
    return AttackResult(obj.name, bool(maximize), x, float(values[b]), values,
                        out["history"].astype(np.float64), out["steps"], int(out["iterations"]),
                        b, certificate(obj, c, maximize), t1 - t0, t2 - t1, int(restarts),
                        x0_value, delta)
