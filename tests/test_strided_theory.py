"""Strided theory (rfbjax.theory.polyphase / aliasing / predict(stride=d)): every ingredient
against a brute-force Monte Carlo of its definition, the whole prediction against the strided
frame bounds of sampled filterbanks, and the aliasing moments against explicit DTFT sums."""

import json
import math

import numpy as np
import jax.numpy as jnp
import pytest

from rfbjax.remedies import regularizers
from rfbjax.cli import main
from rfbjax.errors import InputError
from rfbjax.theory import aliasing, polyphase
from rfbjax.theory import predictor as pr
import reference as ref

K_SE = 4.0     # tolerances: K_SE standard errors (plus the model's own error where stated)


def _cwishart_eigs(rng, S, J, d):
    Z = (rng.standard_normal((S, J, d)) + 1j * rng.standard_normal((S, J, d))) / math.sqrt(2)
    return np.linalg.eigvalsh(np.einsum("sja,sjb->sab", Z.conj(), Z)) / J


def _binom_tol(p, S):
    return K_SE * math.sqrt(max(p * (1 - p), 1e-4) / S)


def test_laguerre_functions_orthonormal():
    t = np.linspace(1e-9, 200.0, 20001)
    q = polyphase.laguerre_functions(7.0, 30, t)
    G = (q @ q.T) * (t[1] - t[0])
    np.testing.assert_allclose(G, np.eye(30), atol=1e-6)


@pytest.mark.parametrize("J,d", [(10, 4), (6, 2), (3, 5)])
def test_gap_laws_match_wishart_monte_carlo(J, d):
    """F, S (complex, bulk) and F0, S0 (real, end nodes) against sampled Wishart eigenvalues."""
    rng = np.random.default_rng(J * 10 + d)
    S = 20000
    m = polyphase.StridedModel(J, 16, d, 64)
    lam = _cwishart_eigs(rng, S, J, d)
    X = rng.standard_normal((S, J, d))
    lam_r = np.linalg.eigvalsh(np.einsum("sja,sjb->sab", X, X)) / J
    lmin = lam[:, d - min(J, d)]          # smallest non-zero eigenvalue
    lmin_r = lam_r[:, d - min(J, d)]
    u = np.quantile(np.concatenate([lam[:, -1], lmin, lam_r[:, -1], lmin_r]),
                    [0.05, 0.2, 0.4, 0.6, 0.8, 0.95])
    grid, idx = m._grid(J * u, m.m)
    g = m._complex_gaps(grid, idx, m.m, True)
    logF0, logS0 = m._real_gaps(grid, idx)
    for name, pred, emp in [("F", np.exp(g["max_log"]), (lam[:, -1][:, None] <= u).mean(0)),
                            ("S", np.exp(g["min_log"]), (lmin[:, None] > u).mean(0)),
                            ("F0", np.exp(logF0), (lam_r[:, -1][:, None] <= u).mean(0)),
                            ("S0", np.exp(logS0), (lmin_r[:, None] > u).mean(0))]:
        for p, e in zip(pred, emp):
            assert abs(p - e) < _binom_tol(e, S), (name, pred, emp)


def test_pair_law_matches_correlated_wishart_monte_carlo():
    """Hille-Hardy two-bin law: P(lmax(xi) <= u, lmax(xi+1) <= u) for G' = g G + sqrt(1-r) Z."""
    J, d, T, N = 8, 3, 48, 96          # r = Fejer(T, 2 pi / N) = 0.405...
    m = polyphase.StridedModel(J, T, d, N)
    assert not m.rice and 0.3 < m.r < 0.5
    rng = np.random.default_rng(5)
    S = 20000
    c = lambda *s: (rng.standard_normal(s) + 1j * rng.standard_normal(s)) / math.sqrt(2)
    Z1 = c(S, J, d)
    Z2 = math.sqrt(m.r) * Z1 + math.sqrt(1 - m.r) * c(S, J, d)
    eig = lambda Z: np.linalg.eigvalsh(np.einsum("sja,sjb->sab", Z.conj(), Z)) / J
    l1, l2 = eig(Z1), eig(Z2)
    u = np.quantile(l1[:, -1], [0.3, 0.6, 0.9])
    v = np.quantile(l1[:, 0], [0.1, 0.4, 0.7])
    grid, idx = m._grid(J * np.concatenate([u, v]), m.n_series)
    g = m._complex_gaps(grid, idx, m.n_series, False)
    pB = np.exp(2 * g["max_log"] + g["max_pair_extra"])[:3]
    pA = np.exp(2 * g["min_log"] + g["min_pair_extra"])[3:]
    eB = ((l1[:, -1][:, None] <= u) & (l2[:, -1][:, None] <= u)).mean(0)
    eA = ((l1[:, 0][:, None] > v) & (l2[:, 0][:, None] > v)).mean(0)
    for p, e in list(zip(pB, eB)) + list(zip(pA, eA)):
        assert abs(p - e) < _binom_tol(e, S), (pB, eB, pA, eA)


