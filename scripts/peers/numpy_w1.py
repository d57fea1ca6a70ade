"""W1 in NumPy float32 + scipy.fft (threads = cores): κ = B/A of S Gaussian filterbanks per T."""

import os
import sys
import time

import numpy as np
import scipy.fft

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import parse, report  # noqa: E402

a = parse("W1")
J, N = 40, 1024
rng = np.random.default_rng(0)
t0 = time.perf_counter()
total = 0.0
for T in a.T:
    sigma = np.float32((1.0 / (J * T)) ** 0.5)
    w = np.empty((a.chunk, J, T), np.float32)
    for s0 in range(0, a.samples, a.chunk):
        m = min(a.chunk, a.samples - s0)
        rng.standard_normal(out=w[:m], dtype=np.float32)
        W = scipy.fft.rfft(w[:m] * sigma, n=N, axis=-1, workers=-1)
        P = np.sum(W.real ** 2 + W.imag ** 2, axis=1)
        total += float(np.sum(P.max(-1) / P.min(-1)))
report(time.perf_counter() - t0, total)
