"""The exact law of E/||x||^2 (rfbjax.theory.energy_law) against closed forms, formula (3) and
Monte Carlo; the deviation bounds against the exact deviation."""

import math

import numpy as np
import jax.numpy as jnp
import pytest
from scipy import integrate, signal as sps, stats

from rfbjax.kernels import autocorr, energy
from rfbjax.theory import energy_law as el

J = 10


# --------------------------------------------------------------------------------------------
# signals and helpers
# --------------------------------------------------------------------------------------------

def voiced(N, period=97, fs=16000.0, seed=0):
    """A glottal-pulse train (Rosenberg-like pulse, differentiated) through two formant
    resonators at 700 Hz and 1200 Hz, plus a little noise: a stand-in for a sustained vowel."""
    ph = (np.arange(N) % period) / period
    open_ = 0.6
    g = np.where(ph < open_, 0.5 * (1 - np.cos(np.pi * ph / open_)),
                 np.cos(np.pi * (ph - open_) / (2 * (1 - open_))))
    x = np.diff(g, prepend=g[-1])
    for f, bw in ((700.0, 80.0), (1200.0, 100.0)):
        r = math.exp(-math.pi * bw / fs)
        x = sps.lfilter([1.0], [1.0, -2 * r * math.cos(2 * math.pi * f / fs), r * r], x)
    return x + 1e-3 * np.random.default_rng(seed).standard_normal(N)


def make(name, N):
    if name == "impulse":
        x = np.zeros(N)
        x[0] = 1.0
        return x
    if name == "brownian":
        return np.cumsum(np.random.default_rng(7).standard_normal(N))
    if name == "alternating":
        return (-1.0) ** np.arange(N) / math.sqrt(N)
    if name == "vowel":
        return voiced(N)
    raise ValueError(name)


SIGNALS = ("impulse", "brownian", "alternating", "vowel")


def lags(x, T, boundary="circular"):
    R = autocorr.signal_autocorr(jnp.asarray(x, dtype=jnp.float64), boundary=boundary)
    return np.asarray(autocorr.lag_profile(R, T, boundary=boundary))


def mc_energies(R_lags, T, n_samples, seed, scale=1.0, chunk=500):
    """E/||x||^2 for n_samples Gaussian filterbanks drawn with NumPy, via rho and formula (1)."""
    rng = np.random.default_rng(seed)
    sigma = math.sqrt(scale / (J * T))
    R = jnp.asarray(R_lags)[None, :]
    out = []
    for start in range(0, n_samples, chunk):
        m = min(chunk, n_samples - start)
        w = sigma * rng.standard_normal((m, J, T))
        rho = autocorr.filterbank_autocorr(jnp.asarray(w))
        out.append(np.asarray(energy.energy_response(rho, R))[:, 0])
    return np.concatenate(out) / R_lags[0]


_LAWS = {}


def law_for(name, T, N=1024, boundary="circular", scale=1.0):
    key = (name, T, N, boundary, scale)
    if key not in _LAWS:
        R = lags(make(name, N), T, boundary)
        _LAWS[key] = (R, el.energy_law(R, J, T, scale=scale))
    return _LAWS[key]


# --------------------------------------------------------------------------------------------
# exact cases
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("Jc", [1, 3, 10, 40])
def test_single_eigenvalue_is_scaled_chi2_J(Jc):
    law = el.energy_law_from_eigenvalues([2.5], Jc, 1, 2.5)   # Y = chi2_J / J
    x = np.linspace(0.01, 5.0, 60)
    np.testing.assert_allclose(law.cdf(x), stats.chi2.cdf(Jc * x, Jc), rtol=0, atol=1e-14)
    # relative accuracy in both tails (down to 1e-250)
    tail = np.minimum(stats.chi2.cdf(Jc * x, Jc), stats.chi2.sf(Jc * x, Jc))
    got = np.minimum(law.cdf(x), law.sf(x))
    keep = tail > 1e-250
    np.testing.assert_allclose(got[keep], tail[keep], rtol=1e-12)
    np.testing.assert_allclose(law.pdf(x), Jc * stats.chi2.pdf(Jc * x, Jc), rtol=1e-12)
    p = np.array([1e-9, 1e-3, 0.01, 0.05, 0.5, 0.95, 0.99, 1 - 1e-6])
    np.testing.assert_allclose(law.quantile(p), stats.chi2.ppf(p, Jc) / Jc, rtol=1e-12)
    s = np.array([-3.0, -0.1, 0.0, 0.2, 0.4 * Jc])
    np.testing.assert_allclose(law.mgf(s), (1 - 2 * s / Jc) ** (-Jc / 2), rtol=1e-13)
    assert law.cgf(Jc / 2.0) == np.inf


