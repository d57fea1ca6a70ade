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

Files come from anywhere, so every reader goes through `rfbjax.models.guards`: the declared size
of every tensor, zip member and dataset is compared with the memory budget (``--max-memory``)
and with the bytes the file really stores *before* anything is allocated; zip members are read
no further than they declare (encrypted members and unknown compression methods are refused);
pickled containers are flattened without recursion and with a limit on the values visited;
HDF5 datasets with external raw storage or virtual sources are refused (they would read other
files' bytes), and so is a dataset that stores only a fill value; any failure while reading is
one `InputError` naming the file.

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
from . import guards

__all__ = ["FORMATS", "read_tensors", "conv_kernels", "module_path", "Kernel", "to_conv1d",
           "keras_layout_warning"]

#: extension -> format name
FORMATS = {".npy": "npy", ".npz": "npz", ".safetensors": "safetensors", ".pt": "torch",
           ".pth": "torch", ".ckpt": "torch", ".bin": "torch", ".keras": "keras", ".h5": "keras",
           ".hdf5": "keras", ".onnx": "onnx"}


def _check_path(path: str) -> int:
    return guards.check_input_file(path)


def file_format(path: str) -> str:
    """The format name of ``path`` from its extension, or InputError naming the known ones."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise InputError(f"WEIGHTS: '{path}' is not .npy, .npz, .safetensors, a PyTorch checkpoint "
                         f"(.pt, .pth, .ckpt, .bin), Keras (.keras, .h5) or ONNX (.onnx)")
    return FORMATS[ext]


def read_tensors(path: str, *, max_memory: int | None = None
                 ) -> tuple[dict[str, np.ndarray], str]:
    """Every tensor of a weights file: ``({name: array}, format)``, names in file order.

    A ``.npy`` file gives one tensor named ``""``. bfloat16 comes back as ``ml_dtypes.bfloat16``
    (callers convert); integer and bool tensors are returned too.

    Args:
      path: the weights file.
      max_memory: bytes the tensors may take in all (``None``: the default budget of
        `rfbjax.engine.resources.default_budget`); checked against every declared size before
        it is allocated.

    Raises:
      InputError: missing file, a directory, a FIFO or device, an unknown extension, an
        unreadable, malformed or oversized file, a checkpoint that names any global outside
        the allow-list, the legacy torch format.
    """
    path = os.fspath(path)
    size = _check_path(path)
    fmt = file_format(path)
    if max_memory is None:
        from ..engine.resources import default_budget

        max_memory = default_budget()
    reader, what = {"npy": (_read_npy, "a .npy array"), "npz": (_read_npz, "a .npz archive"),
                    "safetensors": (_read_safetensors, "a safetensors file"),
                    "torch": (_read_torch, "a PyTorch checkpoint"),
                    "keras": (_read_keras, "a Keras file"),
                    "onnx": (_read_onnx, "an ONNX model")}[fmt]
    with guards.reading(path, what):
        return reader(path, size, int(max_memory)), fmt


def _npy_array(f, budget: guards.ReadBudget, what: str, stored: int | None):
    """One array from a ``.npy`` stream: header parsed, declared size charged, then read."""
    from numpy.lib import format as npf

    version = npf.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = npf.read_array_header_1_0(f)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = npf.read_array_header_2_0(f)
    else:
        raise ValueError(f"unknown .npy version {version}")
    if dtype.hasobject:
        raise InputError(f"'{budget.path}': {what} holds Python objects (pickles are never "
                         "loaded)")
    header = f.tell() if stored is not None else 0
    nbytes = guards.declared_nbytes(shape, dtype.itemsize, what=what)
    budget.charge(nbytes, what, stored=None if stored is None else stored - header)
    count = nbytes // dtype.itemsize if dtype.itemsize else 0
    data = bytearray(nbytes)                     # writable, filled in place: one copy
    view, got = memoryview(data), 0
    while got < nbytes:
        n = f.readinto(view[got:])
        if not n:
            raise ValueError(f"{what} is truncated ({got} of {nbytes} bytes)")
        got += n
    arr = np.frombuffer(data, dtype=dtype, count=count)
    if fortran:
        return arr.reshape(shape[::-1]).transpose()
    return arr.reshape(shape)


def _read_npy(path, size, max_memory):
    budget = guards.ReadBudget(path, max_memory, size)
    with open(path, "rb") as f:
        return {"": _npy_array(f, budget, "the array", size)}


def _read_npz(path, size, max_memory):
    budget = guards.zip_budget(path, max_memory)
    out = {}
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if info.is_dir():
                continue
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            with guards.open_member(z, info.filename, budget) as f:
                out[name] = _npy_array(f, budget, f"array {name!r:.80}", None)
    return out


#: safetensors dtype -> item size in bytes
_SAFETENSORS_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
                         "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
                         "F8_E4M3": 1, "F8_E5M2": 1, "C64": 8}


def _read_safetensors(path, size, max_memory):
    import json
    import struct

    from safetensors.numpy import load_file

    budget = guards.ReadBudget(path, max_memory, size)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError("shorter than a safetensors header")
        (n,) = struct.unpack("<Q", head)
        if n > min(guards.MAX_HEADER, size - 8):
            raise ValueError(f"header of {n} bytes does not fit the file")
        header = json.loads(f.read(n))
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    data_bytes = size - 8 - n
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or entry.get("dtype") not in _SAFETENSORS_ITEMSIZE:
            raise ValueError(f"tensor {name!r:.80} has no known dtype")
        offsets = entry.get("data_offsets")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_bytes):
            raise ValueError(f"tensor {name!r:.80} has data offsets outside the file")
        nbytes = guards.declared_nbytes(entry.get("shape") or [], _SAFETENSORS_ITEMSIZE[
            entry["dtype"]], what=f"tensor {name!r:.80}")
        budget.charge(nbytes, f"tensor {name!r:.80}", stored=offsets[1] - offsets[0])
    return dict(load_file(path))


# ----------------------------------------------------------------------------- PyTorch zip
def _storage_dtypes():
    import ml_dtypes

    return {"DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
            "BFloat16Storage": ml_dtypes.bfloat16, "LongStorage": np.int64,
            "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
            "ByteStorage": np.uint8, "BoolStorage": np.bool_,
            "ComplexDoubleStorage": np.complex128, "ComplexFloatStorage": np.complex64}


class _Sealed:
    """A pickle's BUILD opcode cannot change these objects (it would call `__setstate__`)."""

    def __setstate__(self, state):
        raise pickle.UnpicklingError("the checkpoint tries to change an internal object")


@dataclass(frozen=True)
class _StorageType(_Sealed):
    """Stands for ``torch.<Name>Storage`` in the pickle: only its element type is used."""
    name: str
    dtype: object


@dataclass
class _Storage(_Sealed):
    dtype: object
    key: str
    numel: int
    data: np.ndarray | None = field(default=None, repr=False)
    budget: guards.ReadBudget | None = field(default=None, repr=False)


class _Marker(_Sealed):
    """Stands for a torch class named in a pickle only as an argument (never instantiated)."""

    def __init__(self, name):
        self.name = name


def _rebuild_tensor(storage, storage_offset, size, stride, *_rest):
    """``torch._utils._rebuild_tensor_v2`` (and relatives) as a NumPy view, then a copy."""
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("tensor rebuilt from something that is not a storage")
    if not isinstance(size, (tuple, list)) or not isinstance(stride, (tuple, list)) \
            or len(size) != len(stride):
        raise pickle.UnpicklingError("tensor size and stride are not matching tuples")
    arr = storage.data
    numel = guards.declared_nbytes(size, 1, what="a tensor")        # refuses inf, -1, 2.5
    guards.declared_nbytes(stride, 1, what="a tensor's stride")
    guards.declared_nbytes((storage_offset,), 1, what="a tensor's offset")
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    off = int(storage_offset)
    if numel > arr.size:
        raise pickle.UnpicklingError(f"tensor of size {size} holds more elements than its "
                                     f"storage ({arr.size})")
    storage.budget.charge(numel * arr.dtype.itemsize, f"tensor of size {size}")
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

    def __init__(self, fh, archive: zipfile.ZipFile, prefix: str, byteorder: str,
                 budget: guards.ReadBudget):
        super().__init__(fh)
        self._zip, self._prefix, self._order = archive, prefix, byteorder
        self._budget = budget
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
        if not isinstance(stype, _StorageType) or self._allowed.get(("torch", stype.name)) \
                is not stype:
            raise pickle.UnpicklingError("storage of an unknown type")
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            raise pickle.UnpicklingError("storage key is not a name")
        key = str(key)
        if key not in self._storages:
            dt = np.dtype(_storage_dtypes()[stype.name])   # never a dtype the pickle chose
            try:
                raw = guards.read_member(self._zip, f"{self._prefix}data/{key}", self._budget)
            except KeyError:
                raise pickle.UnpicklingError(f"storage {key!r:.40} missing from the archive") \
                    from None
            n = len(raw) // dt.itemsize
            arr = np.frombuffer(raw, dtype=dt.newbyteorder("<" if self._order == "little"
                                                             else ">"), count=n)
            self._storages[key] = _Storage(dt, key, n, arr.astype(dt, copy=False),
                                           self._budget)
        return self._storages[key]


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


#: bytes of a checkpoint's pickle (a state dict's is kilobytes; the objects it builds are
#: several times its size)
MAX_PICKLE = 64 * 1024 ** 2


def _read_torch(path, size, max_memory):
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            head = f.read(16)
        hint = ("a legacy (pre-1.6) PyTorch file" if head[:2] == b"\x80\x02"
                else "not a PyTorch zip checkpoint")
        raise InputError(f"'{path}' is {hint}: only the zip format of torch.save (PyTorch >= 1.6) "
                         f"is read; re-save it with torch.save(obj, path) in a current PyTorch")
    budget = guards.zip_budget(path, max_memory)
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
            if len(pkl) != 1:
                raise InputError(f"'{path}' is a zip file but not a PyTorch checkpoint "
                                 f"(no <archive>/data.pkl)")
            prefix = pkl[0][: -len("data.pkl")]
            order = "little"
            if f"{prefix}byteorder" in names:
                order = guards.read_member(z, f"{prefix}byteorder", budget).decode().strip()
                if order not in ("little", "big"):
                    raise ValueError(f"unknown byte order {order!r:.20}")
            if z.getinfo(pkl[0]).file_size > MAX_PICKLE:
                raise InputError(f"'{path}': its data.pkl declares "
                                 f"{z.getinfo(pkl[0]).file_size} bytes, over the "
                                 f"{MAX_PICKLE // 1024 ** 2} MiB a checkpoint's pickle may have")
            raw = guards.read_member(z, pkl[0], budget)
            from .torchscript import is_torchscript, read_torchscript

            if is_torchscript(names, prefix):   # torch.jit.save: tensors only, no code
                return read_torchscript(raw, z, prefix, order, budget, unpickler=_TorchUnpickler,
                                        is_leaf=lambda v: isinstance(v, np.ndarray))
            un = _TorchUnpickler(io.BytesIO(raw), z, prefix, order, budget)
            obj = un.load()
    except _RefusedGlobal as exc:
        from ..base.text import printable

        raise InputError(f"'{path}': refusing to load: the checkpoint names "
                         f"{printable(str(exc))[:120]}, which is not a tensor or a plain container "
                         f"(loading never runs code from a file)") from None
    return _weights_dict(obj)


#: the entries of a training checkpoint that hold the model's weights, first found wins
_WEIGHT_ENTRIES = ("state_dict", "model_state_dict", "model", "net", "module")


def _weights_dict(obj) -> dict:
    """The tensors of the entry that holds a training checkpoint's weights (the whole object
    when there is none), flattened with dots (`rfbjax.models.guards.flatten_tree`)."""
    def flat(o):
        return guards.flatten_tree(o, lambda v: isinstance(v, np.ndarray))

    if isinstance(obj, dict):
        for k in _WEIGHT_ENTRIES:
            if isinstance(obj.get(k), dict):
                inner = flat(obj[k])
                if inner:
                    return inner
    return flat(obj)


# ----------------------------------------------------------------------------- Keras
def _read_keras(path, size, max_memory):
    try:
        import h5py
    except ImportError:
        raise InputError(f"'{path}': Keras files need h5py (pip install h5py)") from None
    out = {}
    budget = guards.ReadBudget(path, max_memory, None)

    def visit(name, obj):
        if not (isinstance(obj, h5py.Dataset) and obj.dtype.kind in "fiub"):
            return
        what = f"dataset {name!r:.80}"
        if obj.is_virtual:
            raise InputError(f"'{path}': {what} is a virtual dataset (it reads other files); "
                             "refused")
        if obj.external:
            raise InputError(f"'{path}': {what} keeps its data in external files; refused")
        nbytes = guards.declared_nbytes(obj.shape or (), obj.dtype.itemsize, what=what)
        stored = obj.id.get_storage_size()
        if nbytes and not stored:
            raise InputError(f"'{path}': {what} stores no data, only a fill value; refused")
        filtered = obj.compression is not None or bool(getattr(obj, "_filters", None))
        budget.charge(nbytes, what, stored=None if filtered else stored)
        out[name.replace("/", ".")] = np.asarray(obj[()])

    if path.lower().endswith(".keras"):
        with zipfile.ZipFile(path) as z:
            inner = [n for n in z.namelist() if n.endswith(".weights.h5")]
            if not inner:
                raise InputError(f"'{path}' holds no model.weights.h5")
            blob = guards.read_member(z, inner[0], guards.zip_budget(path, max_memory))
        budget.max_bytes -= len(blob)                     # the inner file stays in memory
        with h5py.File(io.BytesIO(blob), "r") as h:
            h.visititems(visit)
    else:
        with h5py.File(path, "r") as h:
            h.visititems(visit)
    return out


def _read_onnx(path, size, max_memory):
    """The Conv / ConvTranspose weights of an ONNX model, by layer name
    (`rfbjax.models.onnx_reader`; the structure is read with them by the audit)."""
    from .onnx_reader import read_onnx_layers

    return {lay["name"]: lay["weight"] for lay in read_onnx_layers(path, budget=max_memory)[0]}


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
