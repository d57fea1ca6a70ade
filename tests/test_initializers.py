"""Initialisers: tap laws, rescaling, tags; --init / --stride through bounds, energy and sweep."""

import json

import chex
import numpy as np
import jax
import jax.numpy as jnp
import pytest

from rfbjax.kernels import initializers as inits
from rfbjax.cli import main
from rfbjax.errors import InputError
from rfbjax.kernels.filters import gaussian_filterbank
from rfbjax.engine.measure import sample_bounds

KEY = jax.random.PRNGKey(11)


@pytest.mark.parametrize("name", [n for n in inits.NAMES if inits.get(n).kurtosis is not None])
def test_tap_variance_and_fourth_moment(name):
    J, T = 64, 256
    w = np.asarray(inits.draw(name, KEY, J, T, dtype=jnp.float64))
    info = inits.describe(name, J, T)
    assert w.shape == (J, T) and info["filter_length"] == T
    var = np.mean(w * w)
    assert var == pytest.approx(info["tap_variance"], rel=0.04)
    assert np.mean(w ** 4) / var ** 2 == pytest.approx(info["kurtosis"], abs=0.12)
    assert abs(np.mean(w)) < 4 * np.sqrt(var / w.size)


def test_framework_variances():
    J, T = 40, 64
    assert inits.tap_variance("pytorch", J, T) == pytest.approx(1 / (3 * T))
    assert inits.tap_variance("glorot_normal", J, T) == pytest.approx(2 / (T + J * T))
    assert inits.tap_variance("glorot_uniform", J, T) == pytest.approx(2 / (T + J * T))
    assert inits.tap_variance("he_normal", J, T) == pytest.approx(2 / T)
    for name in ("gaussian", "rademacher"):
        assert inits.tap_variance(name, J, T, stride=4) == pytest.approx(4 / (J * T))
    for name in inits.NAMES:
        if name != "tight":
            assert inits.tap_variance(name, J, T, stride=2, rescale=True) == \
                pytest.approx(2 / (J * T))
    assert inits.describe("pytorch", J, T)["energy_gain"] == pytest.approx(J / 3)


def test_rescale_multiplies_the_same_draw():
    a = inits.draw("he_normal", KEY, 8, 16, dtype=jnp.float64)
    b = inits.draw("he_normal", KEY, 8, 16, dtype=jnp.float64, stride=2, rescale=True)
    chex.assert_trees_all_close(b, a * np.sqrt((2 / (8 * 16)) / (2 / 16)), rtol=1e-14)


def test_gaussian_is_the_original_sampler():
    chex.assert_trees_all_equal(
        (inits.draw("gaussian", KEY, 5, 7), inits.draw("gaussian", KEY, 5, 7, stride=3)),
        (gaussian_filterbank(KEY, 5, 7), gaussian_filterbank(KEY, 5, 7, scale=3.0)))


def test_tight_draw_checks_its_shapes_at_trace_time():
    # J < stride: no stride-d filterbank of J filters is a frame (validate() says so in one line)
    with pytest.raises(AssertionError, match="canonical_tight: needs J >= stride 4"):
        jax.jit(lambda k: inits.draw("tight", k, 3, 5, N=16, stride=4)).lower(KEY)


def test_tight_is_n_taps_and_kappa_one():
    g = inits.draw("tight", KEY, 6, 5, dtype=jnp.float64, N=24, stride=2)
    assert g.shape == (6, 24)
    out = sample_bounds(6, 5, 24, 20, init="tight", stride=2, dtype=jnp.float64)
    np.testing.assert_allclose(out["kappa"], 1.0, atol=1e-10)
    assert inits.describe("tight", 6, 5, N=24)["filter_length"] == 24


def test_single_tap_filterbanks_are_tight_for_every_init():
    for name in ("gaussian", "pytorch", "rademacher"):
        out = sample_bounds(5, 1, 16, 20, init=name, dtype=jnp.float64)
        np.testing.assert_allclose(out["kappa"], 1.0, rtol=1e-12)


