r"""Frame bounds of Gaussian filterbanks predicted without sampling (docs/theory.md §4–5).

Model: J filters of T taps, all taps i.i.d. $\mathcal N(0, 1/(JT))$; stride 1. The power
response $P(\omega) = \sum_j |\hat w_j(\omega)|^2$ gives the frame bounds

* circular convolution on $\mathbb Z_N$: $A = \min_k P(2\pi k/N)$, $B = \max_k P(2\pi k/N)$;
* linear convolution on $\ell^2(\mathbb Z)$ (``N=math.inf`` in `predict`, ``None`` in
  the lower-level functions): min / max over $\omega \in [0, \pi]$;

and $\kappa = B/A$. This module computes the laws of A and B, $E[A]$, $E[B]$,
$E[\kappa]$ and quantiles of $\kappa$ by closed forms and 1-D quadrature only (NumPy, no
SciPy, no random numbers), plus the two baselines of the paper.

**Stride d > 1** (`predict` with ``stride=d``): the same pipeline (laws of A and B on adaptive
grids, moments, quantiles, the isotropy correction below) on the laws of the extreme eigenvalues
of the d×d polyphase matrices, derived in `rfbjax.theory.polyphase` (Laguerre ensembles,
Hille–Hardy pair law, real-Wishart end nodes); the expected aliasing energy comes from
`rfbjax.theory.aliasing`. At stride d the taps are $\mathcal N(0, d/(JT))$.

**The process.** With the time axis centred ($s = t - (T-1)/2$, which changes no modulus),
$\hat w(\omega) = X(\omega) - i Y(\omega)$, $X = \sum_s w_s \cos\omega s$,
$Y = \sum_s w_s \sin\omega s$; X and Y are independent Gaussian processes and

$$
P(\omega) = \tfrac{1+\varepsilon(\omega)}{2J}\,\chi^2_J + \tfrac{1-\varepsilon(\omega)}{2J}\,\chi^2_J,
\qquad \varepsilon(\omega) = \frac{\sin T\omega}{T \sin\omega}.
$$

At $\omega \in \{0, \pi\}$ ($|\varepsilon| = 1$): $P = \chi^2_J/J$, i.e.
$\Gamma(J/2, 2/J)$ (the *endpoint law*, variance 2/J). Away from them
($\varepsilon \approx 0$): $P \approx \Gamma(J, 1/J)$ (the *bulk law*, variance 1/J), and
$\hat w$ is a stationary circular complex Gaussian process with normalised covariance
$\gamma(h) = \frac{1}{T}\sum_s e^{-ihs}$, $|\gamma(h)| = \left|\frac{\sin(Th/2)}{T\sin(h/2)}\right|$
(Dirichlet kernel). Two bulk values a spacing h apart then form a Kibble–Moran bivariate gamma
with shape J and correlation $r(h) = |\gamma(h)|^2$ (the normalised Fejér kernel).

**Kibble law.** With $K \sim \mathrm{NegBin}(J, r)$, $p_m = \binom{J+m-1}{m} r^m (1-r)^J$,
two bulk neighbours are, given K = m, independent $\Gamma(J+m, (1-r)/J)$. Hence the
*crossing probability*

$$
D(u) = P(P_k \le u < P_{k+1}) = \sum_{m \ge 0} p_m\, G_{J+m}(y)\,\bigl(1 - G_{J+m}(y)\bigr),
\qquad y = \frac{J u}{1-r},
$$

with $G_n(y) = P(\mathrm{Poisson}(y) \ge n)$ the regularised lower incomplete gamma function
of integer shape (finite Poisson sums; no special functions).

**Extremes on the grid (circular, N bins).** The distinct values are the bins
$k = 0 \dots \lfloor N/2 \rfloor$: a path with $n_e = \lfloor N/2 \rfloor$ edges, whose
end nodes are $\omega = 0$ and, for even N, $\omega = \pi$ ($n_0 \in \{1, 2\}$ endpoint
nodes). Walking the path as a Markov chain — each endpoint enters with its own law
$F_0(u) = P(\chi^2_J/J \le u)$, every step with the bulk conditional law
$P(P_{k+1} \le u \mid P_k \le u) = 1 - D(u)/F(u)$, $F$ the bulk CDF — gives

$$
P(B \le u) \approx F_0(u)^{n_0}\, F(u)^{1-n_0}\, \bigl(1 - D(u)/F(u)\bigr)^{n_e},
\qquad
P(A > u) \approx S_0(u)^{n_0}\, S(u)^{1-n_0}\, \bigl(1 - D(u)/S(u)\bigr)^{n_e}
$$

($S = 1 - F$, $S_0 = 1 - F_0$; the min uses the same D because the pair is exchangeable).
A discrete Rice formula: $n_e D(u)$ is the expected number of up-crossings of level u
between grid neighbours, counted exactly for the bivariate law, so the grid's miss of the
continuous extremes is built in (no separate correction).

**Linear convolution** ($N \to \infty$, $h \to 0$): $n_e D(u)/F(u) \to \mu(u)/F(u)$
with Rice's expected number of up-crossings of the bulk chi-square process over $(0, \pi)$,

$$
\mu(u) = \pi\, f(u)\, E\bigl[(P')^+ \mid P = u\bigr] = f(u)\,\sqrt{\pi \lambda_2 u / J},
\qquad \lambda_2 = \frac{T^2-1}{12},
$$

($f$ the $\Gamma(J, 1/J)$ density, $P' \mid P{=}u \sim \mathcal N(0, 2\lambda_2 u/J)$,
$\lambda_2$ the second spectral moment of the uniform length-T window), so
$P(B \le u) \approx F_0^2 F^{-1} e^{-\mu/F}$ and $P(A > u) \approx S_0^2 S^{-1} e^{-\mu/S}$.

**Moments.** $E[A] = \int_0^\infty P(A>u)\,du$, $E[B] = \int_0^\infty P(B>u)\,du$,
$E[1/A] = \int_0^\infty P(A \le a)\, a^{-2}\, da$ (finite iff J > 2: near 0,
$P(A \le a) \propto a^{J/2}$ from the endpoint law), by the trapezoid rule on adaptive grids.

**Condition number.** $\|w\|^2 = \rho(0)$ is independent of the direction $w/\|w\|$
(isotropic Gaussian), and $\rho(0) \sim \chi^2_{JT}/(JT)$; write $A = \rho(0)\tilde A$,
$B = \rho(0)\tilde B$, so $\kappa = \tilde B/\tilde A$. Treating $\tilde A$ and
$\tilde B$ as independent (the max and the min sit at different frequencies, and the
normalised process only weakly couples them), $E[B] = E[\tilde B]$,
$E[1/A] = E[1/\rho(0)]\,E[1/\tilde A] = \frac{JT}{JT-2} E[1/\tilde A]$, hence

$$
E[\kappa] \approx E[B]\; E[1/A]\; \Bigl(1 - \frac{2}{JT}\Bigr)
$$

(note $E[\kappa] \ne E[B]/E[A]$). Quantiles of $\kappa$ come from
$P(\kappa \le x) = \int P(B \le x a)\, dP(A \le a)$; the independence of A and B there adds the
spread of $\log(\rho(0)/\rho(0)')$, variance about $4/(JT)$, which is removed by shrinking
$\log\kappa$ about its median by $\sqrt{1 - 4/(JT\,V)}$, V the variance of
$\log\kappa$ under the independent model.

**Assumptions (what the model leaves out).** Bulk bins are treated as a stationary circular
process (the pseudo-covariance $\propto \varepsilon(\omega)$ is dropped except at the two
endpoint nodes); the chain is first-order Markov (each step conditions on the previous bin only);
$\tilde A$ and $\tilde B$ are independent. All constants come from the formulas above;
nothing is fitted to Monte Carlo. Measured accuracy: ``scripts/predictor_accuracy.py`` (summary in README.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "kappa_tilde_paper",
    "order_statistics_baseline",
    "bound_distributions",
    "predict",
    "Prediction",
    "DEFAULT_N",
    "MODEL_REL_ERROR",
]

# Documented model error of predict()["E_kappa"] (relative), measured against Monte Carlo on
# the issue-3 grid (scripts/predictor_accuracy.py, README.md).
MODEL_REL_ERROR = 0.03

_LOGFACT = np.zeros(1)


# ----------------------------------------------------------------------------- special functions
def _logfact(n: int) -> np.ndarray:
    """Table of log(k!) for k = 0 … n-1 (grown on demand, cached)."""
    global _LOGFACT
    if _LOGFACT.size < n:
        m = max(n, 2 * _LOGFACT.size, 1024)
        _LOGFACT = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, m, dtype=np.float64)))])
    return _LOGFACT


def _poisson_window(y: np.ndarray, lo_extra: int = 0):
    """Poisson(y) pmf on a window of integers covering y ± (9√y + 25), one row per y.

    Returns ``(i, pmf)`` of shape ``(len(y), W)``; the mass outside the window is < 1e-17.
    ``lo_extra`` widens the window downwards (to reach small integer shapes).
    """
    y = np.asarray(y, dtype=np.float64)
    half = 9.0 * np.sqrt(y) + 25.0
    i0 = np.maximum(0, np.floor(y - half) - lo_extra).astype(np.int64)
    W = int(np.max(np.ceil(y + half) - i0)) + 1
    i = i0[:, None] + np.arange(W)[None, :]
    lf = _logfact(int(i.max()) + 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        logy = np.log(y)[:, None]
        logp = np.where(i == 0, 0.0, i * logy) - y[:, None] - lf[i]
    pmf = np.exp(logp)
    return i, pmf


def _gamma_cdf_sf_int(n: int, y: np.ndarray):
    r"""Regularised incomplete gamma of integer shape n at y: $(P(n, y), Q(n, y))$.

    $Q(n, y) = P(\mathrm{Poisson}(y) < n)$, $P(n, y) = P(\mathrm{Poisson}(y) \ge n)$,
    both as sums of positive terms (no cancellation in either tail).
    """
    y = np.maximum(np.asarray(y, dtype=np.float64), 1e-300)
    i, pmf = _poisson_window(y, lo_extra=0)
    below = i < n
    # mass below the window start is < 1e-17: P(Poisson < n) is the in-window sum
    Q = np.sum(np.where(below, pmf, 0.0), axis=1)
    P = np.sum(np.where(below, 0.0, pmf), axis=1)
    return np.clip(P, 0.0, 1.0), np.clip(Q, 0.0, 1.0)


_ERFC = np.frompyfunc(math.erfc, 1, 1)


def _gamma_cdf_sf_half(a: float, y: np.ndarray):
    r"""Regularised incomplete gamma of half-integer shape $a = n + 1/2$.

    Lower tail by the series $P(a,y) = \frac{y^a e^{-y}}{\Gamma(a+1)}\sum_k \frac{y^k}{(a+1)\cdots(a+k)}$
    (used for y < a + 1), upper tail by
    $Q(n+\tfrac12, y) = \mathrm{erfc}\sqrt y + e^{-y}\sum_{i<n} y^{i+1/2}/\Gamma(i+\tfrac32)$ (y ≥ a + 1).
    """
    y = np.maximum(np.asarray(y, dtype=np.float64), 1e-300)
    n = int(round(a - 0.5))
    lo = y < a + 1.0
    # series (lower tail)
    kmax = int(10 * math.sqrt(a + 1) + 60)
    k = np.arange(kmax)
    ys = np.minimum(y, a + 1.0)[:, None]
    logden = np.concatenate([[0.0], np.cumsum(np.log(a + 1.0 + np.arange(kmax - 1)))])
    logterms = k[None, :] * np.log(ys) - logden[None, :]
    series = np.exp(logterms).sum(axis=1)
    P_lo = np.exp(a * np.log(ys[:, 0]) - ys[:, 0] - math.lgamma(a + 1.0)) * series
    # erfc form (upper tail)
    yq = np.maximum(y, a + 1.0)
    i = np.arange(n)
    lg = np.array([math.lgamma(j + 1.5) for j in i])
    Q_hi = _ERFC(np.sqrt(yq)).astype(np.float64)
    if n:
        Q_hi = Q_hi + np.exp((i[None, :] + 0.5) * np.log(yq)[:, None] - yq[:, None] - lg[None, :]).sum(1)
    P = np.where(lo, P_lo, 1.0 - Q_hi)
    Q = np.where(lo, 1.0 - P_lo, Q_hi)
    return np.clip(P, 0.0, 1.0), np.clip(Q, 0.0, 1.0)


def _gamma_cdf_sf(shape: float, scale: float, u: np.ndarray):
    """(CDF, survival) of Gamma(shape, scale) at u; shape an integer or a half-integer."""
    y = np.asarray(u, dtype=np.float64) / scale
    if float(shape).is_integer():
        return _gamma_cdf_sf_int(int(shape), y)
    if float(2 * shape).is_integer():
        return _gamma_cdf_sf_half(float(shape), y)
    raise ValueError(f"shape must be an integer or a half-integer, got {shape}")


def _gamma_logpdf(shape: float, scale: float, u: np.ndarray) -> np.ndarray:
    u = np.asarray(u, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return ((shape - 1) * np.log(u) - u / scale - math.lgamma(shape) - shape * math.log(scale))


def _kibble_crossing(J: int, r: float, u: np.ndarray) -> np.ndarray:
    r"""$D(u) = \sum_m p_m G_{J+m}(y)(1-G_{J+m}(y))$, y = Ju/(1-r) (Kibble bivariate gamma)."""
    u = np.maximum(np.asarray(u, dtype=np.float64), 1e-300)
    if r <= 0.0:
        F, S = _gamma_cdf_sf_int(J, J * u)
        return F * S
    y = J * u / (1.0 - r)
    i, pmf = _poisson_window(y)
    # G_n(y) = P(Poisson >= n) and 1 - G_n(y) = P(Poisson < n) for n = each window integer
    G = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]
    H = np.cumsum(pmf, axis=1) - pmf
    # NegBin(J, r) weights depend on m only: tabulate once, then gather (index 0 holds a zero
    # for the window entries with m < 0)
    m_max = max(int(i.max()) - J, 0)
    lf = _logfact(m_max + J + 2)
    mt = np.arange(m_max + 1)
    p_table = np.concatenate([[0.0], np.exp(lf[mt + J - 1] - lf[J - 1] - lf[mt]
                                            + mt * math.log(r) + J * math.log1p(-r))])
    p = p_table[np.maximum(i - J + 1, 0)]
    return np.einsum("ij,ij,ij->i", p, G, H)


# ----------------------------------------------------------------------------- paper baselines
def kappa_tilde_paper(J, T):
    r"""The paper's closed form $\tilde\kappa = \frac{1 + 2\sqrt{\log T / J}}{1 - 2\sqrt{\log T / J}}$.

    Undefined (returned as NaN) where the denominator is not positive, i.e. $J \le 4\log T$.
    Scalars give a float, arrays an array.
    """
    Ja = np.asarray(J, dtype=np.float64)
    Ta = np.asarray(T, dtype=np.float64)
    c = 2.0 * np.sqrt(np.log(Ta) / Ja)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(c < 1.0, (1.0 + c) / (1.0 - c), np.nan)
    return float(out) if out.ndim == 0 else out


def order_statistics_baseline(J: int, T: int, n_grid: int = 4001) -> dict:
    r"""The paper's i.i.d. model: A, B = min, max of T i.i.d. $X_i \sim \chi^2_J/J$.

    With F, f the CDF and density of $\chi^2_J/J = \Gamma(J/2, 2/J)$, the densities of the
    extremes are $T F^{T-1} f$ (max) and $T (1-F)^{T-1} f$ (min), and

    $$
    E[B] = \int_0^\infty x\, T F(x)^{T-1} f(x)\, dx, \qquad
    E[A] = \int_0^\infty x\, T (1-F(x))^{T-1} f(x)\, dx,
    $$

    by the trapezoid rule (in log space) on a grid that covers both. ``E_kappa`` is the ratio
    $E[B]/E[A]$, as in the paper.
    """
    J, T = int(J), int(T)
    a, theta = J / 2.0, 2.0 / J
    hi = _tail_point(a, math.log(max(T, 2)) + 40.0)
    x = np.linspace(0.0, hi, n_grid)[1:]
    F, S = _gamma_cdf_sf(a, theta, x)
    logf = _gamma_logpdf(a, theta, x)
    with np.errstate(divide="ignore"):
        dens_max = np.exp(math.log(T) + (T - 1) * np.log(F) + logf)
        dens_min = np.exp(math.log(T) + (T - 1) * np.log(S) + logf)
    EB = float(np.trapezoid(x * dens_max, x))
    EA = float(np.trapezoid(x * dens_min, x))
    return {"E_A": EA, "E_B": EB, "E_kappa": EB / EA}


# ----------------------------------------------------------------------------- the predictor
def _tail_point(a: float, log_odds: float, lower: bool = False) -> float:
    r"""x with Chernoff bound $e^{-a(x-1-\log x)} = e^{-\mathrm{log\_odds}}$ for Gamma(a, 1/a).

    Upper (x > 1) or lower (x < 1) tail; the tail probability beyond x is at most
    $e^{-\mathrm{log\_odds}}$. Lower tail: 0 when no x in (0, 1) reaches it.
    """
    target = log_odds / a
    if lower:
        # x - 1 - log x is decreasing on (0, 1) from +inf to 0
        lo, hi = 1e-300, 1.0
        if target > 700.0:
            return 0.0
    else:
        lo, hi = 1.0, 2.0
        while hi - 1.0 - math.log(hi) < target:
            hi *= 2.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        val = mid - 1.0 - math.log(mid)
        if (val < target) != lower:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _fejer(T: int, h: float) -> float:
    s = math.sin(h / 2.0)
    if abs(s) < 1e-15:
        return 1.0
    return (math.sin(T * h / 2.0) / (T * s)) ** 2


class _Model:
    """Laws of A and B for one (J, T, N); evaluates P(B <= u) and P(A > u) on any u grid."""

    def __init__(self, J: int, T: int, N: int | None):
        self.J, self.T, self.N = J, T, N
        if N is None:
            self.n_end, self.n_edges = 2, None
            self.r = None
            self.lam2 = (T * T - 1.0) / 12.0
            self.n_nodes = 2 * T + 2
        else:
            self.n_end = 2 if N % 2 == 0 else 1
            self.n_edges = N // 2
            self.r = _fejer(T, 2.0 * math.pi / N) if N > 1 else 0.0
            self.n_nodes = N // 2 + 1

    def laws(self, u: np.ndarray):
        """(P(B <= u), P(A > u)) on the grid u (monotone, clamped by the one-bin bounds)."""
        J = self.J
        u = np.maximum(np.asarray(u, dtype=np.float64), 1e-300)
        F0, S0 = _gamma_cdf_sf(J / 2.0, 2.0 / J, u)
        F, S = _gamma_cdf_sf_int(J, J * u)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.N is None:
                mu = np.exp(_gamma_logpdf(J, 1.0 / J, u)) * np.sqrt(math.pi * self.lam2 * u / J)
                stepB = -mu / F
                stepA = -mu / S
            elif self.n_edges == 0:
                stepB = stepA = np.zeros_like(u)
            else:
                D = _kibble_crossing(J, self.r, u)
                stepB = self.n_edges * np.log1p(-np.minimum(D / F, 1.0))
                stepA = self.n_edges * np.log1p(-np.minimum(D / S, 1.0))
            k = self.n_end
            logFB = k * np.log(F0) + (1 - k) * np.log(F) + stepB
            logSA = k * np.log(S0) + (1 - k) * np.log(S) + stepA
            FB = np.nan_to_num(np.exp(logFB), nan=0.0, posinf=1.0)
            SA = np.nan_to_num(np.exp(logSA), nan=0.0, posinf=1.0)
        FB = np.minimum(FB, np.minimum(F0, F) if self.n_edges != 0 else F0)
        SA = np.minimum(SA, np.minimum(S0, S) if self.n_edges != 0 else S0)
        FB = np.maximum.accumulate(np.clip(FB, 0.0, 1.0))
        SA = np.minimum.accumulate(np.clip(SA, 0.0, 1.0))
        return FB, SA


def _support(values: np.ndarray, u: np.ndarray, eps: float):
    """Smallest [u_lo, u_hi] of the coarse grid outside which a CDF is within eps of 0 or 1."""
    idx_lo = np.searchsorted(values, eps, side="left") - 1
    idx_hi = np.searchsorted(values, 1.0 - eps, side="right")
    return u[max(idx_lo, 0)], u[min(idx_hi, len(u) - 1)]


DEFAULT_N = 1024  # the default DFT grid of predict() and ``rfbjax predict`` (N=None)


def _model(J: int, T: int, N: int | None, stride: int):
    if stride == 1:
        return _Model(J, T, N)
    from .polyphase import StridedModel

    return StridedModel(J, T, stride, N)


def bound_distributions(J: int, T: int, N: int | None = None, n_grid: int = 129, *,
                        stride: int = 1):
    r"""The predicted laws of the frame bounds on adaptive grids.

    Returns a dict with ``u_B``, ``cdf_B`` ($P(B \le u)$) and ``u_A``, ``cdf_A``
    ($P(A \le u)$); formulas in the module docstring (stride 1) and in
    `rfbjax.theory.polyphase` (stride d > 1, J ≠ d; for J < d the A law is that of the
    smallest *non-zero* eigenvalue). ``N=None`` or ``math.inf``: linear convolution on
    $\ell^2(\mathbb Z)$.
    """
    J, T, d = int(J), int(T), int(stride)
    if N is not None and math.isinf(N):
        N = None
    if J < 1 or T < 1 or d < 1 or (N is not None and int(N) < 1):
        raise ValueError(f"need J, T, N, stride >= 1, got J={J}, T={T}, N={N}, stride={d}")
    if d > 1 and J == d:
        raise ValueError(f"the strided laws need J != stride, got J={J}, stride={d}")
    model = _model(J, T, None if N is None else int(N), d)
    if d == 1:
        log_odds = math.log(model.n_nodes) + 36.0
        top = _tail_point(J / 2.0, log_odds)
        bottom = _tail_point(J / 2.0, log_odds, lower=True)
    else:
        top, bottom = model.t_hi / J, model.t_lo / J
    coarse = np.linspace(bottom, top, 97)
    FB, SA = model.laws(coarse) if d == 1 else model.laws(coarse, rough=True)
    eps = 1e-13
    loB, hiB = _support(FB, coarse, eps)
    loA, hiA = _support(1.0 - SA, coarse, eps)
    # B: uniform fine grid; A: quadratic spacing from loA (resolves a^{J/2} near 0 for 1/A)
    uB = np.linspace(loB, hiB, n_grid)
    t = np.linspace(0.0, 1.0, n_grid)
    uA = loA + (hiA - loA) * (t * t if loA < 0.1 * hiA else t)
    if d == 1:
        FBf, _ = model.laws(uB)
        _, SAf = model.laws(uA)
    else:  # one pass over both grids (the strided laws cost one quadrature per call)
        FBf, SAf = model.laws(np.concatenate([uB, uA]))
        FBf = np.maximum.accumulate(FBf[:n_grid])
        SAf = np.minimum.accumulate(SAf[n_grid:])
    return {"u_B": uB, "cdf_B": FBf, "u_A": uA, "cdf_A": 1.0 - SAf}


def _kappa_quantiles(J, T, d, probs, n_x: int = 257):
    """Quantiles of kappa = B/A from the laws of A and B (independent), scale spread removed."""
    uA, FA, uB, FB = d["u_A"], d["cdf_A"], d["u_B"], d["cdf_B"]
    dFA = np.diff(FA)
    am = 0.5 * (uA[1:] + uA[:-1])
    keep = dFA > 0
    dFA, am = dFA[keep] / dFA[keep].sum(), am[keep]
    a_lo = float(np.interp(1e-6, FA, uA))
    x_lo = max(uB[0] / uA[-1], 1.0)
    x_hi = uB[-1] / max(a_lo, 1e-12)
    x = np.exp(np.linspace(math.log(x_lo), math.log(x_hi), n_x))
    cdf = np.interp(x[:, None] * am[None, :], uB, FB, left=0.0, right=1.0) @ dFA
    cdf = np.maximum.accumulate(cdf)
    lx = np.log(x)
    # variance of log kappa under the independent model
    mids = 0.5 * (lx[1:] + lx[:-1])
    w = np.diff(cdf)
    m1 = np.sum(mids * w) / max(w.sum(), 1e-300)
    var = np.sum((mids - m1) ** 2 * w) / max(w.sum(), 1e-300)
    med = float(np.interp(0.5, cdf, lx))
    shrink = math.sqrt(max(0.0, 1.0 - 4.0 / (J * T) / var)) if var > 0 else 1.0
    return {p: float(math.exp(med + (np.interp(p, cdf, lx) - med) * shrink)) for p in probs}


@dataclass(frozen=True)
class Prediction:
    r"""Sampling-free prediction for one (J, T, N, stride) cell (`predict`).

    Attributes:
      J: the filterbank: the number of filters.
      T: the filterbank: the taps per filter.
      stride: the filterbank: the stride d.
      N: DFT grid (int) or ``math.inf`` (ℓ²(Z)).
      E_A: $E[A]$ at the energy-preserving tap variance
        $d/(JT)$ (mean eigenvalue of the frame operator 1).
      E_B: $E[B]$ at the energy-preserving tap variance $d/(JT)$.
      E_inv_A: $E[1/A]$.
      E_kappa: $E[\kappa]$.
      ratio_of_means: $E[B]/E[A]$.
      kappa_median: median of κ.
      kappa_quantiles: ``{p: quantile}`` for the requested p.
      E_aliasing: expected aliasing energy relative to the passband,
        $E[\text{aliasing\_penalty}]$ (`rfbjax.theory.aliasing`; 0 at stride 1).
    """

    J: int
    T: int
    N: float
    stride: int
    E_A: float
    E_B: float
    E_inv_A: float
    E_kappa: float
    ratio_of_means: float
    kappa_median: float
    kappa_quantiles: dict = field(default_factory=dict)
    E_aliasing: float = 0.0

    def to_dict(self) -> dict:
        """Flat JSON-ready dict in the names of every command (`rfbjax.base.names`): ``pred_A``,
        ``pred_B``, ``pred_inv_A``, ``pred_kappa``, ``pred_ratio_mean_B_mean_A``, one
        ``pred_qXX_kappa`` per quantile, ``pred_median_kappa``, ``pred_aliasing``; ``N`` is
        ``"inf"`` for ℓ²(Z). The names of release 0.2 (``E_A``, ``E_kappa``, ``kappa_q05`` …)
        follow, with the same values, for one release."""
        from ..base.names import quantile_key, with_old_keys

        out = {"J": self.J, "T": self.T, "N": "inf" if math.isinf(self.N) else int(self.N),
               "stride": self.stride, "pred_A": self.E_A, "pred_B": self.E_B,
               "pred_inv_A": self.E_inv_A, "pred_kappa": self.E_kappa,
               "pred_ratio_mean_B_mean_A": self.ratio_of_means}
        for p, v in self.kappa_quantiles.items():
            out[quantile_key(p, "kappa", prefix="pred_")] = v
        out["pred_median_kappa"] = self.kappa_median
        out["pred_aliasing"] = self.E_aliasing
        return with_old_keys(out)

    def __getitem__(self, key: str):
        """``pred["pred_kappa"]`` reads `to_dict` (the older dict interface)."""
        return self.to_dict()[key]


def predict(J: int, T: int, N: float | str | None = None, *, stride: int = 1,
            quantiles=(0.05, 0.95)) -> Prediction:
    r"""Predicted E[A], E[B], E[κ] (and κ quantiles) of a Gaussian filterbank, without sampling.

    Args:
      J: filters; taps i.i.d. $\mathcal N(0, d/(JT))$ (κ does not depend on
        the variance; A and B scale with it).
      T: taps per filter.
      N: DFT bins of circular convolution on $\mathbb Z_N$ (an int, or ``"kT"`` for k times
        T; d must divide it), ``None`` for the default grid `DEFAULT_N` (as ``rfbjax
        predict``), or ``math.inf`` (``"inf"``) for linear convolution on
        $\ell^2(\mathbb Z)$ (continuous frequency).
      stride: d, keep every d-th output (`rfbjax.theory.polyphase` for d > 1).
      quantiles: probabilities of the κ quantiles to report.

    Returns:
      `Prediction`; ``E_kappa`` is $E[B]\,E[1/A]\,(1 - 2/(JT))$ (not
        $E[B]/E[A]$). $E[1/A] = E[\kappa] = \infty$ exactly when J ≤ d + 1 (the end-node
        law of $\lambda_{\min}$ is $\propto a^{(J-d+1)/2}$ near 0); J < d gives A = 0.
        J = d > 1 is not modelled, nor min(J, d) > 64 (InputError).

    Formulas and assumptions: module docstring (stride 1), `rfbjax.theory.polyphase`.
    """
    from ..errors import InputError
    from .aliasing import expected_aliasing_penalty

    J, T, d = int(J), int(T), int(stride)
    if J < 1 or T < 1 or d < 1:
        raise InputError(f"predict: need J, T, stride >= 1, got J={J}, T={T}, stride={d}")
    if N is None:
        N = DEFAULT_N
    from ..base.grid import parse_N

    try:
        grid = parse_N(N, "N", minimum=1)
    except InputError as exc:
        raise InputError(f"predict: {exc}") from None
    if grid.linear:
        Nm, Nout = None, math.inf
    else:
        Nm = Nout = int(grid.at(T))
        if Nm % d:
            raise InputError(f"predict: stride {d} does not divide N={Nm}")
    if d > 1 and J == d:
        raise InputError(f"predict: J = stride = {d} is not modelled (E[kappa] is infinite; "
                         "use J > stride)")
    alias = expected_aliasing_penalty(J, T, d, Nout)
    try:
        dist = bound_distributions(J, T, Nm, stride=d)
    except MemoryError as e:
        raise InputError(f"predict: {e}") from None
    uA, FA, uB, FB = dist["u_A"], dist["cdf_A"], dist["u_B"], dist["cdf_B"]
    EB = float(uB[0] + np.trapezoid(1.0 - FB, uB))
    probs = tuple(float(p) for p in quantiles)
    if J < d:  # rank-deficient polyphase matrices: A = 0 exactly
        return Prediction(J, T, Nout, d, 0.0, EB, math.inf, math.inf, math.inf, math.inf,
                          {p: math.inf for p in probs}, alias)
    EA = float(uA[0] + np.trapezoid(1.0 - FA, uA))
    e = (J - d + 1) / 2.0    # P(A <= a) ∝ a^e near 0 (the end-node law)
    if e <= 1.0:
        EinvA = math.inf
    else:
        a0 = max(uA[0], 1e-300)
        below = FA[0] / a0 / (e - 1.0)  # ∫_0^{a0} F_A/a², F_A ∝ a^e
        with np.errstate(divide="ignore", invalid="ignore"):
            integrand = np.where(uA > 0, FA / np.maximum(uA, 1e-300) ** 2, 0.0)
        EinvA = float(below + np.trapezoid(integrand, uA) + 1.0 / uA[-1])
    q = _kappa_quantiles(J, T, dist, probs + (0.5,))
    return Prediction(J, T, Nout, d, EA, EB, EinvA, EB * EinvA * (1.0 - 2.0 / (J * T)), EB / EA,
                      q[0.5], {p: q[p] for p in probs}, alias)
