r"""The paper's experiments end to end: numbers (this module), figures (`rfbjax.report.plots.paper`)
and a report (`rfbjax.report.markdown`), as run by ``rfbjax reproduce``.

Six experiments, after Haider, Lostanlen, Ehler and Balazs (IEEE SPL 2024):

1. energy deviation $\|\Phi x\|^2/\|x\|^2 - 1$ against T for synthetic signals (impulse,
   brownian noise, the alternating signal): Monte Carlo mean and 5–95 % band, the exact
   quantiles of the generalised chi-square law, the Cantelli, Chernoff and Bernstein-type bounds;
2. the same for three sounds (built-in stand-ins, or audio files), with their spectrograms;
3. histograms of $\|\Phi x\|^2/\|x\|^2$ at the largest T for those sounds, with the exact
   density;
4. mean frame bounds $\bar A, \bar B$ against T (J = 40), with the paper's chi-square
   extreme-value curves, $1 \pm 2\sqrt{\log T/J}$ and rfbjax's predictor;
5. $\mathbb E[\kappa]$ against T for J = 5, 10, 40, with $\bar B/\bar A$, the paper's
   $\tilde\kappa$ and the predictor;
6. a theory check: exact against Monte Carlo mean and variance with z-scores, for every signal
   and T.

Experiments 1, 2, 3 and 6 share one Monte Carlo (every signal sees the same filterbank draws),
and 4 and 5 share another. Every random number comes from `rfbjax.engine.montecarlo.stream_key`
with the configured seed, so a run with the same configuration gives the same results to the bit
(and the same ``results.json`` to the byte: it holds no timing and no date).

I/O stays at the edges: `load_signals` reads audio (and validates everything before
anything is written), `run_experiments` is pure computation, and `write_outputs`
writes figures, ``results.json`` and ``report.md`` through a staging folder, so that a failure
leaves nothing half-written in the output folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..base.files import atomic_write_bytes
from ..engine import montecarlo as mc
from ..errors import InputError

__all__ = [
    "ReproduceConfig",
    "QUICK",
    "FULL",
    "Signal",
    "P_TAIL",
    "NULLABLE",
    "validate_config",
    "load_signals",
    "run_energy",
    "run_bounds",
    "theory_check",
    "run_experiments",
    "plan_steps",
    "package_versions",
    "check_out_dir",
    "write_outputs",
    "results_bytes",
]

#: Tail level of every quantile and deviation bound (5 % and 95 % quantiles; bounds at p = 0.05).
P_TAIL = 0.05

#: Keys of ``results.json`` that may hold ``null``, and why. Every other number is finite.
NULLABLE = {
    "kappa_tilde": "the paper's closed form (1 + 2 sqrt(log T / J)) / (1 - 2 sqrt(log T / J)) "
                   "is undefined where J <= 4 log T",
}

_POW2_T = (8, 16, 32, 64, 128, 256, 512, 1024)


@dataclass(frozen=True)
class ReproduceConfig:
    """Sizes of one reproduction. `QUICK` (the default) and `FULL` (the paper's)."""

    mode: str = "quick"
    samples: int = 200                    # filterbanks per setting
    T: tuple = _POW2_T                    # filter lengths
    J_energy: int = 10                    # filters, energy experiments (1, 2, 3, 6)
    J_bounds: tuple = (5, 10, 40)         # filters, frame-bound experiments (4, 5)
    J_frame_plot: int = 40                # the J of experiment 4's figure
    N: int = 1024                         # length of the synthetic signals, DFT bins of bounds
    audio_seconds: float = 1.0            # length of the sounds
    sample_rate: float = 22050.0          # rate of the built-in sounds (files keep their own)
    synthetic: tuple = ("impulse", "brownian", "alternating")
    sounds: tuple = ("snare", "vowel", "flute")
    hist_bins: int = 24
    dtype: str = "float32"
    seed: int = 0

    def replace(self, **changes) -> "ReproduceConfig":
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("T", "J_bounds", "synthetic", "sounds"):
            d[k] = list(d[k])
        return d

    @property
    def hist_T(self) -> int:
        """The T of experiment 3's histograms: the largest T."""
        return int(max(self.T))


#: Quick mode: the paper's grid with 200 filterbanks per setting (about a minute on 2 cores).
QUICK = ReproduceConfig()
#: The paper's sizes: 1000 filterbanks per setting.
FULL = ReproduceConfig(mode="full", samples=1000, hist_bins=40)


@dataclass(frozen=True, eq=False)
class Signal:
    """One input of the energy experiments, normalised to unit energy."""

    label: str
    x: np.ndarray
    sample_rate: float
    kind: str        # "synthetic" or "sound"
    source: str      # "builtin" or "file"

    def meta(self) -> dict:
        return {"label": self.label, "kind": self.kind, "source": self.source,
                "N": int(self.x.shape[0]), "sample_rate": float(self.sample_rate)}


# ----------------------------------------------------------------------------- validation
def validate_config(cfg: ReproduceConfig) -> None:
    """Raise `InputError` (one line) for a configuration that cannot run."""
    if isinstance(cfg.samples, bool) or not isinstance(cfg.samples, int) or cfg.samples < 2:
        raise InputError(f"--samples: need an integer >= 2, got {cfg.samples!r}")
    if not cfg.T or any(int(T) < 1 for T in cfg.T):
        raise InputError(f"--T: values must be >= 1, got {list(cfg.T)}")
    if len(set(cfg.T)) != len(cfg.T):
        raise InputError(f"--T: values must be distinct, got {list(cfg.T)}")
    if cfg.J_energy < 1 or not cfg.J_bounds or min(cfg.J_bounds) < 1:
        raise InputError("J: values must be >= 1")
    if cfg.J_frame_plot not in cfg.J_bounds:
        raise InputError(f"J_frame_plot={cfg.J_frame_plot} must be one of J_bounds "
                         f"{list(cfg.J_bounds)}")
    if cfg.N < 2:
        raise InputError(f"N: must be >= 2, got {cfg.N}")
    if not (cfg.audio_seconds > 0 and np.isfinite(cfg.audio_seconds)):
        raise InputError(f"audio_seconds: must be > 0, got {cfg.audio_seconds}")
    if cfg.hist_bins < 2:
        raise InputError(f"hist_bins: must be >= 2, got {cfg.hist_bins}")
    if cfg.dtype not in ("float32", "float64"):
        raise InputError(f"dtype: float32 or float64, got {cfg.dtype!r}")


def _dedupe(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        n = seen.get(lab, 0) + 1
        seen[lab] = n
        out.append(lab if n == 1 else f"{lab}#{n}")
    return out


def _load_sound(spec: str, cfg: ReproduceConfig) -> tuple[str, np.ndarray, float, str]:
    """``--audio`` entry -> (label, x, rate, source). A built-in name is made at cfg's rate."""
    from ..report.audio import audio_info
    from ..report.signals import is_builtin, parse_signal_spec

    if is_builtin(spec):
        n = max(2, int(round(cfg.audio_seconds * cfg.sample_rate)))
        label, x = parse_signal_spec(spec, n, cfg.sample_rate)
        return label, x, float(cfg.sample_rate), "builtin"
    path, sliced = spec, False
    if not os.path.exists(spec) and "@" in spec:
        head = spec.rpartition("@")[0]
        if head and os.path.exists(head):
            path, sliced = head, True
    if not os.path.exists(path):
        raise InputError(f"'{spec}': no such file (nor a built-in sound such as vowel, flute, "
                         f"snare)")
    frames, rate, _ = audio_info(path)
    if sliced:  # the user chose the excerpt: take it as is
        label, x = parse_signal_spec(spec, None)
    else:       # the first audio_seconds of the file (the whole file when shorter)
        n = min(frames, max(2, int(round(cfg.audio_seconds * rate))))
        _, x = parse_signal_spec(spec, n)
        label = os.path.basename(os.path.normpath(path)) or path
    return label, x, float(rate), "file"


def load_signals(cfg: ReproduceConfig, audio: Sequence[str] | None = None) -> list[Signal]:
    """The synthetic signals (length N) and the sounds: built-ins, or the ``audio`` files.

    Every file is opened, read and checked here (readable audio, non-empty, finite, not silent),
    before any computation or output.

    Raises:
      InputError: one line, ``--audio: …`` naming the file and the problem.
    """
    from ..report.signals import make_signal

    validate_config(cfg)
    synth = [(name, make_signal(name, cfg.N, cfg.sample_rate), float(cfg.sample_rate), "builtin")
             for name in cfg.synthetic]
    if audio:
        sounds = []
        for spec in audio:
            try:
                sounds.append(_load_sound(str(spec), cfg))
            except InputError as exc:
                raise InputError(f"--audio: {exc}") from None
    else:
        n = max(2, int(round(cfg.audio_seconds * cfg.sample_rate)))
        sounds = [(name, make_signal(name, n, cfg.sample_rate), float(cfg.sample_rate), "builtin")
                  for name in cfg.sounds]
    labels = _dedupe([s[0] for s in synth] + [s[0] for s in sounds])
    kinds = ["synthetic"] * len(synth) + ["sound"] * len(sounds)
    return [Signal(lab, np.asarray(x, dtype=np.float64), rate, kind, source)
            for lab, (_, x, rate, source), kind in zip(labels, synth + sounds, kinds)]


# ----------------------------------------------------------------------------- experiments
Step = Callable[[str], None]


def _noop(_label: str) -> None:
    return None


def run_energy(signals: Sequence[Signal], cfg: ReproduceConfig, on_step: Step | None = None,
               max_memory: int = mc.DEFAULT_MAX_MEMORY) -> dict:
    r"""Experiments 1–3 and the numbers of 6: per signal and T, the Monte Carlo of
    $Y = \|\Phi x\|^2/\|x\|^2$ (J = ``cfg.J_energy``) and its exact law.

    Returns ``{"J", "T", "p", "samples", "signals": [per-signal columns], "histograms": [...]}``;
    each per-signal entry holds one list per quantity, indexed like ``T``.
    """
    import jax.numpy as jnp

    from ..engine.measure import energy_measurement, signal_lags
    from ..theory.energy_law import energy_law

    on_step = on_step or _noop
    J, Ts = int(cfg.J_energy), [int(T) for T in cfg.T]
    xs = [s.x for s in signals]
    cols: list[dict] = [{"label": s.label, "kind": s.kind, "N": int(s.x.shape[0])} for s in signals]
    hists = []

    def prepare(T):
        # the same draws as rfbjax.engine.measure.sample_energy (same measurement, same stream key)
        meas = energy_measurement(signal_lags(xs, T), J, T, dtype=jnp.dtype(cfg.dtype))
        return mc.prepare(meas.fn, mc.stream_key(cfg.seed, *meas.tags), cfg.samples,
                          *meas.args, bytes_per_sample=meas.bytes_per_sample,
                          max_memory=max_memory, progress=False)

    jobs = mc.start_all(prepare, [(T,) for T in Ts])
    for T in Ts:
        # float64 lag profiles, shared by the sampler (which rounds them to cfg.dtype) and the
        # exact law
        R = signal_lags(xs, T)
        E = jobs.pop((T,)).result()
        for m, s in enumerate(signals):
            e = np.asarray(E[:, m], dtype=np.float64)
            sm = mc.summarize(e, (P_TAIL, 1.0 - P_TAIL))
            law = energy_law(R[m], J, T)
            mean_th, var_th = law.mean(), law.var()
            row = {
                "mean_mc": sm.mean, "se_mean_mc": sm.se, "var_mc": sm.var, "se_var_mc": sm.se_var,
                "q05_mc": sm.quantiles[P_TAIL], "q95_mc": sm.quantiles[1.0 - P_TAIL],
                "min_mc": float(e.min()), "max_mc": float(e.max()),
                "mean_exact": mean_th, "var_exact": var_th,
                "z_mean": (sm.mean - mean_th) / sm.se if sm.se > 0 else 0.0,
                "z_var": (sm.var - var_th) / sm.se_var if sm.se_var > 0 else 0.0,
                "folded": bool(T > s.x.shape[0]),
            }
            row.update(law.theory_row(P_TAIL))  # exact quantiles, alphas of every bound, *_valid
            for k, v in row.items():
                cols[m].setdefault(k, []).append(v)
            if T == cfg.hist_T and s.kind == "sound":
                counts, edges = np.histogram(e, bins=cfg.hist_bins)
                centres = 0.5 * (edges[1:] + edges[:-1])
                hists.append({"label": s.label, "T": T, "edges": edges.tolist(),
                              "counts": counts.astype(int).tolist(),
                              "density_mc": (counts / (counts.sum() * np.diff(edges))).tolist(),
                              "centres": centres.tolist(),
                              "density_exact": np.asarray(law.pdf(centres), float).tolist(),
                              "q05_mc": row["q05_mc"], "q95_mc": row["q95_mc"],
                              "q05_exact": row["q05_exact"], "q95_exact": row["q95_exact"]})
        on_step(f"energy T={T}")
    return {"J": J, "T": Ts, "p": P_TAIL, "samples": cfg.samples, "signals": cols,
            "histograms": hists}


def _gauss_bounds(J: int, T: int) -> tuple[float, float]:
    c = 2.0 * np.sqrt(np.log(T) / J)
    return float(1.0 - c), float(1.0 + c)


def run_bounds(cfg: ReproduceConfig, on_step: Step | None = None,
               max_memory: int = mc.DEFAULT_MAX_MEMORY) -> dict:
    r"""Experiments 4 and 5: per J and T, the Monte Carlo of A, B, κ (circular, N bins) and the
    curves they are compared with.

    Per J (entries of ``"curves"``), one list per quantity, indexed like ``T``: Monte Carlo
    ``mean_A``, ``se_A``, ``mean_B``, ``se_B``, ``mean_kappa``, ``se_kappa``, ``q05_kappa``,
    ``q95_kappa``, ``ratio_B_A`` ($\bar B/\bar A$); the paper's i.i.d. chi-square
    extreme-value model ``chi2_A``, ``chi2_B``, ``chi2_ratio``; its Gaussian asymptotics
    ``gauss_A``, ``gauss_B`` ($1 \mp 2\sqrt{\log T/J}$) and ``kappa_tilde`` (null where
    undefined); rfbjax's predictor ``pred_A``, ``pred_B``, ``pred_kappa``, ``pred_ratio``.
    """
    import jax.numpy as jnp

    from ..engine.measure import prepare_bounds
    from ..theory.predictor import kappa_tilde_paper, order_statistics_baseline, predict

    on_step = on_step or _noop
    Ts = [int(T) for T in cfg.T]
    curves = []
    jobs = mc.start_all(lambda J, T: prepare_bounds(
        J, T, cfg.N, cfg.samples, seed=cfg.seed, dtype=jnp.dtype(cfg.dtype),
        max_memory=max_memory, progress=False), [(int(J), T) for J in cfg.J_bounds for T in Ts])
    for J in cfg.J_bounds:
        J = int(J)
        c: dict = {"J": J}
        for T in Ts:
            o = jobs.pop((J, T)).result()
            sA, sB, sK = mc.summarize(o["A"]), mc.summarize(o["B"]), mc.summarize(o["kappa"])
            pred = predict(J, T, cfg.N)
            base = order_statistics_baseline(J, T)
            gA, gB = _gauss_bounds(J, T)
            row = {
                "mean_A": sA.mean, "se_A": sA.se, "mean_B": sB.mean, "se_B": sB.se,
                "mean_kappa": sK.mean, "se_kappa": sK.se,
                "q05_kappa": sK.quantiles[0.05], "q95_kappa": sK.quantiles[0.95],
                "frac_kappa_inf": sK.n_inf / sK.n,
                "ratio_B_A": sB.mean / sA.mean if sA.mean > 0 else float("inf"),
                "chi2_A": base["E_A"], "chi2_B": base["E_B"], "chi2_ratio": base["E_kappa"],
                "gauss_A": gA, "gauss_B": gB,
                "kappa_tilde": float(kappa_tilde_paper(J, T)),
                "pred_A": pred["E_A"], "pred_B": pred["E_B"], "pred_kappa": pred["E_kappa"],
                "pred_ratio": pred["ratio_of_means"],
            }
            for k, v in row.items():
                c.setdefault(k, []).append(v)
            on_step(f"bounds J={J} T={T}")
        curves.append(c)
    return {"N": int(cfg.N), "T": Ts, "samples": cfg.samples, "boundary": "circular",
            "J_frame_plot": int(cfg.J_frame_plot), "curves": curves}


def theory_check(energy: dict) -> dict:
    """Experiment 6: exact against Monte Carlo mean and variance, one row per (signal, T)."""
    rows = []
    for col in energy["signals"]:
        for i, T in enumerate(energy["T"]):
            rows.append({
                "signal": col["label"], "kind": col["kind"], "T": T, "N": col["N"],
                "mean_exact": col["mean_exact"][i], "mean_mc": col["mean_mc"][i],
                "se_mean_mc": col["se_mean_mc"][i], "z_mean": col["z_mean"][i],
                "var_exact": col["var_exact"][i], "var_mc": col["var_mc"][i],
                "se_var_mc": col["se_var_mc"][i], "z_var": col["z_var"][i],
                "q95_exact": col["q95_exact"][i], "q95_mc": col["q95_mc"][i],
            })
    zv = np.array([r["z_var"] for r in rows])
    zm = np.array([r["z_mean"] for r in rows])
    rel_q = np.array([(r["q95_mc"] - r["q95_exact"]) / r["q95_exact"] for r in rows])
    summary = {"rows": len(rows), "max_abs_z_var": float(np.max(np.abs(zv))),
               "max_abs_z_mean": float(np.max(np.abs(zm))),
               "frac_abs_z_var_below_2": float(np.mean(np.abs(zv) < 2)),
               "frac_abs_z_mean_below_2": float(np.mean(np.abs(zm) < 2)),
               "max_abs_rel_q95": float(np.max(np.abs(rel_q)))}
    return {"J": energy["J"], "samples": energy["samples"], "rows": rows, "summary": summary}


def package_versions() -> dict:
    """Versions of Python and of the packages the numbers depend on."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("rfbjax", "jax", "jaxlib", "numpy", "optax", "matplotlib"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def plan_steps(cfg: ReproduceConfig, n_figures: int = 6) -> int:
    """Units of work of a whole run, for an outer progress bar: one per energy T, one per
    frame-bound (J, T), one per figure and one for the report."""
    return len(cfg.T) + len(cfg.J_bounds) * len(cfg.T) + n_figures + 1


def run_experiments(cfg: ReproduceConfig, signals: Sequence[Signal],
                    on_step: Step | None = None,
                    max_memory: int = mc.DEFAULT_MAX_MEMORY) -> dict:
    """Every experiment's numbers, as the (JSON-ready) dict written to ``results.json``."""
    validate_config(cfg)
    energy = run_energy(signals, cfg, on_step, max_memory)
    bounds = run_bounds(cfg, on_step, max_memory)
    return {
        "format": 1,
        "command": "reproduce",
        "config": cfg.to_json(),
        "seed": cfg.seed,
        "versions": package_versions(),
        "signals": [s.meta() for s in signals],
        "energy": energy,
        "bounds": bounds,
        "theory_check": theory_check(energy),
        "nullable": dict(NULLABLE),
    }


# ----------------------------------------------------------------------------- output
def results_bytes(results: dict) -> bytes:
    """``results.json`` as bytes: strict JSON (non-finite floats -> null), sorted keys."""
    from ..report.outputs import to_jsonable

    text = json.dumps(to_jsonable(results), indent=1, sort_keys=True, allow_nan=False)
    return (text + "\n").encode()


#: what ``reproduce --out DIR`` writes (a folder holding only these and results.json of an
#: earlier reproduction is reused: its files are replaced)
OWN_FILES = ("results.json", "report.md", "figures/*.png", "figures/*.pdf", ".reproduce-*")


def check_out_dir(out: str) -> str:
    """Refuse an output path that is a file, cannot be created, or holds files other than an
    earlier reproduction's (before any computation); ``"new"``, ``"empty"`` or ``"reuse"``."""
    from ..report.outputs import check_out_dir as check_dir

    return check_dir(out, "--out", command="reproduce", own=OWN_FILES, marker="results.json")


FIGURE_DIR = "figures"


def write_outputs(results: dict, signals: Sequence[Signal], out: str, *, pdf: bool = False,
                  on_step: Step | None = None) -> dict:
    """Figures, ``results.json`` and ``report.md`` into ``out``; returns their paths.

    Everything is first written into a hidden, private staging folder inside ``out`` and then
    copied into place through the one writer (figures first, ``results.json``, then ``report.md``
    last). On any failure the staging folder goes, the files this call added are removed (by
    their list, nothing else), and so are the folders it created, when they are empty.
    """
    from ..report.plots.paper import paper_figures
    from ..report.markdown import render_report

    on_step = on_step or _noop
    out = os.path.abspath(os.fspath(out))
    created = not os.path.exists(out)
    os.makedirs(out, exist_ok=True)
    stage = tempfile.mkdtemp(prefix=".reproduce-", dir=out)
    moved: list[str] = []
    new_files: list[str] = []
    made_figures = False
    try:
        waveforms = {s.label: (s.x, s.sample_rate) for s in signals}
        figs = paper_figures(results, os.path.join(stage, FIGURE_DIR), waveforms=waveforms,
                             pdf=pdf, on_step=on_step)
        rel = {name: [os.path.relpath(p, stage) for p in paths] for name, paths in figs.items()}
        with open(os.path.join(stage, "results.json"), "wb") as f:
            f.write(results_bytes(results))
        with open(os.path.join(stage, "report.md"), "w", encoding="utf-8") as f:
            f.write(render_report(results, {k: v[0] for k, v in rel.items()}))
        on_step("report")
        order = [p for paths in rel.values() for p in paths] + ["results.json", "report.md"]
        made_figures = not os.path.exists(os.path.join(out, FIGURE_DIR))
        for r in order:
            dst = os.path.join(out, r)
            existed = os.path.lexists(dst)
            with open(os.path.join(stage, r), "rb") as f:
                atomic_write_bytes(dst, f.read())
            moved.append(dst)
            if not existed:
                new_files.append(dst)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        for path in new_files:   # the files this call added, by their list
            os.unlink(path)
        for folder, ours in ((os.path.join(out, FIGURE_DIR), made_figures),
                             (out, created)):
            if ours:
                try:
                    os.rmdir(folder)   # only when empty: nothing of anyone else's goes
                except OSError:
                    pass
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)   # mkdtemp's private folder: only ours inside
    from ..report.outputs import remove_stale

    remove_stale(out, OWN_FILES, moved, command="reproduce")   # an earlier run's figures this run did not redraw
    return {"results": os.path.join(out, "results.json"),
            "report": os.path.join(out, "report.md"),
            "figures": {k: [os.path.join(out, p) for p in v] for k, v in rel.items()}}
