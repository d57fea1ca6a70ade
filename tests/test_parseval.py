"""Parseval by construction (rfbjax.kernels.parseval): tight for every parameter value, checked
against the explicit analysis matrix (tests/reference.py) and the polyphase bounds."""

from __future__ import annotations

import numpy as np
import jax
import jax.numpy as jnp
import optax
import pytest

from rfbjax.errors import InputError
from rfbjax.kernels import parseval as pv
from rfbjax.kernels.strided import layer_frame_bounds
from reference import circular_conv, layer_analysis_matrix, parseval_kernel_sequential

KEY = jnp.array([0, 26], jnp.uint32)


@pytest.mark.parametrize("J,C,T,d,N", [(6, 2, 6, 3, 12), (5, 1, 8, 2, 10), (4, 1, 5, 1, 7),
                                       (3, 1, 3, 3, 9)])
def test_explicit_analysis_matrix_is_an_isometry(J, C, T, d, N):
    p = pv.parseval_init(KEY, J, C, T, d, dtype=jnp.float64, gain=2.5)
    w = np.asarray(pv.parseval_kernel(p))
    assert w.shape == (J, C, T)
    Phi = layer_analysis_matrix(w, N, d)
    np.testing.assert_allclose(Phi.T @ Phi, 2.5 * np.eye(C * N), atol=1e-12)
    if T == d:   # one tap block: w[j, c, r] = sqrt(gain) Q[j, c d + r]
        Q = np.asarray(pv._orthonormal(p.isometry))
        np.testing.assert_allclose(w.reshape(J, C * d) / np.sqrt(2.5), Q, atol=1e-12)


def test_linear_convolution_preserves_energy():
    J, T, d = 5, 12, 3
    w = np.asarray(pv.parseval_kernel(pv.parseval_init(KEY, J, 1, T, d, dtype=jnp.float64)))
    x = np.random.default_rng(1).standard_normal(17)
    L = 17 + T - 1
    L += (-L) % d
    xp = np.concatenate([x, np.zeros(L - 17)])
    e = sum(np.sum(circular_conv(xp, w[j, 0])[::d] ** 2) for j in range(J))
    assert e == pytest.approx(np.sum(x * x), rel=1e-12)


def test_every_parameter_value_and_after_optimiser_steps():
    J, C, T, d, N = 6, 1, 12, 3, 24
    p = pv.parseval_init(KEY, J, C, T, d, dtype=jnp.float64, ranks=(1, 4, 5))
    rng = np.random.default_rng(2)
    q = jax.tree.map(lambda a: a + 0.7 * rng.standard_normal(a.shape), p)   # arbitrary values
    A, B = layer_frame_bounds(pv.parseval_kernel(q), N, d)
    assert float(A) == pytest.approx(1.0, abs=1e-12) and float(B) == pytest.approx(1.0, abs=1e-12)
    target = jnp.asarray(rng.standard_normal((J, C, T)))
    loss = lambda q: jnp.sum((pv.parseval_kernel(q) - target) ** 2)   # noqa: E731
    opt = optax.adam(0.1)
    state = opt.init(q)
    l0 = float(loss(q))
    step = jax.jit(lambda q, s: (lambda g: (lambda u, s2: (optax.apply_updates(q, u), s2))(
        *opt.update(g, s, q)))(jax.grad(loss)(q)))
    for _ in range(20):
        q, state = step(q, state)
    assert float(loss(q)) < l0
    A, B = layer_frame_bounds(pv.parseval_kernel(q), N, d)
    assert float(B / A) - 1 < 1e-12


def test_grad_matches_finite_differences_and_leaves_are_floats_only():
    p = pv.parseval_init(KEY, 4, 1, 6, 2, dtype=jnp.float64)
    assert len(jax.tree.leaves(p)) == 2
    c = jnp.asarray(np.random.default_rng(3).standard_normal((4, 1, 6)))
    f = lambda q: jnp.sum(pv.parseval_kernel(q) * c)   # noqa: E731
    g = jax.grad(f)(p)
    v = jax.tree.map(lambda a: jnp.asarray(np.random.default_rng(4).standard_normal(a.shape)), p)
    h = 1e-6
    fd = (f(jax.tree.map(lambda a, b: a + h * b, p, v))
          - f(jax.tree.map(lambda a, b: a - h * b, p, v))) / (2 * h)
    an = sum(jnp.sum(a * b) for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(v)))
    assert float(an) == pytest.approx(float(fd), rel=1e-6, abs=1e-9)


