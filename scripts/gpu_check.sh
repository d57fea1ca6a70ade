#!/usr/bin/env bash
# The accelerator checklist: throughput, RNG floor, block sizes, sweep cells per
# minute cold and warm, peak device memory and bit-identity, as JSON and a Markdown table.
#
#   OUT=out/gpu-check bash scripts/gpu_check.sh          # default OUT: out/gpu-check
#
# Runs with the python3 already on the machine (jax, numpy, optax, chex, matplotlib,
# safetensors, tqdm): no pip, no network, no files read. On a GPU/TPU it takes a few minutes
# at full sizes; on a CPU-only machine it runs the same steps at toy sizes (about a minute)
# and says so. Extra arguments go to scripts/gpu_check.py (e.g. --toy).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
OUT="${OUT:-out/gpu-check}"
PY="${PYTHON:-python3}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
mkdir -p "$OUT"
"$PY" - <<'PYEOF'
import importlib.util, sys
missing = [m for m in ("jax", "numpy", "tqdm") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit("gpu_check: missing Python packages: " + ", ".join(missing))
PYEOF
exec "$PY" "$HERE/gpu_check.py" "$OUT" "$@"
