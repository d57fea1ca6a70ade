"""Hostile weight files, generated at test time (no binary is committed).

Each function writes one file to ``path`` and returns it. Pickles are written opcode by
opcode, so that they hold exactly the structure a test needs (a list inside itself, a chain
200 000 deep, a "billion laughs" of shared references, a tensor declaring an infinite size).
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile

import numpy as np

P = pickle


def torch_zip(path, pkl: bytes, storages: dict | None = None, *, method=zipfile.ZIP_STORED):
    """A torch.save-shaped zip: ``archive/data.pkl`` = ``pkl`` and ``archive/data/<key>``."""
    with zipfile.ZipFile(path, "w", method) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "little")
        for k, v in (storages or {}).items():
            z.writestr(f"archive/data/{k}", v)
    return path


def _global(module, name) -> bytes:
    return P.GLOBAL + f"{module}\n{name}\n".encode()


def _tensor(size: bytes, stride: bytes, offset: bytes = P.BININT1 + b"\x00") -> bytes:
    """``_rebuild_tensor_v2(storage '0' of floats, offset, size, stride)`` (opcodes)."""
    pid = (P.MARK + P.BINUNICODE + struct.pack("<I", 7) + b"storage"
           + _global("torch", "FloatStorage") + P.BINUNICODE + struct.pack("<I", 1) + b"0"
           + P.BINUNICODE + struct.pack("<I", 3) + b"cpu" + P.BININT1 + b"\x04" + P.TUPLE
           + P.BINPERSID)
    return (_global("torch._utils", "_rebuild_tensor_v2") + P.MARK + pid + offset + size
            + stride + P.NEWFALSE + P.EMPTY_DICT + P.TUPLE + P.REDUCE)


def _state_dict(value: bytes) -> bytes:
    return (P.PROTO + b"\x02" + P.EMPTY_DICT + P.BINUNICODE + struct.pack("<I", 1) + b"w"
            + value + P.SETITEM + P.STOP)


def inf_size(path):
    """A tensor whose size is ``inf`` (a float where torch writes an int)."""
    size = P.MARK + P.BINFLOAT + struct.pack(">d", float("inf")) + P.TUPLE
    stride = P.MARK + P.BININT1 + b"\x01" + P.TUPLE
    return torch_zip(path, _state_dict(_tensor(size, stride)), {"0": b"\0" * 16})


def zero_strides(path):
    """A tensor declaring 2**20 x 2**20 floats (4 TiB) over a 4-float storage, strides 0."""
    size = P.MARK + P.BININT + struct.pack("<i", 1 << 20) + P.BININT + struct.pack("<i", 1 << 20) \
        + P.TUPLE
    stride = P.MARK + P.BININT1 + b"\x00" + P.BININT1 + b"\x00" + P.TUPLE
    return torch_zip(path, _state_dict(_tensor(size, stride)), {"0": b"\0" * 16})


def self_reference(path):
    """A list that holds itself."""
    pkl = (P.PROTO + b"\x02" + P.EMPTY_LIST + P.BINPUT + b"\x00" + P.BINGET + b"\x00"
           + P.APPEND + P.STOP)
    return torch_zip(path, pkl)


def deep(path, depth: int = 200_000):
    """Lists nested ``depth`` levels deep."""
    pkl = P.PROTO + b"\x02" + P.EMPTY_LIST * depth + P.APPEND * (depth - 1) + P.STOP
    return torch_zip(path, pkl)


def billion_laughs(path, levels: int = 30, width: int = 10):
    """Each level a list of ``width`` references to the level below: width**levels leaves."""
    pkl = P.PROTO + b"\x02" + P.BININT1 + b"\x01"
    for i in range(levels):
        pkl += P.BINPUT + bytes([i]) + P.MARK + (P.BINGET + bytes([i])) * width + P.LIST
    return torch_zip(path, pkl + P.STOP)


def os_system(path):
    """A pickle calling ``os.system`` (refused by the restricted unpickler)."""
    pkl = (P.PROTO + b"\x02" + _global("os", "system") + P.BINUNICODE + struct.pack("<I", 4)
           + b"true" + P.TUPLE1 + P.REDUCE + P.STOP)
    return torch_zip(path, pkl)


def _patch_zip(path, fn):
    data = bytearray(open(path, "rb").read())
    fn(data)
    open(path, "wb").write(bytes(data))
    return path


def encrypted(path):
    """A valid checkpoint whose data.pkl carries the zip encryption flag."""
    torch_zip(path, _state_dict(P.NONE))

    def flag(d):
        for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            i = d.find(sig)
            d[i + off] |= 1
    return _patch_zip(path, flag)


def unknown_method(path):
    """A checkpoint whose data.pkl claims compression method 99."""
    torch_zip(path, _state_dict(P.NONE))

    def method(d):
        for sig, off in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
            i = d.find(sig)
            d[i + off:i + off + 2] = struct.pack("<H", 99)
    return _patch_zip(path, method)


def deflate_bomb(path, nbytes: int = 64 * 1024 ** 2):
    """An .npz whose one member inflates (honestly declared) to ``nbytes``."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (nbytes // 4,)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("w.npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            zero = bytes(1 << 20)
            for _ in range(nbytes >> 20):
                f.write(zero)
    return path


