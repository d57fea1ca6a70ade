"""Build the HTML documentation offline into site/ (``make docs``; open site/index.html).

Assembles build/docs from the README (the guide, as the home page), the pages under docs/ and
the API reference pages under docs/api/ (mkdocstrings ``::: module`` directives), drops the
directives for modules that this checkout does not have, sets the navigation and runs mkdocs.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "build", "docs")
DIRECTIVE = re.compile(r"^:::\s+([\w.]+)\s*$")


def _exists(path: str) -> bool:
    """A module, or an object defined (not merely re-exported) by its module."""
    try:
        if importlib.util.find_spec(path) is not None:
            return True
    except ModuleNotFoundError:
        pass
    parent, _, name = path.rpartition(".")
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
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def _title(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("# "):
                return line[2:].strip()
    return os.path.splitext(os.path.basename(path))[0]


def assemble() -> list:
    shutil.rmtree(SRC, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "docs"), SRC)
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    readme = readme.replace("](docs/", "](")          # images and pages now sit beside it
    with open(os.path.join(SRC, "index.md"), "w", encoding="utf-8") as f:
        f.write(readme)
    nav: list = [{"Guide": "index.md"}]
    for name in sorted(os.listdir(SRC)):
        if name.endswith(".md") and name != "index.md":
            nav.append({_title(os.path.join(SRC, name)): name})
    api = os.path.join(SRC, "api")
    pages = []
    for name in sorted(os.listdir(api)):
        if not name.endswith(".md"):
            continue
        p = os.path.join(api, name)
        with open(p, encoding="utf-8") as f:
            text = _filter(f.read())
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
        entry = {_title(p): f"api/{name}"}
        pages.insert(0, entry) if name == "index.md" else pages.append(entry)
    nav.append({"API reference": pages})
    return nav


def main() -> int:
    sys.path.insert(0, ROOT)
    os.chdir(ROOT)
    nav = assemble()
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    cfg = load_config(os.path.join(ROOT, "mkdocs.yml"), nav=nav)
    build(cfg)
    print(f"wrote {os.path.join(ROOT, 'site', 'index.html')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
