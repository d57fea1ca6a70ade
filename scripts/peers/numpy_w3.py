"""W3 in NumPy float32 + scipy.fft: strided frame bounds A, B (and κ) of S Gaussian filterbanks.

The same algebra as `torch_w3.py` (polyphase matrices G(ξ), J × d, at ξ = 0 … M/2; eigenvalues
of G(ξ)ᴴG(ξ)/d), with one stacked `numpy.linalg.eigvalsh` (complex64) per chunk.
"""

import os
import sys
import time

import numpy as np
import scipy.fft

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import parse, report  # noqa: E402

a = parse("W3")
J, N, d = 40, a.N, a.stride
M = N // d
rng = np.random.default_rng(0)
t0 = time.perf_counter()
total = 0.0
for T in a.T:
    sigma = np.float32((d / (J * T)) ** 0.5)
    w = np.empty((a.chunk, J, T), np.float32)
    for s0 in range(0, a.samples, a.chunk):
        m = min(a.chunk, a.samples - s0)
        rng.standard_normal(out=w[:m], dtype=np.float32)
        W = scipy.fft.fft(w[:m] * sigma, n=N, axis=-1, workers=-1)   # (m, J, N) complex64
        G = W.reshape(m, J, d, M)[..., : M // 2 + 1].transpose(0, 3, 1, 2)   # (m, ξ, J, d)
        H = np.matmul(G.conj().transpose(0, 1, 3, 2), G) / np.float32(d)
        lam = np.linalg.eigvalsh(H)                                          # ascending
        total += float(np.sum(lam[..., -1].max(-1) / lam[..., 0].min(-1)))
report(time.perf_counter() - t0, total)
