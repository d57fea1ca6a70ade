"""Layers as real models store them: effective weights, groups, dilation, transposed convs, Riesz
bounds, per-layer names, ONNX / TorchScript / Keras structure, cascades — each against brute force
(explicit matrices of the direct operation, in float64)."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest

import reference as ref
import torchzip
from rfbjax.errors import InputError
from rfbjax.kernels.cascade import cascade_bounds
from rfbjax.kernels.conv_structure import structured_bounds
from rfbjax.models import audits as audit_lib
from rfbjax.models.reparam import fold_reparametrizations

RNG = np.random.default_rng(25)


def _run(argv, capsys):
    from rfbjax.cli import main

    rc = main(["audit", *argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


# ----------------------------------------------------------------------------- kernel math
@pytest.mark.parametrize("J,Cg,T,g,d,delta,N", [
    (8, 2, 3, 2, 1, 3, 12),      # grouped + dilated, frame (J/g = 4 >= C_g d = 2)
    (4, 2, 3, 2, 2, 2, 16),      # grouped, strided, dilated: rank deficient, Riesz finite
    (3, 2, 4, 1, 2, 1, 12),      # plain, contracting (J = 3 < C d = 4)
])
def test_structured_bounds_match_the_direct_operation(J, Cg, T, g, d, delta, N):
    w = RNG.standard_normal((J, Cg, T))
    frame, riesz, B = ref.extreme_eigenvalues(ref.structured_conv_matrix(w, N, d, g, delta))
    got = structured_bounds(w, N, d, groups=g, dilation=delta)
    assert got["B"] == pytest.approx(B, rel=1e-10)
    assert got["A"] == pytest.approx(frame, rel=1e-9, abs=1e-12 * B)
    assert got["riesz_A"] == pytest.approx(riesz, rel=1e-9, abs=1e-12 * B)
    assert (got["A"] > 0) == (J // g >= Cg * d) and (got["riesz_A"] > 0) == (J // g <= Cg * d)
    res = audit_lib.audit(w, stride=d, groups=g, dilation=delta, N=N, draws=0)
    assert res.B == pytest.approx(B, rel=1e-10)
    assert res.A == pytest.approx(frame, rel=1e-9, abs=1e-12 * B)
    assert res.riesz_A == pytest.approx(riesz, rel=1e-9, abs=1e-12 * B)
    # every input channel's filterbank: its group's J/g filters
    c = g * Cg - 1
    k = c // Cg
    one = w[k * (J // g):(k + 1) * (J // g), c % Cg][:, None, :]
    fb = ref.extreme_eigenvalues(ref.structured_conv_matrix(one, N, d, 1, delta))
    assert res.channels[c]["B"] == pytest.approx(fb[2], rel=1e-10)


def test_transposed_layer_is_the_adjoint_and_riesz_is_the_decoder_stability():
    Cin, Cog, T, g, d, N = 6, 2, 4, 2, 2, 16          # 6 channels at rate 1/2 -> 4 channels
    w = RNG.standard_normal((Cin, Cog, T))
    E = ref.conv_transpose_matrix(w, N, d, g)           # (C_out N) x (C_in N/d), torch's op
    s = np.linalg.svd(E, compute_uv=False)
    res = audit_lib.audit(w, stride=d, groups=g, transposed=True, N=N, draws=0)
    assert res.B == pytest.approx(s.max() ** 2, rel=1e-10)
    assert res.riesz_A == pytest.approx(s.min() ** 2, rel=1e-9)    # ||E z||^2 >= A_R ||z||^2
    assert res.A == 0.0 and res.rank_deficient                        # E E^T is singular
    assert res.matters == "riesz_kappa" and "decoder" in res.sentence()
    assert res.record()["transposed"] and res.record()["groups"] == 2
    assert res.shape["in_channels"] == 6 and res.shape["out_channels"] == 4


def test_cascade_bounds_float64_grouped_dilated_and_transposed_chains():
    w1 = RNG.standard_normal((4, 1, 3))
    w2 = RNG.standard_normal((8, 2, 2))                  # groups 2 on 4 channels
    N = 16
    P = (ref.structured_conv_matrix(w2, N // 2, 2, 2, 2)
         @ ref.structured_conv_matrix(w1, N, 2, 1, 1))
    frame, riesz, B = ref.extreme_eigenvalues(P)
    A, Bc, AR = cascade_bounds([w1, w2], [2, 2], N, groups=[1, 2], dilation=[1, 2], riesz=True)
    assert Bc == pytest.approx(B, rel=1e-12) and AR == pytest.approx(riesz, rel=1e-10)
    assert A == pytest.approx(frame, rel=1e-10, abs=1e-12 * B)
    # float64 in, float64 out (JAX's 64-bit mode is off in the tests)
    A0, B0 = cascade_bounds([w1], [1], 8)
    fr, _, Bx = ref.extreme_eigenvalues(ref.structured_conv_matrix(w1, 8, 1))
    assert abs(B0 / Bx - 1) < 1e-12 and abs(A0 / fr - 1) < 1e-10
    # a decoder: up1 (4 -> 2 channels, x2) then up2 (2 -> 1 channel, x2)
    u1, u2 = RNG.standard_normal((4, 2, 4)), RNG.standard_normal((2, 1, 4))
    Dm = ref.conv_transpose_matrix(u2, N, 2) @ ref.conv_transpose_matrix(u1, N // 2, 2)
    s = np.linalg.svd(Dm, compute_uv=False)
    A, Bc, AR = cascade_bounds([u1, u2], [2, 2], N, transposed=True, riesz=True)
    assert Bc == pytest.approx(s.max() ** 2, rel=1e-10)
    assert AR == pytest.approx(s.min() ** 2, rel=1e-9)
    with pytest.raises(InputError, match="mixes conv and transposed"):
        cascade_bounds([w1, u1], [1, 1], N, transposed=[False, True])


# ----------------------------------------------------------------------------- effective weights
def _wn(g, v):
    out = np.empty_like(v)
    for j in range(v.shape[0]):
        out[j] = g[j].reshape(()) * v[j] / np.sqrt(sum(x * x for x in v[j].ravel()))
    return out


def _codec_state():
    """Weight norm (legacy, gains 0.2 ... 3.0), parametrized weight norm, both spectral norms."""
    v0 = RNG.standard_normal((4, 1, 5))
    g0 = np.linspace(0.2, 3.0, 4).reshape(4, 1, 1)
    v1 = RNG.standard_normal((6, 4, 3))
    g1 = RNG.uniform(0.5, 2.0, (6, 1, 1))
    w2 = RNG.standard_normal((6, 6, 3))
    u2, vv2 = RNG.standard_normal(6), RNG.standard_normal(18)
    w3 = RNG.standard_normal((6, 3, 4))                  # a ConvTranspose (dim 1 for u)
    u3, vv3 = RNG.standard_normal(3), RNG.standard_normal(24)
    sd = collections.OrderedDict([
        ("enc.conv_in.bias", np.zeros(4)), ("enc.conv_in.weight_g", g0),
        ("enc.conv_in.weight_v", v0),
        ("enc.down1.parametrizations.weight.original0", g1),
        ("enc.down1.parametrizations.weight.original1", v1),
        ("enc.res.weight_orig", w2), ("enc.res.weight_u", u2), ("enc.res.weight_v", vv2),
        ("dec.up.parametrizations.weight.original", w3),
        ("dec.up.parametrizations.weight.0._u", u3), ("dec.up.parametrizations.weight.0._v", vv3),
    ])
    sigma2 = sum(u2[i] * sum(w2.reshape(6, -1)[i, k] * vv2[k] for k in range(18))
                 for i in range(6))
    mat3 = np.moveaxis(w3, 1, 0).reshape(3, -1)
    sigma3 = sum(u3[i] * sum(mat3[i, k] * vv3[k] for k in range(24)) for i in range(3))
    expect = {"enc.conv_in.weight": _wn(g0, v0), "enc.down1.weight": _wn(g1, v1),
              "enc.res.weight": w2 / sigma2, "dec.up.weight": w3 / sigma3}
    return sd, expect


def test_effective_weights_are_folded_and_gains_never_audited(tmp_path):
    sd, expect = _codec_state()
    out, folded, notes = fold_reparametrizations(dict(sd))
    assert list(folded) == list(expect)
    for k, w in expect.items():
        np.testing.assert_allclose(out[k], w, rtol=1e-12)
    assert not any(k.endswith(("_g", "_u", "original0", "original1", "_orig")) for k in out)
    one = fold_reparametrizations({"c.weight_g": np.array(2.0), "c.weight_v": sd[
        "enc.conv_in.weight_v"]})[0]["c.weight"]           # dim=None: one norm over everything
    np.testing.assert_allclose(np.sqrt(np.sum(one ** 2)), 2.0, rtol=1e-12)
    path = tmp_path / "codec.pt"
    torchzip.save({"state_dict": {k: v.astype(np.float32) for k, v in sd.items()}}, path)
    model = audit_lib.audit(str(path), draws=0, stride="down1=2", transposed="up", N=32)
    names = [lay.name for lay in model.layers]
    assert names == list(expect)
    rec = {r["name"]: r for r in model.to_dict()["layers"]}
    assert rec["enc.conv_in.weight"]["reparametrization"] == "weight_norm"
    assert rec["enc.down1.weight"]["reparametrization"] == "weight_norm (parametrization)"
    assert rec["dec.up.weight"]["reparametrization"] == "spectral_norm (parametrization)"
    assert rec["enc.down1.weight"]["stride"] == 2 and rec["dec.up.weight"]["transposed"]
    plain = audit_lib.audit(expect["enc.conv_in.weight"], N=32, draws=0)
    assert model["conv_in"].B == pytest.approx(plain.B, rel=1e-6)


def test_effective_weights_match_torch_eval_mode(tmp_path):
    torch = pytest.importorskip("torch")
    from torch.nn.utils import parametrizations, spectral_norm, weight_norm

    torch.manual_seed(0)
    mods = torch.nn.ModuleDict({
        "a": weight_norm(torch.nn.Conv1d(1, 4, 5)),
        "b": parametrizations.weight_norm(torch.nn.Conv1d(4, 6, 3)),
        "c": spectral_norm(torch.nn.Conv1d(6, 6, 3)),
        "d": parametrizations.spectral_norm(torch.nn.ConvTranspose1d(6, 3, 4, stride=2)),
    })
    with torch.no_grad():                                # gains that differ, as after training
        mods["a"].weight_g.mul_(torch.linspace(0.2, 3.0, 4).reshape(4, 1, 1))
    mods.train()
    for _ in range(3):                                   # move u, v by power iteration
        for m in mods.values():
            m(torch.randn(1, m.in_channels, 16))
    mods.eval()
    path = tmp_path / "real.pt"
    torch.save(mods.state_dict(), path)
    from rfbjax.models.weights import read_tensors

    tensors, _ = fold_reparametrizations(read_tensors(str(path))[0])[:2]
    for name, m in mods.items():
        with torch.no_grad():
            want = m.weight.detach().double().numpy()
        np.testing.assert_allclose(tensors[f"{name}.weight"], want, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- names and groups
def test_names_match_by_suffix_and_ambiguity_is_refused(tmp_path, capsys):
    path = tmp_path / "m.npz"
    np.savez(path, **{"frontend.conv1.weight": RNG.standard_normal((8, 1, 4)),
                      "frontend.conv2.weight": RNG.standard_normal((8, 2, 3)),
                      "head.conv2.weight": RNG.standard_normal((4, 8, 3))})
    model = audit_lib.audit(str(path), stride="conv1=4", groups={"frontend.conv2": 4}, draws=0)
    assert model["conv1"].shape["stride"] == 4 and model["frontend.conv2"].structure["groups"] == 4
    rc, _, err = _run([str(path), "--stride", "conv2=2", "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "ambiguous" in err and "frontend.conv2.weight" in err and "head.conv2.weight" in err
    rc, _, err = _run([str(path), "--groups", "conv1=3", "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "does not divide" in err and len(err.strip().splitlines()) == 1


def test_groups_are_suggested_and_applied_only_when_asked(tmp_path):
    path = tmp_path / "g.npz"
    w1, w2 = RNG.standard_normal((8, 1, 4)), RNG.standard_normal((8, 2, 3))
    np.savez(path, **{"a.weight": w1, "b.weight": w2})
    model = audit_lib.audit(str(path), draws=0, N=16)
    assert model["b"].structure["groups"] == 1
    assert any("--groups b=4" in n for n in model.notes)
    model = audit_lib.audit(str(path), draws=0, N=16, infer_groups=True)
    assert model["b"].structure["groups"] == 4 and model["b"].structure["origin"]["groups"] == \
        "inferred"
    fr, _, B = ref.extreme_eigenvalues(ref.structured_conv_matrix(w2, 16, 1, 4))
    assert model["b"].B == pytest.approx(B, rel=1e-10)


def test_cascade_reports_the_product_of_sqrt_b(tmp_path, capsys):
    path = tmp_path / "s.npz"
    w1, w2 = RNG.standard_normal((4, 1, 4)), RNG.standard_normal((8, 2, 3))
    np.savez(path, **{"enc.c1.weight": w1, "enc.c2.weight": w2})
    rc, out, _ = _run([str(path), "--stride", "c1=2", "--groups", "c2=2", "--dilation", "c2=2",
                       "--cascade", "c1,c2", "--N", "16", "--draws", "0", "--out",
                       str(tmp_path / "o")], capsys)
    assert rc == 0 and "1-Lipschitz" in out
    doc = json.loads((tmp_path / "o" / "audit.json").read_text())
    cas = doc["cascades"][0]
    P = ref.structured_conv_matrix(w2, 8, 1, 2, 2) @ ref.structured_conv_matrix(w1, 16, 2)
    assert cas["B"] == pytest.approx(np.linalg.norm(P, 2) ** 2, rel=1e-10)
    prod = np.sqrt(doc["layers"][0]["B"] * doc["layers"][1]["B"])
    assert cas["lipschitz_product"] == pytest.approx(prod, rel=1e-12)
    assert cas["lipschitz_product"] >= cas["lipschitz"] * (1 - 1e-12)
    for key in ("A", "B", "kappa", "riesz_A", "riesz_kappa", "stride", "groups", "dilation",
                "transposed", "reparametrization", "percentile_of"):
        assert key in doc["layers"][1]
    assert doc["layers"][1]["groups"] == 2 and doc["layers"][1]["dilation"] == 2


# ----------------------------------------------------------------------------- ONNX
def _onnx_model():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w_a = RNG.standard_normal((8, 2, 3)).astype(np.float32)   # grouped (4 groups), stride 2
    w_b = RNG.standard_normal((8, 8, 3)).astype(np.float32)   # Constant node, dilation 2
    v_c = RNG.standard_normal((8, 8, 2)).astype(np.float32)   # exported weight norm
    g_c = RNG.uniform(0.5, 2.0, (8, 1, 1)).astype(np.float32)
    w_t = RNG.standard_normal((8, 4, 4)).astype(np.float32)   # ConvTranspose, stride 2
    w_s = RNG.standard_normal((4, 4, 3)).astype(np.float32)   # inside an If branch
    init = [numpy_helper.from_array(w_a, "w_a"), numpy_helper.from_array(v_c, "v_c"),
            numpy_helper.from_array(g_c, "g_c"), numpy_helper.from_array(w_t, "w_t"),
            numpy_helper.from_array(np.array([1, 2], np.int64), "axes12"),
            numpy_helper.from_array(np.array(2.0, np.float32), "two")]
    nodes = [
        helper.make_node("Conv", ["x", "w_a"], ["y1"], name="enc.conv_a", strides=[2], group=4),
        helper.make_node("Constant", [], ["w_b"], value=numpy_helper.from_array(w_b, "wb")),
        helper.make_node("Conv", ["y1", "w_b"], ["y2"], dilations=[2]),       # unnamed node
        helper.make_node("Pow", ["v_c", "two"], ["v2"]),
        helper.make_node("ReduceSum", ["v2", "axes12"], ["ss"], keepdims=1),
        helper.make_node("Sqrt", ["ss"], ["nrm"]),
        helper.make_node("Div", ["v_c", "nrm"], ["vn"]),
        helper.make_node("Mul", ["g_c", "vn"], ["w_c"]),
        helper.make_node("Conv", ["y2", "w_c"], ["y3"], name="enc.conv_c"),
        helper.make_node("ConvTranspose", ["y3", "w_t"], ["y4"], name="dec.up", strides=[2]),
        helper.make_node("Relu", ["w_in"], ["w_r"]),
        helper.make_node("Conv", ["y3", "w_r"], ["y5"], name="computed"),
    ]
    branch = helper.make_graph(
        [helper.make_node("Conv", ["y4", "w_s"], ["z"], name="inner")], "then",
        [], [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(w_s, "w_s")])
    other = helper.make_graph([helper.make_node("Identity", ["y4"], ["z2"])], "else", [],
                              [helper.make_tensor_value_info("z2", TensorProto.FLOAT, None)])
    nodes.append(helper.make_node("If", ["cond"], ["out"], name="branch", then_branch=branch,
                                  else_branch=other))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
                     for n in ("x", "w_in")] +
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], initializer=init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    wn = g_c.astype(np.float64) * v_c / np.sqrt(np.sum(v_c.astype(np.float64) ** 2, axis=(1, 2),
                                                       keepdims=True))
    return onnx, model, {"w_a": w_a, "w_b": w_b, "w_c": wn, "w_t": w_t, "w_s": w_s}


def test_onnx_layers_structure_and_folded_weights(tmp_path):
    onnx, model, w = _onnx_model()
    from rfbjax.models.onnx_reader import read_onnx_layers

    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    layers, notes = read_onnx_layers(str(path))
    by = {lay["name"]: lay for lay in layers}
    assert list(by) == ["enc.conv_a", "w_b", "enc.conv_c", "dec.up", "branch/inner"]
    assert (by["enc.conv_a"]["stride"], by["enc.conv_a"]["groups"]) == (2, 4)
    assert by["w_b"]["dilation"] == 2 and by["dec.up"]["transposed"] and by["dec.up"]["stride"] == 2
    np.testing.assert_allclose(by["enc.conv_c"]["weight"], w["w_c"], rtol=1e-6)
    np.testing.assert_array_equal(by["branch/inner"]["weight"], w["w_s"])
    assert any("computed" in n and "Relu" in n for n in notes)
    model_audit = audit_lib.audit(str(path), draws=0, N=32)
    a = model_audit["enc.conv_a"]
    assert a.structure["origin"]["stride"] == "file" and a.structure["groups"] == 4
    fr, ri, B = ref.extreme_eigenvalues(ref.structured_conv_matrix(
        w["w_a"].astype(np.float64), 32, 2, 4))
    assert a.B == pytest.approx(B, rel=1e-10) and a.riesz_A == pytest.approx(ri, rel=1e-9)
    up = model_audit["dec.up"]
    s = np.linalg.svd(ref.conv_transpose_matrix(w["w_t"].astype(np.float64), 32, 2), compute_uv=0)
    assert up.B == pytest.approx(s.max() ** 2, rel=1e-10)
    over = audit_lib.audit(str(path), draws=0, N=32, stride="conv_a=1")
    assert over["conv_a"].shape["stride"] == 1
    assert any("overrides the file's 2" in n for n in over.notes)


def test_onnx_errors_are_one_line(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not a protobuf \xff\xff\xff")
    rc, _, err = _run([str(bad), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "bad.onnx" in err
    # a weight that declares 10^12 floats but holds 16 bytes: refused before any allocation
    huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[10 ** 6, 10 ** 6, 1],
                       raw_data=b"\0" * 16)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="c")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          initializer=[huge])
    big = tmp_path / "big.onnx"
    onnx.save(helper.make_model(g), str(big))
    rc, _, err = _run([str(big), "--out", str(tmp_path / "o"), "--max-memory", "1GB"], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "big.onnx" in err and "more than the memory budget" in err
    small = tmp_path / "small.onnx"
    g.initializer[0].CopyFrom(TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, 2, 1],
                                          raw_data=b"\0" * 12))   # declares 16 bytes, holds 12
    onnx.save(helper.make_model(g), str(small))
    rc, _, err = _run([str(small), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "declares" in err and len(err.strip().splitlines()) == 1


def test_onnx_reader_fuzz(tmp_path):
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, given, settings, strategies as st

    from rfbjax.models.onnx_reader import read_onnx_layers

    _, model, _ = _onnx_model()
    raw = model.SerializeToString()
    path = tmp_path / "f.onnx"

    @settings(max_examples=60, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 255)), max_size=6),
           st.integers(0, len(raw)))
    def check(flips, cut):
        data = bytearray(raw[:cut] if cut < len(raw) // 4 else raw)
        for i, b in flips:
            if i < len(data):
                data[i] = b
        path.write_bytes(bytes(data))
        try:
            layers, _ = read_onnx_layers(str(path), budget=64 * 1024 ** 2)
        except InputError as exc:
            assert "\n" not in str(exc) and "f.onnx" in str(exc)
            return
        for lay in layers:
            assert isinstance(lay["weight"], np.ndarray)

    check()
    assert hypothesis is not None


# ----------------------------------------------------------------------------- TorchScript, Keras
def test_torchscript_tensors_read_without_running_code(tmp_path):
    w1 = RNG.standard_normal((4, 1, 5)).astype(np.float32)
    mod = torchzip.script_module(
        "Model", encoder=torchzip.script_module(
            "torch.nn.modules.conv.Conv1d", weight=w1, bias=np.zeros(4, np.float32)))
    path = tmp_path / "scripted.pt"
    torchzip.torchscript(path, mod, code="import os\nos.system('touch PWNED')\n")
    model = audit_lib.audit(str(path), draws=0, stride="encoder=2", N=32)
    assert [lay.name for lay in model.layers] == ["encoder.weight"]
    np.testing.assert_array_equal(model.layers[0].weights, w1.astype(np.float64))
    assert not (tmp_path / "PWNED").exists()
    evil = torchzip.script_module("Model", weight=w1,
                                  hook=torchzip._Call(torchzip._Global("os", "system"),
                                                      (f"touch {tmp_path / 'PWNED'}",)))
    torchzip.torchscript(path, evil)
    with pytest.raises(InputError, match="refusing to load: the checkpoint names os.system"):
        audit_lib.audit(str(path), draws=0, N=32)
    assert not (tmp_path / "PWNED").exists()


def test_keras_config_gives_strides_dilation_and_groups(tmp_path):
    h5py = pytest.importorskip("h5py")
    k1 = RNG.standard_normal((5, 1, 8)).astype(np.float32)      # Keras (T, C, J)
    k2 = RNG.standard_normal((3, 2, 8)).astype(np.float32)      # groups 4
    cfg = {"class_name": "Sequential", "config": {"layers": [
        {"class_name": "Conv1D", "config": {"name": "c1", "strides": [2], "dilation_rate": [1],
                                            "groups": 1, "kernel_size": [5]}},
        {"class_name": "Conv1D", "config": {"name": "c2", "strides": [1], "dilation_rate": [2],
                                            "groups": 4, "kernel_size": [3]}}]}}
    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as h:
        h.attrs["model_config"] = json.dumps(cfg)
        h.create_dataset("model_weights/c1/c1/kernel:0", data=k1)
        h.create_dataset("model_weights/c2/c2/kernel:0", data=k2)
    model = audit_lib.audit(str(path), draws=0, N=32)
    c1, c2 = model.layers
    assert c1.shape["stride"] == 2 and c2.structure["groups"] == 4
    assert c2.structure["dilation"] == 2 and c2.structure["origin"]["dilation"] == "file"
    w2 = np.transpose(k2.astype(np.float64), (2, 1, 0))
    _, _, B = ref.extreme_eigenvalues(ref.structured_conv_matrix(w2, 32, 1, 4, 2))
    assert c2.B == pytest.approx(B, rel=1e-10)
