"""The documentation site (``make docs``) builds without a warning and renders offline.

One build, through scripts/build_docs.py, into a temporary folder (the KaTeX download is
cached in build/vendor and reused). The checks read the HTML it wrote: no reST left over
from the docstrings (roles such as ``:func:``, ``.. math::``, ``=====`` table rules), the
formulas turned into arithmatex spans, KaTeX served from the site by relative paths and no
script or stylesheet fetched from the network.
"""

from __future__ import annotations

import html
import os
import posixpath
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: a reST role left in the text: ``:func:`x``` renders as ``:func:<code>x</code>``
ROLE = re.compile(r"(?<![\w:]):(math|func|class|mod|attr|meth|data|exc|obj|ref):(?=`|<code)")
#: a reST directive, or a simple-table rule (runs of "=" separated by spaces)
DIRECTIVE = re.compile(r"\.\.\s+(math|code-block|note|warning|seealso)::")
TABLE_RULE = re.compile(r"^[ \t]*={3,}(?:[ \t]+={3,})+[ \t]*$|^[ \t]*={5,}[ \t]*$", re.M)
#: a formula left in the text outside arithmatex spans and code: $$, or $...$ on one line
RAW_TEX = re.compile(r"\$\$|\$[^\s$<>][^$<>\n]*\$")
#: the tags that load a script or a stylesheet, and the address in them
SCRIPT = re.compile(r"<script\b[^>]*>")
STYLESHEET = re.compile(r"<link\b[^>]*\brel=\"stylesheet\"[^>]*>")
ADDRESS = re.compile(r"\b(?:src|href)=\"([^\"]+)\"")
#: parts of a page where raw text is legitimate: code, formulas, scripts
EXEMPT = re.compile(r"<(pre|code|script|style)\b.*?</\1>|"
                    r"<(span|div) class=\"arithmatex\">.*?</\2>", re.S)

KATEX_FILES = ["vendor/katex/katex.min.css", "vendor/katex/katex.min.js",
               "vendor/katex/contrib/auto-render.min.js", "js/math.js"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_docs.py"),
         "--site", str(out / "site"), "--work", str(out / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    pages = {p.relative_to(out / "site").as_posix(): p.read_text(encoding="utf-8")
             for p in sorted((out / "site").rglob("*.html"))}
    return {"proc": proc, "dir": out / "site", "pages": pages}


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    lo, hi = max(0, pos - 60), min(len(text), pos + 60)
    return f"line {line}: {html.unescape(text[lo:hi])!r}"


def _find(pages: dict, pattern: re.Pattern, exempt: bool = False) -> list:
    hits = []
    for name, text in pages.items():
        if exempt:   # blank the exempt parts, keeping offsets (and so line numbers) right
            text = EXEMPT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
        hits += [f"{name} {_where(text, m.start())}" for m in pattern.finditer(text)]
    return hits


def test_builds_without_warnings(site):
    proc = site["proc"]
    log = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0, f"build_docs.py failed:\n{log[-6000:]}"
    warnings = [ln for ln in log.splitlines() if re.match(r"(WARNING|ERROR)\b", ln)]
    assert not warnings, "\n".join(warnings)
    assert "index.html" in site["pages"] and any(p.startswith("api/") for p in site["pages"])


def test_no_rest_left(site):
    pages = site["pages"]
    hits = (_find(pages, ROLE) + _find(pages, DIRECTIVE)
            + _find(pages, TABLE_RULE, exempt=True))
    assert not hits, f"{len(hits)} pieces of reST in the HTML:\n" + "\n".join(hits[:60])


def test_math_is_typeset_by_arithmatex(site):
    pages = site["pages"]
    spans = {n: t.count('class="arithmatex"') for n, t in pages.items()}
    assert sum(spans.values()) > 0, "no formula was turned into an arithmatex span"
    assert spans.get("api/frames.html", 0) > 0, "the kernels' formulas are not arithmatex spans"
    raw = _find(pages, RAW_TEX, exempt=True)
    assert not raw, "TeX left outside the formulas:\n" + "\n".join(raw[:40])


def test_katex_is_served_by_the_site(site):
    root = site["dir"]
    for rel in KATEX_FILES:
        assert (root / rel).is_file(), f"{rel} is missing from the site"
    assert list((root / "vendor" / "katex" / "fonts").glob("*.woff2")), "KaTeX fonts missing"
    for name, text in site["pages"].items():
        if name == "404.html":   # for a web server (absolute paths); a browser never opens it
            continue
        tags = SCRIPT.findall(text) + STYLESHEET.findall(text)
        refs = [m.group(1) for tag in tags for m in [ADDRESS.search(tag)] if m]
        remote = [r for r in refs if re.match(r"^(https?:)?//", r)]
        assert not remote, f"{name} loads from the network: {remote}"
        loaded = {posixpath.normpath(posixpath.join(posixpath.dirname(name), r.split("?")[0]))
                  for r in refs}
        for rel in loaded:
            assert (root / rel).is_file(), f"{name} refers to {rel}, which the site lacks"
        missing = [rel for rel in KATEX_FILES if rel not in loaded]
        assert not missing, f"{name} does not load {missing}"


def test_failed_katex_fetch_fails_the_build_in_one_line(tmp_path):
    """Without KaTeX the formulas would show as TeX: no site is better than that one."""
    env = dict(os.environ, npm_config_offline="true", npm_config_cache=str(tmp_path / "npm"))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_docs.py"), "--site", str(tmp_path / "site"),
         "--work", str(tmp_path / "work"), "--vendor", str(tmp_path / "vendor")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("build_docs: cannot fetch katex@"), proc.stderr
    assert not (tmp_path / "site").exists()