def test_vmap_jit_and_float32_rounding():
    keys = jnp.stack([jnp.array([1, s], jnp.uint32) for s in range(3)])
    ps = jax.vmap(lambda k: pv.parseval_init(k, 8, 1, 64, 4, dtype=jnp.float32))(keys)
    ws = jax.jit(jax.vmap(pv.parseval_kernel))(ps)
    assert ws.shape == (3, 8, 1, 64) and ws.dtype == jnp.float32
    A, B = layer_frame_bounds(ws.astype(jnp.float64), 128, 4)
    assert np.all(np.asarray(B / A) - 1 < 1e-5)
    one = pv.parseval_kernel(pv.parseval_init(keys[1], 8, 1, 64, 4, dtype=jnp.float32))
    np.testing.assert_allclose(ws[1], one, atol=1e-6)


def test_gram_defect_is_accurate_in_float32():
    U = pv._orthonormal(jax.random.normal(jax.random.PRNGKey(0), (2, 40, 12), jnp.float32))
    U64 = np.asarray(U, np.float64)
    exact = np.eye(12) - np.einsum("...ja,...jb->...ab", U64, U64)
    naive = np.eye(12) - np.asarray(jnp.einsum("...ja,...jb->...ab", U, U), np.float64)
    err = np.abs(np.asarray(pv.gram_defect(U), np.float64) - exact).max()
    assert err < 1e-9 < np.abs(naive - exact).max()


def test_rank_sets_the_expected_energy_profile():
    """E sum_k k ||H_k||^2 / (C d) = (K - 1) r / J for independent Haar projectors."""
    J, T, d, r, n = 6, 10, 1, 2, 400
    keys = jnp.stack([jnp.array([9, s], jnp.uint32) for s in range(n)])
    ws = jax.vmap(lambda k: pv.parseval_kernel(
        pv.parseval_init(k, J, 1, T, d, ranks=r, dtype=jnp.float64)))(keys)
    e = np.sum(np.asarray(ws) ** 2, axis=(1, 2))                        # (n, T) = (n, K)
    centre = e @ np.arange(T)
    se = centre.std(ddof=1) / np.sqrt(n)
    assert abs(centre.mean() - (T - 1) * r / J) < 4 * se


@pytest.mark.parametrize("args,msg", [
    ((3, 1, 8, 4), "J: 3 filters .* nearest valid J=4"),
    ((7, 2, 8, 4), "J: 7 filters .*C=2.* nearest valid J=8"),
    ((8, 1, 10, 4), "T: 10 taps .* nearest valid T=12"),
    ((8, 1, 2, 4), "nearest valid T=4"),
])
def test_bad_shapes_name_the_nearest_valid_value(args, msg):
    with pytest.raises(InputError, match=msg):
        pv.parseval_init(KEY, *args)


def test_bad_ranks_gain_dtype():
    with pytest.raises(InputError, match="ranks: each rank"):
        pv.parseval_init(KEY, 4, 1, 8, 2, ranks=4)
    with pytest.raises(InputError, match="ranks: need one rank per factor"):
        pv.parseval_init(KEY, 4, 1, 8, 2, ranks=(1, 2))
    with pytest.raises(InputError, match="gain"):
        pv.parseval_init(KEY, 4, 1, 8, 2, gain=0.0)
    with pytest.raises(InputError, match="dtype"):
        pv.parseval_init(KEY, 4, 1, 8, 2, dtype=jnp.float16)


