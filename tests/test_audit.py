"""``rfbjax audit`` on weights the tests write themselves: bounds against the SVD of the explicit
analysis matrix, a tight filterbank (κ = 1), a dead band (κ = ∞), several input channels, every
file format, and one clean error line (exit 2, nothing created) for bad input."""

import json
import struct

import numpy as np
import pytest

from rfbjax.kernels import rng
from rfbjax.models import audits as audit_lib
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
    assert rc == 0 and "# pct: percentile of kappa" in text
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
    from rfbjax.engine.measure import sample_bounds

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
    (["ok.npy", "--N", "4000000000"], "over the memory budget"),   # refused before allocating
    (["ok.npy", "--max-memory", "1MB"], "over the memory budget of 1.0 MiB"),
    (["ok.npy", "--max-memory", "lots"], "--max-memory"),
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


# ----------------------------------------------------------------------------- whole checkpoints
def test_model_wide_audit_of_a_torch_checkpoint(tmp_path, capsys):
    import torchzip

    w1 = RNG.standard_normal((8, 1, 6)).astype(np.float32)
    w2 = RNG.standard_normal((6, 8, 3, 1)).astype(np.float32)       # Conv2d used as a conv1d
    w3 = RNG.standard_normal((10, 6, 2)).astype(np.float32)
    sd = {"conv1.weight": w1, "conv1.bias": np.zeros(8, np.float32),
          "bn.num_batches_tracked": np.array(3, np.int64), "conv2.weight": w2,
          "conv3.weight": w3, "fc.weight": np.ones((3, 10), np.float32)}
    torchzip.save({"state_dict": sd, "epoch": 1}, tmp_path / "m.ckpt")
    out = tmp_path / "o"
    rc, text, err = _run([str(tmp_path / "m.ckpt"), "--stride", "conv1=2,conv3.weight=1",
                          "--N", "32", "--draws", "20", "--cascade", "conv1,conv2,conv3",
                          "--fs", "16000", "--out", str(out)], capsys)
    assert rc == 0, err
    data = json.loads((out / "audit.json").read_text())
    lay = {r["name"]: r for r in data["layers"]}
    assert list(lay) == ["conv1.weight", "conv2.weight", "conv3.weight"]      # not fc, not bn
    assert [lay[k]["stride"] for k in lay] == [2, 1, 1] and lay["conv2.weight"]["shape"] == [6, 8, 3]
    A0, B0 = ref.frame_bounds_explicit(w1[:, 0, :].astype(np.float64), 32, 2)
    assert lay["conv1.weight"]["A"] == pytest.approx(A0, rel=1e-6)
    assert lay["conv1.weight"]["B"] == pytest.approx(B0, rel=1e-9)
    r2 = lay["conv2.weight"]        # 6 outputs < 8 inputs: no lower frame bound; Riesz reference
    assert r2["rank_deficient"] and r2["kappa"] is None and r2["percentile_of"] == "riesz_kappa"
    assert r2["percentile_kappa"] is None and 0 <= r2["percentile"] <= 100
    assert r2["percentile_kappa"] is None
    M = np.hstack([ref.analysis_matrix(w3[:, c, :].astype(np.float64), 32, 1) for c in range(6)])
    s = np.linalg.svd(M, compute_uv=False)
    assert lay["conv3.weight"]["kappa"] == pytest.approx((s.max() / s.min()) ** 2, rel=1e-6)
    r3 = lay["conv3.weight"]
    assert r3["reference_draws"] == 20 and 0 <= r3["percentile_kappa"] <= 100
    assert r3["ratio_to_median"] == pytest.approx(r3["kappa"] / r3["reference_median_kappa"])
    assert data["fs"] == 16000 and lay["conv1.weight"]["freq_B_hz"] == pytest.approx(
        16000 * lay["conv1.weight"]["freq_B"])
    assert [lay[k]["fs_in"] for k in lay] == [16000, 8000, 8000]     # conv1 has stride 2
    cas = data["cascades"][0]
    assert cas["stride"] == 2 and cas["composite_shape"] == [10, 1, 6 + 2 * 2 + 2 * 1]
    assert "nonlinearities" in text and "conv3.weight" in text and "squeezed" in text
    assert (out / "power_response.png").stat().st_size > 1000


