"""Monte Carlo driver: determinism, chunk-size invariance, and agreement with formula (3)."""

import numpy as np
import jax
import jax.numpy as jnp
import pytest

from rfbjax.engine import montecarlo as mc
from rfbjax.engine.measure import sample_bounds, sample_energy, signal_lags
from rfbjax.kernels.energy import energy_moments


def _signals(N):
    impulse = np.zeros(N)
    impulse[0] = 1.0
    alternating = (-1.0) ** np.arange(N) / np.sqrt(N)
    walk = np.cumsum(np.random.default_rng(5).standard_normal(N))
    return [impulse, alternating, walk / np.linalg.norm(walk)]


def test_same_seed_same_numbers_for_any_chunk_size():
    xs = _signals(64)
    a = sample_energy(xs, 4, 16, 300, seed=7)
    b = sample_energy(xs, 4, 16, 300, seed=7, max_memory=20_000)  # many small chunks
    c = sample_energy(xs, 4, 16, 299, seed=7, max_memory=5_000)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[:299], c)
    d = sample_energy(xs, 4, 16, 300, seed=8)
    assert not np.array_equal(a, d)


def test_bounds_chunk_invariance_and_shared_draws():
    big = sample_bounds(5, 12, 64, 257, seed=3)
    small = sample_bounds(5, 12, 64, 257, seed=3, max_memory=10_000)
    for k in ("A", "B", "kappa"):
        np.testing.assert_array_equal(big[k], small[k])


def test_plan_respects_memory_and_block_is_budget_independent():
    p1 = mc.plan_chunks(10_000, 50_000, 8, 2 * 1024 ** 3, 1)
    p2 = mc.plan_chunks(10_000, 50_000, 8, 100_000, 1)
    assert p1.block == p2.block
    assert p2.chunk == p2.block  # the smallest unit
    assert p1.n_chunks * p1.chunk >= 10_000 and p2.n_chunks * p2.chunk >= 10_000
    p4 = mc.plan_chunks(10_000, 50_000, 8, 2 * 1024 ** 3, 4)
    assert p4.block == p1.block and p4.chunk % (4 * p4.block) == 0


@pytest.mark.parametrize("J,T", [(10, 8), (10, 64), (3, 40)])
def test_moments_agree_with_monte_carlo(J, T):
    """Mean within 4 s.e. of the mean, variance within 4 s.e. of the sample variance."""
    N = 128
    xs = _signals(N)
    S = 4000
    E = sample_energy(xs, J, T, S, seed=11, dtype=jnp.float64)
    R = signal_lags(xs, T)
    mean, var = energy_moments(jnp.asarray(R), J, T)
    for m in range(len(xs)):
        s = mc.summarize(E[:, m])
        assert abs(s.mean - float(mean[m])) < 4 * s.se, (m, s.mean, float(mean[m]), s.se)
        assert abs(s.var - float(var[m])) < 4 * s.se_var, (m, s.var, float(var[m]), s.se_var)


def test_known_variances_from_planning():
    # docs/theory.md §3: impulse J=10,T=8 -> 0.025; alternating -> 0.200 (= 2/J)
    R = signal_lags(_signals(256)[:2], 8)
    _, var = energy_moments(jnp.asarray(R), 10, 8)
    np.testing.assert_allclose(np.asarray(var), [2 / 80, 2 / 10], rtol=1e-12)


def test_summary_statistics():
    x = np.random.default_rng(0).standard_normal(10_000)
    s = mc.summarize(x, (0.5,))
    assert s.n == 10_000 and abs(s.mean) < 4 * s.se
    assert s.se == pytest.approx(s.std / 100)
    # variance of N(0,1) is 1, its s.e. is about sqrt(2/n)
    assert s.se_var == pytest.approx(np.sqrt(2 / 10_000), rel=0.1)
    assert abs(s.var - 1) < 4 * s.se_var
    k = mc.summarize(np.array([1.0, np.inf, 2.0]))
    assert k.n_inf == 1 and np.isinf(k.mean)


def test_stream_key_is_stable():
    k1 = mc.stream_key(0, "filterbank", "gaussian", 10, 8)
    k2 = mc.stream_key(0, "filterbank", "gaussian", 10, 8)
    k3 = mc.stream_key(0, "filterbank", "gaussian", 10, 16)
    assert np.array_equal(jax.random.key_data(k1), jax.random.key_data(k2))
    assert not np.array_equal(jax.random.key_data(k1), jax.random.key_data(k3))


def test_host_threefry_matches_jax_fold_in():
    """The NumPy threefry that derives stream keys gives jax.random.fold_in's words exactly."""
    from rfbjax.engine.seeds import fold_in_words, seed_words

    rng = np.random.default_rng(4)
    keys = rng.integers(0, 2 ** 32, size=(40, 2), dtype=np.uint64).astype(np.uint32)
    data = [0, 1, 2 ** 31 - 1, 2 ** 32 - 1] + [int(d) for d in rng.integers(0, 2 ** 32, 36)]
    fold = jax.jit(jax.vmap(jax.random.fold_in))
    ref = np.asarray(fold(keys, np.array(data, dtype=np.uint32)))
    ours = np.stack([fold_in_words(k, d) for k, d in zip(keys, data)])
    np.testing.assert_array_equal(ours, ref)
    for seed in (0, 7, 2 ** 32 + 5, 2 ** 64 - 1):   # the seed's words are PRNGKey's (x64 rules)
        assert seed_words(seed).tolist() == [seed >> 32, seed & 0xFFFFFFFF]
    with pytest.raises(ValueError):
        fold_in_words(keys[0], 2 ** 32)


def test_parse_memory():
    assert mc.parse_memory("2GB") == 2 * 1024 ** 3
    assert mc.parse_memory("512MiB") == 512 * 1024 ** 2
    assert mc.parse_memory("1000") == 1000
    with pytest.raises(ValueError):
        mc.parse_memory("lots")