def test_smooth_sailing_penalty_against_the_frame_operator_and_finite_differences():
    from rfbjax.remedies.regularizers import smooth_sailing_penalty
    from reference import layer_analysis_matrix as lam_

    J, C, T, d, N = 5, 2, 6, 2, 12
    w = np.random.default_rng(5).standard_normal((J, C, T))
    S = lam_(w, N, d).T @ lam_(w, N, d)
    ev = np.linalg.eigvalsh(S)
    ref = (ev.max() - ev.mean()) / ev.mean()
    f = lambda v: smooth_sailing_penalty(v, stride=d, N=N)   # noqa: E731
    assert float(f(jnp.asarray(w))) == pytest.approx(ref, rel=1e-10)
    assert float(f(3.0 * jnp.asarray(w))) == pytest.approx(ref, rel=1e-10)
    v = np.random.default_rng(6).standard_normal(w.shape)
    h = 1e-6
    fd = (float(f(jnp.asarray(w + h * v))) - float(f(jnp.asarray(w - h * v)))) / (2 * h)
    an = float(jnp.sum(jax.grad(f)(jnp.asarray(w)) * v))
    assert an == pytest.approx(fd, rel=1e-5)
    tight = pv.parseval_kernel(pv.parseval_init(KEY, J, C, T, d, dtype=jnp.float64))
    assert abs(float(f(tight))) < 1e-12
    from rfbjax.remedies.regularizers import penalize
    tx = penalize(smooth_sailing_penalty, 0.1, stride=d, N=N)
    u, _ = tx.update(jnp.zeros_like(jnp.asarray(w)), tx.init(jnp.asarray(w)), jnp.asarray(w))
    np.testing.assert_allclose(u, 0.1 * jax.grad(f)(jnp.asarray(w)), rtol=1e-12)


def test_monte_carlo_init_parseval_energy_and_bounds():
    from rfbjax.engine import measure

    rng = np.random.default_rng(7)
    sigs = [rng.standard_normal(48), np.cos(np.arange(48) * 0.3), rng.standard_normal(30)]
    for d, boundary in ((1, "circular"), (4, "circular"), (4, "linear")):
        s = sigs[:2] if boundary == "circular" else sigs
        e = measure.sample_energy(s, 8, 16, 6, init="parseval", stride=d, boundary=boundary,
                                  dtype=jnp.float32, seed=1)
        assert np.abs(e - 1).max() < 1e-5 and e.var(axis=0).max() < 1e-10
    b = measure.sample_bounds(8, 16, 48, 5, init="parseval", stride=4, dtype=jnp.float64)
    np.testing.assert_allclose(b["kappa"], 1.0, atol=1e-12)
    with pytest.raises(InputError, match="--init parseval: T: 18 .* nearest valid T=20"):
        measure.sample_bounds(8, 18, 48, 5, init="parseval", stride=4)


def test_parseval_initializer_mean_square_tap_is_exact():
    from rfbjax.kernels import initializers as inits

    w = np.asarray(inits.draw("parseval", KEY, 16, 32, stride=4, scale=2.0, dtype=jnp.float64))
    info = inits.describe("parseval", 16, 32, stride=4, scale=2.0)
    assert w.shape == (16, 32) and info["filter_length"] == 32
    assert np.mean(w * w) == pytest.approx(info["tap_variance"], rel=1e-12)
    assert info["energy_gain"] == pytest.approx(2.0)


@pytest.mark.parametrize("J,C,T,d,ranks", [(6, 2, 14, 2, (1, 5, 3, 2, 4, 1)), (5, 1, 23, 1, 2),
                                           (4, 1, 6, 3, None)])
def test_grouped_product_equals_the_sequential_factors(J, C, T, d, ranks):
    """The grouped, chunked product against the K - 1 factors one after another (float64),
    for K - 1 odd and even (padding), unequal ranks and non-orthonormal free matrices."""
    p = pv.parseval_init(KEY, J, C, T, d, ranks=ranks, dtype=jnp.float64, gain=2.0)
    k1, k2 = jax.random.split(jax.random.PRNGKey(5))
    p = pv.ParsevalParams(p.isometry + jax.random.normal(k1, p.isometry.shape, jnp.float64),
                          p.projectors + jax.random.normal(k2, p.projectors.shape, jnp.float64),
                          p.J, p.C, p.T, p.stride, p.ranks, p.gain)
    want = np.asarray(parseval_kernel_sequential(p))
    got = np.asarray(jax.jit(pv.parseval_kernel)(p))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
    assert np.abs(want[..., T // 2:]).max() > 1e-3             # the later chunks are reached
    loss = lambda f: lambda q: jnp.sum(jnp.sin(f(q)))           # noqa: E731
    gw = jax.jit(jax.grad(loss(parseval_kernel_sequential)))(p)
    gg = jax.jit(jax.grad(loss(pv.parseval_kernel)))(p)
    for a, b in zip(jax.tree.leaves(gg), jax.tree.leaves(gw)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-11)
