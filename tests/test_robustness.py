"""Robustness: outsized input, seeds, error paths, output folders, censored scaling laws, reports.

Every case runs in-process through ``rfbjax.cli.main`` (or the library) with tiny shapes; a bad
input must end in one line on stderr, exit status 2 and nothing written.
"""

import errno
import json
import os
import re
import tomllib

import numpy as np
import pytest
import jax

from rfbjax.engine import montecarlo as mc
from rfbjax.cli import main
from rfbjax.cli.common import parse_int_list
from rfbjax.errors import InputError
from rfbjax.base.files import atomic_write_bytes
from rfbjax.report.outputs import check_out_dir, remove_stale
from rfbjax.engine.resources import Plan, check_plan, default_budget, physical_memory
from rfbjax.engine.seeds import check_seed, seed_key

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _refused(capsys, argv, *needles):
    """``main(argv)`` ends with exit 2 and exactly one stderr line containing every needle."""
    try:
        rc = main(argv)
    except SystemExit as exc:   # argparse refuses at parse time
        rc = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2, err
    assert len(err) == 1, err
    for n in needles:
        assert n in err[0], err[0]
    return err[0]


# ----------------------------------------------------------------------------- item 1: resources
def test_outsized_signal_refused_before_allocation(tmp_path, capsys):
    out = tmp_path / "e.json"
    line = _refused(capsys, ["energy", "impulse", "--N", "2000000000", "--json", str(out)],
                    "2,000,000,000 samples", "--max-memory")
    assert "GiB" in line and not out.exists()


def test_outsized_monte_carlo_and_predictor_refused(capsys):
    _refused(capsys, ["bounds", "--J", "100000", "--T", "100000"], "J=100000, T=100000",
             "per chunk")
    _refused(capsys, ["predict", "--J", "10", "--T", "64", "--N", "1000000000"],
             "N=1000000000", "--max-memory")
    _refused(capsys, ["energy", "impulse", "--samples", "100000000000"], "samples")


def test_lists_bounded_before_expansion(capsys):
    _refused(capsys, ["predict", "--T", "1:100000000:1"], "--T", "100,000,000 values")
    _refused(capsys, ["bounds", "--J", "1,2,...,1000000000"], "--J", "1,000,000,000 values")
    assert parse_int_list("8,16,...,1099511627776", "--T")[-1] == 2 ** 40   # geometric: short
    assert len(parse_int_list("1:100000:1", "--T")) == 100_000                # at the limit


