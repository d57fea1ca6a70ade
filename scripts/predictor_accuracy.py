#!/usr/bin/env python
"""Accuracy of the sampling-free frame-bound predictor against Monte Carlo (issue 3).

For every cell (J, T) of a grid, with N = 4T DFT bins (circular, stride 1):

* Monte Carlo: S Gaussian filterbanks (taps i.i.d. N(0, 1/(JT))), A = min P, B = max P on the
  grid, kappa = B/A, via ``rfbjax.montecarlo`` (chunked; cells cached as .npz);
* ``rfbjax.theory.predictor.predict(J, T, N)`` (no sampling);
* the paper's closed form ``kappa_tilde_paper(J, T)`` (undefined where J <= 4 log T).

Prints the per-cell table and a summary line, writes ``predictor_accuracy.csv`` and
``predictor_accuracy.png`` under ``--out``.

    python scripts/predictor_accuracy.py [--samples 2000] [--J 4 8 ...] [--T 8 16 ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # noqa: E402

DEFAULT_J = (4, 8, 16, 32, 64, 128, 256)
DEFAULT_T = (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
DEFAULT_CACHE = "/tmp/predictor_cache"


def mc_cell(J: int, T: int, N: int | None, samples: int, *, seed: int = 0,
            cache_dir: str | None = DEFAULT_CACHE) -> dict:
    """Monte Carlo frame bounds of one cell: ``{"A": (S,), "B": (S,)}`` (float32 draws).

    ``N=None`` is linear convolution on l2(Z) (continuous frequency). Cached in ``cache_dir``
    under a name that fixes (J, T, N, S, seed), so a re-run only reads files.
    """
    tag = "lin" if N is None else f"N{N}"
    path = None
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        path = os.path.join(cache_dir, f"cell_J{J}_T{T}_{tag}_S{samples}_seed{seed}.npz")
        if os.path.exists(path):
            with np.load(path) as z:
                return {"A": z["A"], "B": z["B"], "seconds": float(z["seconds"])}
    from rfbjax import filters, frames, montecarlo as mc
    from rfbjax.autocorr import filterbank_autocorr

    def fn(key):
        w = filters.gaussian_filterbank(key, J, T)
        if N is None:
            A, B = frames.linear_frame_bounds(filterbank_autocorr(w))
        else:
            A, B = frames.circular_frame_bounds(w, N)
        return {"A": A, "B": B}

    width = max(N or 8 * T, 2 * T)
    t0 = time.perf_counter()
    out = mc.run(fn, mc.stream_key(seed, "gaussian", J, T, 1.0, "float32"), samples,
                 bytes_per_sample=4 * J * width * 3, progress=False)
    seconds = time.perf_counter() - t0
    A, B = np.asarray(out["A"]), np.asarray(out["B"])
    if path:
        tmp = path + ".tmp.npz"
        np.savez(tmp, A=A, B=B, seconds=seconds)
        os.replace(tmp, path)
    return {"A": A, "B": B, "seconds": seconds}
