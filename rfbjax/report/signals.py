r"""Test signals: deterministic built-ins and audio files, all normalised to unit energy.

The energy response of a random filterbank depends on the signal only through its
autocorrelation $R_x$ (docs/theory.md §2), so the built-ins span the range from "no
correlation at any lag" to "perfect correlation at every lag":

| name            | signal |
| --------------- | ------ |
| ``impulse``     | $\delta[n]$; $R_x(\tau) = 0$ off zero lag (least variance). |
| ``white``       | Gaussian white noise (fixed seed); $R_x(\tau) \approx 0$ off zero lag. |
| ``brownian``    | cumulative sum of Gaussian white noise (fixed seed): a random walk, strongly low-pass, $R_x$ decays slowly. |
| ``alternating`` | $(-1)^n/\sqrt N$, the paper's "sine" at Nyquist: $\lvert R_x(\tau)\rvert = R_x(0)$ (largest variance; for odd N the wrap-around breaks the pattern at one sample). |
| ``sine:K``      | $\sin(2\pi K n / N)$, K cycles over the N samples (K may be fractional). |
| ``vowel``       | a sustained /a/: glottal pulse train at `VOWEL_F0` Hz through formants. |
| ``flute``       | a sustained flute-like tone at `FLUTE_F0` Hz with vibrato and breath noise. |
| ``snare``       | a decaying noise burst plus a damped drum-head mode at `SNARE_MODE_HZ` Hz. |

``vowel`` and ``flute`` are (locally) periodic, as voiced speech and sustained tones are: they are
the adversarial inputs of the paper. The sound-like built-ins are laid out in seconds, so their
pitch in Hz is fixed and their period in samples is ``sample_rate / f0``.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

from ..errors import InputError

__all__ = [
    "BUILTIN_NAMES",
    "DEFAULT_N",
    "VOWEL_F0",
    "VOWEL_FORMANTS",
    "FLUTE_F0",
    "FLUTE_VIBRATO_HZ",
    "SNARE_MODE_HZ",
    "is_builtin",
    "make_signal",
    "parse_signal_spec",
]

#: Names of the built-in signals; ``sine:K`` stands for ``sine:<number of cycles>``.
BUILTIN_NAMES = ("impulse", "white", "brownian", "alternating", "sine:K", "vowel", "flute",
                 "snare")

#: Length of a built-in signal when the caller does not choose one.
DEFAULT_N = 1024

#: Fundamental frequency of ``vowel`` (Hz): a typical adult male speaking pitch.
VOWEL_F0 = 120.0
#: (centre frequency, bandwidth) in Hz of the formants of ``vowel`` (the vowel /a/).
VOWEL_FORMANTS = ((700.0, 130.0), (1220.0, 70.0), (2600.0, 160.0))
#: Open and closing phases of the Rosenberg glottal pulse, as fractions of the period.
_GLOTTAL_OPEN, _GLOTTAL_CLOSE = 0.40, 0.16

#: Mean fundamental frequency of ``flute`` (Hz): C5.
FLUTE_F0 = 523.25
#: Vibrato rate (Hz) and depth (relative frequency deviation) of ``flute``.
FLUTE_VIBRATO_HZ = 5.0
_FLUTE_VIBRATO_DEPTH = 0.006
_FLUTE_HARMONIC_DECAY = 0.5  # amplitude ratio of consecutive harmonics
_FLUTE_MAX_HARMONIC = 10
_FLUTE_BREATH_LEVEL = 0.03  # RMS of the breath noise relative to the tone's RMS

#: Frequency (Hz) of the damped drum-head mode of ``snare``.
SNARE_MODE_HZ = 180.0
_SNARE_NOISE_DECAY_S = 0.045
_SNARE_MODE_DECAY_S = 0.070

# Fixed seeds: the noise in every built-in is the same on every call and every machine.
_SEED_WHITE = 20240101
_SEED_BROWNIAN = 20240102
_SEED_FLUTE = 20240103
_SEED_SNARE = 20240104

_SINE_RE = re.compile(r"sine:(.*)", re.DOTALL)
_SLICE_RE = re.compile(r"(\d+):(\d*)")


def _builtin_list() -> str:
    return ", ".join(BUILTIN_NAMES)


def is_builtin(name: str) -> bool:
    """Whether ``name`` refers to a built-in signal (``sine:...`` counts, even if malformed)."""
    return name in BUILTIN_NAMES or name.startswith("sine:") or name == "sine"


def _finish(x: np.ndarray, label: str) -> np.ndarray:
    """Check that ``x`` is finite and not all zeros, then scale it to unit energy."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    bad = ~np.isfinite(x)
    if bad.any():
        first = int(np.argmax(bad))
        raise InputError(f"signal '{label}': contains NaN or Inf ({int(bad.sum())} samples, "
                         f"first at sample {first})")
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        raise InputError(f"signal '{label}': all samples are zero, cannot normalise to unit energy")
    # Divide by the peak first so that the norm neither overflows nor underflows.
    x = x / peak
    return x / np.sqrt(np.dot(x, x))


