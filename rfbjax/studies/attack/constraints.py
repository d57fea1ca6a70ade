"""Constraint sets of the search (bands, time support, a ball around a recording) and
the exact projections onto them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import jax
import jax.numpy as jnp

from ...errors import InputError



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
