#!/usr/bin/env python
"""Workload W3 of scripts/bench.py: strided frame bounds per second.

J = 40 filters of T = 1024 taps, N = 4096, stride d = 8 and d = 64; Gaussian filterbanks drawn
and measured end to end (draw, spectra, polyphase eigenvalues, A, B, kappa):

  rfbjax      rfbjax.engine.measure.sample_bounds(..., stride=d): jit, float32, one batched eigvalsh
              over (filterbanks, frequencies); only xi = 0..M/2 (real filters) and the smaller
              of the d×d and J×J Gram matrices (J×J when J < d);
  numpy       the way frequency-domain toolboxes do it: float64, one FFT per filter, then a
              Python loop over the N/d frequencies building the d×d matrix G^H G/d and calling
              numpy.linalg.eigvalsh on it (the target ratio, >= 20x, is against this one);
  numpy-alg   the same loop with rfbjax's algebra (xi = 0..M/2 and the smaller Gram): how much
              of the ratio is batching rather than algebra.

Each implementation runs in its own subprocess (its own threads and peak memory); rfbjax runs
once to compile and is then timed; the NumPy loops are timed on fewer filterbanks (they are
slow) and every figure is a rate (filterbanks per second). A check on 2 shared filterbanks
reports the largest relative difference of A and B between rfbjax (float32) and numpy.

    python scripts/bench_strided.py [--quick] [--samples 1000] [--json out/bench_strided.json]
    python scripts/bench.py --workloads W3 [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

J, T, N = 40, 1024, 4096
STRIDES = (8, 64)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def numpy_bounds(w, d: int, algebra: bool = False):
    """(A, B) of one filterbank ``(J, T)`` by a loop over frequencies (float64).

    ``algebra=False``: all N/d frequencies, the d×d matrix each (toolbox style);
    ``algebra=True``: xi = 0..M/2 and the J×J Gram when J < d (rfbjax's algebra, still a loop).
    """
    import numpy as np

    M = N // d
    W = np.fft.fft(w, n=N, axis=-1)
    lo, hi = np.inf, -np.inf
    small = algebra and w.shape[0] < d
    for xi in range(M // 2 + 1 if algebra else M):
        G = W[:, xi::M]
        H = (G @ G.conj().T if small else G.conj().T @ G) / d
        lam = np.linalg.eigvalsh(H)
        lo = min(lo, 0.0 if small else lam[0])
        hi = max(hi, lam[-1])
    return lo, hi


def worker(impl: str, d: int, S: int, max_memory: str) -> dict:
    import numpy as np

    if impl in ("numpy", "numpy-alg"):
        rng = np.random.default_rng(0)
        sigma = (d / (J * T)) ** 0.5
        t0 = time.perf_counter()
        for _ in range(S):
            A, B = numpy_bounds(sigma * rng.standard_normal((J, T)), d, impl == "numpy-alg")
            _ = B / A if A > 0 else np.inf
        return {"seconds": time.perf_counter() - t0, "samples": S, "peak_mb": _peak_mb()}
    from rfbjax.engine import montecarlo as mc
    from rfbjax.engine.measure import sample_bounds

    mem = mc.parse_memory(max_memory)
    t0 = time.perf_counter()
    sample_bounds(J, T, N, S, seed=0, stride=d, max_memory=mem)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    sample_bounds(J, T, N, S, seed=0, stride=d, max_memory=mem)
    return {"seconds": time.perf_counter() - t0, "first_seconds": first, "samples": S,
            "peak_mb": _peak_mb()}


def agreement(d: int) -> float:
    """Largest relative difference of A, B (relative to B) on 2 filterbanks: rfbjax vs numpy."""
    import numpy as np
    import jax.numpy as jnp

    from rfbjax.kernels.strided import strided_frame_bounds

    w = np.random.default_rng(1).standard_normal((2, J, T)) * (d / (J * T)) ** 0.5
    A, B = strided_frame_bounds(jnp.asarray(w, dtype=jnp.float32), N, d)
    err = 0.0
    for s in range(2):
        a0, b0 = numpy_bounds(w[s], d)
        a0 = max(a0, 0.0) if w.shape[1] >= d else 0.0
        err = max(err, abs(float(A[s]) - a0) / b0, abs(float(B[s]) - b0) / b0)
    return err


def _run_worker(impl, d, S, max_memory):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", impl, "--stride", str(d),
           "--samples", str(S), "--max-memory", max_memory]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_w3(quick: bool = False, samples: int | None = None, max_memory: str = "2GB",
           out=sys.stdout) -> list[dict]:
    """Measure both strides; print one line each; return the rows."""
    S = samples or (200 if quick else 1000)
    S_np = max(4, min(S, 20 if quick else 100))
    out.write(f"# W3 strided frame bounds: J={J} T={T} N={N}, rfbjax {S} / numpy {S_np} "
              f"filterbanks per stride, filterbanks/s\n")
    out.write(f"{'workload':<16}{'rfbjax/s':>10}{'numpy/s':>10}{'speedup':>9}{'np-alg/s':>10}"
              f"{'x np-alg':>9}{'rel.err':>9}{'1st s':>7}{'rfb MB':>8}\n")
    rows = []
    for d in STRIDES:
        r = _run_worker("rfbjax", d, S, max_memory)
        b = _run_worker("numpy", d, S_np, max_memory)
        c = _run_worker("numpy-alg", d, S_np, max_memory)
        rate = lambda x: x["samples"] / x["seconds"]  # noqa: E731
        row = {"workload": f"W3 strided d={d}", "J": J, "T": T, "N": N, "stride": d,
               "rfbjax_per_s": rate(r), "numpy_per_s": rate(b), "numpy_alg_per_s": rate(c),
               "speedup": rate(r) / rate(b), "speedup_vs_numpy_alg": rate(r) / rate(c),
               "rfbjax_s": r["seconds"], "rfbjax_first_s": r["first_seconds"],
               "rfbjax_samples": S, "numpy_samples": S_np, "rel_err": agreement(d),
               "rfbjax_peak_mb": r["peak_mb"], "numpy_peak_mb": b["peak_mb"]}
        rows.append(row)
        out.write(f"{row['workload']:<16}{row['rfbjax_per_s']:>10.1f}{row['numpy_per_s']:>10.1f}"
                  f"{row['speedup']:>8.1f}x{row['numpy_alg_per_s']:>10.1f}"
                  f"{row['speedup_vs_numpy_alg']:>8.1f}x{row['rel_err']:>9.1e}"
                  f"{row['rfbjax_first_s']:>7.1f}{row['rfbjax_peak_mb']:>8.0f}\n")
        out.flush()
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="200 filterbanks (numpy: 20)")
    ap.add_argument("--samples", type=int, default=None)
    ap.add_argument("--max-memory", default="2GB")
    ap.add_argument("--json", default=None)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--stride", type=int, default=8, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        S = args.samples or 200
        print(json.dumps(worker(args.worker, args.stride, S, args.max_memory)))
        return 0
    from benchlib import machine_info, save_results

    info = machine_info()
    rows = run_w3(args.quick, args.samples, args.max_memory)
    save_results(args.json, info, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
