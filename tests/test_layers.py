"""rfbjax.layers: the Equinox and Flax NNX Parseval conv1d modules against a direct strided
circular cross-correlation (tests/reference.py), the energy identity, training through them, and
what `rfbjax audit` makes of a saved state."""

from __future__ import annotations

import numpy as np
import jax
import jax.numpy as jnp
import pytest

eqx = pytest.importorskip("equinox")
nnx = pytest.importorskip("flax.nnx")
optax = pytest.importorskip("optax")

from rfbjax.errors import InputError  # noqa: E402
from rfbjax.kernels.parseval import parseval_kernel  # noqa: E402
from rfbjax.layers import equinox as leqx  # noqa: E402
from rfbjax.layers import flax as lflax  # noqa: E402
from reference import layer_analysis_matrix, strided_circular_xcorr  # noqa: E402

C, J, T, D, L = 2, 7, 9, 3, 24          # J >= C*D = 6, D | T, D | L; K = 3 tap blocks
EPS32 = float(np.finfo(np.float32).eps)


def kappa_explicit(w, N, d):
    """kappa = B/A of the layer from the explicit float64 frame operator Phi^T Phi."""
    Phi = layer_analysis_matrix(np.asarray(w, np.float64), N, d)
    lam = np.linalg.eigvalsh(Phi.T @ Phi)
    return lam[-1] / lam[0], lam


