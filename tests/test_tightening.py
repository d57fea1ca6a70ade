"""tighten / tight_fir / rfbjax tighten: certified on l2(Z) (checked on a dense grid), refusals, CLI.

The calls share a few small shapes (J=6, T=16, stride 2, float32) so the solver compiles rarely."""

import json
import math

import numpy as np
import jax
import jax.numpy as jnp
import pytest

from rfbjax.kernels import strided
from rfbjax.remedies import initializers
from rfbjax.cli import main
from rfbjax.errors import InputError
from rfbjax.kernels.frames import condition_number
from rfbjax.remedies.tightening import certified_kappa, tighten

J, T, D, TARGET = 6, 16, 2, 1.05


def _dense_kappa(v, d):
    v = jnp.asarray(np.asarray(v, dtype=np.float64)).reshape(-1, J, 1, T)
    return np.asarray(condition_number(*strided.layer_frame_bounds(v, 256 * T, d)))


def test_tighten_is_certified_close_and_deterministic():
    w = np.random.default_rng(3).standard_normal((J, 1, T)).astype(np.float32)
    res = tighten(w, stride=D, target=TARGET)
    v = np.asarray(res.weights)
    assert v.shape == w.shape and v.dtype == np.float32
    assert bool(res.converged) and float(res.kappa_after) <= TARGET
    assert float(res.kappa_before) > 1.5
    dense = float(_dense_kappa(v, D)[0])
    assert dense <= float(res.kappa_after) * (1 + 1e-5)       # the certificate holds off the grid
    assert dense > 1.0
    # weights carry the best scale: distance = ||v - w|| / ||w|| and <v - w, v> = 0
    assert float(res.distance) == pytest.approx(np.linalg.norm(v - w) / np.linalg.norm(w), rel=1e-4)
    assert abs(np.vdot(v - w, v)) < 1e-4 * np.vdot(v, v)
    assert 0 < float(res.distance) < 0.5
    again = tighten(w, stride=D, target=TARGET)
    np.testing.assert_array_equal(np.asarray(again.weights), v)
    # the in-loop certificate on the check grid agrees that the target is met
    assert float(certified_kappa(jnp.asarray(v), res.N_fine, D)) <= TARGET


def test_impossible_requests_are_refused():
    w = np.ones((3, 2, T), np.float32)
    with pytest.raises(InputError, match="no such layer is a frame"):
        tighten(w, stride=2)
    with pytest.raises(InputError, match="target"):
        tighten(np.ones((6, T), np.float32), target=1.0)
    with pytest.raises(InputError, match="too coarse"):
        tighten(np.ones((6, T), np.float32), N=T)
    with pytest.raises(InputError, match="zeros"):
        tighten(np.zeros((6, T), np.float32))
    bad = np.ones((6, T), np.float32)
    bad[2, 3] = np.nan
    with pytest.raises(InputError, match="NaN or Inf"):
        tighten(bad)
    with pytest.raises(InputError, match="need a kernel of shape"):
        tighten(np.ones(T, np.float32))


def test_tight_fir_initialiser():
    key = jax.random.PRNGKey(5)
    v, res = initializers.tight_fir(key, J, T, stride=D, target=TARGET, return_result=True)
    assert v.shape == (J, T) and float(res.kappa_after) <= TARGET
    assert float(jnp.sum(v ** 2)) / D == pytest.approx(1.0, rel=1e-5)       # mean gain c = 1
    assert float(_dense_kappa(v, D)[0]) <= TARGET
    flax_init = initializers.tight_fir_init(stride=D, target=TARGET, layout="flax")
    k = flax_init(key, (T, 1, J))
    np.testing.assert_allclose(np.asarray(k)[:, 0, :].T, v, rtol=1e-6)


