#!/usr/bin/env python
"""Tightening benchmark: rfbjax tighten against a plain Adam-on-kappa loop, whole process.

Workloads (Gaussian draws, float32, target kappa <= 1.01, N = 4T):
  W1  J = 40, T = 1024, stride 1;   W2  the same at stride 4;
  W3  64 filterbanks J = 40, T = 256, stride 1, in one call.

  rfbjax    ``python -m rfbjax tighten IN.npy --out OUT.npy`` in a fresh process, timed from
            start to exit (interpreter and JAX start-up, reading, compiling, solving,
            certifying on l2(Z), writing);
  baseline  a fresh process running the straightforward loop: Adam (lr 1e-3 on unit-norm
            weights) on the exact kappa of the whole layer on a fixed coarse grid of 2T
            points, full support, one jit-compiled step, stopped when the grid kappa reaches
            the target (or after --baseline-budget seconds); its kappa is then certified on
            l2(Z) by rfbjax (the coarse grid under-estimates it).

``--figure DIR`` also draws P(omega) before and after for W1 (docs/img/tighten_power.png);
``--sweep`` times the library call (compilation included) over T and stride for the README.

    python scripts/bench_tighten.py [--quick] [--sweep] [--figure docs/img] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

WORKLOADS = {"W1": dict(layers=None, J=40, T=1024, d=1), "W2": dict(layers=None, J=40, T=1024, d=4),
             "W3": dict(layers=64, J=40, T=256, d=1)}
TARGET = 1.01


def _draw(layers, J, T, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    shape = (J, T) if layers is None else (layers, J, 1, T)
    return (rng.standard_normal(shape) / np.sqrt(J * T)).astype(np.float32)


def baseline(path: str, d: int, budget: float) -> dict:
    """Adam on the coarse-grid kappa (the straightforward loop); run in its own process."""
    import numpy as np
    import jax
    import jax.numpy as jnp
    import optax

    from rfbjax.remedies.regularizers import kappa_penalty
    from rfbjax.remedies.tightening import certified_kappa, default_grid

    w = jnp.asarray(np.load(path))
    T = w.shape[-1]
    coarse = d * -(-2 * T // d)
    w = w / jnp.sqrt(jnp.sum(w ** 2, axis=tuple(range(-w.ndim + (w.ndim > 3), 0)), keepdims=True)
                     if w.ndim <= 3 else jnp.sum(w ** 2, axis=(-3, -2, -1), keepdims=True))
    opt = optax.adam(1e-2 / np.sqrt(w[0].size if w.ndim > 3 else w.size))   # 1 % of the rms tap

    def loss(v):
        return jnp.sum(kappa_penalty(v, stride=d, N=coarse))

    @jax.jit
    def step(v, s):
        val, g = jax.value_and_grad(loss)(v)
        u, s = opt.update(g, s, v)
        return optax.apply_updates(v, u), s, kappa_penalty(v, stride=d, N=coarse)

    v, s = w, opt.init(w)
    t0, steps = time.perf_counter(), 0
    while True:
        v, s, k = step(v, s)
        steps += 1
        if float(jnp.max(k)) + 1 <= TARGET or time.perf_counter() - t0 > budget:
            break
    N = default_grid(T, d)
    cert = certified_kappa(v, 4 * N, d)
    return {"steps": steps, "kappa_coarse": float(jnp.max(k)) + 1,
            "kappa_certified": float(jnp.max(cert)), "reached": float(jnp.max(k)) + 1 <= TARGET}


def _cpu_children() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(cmd) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall and CPU seconds of a fresh process (CPU time is less sensitive to a loaded machine)."""
    t0, c0 = time.perf_counter(), _cpu_children()
    p = subprocess.run(cmd, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"})
    return time.perf_counter() - t0, _cpu_children() - c0, p


def run_workload(name: str, spec: dict, tmp: str, budget: float, quick: bool) -> dict:
    import numpy as np

    w = _draw(**{k: spec[k] for k in ("layers", "J", "T")})
    src = os.path.join(tmp, f"{name}.npy")
    np.save(src, w)
    out = os.path.join(tmp, f"{name}_tight.npy")
    wall, cpu, p = _timed([sys.executable, "-m", "rfbjax", "tighten", src, "--out", out,
                      "--stride", str(spec["d"]), "--target", str(TARGET), "--quiet"]
                     + (["--batch"] if spec["layers"] else []))
    if p.returncode not in (0, 1):
        raise SystemExit(f"rfbjax tighten failed: {p.stderr}")
    meta = json.load(open(os.path.join(tmp, f"{name}_tight.json")))
    row = {"workload": name, **spec, "rfbjax_wall_s": wall, "rfbjax_cpu_s": cpu,
           "rfbjax_in_call_s": meta["seconds"],
           "kappa_before": meta["kappa_before"], "kappa_after": meta["kappa_after"],
           "distance": meta["distance"], "steps": meta["steps"], "converged": meta["converged"]}
    if not quick:
        bwall, bcpu, bp = _timed([sys.executable, __file__, "--_baseline", src, str(spec["d"]),
                            str(budget)])
        if bp.returncode != 0:
            raise SystemExit(f"baseline failed: {bp.stderr}")
        row.update({"baseline_wall_s": bwall, "baseline_cpu_s": bcpu,
                    **{f"baseline_{k}": v for k, v in json.loads(bp.stdout.splitlines()[-1]).items()}})
    return row


def sweep(Ts=(128, 512, 1024), strides=(1, 2, 4)) -> list:
    """Library call (compilation included, one process) over T and stride, J = 40."""
    from rfbjax.remedies.tightening import tighten

    rows = []
    for d in strides:
        for T in Ts:
            w = _draw(None, 40, T, seed=T + d)
            r = tighten(w, stride=d, target=TARGET)
            rows.append({"J": 40, "T": T, "d": d, "seconds": r.seconds,
                         "kappa_before": float(r.kappa_before), "kappa_after": float(r.kappa_after),
                         "distance": float(r.distance), "steps": int(r.steps)})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def figure(out_dir: str) -> str:
    """P(omega) of the W1 draw before and after tightening (dense grid), normalised by its mean."""
    import numpy as np
    import jax.numpy as jnp

    from rfbjax.kernels.frames import power_response_from_filters
    from rfbjax.report.plots.common import pyplot, save_figure
    from rfbjax.remedies.tightening import tighten

    w = _draw(None, 40, 1024)
    v = np.asarray(tighten(w, stride=1, target=TARGET).weights)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    Nd = 16384
    f = np.arange(Nd // 2 + 1) / Nd
    for x, lab in ((w, "Gaussian draw"), (v, f"tightened (kappa <= {TARGET}, certified)")):
        P = np.asarray(power_response_from_filters(jnp.asarray(x, jnp.float32), Nd))
        ax.plot(f, P / P.mean(), lw=0.6, label=lab)
    ax.set_xlabel("frequency (cycles/sample)")
    ax.set_ylabel("P / mean P")
    ax.set_title("J = 40, T = 1024, stride 1: power response before and after rfbjax tighten")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out_dir, "tighten_power")[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="rfbjax only (no baseline)")
    ap.add_argument("--workloads", default="W1,W2,W3")
    ap.add_argument("--baseline-budget", type=float, default=120.0,
                    help="seconds the baseline may run per workload (default 120)")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--figure", metavar="DIR")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--_baseline", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._baseline:
        path, d, budget = args._baseline
        print(json.dumps(baseline(path, int(d), float(budget))))
        return 0
    from benchlib import machine_info, save_results

    info = {**machine_info(), "load_before": os.getloadavg()}
    rows = []
    with tempfile.TemporaryDirectory(prefix="rfbjax-bench-tighten-") as tmp:
        for name in args.workloads.split(","):
            if name:
                rows.append(run_workload(name, WORKLOADS[name], tmp, args.baseline_budget,
                                         args.quick))
                print(json.dumps(rows[-1]), flush=True)
    if args.sweep:
        rows += [{"workload": "sweep", **r} for r in sweep()]
    if args.figure:
        print("wrote", figure(args.figure))
    info["load_after"] = os.getloadavg()
    print(json.dumps(info))
    save_results(args.json, info, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
