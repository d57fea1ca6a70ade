#!/usr/bin/env python3
"""The accelerator checklist behind ``scripts/gpu_check.sh``: one run, JSON + Markdown.

Measures, on whatever JAX's default backend is (GPU/TPU; on CPU at toy sizes, and says so):

* platform and device; the block policy in force;
* W1 (frame bounds, J = 40, T = 1024, N = 1024), W2 (energy, two built-in signals of the clips'
  length, 22050 samples, J = 10, T = 1024) and W3 (strided frame bounds, J = 40, T = 1024,
  N = 4096, stride 8) in filterbanks per second (steady state: a first call compiles);
* the RNG floor: per-sample keys and ``jax.random.normal`` of W1's J·T taps, in normals/s and
  filterbanks/s, and W1's ratio to it;
* W1's filterbanks/s against the block size;
* the README's 7 × 10 sweep grid (``rfbjax sweep``, J = 4…256, T = 8…4096, N = 4T) as whole
  processes, cold (empty compilation cache) and warm (the same again), in cells per minute,
  with XLA compile time counted separately from the ``JAX_LOG_COMPILES`` log;
* peak device memory (``memory_stats``; peak resident memory on CPU);
* bit-identity of W1 across memory budgets (``--max-memory``).

Only the library, JAX, NumPy and the standard library are used; no file is read (no
soundfile), and the compilation cache lives under the output folder.

    python3 scripts/gpu_check.py OUT_DIR [--toy]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

FULL = {"W1": dict(J=40, T=1024, N=1024, S=65536), "W2": dict(J=10, T=1024, N=22050, S=16384),
        "W3": dict(J=40, T=1024, N=4096, S=4096, stride=8),
        "sweep": dict(J="4:256:log2", T="8:4096:log2", N="4T", S=2000),
        "blocks": [16, 64, 256, 1024, 4096], "bit_S": 4096}
TOY = {"W1": dict(J=4, T=32, N=64, S=128), "W2": dict(J=4, T=32, N=2205, S=128),
       "W3": dict(J=4, T=32, N=64, S=64, stride=8),
       "sweep": dict(J="4:8:log2", T="8:16:log2", N="4T", S=32),
       "blocks": [4, 16], "bit_S": 100}


def _timed(f, *, repeat: int = 1):
    """Seconds of the fastest of ``repeat`` calls after a first (compiling) call."""
    t0 = time.perf_counter()
    f()
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return first, best


def _peak_device_bytes(dev):
    try:
        stats = dev.memory_stats()
        return int(stats["peak_bytes_in_use"]) if stats and "peak_bytes_in_use" in stats else None
    except Exception:
        return None


def _sweep(cfg, out_dir, cache, env) -> dict:
    """One whole-process ``rfbjax sweep`` run: seconds, cells, compile seconds and cache hits."""
    cmd = [sys.executable, "-m", "rfbjax", "sweep", "--J", cfg["J"], "--T", cfg["T"],
           "--N", cfg["N"], "--samples", str(cfg["S"]), "--out", out_dir, "--quiet"]
    e = dict(env, RFBJAX_CACHE_DIR=cache, JAX_LOG_COMPILES="1")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=e, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"gpu_check: {' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    compile_s = sum(float(m) for m in re.findall(r"Finished XLA compilation of .*? in ([0-9.eE+-]+) sec",
                                                 proc.stderr))
    cells_dir = os.path.join(out_dir, "cells")
    cells = len([n for n in os.listdir(cells_dir) if n.endswith(".json") and n.startswith("J")])
    return {"seconds": seconds, "cells": cells, "cells_per_minute": 60.0 * cells / seconds,
            "compiles": proc.stderr.count("Finished XLA compilation"),
            "cache_hits": proc.stderr.count("Persistent compilation cache hit"),
            "xla_compile_seconds": compile_s}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="output folder (JSON and Markdown written here)")
    ap.add_argument("--toy", action="store_true", help="toy sizes even on an accelerator")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    cache = os.path.join(os.path.abspath(args.out), "compile-cache")
    shutil.rmtree(cache, ignore_errors=True)
    os.environ["RFBJAX_CACHE_DIR"] = cache       # ours, empty: cold numbers are cold

    import numpy as np
    import jax
    import jax.numpy as jnp

    from rfbjax.engine import montecarlo as mc
    from rfbjax.kernels import rng
    from rfbjax.engine.measure import bounds_measurement, sample_bounds, sample_energy
    from rfbjax.report.signals import make_signal

    dev = jax.devices()[0]
    accel = dev.platform != "cpu"
    toy = args.toy or not accel
    size = TOY if toy else FULL
    t_start = time.perf_counter()
    info = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "platform": dev.platform,
            "device": str(dev.device_kind), "devices": jax.device_count(),
            "jax": jax.__version__, "toy": toy, "block_policy": mc.choose_block_policy(),
            "loadavg": os.getloadavg()}
    mode = "TOY sizes (no accelerator: CPU run)" if toy and not accel else \
        ("TOY sizes (--toy)" if toy else "full sizes")
    print(f"# gpu_check {info['date']}: {dev.platform} {dev.device_kind} x{info['devices']}, "
          f"{mode}, block policy {info['block_policy']}", flush=True)
    rows = []

    def add(item, value, unit, note=""):
        rows.append({"item": item, "value": value, "unit": unit, "note": note})
        v = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{item:<44}{v:>14} {unit:<16}{note}", flush=True)

    # W1, W2, W3 -----------------------------------------------------------------------------
    w1 = size["W1"]
    first, best = _timed(lambda: sample_bounds(w1["J"], w1["T"], w1["N"], w1["S"], seed=0))
    w1_rate = w1["S"] / best
    add("W1 frame bounds", w1_rate, "filterbanks/s",
        f"J={w1['J']} T={w1['T']} N={w1['N']} S={w1['S']}; first call {first:.2f} s")
    w2 = size["W2"]
    xs = [make_signal(n, w2["N"]) for n in ("vowel", "flute")]
    first, best = _timed(lambda: sample_energy(xs, w2["J"], w2["T"], w2["S"], seed=0))
    add("W2 energy (2 signals)", w2["S"] / best, "filterbanks/s",
        f"J={w2['J']} T={w2['T']} N={w2['N']} S={w2['S']}; first call {first:.2f} s")
    w3 = size["W3"]
    first, best = _timed(lambda: sample_bounds(w3["J"], w3["T"], w3["N"], w3["S"], seed=0,
                                               stride=w3["stride"]))
    add("W3 strided frame bounds", w3["S"] / best, "filterbanks/s",
        f"J={w3['J']} T={w3['T']} N={w3['N']} d={w3['stride']} S={w3['S']}; "
        f"first call {first:.2f} s")

    # RNG floor at W1's size -----------------------------------------------------------------
    key = mc.stream_key(0, "gpu_check", w1["J"], w1["T"])
    draw = jax.jit(lambda idx: jnp.sum(jax.vmap(
        lambda k: rng.normal(k, (w1["J"], w1["T"]), jnp.float32))(
        mc.sample_keys(key, idx)), axis=(1, 2)))
    idx = jnp.arange(w1["S"], dtype=jnp.uint32)
    first, best = _timed(lambda: draw(idx).block_until_ready(), repeat=2)
    floor = w1["S"] / best
    add("RNG floor (normals at W1 size)", floor * w1["J"] * w1["T"], "normals/s",
        f"= {floor:.4g} filterbanks/s")
    add("W1 / RNG floor", w1_rate / floor, "ratio", "target >= 0.5 (within 2x)")

    # block sizes ----------------------------------------------------------------------------
    m = bounds_measurement(w1["J"], w1["T"], w1["N"])
    k1 = mc.stream_key(0, *m.tags)
    auto = mc.block_size(m.bytes_per_sample, mc.choose_block_policy(),
                         mc._device_memory(None))
    block_rates = {}
    for b in sorted(set(size["blocks"]) | {auto}):
        if b > w1["S"]:
            continue
        _, best = _timed(lambda: mc.run(m.fn, k1, w1["S"], bytes_per_sample=m.bytes_per_sample,
                                        progress=False, block=b))
        block_rates[b] = w1["S"] / best
        add(f"W1 block {b}" + (" (policy)" if b == auto else ""), block_rates[b],
            "filterbanks/s")

    # bit-identity across memory budgets -----------------------------------------------------
    S = size["bit_S"]
    big = sample_bounds(w1["J"], w1["T"], w1["N"], S, seed=3)
    small = sample_bounds(w1["J"], w1["T"], w1["N"], S, seed=3,
                          max_memory=3 * m.bytes_per_sample * max(1, auto) + 64 * S)
    same = all(np.array_equal(big[k], small[k]) for k in ("A", "B", "kappa"))
    add("bit-identical across --max-memory", "yes" if same else "NO", "", f"S={S}")

    peak = _peak_device_bytes(dev)
    if peak is not None:
        add("peak device memory", peak / 2 ** 20, "MiB")
    else:
        add("peak resident memory (host)",
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, "MiB",
            "no device memory statistics on this platform")

    # the 7 x 10 sweep grid, cold then warm, whole processes ---------------------------------
    sw = size["sweep"]
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    sweep_cache = os.path.join(os.path.abspath(args.out), "sweep-cache")
    shutil.rmtree(sweep_cache, ignore_errors=True)
    runs = {}
    for phase in ("cold", "warm"):
        d = os.path.join(os.path.abspath(args.out), f"sweep-{phase}")
        shutil.rmtree(d, ignore_errors=True)
        runs[phase] = r = _sweep(sw, d, sweep_cache, env)
        add(f"sweep {sw['J']} x {sw['T']} {phase}", r["cells_per_minute"], "cells/minute",
            f"{r['cells']} cells, S={sw['S']}, {r['seconds']:.1f} s, {r['compiles']} XLA "
            f"compilations ({r['cache_hits']} cache hits) {r['xla_compile_seconds']:.1f} s")
        shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(sweep_cache, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)

    info["seconds"] = time.perf_counter() - t_start
    result = {"info": info, "rows": rows, "block_rates": {str(k): v for k, v in block_rates.items()},
              "sweep": runs, "sizes": size}
    with open(os.path.join(args.out, "gpu_check.json"), "w") as f:
        json.dump(result, f, indent=2)
    lines = [f"gpu_check {info['date']}: {info['platform']} {info['device']} "
             f"x{info['devices']}, jax {info['jax']}, {mode}, block policy "
             f"{info['block_policy']}, {info['seconds']:.0f} s", "",
             "| item | value | unit | note |", "|---|---|---|---|"]
    for r in rows:
        v = f"{r['value']:.4g}" if isinstance(r["value"], float) else str(r["value"])
        lines.append(f"| {r['item']} | {v} | {r['unit']} | {r['note']} |")
    with open(os.path.join(args.out, "gpu_check.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"# wrote {args.out}/gpu_check.json and gpu_check.md ({info['seconds']:.0f} s)")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
