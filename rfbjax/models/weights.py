r"""Weights from outside: every file format people store conv1d kernels in, read without running
code from the file.

Formats (chosen by the file name's extension):

* ``.npy`` (one array), ``.npz`` (named arrays) — NumPy, never with pickles;
* ``.safetensors`` — through the ``safetensors`` library's NumPy API (bf16 via ``ml_dtypes``);
* ``.pt``, ``.pth``, ``.ckpt``, ``.bin`` — PyTorch's zip checkpoints (``torch.save`` since 1.6),
  read **without torch**: ``archive/data.pkl`` is unpickled by a restricted unpickler whose
  allow-list holds only the storage types, ``collections.OrderedDict`` and torch's tensor-rebuild
  functions (each replaced by our own NumPy function); any other global ends the load with one line,
  so loading never executes code from the file. Tensors are rebuilt from ``archive/data/<key>``
  with their sizes, strides and offsets. Nested dictionaries are flattened with dots; a
  ``state_dict`` (Lightning), ``model_state_dict`` or ``model`` entry holding the weights is
  descended into. The legacy (pre-1.6, non-zip) format is refused with a clear message;
* ``.keras`` (a zip holding ``model.weights.h5``) and ``.h5`` — Keras, through ``h5py`` (optional:
  ``pip install h5py``); their kernels are in Keras layout.

`read_tensors` returns every tensor (integer and bool ones too: BatchNorm counters are
``LongStorage``); `conv_kernels` picks the conv1d kernels out of them: rank-3 float tensors,
and rank-4 ones with a singleton spatial axis (Conv2d used as a conv1d), squeezed with a note.
2-D tensors (Linear weights, embeddings) are not kernels.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

__all__ = ["FORMATS", "read_tensors", "conv_kernels", "module_path", "Kernel", "to_conv1d",
           "keras_layout_warning"]

#: extension -> format name
FORMATS = {".npy": "npy", ".npz": "npz", ".safetensors": "safetensors", ".pt": "torch",
           ".pth": "torch", ".ckpt": "torch", ".bin": "torch", ".keras": "keras", ".h5": "keras",
           ".hdf5": "keras", ".onnx": "onnx"}


def _check_path(path: str) -> None:
    if os.path.isdir(path):
        raise InputError(f"WEIGHTS: '{path}' is a directory (give a weights file)")
    if not os.path.exists(path):
        raise InputError(f"WEIGHTS: no such file '{path}'")
    if not os.access(path, os.R_OK):
        raise InputError(f"WEIGHTS: cannot read '{path}' (permission denied)")


def file_format(path: str) -> str:
    """The format name of ``path`` from its extension, or InputError naming the known ones."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise InputError(f"WEIGHTS: '{path}' is not .npy, .npz, .safetensors, a PyTorch checkpoint "
                         f"(.pt, .pth, .ckpt, .bin), Keras (.keras, .h5) or ONNX (.onnx)")
    return FORMATS[ext]


def read_tensors(path: str) -> tuple[dict[str, np.ndarray], str]:
    """Every tensor of a weights file: ``({name: array}, format)``, names in file order.

    A ``.npy`` file gives one tensor named ``""``. bfloat16 comes back as ``ml_dtypes.bfloat16``
    (callers convert); integer and bool tensors are returned too.

    Raises:
      InputError: missing file, a directory, an unknown extension, an unreadable or malformed
        file, a checkpoint that names any global outside the allow-list, the legacy torch format.
    """
    path = os.fspath(path)
    _check_path(path)
    fmt = file_format(path)
    reader = {"npy": _read_npy, "npz": _read_npz, "safetensors": _read_safetensors,
              "torch": _read_torch, "keras": _read_keras, "onnx": _read_onnx}[fmt]
    return reader(path), fmt


def _read_npy(path):
    try:
        return {"": np.load(path, allow_pickle=False)}
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read '{path}' as a .npy array ({exc})") from None


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read '{path}' as a .npz archive ({exc})") from None


def _read_safetensors(path):
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return dict(load_file(path))
    except (OSError, ValueError, TypeError, SafetensorError) as exc:
        raise InputError(f"cannot read '{path}' as a safetensors file ({exc})") from None


# ----------------------------------------------------------------------------- PyTorch zip
def _storage_dtypes():
    import ml_dtypes

    return {"DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
            "BFloat16Storage": ml_dtypes.bfloat16, "LongStorage": np.int64,
            "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
            "ByteStorage": np.uint8, "BoolStorage": np.bool_,
            "ComplexDoubleStorage": np.complex128, "ComplexFloatStorage": np.complex64}


