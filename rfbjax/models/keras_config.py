"""Layer structure from a Keras model's config: ``strides``, ``dilation_rate`` and ``groups`` of
every ``Conv1D`` / ``Conv1DTranspose`` (and ``Conv2D`` / ``Conv2DTranspose``, whose singleton
kernel axis the weight reader squeezes), read from the JSON that Keras stores beside the weights —
the ``model_config`` attribute of an ``.h5`` file, ``config.json`` in a ``.keras`` zip. Nothing is
deserialised into Keras objects; the config is plain JSON, its size bounded before it is parsed.
"""

from __future__ import annotations

import json
import zipfile

from ..errors import InputError
from . import guards

__all__ = ["keras_structure", "structure_for"]

#: the largest config read (bytes)
MAX_CONFIG_BYTES = 64 * 1024 ** 2
_CONV = {"Conv1D": False, "Conv1DTranspose": True, "Conv2D": False, "Conv2DTranspose": True,
         "Convolution1D": False}


def _text(path: str) -> str | None:
    if path.lower().endswith(".keras"):
        with zipfile.ZipFile(path) as z:
            if "config.json" not in z.namelist():
                return None
            if z.getinfo("config.json").file_size > MAX_CONFIG_BYTES:
                raise InputError(f"'{path}': config.json is larger than {MAX_CONFIG_BYTES:,} bytes")
            budget = guards.zip_budget(path, MAX_CONFIG_BYTES)
            return guards.read_member(z, "config.json", budget).decode("utf-8")
    import h5py

    with h5py.File(path, "r") as h:
        if "model_config" not in h.attrs:
            return None
        declared = h.attrs.get_id("model_config").get_storage_size()
        if declared > MAX_CONFIG_BYTES:
            raise InputError(f"'{path}': model_config declares {declared:,} bytes, more than "
                             f"{MAX_CONFIG_BYTES:,}")
        raw = h.attrs.get("model_config")
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    raw = str(raw)
    if len(raw) > MAX_CONFIG_BYTES:
        raise InputError(f"'{path}': model_config is larger than {MAX_CONFIG_BYTES:,} bytes")
    return raw


def _first(v, axis=0):
    if isinstance(v, (list, tuple)):
        return int(v[axis]) if len(v) > axis else 1
    return int(v)


def keras_structure(path: str) -> dict:
    """``{layer name: {"class", "stride", "dilation", "groups", "transposed"}}`` for every conv
    layer of the model's config (nested models included); ``{}`` when the file has no config.

    Raises:
      InputError: a config that is not JSON or is too large, naming the file.
    """
    with guards.reading(path, "a Keras model config"):   # any failure: one line naming the file
        text = _text(path)
        if text is None:
            return {}
        cfg = json.loads(text)
    out: dict = {}

    def visit(obj, depth=0):
        if depth > 100:
            return
        if isinstance(obj, dict):
            cls = obj.get("class_name")
            conf = obj.get("config")
            if cls in _CONV and isinstance(conf, dict) and "name" in conf:
                ks = conf.get("kernel_size", [1])
                axis = 0
                if cls.startswith("Conv2D") and isinstance(ks, (list, tuple)) and len(ks) > 1:
                    axis = 1 if int(ks[0]) == 1 else 0
                try:
                    out[str(conf["name"])] = {
                        "class": cls, "stride": _first(conf.get("strides", 1), axis),
                        "dilation": _first(conf.get("dilation_rate", 1), axis),
                        "groups": int(conf.get("groups", 1) or 1), "transposed": _CONV[cls]}
                except (TypeError, ValueError):
                    pass
            for v in obj.values():
                visit(v, depth + 1)
        elif isinstance(obj, list):
            for v in obj:
                visit(v, depth + 1)

    visit(cfg)
    return out


def structure_for(key: str, structure: dict) -> tuple[str, dict] | None:
    """The config layer a weight key belongs to: the last component of the key (split at dots)
    that names a conv layer of the config."""
    for part in reversed(key.split(".")):
        if part in structure:
            return part, structure[part]
    return None
