"""W2 in NumPy float32 + scipy.fft: ‖Φx‖²/‖x‖² through ρ(τ) (filter autocorrelation) and R_x(τ)."""

import os
import sys
import time

import numpy as np
import scipy.fft

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import circular_lags, parse, read_wav, report  # noqa: E402

a = parse("W2")
J = 10
xs = [read_wav(p) for p in a.wavs]
rng = np.random.default_rng(0)
t0 = time.perf_counter()
total = 0.0
for T in a.T:
    R = np.stack([circular_lags(x, T) / np.dot(x, x) for x in xs]).astype(np.float32)  # (M, T)
    R[:, 1:] *= 2.0          # ρ is even: Σ_τ over ±τ
    sigma = np.float32((1.0 / (J * T)) ** 0.5)
    w = np.empty((a.chunk, J, T), np.float32)
    for s0 in range(0, a.samples, a.chunk):
        m = min(a.chunk, a.samples - s0)
        rng.standard_normal(out=w[:m], dtype=np.float32)
        W = scipy.fft.rfft(w[:m] * sigma, n=2 * T, axis=-1, workers=-1)
        rho = scipy.fft.irfft(np.sum(W.real ** 2 + W.imag ** 2, axis=1), n=2 * T, axis=-1,
                              workers=-1)[:, :T]                                   # (m, T)
        total += float(np.sum(rho @ R.T))
report(time.perf_counter() - t0, total)
