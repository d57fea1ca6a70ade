r"""Training and held-out signal sets for the training study: excerpts of N samples, unit energy.

Built-in sources (`rfbjax.report.signals`): ``white`` and ``brownian`` noise, ``sine`` tones,
the ``vowel`` (speech) and ``flute`` stand-ins and the ``snare`` burst. Each noise or sound
source is generated once, long, and cut into N-sample excerpts: training excerpts start in the
first 75 % of the source, held-out excerpts in the last 25 %, so the two sets never share a
sample. Tones get a random number of cycles (uniform on [1, N/2 − 1]), drawn separately for
each set. With audio files (``--audio``) the files replace the built-ins: each file is split
the same way (first 75 % / last 25 %). Excerpts whose energy is below 10⁻⁴ of the loudest
excerpt of their source (silence) are skipped. Every excerpt is scaled to unit energy.

Everything is a deterministic function of ``(seed, N, counts, sources)``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from ...report.audio import audio_info, read_audio
from ...errors import InputError
from ...report.signals import make_signal

__all__ = ["BUILTIN_SOURCES", "SignalSets", "builtin_sets", "audio_sets", "TRAIN_SHARE",
           "MAX_AUDIO_SECONDS"]

#: built-in sources, in the order excerpts are dealt
BUILTIN_SOURCES = ("white", "brownian", "sine", "vowel", "flute", "snare")
#: share of every source that training excerpts are cut from (the rest is held out)
TRAIN_SHARE = 0.75
#: at most this much of each audio file is read
MAX_AUDIO_SECONDS = 600.0
_SILENCE = 1e-4


@dataclass(frozen=True)
class SignalSets:
    """``train`` ``(n_train, N)`` and ``val`` ``(n_val, N)``, float64, unit-energy rows;
    ``sources``: the label of each row's source (train then val); ``sample_rate`` in Hz."""

    train: np.ndarray
    val: np.ndarray
    train_sources: tuple[str, ...]
    val_sources: tuple[str, ...]
    sample_rate: float

    def describe(self) -> dict:
        def count(labels):
            out: dict = {}
            for s in labels:
                out[s] = out.get(s, 0) + 1
            return out

        return {"N": int(self.train.shape[1]), "n_train": int(self.train.shape[0]),
                "n_val": int(self.val.shape[0]), "sample_rate": self.sample_rate,
                "train_sources": count(self.train_sources), "val_sources": count(self.val_sources),
                "train_share_of_each_source": TRAIN_SHARE}


def _deal(n: int, k: int) -> list[int]:
    """n items over k sources as evenly as possible (the first ones get the remainder)."""
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _excerpts(x: np.ndarray, N: int, count: int, lo: int, hi: int, rng, label: str) -> np.ndarray:
    """``count`` unit-energy excerpts of x starting in [lo, hi − N], skipping silence."""
    if count == 0:
        return np.zeros((0, N))
    starts = np.arange(lo, hi - N + 1)
    if starts.size == 0:
        raise InputError(f"{label}: too short for excerpts of N={N} samples in its "
                         f"{'training' if lo == 0 else 'held-out'} part")
    c = np.concatenate([[0.0], np.cumsum(x * x)])
    energy = c[starts + N] - c[starts]
    ok = starts[energy > _SILENCE * energy.max()] if energy.max() > 0 else starts[:0]
    if ok.size == 0:
        raise InputError(f"{label}: silent (no excerpt of N={N} samples with any energy)")
    pick = rng.choice(ok, size=count, replace=ok.size < count)
    out = np.stack([x[s:s + N] for s in pick])
    return out / np.sqrt(np.sum(out * out, axis=1, keepdims=True))


def _split_bounds(L: int) -> tuple[int, int]:
    """(end of the training part, start of the held-out part) of a source of L samples."""
    cut = int(round(TRAIN_SHARE * L))
    return cut, cut


def _rng(seed: int, tag: int):
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5D7, tag])


def builtin_sets(N: int, n_train: int, n_val: int, *, seed: int = 0,
                 sample_rate: float = 22050.0) -> SignalSets:
    """Excerpts of the built-in sources (module docstring)."""
    if N < 8:
        raise InputError(f"--N: the study needs N >= 8, got {N}")
    k = len(BUILTIN_SOURCES)
    L = 16 * N
    tr, va, trs, vas = [], [], [], []
    for i, (src, nt, nv) in enumerate(zip(BUILTIN_SOURCES, _deal(n_train, k), _deal(n_val, k))):
        rng = _rng(seed, i)
        if src == "sine":
            def tones(n):
                K = rng.uniform(1.0, N / 2 - 1, size=n)
                return (np.stack([make_signal(f"sine:{float(c)!r}", N) for c in K]) if n
                        else np.zeros((0, N)))
            a, b = tones(nt), tones(nv)
        else:
            x = make_signal(src, L, sample_rate)
            cut, start = _split_bounds(L)
            a = _excerpts(x, N, nt, 0, cut, rng, f"built-in '{src}'")
            b = _excerpts(x, N, nv, start, L, rng, f"built-in '{src}'")
        tr.append(a)
        va.append(b)
        trs += [src] * nt
        vas += [src] * nv
    return SignalSets(np.concatenate(tr), np.concatenate(va), tuple(trs), tuple(vas),
                      float(sample_rate))


def audio_sets(paths, N: int, n_train: int, n_val: int, *, seed: int = 0) -> SignalSets:
    """Excerpts of audio files (mono; each file split 75 % / 25 %); the files must share one
    sample rate. At most `MAX_AUDIO_SECONDS` of each file is read."""
    paths = list(paths)
    if not paths:
        raise InputError("--audio: no files given")
    infos = [audio_info(p) for p in paths]                 # InputError for a bad file
    rates = {r for _, r, _ in infos}
    if len(rates) > 1:
        raise InputError(f"--audio: the files have different sample rates "
                         f"({', '.join(str(r) for r in sorted(rates))} Hz); use one rate")
    rate = float(rates.pop())
    tr, va, trs, vas = [], [], [], []
    k = len(paths)
    for i, (p, nt, nv) in enumerate(zip(paths, _deal(n_train, k), _deal(n_val, k))):
        frames = infos[i][0]
        L = min(frames, int(MAX_AUDIO_SECONDS * rate))
        if L < math.ceil(N / (1 - TRAIN_SHARE)):
            raise InputError(f"audio file '{p}': {frames} samples is too short for the study "
                             f"(needs at least {math.ceil(N / (1 - TRAIN_SHARE))} for excerpts "
                             f"of N={N} in both the training and the held-out part)")
        x, _ = read_audio(p, 0, L)
        rng = _rng(seed, 100 + i)
        cut, start = _split_bounds(L)
        label = os.path.basename(p)
        tr.append(_excerpts(x, N, nt, 0, cut, rng, f"audio file '{p}'"))
        va.append(_excerpts(x, N, nv, start, L, rng, f"audio file '{p}'"))
        trs += [label] * nt
        vas += [label] * nv
    return SignalSets(np.concatenate(tr), np.concatenate(va), tuple(trs), tuple(vas), rate)
