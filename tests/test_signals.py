"""Built-in test signals (rfbjax.report.signals) and audio I/O (rfbjax.report.audio)."""

import os

import numpy as np
import pytest
import soundfile as sf

from rfbjax.report.audio import audio_info, read_audio, write_wav
from rfbjax.errors import InputError
from rfbjax.report.signals import (BUILTIN_NAMES, DEFAULT_N, FLUTE_F0, VOWEL_F0, make_signal,
                            parse_signal_spec)

SR = 22050.0
# Every built-in, with the parametric one given a concrete cycle count.
NAMES = [("sine:3" if n == "sine:K" else n) for n in BUILTIN_NAMES]


def circular_autocorr(x):
    """Normalised circular autocorrelation R(tau)/R(0), tau = 0 .. N-1 (brute force)."""
    N = len(x)
    return np.array([np.dot(x, np.roll(x, -tau)) for tau in range(N)]) / np.dot(x, x)


# --- built-ins ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("N", [2, 7, 1024, 1531])
def test_builtin_unit_energy_length_finite(name, N):
    if name == "sine:3" and N == 2:
        name = "sine:0.5"  # every integer or half-integer cycle count vanishes on 2 samples
    x = make_signal(name, N)
    assert isinstance(x, np.ndarray) and x.dtype == np.float64 and x.shape == (N,)
    assert np.all(np.isfinite(x))
    assert np.linalg.norm(x) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_builtin_deterministic(name):
    a = make_signal(name, 1000)
    b = make_signal(name, 1000)
    assert np.array_equal(a, b)
    label, c = parse_signal_spec(name, None)
    assert label == name and np.array_equal(c, make_signal(name, DEFAULT_N))


def test_impulse():
    x = make_signal("impulse", 16)
    assert x[0] == 1.0 and np.count_nonzero(x) == 1


@pytest.mark.parametrize("N", [8, 9, 1024])
def test_alternating(N):
    x = make_signal("alternating", N)
    expected = (-1.0) ** np.arange(N) / np.sqrt(N)
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-15)


def test_sine_cycles():
    N = 64
    np.testing.assert_allclose(make_signal("sine:3", N),
                               np.sin(2 * np.pi * 3 * np.arange(N) / N) / np.sqrt(N / 2),
                               atol=1e-14)
    x = make_signal("sine:2.5", N)
    ref = np.sin(2 * np.pi * 2.5 * np.arange(N) / N)
    np.testing.assert_allclose(x, ref / np.linalg.norm(ref), atol=1e-14)


def test_white_and_brownian_character():
    w = make_signal("white", 4096)
    r = circular_autocorr(w)
    assert np.max(np.abs(r[1:50])) < 0.08  # white: no correlation at small lags
    b = make_signal("brownian", 4096)
    assert circular_autocorr(b - b.mean())[10] > 0.5  # random walk: slowly decaying correlation
    # The increments of the walk are white noise.
    inc = np.diff(b)
    assert np.max(np.abs(circular_autocorr(inc)[1:20])) < 0.1


@pytest.mark.parametrize("name,f0,N,threshold", [
    ("vowel", VOWEL_F0, 1024, 0.7),   # 5.6 periods; the wrap-around costs about 18 %
    ("vowel", VOWEL_F0, 4096, 0.9),
    ("flute", FLUTE_F0, 1024, 0.9),
    ("flute", FLUTE_F0, 4096, 0.95),
])
def test_pitch_period_autocorrelation(name, f0, N, threshold):
    x = make_signal(name, N, SR)
    r = circular_autocorr(x)
    period = SR / f0
    lo, hi = int(0.5 * period), int(np.ceil(1.5 * period))
    peak = lo + int(np.argmax(r[lo:hi + 1]))
    assert abs(peak - period) <= 1.0, (peak, period)
    assert r[peak] > threshold
    # Half a period away the signal is far less similar to itself.
    assert r[int(round(period / 2))] < r[peak] - 0.4


def test_sound_pitch_follows_sample_rate():
    # Frequencies are fixed in Hz: at twice the rate the period in samples doubles.
    x = make_signal("flute", 4096, 2 * SR)
    r = circular_autocorr(x)
    period = 2 * SR / FLUTE_F0
    lo, hi = int(0.5 * period), int(np.ceil(1.5 * period))
    assert abs(lo + np.argmax(r[lo:hi + 1]) - period) <= 1.0


