"""Every fast kernel against its brute-force reference (float64, small sizes, tight tolerances).

The pure kernels run as chex variants, with and without ``jit``, against the same references;
pytree results (the pairs (A, B), the moments (mean, var)) are compared with
``chex.assert_trees_all_close``.
"""

import re
import warnings

import chex
import numpy as np
import jax
import jax.numpy as jnp
import pytest
from absl.testing import parameterized

from rfbjax.kernels import autocorr, energy, filters, frames, strided
import reference as ref

RNG = np.random.default_rng(1234)


def cases(*rows):
    """``parameterized.named_parameters`` rows named by their values (test ids without spaces)."""
    rows = [r if isinstance(r, tuple) else (r,) for r in rows]
    return [("_".join(map(str, r)),) + r for r in rows]


class PureKernelsTest(chex.TestCase):
    """Kernels against explicit loops, matrices and convolutions, jitted and not."""

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(cases(1, 2, 5, 16))
    def test_filterbank_autocorr_matches_loops(self, T):
        w = RNG.standard_normal((3, T))
        rho = self.variant(autocorr.filterbank_autocorr)(jnp.asarray(w))
        expect = sum(ref.autocorr_filter(wj) for wj in w)
        chex.assert_shape(rho, (T,))
        chex.assert_trees_all_close(rho, expect, rtol=1e-12, atol=1e-12)

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(cases(7, 16))
    def test_signal_autocorr_matches_loops(self, N):
        x = jnp.asarray(RNG.standard_normal(N))

        @self.variant
        def both(x):
            return (autocorr.signal_autocorr(x, boundary="circular"),
                    autocorr.signal_autocorr(x, boundary="linear"))

        expect = (ref.autocorr_signal_circular(np.asarray(x)),
                  ref.autocorr_signal_linear(np.asarray(x)))
        chex.assert_trees_all_close(both(x), expect, rtol=1e-12, atol=1e-12)

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(cases(("circular", 12, 5), ("circular", 9, 9),
                                          ("circular", 8, 13), ("linear", 10, 4), ("linear", 6, 9)))
    def test_energy_formula_matches_explicit_convolution(self, boundary, N, T):
        J, S = 3, 4
        ws = RNG.standard_normal((S, J, T))
        xs = RNG.standard_normal((2, N))

        @self.variant
        def routes(ws, xs):
            R = jnp.stack([autocorr.lag_profile(autocorr.signal_autocorr(x, boundary=boundary), T,
                                                boundary=boundary) for x in xs])
            E = energy.energy_response(autocorr.filterbank_autocorr(ws), R)
            conv = jnp.stack([energy.energy_by_convolution(ws, x, boundary=boundary) for x in xs],
                             -1)
            return E, conv

        expect = np.array([[ref.energy_explicit(w, x, boundary) for x in xs] for w in ws])
        chex.assert_trees_all_close(routes(jnp.asarray(ws), jnp.asarray(xs)), (expect, expect),
                                    rtol=1e-11)

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(cases(("circular", 16, 4), ("circular", 6, 11),
                                          ("linear", 8, 5), ("linear", 5, 9)))
    def test_analytic_moments_match_explicit_trace(self, boundary, N, T):
        x = RNG.standard_normal(N)
        J = 4

        @self.variant
        def moments(x):
            R = autocorr.lag_profile(autocorr.signal_autocorr(x, boundary=boundary), T,
                                     boundary=boundary)
            return energy.energy_moments(R, J, T, scale=1.7)

        mean, var = moments(jnp.asarray(x))
        chex.assert_trees_all_close(mean, 1.7 * np.sum(x ** 2), rtol=1e-12)
        chex.assert_trees_all_close(var, ref.energy_variance_explicit(x, J, T, boundary, 1.7),
                                    rtol=1e-10)

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(cases((16, 3, 2), (15, 15, 3), (12, 8, 4), (8, 20, 2),
                                          (9, 5, 1)))
    def test_frame_bounds_match_singular_values(self, N, T, J):
        ws = RNG.standard_normal((J, T))
        A_ref, B_ref = ref.frame_bounds_explicit(ws, N)

        @self.variant
        def all_routes(w):
            Ps = (frames.power_response(autocorr.filterbank_autocorr(w), N),
                  frames.power_response_from_filters(w, N), frames.circular_power_response(w, N))
            return [frames.frame_bounds(P, T) for P in Ps] + [frames.circular_frame_bounds(w, N)]

        bounds = all_routes(jnp.asarray(ws))
        chex.assert_trees_all_close([B for _, B in bounds], [B_ref] * 4, rtol=1e-10)
        chex.assert_trees_all_close([A for A, _ in bounds[:3]], [A_ref] * 3, rtol=1e-8,
                                    atol=1e-10)

    @chex.variants(with_jit=True, without_jit=True)
    def test_power_response_matches_dense_evaluation(self):
        ws = RNG.standard_normal((5, 7))
        N = 32
        P = self.variant(lambda w: frames.power_response(autocorr.filterbank_autocorr(w), N))(
            jnp.asarray(ws))
        omegas = 2 * np.pi * np.arange(N // 2 + 1) / N
        chex.assert_trees_all_close(P, ref.power_response_dense(ws, omegas), rtol=1e-11)


def _spec(*shape, dtype=jnp.float64):
    return jax.ShapeDtypeStruct(shape, dtype)


@pytest.mark.parametrize("fn,args,needle", [
    pytest.param(autocorr.filterbank_autocorr, (_spec(8),),
                 "filterbank_autocorr: w must be (..., J, T)", id="autocorr-rank1"),
    pytest.param(lambda w: frames.circular_frame_bounds(w, 16), (_spec(8),),
                 "circular_frame_bounds: w must be (..., J, T)", id="circular-rank1"),
    pytest.param(frames.linear_frame_bounds, (_spec(),), "linear_frame_bounds: rho must be",
                 id="linear-scalar"),
    pytest.param(energy.energy_response, (_spec(4, 5), _spec(3, 6)),
                 "R_lags must be (M, T) with T=5", id="energy-lags"),
    pytest.param(energy.energy_by_convolution, (_spec(3, 5), _spec(2, 16)),
                 "x must be one signal", id="convolution-batch"),
    pytest.param(lambda w: strided.layer_frame_bounds(w, 16, 2), (_spec(3, 5),),
                 "layer_frame_bounds: w must be (..., J, C, T)", id="layer-rank2"),
    pytest.param(lambda w, X: strided.strided_energy(w, X, 5),
                 (_spec(3, 5), _spec(2, 12, dtype=jnp.complex128)),
                 "stride 5 must divide N=12", id="strided-divides"),
])
def test_wrong_shapes_fail_at_trace_time(fn, args, needle):
    # abstract arguments: the check runs while tracing (lowering compiles nothing), before
    # anything is computed
    with pytest.raises(AssertionError, match=re.escape(needle)):
        jax.jit(fn).lower(*args)


def test_fft_size_is_smallest_5_smooth():
    def smooth(n):
        for p in (2, 3, 5):
            while n % p == 0:
                n //= p
        return n == 1

    for n in range(1, 300):
        m = autocorr.fft_size(n)
        assert m >= n and smooth(m)
        assert all(not smooth(k) for k in range(n, m))


@pytest.mark.parametrize("T", [2, 6, 31])
def test_linear_frame_bounds_match_dense_grid(T):
    ws = RNG.standard_normal((3, T))
    A, B = frames.linear_frame_bounds(autocorr.filterbank_autocorr(jnp.asarray(ws)))
    omegas = np.linspace(0, np.pi, 200_001)
    P = ref.power_response_dense(ws, omegas)
    assert float(B) == pytest.approx(P.max(), rel=1e-9)
    assert float(A) == pytest.approx(P.min(), rel=1e-7, abs=1e-9)
    # the linear bounds of l2(Z) bracket the circular ones on any grid
    for N in (2 * T, 64):
        Ac, Bc = frames.circular_frame_bounds(jnp.asarray(ws), N)
        assert float(A) <= float(Ac) + 1e-12 and float(Bc) <= float(B) + 1e-12


def test_linear_bounds_approach_explicit_matrix_for_long_signals():
    # ||Φx||² for full linear convolution of a length-N signal lies in [A, B] of l2(Z)
    ws = RNG.standard_normal((2, 4))
    A, B = frames.linear_frame_bounds(autocorr.filterbank_autocorr(jnp.asarray(ws)))
    s = np.linalg.svd(ref.linear_analysis_matrix(ws, 60), compute_uv=False) ** 2
    assert float(A) <= s.min() + 1e-12 and s.max() <= float(B) + 1e-12
    assert s.max() == pytest.approx(float(B), rel=2e-2)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_dead_band_gives_infinite_kappa_without_warnings(dtype):
    # one filter [1, 1] has a zero of its transfer function at ω = π (N even)
    w = jnp.asarray([[1.0, 1.0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A, B = frames.circular_frame_bounds(w, 16)
        kappa = frames.condition_number(A, B)
        Al, Bl = frames.linear_frame_bounds(autocorr.filterbank_autocorr(w))
        kl = frames.condition_number(Al, Bl)
    assert float(A) == 0.0 and np.isinf(float(kappa)) and float(B) == pytest.approx(4.0)
    assert float(Al) == 0.0 and np.isinf(float(kl))


def test_condition_number_finite_case_and_batching():
    A = jnp.asarray([0.5, 0.0, 2.0])
    B = jnp.asarray([1.0, 3.0, 2.0])
    np.testing.assert_array_equal(np.asarray(frames.condition_number(A, B)), [2.0, np.inf, 1.0])


def test_float32_and_float64_agree():
    key = jax.random.PRNGKey(3)
    w64 = filters.gaussian_filterbank(key, 8, 100, dtype=jnp.float64)
    w32 = w64.astype(jnp.float32)
    A64, B64 = frames.circular_frame_bounds(w64, 256)
    A32, B32 = frames.circular_frame_bounds(w32, 256)
    assert A32.dtype == jnp.float32 and A64.dtype == jnp.float64
    assert float(A32) == pytest.approx(float(A64), rel=1e-4)
    assert float(B32) == pytest.approx(float(B64), rel=1e-5)


def test_gaussian_filterbank_scale_and_shape():
    w = filters.gaussian_filterbank(jax.random.PRNGKey(0), 40, 500, scale=2.0, dtype=jnp.float64)
    assert w.shape == (40, 500)
    n = w.size
    var = float(jnp.var(w))
    expect = 2.0 / (40 * 500)
    # sample variance of n Gaussians: relative s.e. sqrt(2/n)
    assert abs(var / expect - 1) < 4 * np.sqrt(2 / n)


def test_kernels_jit_and_vmap():
    keys = jax.random.split(jax.random.PRNGKey(0), 5)

    @jax.jit
    def f(k):
        w = filters.gaussian_filterbank(k, 4, 16)
        return frames.circular_frame_bounds(w, 64)

    A, B = jax.vmap(f)(keys)
    for i in range(5):
        chex.assert_trees_all_close(f(keys[i]), (A[i], B[i]), rtol=1e-6)


def test_kernels_import_chex_on_first_check():
    """Importing the kernels does not import chex; the first trace-time check does, and still
    refuses a wrong rank."""
    import subprocess
    import sys

    code = ("import sys\n"
            "import rfbjax.kernels.frames, rfbjax.kernels.strided, rfbjax.kernels.energy\n"
            "assert 'chex' not in sys.modules, 'imported at import time'\n"
            "import jax.numpy as jnp\n"
            "from rfbjax.kernels import frames\n"
            "try:\n"
            "    frames.power_response(jnp.float32(1.0), 8)\n"
            "except AssertionError as e:\n"
            "    assert 'power_response' in str(e), e\n"
            "else:\n"
            "    raise SystemExit('no check')\n"
            "assert 'chex' in sys.modules\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
