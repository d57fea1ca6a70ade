"""Stacks of strided conv1d layers (`rfbjax.kernels.cascade`) against the product of the explicit
analysis matrices of the layers (brute force, circular on Z_N), with and without ``jit`` (chex
variants)."""

import chex
import jax
import numpy as np
import pytest
from absl.testing import parameterized

import reference as ref
from rfbjax.kernels.cascade import cascade_bounds, composite_kernel
from rfbjax.errors import InputError

RNG = np.random.default_rng(77)


def layer_matrix(w, N, d):
    """(J*N/d) x (C*N): input ordered (channel, time), output (filter, kept sample)."""
    return np.hstack([ref.analysis_matrix(w[:, c, :], N, d) for c in range(w.shape[1])])


def stack_matrix(weights, strides, N):
    Phi, n = np.eye(weights[0].shape[1] * N), N
    for w, d in zip(weights, strides):
        Phi = layer_matrix(w, n, d) @ Phi
        n //= d
    return Phi


class CascadeTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(
        ("three_layers", [(4, 2, 3), (7, 4, 2), (9, 7, 3)], [1, 2, 3], 36),
        ("rank_deficient", [(3, 1, 7), (2, 3, 3)], [2, 2], 16),   # 2 outputs < 4 inputs per freq.
    )
    def test_cascade_matches_product_of_analysis_matrices(self, shapes, strides, N):
        ws = [RNG.standard_normal(s) for s in shapes]
        s = np.linalg.svd(stack_matrix(ws, strides, N), compute_uv=False)

        @self.variant
        def bounds_and_kernel(ws):
            return cascade_bounds(ws, strides, N), composite_kernel(ws, strides)

        with jax.enable_x64(True):
            (A, B), (h, D) = bounds_and_kernel(ws)
        D = int(D)   # a Python int, returned as an array under jit
        assert D == int(np.prod(strides))
        chex.assert_trees_all_close(B, s.max() ** 2, rtol=1e-10)
        J, C = shapes[-1][0], shapes[0][1]
        if J < C * D:
            assert float(A) == 0.0
        else:
            chex.assert_trees_all_close(A, s.min() ** 2, rtol=1e-8)
        # the composite is one strided layer: its own analysis matrix is the product
        chex.assert_trees_all_close(layer_matrix(np.asarray(h), N, D),
                                    stack_matrix(ws, strides, N), rtol=0, atol=1e-12)


def test_bad_stacks_are_refused():
    w1, w2 = np.ones((4, 1, 3)), np.ones((5, 3, 3))
    with pytest.raises(InputError, match="takes 3 input channels"):
        cascade_bounds([w1, w2], [2, 2], 16)
    with pytest.raises(InputError, match="multiple of the composite stride 4"):
        cascade_bounds([w1, np.ones((5, 4, 3))], [2, 2], 18)
