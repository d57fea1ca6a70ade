#!/usr/bin/env python
"""Workload W4 of scripts/bench.py: adversarial-search throughput.

Restarts × steps per second at J = 10, T = 256, N = 4096 (64 restarts, Adam, no early stop)
for each objective (variance; fixed; population with K = 1000 filterbanks), three ways in one
run, so the ratios are measured on the same machine at the same time:

  rfbjax      the whole search as one jitted lax.while_loop (rfbjax.studies.attack.make_solver);
  step-jit    the same step (vmapped value-and-grad, optax update, projection) jitted, with the
              loop over steps in Python (one dispatch and one host sync per step);
  eager       the same step without jit, op by op (a few steps only: it is slow).

Timings are steady state: each compiled function runs once before it is timed, then the
fastest of 3 timed runs counts (the eager baseline is timed once, over a few steps).

    python scripts/bench_attack.py [--quick] [--json out/bench_attack.json]
    python scripts/bench.py --workloads W4 [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

J, T, N, K, RESTARTS = 10, 256, 4096, 1000, 64
REPEAT = 3  # interleaved timed runs of rfbjax and step-jit; the fastest of each counts


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _objectives():
    import numpy as np

    from rfbjax.studies import attack as at

    w = np.asarray(at.sample_filterbanks(0, J, T, 1)[0])
    return {"variance": at.variance_objective(J, T),
            "fixed": at.fixed_objective(w),
            "population": at.population_objective(at.sample_population(0, J, T, K), J)}


def _step_fn(obj, c, lr=0.1):
    """One search step for all restarts: what make_solver's loop body does, minus bookkeeping."""
    import jax
    import optax

    from rfbjax.studies import attack as at

    tx = at.make_optimizer("adam", lr)
    proj, to_signal = at.make_projection(c)
    vg = jax.vmap(jax.value_and_grad(lambda z, p: -obj.fn(p, to_signal(z))), in_axes=(0, None))

    def step(z, opt, params):
        loss, g = vg(z, params)
        upd, opt = jax.vmap(tx.update)(g, opt, z)
        return jax.vmap(proj)(optax.apply_updates(z, upd)), opt, loss

    return step, jax.vmap(tx.init), proj


def measure(name, obj, steps: int, eager_steps: int) -> dict:
    import jax

    from rfbjax.studies import attack as at

    c = at.make_constraints(N)
    params = obj.params
    z0 = at.initial_points(jax.random.PRNGKey(0), c, RESTARTS)

    # rfbjax: one compiled while_loop (tol = 0 and patience > steps: every step runs)
    solve = jax.jit(at.make_solver(obj.fn, c, steps=steps, tol=0.0, patience=steps + 1))
    t0 = time.perf_counter()
    out = jax.block_until_ready(solve(params, z0))
    first = time.perf_counter() - t0
    assert int(out["iterations"]) == steps

    # step-jit: Python loop over a jitted step
    step, init, proj = _step_fn(obj, c)
    jstep = jax.jit(step)
    z = jax.vmap(proj)(z0)
    opt = init(z)
    jax.block_until_ready(jstep(z, opt, params))

    def python_loop(z=z, opt=opt):
        for _ in range(steps):
            z, opt, loss = jstep(z, opt, params)
            float(loss[0])  # what a Python loop with a stopping test does: read a value back

    # interleaved, so that both see the same load on a shared machine
    fused, looped = float("inf"), float("inf")
    for _ in range(REPEAT):
        fused = min(fused, _timed(lambda: jax.block_until_ready(solve(params, z0))))
        looped = min(looped, _timed(python_loop))

    # eager: no jit at all
    z = jax.vmap(proj)(z0)
    opt = init(z)
    z, opt, loss = step(z, opt, params)  # warm the op caches
    t0 = time.perf_counter()
    for _ in range(eager_steps):
        z, opt, loss = step(z, opt, params)
        float(loss[0])
    eager = (time.perf_counter() - t0) * steps / eager_steps

    work = RESTARTS * steps
    return {"workload": f"W4 attack {name}", "objective": name, "J": J, "T": T, "N": N,
            "K": K if name == "population" else None, "restarts": RESTARTS, "steps": steps,
            "rfbjax_s": fused, "rfbjax_first_s": first,
            "rfbjax_restart_steps_per_s": work / fused,
            "step_jit_s": looped, "step_jit_restart_steps_per_s": work / looped,
            "eager_s_extrapolated": eager, "eager_steps_timed": eager_steps,
            "eager_restart_steps_per_s": work / eager,
            "speedup_vs_step_jit": looped / fused, "speedup_vs_eager": eager / fused}


def run_w4(quick: bool = False, out=sys.stdout) -> list[dict]:
    """Measure every objective; print one line each; return the rows."""
    steps, eager_steps = (50, 3) if quick else (200, 10)
    rows = []
    out.write(f"# W4 attack throughput: J={J} T={T} N={N}, {RESTARTS} restarts x {steps} steps "
              f"(Adam), restart-steps/s\n")
    out.write(f"{'workload':<24}{'rfbjax':>11}{'step-jit':>11}{'eager':>10}{'x step-jit':>11}"
              f"{'x eager':>9}{'compile+1st s':>14}\n")
    for name, obj in _objectives().items():
        r = measure(name, obj, steps, eager_steps)
        rows.append(r)
        out.write(f"{r['workload']:<24}{r['rfbjax_restart_steps_per_s']:>11.3g}"
                  f"{r['step_jit_restart_steps_per_s']:>11.3g}"
                  f"{r['eager_restart_steps_per_s']:>10.3g}{r['speedup_vs_step_jit']:>10.2f}x"
                  f"{r['speedup_vs_eager']:>8.1f}x{r['rfbjax_first_s']:>14.2f}\n")
        out.flush()
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="50 steps instead of 200")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    from benchlib import machine_info, save_results

    info = machine_info()
    rows = run_w4(args.quick)
    save_results(args.json, info, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