@pytest.mark.parametrize("T", [8, 64, 1024])
def test_impulse_gives_chi2_JT(T):
    """An impulse has R_x(τ) = 0 for τ ≠ 0: all eigenvalues equal, Y = chi2_{JT}/(JT)."""
    R, law = law_for("impulse", T)
    assert law.weights.size == 1 and law.dof[0] == J * T
    n = J * T
    sd = math.sqrt(2.0 / n)
    x = 1.0 + sd * np.linspace(-6, 7, 40)
    x = x[x > 0]
    np.testing.assert_allclose(law.cdf(x), stats.chi2.cdf(n * x, n), rtol=0, atol=1e-13)
    tail = np.minimum(stats.chi2.cdf(n * x, n), stats.chi2.sf(n * x, n))
    np.testing.assert_allclose(np.minimum(law.cdf(x), law.sf(x)), tail, rtol=1e-11)
    p = np.array([1e-6, 0.01, 0.05, 0.5, 0.95, 0.99])
    np.testing.assert_allclose(law.quantile(p), stats.chi2.ppf(p, n) / n, rtol=1e-12)


@pytest.mark.parametrize("T", [8, 64, 512])
def test_alternating_gives_chi2_J(T):
    """(-1)^n/sqrt(N) has |R_x(τ)| = R_x(0): Q has rank one, Y = chi2_J / J whatever T."""
    _, law = law_for("alternating", T)
    assert law.weights.size == 1 and law.dof[0] == J and law.shift < 1e-11
    p = np.array([0.01, 0.05, 0.5, 0.95, 0.99])
    np.testing.assert_allclose(law.quantile(p), stats.chi2.ppf(p, J) / J, rtol=1e-10)
    x = np.linspace(0.05, 3, 30)
    np.testing.assert_allclose(law.cdf(x), stats.chi2.cdf(J * x, J), atol=1e-12)


def test_distinct_exponentials_closed_form():
    """J = 2: each chi2_2 is exponential; distinct weights give the hypoexponential law
    P(Y > y) = Σ_k Π_{j≠k} θ_k/(θ_k − θ_j) e^{−y/θ_k}, θ = 2w."""
    lam = np.array([5.0, 3.0, 2.0, 1.2, 0.7, 0.3])
    law = el.energy_law_from_eigenvalues(lam, 2, 1, 1.0)
    th = lam                                  # w = lam/2, θ = 2w

    def sf(y):
        return sum(np.prod([th[k] / (th[k] - th[j]) for j in range(th.size) if j != k])
                   * math.exp(-y / th[k]) for k in range(th.size))

    y = np.linspace(1.0, 150.0, 40)
    np.testing.assert_allclose(law.sf(y), [sf(v) for v in y], rtol=1e-12)
    y = np.linspace(2.0, 20.0, 20)
    np.testing.assert_allclose(law.cdf(y), [1 - sf(v) for v in y], atol=1e-13)


def test_two_eigenvalues_against_numerical_convolution():
    w1, w2 = 0.07, 0.03
    law = el.energy_law_from_eigenvalues([w1 * J, w2 * J], J, 1, 1.0)
    np.testing.assert_allclose(law.weights, [w1, w2])

    def cdf(x):
        f = lambda u: stats.chi2.pdf(u, J) * stats.chi2.cdf((x - w1 * u) / w2, J)  # noqa: E731
        return integrate.quad(f, 0, x / w1, epsabs=1e-15, epsrel=1e-13, limit=200)[0]

    x = np.linspace(0.1, 2.5, 13)
    np.testing.assert_allclose(law.cdf(x), [cdf(v) for v in x], rtol=1e-11, atol=1e-14)


