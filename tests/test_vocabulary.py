"""One vocabulary: N spelled one way, one name per quantity in every table and JSON file,
censored intervals read as they are, progress the same on every command, README examples run."""

from __future__ import annotations

import json
import math
import re
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest

from rfbjax.base.grid import Grid, parse_N, resolve_N
from rfbjax.base.names import RENAMED, with_old_keys
from rfbjax.cli import build_parser, main
from rfbjax.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- N, one way
@pytest.mark.parametrize("spec,T,expected", [
    (1024, 8, 1024), ("1024", 8, 1024), (" 64 ", 8, 64), ("4T", 8, 32), ("4t", 16, 64),
    ("T", 16, 16), ("inf", 8, None), ("Infinity", 8, None), (math.inf, 8, None),
    (64.0, 8, 64),
])
def test_parse_N_spellings(spec, T, expected):
    assert parse_N(spec).at(T) == expected
    assert resolve_N(spec, T) == expected
    assert resolve_N(spec, T, "linear") is None


@pytest.mark.parametrize("spec", ["4.5T", "0T", "-2T", "abc", "1", "0", True, "", "1e3"])
def test_parse_N_refuses_in_one_line(spec):
    with pytest.raises(InputError) as err:
        parse_N(spec, "--N")
    assert str(err.value).startswith("--N: ") and "\n" not in str(err.value)


def test_grid_spec_round_trips():
    for spec in ("1024", "4T", "T", "inf"):
        assert parse_N(spec).spec() == spec
        assert parse_N(parse_N(spec).spec()) == parse_N(spec)
    assert parse_N("inf").linear and not parse_N("4T").linear
    assert parse_N(Grid("int", 8)) == Grid("int", 8)


def test_grid_commands_take_every_spelling_and_warn_on_boundary(tmp_path, capsys):
    """bounds --N inf, --N 4T and the deprecated --boundary linear (a warning naming --N inf)."""
    a, b, c = (tmp_path / f"{n}.json" for n in "abc")
    base = ["bounds", "--J", "4", "--T", "8,16", "--samples", "20", "--quiet"]
    assert main(base + ["--N", "inf", "--json", str(a)]) == 0
    assert capsys.readouterr().err == ""
    assert main(base + ["--boundary", "linear", "--json", str(b)]) == 0
    err = capsys.readouterr().err
    assert "deprecated" in err and "--N inf" in err
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    assert ra["rows"] == rb["rows"] and ra["config"]["N"] == "inf"
    assert main(base + ["--N", "4T", "--json", str(c)]) == 0
    rows = json.loads(c.read_text())["rows"]
    assert [r["N"] for r in rows] == [32, 64] and json.loads(c.read_text())["config"]["N"] == "4T"
    # predict: the same spellings, and its linear grid is bounds' linear grid
    p = tmp_path / "p.json"
    assert main(["predict", "--J", "4", "--T", "8,16", "--N", "4T", "--quiet", "--json",
                 str(p)]) == 0
    assert [r["N"] for r in json.loads(p.read_text())["rows"]] == [32, 64]
    assert main(["predict", "--J", "4", "--T", "8", "--boundary", "linear", "--quiet"]) == 0
    assert "--N inf" in capsys.readouterr().err


