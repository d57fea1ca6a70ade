"""W2 in PyTorch float32: ‖Φx‖²/‖x‖² through ρ(τ) (filter autocorrelation) and R_x(τ)."""

import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import circular_lags, parse, read_wav, report  # noqa: E402

a = parse("W2")
J = 10
xs = [read_wav(p) for p in a.wavs]
g = torch.Generator().manual_seed(0)
t0 = time.perf_counter()
total = 0.0
with torch.inference_mode():
    for T in a.T:
        R = np.stack([circular_lags(x, T) / np.dot(x, x) for x in xs]).astype(np.float32)
        R[:, 1:] *= 2.0
        R = torch.from_numpy(R)
        sigma = (1.0 / (J * T)) ** 0.5
        w = torch.empty((a.chunk, J, T), dtype=torch.float32)
        for s0 in range(0, a.samples, a.chunk):
            m = min(a.chunk, a.samples - s0)
            torch.randn(w[:m].shape, generator=g, out=w[:m])
            W = torch.fft.rfft(w[:m] * sigma, n=2 * T, dim=-1)
            rho = torch.fft.irfft(W.abs().square().sum(dim=1), n=2 * T, dim=-1)[:, :T]
            total += float((rho @ R.T).sum())
report(time.perf_counter() - t0, total)