def test_library_audit_array_and_path(tmp_path):
    from rfbjax.models.audits import LayerAudit, ModelAudit, audit

    w = RNG.standard_normal((6, 2, 5))
    res = audit(w, stride=2, N=16, draws=0)
    assert isinstance(res, LayerAudit) and res.reference is None and res.percentile is None
    assert len(res.channels) == 2 and res.to_dict()["layers"][0]["kappa"] == res.kappa
    np.savez(tmp_path / "m.npz", **{"a.weight": w, "b.weight": RNG.standard_normal((4, 6, 3))})
    model = audit(tmp_path / "m.npz", stride={"a": 2}, N=16, draws=0)
    assert isinstance(model, ModelAudit) and [lay.shape["stride"] for lay in model] == [2, 1]
    assert model["a"].kappa == pytest.approx(res.kappa, rel=1e-12)
    with pytest.raises(audit_lib.InputError, match="no conv1d kernel named 'c'"):
        audit(tmp_path / "m.npz", stride="c=2", N=16, draws=0)
    with pytest.raises(audit_lib.InputError, match="layer 1 takes 2 input channels but layer 0 gives 4"):
        audit(tmp_path / "m.npz", N=16, draws=0, cascade=["b", "a"])


def test_reference_is_float64_and_rank_deficiency_is_immediate():
    import jax

    from rfbjax.engine import montecarlo as mc
    from rfbjax.kernels.strided import strided_frame_bounds

    # J = stride: square polyphase matrices, kappa often beyond float32's reach
    k = audit_lib.reference_kappas(4, 1, 64, 256, 4, draws=30, seed=3)
    assert np.all(np.isfinite(k)) and np.max(k) > 1e4
    # batches of 7 draws (the last one padded) give the same values as one batch of 30
    per_draw = 16 * 4 * 129 + 8 * 4 * 64
    np.testing.assert_array_equal(
        audit_lib.reference_kappas(4, 1, 64, 256, 4, draws=30, seed=3,
                                   max_memory=3 * per_draw * 7), k)
    tags = audit_lib._reference_tags(4, 1, 64, 256, 4)
    key = mc.sample_keys(mc.stream_key(3, *tags), jax.numpy.arange(5))
    with jax.enable_x64(True):
        for i in range(5):
            w = np.asarray(rng.normal(key[i], (4, 64), np.float32), dtype=np.float64)
            A, B = strided_frame_bounds(jax.numpy.asarray(w), 256, 4)
            assert k[i] == pytest.approx(float(B / A), rel=1e-7)
    assert audit_lib.reference_draws(2, 1, 8, 32, 4, draws=1000) == 0      # J < d
    res = audit_lib.audit(RNG.standard_normal((2, 1, 8)), stride=4, N=32, draws=1000)
    assert res.rank_deficient and "rank deficient" in res.sentence()
    assert res.reference["channel"]["of"] == "riesz_kappa"        # the Riesz κ is compared
    assert audit_lib.reference_draws(2, 1, 8, 32, 4, draws=1000, of="riesz_kappa") == 1000


def test_large_layers_get_fewer_draws_with_their_uncertainty():
    n_small = audit_lib.reference_draws(16, 1, 8, 64, draws=1000)
    n_big = audit_lib.reference_draws(512, 256, 64, 1024, draws=1000)
    assert n_small == 1000 and n_big == audit_lib.MIN_DRAWS
    lo, hi, cover = audit_lib.median_interval(1000)
    assert lo < 500 < hi and 0.95 <= cover < 0.96
    assert audit_lib.median_interval(2) == (0, 1, 0.5)


def test_kappa_sentence():
    ref_s = {"draws": 4, "median_kappa": 2.0, "q95_kappa": 2.85,
             "_values": np.array([1.5, 2.0, 2.0, 3.0])}
    row = {"kappa": 3000.0, "ratio_to_median": 1500.0, "percentile_kappa": 100.0}
    assert audit_lib.kappa_sentence(row, ref_s) == \
        "κ = 3000, 1500× the random median 2 (q95 2.85), above all 4 draws"
    row = {"kappa": 2.0, "ratio_to_median": 1.0, "percentile_kappa": 50.0}
    assert audit_lib.kappa_sentence(row, ref_s).endswith("at the 50.0th percentile of 4 draws")