def lying_member(path):
    """An .npz member declaring 64 bytes that inflates to 4 MiB (sizes patched down)."""
    arr = np.zeros(1 << 20, dtype=np.float32)
    buf = io.BytesIO()
    np.save(buf, arr)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("w.npy", buf.getvalue())

    def shrink(d):
        i = d.find(b"PK\x03\x04")
        d[i + 22:i + 26] = struct.pack("<I", 64)
        i = d.find(b"PK\x01\x02")
        d[i + 24:i + 28] = struct.pack("<I", 64)
    return _patch_zip(path, shrink)


def npy_header(path, shape=(1 << 22, 1 << 21)):
    """A .npy header declaring ``shape`` float32 (32 TiB by default) and no data."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False,
                                                 "shape": shape})
    return path


def npz_header(path):
    """An .npz holding one such header."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False,
                                               "shape": (1 << 22, 1 << 21)})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("w.npy", buf.getvalue())
    return path


def safetensors_header(path):
    """A safetensors header declaring a 2**40-float tensor over 16 bytes."""
    head = json.dumps({"w": {"dtype": "F32", "shape": [1 << 20, 1 << 20],
                             "data_offsets": [0, 16]}}).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + bytes(16))
    return path


def h5_fill_value(path):
    """An HDF5 dataset of 16 GiB that stores nothing (only its fill value)."""
    import h5py

    with h5py.File(path, "w") as h:
        h.create_dataset("conv/kernel", shape=(1 << 16, 1 << 8, 1 << 8), dtype="f4",
                         fillvalue=1.0, chunks=(64, 16, 16))
    return path


def h5_external(path, other):
    """An HDF5 dataset whose raw data is the bytes of the file ``other``."""
    import h5py

    with h5py.File(path, "w") as h:
        h.create_dataset("conv/kernel", shape=(4, 1, 4), dtype="f4",
                         external=[(str(other), 0, 64)])
    return path


def h5_virtual(path, other):
    """An HDF5 virtual dataset whose source is a dataset of the file ``other``."""
    import h5py

    with h5py.File(other, "w") as h:
        h.create_dataset("secret", data=np.arange(16, dtype="f4").reshape(4, 1, 4))
    layout = h5py.VirtualLayout(shape=(4, 1, 4), dtype="f4")
    layout[:] = h5py.VirtualSource(str(other), "secret", shape=(4, 1, 4))
    with h5py.File(path, "w") as h:
        h.create_virtual_dataset("conv/kernel", layout)
    return path


#: name -> (file name, writer taking the path and a scratch folder)
CASES = {
    "inf_size": ("inf.pth", lambda p, d: inf_size(p)),
    "zero_strides": ("zs.pth", lambda p, d: zero_strides(p)),
    "self_reference": ("self.pth", lambda p, d: self_reference(p)),
    "deep": ("deep.pth", lambda p, d: deep(p)),
    "billion_laughs": ("laughs.pth", lambda p, d: billion_laughs(p)),
    "os_system": ("sys.pth", lambda p, d: os_system(p)),
    "encrypted": ("enc.pth", lambda p, d: encrypted(p)),
    "unknown_method": ("meth.pth", lambda p, d: unknown_method(p)),
    "deflate_bomb": ("bomb.npz", lambda p, d: deflate_bomb(p)),
    "lying_member": ("lie.npz", lambda p, d: lying_member(p)),
    "npy_header": ("big.npy", lambda p, d: npy_header(p)),
    "npz_header": ("big.npz", lambda p, d: npz_header(p)),
    "safetensors_header": ("big.safetensors", lambda p, d: safetensors_header(p)),
    "h5_fill_value": ("fill.h5", lambda p, d: h5_fill_value(p)),
    "h5_external": ("ext.h5", lambda p, d: h5_external(p, npy_header(d / "other.bin", (4,)))),
    "h5_virtual": ("virt.h5", lambda p, d: h5_virtual(p, d / "src.h5")),
}


