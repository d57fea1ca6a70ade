"""The command line: output shape, JSON schema, and one clean error line (exit 2) for bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rfbjax.cli import main

ENERGY_KEYS = {"signal", "J", "T", "N", "mean_analytic", "var_analytic", "mean_mc", "var_mc",
               "se_var_mc", "q05", "q95"}
BOUNDS_KEYS = {"J", "T", "N", "mean_A", "mean_B", "mean_kappa", "se_A", "se_B", "se_kappa",
               "q05_kappa", "q95_kappa"}


def test_energy_json_and_table(tmp_path, capsys):
    out = tmp_path / "e.json"
    rc = main(["energy", "impulse", "alternating", "sine:3", "--J", "4", "--T", "8,16",
               "--N", "64", "--samples", "200", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "mean_exact" in text and "alternating" in text
    data = json.loads(out.read_text())
    assert data["command"] == "energy" and len(data["rows"]) == 6
    for row in data["rows"]:
        assert ENERGY_KEYS <= set(row)
        assert row["N"] == 64 and row["mean_analytic"] == pytest.approx(1.0)
    alt = [r for r in data["rows"] if r["signal"] == "alternating"]
    assert all(r["var_analytic"] == pytest.approx(2 / 4) for r in alt)


def test_energy_reports_folding(tmp_path, capsys):
    rc = main(["energy", "white", "--J", "3", "--T", "40", "--N", "16", "--samples", "50"])
    assert rc == 0
    assert "T > N" in capsys.readouterr().out


def test_bounds_json(tmp_path, capsys):
    out = tmp_path / "b.json"
    rc = main(["bounds", "--J", "5,40", "--T", "8", "--N", "64", "--samples", "300",
               "--json", str(out), "--quiet"])
    assert rc == 0
    assert capsys.readouterr().out == ""
    rows = json.loads(out.read_text())["rows"]
    assert [(r["J"], r["T"]) for r in rows] == [(5, 8), (40, 8)]
    for r in rows:
        assert BOUNDS_KEYS <= set(r)
        assert 0 < r["mean_A"] < 1 < r["mean_B"] and r["mean_kappa"] > r["mean_B"] / 1.0
        assert r["q05_kappa"] <= r["mean_kappa"] <= r["q95_kappa"] * 1.5


def test_bounds_linear_boundary(tmp_path):
    out = tmp_path / "b.json"
    assert main(["bounds", "--J", "10", "--T", "16", "--N", "inf", "--samples", "100",
                 "--json", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["rows"][0]["N"] is None


def test_range_syntax():
    from rfbjax.cli.common import parse_int_list

    assert parse_int_list("8:64:log2", "--T") == [8, 16, 32, 64]
    assert parse_int_list("8,16,...,128", "--T") == [8, 16, 32, 64, 128]
    assert parse_int_list("10,20,...,50", "--J") == [10, 20, 30, 40, 50]
    assert parse_int_list("4:10:3", "--J") == [4, 7, 10]


def _write_wav(path, x, sr=8000, subtype="PCM_16"):
    import soundfile as sf

    sf.write(str(path), x, sr, subtype=subtype)


def test_audio_file_signal(tmp_path):
    t = np.arange(4000) / 8000
    wav = tmp_path / "tone.wav"
    _write_wav(wav, 0.5 * np.sin(2 * np.pi * 200 * t))
    out = tmp_path / "e.json"
    assert main(["energy", f"{wav}@100:1000", "--J", "4", "--T", "8", "--samples", "50",
                 "--json", str(out), "--quiet"]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["N"] == 1000 and "tone.wav" in row["signal"]


BAD = [
    (["bounds", "--J", "0"], "--J"),
    (["bounds", "--T", "0"], "--T"),
    (["bounds", "--T", "8,,x"], "--T"),
    (["bounds", "--N", "1"], "--N"),
    (["bounds", "--samples", "1"], "--samples"),
    (["energy", "impulse", "--N", "1"], "--N"),
    (["energy", "sine:0"], "sine:0"),
    (["energy", "nosuchsignal"], "nosuchsignal"),
    (["energy", "/no/such/file.wav"], "file.wav"),
    (["energy", "impulse", "--T", "8:x"], "--T"),
    (["energy", "impulse", "--max-memory", "lots"], "--max-memory"),
]


@pytest.mark.parametrize("argv,needle", BAD)
def test_bad_input_one_line_exit_2(argv, needle, tmp_path, capsys):
    out = tmp_path / "never.json"
    try:
        rc = main(argv + ["--json", str(out), "--samples", "10"] if "--samples" not in argv
                  else argv + ["--json", str(out)])
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and needle in err[0], err
    assert not out.exists() and not any(tmp_path.iterdir())


@pytest.mark.parametrize("kind", ["nan", "zeros", "corrupt", "empty", "slice"])
def test_bad_audio_one_line_exit_2(kind, tmp_path, capsys):
    path = tmp_path / "x.wav"
    spec = str(path)
    if kind == "nan":
        x = np.ones(256) * 0.1
        x[10] = np.nan
        _write_wav(path, x, subtype="FLOAT")
    elif kind == "zeros":
        _write_wav(path, np.zeros(256))
    elif kind == "corrupt":
        path.write_bytes(os.urandom(300))
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        _write_wav(path, np.ones(256) * 0.1)
        spec = f"{path}@200:100"
    rc = main(["energy", spec, "--J", "2", "--T", "4", "--samples", "10"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "x.wav" in err[0], err


def test_entry_point_subprocess_no_traceback(tmp_path):
    """The installed console script and python -m: exit 2, one line, no traceback."""
    r = subprocess.run([sys.executable, "-m", "rfbjax", "bounds", "--J", "-3"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