@pytest.mark.parametrize("seed", ["-1", str(2 ** 64), "1.5"])
def test_bad_seed_refused_at_parse_time(tmp_path, capsys, seed):
    with pytest.raises(SystemExit) as exc:
        main(["audit", "w.npy", "--seed", seed, "--out", str(tmp_path / "never")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and "--seed" in err[-1] and "[0, 2^64)" in err[-1]
    assert not (tmp_path / "never").exists()


def test_out_folder_reused_only_when_ours(tmp_path, capsys):
    w = RNG.standard_normal((4, 1, 5))
    np.save(tmp_path / "w.npy", w)
    out = tmp_path / "out"
    base = [str(tmp_path / "w.npy"), "--N", "16", "--draws", "0", "--quiet", "--out", str(out)]
    assert _run([*base, "--pdf"], capsys)[0] == 0
    assert json.loads((out / "audit.json").read_text())["command"] == "audit"
    assert (out / "power_response.pdf").exists()
    assert _run(base, capsys)[0] == 0                       # our own folder: rewritten
    assert sorted(p.name for p in out.iterdir()) == [".rfbjax-manifest.json", "audit.json",
                                                     "audit.txt", "power_response.png"]
    (out / "notes.txt").write_text("mine")                  # a user's file: never mixed with ours
    rc, _, err = _run(base, capsys)
    assert rc == 2 and "notes.txt" in err and len(err.strip().splitlines()) == 1
    assert (out / "notes.txt").read_text() == "mine"
    other = tmp_path / "other"
    other.mkdir()
    (other / "audit.json").write_text(json.dumps({"command": "bounds"}))
    rc, _, err = _run([*base[:-1], str(other)], capsys)
    assert rc == 2 and "no audit.json of rfbjax audit" in err


def test_seed_full_range_and_model_memory_plan(tmp_path, capsys):
    from rfbjax.errors import InputError

    w = RNG.standard_normal((6, 1, 4))
    np.save(tmp_path / "w.npy", w)
    seed = 2 ** 64 - 1
    rc, _, _ = _run([str(tmp_path / "w.npy"), "--N", "16", "--draws", "8", "--seed", str(seed),
                     "--quiet", "--out", str(tmp_path / "o")], capsys)
    data = json.loads((tmp_path / "o" / "audit.json").read_text())
    lib = audit_lib.audit(w, N=16, draws=8, seed=seed)
    assert rc == 0 and data["reference"]["seed"] == seed
    assert data["rows"][0]["percentile_kappa"] == lib.percentile
    # the plan of a checkpoint counts every layer's curves (kept for the report) at once
    np.savez(tmp_path / "m.npz", a=RNG.standard_normal((4, 1, 3)), b=RNG.standard_normal((4, 4, 3)))
    layers = [("a", 4, 1, 3, 2 ** 22, 1), ("b", 4, 4, 3, 2 ** 22, 1)]
    from rfbjax.engine.resources import audit_plan, check_plan
    need = audit_plan(layers, budget=1).fixed
    assert need > audit_plan(layers[1:], budget=1).fixed > 2 ** 22 * 8
    check_plan(audit_plan(layers, budget=need))   # fits exactly
    with pytest.raises(InputError, match="memory budget"):
        audit_lib.audit(tmp_path / "m.npz", N=2 ** 22, draws=0, max_memory=need - 1)


def test_parallel_single_threaded_spectra_match_explicit_matrices():
    """The frequency blocks run on worker threads with one BLAS thread each: the same bits
    whatever the number of workers or the block size, and the bounds of the explicit layer
    matrix [Φ_0 … Φ_{C-1}] (one strided circulant per input channel)."""
    N, d = 120, 2
    w = RNG.standard_normal((2, 12, 3, 7))
    # 200 kB: spectra by direct sums (no rfft), blocks of 9, 4, 3, 1 frequencies
    one = audit_lib.spectral_extremes(w, N, d, workers=1, max_bytes=200_000)
    for workers, max_bytes in ((2, 200_000), (3, 200_000), (3, 40_000)):
        got = audit_lib.spectral_extremes(w, N, d, workers=workers, max_bytes=max_bytes)
        assert all(np.array_equal(a, b) for a, b in zip(one, got)), (workers, max_bytes)
    for b in range(2):
        Phi = np.hstack([ref.analysis_matrix(w[b, :, c], N, d) for c in range(3)])
        ev = np.linalg.eigvalsh(Phi.T @ Phi)
        assert one[0][b].min() == pytest.approx(ev[0], rel=1e-10)
        assert one[1][b].max() == pytest.approx(ev[-1], rel=1e-12)
