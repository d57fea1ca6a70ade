"""``rfbjax audit`` on weights the tests write themselves: bounds against the SVD of the explicit
analysis matrix, a tight filterbank (κ = 1), a dead band (κ = ∞), several input channels, every
file format, and one clean error line (exit 2, nothing created) for bad input."""

import json
import struct

import numpy as np
import pytest

from rfbjax import audits as audit_lib
from rfbjax.cli import main
import reference as ref

RNG = np.random.default_rng(66)


def _run(args, capsys):
    rc = main(["audit", *args])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _rows(out_dir):
    data = json.loads((out_dir / "audit.json").read_text())
    return data, {r["part"]: r for r in data["rows"]}


@pytest.mark.parametrize("d", [1, 3])
def test_single_channel_matches_svd(tmp_path, capsys, d):
    w = RNG.standard_normal((5, 1, 6)).astype(np.float32)
    np.save(tmp_path / "w.npy", w)
    out = tmp_path / "out"
    rc, text, _ = _run([str(tmp_path / "w.npy"), "--stride", str(d), "--N", "24", "--draws",
                        "1000", "--out", str(out)], capsys)
    assert rc == 0 and "pct_kappa" in text
    data, rows = _rows(out)
    r = rows["layer"]
    A0, B0 = ref.frame_bounds_explicit(w[:, 0, :].astype(np.float64), 24, d)
    assert r["A"] == pytest.approx(A0, rel=1e-9) and r["B"] == pytest.approx(B0, rel=1e-11)
    assert r["kappa"] == pytest.approx(B0 / A0, rel=1e-9)
    assert 0.0 <= r["percentile_kappa"] <= 100.0
    assert 0.0 <= r["freq_A"] <= 0.5 / d and 0.0 <= r["freq_B"] <= 0.5 / d
    assert data["reference"]["draws"] == 1000 and data["layer_shape"]["stride"] == d
    assert (out / "power_response.png").stat().st_size > 1000
    assert (out / "audit.txt").read_text().startswith("# audit of")


def test_percentile_is_rank_among_the_bounds_draws(tmp_path, capsys):
    from rfbjax.measure import sample_bounds

    w = RNG.standard_normal((4, 8))
    np.save(tmp_path / "w.npy", w)
    rc, _, _ = _run([str(tmp_path / "w.npy"), "--N", "32", "--draws", "300", "--seed", "5",
                     "--out", str(tmp_path / "o")], capsys)
    assert rc == 0
    kappa = _rows(tmp_path / "o")[1]["layer"]["kappa"]
    ref_k = sample_bounds(4, 8, 32, 300, seed=5, dtype=np.float32)["kappa"]
    expect = 100 * (np.sum(ref_k < kappa) + 0.5 * np.sum(ref_k == kappa)) / 300
    assert _rows(tmp_path / "o")[1]["layer"]["percentile_kappa"] == pytest.approx(expect)


def test_tight_filterbanks_have_kappa_one(tmp_path, capsys):
    np.save(tmp_path / "delays.npy", np.eye(4)[:, None, :])            # 4 unit delays, stride 1
    haar = np.array([[1.0, 1.0], [1.0, -1.0]]) / np.sqrt(2.0)          # orthogonal at stride 2
    np.save(tmp_path / "haar.npy", haar)
    for name, d, gain in (("delays", 1, 4.0), ("haar", 2, 1.0)):
        rc, _, _ = _run([str(tmp_path / f"{name}.npy"), "--stride", str(d), "--N", "16",
                         "--draws", "200", "--out", str(tmp_path / name)], capsys)
        assert rc == 0
        r = _rows(tmp_path / name)[1]["layer"]
        assert r["A"] == pytest.approx(gain, abs=1e-12) and r["B"] == pytest.approx(gain, abs=1e-12)
        assert r["kappa"] == pytest.approx(1.0, abs=1e-12) and not r["dead_band"]
        assert r["percentile_kappa"] < 1.0


def test_dead_band_gives_infinite_kappa(tmp_path, capsys):
    hp = RNG.standard_normal((6, 1, 7))
    hp -= hp.mean(axis=-1, keepdims=True)            # every filter blocks DC
    np.save(tmp_path / "hp.npy", hp)
    rc, text, _ = _run([str(tmp_path / "hp.npy"), "--N", "32", "--draws", "200",
                        "--out", str(tmp_path / "o")], capsys)
    assert rc == 0 and "dead band" in text
    data, rows = _rows(tmp_path / "o")
    r = rows["layer"]
    assert r["A"] == 0.0 and r["kappa"] is None and r["dead_band"] is True   # inf -> null
    assert r["freq_A"] == 0.0 and r["percentile_kappa"] == 100.0