@dataclass(frozen=True)
class _StorageType:
    """Stands for ``torch.<Name>Storage`` in the pickle: only its element type is used."""
    name: str
    dtype: object


@dataclass
class _Storage:
    dtype: object
    key: str
    numel: int
    data: np.ndarray | None = field(default=None, repr=False)


class _Marker:
    """Stands for a torch class named in a pickle only as an argument (never instantiated)."""

    def __init__(self, name):
        self.name = name


def _rebuild_tensor(storage, storage_offset, size, stride, *_rest):
    """``torch._utils._rebuild_tensor_v2`` (and relatives) as a NumPy view, then a copy."""
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("tensor rebuilt from something that is not a storage")
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    off = int(storage_offset)
    arr = storage.data
    if any(s < 0 for s in stride) or off < 0:
        raise pickle.UnpicklingError("negative stride or offset")
    if size and min(size) == 0:
        return np.zeros(size, dtype=arr.dtype)
    if not size:                                    # a 0-d tensor (e.g. a BatchNorm counter)
        if off >= arr.size:
            raise pickle.UnpicklingError("scalar tensor past the end of its storage")
        return np.array(arr[off])
    last = off + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= arr.size:
        raise pickle.UnpicklingError(f"tensor of size {size} runs past its storage "
                                     f"({arr.size} elements)")
    item = arr.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(arr[off:], shape=size,
                                           strides=tuple(s * item for s in stride),
                                           writeable=False)
    return np.array(view)


def _rebuild_parameter(data, *_rest):
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    if not isinstance(new_type, _Marker):
        raise pickle.UnpicklingError("tensor subclass outside the allow-list")
    return func(*args)


def _allow_list() -> dict:
    allowed = {("collections", "OrderedDict"): collections.OrderedDict,
               ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
               ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
               ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
               ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
               ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
               ("torch", "Tensor"): _Marker("torch.Tensor"),
               ("torch.nn.parameter", "Parameter"): _Marker("torch.nn.parameter.Parameter")}
    for name, dt in _storage_dtypes().items():
        allowed[("torch", name)] = _StorageType(name, dt)
    return allowed


class _RefusedGlobal(Exception):
    pass


