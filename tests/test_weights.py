"""Weights from outside (:mod:`rfbjax.models.weights`): PyTorch zip checkpoints read without torch and
never executed, safetensors (bf16), Keras (h5py), 4-D kernels, nested checkpoints."""

import os
import zipfile

import numpy as np
import pytest

import torchzip
from rfbjax.errors import InputError
from rfbjax.models.weights import conv_kernels, keras_layout_warning, read_tensors, to_conv1d

RNG = np.random.default_rng(16)


def _model():
    return {"conv1.weight": RNG.standard_normal((6, 1, 9)).astype(np.float32),
            "conv1.bias": np.zeros(6, np.float32),
            "bn.num_batches_tracked": np.array(7, dtype=np.int64),
            "bn.running_mean": np.zeros(6),
            "conv2.weight": RNG.standard_normal((8, 6, 3, 1)).astype(np.float16),
            "fc.weight": RNG.standard_normal((4, 8)).astype(np.float32)}


@pytest.mark.parametrize("wrap", ["plain", "lightning", "model"])
@pytest.mark.parametrize("transpose", [False, True])
def test_torch_zip_roundtrip(tmp_path, wrap, transpose):
    sd = _model()
    obj = {"plain": sd, "lightning": {"state_dict": sd, "epoch": 3, "global_step": 10,
                                      "optimizer_states": [{"lr": 0.1}]},
           "model": {"model": sd, "args": {"lr": 1e-3}}}[wrap]
    torchzip.save(obj, tmp_path / "m.ckpt", transpose=transpose)
    got, fmt = read_tensors(tmp_path / "m.ckpt")
    assert fmt == "torch" and list(got) == list(sd)
    for k, v in sd.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape, k
        assert np.array_equal(got[k], v), k
    kernels, notes = conv_kernels(got)
    assert [k.name for k in kernels] == ["conv1.weight", "conv2.weight"]
    assert kernels[1].w.shape == (8, 6, 3) and kernels[1].w.dtype == np.float64
    assert any("squeezed" in n for n in notes)               # (J, C, T, 1) read as (J, C, T)


def test_malicious_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    torchzip.malicious(tmp_path / "evil.pt", f"touch {marker}")
    with pytest.raises(InputError, match="os.system") as exc:
        read_tensors(tmp_path / "evil.pt")
    assert "\n" not in str(exc.value)
    assert not marker.exists()


def test_legacy_and_broken_checkpoints(tmp_path):
    import pickle

    (tmp_path / "old.pt").write_bytes(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2))
    with pytest.raises(InputError, match="legacy"):
        read_tensors(tmp_path / "old.pt")
    with zipfile.ZipFile(tmp_path / "nozip.pth", "w") as z:
        z.writestr("a/readme.txt", "hello")
    with pytest.raises(InputError, match="data.pkl"):
        read_tensors(tmp_path / "nozip.pth")
    with pytest.raises(InputError, match="is a directory"):
        read_tensors(tmp_path)


def test_bfloat16_safetensors(tmp_path):
    import ml_dtypes
    from safetensors.numpy import save_file

    w = RNG.standard_normal((4, 2, 5)).astype(np.float32)
    save_file({"c.weight": w.astype(ml_dtypes.bfloat16)}, str(tmp_path / "b.safetensors"))
    got, _ = read_tensors(tmp_path / "b.safetensors")
    k = to_conv1d(got["c.weight"])
    assert k.dtype == np.float64 and np.allclose(k, w, rtol=2 ** -7)


def test_four_d_kernels_and_layouts():
    w = RNG.standard_normal((5, 2, 7))
    notes = []
    assert np.array_equal(to_conv1d(w[:, :, None, :], notes=notes), w)     # (J, C, 1, T)
    assert np.array_equal(to_conv1d(w[..., None]), w)                     # (J, C, T, 1)
    keras = np.transpose(w, (2, 1, 0))[:, None]                           # (T, 1, C, J)
    assert np.array_equal(to_conv1d(keras, layout="keras"), w)
    assert notes and "squeezed" in notes[0]
    with pytest.raises(InputError, match="no singleton"):
        to_conv1d(np.ones((2, 3, 4, 5)))
    assert keras_layout_warning((64, 1, 512)) is not None       # Keras (T=64, C=1, J=512)
    assert keras_layout_warning((80, 1, 251)) is None           # SincNet-like torch kernel


def test_keras_h5(tmp_path):
    h5py = pytest.importorskip("h5py")
    w = RNG.standard_normal((9, 1, 4))                                    # (T, C, J)
    with h5py.File(tmp_path / "m.h5", "w") as h:
        h.create_dataset("layers/conv1d/vars/0", data=w)
        h.create_dataset("layers/conv1d/vars/1", data=np.zeros(4))
    got, fmt = read_tensors(tmp_path / "m.h5")
    assert fmt == "keras"
    kernels, _ = conv_kernels(got, layout="keras")
    assert len(kernels) == 1 and np.array_equal(kernels[0].w, np.transpose(w, (2, 1, 0)))


def test_real_torch_reads_our_writer(tmp_path):
    torch = pytest.importorskip("torch")
    sd = _model()
    torchzip.save({"state_dict": sd}, tmp_path / "m.pt", transpose=True)
    got = torch.load(tmp_path / "m.pt", weights_only=True)["state_dict"]
    for k, v in sd.items():
        assert np.array_equal(got[k].numpy(), v)
    torch.save({k: torch.from_numpy(np.array(v)) for k, v in sd.items()},
               os.fspath(tmp_path / "t.pt"))
    back, _ = read_tensors(tmp_path / "t.pt")
    for k, v in sd.items():
        assert back[k].shape == v.shape and np.array_equal(back[k], v), k
