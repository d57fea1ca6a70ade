"""Stability penalties against the explicit frame operator, finite differences, and the optax wrapper;
certified l2(Z) bounds against dense evaluation."""

import math

import numpy as np
import jax
import jax.numpy as jnp
import optax
import pytest

from rfbjax.remedies import regularizers as R
from rfbjax.kernels import strided
from rfbjax.errors import InputError
import reference as ref

RNG = np.random.default_rng(1414)


def _explicit(w, N, d):
    """Frame operator S = Φᵀ Φ of the layer on Z_N, its DFT-basis form, and c = tr S / (CN)."""
    J, C, T = w.shape
    Phi = ref.layer_analysis_matrix(w, N, d)
    S = Phi.T @ Phi
    F = np.fft.fft(np.eye(N)) / np.sqrt(N)
    FC = np.kron(np.eye(C), F)
    Sh = FC @ S @ FC.conj().T
    return S, Sh, np.trace(S) / (C * N)


CASES = [(5, 1, 4, 12, 1), (7, 1, 5, 12, 3), (9, 2, 5, 12, 4)]


@pytest.mark.parametrize("J,C,T,N,d", CASES)
def test_penalties_match_the_explicit_frame_operator(J, C, T, N, d):
    w = RNG.standard_normal((J, C, T))
    S, Sh, c = _explicit(w, N, d)
    lam = np.linalg.eigvalsh(S)
    kappa = R.kappa_penalty(jnp.asarray(w), stride=d, N=N)
    assert float(kappa) == pytest.approx(lam[-1] / lam[0] - 1, rel=1e-9)
    tight = R.tightness_penalty(jnp.asarray(w), stride=d, N=N)
    expect = np.sum((S / c - np.eye(C * N)) ** 2) / (N // d)
    assert float(tight) == pytest.approx(expect, rel=1e-10)
    # aliasing: entries of Ŝ between different frequency bins k != k' (same or other channel)
    k = np.tile(np.arange(N), C)
    off = k[:, None] != k[None, :]
    alias = np.sum(np.abs(Sh[off]) ** 2) / ((N // d) * C * d * c ** 2)
    got = R.aliasing_penalty(jnp.asarray(w), stride=d, N=N)
    assert float(got) == pytest.approx(alias, rel=1e-9, abs=1e-14)
    if d == 1:
        assert float(got) == 0.0
    # Ŝ couples only bins congruent mod N/d: the rest of it is rounding
    M = N // d
    assert np.max(np.abs(Sh[(k[:, None] - k[None, :]) % M != 0])) < 1e-10 * np.max(np.abs(Sh))


def test_kappa_penalty_is_infinite_without_a_frame_and_single_channel_shape():
    w = jnp.asarray(RNG.standard_normal((3, 5)))
    assert np.isinf(float(R.kappa_penalty(w, stride=4, N=16)))
    assert np.isinf(float(R.kappa_penalty(w, stride=4, N=16, temperature=0.1)))
    np.testing.assert_array_equal(R.tightness_penalty(w, N=16),
                                  R.tightness_penalty(w[:, None, :], N=16))


def test_exact_grid_is_l2z():
    """For N >= 2T - 1 the grid means do not depend on N: None, inf and any larger N agree."""
    for (J, C, T, d) in [(8, 2, 7, 3)]:
        w = jnp.asarray(RNG.standard_normal((J, C, T)))
        for fn in (R.tightness_penalty, R.aliasing_penalty):
            base = float(fn(w, stride=d, N=math.inf))
            assert float(fn(w, stride=d)) == base
            for N in (d * math.ceil((2 * T - 1) / d),):
                assert float(fn(w, stride=d, N=N)) == pytest.approx(base, rel=1e-11, abs=1e-15)
        # on a grid too coarse (N < 2T - 1) the circular value differs
        Nc = d * max(1, (T // d))
        assert float(R.tightness_penalty(w, stride=d, N=Nc)) != pytest.approx(
            float(R.tightness_penalty(w, stride=d)), rel=1e-6)


def test_zero_exactly_when_tight_and_scale_invariant():
    d, J = 3, 5
    # a T-tap tight layer: the polyphase identity (d filters δ_t), plus two zero filters
    w = np.zeros((J, 1, d))
    w[np.arange(d), 0, np.arange(d)] = 1.0
    for fn in (R.kappa_penalty, R.tightness_penalty, R.aliasing_penalty):
        assert abs(float(fn(jnp.asarray(w), stride=d))) < 1e-14
    # a generic layer: invariant to a global gain, positive
    v = jnp.asarray(RNG.standard_normal((J, 2, 6)))
    for fn in (R.kappa_penalty, R.tightness_penalty, R.aliasing_penalty):
        a, b = float(fn(v, stride=2)), float(fn(7.5 * v, stride=2))
        assert a > 0 and b == pytest.approx(a, rel=1e-12)


def test_aliasing_free_but_not_tight_layer():
    """Filters band-limited to one alias cell on Z_N: aliasing zero, tightness not."""
    N, d, J = 16, 2, 4
    k = np.fft.fftfreq(N) * N
    Wh = RNG.standard_normal((J, N)) * (np.abs(k) < N / (2 * d) - 0.5)
    w = np.real(np.fft.ifft(Wh * 1.0 + np.conj(Wh[:, (-np.arange(N)) % N]), axis=-1))
    assert float(R.aliasing_penalty(jnp.asarray(w), stride=d, N=N)) < 1e-28
    assert float(R.tightness_penalty(jnp.asarray(w), stride=d, N=N)) > 0.1


def _fd_check(name, fn, w, rng, eps=1e-6, n_dir=3, rel=1e-6):
    g = jax.jit(jax.grad(fn))(w)
    fn = jax.jit(fn)
    for _ in range(n_dir):
        u = jnp.asarray(rng.standard_normal(w.shape))
        fd = (fn(w + eps * u) - fn(w - eps * u)) / (2 * eps)
        assert float(jnp.vdot(g, u)) == pytest.approx(float(fd), rel=rel, abs=1e-10), name


@pytest.mark.parametrize("J,C,T,d", [(7, 2, 4, 2)])
def test_gradients_match_finite_differences(J, C, T, d):
    rng = np.random.default_rng(J * 100 + d)
    w = jnp.asarray(rng.standard_normal((J, C, T)))
    _fd_check("tightness", lambda v: R.tightness_penalty(v, stride=d), w, rng)
    _fd_check("kappa", lambda v: R.kappa_penalty(v, stride=d, N=4 * d * T), w, rng,
              rel=1e-5)  # a max over frequencies: finite differences are less accurate
    _fd_check("smooth kappa", lambda v: R.kappa_penalty(v, stride=d, temperature=0.05), w, rng)
    if d > 1:
        _fd_check("aliasing", lambda v: R.aliasing_penalty(v, stride=d), w, rng)


def test_smooth_kappa_bounds_the_exact_one_from_above():
    w = jnp.asarray(RNG.standard_normal((2, 8, 1, 16)))
    exact = R.kappa_penalty(w, stride=2)
    prev = None
    for t in (0.1, 0.01, 0.001):
        s = R.kappa_penalty(w, stride=2, temperature=t)
        assert np.all(np.asarray(s) >= np.asarray(exact))
        if prev is not None:
            assert np.all(np.asarray(s) <= np.asarray(prev))
        prev = s
    np.testing.assert_allclose(prev, exact, rtol=0.05)


def test_batches_jit_vmap_and_float32():
    w = jnp.asarray(RNG.standard_normal((3, 6, 2, 5)))
    f = jax.jit(lambda v: R.tightness_penalty(v, stride=2))
    batch = f(w)
    assert batch.shape == (3,)
    np.testing.assert_allclose(jax.vmap(f)(w), batch, rtol=1e-12)
    assert float(f(w[1])) == pytest.approx(float(batch[1]), rel=1e-12)
    for fn in (R.kappa_penalty, R.tightness_penalty, R.aliasing_penalty):
        lo = jax.jit(lambda v: fn(v, stride=2))(w.astype(jnp.float32))
        assert lo.dtype == jnp.float32 and lo.shape == (3,)
        np.testing.assert_allclose(lo, fn(w, stride=2), rtol=2e-4)


def test_bad_arguments_are_input_errors():
    w = jnp.ones((4, 1, 3))
    with pytest.raises(InputError, match="stride"):
        R.tightness_penalty(w, stride=3, N=16)
    with pytest.raises(InputError, match="inf"):
        R.kappa_penalty(w, N=math.inf)
    with pytest.raises(InputError, match="shape"):
        R.tightness_penalty(jnp.ones(5))
    with pytest.raises(InputError, match="temperature"):
        R.kappa_penalty(w, temperature=0.0)


def test_penalize_adds_beta_times_the_gradient_before_the_optimiser():
    params = {"front": {"kernel": jnp.asarray(RNG.standard_normal((6, 1, 5)))},
              "head": {"kernel": jnp.asarray(RNG.standard_normal((5, 2, 4))),
                       "bias": jnp.zeros(3)}}
    grads = jax.tree.map(lambda x: jnp.asarray(RNG.standard_normal(x.shape)), params)
    beta, lr = 0.3, 0.1
    tx = optax.chain(R.penalize(R.tightness_penalty, beta, stride=1,
                                select=lambda path, x: path.startswith("front")),
                     optax.sgd(lr))
    upd, _ = jax.jit(tx.update)(grads, tx.init(params), params)
    gp = jax.grad(R.tightness_penalty)(params["front"]["kernel"])
    np.testing.assert_allclose(upd["front"]["kernel"], -lr * (grads["front"]["kernel"] + beta * gp),
                               rtol=1e-12)
    np.testing.assert_allclose(upd["head"]["kernel"], -lr * grads["head"]["kernel"], rtol=1e-12)
    # default selection: every 3-D leaf; a bool pytree works too
    tx2 = R.penalize(R.kappa_penalty, beta, temperature=0.1)
    u2, _ = jax.jit(tx2.update)(grads, tx2.init(params), params)
    assert not np.allclose(u2["head"]["kernel"], grads["head"]["kernel"])
    np.testing.assert_array_equal(u2["head"]["bias"], grads["head"]["bias"])
    # Flax / Keras layout (T, C, J): the same gradient, transposed
    k = params["head"]["kernel"]
    tf = R.penalize(R.aliasing_penalty, beta, layout="flax", stride=2)
    uf, _ = jax.jit(tf.update)(jnp.zeros_like(k.T), tf.init(k.T), k.T)
    ut = jax.jit(R.penalize(R.aliasing_penalty, beta, stride=2).update)(jnp.zeros_like(k), None,
                                                                         k)[0]
    np.testing.assert_allclose(uf, ut.T, rtol=1e-12)


def test_training_with_the_penalty_lowers_kappa():
    w0 = jnp.asarray(RNG.standard_normal((8, 1, 16)))
    tx = optax.chain(R.penalize(R.tightness_penalty, 1.0), optax.adam(1e-2))
    w, state = w0, tx.init(w0)
    step = jax.jit(lambda w, s: tx.update(jnp.zeros_like(w), s, w))
    for _ in range(100):
        u, state = step(w, state)
        w = optax.apply_updates(w, u)
    assert float(R.kappa_penalty(w)) < 0.5 * float(R.kappa_penalty(w0))


@pytest.mark.parametrize("J,C,T,d,near", [(6, 1, 12, 1, False), (6, 1, 12, 1, True),
                                          (5, 2, 8, 2, True)])
def test_certified_bounds_contain_the_dense_grid(J, C, T, d, near):
    """The l2(Z) bounds certified from an N = 4T grid hold against a 64x finer evaluation."""
    rng = np.random.default_rng(J * T + d)
    w = rng.standard_normal((J, C, T))
    if near:  # a nearly tight layer: the polyphase identity (tight) plus a little noise
        w *= 0.005
        for c in range(C):
            w[c * d + np.arange(d), c, np.arange(d)] += 1.0
    w = jnp.asarray(w)
    N = d * math.ceil(4 * T / d)
    A, B = strided.layer_frame_bounds(w, N, d)
    lo, hi = strided.certified_bounds(A, B, T, N, jnp.float64)
    Ad, Bd = strided.layer_frame_bounds(w, 64 * N, d)
    assert float(lo) <= float(Ad) and float(hi) >= float(Bd)
    assert (float(lo) > 0.9 * float(Ad)) if near else float(lo) >= 0.0
    # not vacuous: the slack is a fraction of the grid spread
    beta = math.pi ** 2 * (T - 1) ** 2 / (2 * N ** 2)
    assert float(hi - B) <= beta / (1 - beta) * float(B - A) / 2 * 1.001 + 1e-12
    with pytest.raises(InputError, match="too coarse"):
        strided.certified_bounds(A, B, T, T, None)
