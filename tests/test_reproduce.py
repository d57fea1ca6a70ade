"""``rfbjax reproduce``: the quick run end to end, its numbers, re-runs, audio files, bad input.

The quick reproduction runs once (module fixture, about a minute on 2 cores); the other runs use
two filter lengths of the same grid and sample count, so they reuse its compilations.
"""

import json
import math
import os
import re

import numpy as np
import pytest

from rfbjax.studies import reproduce as rp
from rfbjax.report.audio import write_wav
from rfbjax.cli import main
from rfbjax.report.plots import paper

TINY = ["--T", "8,16", "--quiet"]
FIGURES = [name for name, _ in paper.FIGURES]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick") / "out"   # does not exist yet: reproduce creates it
    assert main(["reproduce", "--out", str(out), "--quiet"]) == 0
    with open(out / "results.json") as f:
        results = json.load(f)
    return out, results


def _walk(obj, path=()):
    """Yield (path, value) for every leaf of a JSON tree."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, path + (i,))
    else:
        yield path, obj


def _hidden(folder):
    """Hidden leftovers (temporary files); the manifest of what reproduce wrote is expected."""
    return [p for p in os.listdir(folder) if p.startswith(".") and p != ".rfbjax-manifest.json"]


def test_quick_writes_report_results_and_figures(quick):
    out, results = quick
    assert sorted(os.listdir(out)) == [".rfbjax-manifest.json", "figures", "report.md",
                                       "results.json"]
    assert sorted(os.listdir(out / "figures")) == sorted(f"{n}.png" for n in FIGURES)
    assert results["config"] == rp.QUICK.to_json()
    assert results["config"]["samples"] == 200 and results["seed"] == 0
    assert {"python", "jax", "jaxlib", "numpy", "optax", "rfbjax"} <= set(results["versions"])
    labels = [s["label"] for s in results["signals"]]
    assert labels == ["impulse", "brownian", "alternating", "snare", "vowel", "flute"]
    assert len(results["theory_check"]["rows"]) == 6 * 8
    assert [c["J"] for c in results["bounds"]["curves"]] == [5, 10, 40]

    report = (out / "report.md").read_text()
    pos = [report.index(f"](figures/{n}.png)") for n in FIGURES]
    assert pos == sorted(pos)                       # figures in reading order
    for heading in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6.", "## Configuration"):
        assert heading in report
    for key in ("jax", "jaxlib", "numpy", "optax", "rfbjax", "python"):
        cells = rf"\|\s*{re.escape(key)}\s*\|\s*{re.escape(results['versions'][key])}\s*\|"
        assert re.search(cells, report), key          # columns are padded to align
    assert "seed **0**" in report


def test_every_number_is_finite(quick):
    """Every number is finite; null only where NULLABLE documents it (the paper's kappa-tilde)."""
    _, results = quick
    assert set(results["nullable"]) == {"kappa_tilde"}
    numbers, nulls = 0, []
    for path, v in _walk(results):
        if v is None:
            nulls.append(path)
        elif isinstance(v, float):
            assert math.isfinite(v), path
            numbers += 1
    assert numbers > 1000
    assert all(p[-2] in results["nullable"] for p in nulls), nulls[:3]
    # kappa-tilde is null exactly where J <= 4 log T
    for c in results["bounds"]["curves"]:
        for T, kt in zip(results["bounds"]["T"], c["kappa_tilde"]):
            assert (kt is None) == (c["J"] <= 4 * math.log(T)), (c["J"], T)


def test_theory_check_z_scores_within_4(quick):
    _, results = quick
    rows = results["theory_check"]["rows"]
    for r in rows:
        assert abs(r["z_var"]) <= 4 and abs(r["z_mean"]) <= 4, r
        assert r["mean_exact"] == pytest.approx(1.0, abs=1e-9)
    s = results["theory_check"]["summary"]
    assert s["max_abs_z_var"] == max(abs(r["z_var"]) for r in rows)


def test_exact_law_against_monte_carlo_and_bounds(quick):
    _, results = quick
    energy = results["energy"]
    for c in energy["signals"]:
        q05, q95 = np.array(c["q05_exact"]), np.array(c["q95_exact"])
        # 200 draws: the empirical 5 % / 95 % quantiles sit within a few standard errors
        spread = q95 - q05
        assert np.all(np.abs(np.array(c["q95_mc"]) - q95) < 0.25 * spread + 0.02), c["label"]
        assert np.all(np.abs(np.array(c["q05_mc"]) - q05) < 0.25 * spread + 0.02), c["label"]
        # every bound holds (lies above the exact deviation) in both tails
        for m in ("cantelli", "chernoff", "bernstein"):
            assert all(c[f"{m}_valid"]), (c["label"], m)
    by = {c["label"]: c for c in energy["signals"]}
    # white-like impulse: variance 2/(JT); alternating: 2/J at every T
    J = energy["J"]
    for i, T in enumerate(energy["T"]):
        assert by["impulse"]["var_exact"][i] == pytest.approx(2 / (J * T), rel=1e-9)
        assert by["alternating"]["var_exact"][i] == pytest.approx(2 / J, rel=1e-9)
    # the histograms hold every draw
    for h in energy["histograms"]:
        assert sum(h["counts"]) == energy["samples"] and h["T"] == max(energy["T"])


def test_frame_bounds_sane(quick):
    _, results = quick
    b = results["bounds"]
    for c in b["curves"]:
        A, B, K = (np.array(c[k]) for k in ("mean_A", "mean_B", "mean_kappa"))
        assert np.all((0 < A) & (A < 1) & (1 < B)) and np.all(K >= np.array(c["ratio_B_A"]))
        assert np.all(np.abs(np.array(c["pred_kappa"]) / K - 1) < 0.3)
        assert np.all(np.array(c["frac_kappa_inf"]) == 0)


def test_rerun_reproduces_results_exactly(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["reproduce", "--out", str(a), "--seed", "3"] + TINY) == 0
    assert main(["reproduce", "--out", str(b), "--seed", "3"] + TINY) == 0
    assert (a / "results.json").read_bytes() == (b / "results.json").read_bytes()
    assert (a / "report.md").read_bytes() == (b / "report.md").read_bytes()
    assert json.loads((a / "results.json").read_text())["seed"] == 3


def test_same_draws_as_the_quick_run(quick, tmp_path):
    """A run on part of the grid measures the same filterbanks (same seed, J, T)."""
    _, results = quick
    out = tmp_path / "part"
    assert main(["reproduce", "--out", str(out)] + TINY) == 0
    part = json.loads((out / "results.json").read_text())
    for cq, cp in zip(results["energy"]["signals"], part["energy"]["signals"]):
        assert cp["mean_mc"] == cq["mean_mc"][:2] and cp["var_mc"] == cq["var_mc"][:2]
    for cq, cp in zip(results["bounds"]["curves"], part["bounds"]["curves"]):
        assert cp["mean_kappa"] == cq["mean_kappa"][:2]


def test_audio_file(tmp_path, capsys):
    sr = 16000
    t = np.arange(int(1.5 * sr)) / sr
    x = np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 440 * t)
    wav = tmp_path / "tone.wav"
    write_wav(wav, x, sr)
    out = tmp_path / "out"
    assert main(["reproduce", "--out", str(out), "--audio", str(wav), f"{wav}@100:3000",
                 "--pdf", "--T", "8,16"]) == 0
    text = capsys.readouterr().out
    assert "report.md" in text
    res = json.loads((out / "results.json").read_text())
    sounds = [s for s in res["signals"] if s["kind"] == "sound"]
    assert [(s["label"], s["source"], s["N"], s["sample_rate"]) for s in sounds] == [
        ("tone.wav", "file", sr, sr), ("tone.wav@100:3000", "file", 3000, sr)]
    assert {h["label"] for h in res["energy"]["histograms"]} == {"tone.wav", "tone.wav@100:3000"}
    assert (out / "figures" / "energy_sounds.pdf").exists()
    assert "audio files given with --audio" in (out / "report.md").read_text()
    assert _hidden(out) == []


