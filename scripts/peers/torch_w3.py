"""W3 in PyTorch float32: strided frame bounds A, B (and κ) of S Gaussian filterbanks.

J filters of T taps at stride d on an N-point grid (M = N/d): at each frequency ξ the polyphase
matrix G(ξ) is J × d with entries Ŵ_j(ξ + mM); the frame operator's eigenvalues at ξ are those
of G(ξ)ᴴG(ξ)/d. Real taps make G(M − ξ) the conjugate of G(ξ), so ξ = 0 … M/2 suffice. One
batched `torch.linalg.eigvalsh` per chunk of filterbanks over all those frequencies.
"""

import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import parse, report  # noqa: E402

a = parse("W3")
J, N, d = 40, a.N, a.stride
M = N // d
g = torch.Generator().manual_seed(0)
t0 = time.perf_counter()
total = 0.0
with torch.inference_mode():
    for T in a.T:
        sigma = (d / (J * T)) ** 0.5
        w = torch.empty((a.chunk, J, T), dtype=torch.float32)
        for s0 in range(0, a.samples, a.chunk):
            m = min(a.chunk, a.samples - s0)
            torch.randn(w[:m].shape, generator=g, out=w[:m])
            W = torch.fft.fft(w[:m] * sigma, n=N, dim=-1)            # (m, J, N) complex64
            G = W.reshape(m, J, d, M)[..., : M // 2 + 1]              # [s, j, r, ξ] = Ŵ_j(ξ + rM)
            G = G.permute(0, 3, 1, 2)                                 # (m, ξ, J, d)
            lam = torch.linalg.eigvalsh(G.mH @ G / d)                 # (m, ξ, d), ascending
            A = lam[..., 0].amin(-1)
            B = lam[..., -1].amax(-1)
            total += float((B / A).sum())
report(time.perf_counter() - t0, total)
