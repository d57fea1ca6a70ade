#!/usr/bin/env python
"""Sweep benchmark: the 7 x 10 grid J = 4…256, T = 8…4096, N = 4T, 2000 samples per
cell; cells per minute, peak memory, and the scaling-law coefficients with bootstrap intervals.

    python scripts/bench_sweep.py --out out/sweep_grid [--samples 2000] [--J 4:256:log2] [--T 8:4096:log2]

The sweep is resumable: re-running skips finished cells (the timing then covers new cells only).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/sweep_grid")
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--J", default="4:256:log2")
    ap.add_argument("--T", default="8:4096:log2")
    ap.add_argument("--kappa", default="2,3,5")
    ap.add_argument("--bootstrap", type=int, default=500)
    args = ap.parse_args(argv)

    import jax

    from rfbjax.cli import main as cli

    t0 = time.perf_counter()
    rc = cli(["sweep", "--J", args.J, "--T", args.T, "--N", "4T", "--samples", str(args.samples),
              "--out", args.out, "--quiet"])
    if rc:
        return rc
    elapsed = time.perf_counter() - t0
    with open(os.path.join(args.out, "summary.json")) as f:
        cells = json.load(f)["cells"]
    cell_seconds = sum(c["seconds"] for c in cells)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rc = cli(["scaling-law", args.out, "--kappa", args.kappa, "--bootstrap", str(args.bootstrap),
              "--figures"])
    info = {"date": time.strftime("%Y-%m-%d"), "backend": jax.default_backend(),
            "device": jax.devices()[0].device_kind, "devices": jax.device_count(),
            "cpus": os.cpu_count(), "cells": len(cells), "samples": args.samples,
            "wall_seconds_this_run": elapsed, "sum_cell_seconds": cell_seconds,
            "cells_per_minute": 60 * len(cells) / cell_seconds, "peak_rss_mb": peak_mb}
    print(json.dumps(info, indent=2))
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump(info, f, indent=2)
    return rc


if __name__ == "__main__":
    sys.exit(main())
