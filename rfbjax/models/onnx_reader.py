"""Conv1d layers of ONNX models, read through the ``onnx`` package (the optional extra
``rfbjax[onnx]``), nothing executed and no ONNX Runtime.

Every ``Conv`` and ``ConvTranspose`` node of the graph and of its ``If`` / ``Loop`` / ``Scan``
subgraphs is a layer, named by the node (by its weight tensor when the node has no name), with
the node's ``strides``, ``dilations`` and ``group``. Its weight is a graph initializer, the value
of a ``Constant`` node, or computed in the graph from those: exported weight norm uses ``Mul``,
``Div``, ``Pow``, ``Sqrt``, ``ReduceSum`` / ``ReduceL2``, ``Reshape``, ``Transpose``,
``Unsqueeze`` and ``Identity``, which are folded here with NumPy. A weight computed any other way
(from a graph input, by another operator) is skipped with a note naming the node. 2-D
convolutions with a singleton kernel axis are read as conv1d along the other axis.

Sizes are bounded before anything is allocated: the file against the memory budget, each tensor's
declared size against the budget and against the bytes it actually holds, each folded result
against the budget. Every failure is one `rfbjax.errors.InputError` naming the file.

Tensors stored as external data (models over 2 GB) are read only from regular files inside the
model's own folder (after resolving links; an absolute location or one leading out of the folder
is refused), within the budget and within the file's bytes.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..errors import InputError

__all__ = ["read_onnx_layers", "FOLDABLE_OPS"]

#: operators folded with NumPy when a weight is computed from constants
FOLDABLE_OPS = ("Mul", "Div", "Pow", "Sqrt", "ReduceSum", "ReduceL2", "Reshape", "Transpose",
                "Unsqueeze", "Identity")
_MAX_DEPTH = 64
#: budget when none is given (bytes)
DEFAULT_BUDGET = 8 * 1024 ** 3


class _NotConstant(Exception):
    """The weight is not computed from constants by the foldable operators (message: why)."""


class _Bad(Exception):
    """A malformed model (message: what)."""


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _external_bytes(t, nbytes: int, base: str | None) -> bytes:
    """The bytes of a tensor stored as external data: only from a regular file inside ``base``
    (the model's folder), at the declared offset and length."""
    info = {e.key: e.value for e in t.external_data}
    loc = info.get("location", "")
    if base is None or not loc or os.path.isabs(loc):
        raise _Bad(f"tensor {t.name!r}: external data location {loc!r:.80} is not a file name "
                   f"inside the model's folder (refused)")
    root = os.path.realpath(base)
    full = os.path.realpath(os.path.join(root, loc))
    if os.path.commonpath([root, full]) != root:
        raise _Bad(f"tensor {t.name!r}: external data {loc!r:.80} lies outside the model's "
                   f"folder (refused)")
    try:
        offset = int(info.get("offset", "0"))
        length = int(info.get("length", str(nbytes)))
    except ValueError:
        raise _Bad(f"tensor {t.name!r}: external data offset or length is not an integer") \
            from None
    if length != nbytes or offset < 0:
        raise _Bad(f"tensor {t.name!r} declares {nbytes} bytes but its external data "
                   f"{length} at offset {offset}")
    import stat

    try:
        st = os.stat(full)
    except OSError:
        raise _Bad(f"tensor {t.name!r}: no external data file {loc!r:.80}") from None
    if not stat.S_ISREG(st.st_mode):
        raise _Bad(f"tensor {t.name!r}: external data {loc!r:.80} is not a regular file")
    if offset + length > st.st_size:
        raise _Bad(f"tensor {t.name!r}: external data ends past {loc!r:.80} "
                   f"({st.st_size} bytes)")
    with open(full, "rb") as f:
        f.seek(offset)
        return f.read(length)


def _tensor(t, budget: int, base: str | None = None) -> np.ndarray:
    """A TensorProto as an array, its declared size checked first."""
    from onnx import TensorProto, helper, numpy_helper

    external = t.data_location == TensorProto.EXTERNAL
    dims = [int(d) for d in t.dims]
    if any(d < 0 for d in dims):
        raise _Bad(f"tensor {t.name!r} has a negative dimension {dims}")
    try:
        dt = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type))
    except (KeyError, TypeError, ValueError):
        raise _Bad(f"tensor {t.name!r} has an unknown data type {t.data_type}") from None
    n = math.prod(dims)
    if n * dt.itemsize > budget:
        raise InputError(f"tensor {t.name!r} declares {dims} ({n * dt.itemsize:,} bytes), more "
                         f"than the memory budget ({budget:,} bytes)")
    if external:
        if dt.kind not in "fiub":
            raise _NotConstant(f"tensor {t.name!r} has data type {dt}")
        raw = _external_bytes(t, n * dt.itemsize, base)
        return np.frombuffer(raw, dtype=dt.newbyteorder("<")).reshape(dims).astype(dt)
    if t.raw_data:
        if len(t.raw_data) != n * dt.itemsize:
            raise _Bad(f"tensor {t.name!r} declares {dims} ({n * dt.itemsize} bytes) but holds "
                       f"{len(t.raw_data)} bytes")
    else:
        held = max(len(t.float_data), len(t.double_data), len(t.int32_data), len(t.int64_data),
                   len(t.uint64_data), len(t.string_data))
        if held != n:
            raise _Bad(f"tensor {t.name!r} declares {dims} ({n} values) but holds {held}")
    if dt.kind not in "fiub":
        raise _NotConstant(f"tensor {t.name!r} has data type {dt}")
    return np.asarray(numpy_helper.to_array(t))