# ----------------------------------------------------------------------------- the structure readers
def script_zip(path, pkl: bytes):
    """A ``torch.jit.save``-shaped archive (``code/``, ``constants.pkl``) around ``pkl``."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/constants.pkl", P.PROTO + b"\x02" + P.EMPTY_TUPLE + P.STOP)
        z.writestr("archive/code/__torch__.py", "import os\nos.system('true')\n")
        z.writestr("archive/byteorder", "little")
    return path


def script_self_state(path):
    """A scripted module whose state holds the module itself."""
    pkl = (P.PROTO + b"\x02" + _global("__torch__", "M") + P.EMPTY_TUPLE + P.NEWOBJ
           + P.BINPUT + b"\x00" + P.EMPTY_DICT + P.BINUNICODE + struct.pack("<I", 4) + b"self"
           + P.BINGET + b"\x00" + P.SETITEM + P.BUILD + P.STOP)
    return script_zip(path, pkl)


def script_laughs(path, levels: int = 30, width: int = 10):
    """A scripted module whose one attribute is a "billion laughs" of shared lists."""
    inner = P.BININT1 + b"\x01"
    for i in range(levels):   # memoise the level, take it off the stack, build the next one
        inner += P.BINPUT + bytes([i]) + P.POP + P.MARK + (P.BINGET + bytes([i])) * width + P.LIST
    pkl = (P.PROTO + b"\x02" + _global("__torch__", "M") + P.EMPTY_TUPLE + P.NEWOBJ
           + P.EMPTY_DICT + P.BINUNICODE + struct.pack("<I", 1) + b"x" + inner + P.SETITEM
           + P.BUILD + P.STOP)
    return script_zip(path, pkl)


def _onnx_conv(path, weight):
    """An ONNX model of one Conv node whose weight is the TensorProto ``weight``."""
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Conv", ["x", weight.name], ["y"], name="c")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          initializer=[weight])
    onnx.save(helper.make_model(g), str(path))
    return path


def onnx_external(path, location: str, *, length: int = 64, dims=(4, 1, 4)):
    """An ONNX Conv whose weight is external data at ``location``."""
    from onnx import TensorProto

    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=list(dims),
                    data_location=TensorProto.EXTERNAL)
    for k, v in (("location", location), ("offset", "0"), ("length", str(length))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return _onnx_conv(path, t)


def onnx_huge(path):
    """An ONNX Conv weight declaring 10^12 floats over 16 bytes."""
    from onnx import TensorProto

    return _onnx_conv(path, TensorProto(name="w", data_type=TensorProto.FLOAT,
                                        dims=[10 ** 6, 10 ** 6, 1], raw_data=bytes(16)))


def keras_lying_config(path):
    """A .keras zip whose config.json declares 64 bytes and inflates to 8 MiB."""
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as h:
        h.create_dataset("layers/conv1d/vars/0", data=np.ones((3, 1, 2), np.float32))
    cfg = b'{"class_name": "Sequential", "config": {"layers": []}, "pad": "' + b" " * (8 << 20) \
        + b'"}'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", cfg)
        z.writestr("model.weights.h5", buf.getvalue())

    def shrink(d):
        for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
            i = d.find(sig)
            d[i + off:i + off + 4] = struct.pack("<I", 64)
    return _patch_zip(path, shrink)


def h5_config_huge(path):
    """An .h5 whose model_config attribute holds 65 MiB (over the config limit)."""
    import h5py

    with h5py.File(path, "w", libver="latest") as h:    # dense storage: large attributes
        h.attrs["model_config"] = np.void(bytes(65 << 20))
        h.create_dataset("model_weights/c/c/kernel:0", data=np.ones((3, 1, 2), np.float32))
    return path


#: files whose weights or structure come from the readers of ONNX, TorchScript and Keras
#: configs: name -> (file name, writer taking the path and a scratch folder); read by the audit
STRUCTURE_CASES = {
    "script_self_state": ("self.pt", lambda p, d: script_self_state(p)),
    "script_laughs": ("laughs.pt", lambda p, d: script_laughs(p)),
    "script_os_system": ("sys.pt", lambda p, d: script_zip(p, _os_system_pickle())),
    "onnx_huge": ("huge.onnx", lambda p, d: onnx_huge(p)),
    "onnx_external_outside": ("out.onnx", lambda p, d: onnx_external(
        p, "../" + npy_header(d.parent / f"{d.name}-secret.bin", (16,)).name)),
    "onnx_external_absolute": ("abs.onnx", lambda p, d: onnx_external(p, "/etc/passwd")),
    "onnx_external_short": ("short.onnx", lambda p, d: onnx_external(
        p, npy_header(d / "short.bin", (2,)).name, length=1024, dims=(64, 1, 4))),
    "keras_lying_config": ("lie.keras", lambda p, d: keras_lying_config(p)),
    "h5_config_huge": ("cfg.h5", lambda p, d: h5_config_huge(p)),
}


def _os_system_pickle() -> bytes:
    return (P.PROTO + b"\x02" + _global("os", "system") + P.BINUNICODE + struct.pack("<I", 4)
            + b"true" + P.TUPLE1 + P.REDUCE + P.STOP)
