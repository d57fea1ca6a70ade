"""The house: every import of every module points down the layers, and no module imports itself
back through others. Read with ``ast`` (nothing is imported), lazy imports inside functions
included. The layer order below is the one written in docs/architecture.md."""

from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rfbjax")

#: rooms, lowest first; a module may import from its own layer or a lower one
LAYERS: list[tuple[str, ...]] = [
    ("rfbjax.errors", "rfbjax.base"),                       # 0 base
    ("rfbjax.kernels",),                                    # 1 pure array functions
    ("rfbjax.engine",),                                     # 2 Monte Carlo engine
    ("rfbjax.theory",),                                     # 3 exact theory, predictors
    ("rfbjax.remedies", "rfbjax.models", "rfbjax.layers"),  # 4 remedies | models | layers
    ("rfbjax.report",),                                     # 4½ signals in, reports out
    ("rfbjax.studies",),                                    # 5 studies
    ("rfbjax", "rfbjax.__main__", "rfbjax.api", "rfbjax.demo", "rfbjax.cli"),   # 6 edges
]

#: files allowed at the top of the package
TOP_FILES = {"__init__.py", "__main__.py", "api.py", "errors.py", "demo.py", "py.typed"}


def modules() -> dict[str, tuple[str, bool]]:
    """module name -> (path, is a package __init__)."""
    out = {}
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                pkg = rel.endswith(".__init__")
                out[rel[:-9] if pkg else rel] = (path, pkg)
    return out


def imports(name: str, path: str, is_pkg: bool, known) -> set[str]:
    """The rfbjax modules that ``name`` imports (the deepest existing module of each import)."""
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                full = ".".join(base + ([node.module] if node.module else []))
            else:
                full = node.module or ""
            targets = [f"{full}.{a.name}" for a in node.names]
        for t in targets:
            if t != "rfbjax" and not t.startswith("rfbjax."):
                continue
            while t not in known and "." in t:
                t = t.rsplit(".", 1)[0]
            if t in known and t != name:
                found.add(t)
    return found


def layer_of(name: str) -> int:
    best, level = -1, None
    for i, rooms in enumerate(LAYERS):
        for room in rooms:
            if (name == room or name.startswith(room + ".")) and len(room) > best:
                best, level = len(room), i
    assert level is not None, f"{name} is in no layer: add its room to LAYERS"
    return level


MODULES = modules()
GRAPH = {m: imports(m, p, pkg, MODULES) for m, (p, pkg) in MODULES.items()}


def test_every_module_has_a_layer():
    for m in MODULES:
        layer_of(m)


def test_imports_point_down():
    upward = [f"{m} (layer {layer_of(m)}) imports {t} (layer {layer_of(t)})"
              for m, ts in sorted(GRAPH.items()) for t in sorted(ts) if layer_of(t) > layer_of(m)]
    assert not upward, "\n".join(upward)


def test_the_library_never_imports_the_command_line():
    callers = ("rfbjax.cli", "rfbjax.demo", "rfbjax.__main__")
    found = [f"{m} imports {t}" for m, ts in sorted(GRAPH.items()) for t in sorted(ts)
             if (t == "rfbjax.cli" or t.startswith("rfbjax.cli."))
             and not any(m == c or m.startswith(c + ".") for c in callers)]
    assert not found, "\n".join(found)


def find_cycle(graph) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_nothing_in_the_library_imports_the_framework_layers():
    """rfbjax.layers needs Equinox or Flax: only its own modules may import it."""
    found = [f"{m} imports {t}" for m, ts in sorted(GRAPH.items()) for t in sorted(ts)
             if t.startswith("rfbjax.layers") and not m.startswith("rfbjax.layers")]
    assert not found, "\n".join(found)
    assert "rfbjax.layers.conv" in GRAPH["rfbjax.layers.flax"]


def test_no_import_circles():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_checks_can_fail():
    """The walker sees lazy imports and relative levels, and the cycle finder finds a circle."""
    assert "rfbjax.remedies.tightening" in GRAPH["rfbjax.remedies.initializers"]   # lazy, in a function
    assert "rfbjax.kernels.filters" in GRAPH["rfbjax.kernels.energy"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert layer_of("rfbjax.cli.common") > layer_of("rfbjax.studies.sweep") > layer_of("rfbjax.kernels")


def test_top_of_the_package_stays_small():
    extra = sorted(f for f in os.listdir(ROOT)
                   if os.path.isfile(os.path.join(ROOT, f)) and f not in TOP_FILES)
    assert not extra, f"files at the top of rfbjax/ outside {sorted(TOP_FILES)}: {extra}"


@pytest.mark.parametrize("room", ["base", "kernels", "engine", "remedies", "models", "layers",
                                  "report", "studies"])
def test_subpackage_inits_import_nothing_heavy(room):
    """Importing one module of a room runs its package's __init__: keep those free of imports."""
    path = os.path.join(ROOT, room, "__init__.py")
    tree = ast.parse(open(path, encoding="utf-8").read())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


# ----------------------------------------------------------------------------- the 0.1 paths
def _run(code: str) -> str:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-W", "always::DeprecationWarning", "-c", code],
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout + out.stderr


def test_old_paths_give_the_same_module_and_say_where_it_went():
    text = _run(
        "import sys, rfbjax\n"
        "assert 'numpy' not in sys.modules and 'jax' not in sys.modules\n"
        "import rfbjax.strided as old\n"
        "import rfbjax.kernels.strided as new\n"
        "assert old is new and sys.modules['rfbjax.strided'] is new\n"
        "import rfbjax.attack.search as s\n"
        "from rfbjax.studies.attack import search\n"
        "assert s is search and rfbjax.attack is sys.modules['rfbjax.studies.attack']\n"
        "from rfbjax.initializers import tight_fir, draw\n"
        "assert tight_fir.__module__ == 'rfbjax.remedies.initializers'\n"
        "assert draw.__module__ == 'rfbjax.kernels.initializers'\n"
        "print('OK')\n")
    assert "OK" in text
    assert "rfbjax.strided moved to rfbjax.kernels.strided" in text
    assert "rfbjax.attack.search moved to rfbjax.studies.attack.search" in text


def test_documented_paths_do_not_warn():
    text = _run(
        "import rfbjax, rfbjax.regularizers, rfbjax.theory.predictor, rfbjax.api\n"
        "assert rfbjax.regularizers.__name__ == 'rfbjax.remedies.regularizers'\n"
        "assert rfbjax.sweep.__name__ == 'rfbjax.studies.sweep'\n"
        "print('OK')\n")
    assert "OK" in text
    assert "regularizers moved" not in text
    assert "rfbjax.sweep moved to rfbjax.studies.sweep" in text   # attribute access warns too


def test_every_public_name_resolves():
    import warnings

    import rfbjax

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # the 0.1 submodule names
        for name in rfbjax.__all__:
            assert getattr(rfbjax, name) is not None, name
