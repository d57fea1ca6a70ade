"""A conv1d layer as a model stores it, described once: its name, its effective kernel, its
stride, groups, dilation, whether it is transposed, and where each of these came from.

`LayerSpec` is what the readers produce, what the per-layer options (``--stride``,
``--groups``, ``--dilation``, ``--transposed``) change and what the audit and the cascade read.
Names given on the command line or in Python are matched by `match_layer`: the full key, the
key without ``.weight``, or a unique dotted suffix (``conv1`` matches ``frontend.conv1.weight``
when no other layer ends in ``conv1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ..errors import InputError
from .weights import Kernel

__all__ = ["LayerSpec", "match_layer", "parse_layer_values", "parse_layer_names",
           "apply_structure", "infer_groups"]


@dataclass
class LayerSpec(Kernel):
    """One layer: ``w`` float64, as stored in PyTorch layout (a conv: ``(J, C/g, T)``; a
    transposed conv: ``(C_in, C_out/g, T)``), and its structure.

    ``origin`` maps ``stride``, ``groups``, ``dilation`` and ``transposed`` to ``"file"``,
    ``"command line"``, ``"inferred"`` or ``"default"``.
    """
    stride: int = 1
    groups: int = 1
    dilation: int = 1
    transposed: bool = False
    reparametrization: str | None = None
    origin: dict = field(default_factory=lambda: {"stride": "default", "groups": "default",
                                                  "dilation": "default",
                                                  "transposed": "default"})

    @property
    def in_channels(self) -> int:
        """Channels the layer reads (a transposed layer: C_in, the stored first axis)."""
        return int(self.w.shape[0] if self.transposed else self.w.shape[1] * self.groups)

    @property
    def out_channels(self) -> int:
        """Channels the layer writes (a transposed layer: g·C_out/g)."""
        return int(self.w.shape[1] * self.groups if self.transposed else self.w.shape[0])


def _module(name: str) -> str:
    from .weights import module_path

    return module_path(name or "")


def match_layer(given: str, names, option: str) -> str:
    """The layer ``given`` names among ``names``: its full key, its key without ``.weight``
    (the module path), or a unique dotted suffix of either.

    Raises:
      InputError: no layer matches (naming the layers), or a suffix matches several (naming
        them).
    """
    names = [n for n in names]
    exact = [n for n in names if given in (n, _module(n))]
    if exact:
        return exact[0]
    dotted = "." + given
    hits = [n for n in names if n.endswith(dotted) or _module(n).endswith(dotted)]
    if len(hits) == 1:
        return hits[0]
    if hits:
        shown = ", ".join(hits[:6]) + (", ..." if len(hits) > 6 else "")
        raise InputError(f"{option}: {given!r} is ambiguous: it matches {shown}; give more of "
                         f"the name")
    have = ", ".join(_module(n) for n in names[:8]) + (", ..." if len(names) > 8 else "")
    raise InputError(f"{option}: no conv1d kernel named {given!r} (kernels: {have or 'none'})")


def parse_layer_values(spec, option: str, *, what: str = "D") -> tuple[int | None, dict]:
    """A per-layer integer option: ``4`` / ``"4"`` (every layer), ``"conv1=5,conv2=2"`` or a
    mapping ``{name: value}``. Returns ``(default or None, {name: value})``; values must be
    integers >= 1."""
    def check(k, v):
        try:
            ok = int(v) == v and v >= 1
        except (TypeError, ValueError):
            ok = False
        if not ok:
            who = f"{k}={v}" if k is not None else f"{v}"
            raise InputError(f"{option}: {who}: must be an integer >= 1")
        return int(v)

    if spec is None:
        return None, {}
    if isinstance(spec, Mapping):
        return None, {str(k): check(k, v) for k, v in spec.items()}
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return check(None, spec), {}
    text = str(spec).replace(" ", "")
    if "=" not in text:
        try:
            value = int(text)
        except ValueError:
            raise InputError(f"{option}: cannot parse {spec!r} (use {what} or NAME={what},"
                             f"NAME={what})") from None
        return check(None, value), {}
    items = {}
    for part in text.split(","):
        k, eq, v = part.partition("=")
        if not k or not eq:
            raise InputError(f"{option}: cannot parse {part!r} (use NAME={what})")
        try:
            value = int(v)
        except ValueError:
            raise InputError(f"{option}: cannot parse {part!r} (use NAME={what})") from None
        items[k] = check(k, value)
    return None, items


def parse_layer_names(spec, option: str) -> list:
    """``"conv1,up1"`` or a sequence of names (``--transposed``); ``None``/``False``: none."""
    if spec is None or spec is False:
        return []
    if isinstance(spec, str):
        names = [s for s in spec.replace(" ", "").split(",") if s]
        if not names:
            raise InputError(f"{option}: name at least one layer, e.g. up1,up2")
        return names
    try:
        return [str(s) for s in spec]
    except TypeError:
        raise InputError(f"{option}: expected layer names, got {spec!r}") from None


def infer_groups(specs) -> list:
    """``[(index, g)]``: layers whose stored input channels divide the previous layer's outputs
    by g > 1 (``J_prev = g · C_stored``, g dividing J): a grouped conv, or a first layer of a
    different branch — a suggestion only."""
    out = []
    for i in range(1, len(specs)):
        prev, s = specs[i - 1], specs[i]
        if s.transposed or s.origin["groups"] != "default":
            continue
        c = int(s.w.shape[1])
        J_prev = prev.out_channels
        if c < J_prev and J_prev % c == 0:
            g = J_prev // c
            if s.w.shape[0] % g == 0:
                out.append((i, g))
    return out


def apply_structure(specs, *, stride=None, groups=None, dilation=None, transposed=None,
                    infer: bool = False) -> list:
    """Set each layer's stride, groups, dilation and transposition from the options; a value
    given here overrides the file's, with a note. Returns the notes.

    Args:
      specs: `LayerSpec` s (changed in place).
      stride: an int (every layer), ``"NAME=V,..."`` or ``{name: v}``.
      groups: likewise.
      dilation: likewise.
      transposed: names of transposed layers.
      infer: apply the groups `infer_groups` suggests (otherwise they are only noted).

    Raises:
      InputError: an unparseable option, a name that matches no layer or several, a groups value
        that does not divide the layer.
    """
    from ..kernels.conv_structure import check_structure

    notes = []
    names = [s.name for s in specs]
    by_name = {s.name: s for s in specs}

    def give(s, attr, value, option):
        old = getattr(s, attr)
        if s.origin[attr] == "file" and old != value:
            notes.append(f"{s.name}: {attr} {value} from {option} overrides the file's {old}")
        setattr(s, attr, value)
        s.origin[attr] = "command line"

    for attr, spec, option in (("stride", stride, "--stride"), ("groups", groups, "--groups"),
                               ("dilation", dilation, "--dilation")):
        default, named = parse_layer_values(spec, option, what={"stride": "D", "groups": "G",
                                                                "dilation": "DELTA"}[attr])
        if default is not None:
            for s in specs:
                give(s, attr, default, option)
        for given, v in named.items():
            give(by_name[match_layer(given, names, option)], attr, v, option)
    for given in parse_layer_names(transposed, "--transposed"):
        give(by_name[match_layer(given, names, "--transposed")], "transposed", True,
             "--transposed")
    for i, g in infer_groups(specs):
        s, prev = specs[i], specs[i - 1]
        if infer:
            s.groups, s.origin["groups"] = g, "inferred"
            notes.append(f"{s.name}: groups = {g} inferred (--infer-groups) from the previous "
                         f"layer's {prev.out_channels} outputs and this layer's "
                         f"{s.w.shape[1]} input channels per group")
        else:
            notes.append(f"{s.name}: takes {s.w.shape[1]} input channels where {prev.name} gives "
                         f"{prev.out_channels}: if it is a grouped conv (groups = {g}), pass "
                         f"--groups {_module(s.name)}={g} or --infer-groups")
    for s in specs:
        check_structure(s.w.shape, groups=s.groups, dilation=s.dilation,
                        transposed=s.transposed, name=s.name)
    return notes
