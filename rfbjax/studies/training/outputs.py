"""What a training study writes: ``study.json``, ``final_weights.npz``, ``report.md``, figures.

Output folder rules: a missing or empty folder is used; a folder holding only this command's
own earlier outputs (the names below) is reused, its files replaced; anything else is refused
before any computation. Every file is written under a temporary name and renamed, so no
half-written file is ever left; ``report.md`` is written last.
"""

from __future__ import annotations

import io
import json
import math
import os
import platform

import numpy as np

from ...errors import InputError
from ...base.files import atomic_write_bytes
from ...base.text import printable
from ...report.outputs import to_jsonable
from .summary import final_table, findings

__all__ = ["OWN_FILES", "FIGURE_DIR", "check_out_dir", "study_json", "write_outputs",
           "render_report", "REPORTED"]

FIGURE_DIR = "figures"
#: the files this command writes at the top of its folder
OWN_FILES = ("study.json", "final_weights.npz", "report.md")

#: κ trajectories the paper's authors report (J = 40, T = N = 1024, stride 1), for comparison
REPORTED: dict[str, dict] = {
    "setting": {"J": 40, "T": 1024, "N": 1024, "stride": 1},
    "parseval": {"kappa0": 2.569, "none": 1.091, "kappa": 1.022, "tightness": 1.0000002},
    "auditory (CQT)": {"kappa0": 2.395, "none": 2.931, "kappa": 2.529},
}


#: everything this command writes in its folder (patterns for `rfbjax.report.outputs.check_out_dir`)
OWN_PATTERNS = OWN_FILES + (f"{FIGURE_DIR}/study_*.png", f"{FIGURE_DIR}/study_*.pdf")


def check_out_dir(out: str) -> bool:
    """InputError unless ``out`` is missing, empty, or holds only this command's outputs
    (with its ``study.json``); True when earlier outputs will be replaced."""
    from ...report.outputs import check_out_dir as check_dir

    return check_dir(out, "--out", command="train-study", own=OWN_PATTERNS,
                     marker="study.json") == "reuse"


def _findings(results: dict) -> dict:
    """`findings`, computed once per results dict."""
    if "_findings" not in results:
        results["_findings"] = findings(results)
    return results["_findings"]


