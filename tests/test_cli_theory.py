"""Theory columns of ``rfbjax energy`` / ``rfbjax bounds`` and the ``rfbjax predict`` command."""

import json
import math

import pytest

from rfbjax.cli import main
from rfbjax.theory.predictor import kappa_tilde_paper, predict

THEORY_KEYS = {"q05_exact", "q95_exact", "alpha_exact", "alpha_cantelli", "alpha_chernoff",
               "alpha_bernstein", "alpha_mc"}


def test_energy_theory_columns(tmp_path, capsys):
    out = tmp_path / "e.json"
    rc = main(["energy", "impulse", "alternating", "brownian", "--J", "6", "--T", "8,32",
               "--N", "128", "--samples", "3000", "--p", "0.1", "--json", str(out)])
    assert rc == 0
    assert "a_exact" in capsys.readouterr().out
    rows = json.loads(out.read_text())["rows"]
    for r in rows:
        assert THEORY_KEYS <= set(r)
        # exact alpha is the exact (1 - p) quantile minus 1
        assert 0 < r["alpha_exact"] < r["q95_exact"] - 1  # p = 0.1: the 90 % quantile
        # every bound is above the exact deviation
        for m in ("cantelli", "chernoff", "bernstein"):
            assert r[f"alpha_{m}"] >= r["alpha_exact"] - 1e-9 and r[f"{m}_valid"]
    alt = [r for r in rows if r["signal"] == "alternating"]
    # alternating signal: E/||x||^2 = chi2_J / J exactly -> closed-form quantile; the Monte Carlo
    # quantile's standard error is sqrt(p (1 - p) / S) / density at the quantile
    from scipy import stats

    for r in alt:
        assert r["alpha_exact"] == pytest.approx(stats.chi2.ppf(0.9, 6) / 6 - 1, rel=1e-9)
        se = math.sqrt(0.9 * 0.1 / 3000) / (stats.chi2.pdf(stats.chi2.ppf(0.9, 6), 6) * 6)
        assert abs(r["alpha_mc"] - r["alpha_exact"]) < 4 * se


def test_bounds_prediction_columns(tmp_path):
    out = tmp_path / "b.json"
    rc = main(["bounds", "--J", "8,40", "--T", "16", "--N", "64", "--samples", "200", "--quiet",
               "--json", str(out)])
    assert rc == 0
    rows = json.loads(out.read_text())["rows"]
    for r in rows:
        p = predict(r["J"], r["T"], 64)
        assert r["pred_kappa"] == pytest.approx(p["E_kappa"])
        assert r["pred_A"] == pytest.approx(p["E_A"]) and r["pred_B"] == pytest.approx(p["E_B"])
        kt = kappa_tilde_paper(r["J"], r["T"])
        assert (r["kappa_tilde_paper"] is None) == math.isnan(kt)
    assert rows[0]["kappa_tilde_paper"] is None          # J = 8 <= 4 log 16
    assert rows[1]["kappa_tilde_paper"] == pytest.approx(kappa_tilde_paper(40, 16))


def test_predict_command(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["predict", "--J", "4,64", "--T", "8:64:log2", "--N", "4T", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "pred_kappa" in text and "kappa_tilde_paper" in text
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 8 and {r["N"] for r in rows} == {32, 64, 128, 256}
    assert main(["predict", "--J", "16", "--T", "32", "--N", "inf", "--quiet"]) == 0


@pytest.mark.parametrize("argv,msg", [
    (["predict", "--N", "4x"], "--N"),
    (["predict", "--N", "1"], "--N"),
    (["predict", "--J", "0"], "--J"),
    (["energy", "impulse", "--p", "1.5", "--samples", "10"], "--p"),
])
def test_theory_bad_input(argv, msg, capsys):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and msg in err and err.count("\n") == 1 and "Traceback" not in err

