"""Reports of ``rfbjax audit``: the text tables and the files (audit.json, audit.txt, figure).

A single kernel gets one row per input channel plus the layer; a checkpoint gets one table with
one row per layer (and per cascade). With a sampling rate ``fs`` the frequencies are in Hz.
"""

from __future__ import annotations

import os

from ..base.text import printable
from ..models.audits import input_rates
from .tables import format_table


def _module(name):
    from ..models.weights import module_path

    return module_path(name or "")

__all__ = ["format_layer", "format_model", "write_audit", "LAYER_COLUMNS", "MODEL_COLUMNS"]

LAYER_COLUMNS = [("part", "part", 11), ("A", "A", 10), ("B", "B", 10), ("kappa", "kappa", 10),
                 ("riesz_kappa", "riesz_k", 10), ("freq_A", "f_A", 8), ("freq_B", "f_B", 8), ("dominant_freq_A", "f_A_dom", 8),
                 ("dominant_freq_B", "f_B_dom", 8), ("mean_gain", "gain", 9),
                 ("percentile", "pct", 9)]

MODEL_COLUMNS = [("name", "layer", 12), ("shape_text", "shape", 12), ("stride", "stride", 6),
                 ("struct", "struct", 6), ("A", "A", 10), ("B", "B", 10), ("kappa", "kappa", 10),
                 ("riesz_kappa", "riesz_k", 10), ("matters_text", "use", 7),
                 ("ratio_to_median", "k/median", 9), ("percentile", "pct", 6),
                 ("reference_draws", "draws", 5)]


def _struct(rec) -> str:
    """``g4``, ``d2``, ``T`` (transposed), ``wn``/``sn`` (folded weight or spectral norm)."""
    parts = []
    if rec.get("groups", 1) > 1:
        parts.append(f"g{rec['groups']}")
    if rec.get("dilation", 1) > 1:
        parts.append(f"d{rec['dilation']}")
    if rec.get("transposed"):
        parts.append("T")
    rp = rec.get("reparametrization") or ""
    if rp:
        parts.append("wn" if rp.startswith("weight") else "sn")
    return ",".join(parts) or "-"

_FREQ_KEYS = ("freq_A", "freq_B", "dominant_freq_A", "dominant_freq_B")


def _unit(fs):
    return "Hz" if fs else "cycles/sample"


def _scaled(rows, fs):
    if not fs:
        return rows
    return [{**r, **{k: (r[k] * fs if r.get(k) is not None else None) for k in _FREQ_KEYS}}
            for r in rows]


def format_layer(result, *, fs: float | None = None) -> str:
    """One kernel: a row per input channel plus the layer, the κ sentence and the notes."""
    s, src = result.shape, result.source
    where = printable(src.get("path") or "an array")
    lines = [f"# audit of {where}" + (f" [{printable(src['key'])}]" if src.get("key") else "")
             + f": J={s['J']} C={s['C']} T={s['T']}, N={s['N']}, stride={s['stride']}"
             + (f", fs={fs:g} Hz" if fs else "")]
    text = "\n".join(lines) + "\n" + format_table(_scaled(result.rows, fs), LAYER_COLUMNS)
    out = [text.rstrip("\n")]
    out.append(f"# frequencies in {_unit(fs)}")
    ref = result.reference
    if ref is not None:
        first = ref.get("channel", ref.get("layer"))
        n = first["draws"]
        what = "kappa" if first.get("of", "kappa") == "kappa" else "the Riesz kappa"
        line = (f"# pct: percentile of {what} among {n} Gaussian draws of the same structure "
                f"(seed {ref['seed']}, bounds in float64)")
        if "channel" in ref:
            line += f"; their median {ref['channel']['median_kappa']:.4g} (filterbank)"
        if "layer" in ref:
            line += (f", {ref['layer']['median_kappa']:.4g} (layer, "
                     f"{ref['layer'].get('of', 'kappa')})")
        out.append(line)
    out.append(f"# {printable(result.sentence())}")
    for r in result.rows:
        if r["dead_band"]:
            f = r["freq_A"] * fs if fs else r["freq_A"]
            out.append(f"# {r['part']}: dead band: A = 0 near f = {f:.4g} {_unit(fs)}: that input "
                       f"is lost (kappa = inf)")
    out += [f"# {printable(n)}" for n in result.notes]
    return "\n".join(out) + "\n"