class _Scope:
    """Names visible in a graph: constants (initializers, Constant nodes) and the nodes that
    produce the other values, with the enclosing graphs' names behind them."""

    def __init__(self, graph, outer, budget, base=None):
        self.outer, self.budget, self.base = outer, budget, base
        self.tensors = {t.name: t for t in graph.initializer}
        self.producer = {}
        for node in graph.node:
            for out in node.output:
                if out:
                    self.producer[out] = node
        self.values: dict = {}

    def value(self, name, depth=0):
        if name in self.values:
            return self.values[name]
        if name in self.tensors:
            v = _tensor(self.tensors[name], self.budget, self.base)
        elif name in self.producer:
            v = self._fold(self.producer[name], name, depth)
        elif self.outer is not None:
            return self.outer.value(name, depth)
        else:
            raise _NotConstant(f"{name!r} is a graph input, not a constant")
        self.values[name] = v
        return v

    def _fold(self, node, name, depth):
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise _NotConstant(f"{name!r} is computed by {node.domain}.{op}")
        a = _attrs(node)
        if op == "Constant":
            if "value" in a:
                return _tensor(a["value"], self.budget, self.base)
            for k in ("value_float", "value_int"):
                if k in a:
                    return np.asarray(a[k])
            for k in ("value_floats", "value_ints"):
                if k in a:
                    return np.asarray(list(a[k]))
            raise _NotConstant(f"{name!r} is a Constant of an unsupported kind")
        if op not in FOLDABLE_OPS:
            raise _NotConstant(f"{name!r} is computed by {op} (node {node.name or '(unnamed)'})")
        if depth > _MAX_DEPTH:
            raise _NotConstant(f"{name!r} is computed through more than {_MAX_DEPTH} operators")
        ins = [self.value(i, depth + 1) if i else None for i in node.input]
        if not ins or ins[0] is None:
            raise _Bad(f"node {node.name or op} has no input")
        x = ins[0]

        def second():
            if len(ins) < 2 or ins[1] is None:
                raise _Bad(f"node {node.name or op} needs two inputs")
            return ins[1]

        def axes_of():
            if len(ins) > 1 and ins[1] is not None:
                return [int(v) for v in np.ravel(ins[1])]
            return [int(v) for v in a.get("axes", [])]

        if op in ("Mul", "Div", "Pow"):
            y = second()
            shape = np.broadcast_shapes(np.shape(x), np.shape(y))
            if math.prod(shape) * 8 > self.budget:
                raise InputError(f"{op} node {node.name!r} would make {shape}, more than the "
                                 f"memory budget")
            f = {"Mul": np.multiply, "Div": np.divide, "Pow": np.power}[op]
            with np.errstate(all="ignore"):
                out = f(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
            return out
        if op == "Sqrt":
            with np.errstate(all="ignore"):
                return np.sqrt(np.asarray(x, dtype=np.float64))
        if op == "Identity":
            return x
        if op in ("ReduceSum", "ReduceL2"):
            axes = axes_of()
            keep = bool(a.get("keepdims", 1))
            if not axes:
                if a.get("noop_with_empty_axes", 0):
                    return x
                axes = list(range(np.ndim(x)))
            axes = tuple(ax % max(np.ndim(x), 1) for ax in axes)
            x = np.asarray(x, dtype=np.float64)
            if op == "ReduceSum":
                return np.sum(x, axis=axes, keepdims=keep)
            return np.sqrt(np.sum(x * x, axis=axes, keepdims=keep))
        if op == "Reshape":
            shape = [int(v) for v in np.ravel(second())]
            if not a.get("allowzero", 0):
                shape = [np.shape(x)[i] if s == 0 and i < np.ndim(x) else s
                         for i, s in enumerate(shape)]
            return np.reshape(x, shape)
        if op == "Transpose":
            perm = a.get("perm")
            return np.transpose(x, None if perm is None else [int(p) for p in perm])
        # Unsqueeze
        axes = axes_of()
        rank = np.ndim(x) + len(axes)
        return np.expand_dims(x, tuple(sorted(ax % rank for ax in axes)))


def _subgraphs(node):
    from onnx import AttributeProto

    for a in node.attribute:
        if a.type == AttributeProto.GRAPH:
            yield a.g
        elif a.type == AttributeProto.GRAPHS:
            yield from a.graphs


def read_onnx_layers(path: str, *, budget: int | None = None) -> tuple[list, list]:
    """Every Conv / ConvTranspose layer of an ONNX model.

    Args:
      path: the ``.onnx`` file.
      budget: memory budget in bytes (``None``: 8 GiB).

    Returns:
      ``(layers, notes)``; each layer is a dict with ``name``, ``weight`` (the array as stored:
        ``(J, C/g, T)``, or ``(C_in, C_out/g, T)`` for ConvTranspose; rank 4 for a 2-D conv with
        a singleton axis), ``op``, ``stride``, ``dilation``, ``groups``, ``transposed``, ``notes``.

    Raises:
      InputError: the ``onnx`` package is missing, the file is too large for the budget, is not
        an ONNX model or is malformed (one line naming the file).
    """
    budget = DEFAULT_BUDGET if budget is None else int(budget)
    try:
        import onnx
    except ImportError:
        raise InputError(f"'{path}': ONNX models need the onnx package "
                         f"(pip install 'rfbjax[onnx]')") from None
    size = os.path.getsize(path)
    if 2 * size > budget:
        raise InputError(f"'{path}': an ONNX file of {size:,} bytes needs about {2 * size:,} bytes "
                         f"to read, more than the memory budget ({budget:,} bytes)")
    try:
        with open(path, "rb") as f:
            data = f.read(size + 1)
        model = onnx.ModelProto()
        model.ParseFromString(data)
        if not model.HasField("graph"):
            raise _Bad("no graph")
        layers, notes = [], []
        _walk(model.graph, None, budget, layers, notes, "",
              base=os.path.dirname(os.path.abspath(path)))
    except InputError as exc:
        msg = str(exc)
        raise InputError(msg if msg.startswith(f"'{path}'") else f"'{path}': {msg}") from None
    except _Bad as exc:
        raise InputError(f"cannot read '{path}' as an ONNX model ({exc})") from None
    except RecursionError:
        raise InputError(f"cannot read '{path}' as an ONNX model (nested too deeply)") from None
    except Exception as exc:   # protobuf's DecodeError, and anything a malformed file provokes
        raise InputError(f"cannot read '{path}' as an ONNX model "
                         f"({type(exc).__name__}: {str(exc)[:200]})") from None
    seen: dict = {}
    for lay in layers:                                      # unique names, in graph order
        n = seen.get(lay["name"], 0)
        seen[lay["name"]] = n + 1
        if n:
            lay["name"] = f"{lay['name']}#{n + 1}"
    return layers, notes


def _walk(graph, outer, budget, layers, notes, where, depth=0, base=None):
    if depth > 16:
        raise _Bad("subgraphs nested more than 16 deep")
    scope = _Scope(graph, outer, budget, base)
    for node in graph.node:
        for sub in _subgraphs(node):
            _walk(sub, scope, budget, layers, notes,
                  f"{where}{node.name or node.op_type}/", depth + 1, base)
        if node.op_type not in ("Conv", "ConvTranspose") or node.domain not in ("", "ai.onnx"):
            continue
        if len(node.input) < 2 or not node.input[1]:
            raise _Bad(f"{node.op_type} node {node.name!r} has no weight input")
        name = where + (node.name or node.input[1])
        try:
            w = np.asarray(scope.value(node.input[1]))
        except _NotConstant as exc:
            notes.append(f"{name}: {node.op_type} weight skipped: {exc}")
            continue
        a = _attrs(node)
        lay_notes = []
        rank = w.ndim - 2
        axis = 0
        if rank == 2 and 1 in w.shape[2:]:
            axis = 0 if w.shape[3] == 1 else 1
            lay_notes.append(f"{name}: 2-D {node.op_type} with kernel {tuple(w.shape[2:])} read "
                             f"as a conv1d along spatial axis {axis}")
            w = w[:, :, :, 0] if axis == 0 else w[:, :, 0, :]
        elif rank != 1:
            notes.append(f"{name}: {node.op_type} with weight {tuple(w.shape)} is not a conv1d "
                         f"(skipped)")
            continue

        def pick(key):
            vals = [int(v) for v in a.get(key, [])]
            return vals[axis] if len(vals) > axis else 1

        groups = int(a.get("group", 1))
        if a.get("pads") and any(int(p) for p in a["pads"]) or a.get("auto_pad", b"NOTSET") not in (
                b"NOTSET", "NOTSET"):
            lay_notes.append(f"{name}: padding ignored (circular analysis on Z_N)")
        layers.append({"name": name, "weight": w, "op": node.op_type, "stride": pick("strides"),
                       "dilation": pick("dilations"), "groups": groups,
                       "transposed": node.op_type == "ConvTranspose", "notes": lay_notes})
