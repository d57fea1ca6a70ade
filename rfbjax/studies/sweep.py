r"""Frame-bound sweeps over a (J, T) grid: resumable, sharded, one atomic file per cell.

Layout of a sweep directory:

```text
DIR/config.json            the configuration (a different one is refused, never mixed)
DIR/cells/J{J}_T{T}.npz    raw samples of A and B (kappa = B/A is derived)
DIR/cells/J{J}_T{T}.json   the cell's summary; its presence marks the cell complete
DIR/summary.json           every completed cell's summary, rewritten after each cell
```

A cell is computed whole and written atomically (temporary file + rename, samples before
summary), so an interrupted run (even ``kill -9``) leaves only complete cells; running the same
command again skips them. Every cell's samples are a deterministic function of (seed, J, T, …)
(see `rfbjax.engine.montecarlo`), so a resumed sweep is bit-identical to an uninterrupted one,
whatever the number of devices or processes. In a multi-process run every process computes its
share of every cell's samples and only process 0 writes.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import jax
import jax.numpy as jnp

from ..engine import montecarlo as mc
from ..errors import InputError
from ..engine.measure import bounds_measurement
from ..base.files import atomic_write_bytes
from ..base.grid import parse_N, resolve_N
from ..report.outputs import MARKER_KEY, check_out_dir, write_json

__all__ = ["SweepConfig", "resolve_N", "sweep_grid", "run_sweep", "load_sweep", "cell_name"]

FORMAT = 1


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep computes. ``N`` is an int, or ``"kT"`` (k times T, e.g. ``"4T"``).

    ``init`` (`rfbjax.kernels.initializers`), ``stride`` and ``rescale`` select the filterbank
    distribution; ``rescale`` is written to config.json only when set, so directories made
    before it existed keep their configuration.
    """

    J: tuple
    T: tuple
    samples: int
    N: str = "4T"
    boundary: str = "circular"
    seed: int = 0
    dtype: str = "float32"
    init: str = "gaussian"
    stride: int = 1
    scale: float = 1.0
    format: int = FORMAT
    rescale: bool = False

    def to_json(self) -> dict:
        d = asdict(self)
        d["J"], d["T"] = list(self.J), list(self.T)
        if not self.rescale:
            del d["rescale"]
        return d

    def cells(self):
        return [(J, T) for J in self.J for T in self.T]


def sweep_grid(N, name: str = "--N") -> tuple[str, str]:
    """``(N, boundary)`` of a `SweepConfig` from a spelling of N (`rfbjax.base.grid.parse_N`).

    ℓ²(ℤ) (``inf``) is stored as ``("4T", "linear")``, the configuration sweeps made with the
    0.2 option ``--boundary linear`` have, so that such a folder resumes with ``--N inf``.
    """
    g = parse_N(N, name)
    if g.linear:
        return "4T", "linear"
    return (str(N).strip() if isinstance(N, str) else g.spec()), "circular"


def validate(cfg: SweepConfig) -> None:
    if not cfg.J or min(cfg.J) < 1:
        raise InputError("--J: values must be >= 1")
    if not cfg.T or min(cfg.T) < 1:
        raise InputError("--T: values must be >= 1")
    if cfg.samples < 2:
        raise InputError(f"--samples: need at least 2, got {cfg.samples}")
    if cfg.boundary not in ("circular", "linear"):
        raise InputError(f"--boundary: unknown {cfg.boundary!r}")
    from ..kernels import initializers

    initializers.get(cfg.init)
    if int(cfg.stride) != cfg.stride or cfg.stride < 1:
        raise InputError(f"--stride: must be an integer >= 1, got {cfg.stride}")
    if cfg.stride > 1 and cfg.boundary == "linear":
        raise InputError("--stride: strided frame bounds are computed on Z_N, not on l2(Z); "
                         "give an integer N or kT (e.g. --N 4T) instead of inf")
    for T in cfg.T:
        N = resolve_N(cfg.N, T, cfg.boundary)
        if N is not None and N < 2:
            raise InputError(f"--N: resolves to {N} for T={T}; need N >= 2")
        if N is not None and cfg.stride > 1 and N % cfg.stride:
            raise InputError(f"--stride: {cfg.stride} does not divide N={N} (T={T})")
        for J in cfg.J:
            initializers.validate(cfg.init, J, stride=cfg.stride, N=N, T=T)