def test_budget_defaults_and_plan_arithmetic():
    phys = physical_memory()
    assert default_budget() == (min(4 * 1024 ** 3, phys // 2) if phys else 4 * 1024 ** 3)
    plan = Plan(1000)
    plan.add("a", 300)
    plan.mc_min, plan.mc_what = 200, "x"
    assert check_plan(plan) == 700
    plan.mc_min = 800
    with pytest.raises(InputError, match="per chunk"):
        check_plan(plan)


def test_accelerator_memory_bounds_the_chunks(monkeypatch):
    from rfbjax.engine import resources

    plan = Plan(10_000)
    plan.mc_min, plan.mc_what = 500, "J=1, T=1"
    monkeypatch.setattr(resources, "device_memory", lambda: 1000)   # 80 % usable
    assert check_plan(plan) == 800
    plan.mc_min = 900
    with pytest.raises(InputError, match="on the accelerator"):
        check_plan(plan)
    with pytest.raises(InputError, match="spectra"):   # audit's plan, for its command to call
        check_plan(resources.audit_plan([(None, 4, 1, 64, 4_000_000_000, 1)], budget=10_000))


def test_results_identical_whatever_the_budget():
    from rfbjax.studies.experiments import bounds_rows
    from rfbjax.engine.measure import bounds_measurement
    from rfbjax.engine.resources import mc_chunk_min

    m = bounds_measurement(5, 8, 64)                    # test_cli's setting: compiled once
    smallest = mc_chunk_min(m.bytes_per_sample, 12)     # forces one block per chunk
    small = bounds_rows([5], [8], 64, n_samples=600, max_memory=smallest, theory=False)
    large = bounds_rows([5], [8], 64, n_samples=600, theory=False)
    assert mc.plan_chunks(600, m.bytes_per_sample, 12, smallest, 1).n_chunks > 1
    assert small == large


def test_exact_law_skipped_above_limit_and_on_request(tmp_path, capsys):
    out = tmp_path / "e.json"
    # test_cli's setting (J = 4, T = 8, 16, N = 64): the Monte Carlo is compiled once
    assert main(["energy", "impulse", "--J", "4", "--T", "8,16", "--N", "64", "--samples", "8",
                 "--exact-max-T", "8", "--json", str(out)]) == 0
    assert "exact law skipped for T > 8" in capsys.readouterr().out
    rows = {r["T"]: r for r in json.loads(out.read_text())["rows"]}
    assert "q95_exact" in rows[8] and rows[16]["exact_law"] is False
    assert "q95_exact" not in rows[16] and rows[16]["var_analytic"] > 0   # moments stay exact
    out.unlink()
    assert main(["energy", "impulse", "--J", "4", "--T", "8", "--N", "64", "--samples", "8",
                 "--no-exact-law", "--json", str(out)]) == 0
    assert "q95_exact" not in json.loads(out.read_text())["rows"][0]


# ----------------------------------------------------------------------------- item 2: seeds
def test_seed_keys_cover_64_bits():
    for s in (0, 1, 12345, 2 ** 32 - 1):       # the earlier float32 keys are unchanged
        assert np.array_equal(np.asarray(jax.random.PRNGKey(s)), np.asarray(seed_key(s)))
    with jax.enable_x64(True):                   # and equal PRNGKey with 64-bit mode on
        for s in (2 ** 32, 2 ** 40 + 7, 2 ** 63 - 1):
            assert np.array_equal(np.asarray(jax.random.PRNGKey(s)), np.asarray(seed_key(s)))
    keys = {tuple(np.asarray(mc.stream_key(s, "t")).tolist())
            for s in (0, 2 ** 32, 2 ** 63, 2 ** 64 - 1, 1)}
    assert len(keys) == 5                        # no aliasing modulo 2^32
    for bad in (-1, 2 ** 64, 1.5, True, "1e3"):
        with pytest.raises(InputError):
            check_seed(bad)


@pytest.mark.parametrize("seed", ["-1", "18446744073709551616", "1.5", "x"])
def test_bad_seed_refused_before_anything_is_written(tmp_path, capsys, seed):
    out = tmp_path / "grid"
    _refused(capsys, ["sweep", "--J", "2", "--T", "4", "--samples", "4", "--seed", seed,
                      "--out", str(out), "--quiet"], "--seed")
    assert not out.exists()


# ----------------------------------------------------------------------------- item 3: errors
def test_cluster_setup_errors(tmp_path, capsys):
    base = ["sweep", "--J", "2", "--T", "4", "--samples", "4", "--quiet",
            "--out", str(tmp_path / "g")]
    _refused(capsys, base + ["--coordinator", "localhost:1234", "--num-processes", "2",
                             "--process-id", "2"], "--process-id")
    _refused(capsys, base + ["--coordinator", "nohost", "--num-processes", "2",
                             "--process-id", "0"], "HOST:PORT")
    _refused(capsys, base + ["--process-id", "0"], "--coordinator")
    for k in [k for k in os.environ if k.startswith(("JAX_COORDINATOR", "JAX_NUM_PROC",
                                                     "JAX_PROCESS_ID", "SLURM_", "OMPI_"))]:
        pytest.skip(f"a cluster environment is set ({k})")
    _refused(capsys, base + ["--distributed"], "--distributed", "cluster")
    assert not (tmp_path / "g").exists()


def test_late_write_failure_names_the_users_path(tmp_path, capsys, monkeypatch):
    target = tmp_path / "p.json"

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", src)

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError) as info:
        atomic_write_bytes(str(target), b"{}")
    assert info.value.filename == str(target)
    assert os.listdir(tmp_path) == []            # the temporary file is gone
    line = _refused(capsys, ["predict", "--J", "10", "--T", "8", "--json", str(target)],
                    str(target), "No space left")
    assert ".tmp-" not in line


def test_directory_where_a_file_is_expected(tmp_path, capsys):
    _refused(capsys, ["energy", str(tmp_path), "--samples", "4"], "is a directory")
    _refused(capsys, ["energy", "impulse", "--json", str(tmp_path)], "is a directory")
    _refused(capsys, ["scaling-law", str(tmp_path / "x.json")], "no config.json")


# ----------------------------------------------------------------------------- item 4: folders
def test_foreign_folders_refused_and_untouched(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    _refused(capsys, ["sweep", "--J", "2", "--T", "4", "--samples", "4", "--quiet",
                      "--out", str(folder)], "notes.txt")
    _refused(capsys, ["reproduce", "--out", str(folder), "--quiet"], "notes.txt")
    _refused(capsys, ["attack", "--out", str(folder), "--quiet"], "notes.txt")
    assert sorted(os.listdir(folder)) == ["notes.txt"]
    assert (folder / "notes.txt").read_text() == "keep me"
    user = tmp_path / "user.json"
    user.write_text('{"mine": 1}')
    _refused(capsys, ["predict", "--J", "10", "--T", "8", "--json", str(user)], "not written")
    assert user.read_text() == '{"mine": 1}'


def test_own_folders_reused_and_stale_outputs_removed(tmp_path):
    own = ("summary.json", "a.png", "a.pdf")
    d = tmp_path / "run"
    assert check_out_dir(str(d), "--out", command="attack", own=own, marker="summary.json") \
        == "new"
    d.mkdir()
    assert check_out_dir(str(d), "--out", command="attack", own=own,
                         marker="summary.json") == "empty"
    (d / "a.png").write_bytes(b"x")
    with pytest.raises(InputError, match="has no summary.json"):   # named like ours, not ours
        check_out_dir(str(d), "--out", command="attack", own=own, marker="summary.json")
    (d / "summary.json").write_text('{"command": "attack"}')
    (d / "a.pdf").write_bytes(b"x")
    (d / ".tmp-123").write_bytes(b"")            # an interrupted write of ours
    assert check_out_dir(str(d), "--out", command="attack", own=own,
                         marker="summary.json") == "reuse"
    with pytest.raises(InputError, match="has no summary.json of rfbjax reproduce"):
        check_out_dir(str(d), "--out", command="reproduce", own=own, marker="summary.json")
    remove_stale(str(d), own, [str(d / "summary.json"), str(d / "a.png")])
    assert sorted(os.listdir(d)) == [".rfbjax-manifest.json", ".tmp-123", "a.png", "summary.json"]


# ----------------------------------------------------------------------------- item 5: scaling
def _fake_sweep(folder, Js, Ts, kappa_of, n=200, skip=()):
    """A sweep directory written by hand: A = 1, B with mean kappa_of(J, T) and unit noise."""
    rng = np.random.default_rng(1)
    (folder / "cells").mkdir(parents=True)
    cfg = {"J": Js, "T": Ts, "samples": n, "N": "4T", "boundary": "circular", "seed": 0,
           "dtype": "float32", "init": "gaussian", "stride": 1, "scale": 1.0, "format": 1}
    (folder / "config.json").write_text(json.dumps(cfg))
    for J in Js:
        for T in Ts:
            if (J, T) in skip:
                continue
            B = kappa_of(J, T) + 0.3 * rng.standard_normal(n)
            np.savez(folder / "cells" / f"J{J}_T{T}.npz", A=np.ones(n), B=B)
            (folder / "cells" / f"J{J}_T{T}.json").write_text(json.dumps({"J": J, "T": T}))


def test_scaling_law_censoring_targets_and_partial_sweeps(tmp_path, capsys):
    Js, Ts = [4, 8, 16, 32, 64], [8, 16, 32, 64]
    jstar = {8: 10.0, 16: 20.0, 32: 40.0, 64: 63.5}      # T = 64: at the grid's edge

    def kappa(J, T):
        return 3.0 + 2.0 * (np.log(jstar[T]) - np.log(J))

    d = tmp_path / "full"
    _fake_sweep(d, Js, Ts, kappa)
    _refused(capsys, ["scaling-law", str(d), "--kappa", "inf"], "finite")
    assert main(["scaling-law", str(d), "--kappa", "3", "--bootstrap", "200"]) == 0
    text = capsys.readouterr().out
    law = json.loads((d / "scaling_law_kappa3.json").read_text())["laws"][0]
    i = law["T"].index(64)
    assert law["Jstar_censored"][i][1] > 0.05        # replicates beyond J = 64 are counted ...
    assert law["Jstar_ci"][i][1] is None             # ... and leave the interval open
    assert "> 64)" in text and "%" in text
    assert law["Jstar_ci"][0][1] is not None and law["Jstar_censored"][0] == [0.0, 0.0]
    assert main(["scaling-law", str(d), "--kappa", "2,5", "--bootstrap", "0", "--quiet"]) == 0
    assert (d / "scaling_law_kappa3.json").exists() and (d / "scaling_law_kappa2_5.json").exists()
    _fake_sweep(tmp_path / "part", Js, Ts, kappa, skip={(64, 32)})
    assert main(["scaling-law", str(tmp_path / "part"), "--kappa", "2", "--bootstrap", "0"]) == 0
    io = capsys.readouterr()
    assert "partial sweep: 19 of 20 cells" in io.err and "warning: partial" in io.out
    part = json.loads((tmp_path / "part" / "scaling_law_kappa2.json").read_text())["partial"]
    assert part["missing"] == [[64, 32]] and part["J_used"] == [4, 8, 16, 32]


# ----------------------------------------------------------------------------- item 7: reports
def test_report_numbers_and_tables(monkeypatch):
    from rfbjax.report import markdown as report_md
    from rfbjax.report.markdown import _f, _pm, _table

    assert _f(1.1) == "1.10" and _f(0.5) == "0.500" and _f(2.0) == "2.00"
    assert _pm(0.0123, 0.00034) == "0.01230 ± 0.00034"
    assert _pm(0.5, 0.0021) == "0.5000 ± 0.0021"
    assert not re.search(r"± 0\.0+$", _pm(1e-4, 3e-6))
    lines = _table(["signal", "T", "x"], [["a", 8, 1.5], ["speech.wav", 1024, 0.0012]]).split("\n")
    assert len({len(line) for line in lines}) == 1          # every row as wide as the header
    col = {"label": "speech.wav", "q05_mc": [0.9, 0.8], "q95_mc": [1.1, 1.3], "kind": "sound"}
    energy = {"T": [8, 16], "J": 10, "samples": 8, "signals": [col]}
    monkeypatch.setattr(report_md, "_bound_facts", lambda e, c: "")
    text = report_md._energy_paragraph(energy, [col], "sound")
    assert "deviates most" not in text
    assert "speech.wav's band is 0.500 wide" in text


def test_figure_titles_inside_the_canvas(tmp_path):
    from rfbjax.report.plots.common import fit_titles, pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(3, 2.5))
    fig.suptitle("Energy response of J = 10 Gaussian filters of length T, 1000 draws per T")
    ax.set_title("a rather long panel title that would not fit in three inches")
    fit_titles(fig)
    fig.set_layout_engine("constrained")
    fig.canvas.draw()
    box = fig.bbox
    for t in (fig._suptitle, ax.title):
        ext = t.get_window_extent()
        assert ext.x0 >= box.x0 - 1 and ext.x1 <= box.x1 + 1
    assert save_figure(fig, str(tmp_path), "f") == [str(tmp_path / "f.png")]
    assert sorted(os.listdir(tmp_path)) == ["f.png"]


# ----------------------------------------------------------------------------- items 8, 9
def test_docstrings_cite_the_repositorys_theory():
    theory = open(os.path.join(ROOT, "docs", "theory.md"), encoding="utf-8").read()
    numbers = set(re.findall(r"\\tag\{(\d+'?)\}", theory))   # display formulas, numbered
    sections = set(re.findall(r"^## (\d+)\.", theory, flags=re.M))
    for folder, _, files in os.walk(os.path.join(ROOT, "rfbjax")):
        for name in files:
            if not name.endswith(".py"):
                continue
            src = open(os.path.join(folder, name), encoding="utf-8").read()
            assert "THEORY.md" not in src, name
            for n in re.findall(r"theory\.md formula \((\d+)\)", src):
                assert n in numbers, (name, n)
            for a, b in re.findall(r"theory\.md §(\d)(?:[–-](\d))?", src):
                assert a in sections and (not b or b in sections), (name, a, b)


def test_pyproject_license_is_spdx():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        meta = tomllib.load(f)
    assert meta["project"]["license"] == "MIT"
    req = [r for r in meta["build-system"]["requires"] if r.startswith("setuptools")][0]
    assert int(re.search(r">=(\d+)", req).group(1)) >= 77   # SPDX strings need setuptools 77


def test_infinite_kappa_is_explained_not_shown_as_nan():
    """Draws with A = 0 make mean κ infinite: the table shows inf and "-" (not nan), a note
    counts the draws per (J, T); rows read back from JSON (None) print the same way."""
    import math

    from rfbjax.cli.common import format_table, kappa_table

    rows = [{"J": 4, "T": 16, "mean_kappa": math.inf, "se_kappa": math.nan, "q05_kappa": 170.0,
             "q95_kappa": 7e4, "frac_kappa_inf": 11 / 300, "samples": 300},
            {"J": 8, "T": 16, "mean_kappa": 28.9, "se_kappa": 1.2, "q05_kappa": 11.9,
             "q95_kappa": 62.4, "frac_kappa_inf": 0.0, "samples": 300},
            {"J": 2, "T": 16, "mean_kappa": None, "se_kappa": None, "q05_kappa": None,
             "q95_kappa": None, "frac_kappa_inf": 1.0, "samples": 300}]
    shown, notes = kappa_table(rows)
    text = format_table(shown, [(k, k, 9) for k in ("J", "mean_kappa", "se_kappa", "q05_kappa")])
    assert "nan" not in text
    lines = text.splitlines()
    assert lines[1].split() == ["4", "inf", "-", "170.0000"]
    assert lines[3].split() == ["2", "inf", "-", "inf"]
    assert len(notes) == 1 and "J=4 T=16: 11 of 300" in notes[0] and "J=2 T=16: 300 of 300" \
        in notes[0] and "J=8" not in notes[0]
    assert math.isnan(rows[0]["se_kappa"])          # the rows themselves are not modified