def test_many_eigenvalues_self_consistent(monkeypatch):
    """4096 distinct weights (a 1/f²-like spectrum): halving the target error and tightening the
    truncation changes nothing at the 1e-13 level (the discretisation is converged)."""
    k = np.arange(4096)
    lam = 1.0 / (1.0 + (k / 40.0) ** 2)
    law = el.energy_law_from_eigenvalues(lam, J, 4096, 1.0)
    assert law.weights.size == 4096
    x = law.quantile(np.array([1e-4, 0.05, 0.5, 0.95, 1 - 1e-4]))
    F = law.cdf(x)
    np.testing.assert_allclose(F, [1e-4, 0.05, 0.5, 0.95, 1 - 1e-4], rtol=1e-11)
    monkeypatch.setattr(el, "_LOG_EPS", 70.0)
    monkeypatch.setattr(el, "_TRUNC", 1e-26)
    np.testing.assert_allclose(law.cdf(x), F, rtol=1e-12, atol=1e-15)


def test_merge_and_drop():
    lam = np.array([3.0, 3.0 * (1 + 1e-13), 1.0, 1.0, 1.0, 1e-14, 0.0, -1e-13])
    law = el.energy_law_from_eigenvalues(lam, J, lam.size, 1.0)
    assert law.weights.size == 2
    np.testing.assert_array_equal(law.dof, [2 * J, 3 * J])
    np.testing.assert_allclose(law.mean(), J * lam[lam > 0].sum() / (J * lam.size), rtol=1e-14)
    with pytest.raises(ValueError):
        el.energy_law_from_eigenvalues(np.zeros(4), J, 4, 1.0)
    with pytest.raises(ValueError):
        el.energy_law(np.ones(5), J, 4)


# --------------------------------------------------------------------------------------------
# moments = formula (3)
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("boundary,N,T", [("circular", 1024, 8), ("circular", 1024, 64),
                                          ("circular", 1024, 512), ("circular", 48, 100),
                                          ("linear", 256, 64), ("linear", 48, 100)])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_moments_equal_energy_moments(boundary, N, T, scale):
    for name in SIGNALS:
        R = lags(make(name, N), T, boundary)
        law = el.energy_law(R, J, T, scale=scale)
        m, v = energy.energy_moments(jnp.asarray(R), J, T, scale=scale)
        np.testing.assert_allclose(law.mean(), float(m) / R[0], rtol=1e-11)
        np.testing.assert_allclose(law.var(), float(v) / R[0] ** 2, rtol=1e-10)
        # K'(0) and K''(0) by finite differences of the cgf agree too
        h = 1e-4 / law.std()
        K = law.cgf(np.array([-h, 0.0, h]))
        np.testing.assert_allclose((K[2] - K[0]) / (2 * h), law.mean(), rtol=1e-6)
        np.testing.assert_allclose((K[2] - 2 * K[1] + K[0]) / h ** 2, law.var(), rtol=1e-4)


def test_toeplitz_matrix_layout():
    r = np.array([4.0, 3.0, 2.0, 1.0])
    Q = el.toeplitz_matrix(r)
    expect = np.array([[r[abs(i - j)] for j in range(4)] for i in range(4)])
    np.testing.assert_array_equal(Q, expect)


# --------------------------------------------------------------------------------------------
# Monte Carlo: Kolmogorov–Smirnov at a fixed seed
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,T,N,boundary", [
    ("impulse", 32, 512, "circular"),
    ("brownian", 64, 512, "circular"),
    ("brownian", 48, 40, "linear"),          # T > N, zero padding
    ("alternating", 64, 512, "circular"),
    ("alternating", 96, 64, "circular"),     # T > N, wrap-around
    ("vowel", 256, 1024, "circular"),
])
def test_cdf_matches_monte_carlo(name, T, N, boundary):
    R, law = law_for(name, T, N, boundary)
    E = mc_energies(R, T, n_samples=3000, seed=20240917)
    res = stats.kstest(E, law.cdf)
    assert res.pvalue > 1e-3, (res.statistic, res.pvalue)
    # and the empirical 5 % / 95 % exceedances of the exact quantiles are binomially plausible
    q05, q95 = law.quantile(np.array([0.05, 0.95]))
    for frac in (np.mean(E <= q05), np.mean(E > q95)):
        assert abs(frac - 0.05) < 4 * math.sqrt(0.05 * 0.95 / E.size)


