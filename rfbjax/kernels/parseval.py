r"""Parseval by construction: strided conv1d kernels that are tight for every parameter value.

A conv1d layer with J filters, C input channels, T taps and stride d maps C signals to J
outputs kept every d-th sample, $y_j[m] = \sum_c (x_c \circledast w_{jc})[md]$. With the
polyphase parts $x_{c,r}[m] = x_c[md - r]$ and $T = Kd$ taps it is the J × Cd matrix filter

$$
y(z) = H(z)\, x(z), \qquad H(z) = \sum_{k<K} H_k z^{-k}, \qquad
(H_k)_{j,\, c d + r} = w[j, c, k d + r]
$$

(convolution, the convention of `rfbjax.kernels.strided`; the cross-correlation of PyTorch,
Flax and Equinox is the same layer on the time-reversed signal, with the same frame bounds).
The layer is *Parseval*, $\|\Phi x\|^2 = \|x\|^2$ for every x, exactly when H is
paraunitary: $H(z)^H H(z) = I_{Cd}$ on $|z| = 1$. That needs J ≥ Cd.

**Construction.** With $P = UU^\top$ the orthogonal projector onto the span of a J × r matrix U
of orthonormal columns, the degree-one block $V(z) = I - P + z^{-1} P$ is paraunitary
($V^H V = (I - P)^2 + P^2 = I$ on the circle), and so is

$$
H(z) = V_{K-1}(z) \cdots V_1(z)\, Q, \qquad Q^\top Q = I_{Cd},
$$

a polynomial of degree K − 1 in $z^{-1}$: K = T/d tap blocks, T taps. Every parameter value
gives a Parseval layer, so $A = B = 1$ on $\ell^2(\mathbb Z)$ and on every $\mathbb Z_N$ with
d | N (on $\mathbb Z_N$ the taps fold mod N and H is evaluated at the (N/d)-th roots of unity,
where it is still paraunitary). Multiplying by $\sqrt g$ gives $A = B = g$ (``gain``).

**Free parameters.** Q and the $U_k$ are the sign-fixed QR orthonormalisations of free
matrices ($Q = \operatorname{qr}(\tilde Q)$ with a positive diagonal of R), so any real values
of the free matrices (of full column rank) give a Parseval kernel: gradient steps on them never
leave the set. The projector ranks $r_k \in \{1, \dots, J - 1\}$ are static; the factors are
stored as one ``(K − 1, J, max r)`` stack of which factor k uses the first $r_k$ columns
(the first $r$ columns of a QR depend on the first r columns of the matrix only).

**The sampled distribution.** `parseval_init` draws $\tilde Q$ and each $\tilde U_k$ with
i.i.d. standard normal entries (through `rfbjax.kernels.rng`), so Q is a Haar-random isometry
(uniform on the Stiefel manifold of J × Cd matrices with orthonormal columns) and each $P_k$ a
Haar-random rank-$r_k$ projector, all independent. The ranks shape the filters: a factor moves
the part of the current polynomial that lies in range($P_k$) one tap block later, a fraction
$r_k/J$ of its energy in expectation (P_k is independent of what it acts on). So the expected
tap-block energy profile $e_k = \|H_k\|_F^2/(Cd)$ is the law of $\sum_k B_k$ with independent
Bernoulli($r_k/J$) variables; for equal ranks r it is Binomial(K − 1, r/J): centred at block
(K − 1) r/J, with spread $\sqrt{(K-1)(r/J)(1 - r/J)}$ blocks. The default $r = \lfloor J/2\rfloor$
centres the energy at the middle of the T taps with the widest spread; small ranks give
filters whose energy sits in their first taps, ranks near J in their last.

**Rounding.** The kernel is exact up to rounding: in float32 the K − 1 products accumulate
errors, and κ − 1 (evaluated in float64) grows with K = T/d; docs/guide/parseval.md has the
table.

All functions are pure JAX: jit, vmap and grad compose, in float32 and float64.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:
    import jax

__all__ = ["ParsevalParams", "parseval_init", "parseval_kernel", "check_parseval_shape",
           "nearest_multiple", "gram_defect"]


def nearest_multiple(T: int, d: int) -> int:
    """The multiple of d nearest to T (at least d; ties go up)."""
    return max(int(d), int(d) * int(math.floor(T / d + 0.5)))


def check_parseval_shape(J, C, T, stride, *, what: str = "") -> None:
    """InputError unless a Parseval layer of this shape exists: J ≥ C·stride, stride | T.

    Args:
      J: filters.
      C: input channels.
      T: taps.
      stride: d.
      what: a prefix naming the caller (e.g. ``"--init parseval: "``).

    Raises:
      InputError: one line naming the argument and the nearest valid value.
    """
    for name, v in (("J", J), ("C", C), ("T", T), ("stride", stride)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise InputError(f"{what}{name}: must be an integer >= 1, got {v!r}")
    J, C, T, d = int(J), int(C), int(T), int(stride)
    if J < C * d:
        raise InputError(f"{what}J: {J} filters cannot form a Parseval layer on C={C} channel(s) "
                         f"at stride {d} (needs J >= C*stride); nearest valid J={C * d}")
    if T % d:
        raise InputError(f"{what}T: {T} taps is not a multiple of the stride {d}; nearest valid "
                         f"T={nearest_multiple(T, d)}")


def _ranks(J: int, K: int, ranks) -> tuple[int, ...]:
    if ranks is None:
        if K > 1 and J < 2:
            raise InputError("ranks: J=1 leaves no projector rank in 1..J-1 for T > stride; "
                             "nearest valid T is the stride (one tap block)")
        return (J // 2,) * (K - 1)
    if isinstance(ranks, (int, np.integer)) and not isinstance(ranks, bool):
        ranks = (int(ranks),) * (K - 1)
    ranks = tuple(ranks)
    if len(ranks) != K - 1:
        raise InputError(f"ranks: need one rank per factor, K-1 = T/stride - 1 = {K - 1}, "
                         f"got {len(ranks)}")
    for r in ranks:
        if isinstance(r, bool) or int(r) != r or not 1 <= r <= J - 1:
            near = min(max(int(r) if not isinstance(r, bool) else 1, 1), max(J - 1, 1))
            raise InputError(f"ranks: each rank must be an integer in 1..J-1={J - 1}, got {r!r}; "
                             f"nearest valid {near}")
    return tuple(int(r) for r in ranks)


@dataclasses.dataclass(frozen=True)
class ParsevalParams:
    """The free parameters of a Parseval conv1d kernel (a JAX pytree).

    Leaves (what ``grad`` and optimisers see): ``isometry`` and ``projectors``. Everything
    else is static auxiliary data.

    Attributes:
      isometry: ``(J, C*stride)`` free matrix; its sign-fixed QR factor is Q.
      projectors: ``(K-1, J, max(ranks))`` free matrices; factor k uses the first
        ``ranks[k]`` columns of the QR factor of ``projectors[k]``.
      J: filters.
      C: input channels.
      T: taps (K = T/stride tap blocks).
      stride: d.
      ranks: the projector ranks, one per factor (K − 1 of them).
      gain: A = B = gain.
    """

    isometry: jax.Array
    projectors: jax.Array
    J: int = dataclasses.field(metadata=dict(static=True), default=1)
    C: int = dataclasses.field(metadata=dict(static=True), default=1)
    T: int = dataclasses.field(metadata=dict(static=True), default=1)
    stride: int = dataclasses.field(metadata=dict(static=True), default=1)
    ranks: tuple = dataclasses.field(metadata=dict(static=True), default=())
    gain: float = dataclasses.field(metadata=dict(static=True), default=1.0)

    @property
    def K(self) -> int:
        """Number of tap blocks T/stride."""
        return self.T // self.stride


def _register():
    import jax

    jax.tree_util.register_dataclass(
        ParsevalParams, data_fields=["isometry", "projectors"],
        meta_fields=["J", "C", "T", "stride", "ranks", "gain"])


_register()


def _check_dtype(dtype):
    import jax.numpy as jnp

    dt = jnp.dtype(dtype)
    if dt not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        raise InputError(f"dtype: must be float32 or float64, got {dt.name}")
    return dt


def parseval_init(key: jax.Array, J: int, C: int, T: int, stride: int, *, ranks=None,
                  dtype=np.float32, gain: float = 1.0) -> ParsevalParams:
    r"""Random free parameters of a Parseval conv1d kernel (module docstring).

    Samples a Haar-random isometry Q (J × C·stride, orthonormal columns) and independent
    Haar-random orthogonal projectors of the given ranks: the free matrices are i.i.d. standard
    normal (`rfbjax.kernels.rng`, one draw from ``key``), stored already orthonormalised (their
    QR factor is themselves). `parseval_kernel` of the result is a random Parseval filterbank.

    Args:
      key: a raw ``uint32[2]`` PRNG key.
      J: filters (J ≥ C·stride).
      C: input channels.
      T: taps, a multiple of ``stride``.
      stride: d.
      ranks: None (⌊J/2⌋ for each of the K − 1 = T/d − 1 factors), one int for all, or a
        sequence of K − 1 ints in 1 … J − 1. Larger ranks move the filters' energy to later
        taps (module docstring: the tap-block energy profile is Binomial(K − 1, r/J) in
        expectation).
      dtype: float32 or float64.
      gain: A = B = gain (> 0).

    Returns:
      A `ParsevalParams`.

    Raises:
      InputError: J < C·stride, stride not dividing T, bad ranks, gain or dtype (one line,
        naming the argument and the nearest valid value).
    """
    import jax.numpy as jnp

    from . import rng

    check_parseval_shape(J, C, T, stride)
    J, C, T, d = int(J), int(C), int(T), int(stride)
    K = T // d
    rk = _ranks(J, K, ranks)
    g = float(gain)
    if not (math.isfinite(g) and g > 0):
        raise InputError(f"gain: must be a finite number > 0, got {gain!r}")
    dt = _check_dtype(dtype)
    rmax = max(rk, default=1)
    n_iso, n_proj = J * C * d, (K - 1) * J * rmax
    z = rng.normal(key, (n_iso + n_proj,), dtype=dt)
    iso = _orthonormal(z[:n_iso].reshape(J, C * d))
    proj = _orthonormal(z[n_iso:].reshape(K - 1, J, rmax))
    return ParsevalParams(iso, proj, J, C, T, d, rk, g)


def _orthonormal(a: jax.Array) -> jax.Array:
    """The Q factor of the reduced QR of ``(..., n, k)`` (n ≥ k) with a positive diagonal of R."""
    import jax.numpy as jnp

    q, r = jnp.linalg.qr(a, mode="reduced")
    s = jnp.sign(jnp.diagonal(r, axis1=-2, axis2=-1))
    s = jnp.where(s == 0, jnp.ones_like(s), s)
    return q * s[..., None, :]


def gram_defect(U: jax.Array) -> jax.Array:
    r"""$I - U^\top U$ of ``(..., n, k)`` columns of norm ≤ 1, accurate beyond float32.

    The defect of a float32 QR factor is about $10^{-7}$, as large as the rounding of the
    plain float32 product $U^\top U$, and it is what the Parseval factors remove (module
    docstring). In float32, U is split exactly into slices $U = U_1 + U_2 + R$ on the grids
    $2^{-\beta}$ and $2^{-2\beta}$ (β = 11 bits for n ≤ 64, fewer for more rows), so that
    $U_1^\top U_1$ and $U_1^\top U_2$ are sums of integers below $2^{24}$ (times a power of two):
    exact in float32 in any summation order. Only the terms of size $2^{-2\beta}$ are rounded,
    so the defect comes out with an absolute error of about $10^{-10}$ (float64: the plain
    product).

    Args:
      U: ``(..., n, k)`` real, columns of norm at most 1 (up to rounding).

    Returns:
      ``(..., k, k)``.
    """
    import jax.numpy as jnp

    eye = jnp.eye(U.shape[-1], dtype=U.dtype)

    def mm(x, y):
        return jnp.einsum("...ja,...jb->...ab", x, y, precision="highest")

    if U.dtype != jnp.float32:
        return eye - mm(U, U)
    n = U.shape[-2]
    # exactness: sum_j |U1 U1| <= 2^(2 beta) (unit columns), sum_j |U1 U2| <= sqrt(n) 2^(2 beta - 1)
    beta = int(min(11, (25 - 0.5 * math.log2(max(n, 1))) // 2))
    s1, s2 = 2.0 ** beta, 2.0 ** (2 * beta)
    U1 = jnp.round(U * s1) / s1
    R1 = U - U1                                                   # exact
    U2 = jnp.round(R1 * s2) / s2
    R2 = R1 - U2                                                  # exact, |R2| <= 2^(-2 beta - 1)
    k = U.shape[-1]
    # one batched dot for the four products (XLA's CPU dot is slow on many tiny matrices)
    P = mm(jnp.concatenate([U1, U2], -1), jnp.concatenate([U1, U2, R2], -1))   # (..., 2k, 3k)
    p11, p12, p13, p22 = (P[..., :k, :k], P[..., :k, k:2 * k], P[..., :k, 2 * k:],
                          P[..., k:, k:2 * k])
    mid = p12 + jnp.swapaxes(p12, -1, -2)                         # exact
    tail = p13 + jnp.swapaxes(p13, -1, -2) + p22                  # rounded, size 2^(-2 beta)
    return ((eye - p11) - mid) - tail


_CHUNKS = 8
_GROUP = 2


def _chunks(n: int) -> list[tuple[int, int]]:
    """The factors 0 … n − 1 in at most `_CHUNKS` consecutive ranges ``[a, b)``."""
    c = min(_CHUNKS, n)
    edges = [round(i * n / c) for i in range(c + 1)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def parseval_kernel(params: ParsevalParams) -> jax.Array:
    r"""The ``(J, C, T)`` kernel (PyTorch layout) of a Parseval layer: A = B = gain.

    $w[j, c, kd + r] = \sqrt{g}\, (H_k)_{j,\, cd + r}$ with
    $H(z) = V_{K-1}(z) \cdots V_1(z) Q$ (module docstring), for *every* value of the free
    parameters. This is the kernel to audit (`rfbjax.audit`, `rfbjax.layer_frame_bounds`) of a
    saved `rfbjax.layers` module: its stored leaves are free parameters, not a kernel.
    Cost: $O(K^2 J C d\, r)$ (K = T/d): a ``lax.scan`` applies two factors per step in
    compact form, each of a few chunks of steps only on the tap blocks that can be nonzero by its
    end (equal to the factors applied one by one, up to rounding).

    Args:
      params: a `ParsevalParams` (leaves may be batched under ``vmap``).

    Returns:
      ``(J, C, T)`` of the leaves' dtype.

    Raises:
      AssertionError: (chex, at trace time) leaves whose shapes do not match the static data.
    """
    import chex
    import jax
    import jax.numpy as jnp

    p = params
    J, C, T, d = p.J, p.C, p.T, p.stride
    K = T // d
    rmax = p.projectors.shape[-1]
    chex.assert_shape(p.isometry, (J, C * d),
                      custom_message=f"parseval_kernel: isometry must be (J, C*stride) = "
                                     f"({J}, {C * d})")
    chex.assert_shape(p.projectors, (K - 1, J, rmax),
                      custom_message=f"parseval_kernel: projectors must be (K-1, J, r) with "
                                     f"K-1={K - 1}, J={J}")
    dt = p.isometry.dtype
    hi = "highest"
    Q = _orthonormal(p.isometry)                                   # (J, Cd)
    # one Newton-Schulz step with an accurate defect: Q^T Q = I to second order
    # (the defect of an exact QR factor is 0 for every parameter value: no gradient through it)
    Q = Q + 0.5 * jnp.matmul(Q, jax.lax.stop_gradient(gram_defect(Q)), precision=hi)
    Cd = C * d
    H = jnp.zeros((J, K, Cd), dt).at[:, 0].set(Q)                 # [j, k, c d + r]
    if K > 1:
        mask = np.arange(rmax)[None, :] < np.asarray(p.ranks)[:, None]     # (K-1, rmax)
        U = _orthonormal(p.projectors) * jnp.asarray(mask, dt)[:, None, :]
        # P = U (I + E) U^T with E = I - U^T U ~ (U^T U)^{-1} - I: a projector to second order
        # in U's rounding (float32, K = 1024: kappa - 1 about 30x smaller than with U U^T).
        # E is 0 for an exact QR factor, whatever the parameters: no gradient through it.
        E = jax.lax.stop_gradient(gram_defect(U))                   # (K-1, rmax, rmax)

        W = U + jnp.matmul(U, E, precision=hi)                     # U (I + E): P = W U^T
        # m factors per scan step (compact form of their product): with Y = [W_0 .. W_{m-1}]^T H,
        # X_i = W_i^T V_{i-1} ... V_0 H = Y_i + sum_{l<i} G_il D_l, G_il = W_i^T U_l, and
        # D_i = (z^-1 - 1) X_i; then V_{m-1} ... V_0 H = H + sum_i U_i D_i. Two J-row matmuls
        # per m factors; the recursion runs on r-row blocks. Padding factors U = W = 0 are V = I
        # exactly.
        m = min(_GROUP, K - 1)
        ng = -(-(K - 1) // m)
        pad = ((0, ng * m - (K - 1)), (0, 0), (0, 0))
        r = rmax
        Ug = jnp.pad(U, pad).reshape(ng, m, J, r).transpose(0, 2, 1, 3).reshape(ng, J, m * r)
        Wg = jnp.pad(W, pad).reshape(ng, m, J, r).transpose(0, 2, 1, 3).reshape(ng, J, m * r)
        G = jnp.einsum("gja,gjb->gab", Wg, Ug, precision=hi)       # (ng, m r, m r)

        def group(H, UWG):                                          # H: (J, n Cd)
            Uk, Wk, Gk = UWG
            Y = jnp.matmul(Wk.T, H, precision=hi)                   # (m r, n Cd)
            Ds = []
            for i in range(m):
                X = Y[i * r:(i + 1) * r]
                if i:
                    X = X + jnp.matmul(Gk[i * r:(i + 1) * r, :i * r],
                                       jnp.concatenate(Ds, axis=0), precision=hi)
                Ds.append(jnp.pad(X[:, :-Cd], ((0, 0), (Cd, 0))) - X)   # (z^-1 - 1) X
            return H + jnp.matmul(Uk, jnp.concatenate(Ds, axis=0), precision=hi), None

        # after group g the polynomial has degree (g + 1) m: each chunk of groups runs on the tap
        # blocks that can be nonzero by its end (the rest are exactly 0), about half the work
        H = H.reshape(J, K * Cd)
        for a, b in _chunks(ng):
            n = min(b * m + 1, K) * Cd
            Hn, _ = jax.lax.scan(group, H[:, :n], (Ug[a:b], Wg[a:b], G[a:b]))
            H = Hn if n == K * Cd else jnp.concatenate([Hn, H[:, n:]], axis=1)
    w = H.reshape(J, K, C, d).transpose(0, 2, 1, 3).reshape(J, C, T)
    return w if p.gain == 1.0 else (math.sqrt(p.gain) * w).astype(dt)