def cell_name(J: int, T: int) -> str:
    return f"J{J}_T{T}"


def _describe_difference(old: dict, new: dict) -> str:
    keys = sorted(set(old) | set(new))
    diffs = [k for k in keys if old.get(k) != new.get(k)]
    k = diffs[0]
    return f"{k} is {old.get(k)!r} there, {new.get(k)!r} here"


#: what a sweep directory may hold: ours (the sweep's and ``rfbjax scaling-law``'s outputs)
OWN_FILES = ("config.json", "summary.json", "cells/J*_T*.npz", "cells/J*_T*.json",
             "scaling_law*.json", "kappa_heatmap.png", "kappa_heatmap.pdf", "kappa_vs_T.png",
             "kappa_vs_T.pdf")


def _is_sweep_config(data: dict) -> bool:
    return all(k in data for k in ("J", "T", "samples", "format"))


def prepare_dir(out: str, cfg: SweepConfig, *, write: bool = True) -> None:
    """Create DIR with config.json, or check that DIR holds the same configuration.

    DIR must be missing, empty, or a sweep directory (its config.json and only files a sweep or
    ``rfbjax scaling-law`` writes); anything else is refused (`rfbjax.report.outputs.check_out_dir`).
    """
    check_out_dir(out, "--out", command="sweep", own=OWN_FILES, marker="config.json",
                  is_ours=_is_sweep_config)
    path = os.path.join(out, "config.json")
    if os.path.exists(path):
        try:
            with open(path) as f:
                old = json.load(f)
        except (OSError, ValueError):
            raise InputError(f"{out}: config.json is unreadable; use a fresh directory") from None
        if isinstance(old, dict):
            old.pop(MARKER_KEY, None)      # who wrote it, not part of the configuration
        if old != cfg.to_json():
            raise InputError(f"{out}: holds a sweep with a different configuration "
                             f"({_describe_difference(old, cfg.to_json())}); use another --out")
        return
    if os.path.isdir(out) and os.path.exists(os.path.join(out, "cells")):
        raise InputError(f"{out}: has cells but no config.json; use a fresh directory")
    if write:
        os.makedirs(os.path.join(out, "cells"), exist_ok=True)
        write_json(path, cfg.to_json(), command="sweep")


def cell_paths(out: str, J: int, T: int):
    base = os.path.join(out, "cells", cell_name(J, T))
    return base + ".npz", base + ".json"


def summarize_cell(J, T, N, A, B) -> dict:
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    kappa = np.where(A > 0, B / np.where(A > 0, A, 1.0), np.inf)
    sA, sB, sK = mc.summarize(A), mc.summarize(B), mc.summarize(kappa)
    return {"J": J, "T": T, "N": N, "samples": int(A.size), "mean_A": sA.mean, "se_A": sA.se,
            "mean_B": sB.mean, "se_B": sB.se, "mean_kappa": sK.mean, "se_kappa": sK.se,
            "q05_kappa": sK.quantiles[0.05], "q95_kappa": sK.quantiles[0.95],
            "frac_kappa_inf": sK.n_inf / sK.n}


def _write_cell(out, J, T, N, A, B, seconds):
    npz, js = cell_paths(out, J, T)
    buf = io.BytesIO()
    np.savez(buf, A=np.asarray(A), B=np.asarray(B))
    atomic_write_bytes(npz, buf.getvalue())
    summary = summarize_cell(J, T, N, A, B)
    summary["seconds"] = seconds
    write_json(js, summary)
    return summary


def _prepare_cell(cfg: SweepConfig, J: int, T: int, N, *, max_memory, on_chunk, devices):
    extra = {} if (cfg.init == "gaussian" and cfg.stride == 1) else \
        {"init": cfg.init, "stride": cfg.stride, "rescale": cfg.rescale}
    m = bounds_measurement(J, T, N, scale=cfg.scale, dtype=jnp.dtype(cfg.dtype), **extra)
    return mc.prepare(m.fn, mc.stream_key(cfg.seed, *m.tags), cfg.samples, *m.args,
                      bytes_per_sample=m.bytes_per_sample, max_memory=max_memory,
                      progress=False, on_chunk=on_chunk, devices=devices)


#: cells prepared ahead of the one running: their programs compile while it runs
LOOKAHEAD = 2


