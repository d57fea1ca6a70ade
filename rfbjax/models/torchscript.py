"""Tensors of TorchScript archives (``torch.jit.save``), read without torch and without running
anything: the archive's ``code/`` (TorchScript source) is never looked at.

``<archive>/data.pkl`` pickles the scripted module: each module is an object of a class named
``__torch__.<path>`` rebuilt from an empty tuple and given its attributes (parameters, buffers,
submodules, ``training``) as its state. The restricted unpickler of the PyTorch checkpoint
reader (`rfbjax.models.weights`) is used with one addition: a class under ``__torch__`` becomes a plain record of its state (no
method of it exists here, so none can run), and ``torch.jit._pickle.restore_type_tag`` returns its
value. The tensors come back flattened with dots (``encoder.conv1.weight``), like a state dict;
strides and the rest of the structure live in the code, so they must be given.
"""

from __future__ import annotations

__all__ = ["is_torchscript", "read_torchscript"]


class _ScriptModule:
    """Stands for a ``__torch__`` class: holds the state the pickle gives it, nothing else."""

    __slots__ = ("qualname", "state")

    def __init__(self, qualname):
        self.qualname = qualname
        self.state = {}

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.state = state
        elif isinstance(state, tuple) and state and isinstance(state[0], dict):
            self.state = state[0]


def _script_class(qualname):
    class _Cls(_ScriptModule):
        __slots__ = ()

        def __new__(cls, *args):
            return _ScriptModule.__new__(cls)

        def __init__(self, *args):
            _ScriptModule.__init__(self, qualname)

    _Cls.__name__ = "ScriptModule"
    return _Cls


def _restore_type_tag(value, _type_str):
    return value


def _script_unpickler(base):
    """The checkpoint unpickler ``base`` that also accepts ``__torch__`` classes (as records)."""
    class _ScriptUnpickler(base):
        def find_class(self, module, name):
            if module == "__torch__" or module.startswith("__torch__."):
                return _script_class(f"{module}.{name}")
            if (module, name) == ("torch.jit._pickle", "restore_type_tag"):
                return _restore_type_tag
            return super().find_class(module, name)

    return _ScriptUnpickler


def is_torchscript(names, prefix: str) -> bool:
    """Whether a zip checkpoint with the given member names is a TorchScript archive."""
    return (f"{prefix}constants.pkl" in names
            or any(n.startswith(f"{prefix}code/") for n in names))


def _state_of(obj):
    """A script module's attributes, as the children of the flattened tree."""
    return obj.state if isinstance(obj, _ScriptModule) else None


def read_torchscript(raw: bytes, z, prefix: str, order: str, budget, *, unpickler, is_leaf
                     ) -> dict:
    """The tensors of a TorchScript archive's ``data.pkl`` (``raw``, already read under the
    budget), flattened with dots without recursion (`rfbjax.models.guards.flatten_tree`).

    Args:
      raw: the bytes of ``<prefix>data.pkl``.
      z: the open archive (a `zipfile.ZipFile`) its storages are read from.
      prefix: its folder (``"archive/"``).
      order: the storages' byte order.
      budget: the `rfbjax.models.guards.ReadBudget` every storage is charged to.
      unpickler: the restricted checkpoint unpickler of `rfbjax.models.weights` (extended here).
      is_leaf: which values are tensors.
    """
    import io

    from .guards import flatten_tree

    un = _script_unpickler(unpickler)(io.BytesIO(raw), z, prefix, order, budget)
    return flatten_tree(un.load(), is_leaf, expand=_state_of)
