"""Strided filterbanks: polyphase frame bounds against the SVD of the explicit analysis matrix,
the strided energy kernel against explicit convolution, and the strided moments against brute
force, exact enumeration and Monte Carlo. The pure kernels run as chex variants, with and
without ``jit``."""

import itertools
import warnings

import chex
import numpy as np
import jax.numpy as jnp
import pytest
from absl.testing import parameterized

from rfbjax.kernels import energy, frames, strided
from rfbjax.engine.measure import filterbank_tags, sample_bounds, sample_energy
import reference as ref

RNG = np.random.default_rng(606)


def cases(*rows):
    """``parameterized.named_parameters`` rows named by their values (test ids without spaces)."""
    rows = [r if isinstance(r, tuple) else (r,) for r in rows]
    return [("_".join(map(str, r)),) + r for r in rows]


class StridedKernelsTest(chex.TestCase):
    """Polyphase bounds, tight frames and strided energies against explicit analysis matrices."""

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(cases((3, 5, 12, 1), (3, 5, 12, 2), (3, 5, 12, 3),
                                          (5, 7, 12, 4), (4, 20, 8, 2), (6, 9, 18, 6),
                                          (8, 3, 16, 4)))
    def test_polyphase_bounds_match_svd(self, J, T, N, d):
        ws = RNG.standard_normal((2, J, T))

        @self.variant
        def both_routes(w):
            return (strided.strided_frame_bounds(w, N, d, method="polyphase"),
                    strided.strided_frame_bounds(w, N, d))

        (A, B), auto = both_routes(jnp.asarray(ws))
        A0, B0 = np.array([ref.frame_bounds_explicit(w, N, d) for w in ws]).T
        chex.assert_trees_all_close(B, B0, rtol=1e-11)
        for s in range(len(ws)):   # each draw's lower bound to within 1e-11 of its own B
            chex.assert_trees_all_close(A[s], A0[s], rtol=1e-9, atol=1e-11 * B0[s])
        chex.assert_trees_all_close(auto, (A, B), rtol=1e-10, atol=1e-12)

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(cases((5, 2, 4, 8, 2), (3, 2, 4, 8, 1), (3, 2, 5, 12, 2)))
    def test_layer_bounds_match_svd(self, J, C, T, N, d):
        w = RNG.standard_normal((J, C, T))
        s = np.linalg.svd(ref.layer_analysis_matrix(w, N, d), compute_uv=False)
        full = np.zeros(C * N)
        full[: s.size] = s
        A, B = self.variant(lambda w: strided.layer_frame_bounds(w, N, d))(jnp.asarray(w))
        chex.assert_trees_all_close(B, full.max() ** 2, rtol=1e-11)
        if J < C * d:
            assert float(A) == 0.0
        else:
            chex.assert_trees_all_close(A, full.min() ** 2, rtol=1e-9)

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(cases(1, 2, 4))
    def test_canonical_tight_frame_has_kappa_one(self, d):
        w = jnp.asarray(RNG.standard_normal((5, 6)))
        N = 16
        g = self.variant(lambda w: strided.canonical_tight(w, N, d))(w)
        chex.assert_shape(g, (5, N))
        chex.assert_type(g, w.dtype)
        bounds = ref.frame_bounds_explicit(np.asarray(g), N, d)
        chex.assert_trees_all_close(bounds, (1.0, 1.0), rtol=0, atol=1e-12)

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(cases((12, 5, 2), (12, 5, 3), (8, 11, 4), (12, 4, 6)))
    def test_strided_energy_matches_explicit_analysis(self, N, T, d):
        ws = RNG.standard_normal((3, 2, T))
        xs = RNG.standard_normal((2, N))
        E = self.variant(lambda w, X: strided.strided_energy(w, X, d))(
            jnp.asarray(ws), jnp.fft.fft(jnp.asarray(xs)))
        expect = np.array([[np.sum((ref.analysis_matrix(w, N, d) @ x) ** 2) for x in xs]
                           for w in ws])
        chex.assert_trees_all_close(E, expect, rtol=1e-11)