def test_cli_tighten(tmp_path, capsys):
    w = np.random.default_rng(3).standard_normal((J, 1, T)).astype(np.float32)
    src = tmp_path / "w.npz"
    np.savez(src, kernel=w, other=w)
    out = tmp_path / "t.npy"
    rc = main(["tighten", str(src), "--key", "kernel", "--out", str(out), "--stride", str(D),
               "--target", str(TARGET)])
    assert rc == 0
    v = np.load(out)
    assert v.shape == w.shape
    np.testing.assert_array_equal(v, np.asarray(tighten(w, stride=D, target=TARGET).weights))
    meta = json.loads((tmp_path / "t.json").read_text())
    assert meta["kappa_after"] <= TARGET and meta["converged"] is True and meta["steps"] > 0
    assert "kappa" in capsys.readouterr().out
    # never overwrites; bad values are one line and exit status 2
    assert main(["tighten", str(src), "--key", "kernel", "--out", str(out)]) == 2
    assert main(["tighten", str(src), "--out", str(tmp_path / "x.npy")]) == 2        # key needed
    assert main(["tighten", str(src), "--key", "kernel", "--out", str(tmp_path / "y.npy"),
                 "--target", "0.9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and "Traceback" not in err
    assert not (tmp_path / "y.npy").exists() and not (tmp_path / "x.npy").exists()
    assert math.isfinite(meta["distance"])


def test_cli_batch_of_layers(tmp_path):
    """--batch: a (B, J, 1, T) .npy is B single-channel layers (the same numbers as one library
    call); without it the same array is one Conv2d-as-conv1d kernel (J=B, C=J), as audit reads it."""
    w = np.random.default_rng(4).standard_normal((2, J, 1, T)).astype(np.float32)
    src = tmp_path / "layers.npy"
    np.save(src, w)
    out = tmp_path / "t.npy"
    assert main(["tighten", str(src), "--batch", "--out", str(out), "--stride", str(D),
                 "--target", str(TARGET), "--quiet"]) == 0
    v = np.load(out)
    assert v.shape == w.shape
    np.testing.assert_array_equal(v, np.asarray(tighten(w, stride=D, target=TARGET).weights))
    meta = json.loads((tmp_path / "t.json").read_text())
    assert len(meta["kappa_after"]) == 2 and max(meta["kappa_after"]) <= TARGET
    # without --batch: one kernel (J=2 outputs, C=J inputs) -> J < C·D, refused in one line
    assert main(["tighten", str(src), "--out", str(tmp_path / "u.npy"), "--quiet"]) == 2


def test_cli_batch_missing_key_is_one_line(tmp_path, capsys):
    src = tmp_path / "layers.npz"
    np.savez(src, a=np.ones((2, 3, 1, 8), np.float32))
    assert main(["tighten", str(src), "--batch", "--key", "nope", "--out",
                 str(tmp_path / "t.npy")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope" in err and "Traceback" not in err
    assert not (tmp_path / "t.npy").exists()


def test_a_call_compiles_only_the_solver_programs(caplog):
    """The checks and shape work run on the host or inside the solver's programs: a new shape
    compiles three programs (checks and unit norms, L-BFGS, bisection and certificate), at most
    four with the κ finish — not dozens of one-operation programs."""
    import logging

    w = np.random.default_rng(11).standard_normal((3, J, 1, T)).astype(np.float32)  # new shape
    with caplog.at_level(logging.WARNING), jax.log_compiles():
        res = tighten(w, stride=D, target=TARGET)
    # XLA compilations (a program exported for the cache is lowered twice, compiled once)
    names = [r.getMessage().split(" in ")[0] for r in caplog.records
             if r.getMessage().startswith("Finished XLA compilation")]
    assert 3 <= len(names) <= 4, names
    assert bool(np.all(res.converged)) and res.weights.shape == w.shape


def test_reloaded_programs_give_the_same_weights(tmp_path, monkeypatch):
    """With the export cache on, tighten's programs are exported, then reloaded by a fresh
    process (here: the in-process programs forgotten) instead of traced; the weights are
    bit-identical to those of the cache off."""
    import os

    from rfbjax.engine import compile_cache
    from rfbjax.remedies import tightening

    w = np.random.default_rng(5).standard_normal((J, 1, T)).astype(np.float32)
    monkeypatch.setattr(tightening, "_PROGRAMS", {})
    off = tighten(w, stride=D, target=TARGET)
    d = tmp_path / "cache"
    (d / "exported").mkdir(parents=True)
    monkeypatch.setattr(compile_cache, "_state", {"enabled": True, "dir": str(d), "owned": True})
    for _ in range(2):                  # exported and stored, then reloaded
        monkeypatch.setattr(tightening, "_PROGRAMS", {})
        on = tighten(w, stride=D, target=TARGET)
        np.testing.assert_array_equal(np.asarray(on.weights), np.asarray(off.weights))
        assert int(on.steps) == int(off.steps)
    assert len([n for n in os.listdir(d / "exported") if n.endswith(".jaxexport")]) >= 3
