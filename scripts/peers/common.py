"""What the peer scripts share: arguments, WAV reading (standard library only), the JSON line."""

from __future__ import annotations

import argparse
import json
import resource
import sys
import wave

import numpy as np

DEFAULT_T = "8,16,32,64,128,256,512,1024"


def parse(workload: str):
    p = argparse.ArgumentParser(description=f"peer script, workload {workload}")
    if workload == "W4":
        p.add_argument("weights", help="(J, T) float32 .npy")
        p.add_argument("--stride", type=int, default=1)
        p.add_argument("--N", type=int, default=None, help="the grid (default 4T, a multiple of d)")
        p.add_argument("--target", type=float, default=1.01)
        p.add_argument("--max-iter", type=int, default=2000)
        p.add_argument("--save", default=None, help="write the tightened taps here (.npy)")
        return p.parse_args()
    p.add_argument("--T", default="1024" if workload == "W3" else DEFAULT_T)
    p.add_argument("--samples", type=int,
                   default={"W1": 2000, "W2": 1000, "W3": 200}[workload])
    p.add_argument("--chunk", type=int,
                   default={"W1": 250, "W2": 1000, "W3": 25}[workload])
    if workload == "W2":
        p.add_argument("wavs", nargs="+")
    if workload == "W3":
        p.add_argument("--stride", type=int, default=8)
        p.add_argument("--N", type=int, default=4096)
    a = p.parse_args()
    a.T = [int(t) for t in a.T.split(",")]
    return a


def read_wav(path: str) -> np.ndarray:
    with wave.open(path, "rb") as f:
        if f.getsampwidth() != 2:
            sys.exit(f"{path}: 16-bit PCM expected")
        x = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.float64)
        return x.reshape(-1, f.getnchannels()).mean(axis=1) / 32768.0


def circular_lags(x: np.ndarray, T: int) -> np.ndarray:
    """R_x(τ), τ = 0 … T−1, circular (N-periodic), float64."""
    X = np.fft.rfft(x)
    return np.fft.irfft(X.real ** 2 + X.imag ** 2, n=x.size)[:T]


def report(seconds: float, checksum: float, **extra) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "checksum": checksum, **extra}))
