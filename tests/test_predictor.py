"""Frame-bound predictor and the paper's baselines (rfbjax.theory.predictor) against brute force.

Monte Carlo tolerances are k standard errors (k = 4, fixed seeds); where the quantity is the
predictor's approximation of E[A], E[B], E[kappa], the tolerance adds the model error the module
documents and the issue sets as a target (5 % relative on E[kappa]).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rfbjax.kernels import filters, frames
from rfbjax.kernels.autocorr import filterbank_autocorr
from rfbjax.theory import predictor as pr

K_SE = 4.0
TARGET = 0.05  # issue 3: mean relative error of E[kappa] <= 5 %


def test_kappa_tilde_formula_and_undefined_region():
    for J, T in [(40, 64), (160, 512), (100, 8)]:
        c = 2 * math.sqrt(math.log(T) / J)
        assert pr.kappa_tilde_paper(J, T) == pytest.approx((1 + c) / (1 - c), rel=1e-14)
    # docs/theory.md §5 table: 4.63 at (40, 64), 14.8 at (40, 2048), 2.31 at (160, 512)
    assert pr.kappa_tilde_paper(40, 64) == pytest.approx(4.63, abs=0.005)
    assert pr.kappa_tilde_paper(40, 2048) == pytest.approx(14.8, abs=0.05)
    assert pr.kappa_tilde_paper(160, 512) == pytest.approx(2.31, abs=0.005)
    # undefined where J <= 4 log T (J=10: T >= 13)
    assert math.isnan(pr.kappa_tilde_paper(10, 16))
    assert math.isnan(pr.kappa_tilde_paper(4, 8))
    arr = pr.kappa_tilde_paper(np.array([10, 40]), np.array([16, 64]))
    assert math.isnan(arr[0]) and np.isfinite(arr[1])


def test_order_statistics_baseline_matches_iid_simulation():
    """Min / max of T i.i.d. chi2_J/J: quadrature against direct simulation."""
    rng = np.random.default_rng(0)
    for J, T in [(10, 64), (40, 256)]:
        X = rng.chisquare(J, size=(20000, T)) / J
        A, B = X.min(1), X.max(1)
        out = pr.order_statistics_baseline(J, T)
        se_A, se_B = A.std() / math.sqrt(A.size), B.std() / math.sqrt(B.size)
        assert abs(out["E_A"] - A.mean()) < K_SE * se_A
        assert abs(out["E_B"] - B.mean()) < K_SE * se_B
        assert out["E_kappa"] == pytest.approx(out["E_B"] / out["E_A"])


def test_kibble_crossing_probability_matches_simulation():
    """D(u) = P(P_1 <= u < P_2) for two bulk bins with Fejer correlation r, simulated directly.

    Each bin is (1/J) sum_j |z_j|^2 with complex Gaussians z_j of unit variance; the pair has
    complex correlation sqrt(r), so the two squared moduli have correlation r.
    """
    rng = np.random.default_rng(1)
    J, r, S = 6, 0.7, 200000
    z1 = (rng.standard_normal((S, J)) + 1j * rng.standard_normal((S, J))) / math.sqrt(2)
    e = (rng.standard_normal((S, J)) + 1j * rng.standard_normal((S, J))) / math.sqrt(2)
    z2 = math.sqrt(r) * z1 + math.sqrt(1 - r) * e
    P1, P2 = (np.abs(z1) ** 2).mean(1), (np.abs(z2) ** 2).mean(1)
    u = np.array([0.5, 0.8, 1.0, 1.4, 2.0])
    D = pr._kibble_crossing(J, r, u)
    for k, uk in enumerate(u):
        hit = (P1 <= uk) & (P2 > uk)
        p = hit.mean()
        se = math.sqrt(p * (1 - p) / S)
        assert abs(D[k] - p) < K_SE * se + 1e-12, (uk, D[k], p)
    # r = 0: independent bins, D = F (1 - F)
    D0 = pr._kibble_crossing(J, 0.0, u)
    F = np.array([np.mean((np.abs(z1) ** 2).mean(1) <= uk) for uk in u])
    assert np.all(np.abs(D0 - F * (1 - F)) < 0.01)


def _mc_bounds(J, T, N, S, seed):
    keys = jax.random.split(jax.random.key(seed), S)

    def one(key):
        w = filters.gaussian_filterbank(key, J, T, dtype=jnp.float64)
        if N is None:
            return frames.linear_frame_bounds(filterbank_autocorr(w))
        return frames.circular_frame_bounds(w, N)

    A, B = jax.jit(jax.vmap(one))(keys)
    return np.asarray(A), np.asarray(B)


@pytest.mark.parametrize("J,T,N", [(8, 16, 64), (32, 64, 256), (16, 32, None)])
def test_predict_against_monte_carlo(J, T, N):
    S = 1500
    A, B = _mc_bounds(J, T, N, S, seed=J + T)
    K = B / A
    p = pr.predict(J, T, math.inf if N is None else N)   # None: linear in _mc_bounds
    for name, pred, x in [("A", p["E_A"], A), ("B", p["E_B"], B), ("kappa", p["E_kappa"], K)]:
        se = x.std() / math.sqrt(S)
        tol = TARGET * abs(x.mean()) + K_SE * se
        assert abs(pred - x.mean()) < tol, (name, pred, x.mean(), se)
    # E[kappa] != E[B]/E[A]: the predictor's ratio of means matches that of the samples
    assert p["ratio_of_means"] == pytest.approx(B.mean() / A.mean(), rel=TARGET)
    assert p["E_kappa"] > p["ratio_of_means"]
    # quantiles of kappa
    for q in (0.05, 0.95):
        emp = np.quantile(K, q)
        assert p[f"kappa_q{round(100 * q):02d}"] == pytest.approx(emp, rel=0.1)


def test_predict_limits_and_monotonicity():
    # more filters -> better conditioned; longer filters -> worse (at N = 4T)
    k = [pr.predict(J, 64, 256)["E_kappa"] for J in (4, 16, 64)]
    assert k[0] > k[1] > k[2] > 1
    k = [pr.predict(16, T, 4 * T)["E_kappa"] for T in (16, 128, 1024)]
    assert k[0] < k[1] < k[2]
    # linear convolution (continuous frequency) is the N -> infinity limit
    lin = pr.predict(16, 32, math.inf)["E_kappa"]
    assert pr.predict(16, 32, 4096)["E_kappa"] == pytest.approx(lin, rel=0.01)
    assert pr.predict(16, 32, 64)["E_kappa"] < lin
    # J <= 2: E[1/A] diverges
    assert math.isinf(pr.predict(2, 16, 64)["E_kappa"])
