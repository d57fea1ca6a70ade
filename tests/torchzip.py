"""Write PyTorch zip checkpoints without torch, the way ``torch.save`` lays them out.

``archive/data.pkl`` is a protocol-2 pickle in which every tensor is
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())``
and every storage a persistent id ``("storage", torch.<Type>Storage, key, "cpu", numel)``; the
storages' bytes lie in ``archive/data/<key>`` (little endian), beside ``archive/version`` and
``archive/byteorder``. Used by the tests and the README example; ``malicious`` writes a pickle
that would call ``os.system`` when loaded by an unrestricted unpickler.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile

import numpy as np

_STORAGE = {np.dtype(np.float64): "DoubleStorage", np.dtype(np.float32): "FloatStorage",
            np.dtype(np.float16): "HalfStorage", np.dtype(np.int64): "LongStorage",
            np.dtype(np.int32): "IntStorage", np.dtype(np.bool_): "BoolStorage",
            np.dtype(np.uint8): "ByteStorage"}


class _Global:
    """A reference to ``module.name`` written as a GLOBAL opcode (nothing is imported)."""

    def __init__(self, module, name):
        self.module, self.name = module, name


class _Tensor:
    def __init__(self, arr, key, transpose=False):
        self.arr, self.key, self.transpose = arr, key, transpose


class _Call:
    """``func(*args)`` at load time: a REDUCE of a GLOBAL."""

    def __init__(self, func: _Global, args: tuple):
        self.func, self.args = func, args


class _Pickler(pickle._Pickler):
    def __init__(self, fh):
        super().__init__(fh, protocol=2)
        self.storages = {}

    def persistent_id(self, obj):
        if isinstance(obj, tuple) and len(obj) == 2 and obj[0] == "__storage__":
            t = obj[1]
            base = t.arr.reshape(-1) if not t.transpose else np.ascontiguousarray(t.arr.T).reshape(-1)
            name = _STORAGE.get(base.dtype, "BFloat16Storage" if base.dtype.name == "bfloat16" else None)
            self.storages[t.key] = base
            return ("storage", _Global("torch", name), t.key, "cpu", base.size)
        return None

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, _Global):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            self.memoize(obj)
            return
        if isinstance(obj, _Tensor):
            a = obj.arr
            if obj.transpose:       # stored transposed: a non-contiguous view, as torch keeps it
                stride = tuple(int(np.prod(a.shape[:i])) for i in range(a.ndim))
            else:
                stride = tuple(int(np.prod(a.shape[i + 1:])) for i in range(a.ndim))
            call = _Call(_Global("torch._utils", "_rebuild_tensor_v2"),
                         (("__storage__", obj), 0, tuple(a.shape), stride, False,
                          collections.OrderedDict()))
            return self.save(call)
        if isinstance(obj, _Call):
            self.save(obj.func)
            self.save(obj.args)
            self.write(pickle.REDUCE)
            return
        return super().save(obj, save_persistent_id)


def _wrap(obj, counter, transpose):
    if isinstance(obj, np.ndarray):
        key = str(counter[0])
        counter[0] += 1
        return _Tensor(obj, key, transpose)
    if isinstance(obj, dict):
        out = collections.OrderedDict() if isinstance(obj, collections.OrderedDict) else {}
        for k, v in obj.items():
            out[k] = _wrap(v, counter, transpose)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_wrap(v, counter, transpose) for v in obj)
    return obj


def save(obj, path, *, archive: str = "archive", transpose: bool = False) -> None:
    """Write ``obj`` (nested dicts/lists of NumPy arrays and plain values) as ``torch.save`` would.

    ``transpose=True`` stores each array's bytes in reversed axis order (a Fortran-ordered
    tensor) so that readers must honour the strides.
    """
    buf = io.BytesIO()
    p = _Pickler(buf)
    p.dump(_wrap(obj, [0], transpose))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{archive}/data.pkl", buf.getvalue())
        z.writestr(f"{archive}/byteorder", "little")
        for key, arr in p.storages.items():
            z.writestr(f"{archive}/data/{key}", np.ascontiguousarray(arr).astype(
                arr.dtype.newbyteorder("<")).tobytes())
        z.writestr(f"{archive}/version", "3\n")


def malicious(path, command: str) -> None:
    """A checkpoint whose pickle calls ``os.system(command)`` under an unrestricted unpickler."""
    buf = io.BytesIO()
    p = _Pickler(buf)
    p.dump({"conv.weight": _Call(_Global("os", "system"), (command,))})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/version", "3\n")


def tiny_frontend(path) -> dict:
    """The README's example: a Lightning-style checkpoint of a small wav2vec-like front end.

    conv1 (16, 1, 10) with smoothed taps (low-pass: weak above a few kHz), conv2 (16, 16, 3),
    conv3 as a Conv2d-used-as-conv1d (32, 16, 3, 1), BatchNorm tensors and a Linear head.
    Returns the state dict.
    """
    rng = np.random.default_rng(2024)
    raw = rng.standard_normal((16, 1, 14))
    conv1 = (raw[..., :-4] + raw[..., 1:-3] + raw[..., 2:-2] + raw[..., 3:-1] + raw[..., 4:]) / 5
    sd = collections.OrderedDict([
        ("conv1.weight", conv1.astype(np.float32)),
        ("norm1.weight", np.ones(16, np.float32)), ("norm1.bias", np.zeros(16, np.float32)),
        ("norm1.num_batches_tracked", np.array(1200, np.int64)),
        ("conv2.weight", (rng.standard_normal((16, 16, 3)) / 7).astype(np.float32)),
        ("conv3.weight", (rng.standard_normal((32, 16, 3, 1)) / 7).astype(np.float32)),
        ("head.weight", (rng.standard_normal((10, 32)) / 6).astype(np.float32)),
        ("head.bias", np.zeros(10, np.float32))])
    save({"state_dict": sd, "epoch": 12, "global_step": 3000}, path)
    return sd


class _Obj:
    """An object of class ``module.name`` rebuilt as TorchScript pickles modules:
    GLOBAL, EMPTY_TUPLE, NEWOBJ, then its state dict and BUILD."""

    def __init__(self, module, name, state):
        self.cls, self.state = _Global(module, name), state


class _ScriptPickler(_Pickler):
    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, _Obj):
            self.save(obj.cls)
            self.write(pickle.EMPTY_TUPLE + pickle.NEWOBJ)
            self.save(obj.state)
            self.write(pickle.BUILD)
            return
        return super().save(obj, save_persistent_id)


def _wrap_script(obj, counter):
    if isinstance(obj, _Obj):
        return _Obj(obj.cls.module, obj.cls.name, _wrap_script(obj.state, counter))
    if isinstance(obj, dict):
        return {k: _wrap_script(v, counter) for k, v in obj.items()}
    return _wrap(obj, counter, False)


def script_module(qualname: str, **state):
    """A TorchScript module object ``__torch__.<qualname>`` with these attributes."""
    return _Obj("__torch__", qualname, {"training": False, **state})


def torchscript(path, module, *, code: str = "def forward(self, x):\n    return x\n") -> None:
    """Write ``module`` (from `script_module`, nested) laid out as ``torch.jit.save`` does:
    ``archive/data.pkl``, ``archive/constants.pkl``, ``archive/code/__torch__.py``, the storages
    under ``archive/data/``."""
    buf = io.BytesIO()
    p = _ScriptPickler(buf)
    p.dump(_wrap_script(module, [0]))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/constants.pkl", pickle.dumps((), protocol=2))
        z.writestr("archive/code/__torch__.py", code)
        z.writestr("archive/byteorder", "little")
        for key, arr in p.storages.items():
            z.writestr(f"archive/data/{key}", np.ascontiguousarray(arr).astype(
                arr.dtype.newbyteorder("<")).tobytes())
        z.writestr("archive/version", "3\n")


def tiny_codec(path) -> dict:
    """The guide's example: a checkpoint of a small encoder/decoder in the style of neural audio
    codecs, with torch's names: a weight-normed input conv (legacy names, gains 0.2 … 3.0), a
    downsampling conv with the parametrized weight norm (stride 4), a dilated residual conv
    (dilation 3), a grouped conv (groups 4) and a ConvTranspose1d (stride 4: 64 → 16 channels).
    Returns the state dict."""
    rng = np.random.default_rng(7)
    v_in = rng.standard_normal((16, 1, 7))
    v_d = rng.standard_normal((32, 16, 8))
    sd = collections.OrderedDict([
        ("encoder.conv_in.weight_g", np.linspace(0.2, 3.0, 16).reshape(16, 1, 1)),
        ("encoder.conv_in.weight_v", v_in),
        ("encoder.conv_in.bias", np.zeros(16)),
        ("encoder.down1.parametrizations.weight.original0",
         np.sqrt(np.sum(v_d ** 2, axis=(1, 2), keepdims=True))),
        ("encoder.down1.parametrizations.weight.original1", v_d),
        ("encoder.res1.weight", rng.standard_normal((32, 32, 3)) / np.sqrt(96)),
        ("encoder.grouped.weight", rng.standard_normal((64, 8, 9)) / np.sqrt(72)),
        ("decoder.up1.weight", rng.standard_normal((64, 16, 8)) / np.sqrt(128)),
    ])
    save({"state_dict": collections.OrderedDict((k, v.astype(np.float32))
                                                for k, v in sd.items())}, path)
    return sd