@pytest.mark.parametrize("kind", ["empty", "corrupt", "silent", "missing"])
@pytest.mark.parametrize("out_exists", [False, True])
def test_bad_audio_refused_before_writing(tmp_path, capsys, kind, out_exists):
    bad = tmp_path / "bad.wav"
    if kind == "empty":
        bad.write_bytes(b"")
    elif kind == "corrupt":
        bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(range(40)))
    elif kind == "silent":
        write_wav(bad, np.zeros(2000), 8000)
    out = tmp_path / "out"
    if out_exists:
        out.mkdir()
    rc = main(["reproduce", "--out", str(out), "--audio", "vowel", str(bad), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rfbjax reproduce: error: --audio:")
    assert "bad.wav" in err
    assert os.listdir(out) == [] if out_exists else not out.exists()


def test_bad_options_exit_2(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["reproduce", "--out", str(f), "--quiet"] + TINY[:2]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["reproduce", "--out", str(tmp_path / "o"), "--samples", "1"]) == 2
    assert main(["reproduce", "--out", str(tmp_path / "o"), "--T", "0,8"]) == 2
    assert not (tmp_path / "o").exists()


def test_failure_while_writing_leaves_nothing(quick, tmp_path, monkeypatch):
    _, results = quick
    signals = rp.load_signals(rp.QUICK)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    # fails after two figures have been written to the staging folder
    monkeypatch.setattr(paper, "energy_histogram_figure", boom)
    out = tmp_path / "new"
    with pytest.raises(RuntimeError):
        rp.write_outputs(results, signals, str(out))
    assert not out.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "old.txt").write_text("keep me")
    with pytest.raises(RuntimeError):
        rp.write_outputs(results, signals, str(kept))
    assert os.listdir(kept) == ["old.txt"]


def test_figures_redrawn_from_results_json(quick, tmp_path):
    """What a notebook does with a saved run: results.json alone is enough (no waveforms)."""
    out, _ = quick
    with open(out / "results.json") as f:
        results = json.load(f)
    paths = paper.paper_figures(results, str(tmp_path), pdf=False)
    assert list(paths) == FIGURES and all(os.path.exists(p[0]) for p in paths.values())


def test_figures_read_cleanly(quick):
    """Each of the six figures (figure_checks.figure_problems): κ as κ, titles that fit, every
    curve inside its axes (the lower Cantelli bound of experiment 1 included), every band and
    line in a legend."""
    from figure_checks import figure_problems

    _, results = quick
    energy, bounds = results["energy"], results["bounds"]
    figures = {
        "energy_synthetic": paper.energy_deviation_figure(energy, kind="synthetic"),
        "energy_sounds": paper.energy_deviation_figure(energy, kind="sound"),
        "energy_histograms": paper.energy_histogram_figure(energy),
        "frame_bounds": paper.frame_bounds_figure(bounds),
        "condition_number": paper.condition_number_figure(bounds),
        "theory_check": paper.theory_check_figure(results["theory_check"]),
    }
    assert list(figures) == FIGURES
    for name, fig in figures.items():
        assert figure_problems(fig) == [], name
        if name.startswith("energy_") and name != "energy_histograms":
            for ax in fig.axes:
                lows = [min(line.get_ydata()) for line in ax.lines if len(line.get_ydata()) > 1]
                assert ax.get_ylim()[0] <= min(lows)
        paper.pyplot().close(fig)


def test_outputs_never_go_through_a_planted_link(quick, tmp_path):
    _, results = quick
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "poster.md"
    victim.write_text("the user's")
    (out / "report.md").symlink_to(victim)
    with pytest.raises(OSError, match="symbolic link"):
        rp.write_outputs(results, rp.load_signals(rp.QUICK), str(out))
    assert victim.read_text() == "the user's" and (out / "report.md").is_symlink()
    assert sorted(os.listdir(out)) == ["report.md"]   # what this call added is gone again