def test_monte_carlo_by_convolution_small():
    """The same check with energies from explicit circular convolution (no formula (1))."""
    N, T = 64, 16
    x = make("brownian", N)
    R = lags(x, T)
    law = el.energy_law(R, J, T)
    rng = np.random.default_rng(5)
    w = math.sqrt(1.0 / (J * T)) * rng.standard_normal((2000, J, T))
    E = np.asarray(energy.energy_by_convolution(jnp.asarray(w), jnp.asarray(x))) / R[0]
    assert stats.kstest(E, law.cdf).pvalue > 1e-3


# --------------------------------------------------------------------------------------------
# deviation bounds
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("T", [8, 64, 512])
@pytest.mark.parametrize("name", SIGNALS)
def test_bounds_dominate_exact(name, T):
    _, law = law_for(name, T)
    for p in (0.05, 0.01):
        b = law.bounds(p)
        for tail in ("", "_lower"):
            exact = b[f"alpha_exact{tail}"]
            assert exact > 0
            for method in ("cantelli", "chernoff", "bernstein"):
                assert b[f"alpha_{method}{tail}"] >= exact, (method, tail, p, b)
            # the optimised Chernoff bound is the tightest of the three
            assert b[f"alpha_chernoff{tail}"] <= b[f"alpha_bernstein{tail}"] + 1e-12
        # the exact α really is the level-p deviation
        np.testing.assert_allclose(law.sf(1 + b["alpha_exact"]), p, rtol=1e-9)
        np.testing.assert_allclose(law.cdf(1 - b["alpha_exact_lower"]), p, rtol=1e-9)


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_bounds_with_scale(scale):
    """c ≠ 1 biases E/||x||² away from 1; every α is still measured from ||x||²."""
    _, law = law_for("vowel", 64, scale=scale)
    assert law.mean() == pytest.approx(scale, rel=1e-12)
    for p in (0.05, 0.01):
        b = law.bounds(p)
        for tail in ("", "_lower"):
            for method in ("cantelli", "chernoff", "bernstein"):
                assert b[f"alpha_{method}{tail}"] >= b[f"alpha_exact{tail}"]
        np.testing.assert_allclose(law.sf(1 + b["alpha_exact"]), p, rtol=1e-9)


def test_chernoff_bound_is_a_bound_and_is_solved():
    _, law = law_for("brownian", 64)
    y = law.quantile(np.array([0.6, 0.9, 0.99, 0.999]))
    assert np.all(law.chernoff_bound(y, "upper") >= law.sf(y))
    y = law.quantile(np.array([0.001, 0.01, 0.1, 0.4]))
    assert np.all(law.chernoff_bound(y, "lower") >= law.cdf(y))
    for p in (0.05, 0.01, 1e-6):
        a = law.alpha_chernoff(p)
        np.testing.assert_allclose(law.chernoff_bound(1 + a, "upper"), p, rtol=1e-9)
        a = law.alpha_chernoff(p, tail="lower")
        np.testing.assert_allclose(law.chernoff_bound(1 - a, "lower"), p, rtol=1e-9)


def test_cantelli_and_bernstein_closed_forms():
    _, law = law_for("vowel", 64)
    V, t = law.var(), math.log(20.0)
    assert law.alpha_cantelli(0.05) == pytest.approx(math.sqrt(V * 19.0), rel=1e-12)
    a2 = math.sqrt(V / 2.0)
    assert law.alpha_bernstein(0.05) == pytest.approx(
        2 * a2 * math.sqrt(t) + 2 * law.weights[0] * t, rel=1e-12)
    assert law.alpha_bernstein(0.05, tail="lower") == pytest.approx(2 * a2 * math.sqrt(t), rel=1e-12)


def test_energy_theory_row():
    R, law = law_for("vowel", 128)
    row = el.energy_theory_row(R, J, 128, p=0.05)
    keys = {"q05_exact", "q95_exact", "bernstein_valid"}
    for m in el.BOUND_METHODS:
        keys |= {f"alpha_{m}", f"alpha_{m}_lower"}
    assert keys <= set(row)
    assert row["bernstein_valid"] is True
    assert row["q05_exact"] < 1 < row["q95_exact"]
    assert row["alpha_exact"] == pytest.approx(law.quantile(0.95) - 1, rel=1e-10)
    assert row["alpha_exact_lower"] == pytest.approx(1 - law.quantile(0.05), rel=1e-10)