def test_outputs_equal_the_direct_strided_circular_cross_correlation():
    x = np.random.default_rng(0).standard_normal((C, L))
    me = leqx.ParsevalConv1d(C, J, T, D, dtype=jnp.float64, key=jax.random.key(1), gain=2.0)
    w = np.asarray(me.kernel())
    np.testing.assert_allclose(w, np.asarray(parseval_kernel(me.params)), atol=0)
    ref = strided_circular_xcorr(x, w, D)
    np.testing.assert_allclose(np.asarray(me(jnp.asarray(x))), ref, atol=1e-12)
    assert np.sum(ref ** 2) == pytest.approx(2.0 * np.sum(x ** 2), rel=1e-12)   # A = B = gain

    mf = lflax.ParsevalConv1d(C, J, (T,), (D,), param_dtype=jnp.float64, rngs=nnx.Rngs(2))
    wf = np.asarray(mf.kernel())
    xb = np.stack([x, x[:, ::-1]])                                  # (2, C, L)
    y = np.asarray(mf(jnp.asarray(np.swapaxes(xb, 1, 2))))          # channels last
    assert y.shape == (2, L // D, J)
    for b in range(2):
        np.testing.assert_allclose(y[b].T, strided_circular_xcorr(xb[b], wf, D), atol=1e-12)


def test_paddings_match_the_frameworks_own_conv_with_the_same_kernel():
    """Circular, VALID and SAME are the layouts of eqx.nn.Conv1d / nnx.Conv (no bias)."""
    x = jnp.asarray(np.random.default_rng(3).standard_normal((C, L)))
    for pad, eq_pad, mode in (("CIRCULAR", ((0, T - 1),), "CIRCULAR"), ("VALID", 0, "ZEROS"),
                              ("SAME", "SAME", "ZEROS")):
        m = leqx.ParsevalConv1d(C, J, T, D, padding=pad.lower(), dtype=jnp.float64,
                                key=jax.random.key(4))
        ref = eqx.nn.Conv1d(C, J, T, D, padding=eq_pad, padding_mode=mode, use_bias=False,
                            dtype=jnp.float64, key=jax.random.key(0))
        ref = eqx.tree_at(lambda c: c.weight, ref, m.kernel())
        np.testing.assert_allclose(np.asarray(m(x)), np.asarray(ref(x)), atol=1e-12)
    f = lflax.ParsevalConv1d(C, J, T, D, padding="SAME", param_dtype=jnp.float64,
                             rngs=nnx.Rngs(5))
    conv = nnx.Conv(C, J, (T,), (D,), padding="SAME", use_bias=False, param_dtype=jnp.float64,
                    rngs=nnx.Rngs(0))
    conv.kernel[...] = jnp.transpose(f.kernel(), (2, 1, 0))        # nnx layout (T, C, J)
    np.testing.assert_allclose(np.asarray(f(x.T)), np.asarray(conv(x.T)), atol=1e-12)


def test_energy_is_kept_exactly_under_circular_padding_and_bounded_under_zeros():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((8, C, L)).astype(np.float32)
    m = leqx.ParsevalConv1d(C, J, T, D, key=jax.random.key(7))     # float32
    y = np.asarray(jax.vmap(m)(jnp.asarray(x)), np.float64)
    ratio = np.sum(y ** 2, axis=(1, 2)) / np.sum(x.astype(np.float64) ** 2, axis=(1, 2))
    # float32 rounding: each output sums C*T products (relative error ~ eps sqrt(CT) each);
    # the kernel's own defect (kappa - 1, float32, K = 3) is below that
    np.testing.assert_allclose(ratio, 1.0, atol=4 * EPS32 * np.sqrt(C * T))
    # zeros: the outputs are some of those of the Parseval linear convolution, so never more
    # energy; VALID keeps the circular outputs whose window does not wrap, and loses the rest
    end = np.zeros((C, L), np.float32)
    end[:, -2:] = 1.0                                               # energy at the right end
    yc = np.asarray(m(jnp.asarray(end)), np.float64)
    for pad in ("VALID", "SAME"):
        mz = leqx.ParsevalConv1d(C, J, T, D, padding=pad, key=jax.random.key(7))
        yz = np.asarray(jax.vmap(mz)(jnp.asarray(x)), np.float64)
        assert np.all(np.sum(yz ** 2, axis=(1, 2))
                      <= np.sum(x.astype(np.float64) ** 2, axis=(1, 2)) * (1 + 1e-6))
        ye = np.asarray(mz(jnp.asarray(end)), np.float64)
        if pad == "VALID":
            np.testing.assert_allclose(ye, yc[:, :(L - T) // D + 1], atol=1e-6)
        assert np.sum(ye ** 2) < 0.9 * np.sum(end ** 2)


def test_training_through_the_modules_keeps_the_layer_parseval():
    rng = np.random.default_rng(8)
    x = jnp.asarray(rng.standard_normal((4, C, L)), jnp.float32)
    target = jnp.asarray(rng.standard_normal((4, J, L // D)), jnp.float32)
    opt = optax.adam(0.05)

    m = leqx.ParsevalConv1d(C, J, T, D, ranks=(2, 5), key=jax.random.key(9))
    loss_e = lambda m: jnp.mean((jax.vmap(m)(x) - target) ** 2)        # noqa: E731
    state = opt.init(m)

    @jax.jit
    def step_e(m, state):
        l, g = jax.value_and_grad(loss_e)(m)
        u, state = opt.update(g, state, m)
        return optax.apply_updates(m, u), state, l

    losses = []
    for _ in range(5):
        m, state, l = step_e(m, state)
        losses.append(float(l))
    assert losses[-1] < losses[0]
    assert m.ranks == (2, 5) and m.parseval_projectors.shape == (2, J, 5)
    k, lam = kappa_explicit(m.kernel(), L, D)
    assert k - 1 < 1e-5 and abs(lam[-1] - 1) < 1e-5                  # float32 kernel

    f = lflax.ParsevalConv1d(C, J, T, D, param_dtype=jnp.float64, rngs=nnx.Rngs(10))
    xl, tl = jnp.swapaxes(x, 1, 2).astype(jnp.float64), jnp.swapaxes(target, 1, 2)
    before = np.asarray(f.kernel())
    optimizer = nnx.Optimizer(f, opt, wrt=nnx.Param)

    @nnx.jit
    def step_f(f, optimizer):
        l, g = nnx.value_and_grad(lambda f: jnp.mean((f(xl) - tl) ** 2))(f)
        optimizer.update(f, g)
        return l

    fl = [float(step_f(f, optimizer)) for _ in range(5)]
    assert fl[-1] < fl[0] and not np.allclose(np.asarray(f.kernel()), before)
    k, lam = kappa_explicit(f.kernel(), L, D)
    assert k - 1 < 1e-12 and abs(lam[0] - 1) < 1e-12


@pytest.mark.parametrize("make,msg", [
    (lambda: leqx.ParsevalConv1d(2, 5, 9, 3, key=jax.random.key(0)), "nearest valid J=6"),
    (lambda: leqx.ParsevalConv1d(1, 4, 10, 4, key=jax.random.key(0)), "nearest valid T=12"),
    (lambda: leqx.ParsevalConv1d(1, 4, 8, 4, padding="reflect", key=jax.random.key(0)),
     "padding: must be one of CIRCULAR, VALID, SAME"),
    (lambda: leqx.ParsevalConv1d(1, 4, 8, (2, 2), key=jax.random.key(0)), "stride:"),
    (lambda: leqx.ParsevalConv1d(1, 4, 8, 4, key=jnp.zeros(3)), "key:"),
    (lambda: lflax.ParsevalConv1d(1, 4, 8, 4, param_dtype=jnp.int32, rngs=nnx.Rngs(0)), "dtype"),
    (lambda: leqx.ParsevalConv1d(1, 4, 8, 4, key=jax.random.key(0))(jnp.zeros((1, 30))),
     "nearest valid length 32"),
    (lambda: leqx.ParsevalConv1d(1, 4, 8, 4, key=jax.random.key(0))(jnp.zeros((2, 32))),
     "in_channels=1"),
    (lambda: leqx.ParsevalConv1d(1, 4, 8, 4, key=jax.random.key(0))(jnp.zeros(32)), "vmap"),
    (lambda: leqx.ParsevalConv1d(1, 4, 8, 4, padding="VALID", key=jax.random.key(0))(
        jnp.zeros((1, 4))), "shorter than the 8 taps"),
    (lambda: lflax.ParsevalConv1d(1, 4, 8, 4, rngs=nnx.Rngs(0))(jnp.zeros((2, 32, 3))),
     "in_channels=1"),
])
def test_bad_arguments_are_one_line_input_errors(make, msg):
    with pytest.raises(InputError) as e:
        make()
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_audit_of_a_saved_state_skips_the_free_parameters(tmp_path):
    """A state saved from the modules (npz from Equinox, safetensors from Flax NNX): the rank-3
    projector stack is not taken for a conv kernel, the plain conv after it is audited."""
    import rfbjax
    from safetensors.numpy import save_file

    front = leqx.ParsevalConv1d(1, 4, 8, 2, ranks=3, key=jax.random.key(11))
    back = eqx.nn.Conv1d(4, 3, 5, key=jax.random.key(12))
    model = (front, back)
    flat = {".".join(str(getattr(k, "name", getattr(k, "idx", k))) for k in path): np.asarray(v)
            for path, v in jax.tree_util.tree_flatten_with_path(model)[0]}
    assert flat["0.parseval_projectors"].shape == (3, 4, 3)         # rank 3: looks like a kernel
    np.savez(tmp_path / "eqx.npz", **flat)
    f = lflax.ParsevalConv1d(1, 4, 8, 2, rngs=nnx.Rngs(13))
    tensors = {".".join(map(str, k)): np.asarray(v)
               for k, v in nnx.to_flat_state(nnx.state(f, nnx.Param))}
    tensors["head.weight"] = np.asarray(back.weight)
    save_file(tensors, str(tmp_path / "flax.safetensors"))
    for name in ("eqx.npz", "flax.safetensors"):
        res = rfbjax.audit(str(tmp_path / name), stride=1, draws=0)
        assert [lay.name for lay in res] == ["1.weight" if name == "eqx.npz" else "head.weight"]
        assert any("parseval parameters skipped" in n and "rfbjax.parseval_kernel(params)" in n
                   for n in res.notes), res.notes
    # the kernel to audit
    res = rfbjax.audit(np.asarray(front.kernel()), stride=2, draws=0)
    assert res.kappa == pytest.approx(1.0, abs=1e-5)


def test_the_guide_example_runs():
    """docs/guide/parseval.md's Python example, as written."""
    import os
    import re

    path = os.path.join(os.path.dirname(__file__), "..", "docs", "guide", "parseval.md")
    block, = re.findall(r"```python\n(.*?)```", open(path, encoding="utf-8").read(), re.S)
    exec(compile(block, "parseval.md", "exec"), {"__name__": "guide"})