def _check_n(N, label: str) -> int:
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)):
        raise InputError(f"signal '{label}': N must be an integer, got {N!r}")
    N = int(N)
    if N < 2:
        raise InputError(f"signal '{label}': N must be >= 2, got {N}")
    return N


def _check_rate(sample_rate, label: str) -> float:
    try:
        sr = float(sample_rate)
    except (TypeError, ValueError):
        raise InputError(f"signal '{label}': sample rate must be a number, "
                         f"got {sample_rate!r}") from None
    if not (np.isfinite(sr) and sr > 0.0):
        raise InputError(f"signal '{label}': sample rate must be > 0 Hz, got {sample_rate!r}")
    return sr


def _need_rate(label: str, sr: float, freq: float) -> None:
    if sr <= 2.0 * freq:
        raise InputError(f"signal '{label}': sample rate {sr:g} Hz is too low for its "
                         f"{freq:g} Hz component (needs > {2 * freq:g} Hz)")


def _spectral_filter(x: np.ndarray, sr: float, gain) -> np.ndarray:
    """Filter ``x`` circularly by multiplying its spectrum by ``gain(f)`` (f in Hz, complex ok)."""
    n = x.shape[-1]
    f = np.fft.rfftfreq(n, d=1.0 / sr)
    return np.fft.irfft(np.fft.rfft(x) * gain(f), n=n)


# --- abstract signals -------------------------------------------------------------------------

def _impulse(N: int) -> np.ndarray:
    x = np.zeros(N)
    x[0] = 1.0
    return x


def _white(N: int) -> np.ndarray:
    return np.random.default_rng(_SEED_WHITE).standard_normal(N)


def _brownian(N: int) -> np.ndarray:
    return np.cumsum(np.random.default_rng(_SEED_BROWNIAN).standard_normal(N))


def _alternating(N: int) -> np.ndarray:
    return np.where(np.arange(N) % 2 == 0, 1.0, -1.0)


def _parse_cycles(name: str) -> float:
    m = _SINE_RE.fullmatch(name)
    text = m.group(1).strip() if m else ""
    try:
        if not text:
            raise ValueError
        K = float(text)
    except ValueError:
        raise InputError(f"signal '{name}': malformed sine, expected sine:K with K a number of "
                         f"cycles (e.g. sine:3 or sine:2.5)") from None
    if not math.isfinite(K):
        raise InputError(f"signal '{name}': malformed sine, K must be finite, got {text!r}")
    return K


def _sine(K: float, N: int) -> np.ndarray:
    # Reduce the phase exactly before the sine: r = K n mod N, phase 2 pi r / N.
    r = np.mod(K * np.arange(N, dtype=np.float64), float(N))
    x = np.sin(2.0 * np.pi * r / N)
    # At phase 0 or pi the sine is exactly zero (np.sin(pi) is 1.2e-16, not 0): this makes
    # sine:0, sine:N/2, sine:N ... exactly zero, hence rejected, instead of rounding noise.
    x[np.mod(2.0 * r, float(N)) == 0.0] = 0.0
    return x


# --- sound-like signals -----------------------------------------------------------------------

def _rosenberg(phase: np.ndarray) -> np.ndarray:
    """Rosenberg glottal flow pulse of unit height, as a function of the phase in [0, 1)."""
    tp, tn = _GLOTTAL_OPEN, _GLOTTAL_CLOSE
    g = np.zeros_like(phase)
    opening = phase < tp
    g[opening] = 0.5 * (1.0 - np.cos(np.pi * phase[opening] / tp))
    closing = (phase >= tp) & (phase < tp + tn)
    g[closing] = np.cos(0.5 * np.pi * (phase[closing] - tp) / tn)
    return g


