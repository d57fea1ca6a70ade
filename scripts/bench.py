#!/usr/bin/env python
"""Benchmarks of rfbjax against straightforward NumPy float64 baselines, with ratios in one run.

Workloads (W1, W2 by default; W3, W4 with --workloads):
  W1 frame bounds: N = 1024, J = 40, T = 8 … 1024, S filterbanks per T (default 1000).
  W2 energy:       3 signals of N = 22050, J = 10, T = 8 … 1024, S filterbanks per T.
  W3 strided frame bounds, J = 40, T = 1024, N = 4096, d = 8 and 64 (scripts/bench_strided.py).
  W4 adversarial search throughput, J = 10, T = 256, N = 4096 (scripts/bench_attack.py).
Baselines zero-pad every filter to N and take J FFTs per filterbank (NumPy, float64).
The RNG floor is the time JAX needs just to draw the J·T Gaussian taps of every filterbank.

Each (workload, implementation) runs in its own subprocess so that its peak resident memory
is its own; timings are steady state (a first run compiles, a second is timed).

    python scripts/bench.py [--quick] [--samples 1000] [--json out/bench.json]

Whole-process mode (``--process``) times the two commands a user types, start-up included:

  W1  rfbjax bounds --J 40 --T 8,16,...,1024 --N 1024 --samples 2000
  W2  rfbjax energy speech_22k.wav flute_22k.wav --J 10 --T 8,16,...,1024 --samples 1000

each *cold* (an empty compilation cache, RFBJAX_CACHE_DIR pointing at a new folder) and
*warm* (the same command again), against a NumPy float64 script doing the same Monte Carlo
work, also a whole process, in the same run; plus ``rfbjax --help``.

    python scripts/bench.py --process [--audio DIR] [--repeat 2] [--json out/bench-process.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


# ----------------------------------------------------------------------------- workers
def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _w2_signals(N):
    from rfbjax.report.signals import make_signal

    return [make_signal(name, N) for name in ("vowel", "flute", "snare")]


def worker(workload: str, impl: str, Ts, S: int, max_memory: str) -> dict:
    import numpy as np

    J, N = (40, 1024) if workload == "W1" else (10, 22050)
    if impl == "numpy":
        rng = np.random.default_rng(0)
        xs = _w2_signals(N) if workload == "W2" else None
        t0 = time.perf_counter()
        for T in Ts:
            sigma = (1.0 / (J * T)) ** 0.5
            if workload == "W1":
                w = sigma * rng.standard_normal((S, J, T))
                W = np.fft.rfft(w, n=N, axis=-1)
                P = np.sum(W.real ** 2 + W.imag ** 2, axis=1)
                A, B = P.min(-1), P.max(-1)
                _ = B / A
            else:
                X = np.fft.rfft(np.stack(xs), axis=-1)
                chunk = 50  # keeps the (chunk, J, N) FFT buffers near 200 MB
                for s0 in range(0, S, chunk):
                    w = sigma * rng.standard_normal((min(chunk, S - s0), J, T))
                    W = np.fft.rfft(w, n=N, axis=-1)
                    y = np.fft.irfft(W[:, :, None, :] * X[None, None], n=N, axis=-1)
                    _ = np.sum(y * y, axis=(1, 3))
        return {"seconds": time.perf_counter() - t0, "peak_mb": _peak_mb()}

    import jax
    import jax.numpy as jnp
    from rfbjax.engine import montecarlo as mc
    from rfbjax.engine.measure import sample_bounds, sample_energy

    mem = mc.parse_memory(max_memory)
    if impl == "rng":
        def draw(T):
            key = mc.stream_key(0, "bench", J, T)
            f = jax.jit(lambda idx: jax.vmap(
                lambda k: jax.random.normal(k, (J, T), jnp.float32))(mc.sample_keys(key, idx)))
            return f

        fs = {T: draw(T) for T in Ts}
        idx = jnp.arange(S, dtype=jnp.uint32)
        for T in Ts:
            fs[T](idx).block_until_ready()
        t0 = time.perf_counter()
        for T in Ts:
            fs[T](idx).block_until_ready()
        return {"seconds": time.perf_counter() - t0, "peak_mb": _peak_mb()}

    xs = _w2_signals(N) if workload == "W2" else None

    def once():
        for T in Ts:
            if workload == "W1":
                sample_bounds(J, T, N, S, seed=0, max_memory=mem)
            else:
                sample_energy(xs, J, T, S, seed=0, max_memory=mem)

    t0 = time.perf_counter()
    once()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    once()
    return {"seconds": time.perf_counter() - t0, "first_seconds": first, "peak_mb": _peak_mb()}


# ----------------------------------------------------------------------------- whole process
ROOT = os.path.dirname(HERE)
W2_CLIPS = ("speech_22k.wav", "flute_22k.wav")
PROCESS_TS = [8 << k for k in range(8)]


def _process_commands(audio_dir: str) -> dict:
    clips = [os.path.join(audio_dir, c) for c in W2_CLIPS]
    rfb = [sys.executable, "-m", "rfbjax"]
    return {"W1": rfb + ["bounds", "--J", "40", "--T", "8,16,...,1024", "--N", "1024",
                         "--samples", "2000"],
            "W2": rfb + ["energy", *clips, "--J", "10", "--T", "8,16,...,1024", "--samples", "1000"]}


def numpy_process(workload: str, audio_dir: str) -> None:
    """The NumPy float64 baseline of one whole-process workload (run as its own process)."""
    import numpy as np

    rng = np.random.default_rng(0)
    if workload == "W1":
        J, N, S = 40, 1024, 2000
        for T in PROCESS_TS:
            sigma = (1.0 / (J * T)) ** 0.5
            for s0 in range(0, S, 250):   # (250, 40, 513) complex spectra: ~80 MB at a time
                w = sigma * rng.standard_normal((min(250, S - s0), J, T))
                W = np.fft.rfft(w, n=N, axis=-1)
                P = np.sum(W.real ** 2 + W.imag ** 2, axis=1)
                A, B = P.min(-1), P.max(-1)
                _ = np.quantile(B / A, [0.05, 0.95])
        return
    import soundfile as sf

    xs = [sf.read(os.path.join(audio_dir, c), dtype="float64", always_2d=True)[0].mean(axis=1)
          for c in W2_CLIPS]
    J, S = 10, 1000
    for T in PROCESS_TS:
        sigma = (1.0 / (J * T)) ** 0.5
        for x in xs:  # circular convolution on Z_N: the filters zero-padded to N
            N = x.shape[0]
            X = np.fft.rfft(x)
            for s0 in range(0, S, 50):
                w = sigma * rng.standard_normal((min(50, S - s0), J, T))
                W = np.fft.rfft(w, n=N, axis=-1)
                y = np.fft.irfft(W * X, n=N, axis=-1)
                _ = np.sum(y * y, axis=(1, 2)) / np.sum(x * x)


def _timed(cmd, env) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"bench.py: {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return dt


def run_process(audio_dir: str, repeat: int, workloads) -> dict:
    import shutil
    import tempfile

    audio_dir = os.path.abspath(audio_dir)
    missing = [c for c in W2_CLIPS if not os.path.exists(os.path.join(audio_dir, c))]
    if "W2" in workloads and missing:
        raise SystemExit(f"bench.py: error: --audio: {', '.join(missing)} not in {audio_dir}")
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    cmds = _process_commands(audio_dir)
    load = os.getloadavg()
    info = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": platform.machine(),
            "cpus": os.cpu_count(), "loadavg_before": load, "repeat": repeat,
            "commands": {k: " ".join(v[2:]) for k, v in cmds.items()}}
    print(f"# rfbjax whole-process benchmark {info['date']}, {info['cpus']} CPUs, "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; best of {repeat}")
    rows = []
    helps = [_timed([sys.executable, "-m", "rfbjax", "--help"], env) for _ in range(repeat)]
    rows.append({"workload": "rfbjax --help", "seconds": min(helps)})
    print(f"{'rfbjax --help':<16}{min(helps):>8.2f} s   (target <= 0.6 s)")
    print(f"{'workload':<16}{'numpy s':>9}{'cold s':>9}{'warm s':>9}{'cold x':>8}{'warm x':>8}"
          f"{'targets':>16}")
    targets = {"W1": (1.0, 1.5), "W2": (20.0, 40.0)}
    for wl in workloads:
        base = min(_timed([sys.executable, os.path.abspath(__file__), "--numpy-process", wl,
                           "--audio", audio_dir], env) for _ in range(repeat))
        print(f"{wl:<16}{base:>9.2f}  (NumPy done; cold and warm runs follow)", flush=True)
        colds, warms = [], []
        for _ in range(repeat):
            cache = tempfile.mkdtemp(prefix="rfbjax-bench-cache-")
            try:
                e = dict(env, RFBJAX_CACHE_DIR=cache)
                colds.append(_timed(cmds[wl], e))
                warms.append(_timed(cmds[wl], e))
            finally:
                shutil.rmtree(cache, ignore_errors=True)
        cold, warm = min(colds), min(warms)
        row = {"workload": wl, "numpy_s": base, "cold_s": cold, "warm_s": warm,
               "cold_speedup": base / cold, "warm_speedup": base / warm,
               "target_cold": targets[wl][0], "target_warm": targets[wl][1]}
        rows.append(row)
        print(f"{wl:<16}{base:>9.2f}{cold:>9.2f}{warm:>9.2f}{row['cold_speedup']:>7.1f}x"
              f"{row['warm_speedup']:>7.1f}x{f'>={targets[wl][0]:g}x, >={targets[wl][1]:g}x':>16}")
        sys.stdout.flush()
    info["loadavg_after"] = os.getloadavg()
    return {"info": info, "rows": rows}


# ----------------------------------------------------------------------------- driver
def _run_worker(workload, impl, Ts, S, max_memory):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", workload, "--impl", impl,
           "--T", ",".join(map(str, Ts)), "--samples", str(S), "--max-memory", max_memory]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="T up to 256 and 200 samples")
    ap.add_argument("--samples", type=int, default=None)
    ap.add_argument("--T", default=None, help="comma list of T (default 8,16,...,1024)")
    ap.add_argument("--max-memory", default="2GB")
    ap.add_argument("--json", default=None)
    ap.add_argument("--workloads", default="W1,W2")
    ap.add_argument("--process", action="store_true",
                    help="whole-process mode: the W1/W2 commands cold and warm vs NumPy")
    ap.add_argument("--audio", default=os.path.join(ROOT, "..", "shared", "data", "audio"),
                    help="folder with speech_22k.wav and flute_22k.wav (--process W2)")
    ap.add_argument("--repeat", type=int, default=1, help="--process: best of this many")
    ap.add_argument("--numpy-process", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--impl", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.T:
        Ts = [int(t) for t in args.T.split(",")]
    else:
        Ts = [8 << k for k in range(6 if args.quick else 8)]
    S = args.samples or (200 if args.quick else 1000)

    if args.worker:
        print(json.dumps(worker(args.worker, args.impl, Ts, S, args.max_memory)))
        return 0
    if args.numpy_process:
        numpy_process(args.numpy_process, args.audio)
        return 0
    workloads = args.workloads.split(",")
    if args.process:
        bad = sorted(set(workloads) - {"W1", "W2"})
        if bad:
            sys.stderr.write(f"bench.py: error: --process runs W1 and W2, not {','.join(bad)}\n")
            return 2
        results = run_process(args.audio, max(1, args.repeat), workloads)
        if args.json:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
        return 0
    unknown = sorted(set(workloads) - {"W1", "W2", "W3", "W4"})
    if unknown:
        sys.stderr.write(f"bench.py: error: --workloads: unknown {','.join(unknown)} "
                         "(choose from W1, W2, W3, W4)\n")
        return 2

    import jax

    info = {"date": time.strftime("%Y-%m-%d"), "machine": platform.machine(),
            "cpus": os.cpu_count(), "backend": jax.default_backend(),
            "device": str(jax.devices()[0].device_kind), "jax": jax.__version__,
            "T": Ts, "samples": S}
    print(f"# rfbjax benchmark {info['date']} backend={info['backend']} ({info['device']}), "
          f"{info['cpus']} CPUs, T={Ts[0]}..{Ts[-1]}, {S} filterbanks per T")
    results = {"info": info, "rows": []}
    header = f"{'workload':<18}{'rfbjax s':>10}{'numpy s':>10}{'speedup':>9}{'rng s':>9}{'x rng':>7}{'rfb MB':>8}{'np MB':>8}"
    if {"W1", "W2"} & set(workloads):
        print(header)  # W3 and W4 print their own tables
    for wl in workloads:
        if wl == "W4":  # attack throughput (not a default): scripts/bench_attack.py
            sys.path.insert(0, HERE)
            from bench_attack import run_w4

            results["rows"] += run_w4(args.quick)
            continue
        if wl == "W3":  # strided frame bounds (not a default): scripts/bench_strided.py
            sys.path.insert(0, HERE)
            from bench_strided import run_w3

            results["rows"] += run_w3(args.quick, args.samples, args.max_memory)
            continue
        r = _run_worker(wl, "rfbjax", Ts, S, args.max_memory)
        b = _run_worker(wl, "numpy", Ts, S, args.max_memory)
        g = _run_worker(wl, "rng", Ts, S, args.max_memory)
        name = {"W1": "W1 frame bounds", "W2": "W2 energy"}[wl]
        row = {"workload": name, "rfbjax_s": r["seconds"], "rfbjax_first_s": r["first_seconds"],
               "numpy_s": b["seconds"], "speedup": b["seconds"] / r["seconds"],
               "rng_s": g["seconds"], "ratio_to_rng": r["seconds"] / g["seconds"],
               "rfbjax_peak_mb": r["peak_mb"], "numpy_peak_mb": b["peak_mb"]}
        results["rows"].append(row)
        print(f"{name:<18}{row['rfbjax_s']:>10.3f}{row['numpy_s']:>10.3f}{row['speedup']:>8.1f}x"
              f"{row['rng_s']:>9.3f}{row['ratio_to_rng']:>7.2f}{row['rfbjax_peak_mb']:>8.0f}"
              f"{row['numpy_peak_mb']:>8.0f}")
        sys.stdout.flush()
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
