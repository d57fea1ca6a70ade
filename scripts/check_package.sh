#!/usr/bin/env bash
# Build the wheel and the sdist, install the wheel into a fresh virtual environment and run the
# command line from outside the checkout: a module left out of the package, a missing data file
# or an import of a test helper fails here, not on a user's machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$PY" -m build --sdist --wheel --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log"; echo "check_package: building the wheel and sdist failed"; exit 1; }
WHEEL="$(ls "$WORK"/dist/rfbjax-*.whl)"
SDIST="$(ls "$WORK"/dist/rfbjax-*.tar.gz)"
# the sdist carries what a rebuild needs
listing="$(tar -tzf "$SDIST")"
for f in LICENSE CHANGELOG.md README.md pyproject.toml rfbjax/py.typed; do
    grep -q "^rfbjax-[^/]*/$f$" <<<"$listing" || { echo "check_package: $f missing from the sdist"; exit 1; }
done
# every module of the checkout is in the wheel
missing="$("$PY" - "$WHEEL" <<'PY'
import os, sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
for folder, dirs, files in os.walk("rfbjax"):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    for f in files:
        if f.endswith(".py") or f == "py.typed":
            path = os.path.join(folder, f).replace(os.sep, "/")
            if path not in names:
                print(path)
PY
)"
[ -z "$missing" ] || { echo "check_package: not in the wheel: $missing"; exit 1; }
"$PY" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -qq "$WHEEL"
cd "$WORK"   # away from the checkout, so only the installed package can be imported
"$WORK/venv/bin/rfbjax" --version
"$WORK/venv/bin/rfbjax" --help >/dev/null
"$WORK/venv/bin/rfbjax" bounds --J 4 --T 8,16 --N 64 --samples 50 --quiet --json "$WORK/b.json"
"$WORK/venv/bin/python" -c "import json, sys; rows = json.load(open(sys.argv[1])); print('check_package: installed wheel ran bounds,', len(rows['rows']), 'rows')" "$WORK/b.json"