def _vowel(N: int, sr: float) -> np.ndarray:
    """Glottal pulse train at VOWEL_F0 through lip radiation and the /a/ formants.

    The filters are applied in the Fourier domain (circularly) to a signal that starts 0.1 s
    early; the leading 0.1 s, which is where the circular wrap-around lands, is dropped.
    """
    _need_rate("vowel", sr, VOWEL_F0)
    warm = int(math.ceil(0.1 * sr))
    L = warm + N
    t = (np.arange(L) - warm) / sr
    flow = _rosenberg(np.mod(t * VOWEL_F0, 1.0))
    formants = [(fc, bw) for fc, bw in VOWEL_FORMANTS if fc < 0.5 * sr]

    def gain(f):
        z1 = np.exp(-2j * np.pi * f / sr)  # z^{-1} on the unit circle
        h = 1.0 - z1  # lip radiation: a first difference (removes the flow's DC)
        for fc, bw in formants:
            # Two-pole resonator, unit gain at DC: poles r e^{+-i theta}.
            r = math.exp(-math.pi * bw / sr)
            c = 2.0 * r * math.cos(2.0 * math.pi * fc / sr)
            h = h * (1.0 - c + r * r) / (1.0 - c * z1 + r * r * z1 * z1)
        return h

    return _spectral_filter(flow, sr, gain)[warm:]


def _breath_gain(sr: float):
    """Gain of a broad band-pass (about 1-6 kHz) that turns white noise into a breathy hiss."""
    lo, hi = 1000.0, min(6000.0, 0.45 * sr)

    def gain(f):
        return (f * f / (f * f + lo * lo)) / (1.0 + (f / hi) ** 4)

    return gain


def _flute(N: int, sr: float) -> np.ndarray:
    """Harmonic tone at FLUTE_F0 with decaying harmonics, 5 Hz vibrato and breath noise."""
    f_max = FLUTE_F0 * (1.0 + _FLUTE_VIBRATO_DEPTH)
    _need_rate("flute", sr, f_max)
    t = np.arange(N) / sr
    # Instantaneous frequency f0 (1 + d sin(2 pi fv t)); its integral is the phase (in cycles).
    cycles = FLUTE_F0 * (t + _FLUTE_VIBRATO_DEPTH * (1.0 - np.cos(2 * np.pi * FLUTE_VIBRATO_HZ * t))
                         / (2 * np.pi * FLUTE_VIBRATO_HZ))
    tone = np.zeros(N)
    for k in range(1, _FLUTE_MAX_HARMONIC + 1):
        if k * f_max >= 0.5 * sr:
            break
        tone += _FLUTE_HARMONIC_DECAY ** (k - 1) * np.sin(2 * np.pi * k * cycles)
    noise = _spectral_filter(np.random.default_rng(_SEED_FLUTE).standard_normal(N), sr,
                             _breath_gain(sr))
    rms_tone = np.sqrt(np.mean(tone ** 2))
    rms_noise = np.sqrt(np.mean(noise ** 2))
    if rms_noise > 0.0:
        tone = tone + noise * (_FLUTE_BREATH_LEVEL * rms_tone / rms_noise)
    return tone


def _snare(N: int, sr: float) -> np.ndarray:
    """Exponentially decaying bright noise (the wires) plus a damped head mode near 180 Hz."""
    _need_rate("snare", sr, SNARE_MODE_HZ)
    t = np.arange(N) / sr
    fc = min(1500.0, 0.25 * sr)
    noise = _spectral_filter(np.random.default_rng(_SEED_SNARE).standard_normal(N), sr,
                             lambda f: f * f / (f * f + fc * fc))
    noise /= max(float(np.sqrt(np.mean(noise ** 2))), 1e-300)
    wires = noise * np.exp(-t / _SNARE_NOISE_DECAY_S)
    head = 1.5 * np.sin(2 * np.pi * SNARE_MODE_HZ * t) * np.exp(-t / _SNARE_MODE_DECAY_S)
    return wires + head


# --- public API -------------------------------------------------------------------------------

def make_signal(name: str, N: int, sample_rate: float = 22050.0) -> np.ndarray:
    """A built-in test signal of length ``N``, float64, with unit energy (``||x||_2 = 1``).

    Args:
      name: one of `BUILTIN_NAMES`, with ``sine:K`` written as e.g. ``sine:3``.
      N: number of samples, ``>= 2``.
      sample_rate: sampling rate in Hz; only ``vowel``, ``flute`` and ``snare`` depend on it
        (their frequencies are fixed in Hz).

    Raises:
      InputError: unknown or malformed name, ``N < 2``, a sample rate too low for the sound, or a
        signal that is all zeros (``sine:0``) or not finite.
    """
    if not isinstance(name, str):
        raise InputError(f"signal {name!r}: name must be a string")
    N = _check_n(N, name)
    if name == "sine" or name.startswith("sine:"):
        x = _sine(_parse_cycles(name), N)
    elif name == "impulse":
        x = _impulse(N)
    elif name == "white":
        x = _white(N)
    elif name == "brownian":
        x = _brownian(N)
    elif name == "alternating":
        x = _alternating(N)
    elif name in ("vowel", "flute", "snare"):
        sr = _check_rate(sample_rate, name)
        x = {"vowel": _vowel, "flute": _flute, "snare": _snare}[name](N, sr)
    else:
        raise InputError(f"signal '{name}': unknown name (built-ins: {_builtin_list()})")
    return _finish(x, name)


