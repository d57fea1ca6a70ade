r"""Aliasing of random strided filterbanks at initialisation: exact moments, no sampling.

With stride d the frame operator acts in frequency (ω in cycles per sample) as
$\widehat{Sx}(\omega) = \sum_{k<d} G_k(\omega)\, \hat x(\omega - k/d)$,

$$
G_k(\omega) = \frac1d \sum_{j<J} \overline{\hat w_j(\omega)}\, \hat w_j(\omega - k/d),
\qquad \hat w(\omega) = \sum_{t<T} w_t e^{-2\pi i \omega t};
$$

$G_0 = P/d$ is the passband (power response), $G_k$, k ≠ 0, the aliasing terms; they
are the entries of the polyphase matrices $\mathcal M(\xi)$ (`rfbjax.kernels.strided`).

**Moments.** Taps i.i.d., mean 0, variance σ², fourth moment $\beta\sigma^4$ (β = 3 Gaussian,
1 Rademacher, 9/5 uniform). With the Fejér sum $F(\nu) = |\sum_{t<T} e^{2\pi i \nu t}|^2
= \sin^2(\pi T\nu)/\sin^2(\pi\nu)$ and the Isserlis-type expansion
$E[w_a w_b w_c w_e] = \sigma^4(\delta_{ab}\delta_{ce} + \delta_{ac}\delta_{be} + \delta_{ae}\delta_{bc})
+ (\beta - 3)\sigma^4 \delta_{abce}$:

$$
E\,G_k(\omega) = \frac{J\sigma^2}{d} \sum_{t<T} e^{2\pi i k t/d}, \qquad
\operatorname{Var} G_k(\omega) = E|G_k - E G_k|^2
= \frac{J\sigma^4}{d^2}\Bigl[T^2 + F(2\omega - k/d) + (\beta - 3)\,T\Bigr].
$$

The mean vanishes exactly when d divides kT (k ≢ 0); the spread does not: at the energy-preserving
variance $\sigma^2 = d/(JT)$ (E G_0 = 1) it is $\frac1J\bigl(1 + F(2\omega-k/d)/T^2 +
(\beta-3)/T\bigr)$, whose average over ω (a grid of N ≥ 2T bins, or ℓ²(Z)) is
$\frac1J(1 + (\beta-2)/T)$.

**Aliasing penalty.** ``rfbjax.remedies.regularizers.aliasing_penalty`` (one channel) is
$\operatorname{mean}_\omega \sum_{k \ne 0} |G_k(\omega)|^2 / c^2$, c the mean gain
$\operatorname{mean}_\omega G_0 = \|w\|^2/d$. Its numerator has expectation
$\sum_{k\ne0} \bigl(|E G_k|^2 + \operatorname{mean}_\omega \operatorname{Var} G_k\bigr)$ and
$E c^2 = \frac{\sigma^4}{d^2}\bigl(n^2 + (\beta - 1) n\bigr)$, n = JT, so

$$
E[\text{penalty}] \approx \frac{\sum_{k=1}^{d-1}\bigl[J^2 F(k/d) + J\,(T^2 + \Phi_k + (\beta-3)T)\bigr]}
{J^2T^2 + (\beta - 1) JT},
\qquad \Phi_k = \operatorname{mean}_\omega F(2\omega - k/d),
$$

which for d | T and N ≥ 2T is $(d-1)(T + \beta - 2)/(JT + \beta - 1) \approx (d-1)/J$. The
ratio of expectations is exact for Gaussian taps (the numerator is $\|w\|^4$ times a function
of the direction $w/\|w\|$, independent of $\|w\|$) and for Rademacher taps
($\|w\|$ is constant); for other laws it is the leading term, error $O(1/(JT))$.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["fejer_sum", "aliasing_moments", "fejer_grid_mean", "expected_aliasing_penalty"]


def fejer_sum(nu, T: int) -> np.ndarray:
    r"""$F(\nu) = |\sum_{t<T} e^{2\pi i\nu t}|^2$ (ν in cycles; T² at integers)."""
    nu = np.asarray(nu, dtype=np.float64)
    s = np.sin(np.pi * nu)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (np.sin(np.pi * T * nu) / s) ** 2
    return np.where(np.abs(s) < 1e-12, float(T) ** 2, out)


def aliasing_moments(J: int, T: int, stride: int, omega, *, tap_variance: float | None = None,
                     kurtosis: float = 3.0):
    r"""Exact $E\,G_k(\omega)$ and $\operatorname{Var} G_k(\omega)$ for k = 0 … d-1.

    Args:
      omega: frequencies in cycles per sample, any shape.
      tap_variance: σ² (default the energy-preserving d/(JT), where E G_0 = 1).
      kurtosis: β = E w⁴/σ⁴.

    Returns:
      ``(mean, var)``: mean complex ``(d,)`` (independent of ω), var ``(d,) + omega.shape``.
    """
    J, T, d = int(J), int(T), int(stride)
    s2 = d / (J * T) if tap_variance is None else float(tap_variance)
    k = np.arange(d)
    t = np.arange(T)
    mean = J * s2 / d * np.exp(2j * np.pi * np.outer(k, t) / d).sum(axis=1)
    om = np.asarray(omega, dtype=np.float64)
    nu = 2.0 * om[None] - (k / d).reshape((d,) + (1,) * om.ndim)
    var = J * s2 ** 2 / d ** 2 * (T ** 2 + fejer_sum(nu, T) + (float(kurtosis) - 3.0) * T)
    return mean, var


def fejer_grid_mean(shift: float, T: int, N: float) -> float:
    r"""$\operatorname{mean}_{m \in \mathbb Z_N} F(2m/N - \text{shift})$ (N = inf: the mean over
    the circle, T). From $F(\nu) = \sum_{|\tau|<T} (T - |\tau|) e^{2\pi i\nu\tau}$: only lags
    with 2τ ≡ 0 (mod N) survive the average."""
    if math.isinf(N):
        return float(T)
    N = int(N)
    total = 0.0
    for tau in range(-(T - 1), T):
        if (2 * tau) % N == 0:
            total += (T - abs(tau)) * math.cos(2.0 * math.pi * shift * tau)
    return total


def expected_aliasing_penalty(J: int, T: int, stride: int, N: float = math.inf, *,
                              kurtosis: float = 3.0) -> float:
    r"""E[``aliasing_penalty``] of a J×T filterbank with i.i.d. taps at stride d (module docstring).

    Scale-free (independent of σ²). ``N``: the frequency grid the penalty averages over (an
    integer, or ``math.inf`` for ℓ²(Z)); for N ≥ 2T the value does not depend on N. Exact for
    Gaussian (β = 3) and Rademacher (β = 1) taps.
    """
    J, T, d = int(J), int(T), int(stride)
    if d == 1:
        return 0.0
    beta = float(kurtosis)
    num = 0.0
    for k in range(1, d):
        num += J * J * float(fejer_sum(k / d, T)) + J * (T * T + fejer_grid_mean(k / d, T, N)
                                                         + (beta - 3.0) * T)
    return num / (J * J * T * T + (beta - 1.0) * J * T)
