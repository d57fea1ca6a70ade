"""Build the HTML documentation offline into site/ (``make docs``; open site/index.html).

The pages are assembled into a work folder (build/docs by default): the README as the home
page, the guide pages of docs/guide/ in reading order, the reference pages of docs/ (theory,
performance, reliability, architecture), the CHANGELOG, and the API reference of docs/api/,
whose mkdocstrings ``::: module`` directives are dropped for modules this checkout lacks.
Relative links are rewritten for the pages' new places; a link to a repository file that is
not part of the site keeps its text and loses the link.

Formulas (``$...$``, ``$$...$$``) are turned into spans by pymdownx.arithmatex and typeset in
the browser by KaTeX, which is served from the site itself: the pinned npm package is fetched
once into a cache (build/vendor by default), checked against its known digest, and copied in.
No page loads anything from the network.

mkdocs runs in strict mode: any warning (a broken link, a docstring griffe cannot parse, a
module that cannot be found) fails the build, and so does a failed KaTeX fetch.

    python scripts/build_docs.py [--site DIR] [--work DIR] [--vendor DIR]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib
import logging
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: the KaTeX release served with the site, and the npm registry's digest of its tarball
KATEX_VERSION = "0.19.1"
KATEX_INTEGRITY = ("sha512-jG8uKntjSEcm2EpQOh0XturpPuuC9r3Sq5HLHdsFdWZT27E672SF19QEi+of0/"
                   "YeOy15lDgRhKvr5614uRrEfA==")
#: where the KaTeX files sit inside the site (mkdocs.yml's extra_css / extra_javascript)
KATEX_DIR = "vendor/katex"
MATH_JS = "js/math.js"
SITE_CSS = "css/rfbjax.css"

#: the guide, in reading order; pages missing from the checkout are skipped, others follow
GUIDE = ["energy", "bounds", "predict", "sweep", "reproduce", "attack", "audit", "real-models",
         "remedies", "parseval",
         "training-study", "python-api"]
#: reference pages of docs/, in this order; other top-level pages follow alphabetically
REFERENCE = ["theory", "columns", "performance", "reliability", "architecture"]
#: the API reference, in this order; other pages of docs/api/ follow alphabetically
API = ["index", "frames", "montecarlo", "theory", "layers", "io", "report", "attack", "training"]
#: repository files outside docs/ that become pages, and their names in the site
OUTSIDE = {"README.md": "index.md", "CHANGELOG.md": "changelog.md"}

DIRECTIVE = re.compile(r"^:::\s+([\w.]+)\s*$")
LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^()\s]+)(\s+\"[^\"]*\")?\)")
REFDEF = re.compile(r"^(\s{0,3}\[[^\]]+\]:\s*)(\S+)(.*)$")
FENCE = re.compile(r"^\s*(```|~~~)")

#: typesets the spans pymdownx.arithmatex (generic mode) leaves: \( \) inline, \[ \] display
MATH_SCRIPT = r"""// Typesets the formulas of the page with the KaTeX copy served by this site.
// pymdownx.arithmatex (generic mode) leaves inline formulas as \( ... \) in span.arithmatex
// and displayed ones as \[ ... \] in div.arithmatex; only those elements are rendered, so a
// stray dollar sign or backslash in ordinary text is left alone.
(function () {
  "use strict";
  var options = {
    delimiters: [
      {left: "\\[", right: "\\]", display: true},
      {left: "\\(", right: "\\)", display: false}
    ],
    throwOnError: false
  };
  function typeset() {
    var nodes = document.querySelectorAll(".arithmatex");
    for (var i = 0; i < nodes.length; i++) {
      renderMathInElement(nodes[i], options);
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", typeset);
  } else {
    typeset();
  }
})();
"""


#: layout touches for the readthedocs theme: room for the wide tables, formulas that scroll
#: sideways instead of spilling out of the column
STYLE_SHEET = """/* rfbjax documentation: a wider text column and formulas that fit it */
.wy-nav-content { max-width: 1000px; }
div.arithmatex { overflow-x: auto; overflow-y: hidden; }
.wy-table-responsive table td, .wy-table-responsive table th { white-space: normal; }
"""


class BuildError(Exception):
    """A build step failed; the message is the one line the user sees."""


# --------------------------------------------------------------------------- KaTeX from npm

def _integrity(path: str) -> str:
    with open(path, "rb") as f:
        digest = hashlib.sha512(f.read()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def _npm_reason(stderr: str, status: int) -> str:
    """npm's error code and its one-line explanation, from the many lines it prints."""
    lines = [ln.split("error", 1)[1].strip() for ln in stderr.splitlines()
             if ln.startswith("npm error") and ln.split("error", 1)[1].strip()]
    code = next((ln[5:] for ln in lines if ln.startswith("code ")), "")
    what = next((ln for ln in lines if re.search(r"failed|not found|404|E[A-Z]{3,}:", ln)
                 and not ln.startswith(("code ", "syscall ", "errno "))), "")
    reason = ": ".join(x for x in (code, what) if x)
    return reason or f"npm exited with status {status}"


def _fetch_tarball(vendor: str) -> str:
    """The pinned KaTeX tarball in the cache, fetched with ``npm pack`` when absent or wrong."""
    name = f"katex-{KATEX_VERSION}.tgz"
    tgz = os.path.join(vendor, name)
    if os.path.isfile(tgz) and _integrity(tgz) == KATEX_INTEGRITY:
        return tgz
    spec = f"katex@{KATEX_VERSION}"
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(f"cannot fetch {spec}: npm is not installed (KaTeX renders the math)")
    os.makedirs(vendor, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=vendor, prefix=".fetch-") as tmp:
        try:
            # npm's own download cache goes under the vendor folder, not into the user's ~/.npm
            proc = subprocess.run([npm, "pack", spec, "--loglevel=error",
                                   "--cache", os.path.join(tmp, "npm-cache")], cwd=tmp,
                                  capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BuildError(f"cannot fetch {spec} with npm: {exc}") from None
        got = os.path.join(tmp, name)
        if proc.returncode != 0 or not os.path.isfile(got):
            raise BuildError(f"cannot fetch {spec} from the npm registry: "
                             f"{_npm_reason(proc.stderr, proc.returncode)}")
        if _integrity(got) != KATEX_INTEGRITY:
            raise BuildError(f"{spec} from npm does not match its pinned digest; not using it")
        os.replace(got, tgz)          # atomic: a concurrent build sees all of it or nothing
    return tgz


def _katex_package(vendor: str) -> str:
    """The unpacked KaTeX package (its ``package/`` folder) in the cache."""
    tgz = _fetch_tarball(vendor)
    dest = os.path.join(vendor, f"katex-{KATEX_VERSION}")
    stamp = os.path.join(dest, ".integrity")
    if os.path.isfile(stamp):
        with open(stamp, encoding="ascii") as f:
            if f.read().strip() == KATEX_INTEGRITY:
                return os.path.join(dest, "package")
    tmp = tempfile.mkdtemp(dir=vendor, prefix=".unpack-")
    os.chmod(tmp, 0o755)
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:                                           # pragma: no cover (old Pythons)
                tar.extractall(tmp)
        with open(os.path.join(tmp, ".integrity"), "w", encoding="ascii") as f:
            f.write(KATEX_INTEGRITY + "\n")
        shutil.rmtree(dest, ignore_errors=True)
        try:
            os.replace(tmp, dest)
        except OSError:                                     # another build got there first
            if not os.path.isfile(stamp):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return os.path.join(dest, "package")


def vendor_katex(package: str, work: str) -> None:
    """Copy KaTeX's stylesheet, fonts, script and auto-render extension into the pages, with
    the script that runs it and the site's own style sheet."""
    dist = os.path.join(package, "dist")
    out = os.path.join(work, *KATEX_DIR.split("/"))
    os.makedirs(os.path.join(out, "contrib"), exist_ok=True)
    for rel in ("katex.min.css", "katex.min.js", "contrib/auto-render.min.js"):
        shutil.copy2(os.path.join(dist, *rel.split("/")), os.path.join(out, *rel.split("/")))
    shutil.copytree(os.path.join(dist, "fonts"), os.path.join(out, "fonts"))
    shutil.copy2(os.path.join(dist, os.pardir, "LICENSE"), os.path.join(out, "LICENSE"))
    for rel, text in ((MATH_JS, MATH_SCRIPT), (SITE_CSS, STYLE_SHEET)):
        path = os.path.join(work, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


# --------------------------------------------------------------------------- pages

def _module_file(path: str) -> bool:
    """Whether ``a.b.c`` is a module of this checkout with a file (not an import alias)."""
    base = os.path.join(ROOT, *path.split("."))
    return os.path.isfile(base + ".py") or os.path.isfile(os.path.join(base, "__init__.py"))


def _exists(path: str) -> bool:
    """A module with a file, or an object defined (not merely re-exported) by such a module."""
    if _module_file(path):
        return True
    parent, _, name = path.rpartition(".")
    if not parent or not _module_file(parent):
        return False
    try:
        obj = getattr(importlib.import_module(parent), name)
    except (ImportError, AttributeError):
        return False
    return getattr(obj, "__module__", parent) == parent


def _filter(text: str) -> str:
    out = []
    for line in text.splitlines():
        m = DIRECTIVE.match(line)
        if m and not _exists(m.group(1)):
            print(f"build_docs: {m.group(1)} is not in this checkout; its directive is dropped")
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def _site_path(repo_path: str) -> str | None:
    """Where a repository file sits in the site's pages, or None if it is not part of it."""
    if repo_path in OUTSIDE:
        return OUTSIDE[repo_path]
    if repo_path.startswith("docs/"):
        return repo_path[len("docs/"):]
    return None


def _relink(text: str, source: str, dest: str) -> str:
    """Rewrite the relative links of a page moved from ``source`` (repository path) to ``dest``
    (path in the site). A target outside the site that exists in the repository is unlinked
    (its text stays); an unknown target is left for mkdocs to report."""

    def target(url: str) -> str | None:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url) or url.startswith(("#", "/")):
            return url
        path, hashmark, frag = url.partition("#")
        repo = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
        site = _site_path(repo)
        if site is None:
            return None if os.path.exists(os.path.join(ROOT, repo)) else url
        rel = posixpath.relpath(site, posixpath.dirname(dest) or ".")
        return rel + hashmark + frag

    def inline(m: re.Match) -> str:
        bang, label, url, title = m.group(1), m.group(2), m.group(3), m.group(4) or ""
        new = target(url)
        if new is None:
            return m.group(0) if bang else label
        return f"{bang}[{label}]({new}{title})"

    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            ref = REFDEF.match(line)
            if ref:
                new = target(ref.group(2))
                line = ref.group(0) if new is None else ref.group(1) + new + ref.group(3)
            else:
                line = LINK.sub(inline, line)
        out.append(line)
    return "\n".join(out) + "\n"


def _title(path: str) -> str:
    fenced = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if FENCE.match(line):
                fenced = not fenced
            elif not fenced and line.startswith("# "):
                return line[2:].strip()
    return os.path.splitext(os.path.basename(path))[0]


def _ordered(names: list, order: list) -> list:
    """``names`` (page files) in the given order, then the rest alphabetically."""
    stems = {os.path.splitext(n)[0]: n for n in names}
    first = [stems[s] for s in order if s in stems]
    return first + sorted(n for n in names if n not in first)


def _pages(folder: str) -> list:
    if not os.path.isdir(folder):
        return []
    return [n for n in os.listdir(folder) if n.endswith(".md")]


def assemble(work: str) -> list:
    """Lay out the pages in ``work`` (mkdocs's docs_dir) and return the navigation."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "docs"), work)
    for src, dst in OUTSIDE.items():
        if os.path.isfile(os.path.join(ROOT, src)):
            shutil.copy2(os.path.join(ROOT, src), os.path.join(work, dst))
    sources = {dst: src for src, dst in OUTSIDE.items()}
    for folder, _, files in os.walk(work):
        for name in files:
            if not name.endswith(".md"):
                continue
            path = os.path.join(folder, name)
            dest = os.path.relpath(path, work).replace(os.sep, "/")
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if dest.startswith("api/"):
                text = _filter(text)
            text = _relink(text, sources.get(dest, "docs/" + dest), dest)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)

    nav: list = [{"Home": "index.md"}]
    guide = _ordered(_pages(os.path.join(work, "guide")), GUIDE)
    if guide:
        nav.append({"Guide": [{_title(os.path.join(work, "guide", n)): f"guide/{n}"}
                              for n in guide]})
    top = [n for n in _pages(work) if n not in ("index.md", "changelog.md")]
    for name in _ordered(top, REFERENCE):
        nav.append({_title(os.path.join(work, name)): name})
    if os.path.isfile(os.path.join(work, "changelog.md")):
        nav.append({"Changelog": "changelog.md"})
    api = _ordered(_pages(os.path.join(work, "api")), API)
    if api:
        nav.append({"API reference": [{_title(os.path.join(work, "api", n)): f"api/{n}"}
                                      for n in api]})
    return nav


# --------------------------------------------------------------------------- mkdocs

class _Warnings(logging.Handler):
    """Collects (and prints) every warning the build logs, whichever logger it came from."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = f"{record.levelname} - {record.getMessage()}"
        if msg not in self.messages:
            self.messages.append(msg)
            print(msg, file=sys.stderr)


def build_site(nav: list, work: str, site: str) -> None:
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort, ConfigurationError

    caught = _Warnings()
    loggers = [logging.getLogger(n) for n in ("mkdocs", "mkdocstrings", "griffe", "markdown")]
    for lg in loggers:
        lg.addHandler(caught)
    try:
        cfg = load_config(os.path.join(ROOT, "mkdocs.yml"), nav=nav, docs_dir=work,
                          site_dir=site, strict=True)
        build(cfg)
    except (Abort, ConfigurationError) as exc:
        raise BuildError(f"mkdocs failed: {exc}") from None
    finally:
        for lg in loggers:
            lg.removeHandler(caught)
    if caught.messages:
        raise BuildError(f"mkdocs logged {len(caught.messages)} warning(s); see above")


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", default=os.path.join(ROOT, "site"),
                    help="where the HTML goes (default: site/)")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "docs"),
                    help="where the pages are assembled (default: build/docs/)")
    ap.add_argument("--vendor", default=os.path.join(ROOT, "build", "vendor"),
                    help="cache of the npm download of KaTeX (default: build/vendor/)")
    args = ap.parse_args(argv)
    site, work, vendor = (os.path.abspath(p) for p in (args.site, args.work, args.vendor))

    sys.path.insert(0, ROOT)
    os.chdir(ROOT)
    start = time.perf_counter()
    try:
        katex = _katex_package(vendor)         # first: a failed fetch costs nothing else
        nav = assemble(work)
        vendor_katex(katex, work)
        build_site(nav, work, site)
    except BuildError as exc:
        print(f"build_docs: {exc}", file=sys.stderr)
        return 1
    took = time.perf_counter() - start
    print(f"build_docs: wrote {os.path.join(site, 'index.html')} in {took:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
