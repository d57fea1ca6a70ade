"""W1 in PyTorch float32 (CPU threads = cores): κ = B/A of S Gaussian filterbanks per T."""

import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import parse, report  # noqa: E402

a = parse("W1")
J, N = 40, 1024
g = torch.Generator().manual_seed(0)
t0 = time.perf_counter()
total = 0.0
with torch.inference_mode():
    for T in a.T:
        sigma = (1.0 / (J * T)) ** 0.5
        w = torch.empty((a.chunk, J, T), dtype=torch.float32)
        for s0 in range(0, a.samples, a.chunk):
            m = min(a.chunk, a.samples - s0)
            torch.randn(w[:m].shape, generator=g, out=w[:m])
            P = torch.fft.rfft(w[:m] * sigma, n=N, dim=-1).abs().square().sum(dim=1)
            total += float((P.amax(-1) / P.amin(-1)).sum())
report(time.perf_counter() - t0, total)
