r"""Laws of the frame bounds of *strided* Gaussian filterbanks, without sampling.

Model: J filters of T taps, taps i.i.d. $\mathcal N(0, d/(JT))$ (the energy-preserving
variance of `rfbjax.kernels.initializers`), stride d (``d | T`` assumed, see below). The frame bounds
are $A = \min_\xi \lambda_{\min}\mathcal M(\xi)$, $B = \max_\xi \lambda_{\max}\mathcal M(\xi)$
with the d×d polyphase matrix $\mathcal M(\xi) = \frac1d G(\xi)^H G(\xi)$,
$G(\xi)[j, a] = \hat w_j(\omega + 2\pi a/d)$ (`rfbjax.kernels.strided`), $\omega \in [0, \pi/d]$.

**One frequency.** The alias values $\hat w_j(\omega + 2\pi a/d)$, a < d, have covariance
$\sigma^2 \sum_{t<T} e^{-2\pi i (a-b) t/d}$, which is $\sigma^2 T\,\delta_{ab}$ when d
divides T. Away from the two end frequencies (where the real filters make the aliases pair up as
complex conjugates) the rows of G are therefore i.i.d. $\mathcal{CN}(0, \sigma^2 T I_d)$, and

$$
\mathcal M(\xi) \sim \tfrac1J\, \mathcal{CW}_d(J, I)
$$

(complex Wishart, mean eigenvalue 1). Its eigenvalues $t_1 \dots t_d$ (times J) form the
Laguerre unitary ensemble: a determinantal point process with the d orthonormal Laguerre functions
$q_n(t) = p_n(t)\sqrt{t^{\alpha} e^{-t}}$, $\alpha = J - d$ ($p_n$ the orthonormal
Laguerre polynomials of that weight, computed by their three-term recurrence). Gap probabilities
are d×d determinants of partial Gram matrices (Andréief):

$$
F(u) = P(\lambda_{\max} \le u) = \det\Bigl[\int_0^{Ju} q_i q_j\Bigr]_{i,j<d},
\qquad S(u) = P(\lambda_{\min} > u) = \det\Bigl[\int_{Ju}^\infty q_i q_j\Bigr]_{i,j<d},
$$

and, by Jacobi's formula, the densities $f_{\max} = F\, q^\top \Gamma^{-1} q$ (Γ the Gram
matrix above, q evaluated at Ju, times J). At the end frequencies $\omega \in \{0, \pi/d\}$
the aliases pair as $\hat w(\theta), \overline{\hat w(\theta)}$; a unitary change of basis makes
$\mathcal M$ real: $\mathcal M \sim \frac1J W_d(J, I)$ (*real* Wishart). Its gap
probabilities are Pfaffians (de Bruijn): with $\varphi_i$ the Laguerre functions of
$\alpha' = J - d - 1$ (orthonormal for the square of the real weight
$t^{(J-d-1)/2}e^{-t/2}$),

$$
P(\text{all } t_k \in I) = \frac{\operatorname{Pf} \mathcal A(I)}{\operatorname{Pf}\mathcal A(\mathbb R_+)},
\qquad \mathcal A_{ij}(I) = \iint_{I^2} \operatorname{sgn}(y - x)\, \varphi_i(x)\varphi_j(y)\,dx\,dy,
$$

bordered by $\int_I \varphi_i$ when d is odd; $\operatorname{Pf}^2 = \det$. Every integral
is a cumulative trapezoid sum on one fine grid.

**Two frequencies.** Neighbouring bins $\xi, \xi + 1$ (spacing $h = 2\pi/N$) have
$G(\xi+1) \approx \gamma\, G(\xi) + \sqrt{1-r}\, Z$ with Z independent, γ the normalised
Dirichlet kernel and $r = \gamma^2 = \bigl(\frac{\sin(\pi T/N)}{T\sin(\pi/N)}\bigr)^2$ (the
Fejér kernel; the cross-alias terms are $O(1/N)$ and dropped). That is two times of a
stationary Wishart (Laguerre) process, whose eigenvalues are non-colliding squared Bessel
processes: their two-time law is determinantal with the Hille–Hardy kernel
$\sum_n r^n q_n(x) q_n(y)$ (the Kibble–Moran law of the stride-1 predictor is its d = 1 case).
Hence, with $a_{in}(u) = \int_0^{Ju} q_i q_n$ (i < d, all n ≥ 0),

$$
P(\lambda_{\max}(\xi) \le u, \lambda_{\max}(\xi+1) \le u)
= \frac{\det\bigl[\sum_n r^n a_{in} a_{jn}\bigr]}{\prod_{i<d} r^i}
= F(u)^2 \det\bigl(I + K K^\top\bigr),
\qquad K = R_1^{-1/2} a_1^{-1} a_2 R_2^{1/2},
$$

($a_1$ the first d columns, $a_2$ the rest, $R_1, R_2$ the matching diagonals of
$r^n$); the second form is the stable one (every entry of $R_1^{-1/2}(\cdot)R_2^{1/2}$
carries a factor $r^{(n-i)/2} \le r^{1/2}$). The series is cut where $r^n < 10^{-9}$. The
same with $\int_{Ju}^\infty$ gives the pair law of $\lambda_{\min}$.

**Along the bins** (as at stride 1): the chain over $\xi = 0 \dots \lfloor M/2 \rfloor$
(M = N/d; end nodes ξ = 0 and, for even M, ξ = M/2), each step conditioned on the previous bin only:

$$
P(B \le u) \approx F_0(u)^{n_0} F(u)^{1-n_0} \Bigl(\frac{P_2(u)}{F(u)}\Bigr)^{n_e},
$$

$F_0$ the real-Wishart law, $P_2$ the pair law, $n_e = \lfloor M/2 \rfloor$
edges, and the same for $P(A > u)$ with S. When bins are so close that $r^n$ needs more
than ``_N_SERIES_MAX`` terms, the step uses the continuous limit instead (Rice): by
Hellmann–Feynman $\lambda_{\max}' = v^H \mathcal M' v$, and with the derivative process
independent of the value (centred time axis) $\lambda' \mid \lambda = u \sim \mathcal N(0,
2\lambda_2 u/J)$, $\lambda_2 = (T^2-1)/12$, so the expected number of up-crossings of level u per
edge is $f_{\max}(u)\sqrt{\lambda_2 u/(\pi J)}\; h$ and the step is
$1 - \mu_{\text{edge}}/F$. On $\ell^2(\mathbb Z)$ (N = ∞) the whole range
$[0, \pi/d]$ gives $P(B \le u) \approx F_0^2 F^{-1} e^{-\mu/F}$,
$\mu = f_{\max}(u)\sqrt{\pi \lambda_2 u / J}/d$.

**J < d.** G^H G and G G^H share their non-zero eigenvalues, so the same laws hold with the roles
of J and d swapped (a min(J, d)-square Wishart with max(J, d) degrees of freedom, still scaled
by 1/J); the d − J remaining eigenvalues are 0 and A = 0. J = d (α' = −1) is not covered.

**Assumptions.** d divides T (otherwise the alias covariance is not a multiple of the identity;
the prediction then treats it as if it were); the pseudo-covariance of the real filters is kept
only at the two end nodes; the cross-alias correlation between neighbouring bins and between
values and derivatives (both O(1/T) or smaller) is dropped; first-order Markov chain along the
bins. Nothing is fitted. Integrals: trapezoid sums on a grid fine enough for the fastest
Laguerre function used (step ``_DT`` of its local wavelength / 2π).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["StridedModel", "laguerre_functions"]

_N_SERIES_MAX = 1200          # most Hille–Hardy terms before the continuous (Rice) step
_SERIES_TOL = 1e-9
_MEMORY_BUDGET = 1.5 * 2 ** 30  # bytes
_M_MAX = 64                     # largest min(J, d) handled (seconds per cell grow as its cube)
_DT = 0.2                     # grid step, in wavelengths/(2 pi) of the fastest q_n


def laguerre_functions(alpha: float, n: int, t: np.ndarray) -> np.ndarray:
    r"""Orthonormal Laguerre functions $q_k(t) = p_k(t)\sqrt{t^\alpha e^{-t}}$, k < n.

    $\int_0^\infty q_j q_k = \delta_{jk}$; by the normalised three-term recurrence
    $p_{k+1} = \bigl[(2k+1+\alpha-t)p_k - \sqrt{k(k+\alpha)}\,p_{k-1}\bigr]/\sqrt{(k+1)(k+\alpha+1)}$
    (p_0 = 1/√Γ(α+1)). Returns ``(n, len(t))`` float64; t > 0.
    """
    t = np.asarray(t, dtype=np.float64)
    out = np.empty((n, t.size))
    with np.errstate(divide="ignore", under="ignore"):
        logq0 = 0.5 * (alpha * np.log(t) - t - math.lgamma(alpha + 1.0))
    q0 = np.exp(logq0)
    out[0] = q0
    if n > 1:
        out[1] = (1.0 + alpha - t) * q0 / math.sqrt(alpha + 1.0)
    for k in range(1, n - 1):
        out[k + 1] = ((2 * k + 1 + alpha - t) * out[k]
                      - math.sqrt(k * (k + alpha)) * out[k - 1]) / math.sqrt((k + 1) * (k + alpha + 1))
    return out


def _trap_weights(x: np.ndarray) -> np.ndarray:
    dx = np.diff(x)
    w = np.zeros_like(x)
    w[:-1] += 0.5 * dx
    w[1:] += 0.5 * dx
    return w


def _segment_cumsum(vals: np.ndarray, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    r"""Trapezoid $\int_{x_0}^{x_{idx_k}} v$ for sorted indices idx (last axis of vals is x)."""
    dx = np.diff(x)
    mid = 0.5 * (vals[..., 1:] + vals[..., :-1]) * dx
    c = np.concatenate([np.zeros(vals.shape[:-1] + (1,)), np.cumsum(mid, axis=-1)], axis=-1)
    return c[..., idx]


def _partial_grams(p: np.ndarray, q: np.ndarray, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    r"""Trapezoid $\int_{x_0}^{x_{idx_k}} p_i q_m$ for every level k: ``(K, len(p), len(q))``.

    One pair of matrix products per stretch between consecutive levels, then a running sum.
    """
    order = np.argsort(idx, kind="stable")
    sidx = idx[order]
    dx = np.diff(x)
    out = np.empty((len(idx), p.shape[0], q.shape[0]))
    acc = np.zeros((p.shape[0], q.shape[0]))
    prev = 0
    for k, e in zip(order, sidx):
        if e > prev:
            h = 0.5 * dx[prev:e]
            acc = acc + (p[:, prev:e] * h) @ q[:, prev:e].T + (p[:, prev + 1:e + 1] * h) @ q[:, prev + 1:e + 1].T
            prev = e
        out[k] = acc
    return out


def _logdet_spd(a: np.ndarray) -> np.ndarray:
    sign, ld = np.linalg.slogdet(a)
    return np.where(sign > 0, ld, -np.inf)


class StridedModel:
    """Laws of A and B for stride d (J != d): ``laws(u)`` -> (P(B <= u), P(A > u)).

    ``N=None`` is ℓ²(Z) (continuous frequency); otherwise circular on Z_N (d | N).
    """

    def __init__(self, J: int, T: int, d: int, N: int | None):
        self.J, self.T, self.d, self.N = J, T, d, N
        # non-zero eigenvalues: those of the min(J, d)-square Wishart with max(J, d) degrees of
        # freedom (G^H G and G G^H share them; J < d leaves d - J exact zeros, A = 0)
        self.m, self.nu = min(J, d), max(J, d)
        if self.nu - self.m - 1 < 0:
            raise ValueError("the strided laws need J != stride")
        self.alpha = self.nu - self.m
        self.lam2 = (T * T - 1.0) / 12.0
        if N is None:
            self.n_end, self.n_edges, self.r = 2, None, None
            self.n_nodes = 2 * T // d + 2
            self.n_series = self.m
        else:
            M = N // d
            self.n_end = 2 if M % 2 == 0 else 1
            self.n_edges = M // 2
            self.n_nodes = M // 2 + 1
            s = math.sin(math.pi / N)
            self.r = (math.sin(math.pi * T / N) / (T * s)) ** 2 if N > 1 else 0.0
            if self.n_edges == 0:
                self.n_series = self.m
            elif self.r < 1e-12:
                self.n_series = self.m + 1
            else:
                need = self.m + int(math.ceil(math.log(_SERIES_TOL) / math.log(self.r))) if self.r < 1 else 10 ** 9
                self.n_series = need if need <= _N_SERIES_MAX else self.m
        # the eigenvalue range (in Wishart units t = J*lambda) outside which every law is 0 or 1
        # (real-Wishart tails, the heavier ones: exp(-(t - edge)^2 / (8J)) beyond the edges
        # (sqrt J +- sqrt d)^2; 18 sqrt(J) is a log-odds of 40)
        sJ, sd = math.sqrt(self.nu), math.sqrt(self.m)
        self.t_hi = (sJ + sd) ** 2 + 18.0 * sJ + 10.0
        self.t_lo = max((sJ - sd) ** 2 - 18.0 * sJ - 10.0, 1e-9)
        # memory of the quadrature: Laguerre functions on the grid, the partial Gram integrals at
        # 2 x 129 levels and their solves; the Hille-Hardy pair law is dropped (Rice step) when
        # it alone would pass the budget, and models that do not fit even so are refused
        if self._bytes(self.n_series) > _MEMORY_BUDGET:
            self.n_series = self.m
        if self.m > _M_MAX:
            raise MemoryError(f"stride {d} with J={J}: polyphase laws of {self.m}x{self.m} Wishart "
                              f"matrices are not computed (at most {_M_MAX}; the cost grows as "
                              "min(J, stride)^3)")
        if self._bytes(self.m) > _MEMORY_BUDGET:
            raise MemoryError(f"stride {d} with J={J}: the polyphase laws need about "
                              f"{self._bytes(self.m) / 2 ** 30:.1f} GiB (budget "
                              f"{_MEMORY_BUDGET / 2 ** 30:.0f} GiB)")
        self.rice = N is None or bool(self.n_edges and self.n_series == self.m)

    def _bytes(self, n: int) -> float:
        X = self._grid_points(n)
        return 8.0 * (n * X + 3 * 260 * self.m * n + 4 * self.m * X)

    def _grid_points(self, n: int) -> int:
        t_small = max((math.sqrt(self.nu) - math.sqrt(self.m)) ** 2, 1.0)
        dt = min(0.25, _DT * math.sqrt(t_small / n), 0.02 * math.sqrt(self.nu))
        return int(min(max((self.t_hi - self.t_lo) / dt, 400), 40000))

    def _grid(self, levels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Fine grid on [t_lo, t_hi] holding the levels; returns (grid, indices of the levels)."""
        m = self._grid_points(n)
        base = np.linspace(self.t_lo, self.t_hi, m)
        lv = np.clip(levels, self.t_lo, self.t_hi)
        grid, inv = np.unique(np.concatenate([base, lv]), return_inverse=True)
        return grid, inv[m:]

    def _complex_gaps(self, grid, idx, n, rice):
        """F, S (bulk complex-Wishart gap laws), their densities (t units) and the pair laws."""
        d = self.m
        q = laguerre_functions(self.alpha, n, grid)                     # (n, X)
        a = _partial_grams(q[:d], q, grid, idx)                          # (K, d, n)
        b = -a.copy()
        b[:, :, :d] += np.eye(d)[None]
        qa = q[:d, idx].T                                               # (K, d) at the levels
        out = {}
        for name, g in (("max", a), ("min", b)):
            g1 = g[:, :, :d]
            ld1 = _logdet_spd(g1)
            out[name + "_log"] = ld1
            # gap probabilities under 1e-250 are 0 to every law here: no solve there
            ok = ld1 > -575.0
            dens_ratio = np.zeros(len(idx))
            extra = np.zeros(len(idx))
            if np.any(ok):
                sol = np.linalg.solve(g1[ok], qa[ok][:, :, None])[..., 0]
                dens_ratio[ok] = np.maximum(np.einsum("ki,ki->k", qa[ok], sol), 0.0)   # f / F
                if self.n_edges and not rice and n > d and self.r >= 1e-12:
                    i_, m_ = np.arange(d), np.arange(d, n)
                    C = np.linalg.solve(g1[ok], g[ok][:, :, d:])          # (K, d, n-d)
                    Kmat = C * np.exp(0.5 * (m_[None, :] - i_[:, None]) * math.log(self.r))[None]
                    extra[ok] = _logdet_spd(np.eye(d)[None] + Kmat @ np.swapaxes(Kmat, 1, 2))
            out[name + "_dens_ratio"] = dens_ratio
            out[name + "_pair_extra"] = extra                              # log(P2 / F^2)
        return out

    def _real_gaps(self, grid, idx):
        r"""log P(all eigenvalues of real W_d(J) <= level) and (> level): de Bruijn Pfaffians."""
        d = self.m
        phi = laguerre_functions(self.nu - d - 1.0, d, grid)            # (d, X)
        X = grid.size
        Phi = _segment_cumsum(phi, grid, np.arange(X))                  # (d, X) running integrals
        # C[i, j](x) = int^x phi_j Phi_i, at the levels and at the top of the grid
        C = np.moveaxis(_partial_grams(Phi, phi, grid, np.append(idx, X - 1)), 0, -1)  # (i, j, K+1)
        Ck = C[:, :, :-1]                                                # (d, d, K)
        Pk = Phi[:, idx]                                                 # (d, K)
        Cinf = C[:, :, -1:]
        Pinf = Phi[:, -1][:, None]
        # below u: A_ij = C_ji(u) - C_ij(u)
        A_lo = np.swapaxes(Ck, 0, 1) - Ck
        # above u: int_u^inf phi_j (Phi_i - Phi_i(u)) - (i <-> j)
        D = (Cinf - Ck) - Pk[:, None, :] * (Pinf - Pk)[None, :, :]      # D[i, j] = int_u phi_j(Phi_i - Phi_i(u))
        A_hi = np.swapaxes(D, 0, 1) - D
        A_full = (np.swapaxes(Cinf, 0, 1) - Cinf)[:, :, 0]
        mats = [A_lo, A_hi]
        borders = [Pk, Pinf - Pk]
        res = []
        full = A_full
        if d % 2:
            full = np.zeros((d + 1, d + 1))
            full[:d, :d] = A_full
            full[:d, d] = Pinf[:, 0]
            full[d, :d] = -Pinf[:, 0]
        _, ld_full = np.linalg.slogdet(full)
        for A, bvec in zip(mats, borders):
            A = np.moveaxis(A, -1, 0)                                    # (K, d, d)
            if d % 2:
                Ab = np.zeros((A.shape[0], d + 1, d + 1))
                Ab[:, :d, :d] = A
                Ab[:, :d, d] = bvec.T
                Ab[:, d, :d] = -bvec.T
                A = Ab
            sign, ld = np.linalg.slogdet(A)
            res.append(np.where(sign > 0, 0.5 * (ld - ld_full), -np.inf))
        return res[0], res[1]

    def laws(self, u: np.ndarray, *, rough: bool = False):
        """(P(B <= u), P(A > u)) at the levels u (any order; in units of the mean eigenvalue).

        ``rough``: the continuous-limit (Rice) step on every grid (cheap; used to locate the
        supports before the exact pass).
        """
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            return self._laws(u, rough)

    def _laws(self, u, rough):
        u = np.maximum(np.asarray(u, dtype=np.float64), 1e-300)
        J = self.J
        rice = self.rice or rough
        n = self.m if rice else self.n_series
        grid, idx = self._grid(J * u, n)
        g = self._complex_gaps(grid, idx, n, rice)
        logF, logS = g["max_log"], g["min_log"]
        logF0, logS0 = self._real_gaps(grid, idx)
        k = self.n_end
        tl = J * u
        with np.errstate(all="ignore"):
            if self.N is None or (self.n_edges and rice):
                # up-crossings of lambda_max (down-crossings of lambda_min) per unit omega, over f/F
                speed = np.sqrt(2.0 * self.lam2 * u / J) / math.sqrt(2.0 * math.pi)
                # density in lambda units: f_t * J; f_t / F = dens_ratio (t units)
                rB = g["max_dens_ratio"] * J * speed
                rA = g["min_dens_ratio"] * J * speed
                if self.N is None:
                    span = math.pi / self.d
                    stepB, stepA = -span * rB, -span * rA
                else:
                    h = 2.0 * math.pi / self.N
                    stepB = self.n_edges * np.log1p(-np.minimum(h * rB, 1.0))
                    stepA = self.n_edges * np.log1p(-np.minimum(h * rA, 1.0))
            elif self.n_edges:
                stepB = self.n_edges * (logF + g["max_pair_extra"])
                stepA = self.n_edges * (logS + g["min_pair_extra"])
            else:
                stepB = stepA = np.zeros_like(u)
            logFB = k * logF0 + (1 - k) * logF + stepB
            logSA = k * logS0 + (1 - k) * logS + stepA
            FB = np.nan_to_num(np.exp(np.minimum(logFB, 0.0)), nan=0.0)
            SA = np.nan_to_num(np.exp(np.minimum(logSA, 0.0)), nan=0.0)
        bound_B = np.exp(np.minimum(logF0, logF if self.n_edges != 0 else logF0))
        bound_A = np.exp(np.minimum(logS0, logS if self.n_edges != 0 else logS0))
        FB = np.minimum(FB, bound_B)
        SA = np.minimum(SA, bound_A)
        FB = np.where(tl >= self.t_hi, 1.0, np.where(tl <= self.t_lo, 0.0, FB))
        SA = np.where(tl >= self.t_hi, 0.0, np.where(tl <= self.t_lo, 1.0, SA))
        order = np.argsort(u, kind="stable")
        FB[order] = np.maximum.accumulate(np.clip(FB[order], 0.0, 1.0))
        SA[order] = np.minimum.accumulate(np.clip(SA[order], 0.0, 1.0))
        return FB, SA