def _model_rows(model):
    rows = []
    for lay in model.layers:
        rec = lay.record()
        J, C, T = rec["shape"]
        rows.append({**rec, "name": printable(rec.get("name") or ""), "shape_text": f"{J}x{C}x{T}",
                     "struct": _struct(rec),
                     "matters_text": "riesz" if rec["matters"] == "riesz_kappa" else "kappa"})
    for cas in model.cascades:
        J, C, T = cas["composite_shape"]
        rows.append({"name": printable("+".join(cas["layers"])), "shape_text": f"{J}x{C}x{T}",
                     "stride": cas["stride"], "struct": "T" if cas.get("transposed") else "-",
                     "A": cas["A"], "B": cas["B"], "kappa": cas["kappa"],
                     "riesz_kappa": cas.get("riesz_kappa"),
                     "matters_text": "riesz" if cas.get("transposed") else "kappa",
                     "reference_draws": 0})
    return rows


def format_model(model, *, fs: float | None = None) -> str:
    """A checkpoint: one row per layer (and per cascade), then each layer's κ sentence."""
    src = model.source
    out = [f"# audit of {printable(src['path'])}: {len(model.layers)} conv1d kernel(s), "
           f"{src['layout']} layout" + (f", fs={fs:g} Hz" if fs else "")]
    out.append(format_table(_model_rows(model), MODEL_COLUMNS).rstrip("\n"))
    out.append("# struct: g<groups>, d<dilation>, T transposed, wn/sn weight/spectral norm folded "
               "in; riesz_k: B over the filters' lower Riesz bound; use: the number that states "
               "the layer's stability (kappa for a layer that keeps its input, riesz for a "
               "decoder or a contracting layer, J < C·stride)")
    out.append("# k/median: that number over its median among random Gaussian layers of the same "
               "structure; pct: its percentile among them (draws: how many)")
    out.append("# sqrt(B) per layer (Lipschitz constant): " + ", ".join(
        f"{printable(_module(lay.name))} {lay.lipschitz:.4g}" for lay in model.layers))
    for lay in model.layers:
        out.append(f"# {printable(lay.name)}: {printable(lay.sentence())}")
    for cas in model.cascades:
        out.append(f"# cascade {printable(' -> '.join(cas['layers']))}: {printable(cas['note'])}")
    notes = list(model.notes) + [n for lay in model.layers for n in lay.notes]
    if fs:
        rates = input_rates(model, fs)
        notes.append("input rate of each layer (Hz), taking the layers in file order with no "
                     "pooling between them: " + ", ".join(
                         f"{_module(lay.name)} {r:g}" if r else f"{_module(lay.name)} unknown"
                         for lay, r in zip(model.layers, rates)))
    out += [f"# {printable(n)}" for n in notes]
    return "\n".join(out) + "\n"


def write_audit(result, out_dir: str, *, pdf: bool = False, fs: float | None = None) -> dict:
    """Write ``audit.json``, ``audit.txt`` and ``power_response.png`` (each atomically) for a
    `rfbjax.models.audits.LayerAudit` or `rfbjax.models.audits.ModelAudit`."""
    from .plots.audit import audit_figure, model_figure
    from ..base.files import atomic_write_bytes
    from .outputs import write_json

    single = not hasattr(result, "layers")
    os.makedirs(out_dir, exist_ok=True)
    paths = {"json": os.path.join(out_dir, "audit.json"),
             "table": os.path.join(out_dir, "audit.txt")}
    fig = audit_figure if single else model_figure
    paths["figure"] = fig(result, out_dir, pdf=pdf, fs=fs)[0]
    text = format_layer(result, fs=fs) if single else format_model(result, fs=fs)
    atomic_write_bytes(paths["table"], text.encode())
    payload = result.to_dict()
    if fs:
        payload["fs"] = float(fs)
        payload["frequency_unit"] = "Hz"
        rates = [fs] if single else input_rates(result, fs)
        for rec, r in zip(payload.get("layers", []), rates):
            rec["fs_in"] = r
            for k in ("freq_A", "freq_B"):
                rec[f"{k}_hz"] = None if rec.get(k) is None or r is None else rec[k] * r
    payload["files"] = {k: os.path.basename(v) for k, v in paths.items()}
    write_json(paths["json"], payload)
    return paths