def pending_cells(out: str, cfg: SweepConfig) -> list[tuple[int, int]]:
    """The cells (J, T) of ``cfg`` that the folder ``out`` does not hold yet, in sweep order."""
    return [(J, T) for J, T in cfg.cells() if not os.path.exists(cell_paths(out, J, T)[1])]


def run_sweep(cfg: SweepConfig, out: str, *, max_memory: int = mc.DEFAULT_MAX_MEMORY,
              progress: bool = True, devices=None, log=None) -> list[dict]:
    """Run (or resume) the sweep into ``out``; returns the summaries of all cells.

    The next `LOOKAHEAD` cells are prepared (traced, compiling in the background, and
    started: `rfbjax.engine.montecarlo.Job.start`) while a cell runs; the cells are still
    measured one at a time and written in order.
    """
    validate(cfg)
    writer = jax.process_index() == 0
    if writer:
        prepare_dir(out, cfg)
    if jax.process_count() > 1:   # the others check the folder once process 0 has made it
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("rfbjax sweep: folder ready")
        if not writer:
            prepare_dir(out, cfg, write=False)
    cells = cfg.cells()
    todo = pending_cells(out, cfg)
    bar = None
    if progress and writer and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo) * cfg.samples, unit="filterbank", desc="sweep",
                   smoothing=0.0, dynamic_ncols=True, leave=False, file=sys.stderr)
        bar.set_postfix_str(f"cells {len(cells) - len(todo)}/{len(cells)}")
    done_cells = len(cells) - len(todo)
    jobs: dict = {}
    prep_seconds: dict = {}

    def prepare(i):
        if i < len(todo) and i not in jobs:
            J, T = todo[i]
            t0 = time.perf_counter()
            jobs[i] = _prepare_cell(cfg, J, T, resolve_N(cfg.N, T, cfg.boundary),
                                    max_memory=max_memory, devices=devices,
                                    on_chunk=bar.update if bar is not None else None).start()
            prep_seconds[i] = time.perf_counter() - t0

    try:
        with mc.cancelling(jobs):   # no prepared cell goes on running in the background
            for i, (J, T) in enumerate(todo):
                for ahead in range(i, i + 1 + LOOKAHEAD):
                    prepare(ahead)
                t0 = time.perf_counter()
                out_ = jobs.pop(i).result()
                seconds = prep_seconds.pop(i) + time.perf_counter() - t0
                if writer:
                    _write_cell(out, J, T, resolve_N(cfg.N, T, cfg.boundary), out_["A"],
                                out_["B"], seconds)
                    write_json(os.path.join(out, "summary.json"),
                               {"config": cfg.to_json(), "cells": _completed(out, cfg)})
                done_cells += 1
                if bar is not None:
                    bar.set_postfix_str(f"cells {done_cells}/{len(cells)}")
                if log is not None:
                    log(J, T)
    finally:
        if bar is not None:
            bar.close()
    return _completed(out, cfg)


def _completed(out: str, cfg: SweepConfig) -> list[dict]:
    rows = []
    for J, T in cfg.cells():
        js = cell_paths(out, J, T)[1]
        if os.path.exists(js):
            with open(js) as f:
                rows.append(json.load(f))
    return rows


@dataclass
class SweepData:
    """A loaded sweep: the configuration and, per completed cell, the raw samples."""

    config: dict
    samples: dict = field(default_factory=dict)  # (J, T) -> (A, B) float64 arrays
    summaries: list = field(default_factory=list)


def load_sweep(out: str) -> SweepData:
    """Read a sweep directory (only completed cells)."""
    path = os.path.join(out, "config.json")
    if not os.path.exists(path):
        raise InputError(f"{out}: not a sweep directory (no config.json)")
    with open(path) as f:
        config = json.load(f)
    config.pop(MARKER_KEY, None)
    data = SweepData(config)
    for J in config["J"]:
        for T in config["T"]:
            npz, js = cell_paths(out, J, T)
            if os.path.exists(js):
                with np.load(npz) as z:
                    data.samples[(J, T)] = (z["A"].astype(np.float64), z["B"].astype(np.float64))
                with open(js) as f:
                    data.summaries.append(json.load(f))
    if not data.samples:
        raise InputError(f"{out}: no completed cells yet")
    return data