def test_snare_decays():
    x = make_signal("snare", 4096, SR)
    e = np.square(x)
    assert e[:1024].sum() > 4 * e[-1024:].sum()


@pytest.mark.parametrize("spec", ["sine:0", "sine:32", "sine:64"])
def test_all_zero_sine_rejected(spec):
    with pytest.raises(InputError, match="all samples are zero"):
        make_signal(spec, 64)


@pytest.mark.parametrize("spec", ["sine", "sine:", "sine:abc", "sine:nan", "sine:inf"])
def test_malformed_sine(spec):
    with pytest.raises(InputError, match="malformed sine"):
        parse_signal_spec(spec, 64)


def test_unknown_name():
    with pytest.raises(InputError) as exc:
        parse_signal_spec("no_such_signal_xyz", 64)
    msg = str(exc.value)
    assert "\n" not in msg and "unknown name" in msg and "impulse" in msg and "no such file" in msg
    with pytest.raises(InputError, match="unknown name"):
        make_signal("foo", 64)


@pytest.mark.parametrize("N", [1, 0, -3])
def test_small_n_rejected(N):
    with pytest.raises(InputError, match="N must be >= 2"):
        make_signal("white", N)
    with pytest.raises(InputError, match="N must be >= 2"):
        parse_signal_spec("white", N)


def test_sample_rate_too_low():
    with pytest.raises(InputError, match="too low"):
        make_signal("flute", 64, sample_rate=800.0)


# --- audio files --------------------------------------------------------------------------------

@pytest.fixture
def stereo(tmp_path):
    """A stereo WAV and the same content as FLAC; returns (wav, flac, left, right)."""
    n = 500
    t = np.arange(n)
    left = 0.5 * np.sin(2 * np.pi * t / 50)
    right = 0.25 * np.cos(2 * np.pi * t / 37)
    data = np.stack([left, right], axis=1)
    wav, flac = tmp_path / "two.wav", tmp_path / "two.flac"
    sf.write(wav, data, 16000, subtype="FLOAT")
    sf.write(flac, data, 16000, subtype="PCM_24")
    return wav, flac, left, right


def test_read_mixdown(stereo):
    wav, flac, left, right = stereo
    x, sr = read_audio(wav)
    assert sr == 16000 and x.dtype == np.float64 and x.shape == (500,)
    np.testing.assert_allclose(x, 0.5 * (left + right), atol=1e-7)
    y, sr = read_audio(flac)
    assert sr == 16000
    np.testing.assert_allclose(y, 0.5 * (left + right), atol=1e-6)
    assert audio_info(flac) == (500, 16000, 2)


def test_read_slice(stereo):
    wav, _, left, right = stereo
    mono = 0.5 * (left + right)
    x, _ = read_audio(wav, 100, 50)
    np.testing.assert_allclose(x, mono[100:150], atol=1e-7)
    x, _ = read_audio(wav, 450)
    np.testing.assert_allclose(x, mono[450:], atol=1e-7)
    x, _ = read_audio(wav, 0, 500)
    assert x.shape == (500,)


@pytest.mark.parametrize("start,length", [(500, None), (600, 10), (450, 51), (0, 501)])
def test_read_slice_outside(stereo, start, length):
    wav = stereo[0]
    with pytest.raises(InputError, match="outside the file") as exc:
        read_audio(wav, start, length)
    assert str(wav) in str(exc.value)


