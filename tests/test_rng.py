"""The filterbank generator (rfbjax.kernels.rng) against a NumPy reference and the laws it claims."""

import math

import numpy as np
import jax
import jax.numpy as jnp
import pytest
from scipy import special, stats

from rfbjax.engine.seeds import threefry2x32
from rfbjax.kernels import rng

KEYS = np.array([[0, 0], [0, 7], [123456789, 987654321], [0xFFFFFFFF, 1]], dtype=np.uint32)


def _reference_bits(key, n):
    """Counter mode by hand: blocks (2^31 + c, 0), first words then second words."""
    half = (n + 1) // 2
    c = np.arange(half, dtype=np.uint32) + np.uint32(1 << 31)
    y0, y1 = threefry2x32(key, c, np.zeros(half, np.uint32))
    return np.concatenate([y0, y1])[:n]


@pytest.mark.parametrize("n", [1, 2, 7, 64])
def test_bits_match_the_numpy_cipher(n):
    draw = jax.jit(jax.vmap(lambda k: rng.bits(k, n)))
    got = np.asarray(draw(jnp.asarray(KEYS)))
    for key, row in zip(KEYS, got):
        np.testing.assert_array_equal(row, _reference_bits(key, n))


def test_blocks_differ_from_fold_in_and_split():
    """The counter's top bit keeps sample draws apart from the keys fold_in derives."""
    key = jnp.asarray(KEYS[2])
    words = set(np.asarray(rng.bits(key, 4096)).tolist())
    derived = np.concatenate([np.asarray(jax.random.fold_in(key, i)) for i in range(64)])
    assert not words & set(derived.tolist())


def test_normal_transform_matches_erfinv_in_float64():
    key = jnp.asarray(KEYS[1])
    z = np.asarray(rng.normal(key, (3, 50)), dtype=np.float64).ravel()
    m = (_reference_bits(KEYS[1], 150) >> 8).astype(np.float64)
    ref = math.sqrt(2.0) * special.erfinv((m - (2 ** 23 - 0.5)) / 2 ** 23)
    np.testing.assert_allclose(z, ref, rtol=2e-6, atol=2e-6)


def test_uniform_and_rademacher_match_the_reference():
    key = jnp.asarray(KEYS[3])
    b = _reference_bits(KEYS[3], 40)
    u = np.asarray(rng.uniform(key, (40,), minval=-2.0, maxval=3.0))
    np.testing.assert_allclose(u, -2.0 + 5.0 * ((b >> 8) + 0.5) / 2 ** 24, rtol=1e-6)
    r = np.asarray(rng.rademacher(key, (40,)))
    np.testing.assert_array_equal(r, 1 - 2 * (b >> 31).astype(np.int64))


def test_same_numbers_under_vmap_jit_and_alone():
    keys = jnp.asarray(KEYS)
    batched = np.asarray(jax.jit(jax.vmap(lambda k: rng.normal(k, (5, 9))))(keys))
    for i, key in enumerate(keys):
        np.testing.assert_array_equal(batched[i], np.asarray(rng.normal(key, (5, 9))))


def test_moments_of_the_normal_law():
    """Mean, variance and kurtosis of 2^20 draws within 4 standard errors of N(0, 1)'s."""
    keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(jnp.asarray(KEYS[2]), jnp.arange(64))
    z = np.asarray(jax.jit(jax.vmap(lambda k: rng.normal(k, (16384,))))(keys),
                   dtype=np.float64).ravel()
    n = z.size
    assert abs(z.mean()) < 4 / math.sqrt(n)
    assert abs(z.var() - 1.0) < 4 * math.sqrt(2.0 / n)
    assert abs(np.mean(z ** 4) - 3.0) < 4 * math.sqrt(96.0 / n)
    # Kolmogorov–Smirnov on a subsample, and no correlation between neighbouring samples' streams
    assert stats.kstest(z[:200_000], "norm").pvalue > 1e-3
    rows = z.reshape(64, 16384)
    r = np.corrcoef(rows[:-1].ravel(), rows[1:].ravel())[0, 1]
    assert abs(r) < 4 / math.sqrt(rows[1:].size)
    assert np.isfinite(z).all() and np.abs(z).max() < 5.7


def test_uniform_law_and_open_interval():
    z = np.asarray(rng.uniform(jnp.asarray(KEYS[0]), (200_000,)), dtype=np.float64)
    assert 0.0 < z.min() and z.max() < 1.0
    assert stats.kstest(z, "uniform").pvalue > 1e-3


def test_refuses_a_malformed_key():
    with pytest.raises(ValueError, match="uint32"):
        rng.normal(jnp.zeros(3, jnp.uint32), (4,))
