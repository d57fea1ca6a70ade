"""Output paths the file system refuses: one error line, exit 2, checked before any computation."""

import pytest

from rfbjax.cli import main


@pytest.mark.parametrize("make_argv,msg", [
    (lambda f, d: ["bounds", "--J", "4", "--T", "8", "--samples", "10", "--json", f"{f}/x.json"],
     "is not a directory"),
    (lambda f, d: ["energy", "impulse", "--samples", "10", "--json", str(d)], "is a directory"),
    (lambda f, d: ["predict", "--json", f"{f}/x.json"], "is not a directory"),
    (lambda f, d: ["sweep", "--J", "4", "--T", "8", "--samples", "10", "--out", str(f)],
     "not a directory"),
])
def test_unwritable_outputs(tmp_path, capsys, make_argv, msg):
    afile = tmp_path / "afile"
    afile.write_text("x")
    adir = tmp_path / "adir"
    adir.mkdir()
    rc = main(make_argv(afile, adir))
    err = capsys.readouterr().err
    assert rc == 2 and msg in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile"]
    assert afile.read_text() == "x" and not any(adir.iterdir())
