"""Benchmark: a model-wide ``rfbjax audit`` of a CREPE-full-sized model with default settings.

Six conv layers (PyTorch layout): 1024x1x512 (stride 4), 128x1024x64, 128x128x64, 128x128x64,
256x128x64, 512x256x64, Gaussian weights, written as one safetensors file in a temporary folder.
The audit runs as the command line does (a subprocess: ``rfbjax audit MODEL --stride conv1=4``,
default N, default draws; the Riesz bounds of every layer come with it, and the layers with
J < C·stride get a reference of their Riesz κ), timed end to end (wall clock, and CPU time: on a machine shared with other work the wall clock
measures the load, the CPU time the audit), with its peak resident memory. A baseline measured in
the same run (complex 128x128 eigenvalue problems per second, the audit's inner work) lets
timings be compared across machines and loads; ``uptime`` is recorded with them.

Usage: ``python scripts/bench_audit_model.py [--json out.json] [--draws N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import machine_info, save_results  # noqa: E402

SHAPES = {"conv1": (1024, 1, 512), "conv2": (128, 1024, 64), "conv3": (128, 128, 64),
          "conv4": (128, 128, 64), "conv5": (256, 128, 64), "conv6": (512, 256, 64)}


def baseline() -> float:
    """Complex Hermitian 128x128 eigenvalue problems per second (numpy, this process)."""
    r = np.random.default_rng(0)
    G = r.standard_normal((64, 128, 128)) + 1j * r.standard_normal((64, 128, 128))
    H = G @ np.conj(np.swapaxes(G, -1, -2))
    t = time.perf_counter()
    np.linalg.eigvalsh(H)
    return 64 / (time.perf_counter() - t)


def main() -> int:
    from safetensors.numpy import save_file

    from rfbjax.models.audits import default_N, draw_work, reference_draws

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--draws", type=int, default=1000)
    args = ap.parse_args()
    info = {**machine_info(), "uptime_before": os.popen("uptime").read().strip(),
            "baseline_eig128_per_s": baseline()}
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="rfbjax-bench-audit-") as tmp:
        tensors = {}
        for name, shp in SHAPES.items():
            tensors[f"{name}.weight"] = (rng.standard_normal(shp) / np.sqrt(shp[1] * shp[2])
                                         ).astype(np.float32)
            tensors[f"{name}.bias"] = np.zeros(shp[0], np.float32)
        path = os.path.join(tmp, "crepe_full.safetensors")
        save_file(tensors, path)
        for name, (J, C, T) in SHAPES.items():
            d = 4 if name == "conv1" else 1
            N = default_N(T, d)
            rows.append({"layer": name, "shape": [J, C, T], "stride": d, "N": N,
                         "draws": reference_draws(J, C, T, N, d, draws=args.draws,
                                                  of="kappa" if J >= C * d else "riesz_kappa"),
                         "work_per_draw": draw_work(J, C, T, N, d)})
        cmd = [sys.executable, "-m", "rfbjax", "audit", path, "--stride", "conv1=4",
               "--draws", str(args.draws), "--out", os.path.join(tmp, "out")]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak = usage.ru_maxrss * 1024
        cpu = usage.ru_utime + usage.ru_stime
        if proc.returncode:
            sys.stderr.write(proc.stderr)
            return proc.returncode
        table = proc.stdout
    info.update(uptime_after=os.popen("uptime").read().strip(), wall_s=wall, cpu_s=cpu,
                peak_rss_bytes=peak, command=" ".join(cmd[1:3] + ["MODEL"] + cmd[4:-2]))
    print(table)
    for r in rows:
        print(f"{r['layer']:6s} {'x'.join(map(str, r['shape'])):>12s} stride {r['stride']} "
              f"N {r['N']:5d} draws {r['draws']:5d} work/draw {r['work_per_draw']:.3g}")
    print(f"wall {wall:.1f} s, CPU {cpu:.1f} s (user + system), peak RSS {peak / 2 ** 30:.2f} GiB, baseline "
          f"{info['baseline_eig128_per_s']:.0f} eig128/s; {info['uptime_before']}")
    save_results(args.json, info, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
