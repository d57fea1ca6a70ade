r"""Effective weights of reparametrised layers, computed from the stored tensors (never by running
the model), the way PyTorch computes them in eval mode.

* **Weight norm** (``torch.nn.utils.weight_norm``: ``X.weight_g``, ``X.weight_v``; the
  parametrization of torch ≥ 2.1: ``X.parametrizations.weight.original0`` = g,
  ``.original1`` = v): $w = g \cdot v / \lVert v \rVert$, the norm taken over every axis except
  the one where g is not a singleton (axis 0 by default: output filter j gets the gain $g_j$;
  a g with one element is one norm over everything, ``dim=None``).
* **Spectral norm** (``torch.nn.utils.spectral_norm``: ``X.weight_orig``, ``X.weight_u``,
  ``X.weight_v``; the parametrization: ``X.parametrizations.weight.original``,
  ``X.parametrizations.weight.0._u``, ``._v``): $w = W / \sigma$ with
  $\sigma = u^\top W_{\mathrm{mat}} v$, $W_{\mathrm{mat}}$ the weight with the axis of u's
  length first (axis 0, or axis 1 for transposed convolutions), flattened to a matrix. In eval mode
  torch does no power iteration: the stored u and v give σ.

`fold_reparametrizations` replaces each group of stored tensors by the effective ``X.weight``;
gains and u/v vectors disappear from the tensors (they are never audited as layers), and the
fold is recorded per weight.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["fold_reparametrizations", "weight_norm", "spectral_norm"]

_PAR = ".parametrizations.weight."


def weight_norm(g, v) -> np.ndarray:
    r"""$g \cdot v / \lVert v \rVert$, the norm over every axis but the one where g is not a
    singleton (one norm over everything when g has one element), in float64."""
    g = np.asarray(g, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if g.size == 1:
        n = np.sqrt(np.sum(v ** 2))
        return g.reshape(()) * v / n
    if g.ndim != v.ndim:
        raise ValueError(f"gain of shape {g.shape} does not fit a weight of shape {v.shape}")
    axes = [a for a in range(v.ndim) if g.shape[a] != 1]
    if len(axes) != 1 or g.shape[axes[0]] != v.shape[axes[0]]:
        raise ValueError(f"gain of shape {g.shape} does not fit a weight of shape {v.shape}")
    other = tuple(a for a in range(v.ndim) if a != axes[0])
    n = np.sqrt(np.sum(v ** 2, axis=other, keepdims=True))
    return g * v / n


def spectral_norm(w, u, v) -> np.ndarray:
    r"""$W / (u^\top W_{\mathrm{mat}} v)$, $W_{\mathrm{mat}}$ the weight with the axis of u's
    length first (axis 0 preferred), flattened; float64."""
    w = np.asarray(w, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64).reshape(-1)
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    for dim in range(min(2, w.ndim)):
        if w.shape[dim] == u.size and w.size // max(w.shape[dim], 1) == v.size:
            mat = np.moveaxis(w, dim, 0).reshape(u.size, -1)
            sigma = float(u @ (mat @ v))
            if not np.isfinite(sigma) or sigma == 0.0:
                raise ValueError("its sigma = u·(W v) is zero or not finite")
            return w / sigma
    raise ValueError(f"u ({u.size}) and v ({v.size}) do not fit a weight of shape {w.shape}")


def fold_reparametrizations(tensors: dict, *, path: str = "") -> tuple[dict, dict, list]:
    """Replace weight-norm and spectral-norm tensors by their effective weights.

    Args:
      tensors: ``{name: array}`` in file order.
      path: the file, for messages.

    Returns:
      ``(tensors, folded, notes)``: the tensors with each group replaced by ``X.weight`` (at the
        place of the first tensor of the group), ``{"X.weight": how}`` (``"weight_norm"``,
        ``"weight_norm (parametrization)"``, ``"spectral_norm"``,
        ``"spectral_norm (parametrization)"``), and notes (one per incomplete group, whose tensors
        are dropped; the audit notes each fold with its layer).

    Raises:
      InputError: a group whose shapes do not fit, naming the file and the tensors.
    """
    groups: dict[str, tuple[str, dict]] = {}   # prefix -> (kind, {role: name})
    for name in tensors:
        for suffix, kind, role in ((".weight_g", "wn", "g"), (".weight_orig", "sn", "w"),
                                   (".weight_u", "sn", "u"),
                                   (_PAR + "original0", "pwn", "g"),
                                   (_PAR + "original1", "pwn", "v"),
                                   (_PAR + "original", "psn", "w"),
                                   (_PAR + "0._u", "psn", "u"), (_PAR + "0._v", "psn", "v")):
            if name.endswith(suffix):
                prefix = name[: -len(suffix)]
                groups.setdefault(prefix + "|" + kind, (kind, {}))[1][role] = name
                break
    # weight_v belongs to weight norm when there is a weight_g, to spectral norm otherwise
    for name in tensors:
        if name.endswith(".weight_v"):
            prefix = name[: -len(".weight_v")]
            kind = "wn" if prefix + "|wn" in groups else "sn"
            groups.setdefault(prefix + "|" + kind, (kind, {}))[1]["v"] = name
    need = {"wn": ("g", "v"), "sn": ("w", "u", "v"), "pwn": ("g", "v"), "psn": ("w", "u", "v")}
    label = {"wn": "weight_norm", "sn": "spectral_norm", "pwn": "weight_norm (parametrization)",
             "psn": "spectral_norm (parametrization)"}
    replace: dict[str, tuple[str, np.ndarray]] = {}   # first member -> (new name, weight)
    drop: set = set()
    folded, notes = {}, []
    where = f"'{path}': " if path else ""
    for key, (kind, roles) in groups.items():
        prefix = key.split("|")[0]
        members = sorted(roles.values(), key=list(tensors).index)
        missing = [r for r in need[kind] if r not in roles]
        drop.update(members)
        if missing:
            notes.append(f"{prefix}: {label[kind]} tensors without their partner(s) "
                         f"({', '.join(members)}): skipped, not audited")
            continue
        try:
            if kind in ("wn", "pwn"):
                w = weight_norm(tensors[roles["g"]], tensors[roles["v"]])
            else:
                w = spectral_norm(tensors[roles["w"]], tensors[roles["u"]], tensors[roles["v"]])
        except (ValueError, TypeError) as exc:
            raise InputError(f"{where}{prefix}: cannot fold {label[kind]} "
                             f"({', '.join(members)}): {exc}") from None
        new = prefix + ".weight"
        replace[members[0]] = (new, w)
        folded[new] = label[kind]
    if not groups:
        return tensors, folded, notes
    out = {}
    for name, arr in tensors.items():
        if name in replace:
            new, w = replace[name]
            out.pop(new, None)          # a stale stored X.weight is replaced by the effective one
            out[new] = w
        elif name in drop or (name in folded and name not in out):
            continue
        elif name not in out:
            out[name] = arr
    return out, folded, notes