@pytest.mark.parametrize("argv,needle", [
    (["bounds", "--J", "4", "--T", "8", "--N", "4.5T"], "--N: expected an integer, kT"),
    (["predict", "--J", "4", "--T", "8", "--N", "lin"], "--N: expected an integer, kT"),
    (["sweep", "--J", "4", "--T", "8", "--N", "inf", "--stride", "2", "--out", "{tmp}/s"],
     "not on l2(Z)"),
    (["audit", "{tmp}/w.npy", "--N", "inf", "--out", "{tmp}/a"], "inf (l2(Z)) is not available"),
    (["tighten", "{tmp}/w.npy", "--N", "inf", "--out", "{tmp}/t.npy"], "certificate is always"),
])
def test_unsupported_grids_one_line(argv, needle, tmp_path, capsys):
    np.save(tmp_path / "w.npy", np.random.default_rng(0).standard_normal((4, 1, 8)))
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv + ["--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err


def test_api_takes_the_same_spellings():
    import rfbjax

    w = np.random.default_rng(0).standard_normal((6, 1, 8)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(rfbjax.layer_frame_bounds(w, N="4T")),
                               np.asarray(rfbjax.layer_frame_bounds(w, N=32)))
    assert rfbjax.predict(8, 16, "4T").to_dict() == rfbjax.predict(8, 16, 64).to_dict()
    assert rfbjax.predict(8, 16, "inf").to_dict() == rfbjax.predict(8, 16, math.inf).to_dict()
    res = rfbjax.bounds_statistics(4, [8, 16], N="2T", samples=8, theory=False)
    assert list(res["N"]) == [16, 32] and res.config["N"] == "2T"


# ----------------------------------------------------------------------------- one name each
def _table_columns(text: str) -> tuple[list[list[str]], set[str]]:
    """The header rows of every table in ``text`` (the line above a row of numbers) and the
    names a legend line (``name: meaning``) explains."""
    lines = text.splitlines()
    headers = []
    for i, line in enumerate(lines[:-1]):
        words, below = line.split(), lines[i + 1].split()
        if (len(words) >= 2 and all(re.fullmatch(r"[A-Za-z_][\w/*]*", w) for w in words)
                and any(_number(w) for w in below)):
            headers.append(words)
    legend = {m.group(1) for m in (re.match(r"^#?\s*([A-Za-z_][\w/*]*): ", ln) for ln in lines)
              if m}
    return headers, legend


def _number(word: str) -> bool:
    try:
        float(word.rstrip("%,"))
        return True
    except ValueError:
        return word in ("-", "inf")


def _keys(rows) -> set[str]:
    return set().union(*[set(r) for r in rows])


def test_every_printed_column_is_a_json_key_or_explained(tmp_path, capsys):
    sw = tmp_path / "sw"
    runs = {
        "energy": (["energy", "white", "--N", "32", "--J", "4", "--T", "8", "--samples", "20"],
                   "rows"),
        "bounds": (["bounds", "--J", "4,8", "--T", "8", "--N", "32", "--samples", "20"], "rows"),
        "predict": (["predict", "--J", "8", "--T", "8", "--N", "32"], "rows"),
        "predict-stride": (["predict", "--J", "8", "--T", "8", "--N", "32", "--stride", "2"],
                           "rows"),
        "sweep": (["sweep", "--J", "4,8", "--T", "8,16,32", "--samples", "20", "--out", str(sw)],
                  "rows"),
        "scaling-law": (["scaling-law", str(sw), "--kappa", "4", "--bootstrap", "20"], "laws"),
    }
    keys = {}
    for name, (argv, field) in runs.items():
        out = tmp_path / f"{name}.json"
        assert main(argv + ["--json", str(out)]) == 0, name
        text = capsys.readouterr().out
        data = json.loads(out.read_text())
        keys[name] = _keys(data[field])
        headers, legend = _table_columns(text)
        assert headers, (name, text)
        for header in headers:
            for col in header:
                assert col in keys[name] or col in legend, (name, col, sorted(keys[name]))
                assert col not in RENAMED, (name, col)     # never a 0.2 name
    # a quantity two commands share has one key in both, with the same value
    b = json.loads((tmp_path / "bounds.json").read_text())["rows"]
    p = json.loads((tmp_path / "predict.json").read_text())["rows"][0]
    row = next(r for r in b if r["J"] == 8)
    for k in ("pred_A", "pred_B", "pred_kappa", "pred_q05_kappa", "pred_q95_kappa",
              "kappa_tilde_paper"):
        assert row[k] == pytest.approx(p[k]), k
    shared = {"J", "T", "N", "mean_A", "mean_B", "mean_kappa", "se_kappa", "q05_kappa",
              "q95_kappa"}
    assert shared <= keys["bounds"] and shared <= keys["sweep"]


def test_renamed_keys_are_kept_beside_the_new_ones():
    import rfbjax

    d = rfbjax.predict(8, 16, 64).to_dict()
    for old, new in RENAMED.items():
        if new in d:
            assert d[old] == d[new], old
    assert d["pred_q05_kappa"] == d["kappa_q05"]
    assert list(d).index("pred_kappa") < list(d).index("E_kappa")   # new names first
    assert with_old_keys({"mean": 1.0, "mean_mc": 2.0}) == {"mean": 1.0, "mean_mc": 2.0}
    res = rfbjax.energy_statistics(["impulse"], J=4, T=8, N=32, samples=20)
    for old, new in RENAMED.items():
        if new in res.columns:
            np.testing.assert_array_equal(res[old], res[new])
    np.testing.assert_allclose(res["mean_exact"], 1.0)


def test_columns_page_lists_every_renamed_key():
    page = (ROOT / "docs" / "columns.md").read_text()
    for old, new in RENAMED.items():
        assert f"`{old}`" in page and f"`{new}`" in page, old
    changelog = (ROOT / "CHANGELOG.md").read_text()
    for old in RENAMED:
        assert f"`{old}`" in changelog, old


# ----------------------------------------------------------------------------- censored intervals
def test_censored_intervals_read_as_they_are():
    from rfbjax.studies.scaling import interval_text

    J = [4, 64]
    assert interval_text([None, None], ["above", "above"], J) == "> 64"
    assert interval_text([None, None], ["below", "below"], J) == "< 4"
    assert interval_text([62.1, None], [None, "above"], J) == "[62.10, > 64)"
    assert interval_text([None, 10.2], ["below", None], J) == "(< 4, 10.20]"
    assert interval_text([None, None], ["below", "above"], J) == "(< 4, > 64)"
    assert interval_text([5.0, 7.25], [None, None], J) == "[5.00, 7.25]"
    assert interval_text([math.nan, math.nan], [None, None], J) == "-"


def test_scaling_law_json_says_which_end_is_open():
    import rfbjax

    # E[kappa] = 1 + 2T/J in every draw: J* = 2T/(kappa0 - 1); kappa0 = 1.1 puts J* = 20 T
    # above the grid for every replicate, kappa0 = 200 below it, kappa0 = 3 inside
    raw = {(J, T): (np.ones(4), np.full(4, 1 + 2 * T / J)) for J in (4, 8, 16) for T in (4, 8)}
    laws = rfbjax.fit_scaling_law(raw, kappa=[1.1, 200.0, 3.0], bootstrap=10).laws
    above, below, inside = laws
    assert above.Jstar_ci_open == [[True, True]] * 2
    assert above.Jstar_ci_side == [["above", "above"]] * 2 and above.Jstar_ci == [[None, None]] * 2
    assert below.Jstar_ci_side == [["below", "below"]] * 2
    assert inside.Jstar_ci_open == [[False, False]] * 2
    assert inside.Jstar_ci == [[pytest.approx(4.0), pytest.approx(4.0)],
                               [pytest.approx(8.0), pytest.approx(8.0)]]


# ----------------------------------------------------------------------------- progress
def test_progress_shown_by_flag_hidden_by_quiet(tmp_path, capsys, monkeypatch):
    from argparse import Namespace

    from rfbjax.cli.common import show_progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert not show_progress(Namespace(quiet=False, progress=False))
    assert show_progress(Namespace(quiet=False, progress=True))
    assert not show_progress(Namespace(quiet=True, progress=True))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert show_progress(Namespace(quiet=False, progress=False))


def test_every_command_takes_progress():
    sub = build_parser()._subparsers._group_actions[0]
    for name, parser in sub.choices.items():
        assert "--progress" in parser._option_string_actions, name
        assert "--quiet" in parser._option_string_actions, name


def test_resumed_sweep_with_nothing_left_says_so(tmp_path, capsys):
    argv = ["sweep", "--J", "4", "--T", "8", "--samples", "10", "--out", str(tmp_path / "s")]
    assert main(argv) == 0
    assert "1 computed now" in capsys.readouterr().out
    assert main(argv) == 0
    assert "nothing left to compute" in capsys.readouterr().out


def test_audit_reports_each_layer_by_name(tmp_path, capsys):
    from rfbjax.models.audits import audit

    rng = np.random.default_rng(0)
    path = tmp_path / "m.npz"
    np.savez(path, **{"a.conv1.weight": rng.standard_normal((4, 1, 8)),
                      "b.conv2.weight": rng.standard_normal((4, 4, 4))})
    seen = []
    audit(str(path), N="8T", draws=0, on_layer=lambda *a: seen.append(a))
    assert seen == [("a.conv1.weight", 0, 2), ("b.conv2.weight", 1, 2), (None, 2, 2)]
    assert main(["audit", str(path), "--draws", "0", "--out", str(tmp_path / "o"),
                 "--progress"]) == 0
    assert "b.conv2.weight" in capsys.readouterr().err


# ----------------------------------------------------------------------------- README
def _readme():
    return (ROOT / "README.md").read_text()


def _fenced(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", _readme(), flags=re.S)


def test_readme_fenced_commands_run(capsys):
    cmds = [ln.strip() for block in _fenced("sh") for ln in block.splitlines()
            if ln.strip().startswith("rfbjax ")]
    assert cmds
    for cmd in cmds:
        argv = shlex.split(cmd.split("#")[0])[1:]
        try:
            rc = main(argv)
        except SystemExit as exc:       # --help
            rc = exc.code
        assert rc == 0, cmd


def test_readme_command_table_parses():
    """Every command of the README's table is accepted by the parser as written."""
    cmds = re.findall(r"^\| `(rfbjax [^`]+)` \|", _readme(), flags=re.M)
    assert len(cmds) >= 10
    for cmd in cmds:
        argv = shlex.split(cmd)[1:]
        args = build_parser(argv).parse_args(argv)
        assert args.command == argv[0], cmd


def test_readme_python_example_runs(capsys):
    (code,) = _fenced("python")
    small = re.sub(r"samples=\d+", "samples=20", code)
    small = small.replace("[10, 40], [64, 256]", "[10, 40], [16, 32]")
    assert small != code
    exec(compile(small, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "kappa =" in out and "predicted:" in out and "no sampling" in out