def _file_label(path: str, start: int, n: int, sliced: bool) -> str:
    base = os.path.basename(os.path.normpath(path)) or path
    return f"{base}@{start}:{n}" if sliced else base


def parse_signal_spec(spec: str, N: int | None, sample_rate: float = 22050.0
                      ) -> tuple[str, np.ndarray]:
    """Turn a command-line signal spec into ``(label, x)`` with ``x`` of unit energy.

    ``spec`` is either a built-in name (see `make_signal`; ``N`` defaults to
    `DEFAULT_N`) or an audio file, ``PATH``, ``PATH@start:length`` or ``PATH@start:``
    (samples; the open form runs to the end of the file). For a file, ``N = None`` takes the
    whole (sliced) file; an integer ``N`` takes the first ``N`` samples of the slice, and fewer
    available samples is an error. Multichannel files are averaged to mono; the file's own sample
    rate is kept (``sample_rate`` only affects built-ins).

    The label is the built-in name as written (``sine:3``, ``vowel``), or the file's base name,
    followed by ``@start:count`` with the samples actually taken whenever a slice or ``N``
    selected part of the file (``speech.wav``, ``speech.wav@1000:1024``).

    Raises:
      InputError: one line naming the spec and the problem.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"signal {spec!r}: empty signal spec (built-ins: {_builtin_list()}, "
                         f"or an audio file PATH[@start:length])")
    if N is not None:
        N = _check_n(N, spec)

    if is_builtin(spec):
        return spec, make_signal(spec, DEFAULT_N if N is None else N, sample_rate)

    # An audio file. The whole spec names the file if such a file exists (paths may contain '@');
    # otherwise a trailing '@...' is a slice.
    path, start, length, sliced = spec, 0, None, False
    if not os.path.exists(spec) and "@" in spec:
        head, _, tail = spec.rpartition("@")
        if head and os.path.exists(head):
            m = _SLICE_RE.fullmatch(tail)
            if m is None:
                raise InputError(f"signal '{spec}': malformed slice '@{tail}', expected "
                                 f"@start:length or @start: (non-negative sample counts)")
            path, start, sliced = head, int(m.group(1)), True
            length = int(m.group(2)) if m.group(2) else None
            if length is not None and length < 1:
                raise InputError(f"signal '{spec}': slice length must be >= 1, got {length}")
    if not os.path.exists(path):
        raise InputError(f"signal '{spec}': unknown name (built-ins: {_builtin_list()}) "
                         f"and no such file")

    if N is not None:
        if length is not None and length < N:
            raise InputError(f"signal '{spec}': N={N} samples requested but the slice has only "
                             f"{length}")
        if length is None:
            from .audio import audio_info   # soundfile: imported only to read a file

            frames = audio_info(path)[0]
            if start < frames and start + N > frames:
                raise InputError(f"signal '{spec}': N={N} samples requested from sample {start} "
                                 f"but the file has only {frames - start} from there")
    from .audio import read_audio

    x, _rate = read_audio(path, start, length if N is None else N)
    if x.shape[0] < 2:
        raise InputError(f"signal '{spec}': needs at least 2 samples, the file gives "
                         f"{x.shape[0]}")
    label = _file_label(path, start, x.shape[0], sliced or N is not None)
    return label, _finish(x, label)


def spec_length_bound(spec: str, N: int | None) -> int:
    """An upper bound on the samples `parse_signal_spec` reads for ``spec``, without
    reading them (for the memory check before loading): N (or `DEFAULT_N`) for a
    built-in, N for a file when given, otherwise the file's frames times its channels."""
    if not isinstance(spec, str) or is_builtin(spec) or (N is not None and not os.path.isdir(
            spec)):
        return int(DEFAULT_N if N is None else N)
    path = spec if os.path.exists(spec) else spec.rpartition("@")[0]
    if not path or not os.path.exists(path):
        return DEFAULT_N   # parse_signal_spec names the problem
    from .audio import audio_info   # soundfile: imported only to read a file

    frames, _rate, channels = audio_info(path)
    return int(frames) * max(1, int(channels))