def study_json(results: dict) -> dict:
    """The JSON document: ``config``, ``targets``, ``data``, ``runs`` (no weights), ``findings``."""
    import jax

    from ...base.version import __version__

    cfg = results["config"]
    runs = [{k: v for k, v in r.items() if k != "w"} for r in results["runs"]]
    doc = {
        "command": "train-study",
        "config": cfg.to_json() | {"target": [t["name"] for t in results["targets"]
                                              if t["stride"] == cfg.strides[0]]},
        "targets": [{k: v for k, v in t.items() if k != "w"} for t in results["targets"]],
        "data": results["data"],
        "runs": runs,
        "skipped": results.get("skipped", []),
        "summary": final_table(results["runs"]),
        "findings": _findings(results),
        "seconds": results["seconds"],
        "versions": {"rfbjax": __version__, "jax": jax.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "reported_by_authors": REPORTED,
    }
    from ...report.outputs import json_marker

    doc["rfbjax"] = json_marker("train-study")
    return to_jsonable(doc)


def _npz_bytes(results: dict) -> bytes:
    buf = io.BytesIO()
    arrays = {r["name"]: np.asarray(r["w"], np.float64)[:, None, :] for r in results["runs"]}
    np.savez(buf, **arrays)
    return buf.getvalue()


def _fmt(v, digits=4):
    if v is None:
        return "–"
    if isinstance(v, float) and not math.isfinite(v):
        return "∞"
    return f"{v:.{digits}g}"


def _ci(c, digits=4):
    if c["mean"] is None:
        return "–"
    if c["lo"] is None:
        return _fmt(c["mean"], digits)
    return f"{_fmt(c['mean'], digits)} [{_fmt(c['lo'], digits)}, {_fmt(c['hi'], digits)}]"


def _comparison(results: dict, fnd: dict) -> list[str]:
    cfg = results["config"]
    lines = ["## Comparison with the authors' reported trajectories", ""]
    rs = REPORTED["setting"]
    same = (cfg.J, cfg.T, cfg.N) == (rs["J"], rs["T"], rs["N"]) and 1 in cfg.strides
    lines.append(
        f"The authors report, for J = {rs['J']}, T = N = {rs['T']}, stride 1 (their training "
        f"data, steps and β are not stated): Parseval target κ "
        f"{REPORTED['parseval']['kappa0']} → {REPORTED['parseval']['none']} without penalty, "
        f"{REPORTED['parseval']['kappa']} with a κ penalty, {REPORTED['parseval']['tightness']} "
        f"with ‖S − I‖²; CQT target {REPORTED['auditory (CQT)']['kappa0']} → "
        f"{REPORTED['auditory (CQT)']['none']} without penalty, "
        f"{REPORTED['auditory (CQT)']['kappa']} with one. "
        + ("This run uses the same J, T, N." if same else
           f"This run uses J = {cfg.J}, T = {cfg.T}, N = {cfg.N}: a smaller setting, so only "
           f"the direction of the changes is comparable."))
    lines += ["", "| target (stride 1) | init | κ at step 0 | none | kappa | tightness |",
              "|---|---|---|---|---|---|"]
    rows = {(r["target"], r["stride"], r["init"], r["penalty"]): r
            for r in final_table(results["runs"])}
    for t in cfg.targets:
        rep = REPORTED["parseval" if t == "parseval" else "auditory (CQT)"]
        lines.append(f"| {t}: authors | gaussian (theirs) | {rep['kappa0']} | "
                     f"{rep.get('none', '–')} | {rep.get('kappa', '–')} | "
                     f"{rep.get('tightness', '–')} |")
        if 1 not in cfg.strides:
            continue
        for i in cfg.inits:
            cells = []
            for p in ("none", "kappa", "tightness"):
                r = rows.get((t, 1, i, p))
                cells.append(_fmt(r["kappa"]["mean"]) if r else "not run")
            k0 = rows.get((t, 1, i, cfg.penalties[0]))
            lines.append(f"| {t}: this run | {i} | {_fmt(k0['kappa0']['mean']) if k0 else '–'} | "
                         + " | ".join(cells) + " |")
    lines.append("")
    lines.append("(Means over seeds of the final κ; the target here is the module's own "
                 "gammatone bank, not the authors' CQT, so its κ differs: see the table of "
                 "targets above.)")
    return lines


def render_report(results: dict, figures: dict) -> str:
    """The Markdown report; ``figures`` maps (target, stride) to a path relative to the report."""
    cfg = results["config"]
    fnd = _findings(results)
    L = [f"# Training study: conditioning at initialisation once the front end learns ({cfg.mode})",
         "",
         f"A conv1d front end of J = {cfg.J} filters, T = {cfg.T} taps (stride "
         f"{', '.join(map(str, cfg.strides))}, circular on N = {cfg.N}) learns by knowledge "
         f"distillation to reproduce a fixed target filterbank's outputs: full-batch Adam "
         f"(lr = {cfg.learning_rate:.4g}), {cfg.steps} steps, loss = relative MSE of the outputs "
         f"on {results['data']['n_train']} training excerpts; the held-out loss is measured on "
         f"{results['data']['n_val']} other excerpts. κ = B/A is exact on the N-point grid "
         f"(the operator being trained), logged every {cfg.log_every} steps. "
         f"{cfg.seeds} seeds per initialiser; the same initial draw is trained under every "
         f"penalty. "
         + (f"The `parseval` arm is trained through its Parseval parametrisation "
            f"(`rfbjax.parseval_kernel`, lr = {cfg.parseval_learning_rate:.4g}), penalty none. "
            if "parseval" in cfg.inits else "")
         + "Penalties: "
         + ", ".join(f"{p} (β = {cfg.beta[p]:g})" if p != "none" else p for p in cfg.penalties)
         + f". Seed {cfg.seed}; {results['seconds']:.0f} s of training.", "",
         "| target | stride | A | B | κ | description |", "|---|---|---|---|---|---|"]
    for t in results["targets"]:
        L.append(f"| {t['name']} | {t['stride']} | {_fmt(t['A'], 6)} | {_fmt(t['B'], 6)} | "
                 f"{_fmt(t['kappa'], 6)} | {t['description']} |")
    src = results["data"]["train_sources"]
    L += ["", "Training sources: " + ", ".join(f"{printable(k)} ({v})" for k, v in src.items()) + ".", "",
          "## What the data show", ""]
    for s in fnd["settings"]:
        L.append(f"**{s['target']}, stride {s['stride']}.** " + " ".join(s["sentences"]))
        L.append("")
    L += _comparison(results, fnd)
    L += ["", "## Figures", ""]
    for (t, d), path in figures.items():
        L += [f"![{t}, stride {d}]({path})", ""]
    L += ["## Final values (mean over seeds, 95 % Student-t interval)", "",
          "| target | stride | init | penalty | κ at step 0 | final κ | final held-out loss | "
          "final training loss |", "|---|---|---|---|---|---|---|---|"]
    for r in final_table(results["runs"]):
        L.append(f"| {r['target']} | {r['stride']} | {r['init']} | {r['penalty']} | "
                 f"{_ci(r['kappa0'])} | {_ci(r['kappa'])} | {_ci(r['val_loss'], 3)} | "
                 f"{_ci(r['loss'], 3)} |")
    for k in results.get("skipped", ()):
        L.append(f"| {k['target']} | {k['stride']} | {k['init']} | {k['penalty']} | not run: "
                 f"{k['reason']} | – | – | – |")
    L += ["", "Files: `study.json` (configuration, every run's step, loss, val_loss, kappa, A, B), "
          "`final_weights.npz` (one (J, 1, T) array per run, named "
          "`{target}-s{stride}-{init}-{penalty}-{seed}`), `figures/`.", ""]
    return "\n".join(L)


def write_outputs(results: dict, out: str, *, pdf: bool = False) -> dict:
    """Figures, ``final_weights.npz``, ``study.json`` and finally ``report.md`` into ``out``."""
    from ...report.plots.study import study_figures

    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    figs = study_figures(results, os.path.join(out, FIGURE_DIR), pdf=pdf)
    rel = {k: os.path.relpath(v[0], out) for k, v in figs.items()}
    atomic_write_bytes(os.path.join(out, "final_weights.npz"), _npz_bytes(results))
    text = json.dumps(study_json(results), indent=1, allow_nan=False)
    atomic_write_bytes(os.path.join(out, "study.json"), (text + "\n").encode())
    atomic_write_bytes(os.path.join(out, "report.md"), render_report(results, rel).encode())
    paths = {"report": os.path.join(out, "report.md"), "json": os.path.join(out, "study.json"),
             "weights": os.path.join(out, "final_weights.npz"),
             "figures": [p for v in figs.values() for p in v]}
    from ...report.outputs import remove_stale

    # an earlier run's files this run did not write go, by the folder's manifest (never a glob)
    remove_stale(out, OWN_PATTERNS, [paths["report"], paths["json"], paths["weights"],
                                     *paths["figures"]], command="train-study")
    return paths
