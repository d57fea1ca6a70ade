"""The Python API (rfbjax.api and the lazy top-level names): results, validation, doctests."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import jax
import jax.numpy as jnp

import rfbjax
from rfbjax import InputError, api

import reference as ref

RNG = np.random.default_rng(18)


# ----------------------------------------------------------------------------- frame bounds
LFB = jax.jit(rfbjax.layer_frame_bounds, static_argnames=("N", "stride"))   # one compile a shape


@pytest.mark.parametrize("shape,N,d,dtype", [((4, 5), 12, 3, np.float64),
                                             ((5, 2, 4), 8, 2, np.float32),
                                             ((3, 2, 5), 12, 1, np.float64),
                                             ((2, 3, 4), 8, 2, np.float64),
                                             ((5, 1, 4), 8, 2, np.float32)])
def test_layer_bounds_match_explicit_matrix(shape, N, d, dtype):
    w = RNG.standard_normal(shape)
    w3 = w if w.ndim == 3 else w[:, None, :]
    A_ref, B_ref = ref.layer_frame_bounds_explicit(w3, N, d)
    rtol = 1e-9 if dtype == np.float64 else 2e-4
    A, B = LFB(w.astype(dtype), N=N, stride=d)
    assert A.dtype == B.dtype == dtype and A.shape == B.shape == ()
    assert float(B) == pytest.approx(B_ref, rel=rtol)
    if A_ref < 1e-8 * B_ref:   # J < C d or a dead frequency: exactly 0
        assert float(A) == 0.0
    else:
        assert float(A) == pytest.approx(A_ref, rel=10 * rtol)


def test_batch_axes_and_vmap_agree():
    w = RNG.standard_normal((2, 3, 4, 2, 5))          # (batch..., J, C, T)
    A, B = LFB(w, N=12, stride=2)
    assert A.shape == B.shape == (2, 3)
    for i in range(2):
        for k in range(3):
            A_ref, B_ref = ref.layer_frame_bounds_explicit(w[i, k], 12, 2)
            assert float(A[i, k]) == pytest.approx(A_ref, rel=1e-8)
            assert float(B[i, k]) == pytest.approx(B_ref, rel=1e-9)
    Av, Bv = jax.vmap(lambda x: rfbjax.layer_frame_bounds(x, 12, 2))(w.reshape(6, 4, 2, 5))
    np.testing.assert_allclose(np.asarray(Av).reshape(2, 3), A, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(Bv).reshape(2, 3), B, rtol=1e-10)
    kappa = rfbjax.FrameBounds(A, B).kappa
    np.testing.assert_allclose(kappa, B / A, rtol=1e-12)


def test_gradient_matches_finite_differences():
    w = RNG.standard_normal((4, 2, 3))    # C = 2, stride 2: the polyphase route
    f = jax.jit(lambda v: jnp.stack(rfbjax.layer_frame_bounds(v, 8, 2)))
    g = np.asarray(jax.jit(jax.jacrev(f))(jnp.asarray(w)))        # (2, J, C, T): dA, dB
    h = 1e-6
    fd = np.zeros_like(g)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = h
        fd[(slice(None),) + idx] = (np.asarray(f(w + e)) - np.asarray(f(w - e))) / (2 * h)
    assert np.all(np.abs(fd) > 0)         # A > 0 here: a generic draw with J >= C d
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())


def test_l2z_and_default_grid():
    w = RNG.standard_normal((3, 6))
    A, B = LFB(w, N=math.inf)
    P = ref.power_response_dense(w, np.linspace(0, np.pi, 20001))
    # the optimum over continuous omega: within the dense grid's range, and no worse than it
    assert float(A) <= P.min() * (1 + 1e-12) and float(A) == pytest.approx(P.min(), rel=1e-6)
    assert float(B) >= P.max() * (1 - 1e-12) and float(B) == pytest.approx(P.max(), rel=1e-6)
    A3, B3 = LFB(w[:, None, :], N=math.inf)
    assert (float(A3), float(B3)) == (float(A), float(B))           # a C = 1 layer: the same
    N0 = rfbjax.default_grid(6, 2)
    assert N0 % 2 == 0 and N0 >= 1024
    np.testing.assert_array_equal(LFB(w, stride=2), LFB(w, N=N0, stride=2))


@pytest.mark.parametrize("w,kw,name", [
    (np.ones(5), {}, "w:"),
    (np.ones((3, 4), dtype=np.int32), {}, "w:"),
    (np.ones((3, 4), dtype=np.complex64), {}, "w:"),
    (np.ones((3, 0)), {}, "w:"),
    (np.ones((3, 4)), {"stride": 0}, "stride:"),
    (np.ones((3, 4)), {"stride": 1.5}, "stride:"),
    (np.ones((3, 4)), {"N": 10, "stride": 4}, "N:"),
    (np.ones((3, 4)), {"N": 1}, "N:"),
    (np.ones((3, 4)), {"N": "64x"}, "N:"),
    (np.ones((3, 2, 4)), {"N": math.inf}, "N:"),
    (np.ones((3, 4)), {"N": math.inf, "stride": 2}, "N:"),
])
def test_layer_bounds_validation(w, kw, name):
    with pytest.raises(InputError, match=f"^{name}") as info:
        rfbjax.layer_frame_bounds(w, **kw)
    assert isinstance(info.value, ValueError)


def test_validation_happens_before_tracing():
    """Shapes and static arguments are checked inside jit too, with the same one-line error."""
    f = jax.jit(rfbjax.layer_frame_bounds, static_argnames=("N", "stride"))
    with pytest.raises(InputError, match="^N: stride 3 does not divide N=8"):
        f(jnp.ones((2, 4)), N=8, stride=3)


# ----------------------------------------------------------------------------- drivers
def test_energy_and_bounds_results():
    x = RNG.standard_normal(32)
    r = rfbjax.energy_statistics({"noise": x}, 3, 4, samples=16, theory=False)
    assert len(r) == 1 and r["J"].tolist() == [3.0] and r["N"].tolist() == [32.0]
    np.testing.assert_allclose(r["mean_analytic"], 1.0)     # sigma^2 = 1/(JT): E = ||x||^2
    assert r.to_dict()["config"]["boundary"] == "circular" and r.rows[0]["signal"] == "noise"
    json.dumps(r.to_dict())
    b = rfbjax.bounds_statistics(3, 4, samples=16, stride=2)    # N=None: the default grid
    assert b["mean_kappa"].shape == (1,) and b.rows[0]["stride"] == 2
    assert b.config["N"] is None and b.rows[0]["N"] == rfbjax.default_grid(4, 2) == 1024
    with pytest.raises(InputError, match="^N: 16 differs"):
        rfbjax.energy_statistics(x, 3, 4, N=16)
    with pytest.raises(InputError, match="^stride: 5 does not divide"):
        rfbjax.energy_statistics(x, 3, 4, stride=5)
    with pytest.raises(InputError, match="^samples:"):
        rfbjax.bounds_statistics(3, 4, samples=1)
    with pytest.raises(InputError, match="^J:"):
        rfbjax.bounds_statistics([3, 0], 4)
    with pytest.raises(InputError, match="^stride:"):
        rfbjax.bounds_statistics(3, 4, math.inf, stride=2)
    with pytest.raises(InputError, match="^dtype:"):
        rfbjax.bounds_statistics(3, 4, dtype="int32")
    with pytest.raises(InputError, match="^p:"):
        rfbjax.energy_statistics(x, 3, 4, p=1.5)


def test_sweep_in_memory_equals_folder_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mem = rfbjax.sweep_bounds(3, 4, 16, samples=8)
    assert mem.path is None and os.listdir(tmp_path) == []
    folder = tmp_path / "sw"
    disk = rfbjax.sweep_bounds(3, 4, 16, samples=8, out=folder)
    assert (folder / "config.json").exists()
    for cell in [(3, 4)]:
        for a, b in zip(mem.samples[cell], disk.samples[cell]):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(mem["mean_kappa"], disk["mean_kappa"])
    with pytest.raises(InputError, match="different configuration"):
        rfbjax.sweep_bounds(3, 4, 16, samples=9, out=folder)


def test_fit_scaling_law_inputs_agree():
    # E[kappa] = 3 + log(J*(T)/J) with J*(T) = 4 log T: linear in log J, so the interpolated
    # crossing of kappa0 = 3 is exact (A = 1 and B = kappa in every sample)
    raw = {(J, T): (np.ones(4), np.full(4, 3 + math.log(4 * math.log(T) / J)))
           for J in (2, 4, 8, 16, 32) for T in (4, 8, 16, 32)}
    res = rfbjax.fit_scaling_law(raw, 3.0, bootstrap=0)
    law = res.laws[0]
    np.testing.assert_allclose(law.Jstar, [4 * math.log(T) for T in (4, 8, 16, 32)], rtol=1e-12)
    assert law.preferred == "log"     # J* = 4 log T is the log law exactly
    assert json.loads(json.dumps(res.to_dict(), default=str))["config"]["kappa"] == [3.0]
    with pytest.raises(InputError, match="^kappa:"):
        rfbjax.fit_scaling_law(raw, 0.5)
    with pytest.raises(InputError, match="^sweep: incomplete grid"):
        rfbjax.fit_scaling_law({k: v for k, v in raw.items() if k != (2, 4)}, 3.0)


def test_search_adversarial_certified_and_validated():
    w = RNG.standard_normal((3, 1, 8))             # a conv1d weight with one input channel
    res = rfbjax.search_adversarial("fixed", weights=w, N=32, restarts=4, steps=60)
    cert = res.certificate["value"]                # max of ||Phi x||^2/||x||^2: the bound B
    assert cert == pytest.approx(float(rfbjax.layer_frame_bounds(w, 32).B), rel=1e-5)
    assert 0.9 * cert < res.value <= cert * (1 + 1e-5)
    d = res.to_dict()
    assert d["objective"] == "fixed" and len(d["x"]) == 32
    json.dumps(d)
    with pytest.raises(InputError, match="^objective:"):
        rfbjax.search_adversarial("worst")
    with pytest.raises(InputError, match="^weights:"):
        rfbjax.search_adversarial("variance", weights=np.ones((2, 3)))
    with pytest.raises(InputError, match="^J: 5 contradicts"):
        rfbjax.search_adversarial("fixed", weights=np.ones((2, 3)), J=5)
    with pytest.raises(InputError, match="^weights: the array has shape"):
        rfbjax.search_adversarial("population", weights=np.ones((2, 3)))
    with pytest.raises(InputError, match="^N:"):
        rfbjax.search_adversarial(N=math.inf)
    with pytest.raises(InputError, match="^bands:"):
        rfbjax.search_adversarial(bands=[(0.3, 0.1)])


# ----------------------------------------------------------------------------- the package
def test_import_is_lazy_and_every_name_resolves():
    code = ("import sys, rfbjax; assert 'jax' not in sys.modules, 'jax imported eagerly'; "
            "import rfbjax.cli; rfbjax.cli.build_parser(); "
            "assert 'jax' not in sys.modules, 'the CLI parser imports jax'; "
            "from rfbjax import *; assert callable(layer_frame_bounds)")
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    assert set(rfbjax.__all__) <= set(dir(rfbjax))
    for name, module in rfbjax._EXPORTS.items():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue   # a capability merged from another branch: absent here
        assert callable(getattr(rfbjax, name)), name
        assert name in dir(rfbjax)
    with pytest.raises(AttributeError):
        rfbjax.no_such_name  # noqa: B018


def test_no_module_shadows_a_top_level_function():
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(rfbjax.__path__)}
    present = {name for name, module in rfbjax._EXPORTS.items()
               if importlib.util.find_spec(module) is not None}
    assert not modules & present


def _modules_with_examples() -> list[str]:
    root = os.path.dirname(rfbjax.__file__)
    found = []
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            if f.endswith(".py"):
                with open(os.path.join(dirpath, f), encoding="utf-8") as fh:
                    if ">>> " in fh.read():
                        rel = os.path.relpath(os.path.join(dirpath, f), os.path.dirname(root))
                        found.append(rel[:-3].replace(os.sep, ".").removesuffix(".__init__"))
    return sorted(found)


@pytest.mark.parametrize("module", _modules_with_examples())
def test_docstring_examples(module):
    """Every example in a docstring runs and prints what it says (doctest)."""
    mod = importlib.import_module(module)
    failed, tried = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failed == 0


def test_api_has_examples():
    assert "rfbjax.api" in _modules_with_examples()
