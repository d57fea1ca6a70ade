#!/usr/bin/env python
"""Parseval layers benchmark: forward + backward of `rfbjax.layers` against the plain Conv1d.

Shape: J = 40 output channels, C = 1, T = 1024 taps, stride 4, a batch of 16 signals of 16 000
samples, float32, CPU. Each arm is one jitted ``jax.grad`` of the sum of squares of the layer's
output with respect to the layer's parameters, warmed up, then timed in interleaved rounds
(every arm once per round, the median of ``--calls`` calls each); the table gives each arm's
median over rounds and the ratio Parseval / plain per framework. Both arms run the same circular
strided convolution (``lax.conv_general_dilated``); the Parseval arm also builds its kernel
(`rfbjax.parseval_kernel`, timed alone as "kernel only": the kernel's forward and backward with
a fixed cotangent).

    python scripts/bench_parseval.py [--rounds 5] [--calls 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from benchlib import machine_info, save_results  # noqa: E402

J, C, T, D, B, L = 40, 1, 1024, 4, 16, 16000


def arms():
    import equinox as eqx
    from flax import nnx

    from rfbjax.kernels.parseval import parseval_kernel
    from rfbjax.layers import equinox as leqx
    from rfbjax.layers import flax as lflax

    x = jax.random.normal(jax.random.key(0), (B, C, L), jnp.float32)
    xl = jnp.swapaxes(x, 1, 2)

    def eqx_arm(model):
        f = jax.jit(jax.grad(lambda m: jnp.sum(jax.vmap(m)(x) ** 2)))
        return lambda: f(model)

    def nnx_arm(model):
        graph, state = nnx.split(model)
        f = jax.jit(jax.grad(lambda s: jnp.sum(nnx.merge(graph, s)(xl) ** 2)))
        return lambda: f(state)

    pe = leqx.ParsevalConv1d(C, J, T, D, key=jax.random.key(1))
    plain_e = eqx.nn.Conv1d(C, J, T, D, padding=((0, T - 1),), padding_mode="CIRCULAR",
                            use_bias=False, key=jax.random.key(2))
    pf = lflax.ParsevalConv1d(C, J, T, D, rngs=nnx.Rngs(3))
    plain_f = nnx.Conv(C, J, (T,), (D,), padding="CIRCULAR", use_bias=False, rngs=nnx.Rngs(4))
    cot = jax.random.normal(jax.random.key(5), (J, C, T), jnp.float32)
    kern = jax.jit(jax.grad(lambda p: jnp.sum(parseval_kernel(p) * cot)))
    params = pe.params
    return {"equinox Conv1d": eqx_arm(plain_e), "equinox ParsevalConv1d": eqx_arm(pe),
            "flax nnx.Conv": nnx_arm(plain_f), "flax ParsevalConv1d": nnx_arm(pf),
            "kernel only": lambda: kern(params)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    fns = arms()
    for f in fns.values():                                   # compile and warm up
        jax.block_until_ready(f())
        jax.block_until_ready(f())
    times = {k: [] for k in fns}
    load = []
    for _ in range(a.rounds):
        for k, f in fns.items():
            calls = []
            for _ in range(a.calls):
                t0 = time.perf_counter()
                jax.block_until_ready(f())
                calls.append(time.perf_counter() - t0)
            times[k].append(statistics.median(calls))
        load.append(os.getloadavg()[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    info = machine_info()
    print(f"J={J} C={C} T={T} stride={D} batch {B} x {L}, float32; {a.rounds} rounds x "
          f"{a.calls} calls, medians; load average {min(load):.2f}-{max(load):.2f}")
    print(f"{'arm':26s} {'median s':>9s} {'min s':>8s} {'max s':>8s}")
    for k, v in times.items():
        print(f"{k:26s} {med[k]:9.3f} {min(v):8.3f} {max(v):8.3f}")
    re = med["equinox ParsevalConv1d"] / med["equinox Conv1d"]
    rf = med["flax ParsevalConv1d"] / med["flax nnx.Conv"]
    print(f"ratio Parseval / plain: equinox {re:.2f}x, flax {rf:.2f}x (target <= 3x)")
    rows = [{"arm": k, "median_s": med[k], "runs_s": v} for k, v in times.items()]
    save_results(a.json, dict(info, load_average=load, ratio_equinox=re, ratio_flax=rf), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