def _strided_mc(J, T, N, d, S, seed):
    """Frame bounds of S sampled stride-d filterbanks, by the eigenvalues of the explicit
    polyphase matrices M(xi) = G^H G / d, G[j, a] = w_j^[xi + a N/d] (NumPy, float64)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((S, J, T)) * math.sqrt(d / (J * T))
    W = np.fft.fft(w, n=N, axis=-1).reshape(S, J, d, N // d)
    Mx = np.einsum("sjax,sjbx->sxab", W.conj(), W) / d
    lam = np.linalg.eigvalsh(Mx)
    return lam[..., 0].min(-1), lam[..., -1].max(-1)


# the model's documented error (README: mean 0.5 %, worst 2 % over the checked grid)
MODEL = 0.03


@pytest.mark.parametrize("J,T,N,d", [(12, 16, 64, 2), (16, 32, 128, 4), (20, 24, 96, 8)])
def test_predict_stride_against_monte_carlo(J, T, N, d):
    A, B = _strided_mc(J, T, N, d, 1500, seed=J + d)
    K = B / A
    p = pr.predict(J, T, N, stride=d)
    assert p.stride == d and p.N == N
    for name, pred, x in [("A", p.E_A, A), ("B", p.E_B, B), ("kappa", p.E_kappa, K)]:
        se = x.std() / math.sqrt(len(x))
        assert abs(pred - x.mean()) < MODEL * x.mean() + K_SE * se, (name, pred, x.mean(), se)
    for q in (0.05, 0.95):
        assert p.kappa_quantiles[q] == pytest.approx(np.quantile(K, q), rel=0.1)


def test_predict_stride_linear_limit_and_edges():
    lin = pr.predict(24, 32, math.inf, stride=4)
    assert lin.N == math.inf and lin.to_dict()["N"] == "inf"
    big = pr.predict(24, 32, 1 << 14, stride=4)
    for key in ("E_A", "E_B", "E_kappa"):
        assert big[key] == pytest.approx(lin[key], rel=2e-3)
    # stride 1 unchanged, default grid
    assert pr.predict(32, 64).E_kappa == pr.predict(32, 64, 1024).E_kappa == 2.488153909073185
    # kappa grows with the stride; J <= d + 1: E[kappa] = inf; J < d: A = 0
    k = [pr.predict(32, 64, stride=d).E_kappa for d in (1, 2, 4, 8)]
    assert k == sorted(k)
    assert math.isinf(pr.predict(5, 16, 64, stride=4).E_kappa)
    low = pr.predict(3, 16, 64, stride=4)
    assert low.E_A == 0 and math.isinf(low.E_kappa)
    A, B = _strided_mc(3, 16, 64, 4, 1000, seed=3)
    assert np.all(A < 1e-12 * B)
    assert abs(low.E_B - B.mean()) < MODEL * B.mean() + K_SE * B.std() / math.sqrt(len(B))
    with pytest.raises(InputError, match="does not divide"):
        pr.predict(16, 32, 100, stride=8)
    with pytest.raises(InputError, match="J = stride"):
        pr.predict(4, 32, 64, stride=4)
    with pytest.raises(InputError, match="not computed"):      # refused before any allocation
        pr.predict(512, 64, 3200, stride=320)


@pytest.mark.parametrize("law,beta", [("gaussian", 3.0), ("rademacher", 1.0)])
def test_aliasing_moments_and_penalty_against_monte_carlo(law, beta):
    J, T, d, N = 6, 10, 4, 40          # d does not divide T: E G_k != 0 for odd k
    rng = np.random.default_rng(11)
    S = 3000
    sigma2 = 0.7
    if law == "gaussian":
        ws = rng.standard_normal((S, J, T)) * math.sqrt(sigma2)
    else:
        ws = rng.choice([-1.0, 1.0], (S, J, T)) * math.sqrt(sigma2)
    om = np.array([0.0, 0.05, 0.13, 0.25])
    G = np.stack([ref.aliasing_terms_dense(w, om, d) for w in ws])        # (S, d, n)
    mean, var = aliasing.aliasing_moments(J, T, d, om, tap_variance=sigma2, kurtosis=beta)
    emp_mean = G.mean(0)
    dev = np.abs(G - mean[:, None]) ** 2
    se_mean = np.sqrt(dev.mean(0) / S)
    assert np.all(np.abs(emp_mean - mean[:, None]) < K_SE * se_mean + 1e-12)
    emp_var = dev.mean(0)
    se_var = dev.std(0) / math.sqrt(S)
    assert np.all(np.abs(emp_var - var) < K_SE * se_var), (emp_var, var)
    # E[aliasing_penalty]: exact for Gaussian and Rademacher taps; the penalty itself
    # (rfbjax.remedies.regularizers) on the same grid, checked against the dense definition first
    pen = np.asarray(regularizers.aliasing_penalty(jnp.asarray(ws[:, :, None, :]), stride=d, N=N))
    dense = [ref.aliasing_energy_dense(w, N, d) for w in ws[:3]]
    np.testing.assert_allclose(pen[:3], dense, rtol=1e-9)
    want = aliasing.expected_aliasing_penalty(J, T, d, N, kurtosis=beta)
    assert abs(pen.mean() - want) < K_SE * pen.std() / math.sqrt(S), (pen.mean(), want)
    # N=None (the penalty's exact l2(Z) grid) against the N = inf expectation
    pen_inf = np.asarray(regularizers.aliasing_penalty(jnp.asarray(ws[:, :, None, :]), stride=d))
    want_inf = aliasing.expected_aliasing_penalty(J, T, d, math.inf, kurtosis=beta)
    assert abs(pen_inf.mean() - want_inf) < K_SE * pen_inf.std() / math.sqrt(S)


def test_expected_aliasing_penalty_closed_form():
    # d | T, N >= 2T: (d - 1)(T + beta - 2) / (JT + beta - 1)
    for beta in (1.0, 3.0, 1.8):
        assert aliasing.expected_aliasing_penalty(16, 64, 4, 1024, kurtosis=beta) == \
            pytest.approx(3 * (64 + beta - 2) / (16 * 64 + beta - 1), rel=1e-12)
    assert aliasing.expected_aliasing_penalty(16, 64, 4, math.inf) == \
        aliasing.expected_aliasing_penalty(16, 64, 4, 4096)
    assert aliasing.expected_aliasing_penalty(16, 64, 1) == 0.0


def test_predict_cli_stride(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["predict", "--J", "16", "--T", "32", "--N", "inf", "--stride", "4",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "alias" in text and "inf" in text
    row = json.loads(out.read_text())["rows"][0]
    p = pr.predict(16, 32, math.inf, stride=4)
    assert row["E_kappa"] == pytest.approx(p.E_kappa) and row["stride"] == 4
    assert row["E_aliasing"] == pytest.approx(3 * 33 / (16 * 32 + 2))
    assert main(["predict", "--J", "16", "--T", "32", "--N", "100", "--stride", "8"]) == 2
    assert "does not divide" in capsys.readouterr().err


def test_bounds_rows_carry_strided_predictions(tmp_path):
    out = tmp_path / "b.json"
    assert main(["bounds", "--J", "6", "--T", "8", "--N", "32", "--stride", "2", "--samples", "50",
                 "--json", str(out), "--quiet"]) == 0
    row = json.loads(out.read_text())["rows"][0]
    p = pr.predict(6, 8, 32, stride=2)
    assert row["pred_kappa"] == pytest.approx(p.E_kappa) and row["pred_A"] == pytest.approx(p.E_A)
    assert row["kappa_tilde_paper"] is None