def test_validation():
    with pytest.raises(InputError, match="unknown initialiser"):
        inits.get("orthogonal")
    with pytest.raises(InputError, match="circular"):
        inits.validate("tight", 8, N=None)
    with pytest.raises(InputError, match="J >= stride"):
        inits.validate("tight", 3, stride=4, N=32)


def test_bounds_cli_with_stride_and_init(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["bounds", "--J", "6", "--T", "8", "--N", "32", "--stride", "2", "--init",
                 "pytorch", "--samples", "100", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "pred_* / kappa_tilde_paper" in text
    data = json.loads(out.read_text())
    assert data["config"]["stride"] == 2 and data["config"]["init"] == "pytorch"
    row = data["rows"][0]
    assert row["init"] == "pytorch" and row["stride"] == 2 and row["pred_kappa"] is None
    assert 0 < row["mean_A"] < row["mean_B"]
    out2 = tmp_path / "g.json"
    assert main(["bounds", "--J", "6", "--T", "8", "--N", "32", "--init", "he_normal",
                 "--samples", "100", "--json", str(out2), "--quiet"]) == 0
    row = json.loads(out2.read_text())["rows"][0]
    assert row["pred_kappa"] is not None and row["pred_A"] > 1   # scaled by sigma^2 J T = 2J


def test_energy_cli_with_stride_and_init(tmp_path, capsys):
    out = tmp_path / "e.json"
    assert main(["energy", "impulse", "alternating", "--J", "4", "--T", "8", "--N", "32",
                 "--stride", "2", "--init", "rademacher", "--samples", "300",
                 "--json", str(out)]) == 0
    assert "exact-law columns need Gaussian taps" in capsys.readouterr().out
    rows = json.loads(out.read_text())["rows"]
    imp = [r for r in rows if r["signal"] == "impulse"][0]
    assert imp["mean_analytic"] == pytest.approx(1.0)
    assert imp["var_analytic"] == pytest.approx(0.0, abs=1e-15)   # Rademacher on an impulse
    assert imp["exact_law"] is False and "alpha_exact" not in imp
    out2 = tmp_path / "h.json"
    assert main(["energy", "impulse", "--J", "4", "--T", "8", "--N", "32", "--init", "he_normal",
                 "--samples", "300", "--json", str(out2), "--quiet"]) == 0
    row = json.loads(out2.read_text())["rows"][0]
    assert row["mean_analytic"] == pytest.approx(8.0)          # J sigma^2 T = 2J
    assert row["exact_law"] is True and row["q95_exact"] > row["q05_exact"]


@pytest.mark.parametrize("argv,needle", [
    (["bounds", "--J", "4", "--T", "8", "--N", "30", "--stride", "4"], "does not divide"),
    (["bounds", "--J", "4", "--T", "8", "--stride", "2", "--N", "inf"], "integer --N"),
    (["bounds", "--J", "4", "--T", "8", "--init", "tight", "--N", "inf"], "integer --N"),
    (["bounds", "--J", "2", "--T", "8", "--N", "32", "--init", "tight", "--stride", "4"],
     "J >= stride"),
    (["energy", "white", "--N", "30", "--J", "4", "--T", "8", "--stride", "4"], "does not divide"),
    (["energy", "white", "--N", "32", "--J", "4", "--T", "8", "--init", "tight",
      "--boundary", "linear"], "circular"),
])
def test_bad_settings_one_line_exit_2(argv, needle, capsys):
    assert main(argv + ["--samples", "10", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_sweep_config_records_stride_and_init(tmp_path, capsys):
    out = tmp_path / "sw"
    base = ["sweep", "--J", "4", "--T", "8", "--samples", "50", "--N", "4T", "--quiet",
            "--out", str(out)]
    assert main(base + ["--stride", "2", "--init", "pytorch"]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["stride"] == 2 and cfg["init"] == "pytorch" and "rescale" not in cfg
    assert main(base + ["--stride", "2", "--init", "pytorch"]) == 0   # resumes
    assert main(base + ["--init", "pytorch"]) == 2                    # other stride: refused
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "stride" in err[0]
    assert main(["sweep", "--J", "4", "--T", "8", "--samples", "50", "--N", "30", "--stride",
                 "4", "--quiet", "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()