@pytest.mark.parametrize("J,T,N,d", [(2, 5, 12, 3), (3, 4, 16, 8), (1, 4, 8, 2)])
def test_fewer_filters_than_stride_gives_zero_lower_bound(J, T, N, d):
    w = jnp.asarray(RNG.standard_normal((J, T)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A, B = strided.strided_frame_bounds(w, N, d)
        kappa = frames.condition_number(A, B)
    A0, B0 = ref.frame_bounds_explicit(np.asarray(w), N, d)
    assert float(A) == 0.0 and A0 < 1e-12 * B0
    assert float(B) == pytest.approx(B0, rel=1e-11)
    assert np.isinf(float(kappa)) and not np.isnan(float(kappa))


def test_stride_one_polyphase_is_the_littlewood_paley_sum():
    ws = jnp.asarray(RNG.standard_normal((4, 5, 6)))
    for N in (16, 5):   # 5 < T: folded
        A, B = strided.strided_frame_bounds(ws, N, 1, method="polyphase")
        A1, B1 = frames.circular_frame_bounds(ws, N)
        np.testing.assert_allclose(A, A1, rtol=1e-11)
        np.testing.assert_allclose(B, B1, rtol=1e-11)
        A2, B2 = strided.strided_frame_bounds(ws, N, 1)   # auto: the very same computation
        np.testing.assert_array_equal(A2, A1)
        np.testing.assert_array_equal(B2, B1)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_linear_strided_energy_by_zero_padding(d):
    N, T = 7, 4
    w = RNG.standard_normal((2, T))
    x = RNG.standard_normal(N)
    xs = strided.stride_support(x, T, d, "linear")
    assert xs.size % d == 0 and xs.size >= N + T - 1
    E = float(strided.strided_energy(jnp.asarray(w), jnp.fft.fft(jnp.asarray(xs))[None], d)[0])
    expect = sum(np.sum(np.convolve(x, wj)[::d] ** 2) for wj in w)
    assert E == pytest.approx(expect, rel=1e-11)


def _explicit_gram(x, T, d):
    """Q = X^T X with X[m, t] = x[(m d - t) mod N]: ||Phi_d x||^2 = sum_j w_j^T Q w_j."""
    N = x.size
    X = np.array([[x[(m * d - t) % N] for t in range(T)] for m in range(N // d)])
    return X.T @ X


@pytest.mark.parametrize("N,T,d", [(12, 5, 2), (12, 6, 3), (8, 11, 4), (9, 4, 1)])
def test_strided_gram_and_moments_brute_force(N, T, d):
    x = RNG.standard_normal(N)
    Q = _explicit_gram(x, T, d)
    np.testing.assert_allclose(strided.strided_gram(x, T, d), Q, rtol=1e-12, atol=1e-12)
    w = RNG.standard_normal(T)
    assert w @ Q @ w == pytest.approx(np.sum((ref.analysis_matrix([w], N, d) @ x) ** 2))
    J, s2 = 3, 0.7
    for beta in (3.0, 9 / 5, 1.0):
        mean, var = strided.strided_energy_moments(x, J, T, d, tap_variance=s2, kurtosis=beta)
        assert mean == pytest.approx(J * s2 * np.trace(Q), rel=1e-12)
        expect = J * s2 ** 2 * (2 * np.trace(Q @ Q) + (beta - 3) * np.sum(np.diag(Q) ** 2))
        assert var == pytest.approx(expect, rel=1e-11)


def test_stride_one_gaussian_moments_are_formula_3():
    from rfbjax.kernels.autocorr import lag_profile, signal_autocorr

    x = RNG.standard_normal(20)
    for T in (5, 27):
        R = lag_profile(signal_autocorr(jnp.asarray(x)), T)
        m0, v0 = energy.energy_moments(R, 4, T)
        m1, v1 = strided.strided_energy_moments(x, 4, T, 1, tap_variance=1 / (4 * T))
        assert m1 == pytest.approx(float(m0), rel=1e-12)
        assert v1 == pytest.approx(float(v0), rel=1e-11)


def test_rademacher_variance_by_exact_enumeration():
    """One filter of 4 taps ±σ: all 16 sign patterns give the exact law of the energy."""
    N, T, d, s = 8, 4, 2, 0.5
    x = RNG.standard_normal(N)
    A = ref.analysis_matrix  # noqa: N806
    Es = [np.sum((A([s * np.array(signs)], N, d) @ x) ** 2)
          for signs in itertools.product((-1.0, 1.0), repeat=T)]
    mean, var = strided.strided_energy_moments(x, 1, T, d, tap_variance=s * s, kurtosis=1.0)
    assert mean == pytest.approx(np.mean(Es), rel=1e-12)
    assert var == pytest.approx(np.var(Es), rel=1e-11)


def test_energy_preserved_in_expectation_iff_stride_divides_taps():
    x = RNG.standard_normal(24)
    r0 = np.sum(x * x)
    m, _ = strided.strided_energy_moments(x, 5, 8, 4, tap_variance=4 / (5 * 8))
    assert m / r0 == pytest.approx(1.0, rel=1e-12)
    m, _ = strided.strided_energy_moments(x, 5, 6, 4, tap_variance=4 / (5 * 6))
    e = [np.sum(x[c::4] ** 2) for c in range(4)]   # phases of x: t = 0..5 see c(t) = -t mod 4
    assert m == pytest.approx(5 * 4 / 30 * (e[0] + e[3] + e[2] + e[1] + e[0] + e[3]), rel=1e-12)


@pytest.mark.parametrize("init,T,d", [("gaussian", 8, 2), ("pytorch", 8, 4), ("rademacher", 6, 4)])
def test_moments_against_monte_carlo(init, T, d):
    from rfbjax.kernels import initializers as inits
    from rfbjax.engine import montecarlo as mc

    N, J, S = 32, 4, 4000
    walk = np.cumsum(RNG.standard_normal(N))
    alt = (-1.0) ** np.arange(N)
    sig = [walk - walk.mean(), alt]
    E = sample_energy(sig, J, T, S, seed=3, init=init, stride=d, dtype=jnp.float64)
    info = inits.describe(init, J, T, stride=d)
    for m, x in enumerate(sig):
        r0 = np.sum(x * x)
        mean, var = strided.strided_energy_moments(x, J, T, d, tap_variance=info["tap_variance"],
                                                   kurtosis=info["kurtosis"])
        s = mc.summarize(E[:, m])
        assert abs(s.mean - mean / r0) < 4.5 * s.se
        assert abs(s.var - var / r0 ** 2) < 4.5 * s.se_var


def test_strided_exact_law_has_the_strided_moments():
    from rfbjax.theory.energy_law import energy_law_from_eigenvalues

    x = RNG.standard_normal(16)
    J, T, d = 3, 6, 2
    lam = np.linalg.eigvalsh(strided.strided_gram(x, T, d))
    r0 = np.sum(x * x)
    law = energy_law_from_eigenvalues(lam, J, T, r0, scale=d)   # sigma^2 = d/(JT)
    mean, var = strided.strided_energy_moments(x, J, T, d, tap_variance=d / (J * T))
    assert law.mean() == pytest.approx(mean / r0, rel=1e-9)
    assert law.var() == pytest.approx(var / r0 ** 2, rel=1e-9)


def test_default_streams_unchanged_and_settings_never_share_draws():
    assert filterbank_tags(4, 8, 1.0, "float32") == ("filterbank", "gaussian", 4, 8, 1.0, "float32")
    assert filterbank_tags(4, 8, 1.0, "float32", "gaussian", 2)[-2:] == ("stride", 2)
    a = sample_bounds(4, 8, 16, 50, seed=1, dtype=jnp.float64)
    b = sample_bounds(4, 8, 16, 50, seed=1, dtype=jnp.float64, init="gaussian", stride=1)
    np.testing.assert_array_equal(a["kappa"], b["kappa"])
    c = sample_bounds(4, 8, 16, 50, seed=1, dtype=jnp.float64, stride=2)
    d = sample_bounds(4, 8, 16, 50, seed=1, dtype=jnp.float64, init="glorot_normal")
    assert not np.allclose(a["kappa"], c["kappa"]) and not np.allclose(a["kappa"], d["kappa"])


def test_check_stride_messages():
    from rfbjax.errors import InputError

    with pytest.raises(InputError, match="does not divide"):
        strided.check_stride(30, 4)
    with pytest.raises(InputError, match=">= 1"):
        strided.check_stride(30, 0)
    strided.check_stride(32, 4)