def test_several_input_channels_npz(tmp_path, capsys):
    J, C, T, N, d = 6, 2, 5, 16, 2
    w = RNG.standard_normal((J, C, T))
    np.savez(tmp_path / "model.npz", **{"conv.weight": w, "conv.bias": np.zeros(J)})
    rc, text, _ = _run([str(tmp_path / "model.npz"), "--key", "conv.weight", "--stride", str(d),
                        "--N", str(N), "--draws", "200", "--out", str(tmp_path / "o")], capsys)
    assert rc == 0
    data, rows = _rows(tmp_path / "o")
    assert set(rows) == {"channel 0", "channel 1", "layer"} and "layer" in data["reference"]
    for c in range(C):
        A0, B0 = ref.frame_bounds_explicit(w[:, c, :], N, d)
        assert rows[f"channel {c}"]["A"] == pytest.approx(A0, rel=1e-9)
        assert rows[f"channel {c}"]["B"] == pytest.approx(B0, rel=1e-11)
    M = np.hstack([ref.analysis_matrix(w[:, c, :], N, d) for c in range(C)])
    s = np.linalg.svd(M, compute_uv=False)
    assert rows["layer"]["B"] == pytest.approx(s.max() ** 2, rel=1e-11)
    assert rows["layer"]["A"] == pytest.approx(s.min() ** 2, rel=1e-8, abs=1e-12 * s.max() ** 2)
    assert rows["layer"]["dominant_channel_B"] in (0, 1)


def _write_bf16_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        u32 = np.asarray(arr, dtype=np.float32).view(np.uint32)
        raw = (u32 >> 16).astype("<u2").tobytes()          # truncation to bfloat16
        header[name] = {"dtype": "BF16", "shape": list(arr.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def test_safetensors_f32_bf16_and_keras_layout(tmp_path, capsys):
    from safetensors.numpy import save_file

    w = RNG.standard_normal((4, 1, 6)).astype(np.float32)
    save_file({"enc.weight": w, "enc.bias": np.zeros(4, np.float32)}, str(tmp_path / "m.safetensors"))
    np.save(tmp_path / "k.npy", np.transpose(w, (2, 1, 0)))
    _write_bf16_safetensors(tmp_path / "b.safetensors", {"w": w})
    got = {}
    for name, extra in (("m", ["--key", "enc.weight"]), ("k", ["--layout", "keras"]), ("b", [])):
        path = tmp_path / (f"{name}.npy" if name == "k" else f"{name}.safetensors")
        rc, _, err = _run([str(path), *extra, "--N", "24", "--draws", "100",
                           "--out", str(tmp_path / name)], capsys)
        assert rc == 0, err
        got[name] = _rows(tmp_path / name)[1]["layer"]
    assert got["k"]["kappa"] == pytest.approx(got["m"]["kappa"], rel=1e-12)
    assert got["b"]["kappa"] == pytest.approx(got["m"]["kappa"], rel=0.05)   # bf16 rounding


def _bad_files(tmp):
    np.savez(tmp / "two.npz", a=np.ones((3, 4)), b=np.ones((3, 4)))
    np.save(tmp / "rank4.npy", np.ones((2, 3, 4, 5)))
    nan = RNG.standard_normal((3, 1, 4))
    nan[1, 0, 2] = np.nan
    np.save(tmp / "nan.npy", nan)
    np.save(tmp / "ok.npy", RNG.standard_normal((3, 1, 4)))
    np.save(tmp / "zero.npy", np.zeros((3, 4)))
    (tmp / "w.txt").write_text("1 2 3")


@pytest.mark.parametrize("args,needle", [
    (["two.npz", "--key", "c"], "no array 'c'"),
    (["two.npz"], "choose one with --key"),
    (["rank4.npy"], "not a conv1d kernel"),
    (["nan.npy"], "NaN"),
    (["zero.npy"], "all weights are zero"),
    (["ok.npy", "--stride", "3", "--N", "32"], "does not divide"),
    (["ok.npy", "--stride", "0"], ">= 1"),
    (["ok.npy", "--key", "x"], ".npy file holds one array"),
    (["ok.npy", "--N", "3"], "shorter than the kernel"),
    (["w.txt"], "not .npy, .npz, .safetensors"),
    (["."], "is a directory"),
    (["ok.npy", "--draws", "1"], "--draws"),
    (["missing.npy"], "no such file"),
])
def test_bad_input_one_line_exit_2(tmp_path, capsys, args, needle):
    _bad_files(tmp_path)
    out = tmp_path / "never"
    rc, _, err = _run([str(tmp_path / args[0]), *args[1:], "--out", str(out)], capsys)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and needle in lines[0], err
    assert not out.exists()


def test_percentile_mid_rank():
    assert audit_lib.percentile(2.0, [1.0, 2.0, 3.0, np.inf]) == pytest.approx(37.5)
    assert audit_lib.percentile(np.inf, [1.0, np.inf]) == pytest.approx(75.0)
