"""Reading and writing audio files (a thin, error-checked layer over ``soundfile``).

Everything that can go wrong with a file the user named (missing, not audio, corrupt, empty,
a slice that does not fit) becomes an `rfbjax.errors.InputError` whose one-line message
names the path, so the CLI can print it instead of a traceback.
"""

from __future__ import annotations

import io
import os

import numpy as np
import soundfile as sf

from ..base.files import atomic_write_bytes
from ..errors import InputError

__all__ = ["audio_info", "read_audio", "write_wav"]

# Exceptions soundfile/libsndfile raise for files it cannot open or decode. ``LibsndfileError``
# and ``SoundFileError`` only exist in newer releases; both derive from RuntimeError there.
_SF_ERRORS: tuple[type[BaseException], ...] = (RuntimeError, OSError, ValueError, TypeError,
                                               EOFError)
for _name in ("SoundFileError", "LibsndfileError"):
    _cls = getattr(sf, _name, None)
    if isinstance(_cls, type) and issubclass(_cls, BaseException):
        _SF_ERRORS = _SF_ERRORS + (_cls,)


def _reason(exc: BaseException) -> str:
    """A short, single-line description of a soundfile/OS error."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _check_int(value, what: str, path: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"audio file '{path}': {what} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise InputError(f"audio file '{path}': {what} must be >= {minimum}, got {value}")
    return value


def _check_path(path: str) -> None:
    if not os.path.exists(path):
        raise InputError(f"audio file '{path}': no such file")
    if os.path.isdir(path):
        raise InputError(f"audio file '{path}': is a directory, not an audio file")
    if os.path.getsize(path) == 0:
        raise InputError(f"audio file '{path}': empty file (0 bytes)")


def audio_info(path) -> tuple[int, int, int]:
    """``(frames, sample_rate, channels)`` of an audio file, without reading its samples.

    Raises:
      InputError: missing, unreadable or corrupt file, or a file without samples.
    """
    path = os.fspath(path)
    _check_path(path)
    try:
        with sf.SoundFile(path) as f:
            frames, rate, channels = int(f.frames), int(f.samplerate), int(f.channels)
    except _SF_ERRORS as exc:
        raise InputError(f"audio file '{path}': cannot read as audio ({_reason(exc)})") from None
    if frames <= 0:
        raise InputError(f"audio file '{path}': contains no samples")
    return frames, rate, channels


def read_audio(path, start: int = 0, length: int | None = None) -> tuple[np.ndarray, int]:
    """Read an audio file (any format soundfile reads) as a mono float64 array.

    Args:
      path: the file.
      start: first sample (frame) to read, ``0 <= start < frames``.
      length: number of samples to read from ``start``; ``None`` reads to the end of the file.
        ``start + length`` must not exceed the file's length.

    Returns:
      ``(x, sample_rate)``: ``x`` of shape ``(n,)``, float64, channels averaged when the file has
        more than one; ``sample_rate`` in Hz (int).

    Raises:
      InputError: missing, unreadable or corrupt file, a file without samples, or a slice that
        does not lie inside the file.
    """
    path = os.fspath(path)
    start = _check_int(start, "slice start", path, 0)
    if length is not None:
        length = _check_int(length, "slice length", path, 1)
    _check_path(path)
    try:
        with sf.SoundFile(path) as f:
            frames = int(f.frames)
            rate = int(f.samplerate)
            if frames <= 0:
                raise InputError(f"audio file '{path}': contains no samples")
            if start >= frames:
                raise InputError(f"audio file '{path}': slice start {start} is outside the file "
                                 f"({frames} samples)")
            if length is not None and start + length > frames:
                raise InputError(f"audio file '{path}': slice {start}:{start + length} is outside "
                                 f"the file ({frames} samples)")
            n = frames - start if length is None else length
            if start:
                if f.seekable():
                    f.seek(start)
                else:  # stream formats: read and drop the head
                    f.read(start, dtype="float64", always_2d=True)
            data = f.read(n, dtype="float64", always_2d=True)
    except InputError:
        raise
    except _SF_ERRORS as exc:
        raise InputError(f"audio file '{path}': cannot read as audio ({_reason(exc)})") from None
    if data.shape[0] == 0:
        raise InputError(f"audio file '{path}': contains no samples")
    if length is not None and data.shape[0] < length:
        raise InputError(f"audio file '{path}': truncated, slice {start}:{start + length} asked "
                         f"for {length} samples but only {data.shape[0]} could be read")
    x = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(x, dtype=np.float64), rate


def write_wav(path, x, sample_rate) -> None:
    """Write ``x`` as a 16-bit PCM WAV file, peak-normalised to 0.99.

    ``x`` is ``(n,)`` (mono) or ``(n, channels)``. A signal that is not all zeros is scaled so that
    its largest absolute sample is 0.99 (so no sample clips); silence is written as is. The file
    goes through `rfbjax.base.files.atomic_write_bytes`: a reader never sees a half-written
    file, and nothing is written through a link.

    Raises:
      InputError: empty or non-finite ``x``, a bad sample rate, or a path that cannot be written.
    """
    path = os.fspath(path)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (1, 2) or x.shape[0] == 0 or (x.ndim == 2 and x.shape[1] == 0):
        raise InputError(f"audio file '{path}': nothing to write (signal shape {x.shape})")
    if not np.all(np.isfinite(x)):
        raise InputError(f"audio file '{path}': signal to write contains NaN or Inf")
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        raise InputError(f"audio file '{path}': sample rate must be a number, "
                         f"got {sample_rate!r}") from None
    if not np.isfinite(rate) or round(rate) < 1:
        raise InputError(f"audio file '{path}': sample rate must be >= 1 Hz, got {sample_rate!r}")
    rate_int = int(round(rate))
    peak = float(np.max(np.abs(x)))
    if peak > 0.0:
        x = x * (0.99 / peak)

    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):   # the folder must exist
        raise InputError(f"audio file '{path}': cannot write (no such folder)")
    buf = io.BytesIO()
    sf.write(buf, x, rate_int, subtype="PCM_16", format="WAV")
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError as exc:
        raise InputError(f"audio file '{path}': cannot write ({_reason(exc)})") from None