class _TorchUnpickler(pickle.Unpickler):
    """Rebuilds tensors and plain containers; refuses every global outside the allow-list."""

    def __init__(self, fh, archive: zipfile.ZipFile, prefix: str, byteorder: str):
        super().__init__(fh)
        self._zip, self._prefix, self._order = archive, prefix, byteorder
        self._allowed = _allow_list()
        self._storages: dict[str, _Storage] = {}

    def find_class(self, module, name):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise _RefusedGlobal(f"{module}.{name}") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r:.80}")
        _, stype, key, _location, numel = pid
        if not isinstance(stype, _StorageType):
            raise pickle.UnpicklingError("storage of an unknown type")
        key = str(key)
        if key not in self._storages:
            dt = np.dtype(stype.dtype)
            try:
                raw = self._zip.read(f"{self._prefix}data/{key}")
            except KeyError:
                raise pickle.UnpicklingError(f"storage {key} missing from the archive") from None
            n = len(raw) // dt.itemsize
            arr = np.frombuffer(raw, dtype=dt.newbyteorder("<" if self._order == "little"
                                                             else ">"), count=n)
            self._storages[key] = _Storage(stype.dtype, key, int(numel),
                                           arr.astype(dt, copy=False))
        return self._storages[key]


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _read_torch(path):
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            head = f.read(16)
        hint = ("a legacy (pre-1.6) PyTorch file" if head[:2] == b"\x80\x02"
                else "not a PyTorch zip checkpoint")
        raise InputError(f"'{path}' is {hint}: only the zip format of torch.save (PyTorch >= 1.6) "
                         f"is read; re-save it with torch.save(obj, path) in a current PyTorch")
    try:
        with zipfile.ZipFile(path) as z:
            pkl = [n for n in z.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
            if len(pkl) != 1:
                raise InputError(f"'{path}' is a zip file but not a PyTorch checkpoint "
                                 f"(no <archive>/data.pkl)")
            prefix = pkl[0][: -len("data.pkl")]
            order = "little"
            if f"{prefix}byteorder" in z.namelist():
                order = z.read(f"{prefix}byteorder").decode().strip()
            from .torchscript import is_torchscript, read_torchscript

            if is_torchscript(z.namelist(), prefix):   # torch.jit.save: tensors only, no code
                return read_torchscript(z, prefix, order, unpickler=_TorchUnpickler,
                                        flatten=_flatten)
            un = _TorchUnpickler(io.BytesIO(z.read(pkl[0])), z, prefix, order)
            obj = un.load()
    except _RefusedGlobal as exc:
        raise InputError(f"'{path}': refusing to load: the checkpoint names {exc}, which is not a "
                         f"tensor or a plain container (loading never runs code from a file)") \
            from None
    except InputError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, AttributeError,
            IndexError, zipfile.BadZipFile, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read '{path}' as a PyTorch checkpoint ({exc})") from None
    return _flatten(_weights_dict(obj))


def _weights_dict(obj):
    """Descend into the entry that holds the weights of a training checkpoint."""
    if isinstance(obj, dict):
        for k in ("state_dict", "model_state_dict", "model", "net", "module"):
            if isinstance(obj.get(k), dict) and _has_tensor(obj[k]):
                return obj[k]
    return obj


def _has_tensor(obj) -> bool:
    if isinstance(obj, np.ndarray):
        return True
    if isinstance(obj, dict):
        return any(_has_tensor(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_has_tensor(v) for v in obj)
    return False


def _flatten(obj, prefix="", out=None) -> dict:
    out = {} if out is None else out
    if isinstance(obj, np.ndarray):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _flatten(v, f"{prefix}.{i}" if prefix else str(i), out)
    return out


# ----------------------------------------------------------------------------- Keras
def _read_keras(path):
    try:
        import h5py
    except ImportError:
        raise InputError(f"'{path}': Keras files need h5py (pip install h5py)") from None
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "fiub":
            out[name.replace("/", ".")] = np.asarray(obj[()])

    try:
        if path.lower().endswith(".keras"):
            with zipfile.ZipFile(path) as z:
                inner = [n for n in z.namelist() if n.endswith(".weights.h5")]
                if not inner:
                    raise InputError(f"'{path}' holds no model.weights.h5")
                with h5py.File(io.BytesIO(z.read(inner[0])), "r") as h:
                    h.visititems(visit)
        else:
            with h5py.File(path, "r") as h:
                h.visititems(visit)
    except InputError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read '{path}' as a Keras file ({exc})") from None
    return out


def _read_onnx(path):
    """The Conv / ConvTranspose weights of an ONNX model, by layer name
    (`rfbjax.models.onnx_reader`; the structure is read with them by the audit)."""
    from .onnx_reader import read_onnx_layers

    return {lay["name"]: lay["weight"] for lay in read_onnx_layers(path)[0]}


# ----------------------------------------------------------------------------- kernels
@dataclass
class Kernel:
    """A conv1d kernel found in a file: ``w`` float64 ``(J, C, T)`` and how it was read."""
    name: str
    w: np.ndarray = field(repr=False)
    shape: tuple
    dtype: str
    layout: str
    notes: list = field(default_factory=list)


def module_path(name: str) -> str:
    """``conv1.weight`` -> ``conv1`` (the module a weight belongs to)."""
    for suffix in (".weight", ".kernel", ".kernel:0", ".weight_v"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_float(arr) -> bool:
    return arr.dtype.kind == "f" or arr.dtype.name == "bfloat16"


def to_conv1d(arr, *, name: str = "", layout: str = "torch", notes: list | None = None,
              allow_2d: bool = True) -> np.ndarray:
    """One tensor as a float64 ``(J, C, T)`` kernel.

    Torch layout: ``(J, C, T)``, ``(J, T)`` (one input channel), ``(J, C, T, 1)`` and
    ``(J, C, 1, T)`` (Conv2d used as a conv1d, squeezed with a note). Keras layout:
    ``(T, C, J)``, ``(T, J)``, ``(T, 1, C, J)`` and ``(1, T, C, J)``.

    Raises:
      InputError: a non-float or complex tensor, another rank or shape, NaN/Inf, all zeros.
    """
    label = f"'{name}'" if name else "the array"
    if layout not in ("torch", "keras"):
        raise InputError(f"--layout: unknown {layout!r} (torch or keras)")
    arr = np.asarray(arr)
    if not (_is_float(arr) or arr.dtype.kind in "iu"):
        raise InputError(f"{label}: dtype {arr.dtype} is not a real number type")
    want = ("(J, 1, T), (J, T), (J, C, T) or (J, C, T, 1)" if layout == "torch"
            else "(T, C, J), (T, J) or (T, 1, C, J)")
    shape = tuple(arr.shape)
    if arr.ndim == 4:
        axes = (2, 3) if layout == "torch" else (0, 1)
        single = [a for a in axes if shape[a] == 1]
        if not single:
            raise InputError(f"{label}: 4-D shape {shape} has no singleton spatial axis; "
                             f"not a conv1d kernel (expected {want})")
        arr = np.squeeze(arr, axis=single[-1] if layout == "torch" else single[0])
        if notes is not None:
            notes.append(f"{name or 'kernel'}: 4-D shape {shape} read as the conv1d kernel "
                         f"{tuple(arr.shape)} (singleton axis {single[-1] if layout == 'torch' else single[0]} "
                         f"squeezed)")
    if arr.ndim not in ((2, 3) if allow_2d else (3,)) or min(arr.shape) < 1:
        raise InputError(f"{label}: shape {shape} is not a conv1d kernel; expected {want}")
    w = np.asarray(arr, dtype=np.float64)
    if layout == "keras":
        w = w.T if w.ndim == 2 else np.transpose(w, (2, 1, 0))
    if w.ndim == 2:
        w = w[:, None, :]
    bad = int(np.sum(~np.isfinite(w)))
    if bad:
        raise InputError(f"{label}: {bad} of {w.size} weights are NaN or Inf")
    if not np.any(w):
        raise InputError(f"{label}: all weights are zero (B = 0, nothing to audit)")
    return np.ascontiguousarray(w)


def _looks_like_kernel(arr, layout) -> bool:
    if not _is_float(arr) or min(arr.shape, default=0) < 1:
        return False
    if arr.ndim == 3:
        return True
    if arr.ndim == 4:
        axes = (2, 3) if layout == "torch" else (0, 1)
        return any(arr.shape[a] == 1 for a in axes)
    return False


def conv_kernels(tensors: dict, *, layout: str = "torch") -> tuple[list[Kernel], list[str]]:
    """The conv1d kernels among ``tensors`` (rank 3, or rank 4 with a singleton spatial axis),
    in file order, and notes (squeezed 4-D kernels, skipped non-float tensors, skipped free
    parameters of `rfbjax.layers`: names whose last component starts with ``parseval_``)."""
    kernels, notes = [], []
    skipped = [k for k, v in tensors.items() if v.ndim in (3, 4) and not _is_float(v)]
    if skipped:
        notes.append(f"skipped {len(skipped)} non-float tensor(s) of rank 3-4: "
                     + ", ".join(skipped[:4]) + (", ..." if len(skipped) > 4 else ""))
    pv = [k for k in tensors if k.replace("/", ".").split(".")[-1].startswith("parseval_")]
    if pv:   # rfbjax.layers' free parameters are not kernels
        notes.append(f"parseval parameters skipped ({', '.join(pv[:4])}"
                     f"{', ...' if len(pv) > 4 else ''}): audit rfbjax.parseval_kernel(params) instead")
    for name, arr in tensors.items():
        if name in pv or not _looks_like_kernel(arr, layout):
            continue
        local: list[str] = []
        w = to_conv1d(arr, name=name, layout=layout, notes=local, allow_2d=False)
        kernels.append(Kernel(name, w, tuple(arr.shape), str(arr.dtype), layout, local))
        notes.extend(local)
    return kernels, notes


def keras_layout_warning(shape, name: str = "") -> str | None:
    """A warning when a shape read in torch layout ``(J, C, T)`` looks like a Keras kernel
    ``(T, C, J)``: the last axis ("taps") longer than the first and a typical channel count
    (a multiple of 8, at least 32) — filter lengths seldom are, channel counts usually are."""
    if len(shape) != 3:
        return None
    a, _, b = shape
    if b > a and b >= 32 and b % 8 == 0:
        what = f"'{name}' " if name else ""
        return (f"warning: {what}shape {tuple(shape)} is read in PyTorch layout (J={a} filters of "
                f"T={b} taps); if it is a Keras kernel (T, C, J), pass --layout keras")
    return None


def chain_layout_warning(kernels: list[Kernel]) -> str | None:
    """A warning when consecutive kernels chain in Keras layout but not in torch layout."""
    if len(kernels) < 2 or any(k.layout != "torch" for k in kernels):
        return None
    raw = [k.w.shape for k in kernels]
    torch_ok = sum(raw[i + 1][1] == raw[i][0] for i in range(len(raw) - 1))
    keras_ok = sum(raw[i + 1][1] == raw[i][2] for i in range(len(raw) - 1))
    if keras_ok > torch_ok:
        return ("warning: the kernels chain as Keras (T, C, J) kernels, not as PyTorch (J, C, T) "
                "ones; if this is a Keras model, pass --layout keras")
    return None