def test_spec_slices(stereo):
    wav, flac, left, right = stereo
    mono = 0.5 * (left + right)
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731

    label, x = parse_signal_spec(f"{flac}@100:64", None)
    assert label == "two.flac@100:64"
    np.testing.assert_allclose(x, unit(mono[100:164]), atol=1e-5)

    label, x = parse_signal_spec(f"{wav}@420:", None)
    assert label == "two.wav@420:80"
    np.testing.assert_allclose(x, unit(mono[420:]), atol=1e-6)

    label, x = parse_signal_spec(str(wav), None)
    assert label == "two.wav" and x.shape == (500,)
    assert np.linalg.norm(x) == pytest.approx(1.0, abs=1e-12)

    label, x = parse_signal_spec(f"{wav}@100:", 32)  # N takes the head of the slice
    assert label == "two.wav@100:32"
    np.testing.assert_allclose(x, unit(mono[100:132]), atol=1e-6)
    label, x = parse_signal_spec(f"{wav}@10:100", 40)
    np.testing.assert_allclose(x, unit(mono[10:50]), atol=1e-6)

    for bad, msg in [(f"{wav}@10:20", "slice has only"),      # N larger than the slice
                     (f"{wav}@480:", "has only 20"),          # N larger than what is left
                     (str(wav), "has only 500")]:
        with pytest.raises(InputError, match=msg):
            parse_signal_spec(bad, 64 if "480" in bad or "@" in bad else 600)
    for bad in [f"{wav}@500:", f"{wav}@400:200"]:
        with pytest.raises(InputError, match="outside the file"):
            parse_signal_spec(bad, None)
    for bad in [f"{wav}@abc", f"{wav}@-1:5", f"{wav}@5"]:
        with pytest.raises(InputError, match="malformed slice"):
            parse_signal_spec(bad, None)
    with pytest.raises(InputError, match="length must be >= 1"):
        parse_signal_spec(f"{wav}@5:0", None)


def test_missing_corrupt_empty_files(tmp_path):
    missing = tmp_path / "missing.wav"
    with pytest.raises(InputError, match="no such file"):
        read_audio(missing)
    with pytest.raises(InputError, match="no such file"):
        parse_signal_spec(str(missing), None)

    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(np.random.default_rng(1).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    for path in (corrupt, empty):
        for call in (lambda: read_audio(path), lambda: parse_signal_spec(str(path), None),
                     lambda: audio_info(path)):
            with pytest.raises(InputError) as exc:
                call()
            msg = str(exc.value)
            assert str(path) in msg and "\n" not in msg

    # A valid header without any samples.
    silent = tmp_path / "nosamples.wav"
    sf.write(silent, np.zeros((0, 1)), 8000)
    with pytest.raises(InputError, match="no samples"):
        read_audio(silent)


def test_nan_and_zero_file_rejected(tmp_path):
    x = np.sin(np.arange(100) / 5.0)
    x[37] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, x, 8000, subtype="FLOAT")
    assert np.isnan(read_audio(path)[0][37])  # reading is raw; the signal layer checks
    with pytest.raises(InputError, match="NaN or Inf"):
        parse_signal_spec(str(path), None)
    parse_signal_spec(f"{path}@40:", None)  # a slice after the NaN is fine

    zeros = tmp_path / "zeros.wav"
    sf.write(zeros, np.zeros(100), 8000)
    with pytest.raises(InputError, match="all samples are zero"):
        parse_signal_spec(str(zeros), None)


def test_write_wav_roundtrip(tmp_path):
    x = make_signal("vowel", 2000, 16000)
    path = tmp_path / "out.wav"
    write_wav(path, x, 16000)
    info = sf.info(path)
    assert info.subtype == "PCM_16" and info.samplerate == 16000 and info.frames == 2000
    y, sr = read_audio(path)
    assert sr == 16000
    assert np.max(np.abs(y)) == pytest.approx(0.99, abs=1 / 32768)
    np.testing.assert_allclose(y, x * (0.99 / np.max(np.abs(x))), atol=1 / 32768)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temporary left behind

    write_wav(path, 0.5 * x, 16000)  # overwrite in place: same peak after normalisation
    np.testing.assert_allclose(read_audio(path)[0], y, atol=1 / 32768)

    write_wav(path, np.zeros(10), 8000)  # silence is written as is
    assert np.array_equal(read_audio(path)[0], np.zeros(10))


def test_write_wav_errors(tmp_path):
    with pytest.raises(InputError, match="NaN or Inf"):
        write_wav(tmp_path / "a.wav", np.array([0.0, np.inf]), 8000)
    with pytest.raises(InputError, match="nothing to write"):
        write_wav(tmp_path / "a.wav", np.zeros(0), 8000)
    with pytest.raises(InputError, match="cannot write"):
        write_wav(tmp_path / "no_dir" / "a.wav", np.ones(4), 8000)
    assert not os.path.exists(tmp_path / "a.wav")
