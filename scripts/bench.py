#!/usr/bin/env python
"""Benchmarks of rfbjax against the strongest peers, side by side in one run.

Peers (``scripts/peers/``): NumPy float32 + scipy.fft (threads = cores) and PyTorch float32,
each doing the same Monte Carlo work the way a competent user of the library writes it.
PyTorch runs under ``--torch-python`` (an interpreter with torch; skipped when it has none).

Workloads (W1, W2 by default; W3, W4 with --workloads):
  W1 frame bounds: N = 1024, J = 40, T = 8 … 1024, S filterbanks per T (default 2000).
  W2 energy:       speech_22k.wav and flute_22k.wav (``--audio``), J = 10, T = 8 … 1024,
                   S filterbanks per T (default 1000), circular boundary, Monte Carlo only.
  W3 strided frame bounds: J = 40, T = 1024, N = 4096, stride 8, S filterbanks (default 200);
                   the peers: one batched eigvalsh of the polyphase frame operator per chunk.
  W4 tightening:   J = 40, T = 1024 Gaussian taps to kappa <= 1.01, stride 1 and 4; rfbjax
                   ``tighten`` (its own reported time, second call in the process: warm) against
                   the NumPy alternating-projection tightener of scripts/peers/numpy_w4.py, whose
                   result rfbjax then certifies on l2(Z).
  (The older W3/W4 of scripts/bench_strided.py, scripts/bench_attack.py run on their own.)

In-process mode (default) times steady state (a first run compiles, later runs are timed),
each implementation in its own subprocess, the implementations interleaved ``--repeat`` times,
medians reported. The *floor* of W1 is the time of its draws at rfbjax's generator rate plus
its FFTs at scipy's rate (both measured here): what no implementation on this CPU can beat by
much without doing less work.

    python scripts/bench.py [--quick] [--repeat 3] [--torch-python PY] [--json out/bench.json]

Whole-process mode (``--process``) times the two commands a user types, start-up included:

  W1  rfbjax bounds --J 40 --T 8,16,...,1024 --N 1024 --samples 2000
  W2  rfbjax energy speech_22k.wav flute_22k.wav --J 10 --T 8,16,...,1024 --samples 1000

each *cold* (an empty compilation cache) and *warm* (the same command again), against the
peer scripts as whole processes, interleaved; plus JAX's import time and ``rfbjax --help``.

    python scripts/bench.py --process [--audio DIR] [--repeat 3] [--json out/bench-process.json]
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
ROOT = os.path.dirname(HERE)
PEERS = os.path.join(HERE, "peers")
W2_CLIPS = ("speech_22k.wav", "flute_22k.wav")
DEFAULT_AUDIO = os.path.join(ROOT, "..", "shared", "data", "audio")
SIZES = {"W1": (40, 1024), "W2": (10, None), "W3": (40, 4096)}
W3_T, W3_STRIDE = 1024, 8
W4_J, W4_T, W4_STRIDES, W4_TARGET = 40, 1024, (1, 4), 1.01


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _clips(audio_dir):
    return [os.path.join(os.path.abspath(audio_dir), c) for c in W2_CLIPS]


def worker(workload: str, impl: str, Ts, S: int, max_memory: str, audio_dir: str,
           repeat: int) -> dict:
    """rfbjax in-process (``impl="rfbjax"``) or one part of W1's floor (``rng``, ``fft``)."""
    if workload == "W4":
        return _tighten_worker(Ts, max_memory)
    import numpy as np

    J, N = SIZES[workload]
    if impl == "fft":   # W1's FFTs alone at scipy's rate, float32, threads = cores
        import scipy.fft

        w = np.random.default_rng(0).standard_normal((250, J, max(Ts)), dtype=np.float32)
        times = []
        for _ in range(repeat + 1):
            t0 = time.perf_counter()
            for T in Ts:
                for s0 in range(0, S, 250):
                    m = min(250, S - s0)
                    W = scipy.fft.rfft(w[:m, :, :T], n=N, axis=-1, workers=-1)
                    np.sum(W.real ** 2 + W.imag ** 2, axis=1)
            times.append(time.perf_counter() - t0)
        return {"seconds": float(np.median(times[1:])), "peak_mb": _peak_mb()}

    import jax
    import jax.numpy as jnp
    from rfbjax.engine import montecarlo as mc
    from rfbjax.engine.measure import sample_bounds, sample_energy
    from rfbjax.kernels import rng

    mem = mc.parse_memory(max_memory)
    if impl == "rng":   # the draws alone: W1's J·T taps per filterbank, per-sample keys
        def draw(T):
            key = mc.stream_key(0, "bench", J, T)
            return jax.jit(lambda idx: jax.vmap(
                lambda k: rng.normal(k, (J, T), jnp.float32))(mc.sample_keys(key, idx)))

        fs = {T: draw(T) for T in Ts}
        idx = jnp.arange(S, dtype=jnp.uint32)
        for T in Ts:
            fs[T](idx).block_until_ready()
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for T in Ts:
                fs[T](idx).block_until_ready()
            times.append(time.perf_counter() - t0)
        return {"seconds": float(np.median(times)), "peak_mb": _peak_mb()}

    if workload == "W2":
        from rfbjax.report.audio import read_audio

        xs = [read_audio(c)[0] for c in _clips(audio_dir)]

    def once():
        for T in Ts:
            if workload == "W1":
                sample_bounds(J, T, N, S, seed=0, max_memory=mem)
            elif workload == "W3":
                sample_bounds(J, T, N, S, seed=0, stride=W3_STRIDE, max_memory=mem)
            else:
                sample_energy(xs, J, T, S, seed=0, max_memory=mem)

    t0 = time.perf_counter()
    once()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    return {"seconds": float(np.median(times)), "first_seconds": first, "peak_mb": _peak_mb()}


def _tighten_worker(args, max_memory: str) -> dict:
    """W4, rfbjax: ``tighten`` twice in this process with the compile cache on (the first call
    is cold or warm as the cache is, the second reuses the loaded programs); with a peer's result
    (``args = [stride, path, "certify"]``), only its certified κ on l2(Z)."""
    import numpy as np
    from rfbjax.engine import compile_cache
    from rfbjax.engine import montecarlo as mc
    from rfbjax.remedies.tightening import certified_kappa, default_grid, tighten

    d, path = int(args[0]), args[1]
    w = np.load(path)
    N_fine = 4 * default_grid(w.shape[-1], d)     # tighten's own certification grid
    if len(args) > 2:                              # certify a peer's taps
        return {"kappa_certified": float(certified_kappa(w, N_fine, d))}
    mem = mc.parse_memory(max_memory)
    compile_cache.enable()
    cold = tighten(w, stride=d, target=W4_TARGET, max_memory=mem)
    warm = tighten(w, stride=d, target=W4_TARGET, max_memory=mem)
    assert np.array_equal(np.asarray(cold.weights), np.asarray(warm.weights))
    return {"seconds": warm.seconds, "first_seconds": cold.seconds, "peak_mb": _peak_mb(),
            "kappa_certified": float(warm.kappa_after), "distance": float(warm.distance),
            "steps": int(warm.steps)}


def run_w4(repeat: int, max_memory: str) -> list:
    """W4 rows: rfbjax tighten against the alternating-projection peer, interleaved, medians."""
    import shutil
    import tempfile

    import numpy as np

    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    me = [sys.executable, os.path.abspath(__file__), "--worker", "W4", "--max-memory", max_memory]
    rows = []
    print("# rfbjax: tighten's reported seconds: cold cache, warm cache (a new process), and the"
          " second call in one process")
    print(f"{'W4 tighten':<10}{'cold s':>7}{'warm s':>7}{'2nd s':>7}{'kappa':>8}{'dist':>7}"
          f"{'proj s':>8}{'its':>5}{'k grid':>8}{'k l2':>8}{'dist':>7}{'x proj':>8}")
    with tempfile.TemporaryDirectory(prefix="rfbjax-bench-w4-") as tmp:
        src = os.path.join(tmp, "w.npy")
        w = np.random.default_rng(0).standard_normal((W4_J, W4_T)) / np.sqrt(W4_J * W4_T)
        np.save(src, w.astype(np.float32))
        for d in W4_STRIDES:
            out = os.path.join(tmp, f"proj{d}.npy")
            peer = [sys.executable, os.path.join(PEERS, "numpy_w4.py"), src, "--stride", str(d),
                    "--target", str(W4_TARGET), "--save", out]
            got = {"rfbjax": [], "warm": [], "proj": []}
            for _ in range(repeat):
                cache = tempfile.mkdtemp(prefix="rfbjax-bench-cache-")
                try:
                    e = dict(env, RFBJAX_CACHE_DIR=cache)
                    got["rfbjax"].append(_json_run(me + ["--T", f"{d},{src}"], e))
                    got["warm"].append(_json_run(me + ["--T", f"{d},{src}"], e))
                finally:
                    shutil.rmtree(cache, ignore_errors=True)
                got["proj"].append(_json_run(peer, env))
            cert = _json_run(me + ["--T", f"{d},{out},certify"], env)["kappa_certified"]
            r, p = got["rfbjax"][-1], got["proj"][-1]
            med = {k: _median([x["seconds"] for x in v]) for k, v in got.items()}
            cold = _median([x["first_seconds"] for x in got["rfbjax"]])
            warm = _median([x["first_seconds"] for x in got["warm"]])
            row = {"workload": f"W4 tighten d={d}", "J": W4_J, "T": W4_T, "stride": d,
                   "target": W4_TARGET, "rfbjax_cold_s": cold, "rfbjax_warm_s": warm,
                   "rfbjax_second_call_s": med["rfbjax"],
                   "rfbjax_kappa_certified": r["kappa_certified"],
                   "rfbjax_distance": r["distance"], "rfbjax_steps": r["steps"],
                   "projection_s": med["proj"], "projection_iterations": p["iterations"],
                   "projection_kappa_grid": p["kappa_grid"],
                   "projection_kappa_certified": cert, "projection_distance": p["distance"],
                   "warm_speedup_vs_projection": med["proj"] / warm,
                   "runs": {"cold": [x["first_seconds"] for x in got["rfbjax"]],
                            "warm": [x["first_seconds"] for x in got["warm"]],
                            "second_call": [x["seconds"] for x in got["rfbjax"]],
                            "projection": [x["seconds"] for x in got["proj"]]}}
            rows.append(row)
            print(f"{'d=' + str(d):<10}{cold:>7.2f}{warm:>7.2f}{med['rfbjax']:>7.3f}"
                  f"{r['kappa_certified']:>8.4f}{r['distance']:>7.3f}{med['proj']:>8.3f}"
                  f"{p['iterations']:>5}{p['kappa_grid']:>8.4f}{cert:>8.4f}{p['distance']:>7.3f}"
                  f"{row['warm_speedup_vs_projection']:>7.2f}x", flush=True)
    return rows


def _peer_cmd(python: str, lib: str, workload: str, Ts, S: int, audio_dir: str) -> list:
    cmd = [python, os.path.join(PEERS, f"{lib}_{workload.lower()}.py"),
           "--T", ",".join(map(str, Ts)), "--samples", str(S)]
    return cmd + (_clips(audio_dir) if workload == "W2" else [])


def _has_torch(python: str | None) -> bool:
    if not python:
        return False
    proc = subprocess.run([python, "-c", "import torch"], capture_output=True)
    return proc.returncode == 0


def _json_run(cmd, env=None) -> dict:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"bench.py: {' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def run_inprocess(workloads, Ts, S, max_memory, audio_dir, repeat, torch_python) -> list:
    """Rows of the in-process table: rfbjax and each peer, interleaved, medians."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    torch_ok = _has_torch(torch_python)
    rows = []
    print(f"{'workload':<10}{'rfbjax s':>10}{'numpy32 s':>11}{'torch s':>9}{'x peer':>8}"
          f"{'floor s':>9}{'x floor':>8}{'rfb MB':>8}")
    all_Ts = Ts
    for wl in workloads:
        S_wl = S[wl]
        Ts = [W3_T] if wl == "W3" else all_Ts
        impls = {"rfbjax": [sys.executable, os.path.abspath(__file__), "--worker", wl,
                            "--impl", "rfbjax", "--T", ",".join(map(str, Ts)),
                            "--samples", str(S_wl), "--max-memory", max_memory,
                            "--audio", audio_dir, "--repeat", "1"],
                 "numpy32": _peer_cmd(sys.executable, "numpy", wl, Ts, S_wl, audio_dir)}
        if torch_ok:
            impls["torch"] = _peer_cmd(torch_python, "torch", wl, Ts, S_wl, audio_dir)
        got = {k: [] for k in impls}
        peak = {}
        for _ in range(repeat):            # interleaved: one of each, then again
            for k, cmd in impls.items():
                r = _json_run(cmd, env)
                got[k].append(r["seconds"])
                peak[k] = max(peak.get(k, 0.0), r["peak_mb"])
        med = {k: _median(v) for k, v in got.items()}
        peers = {k: v for k, v in med.items() if k != "rfbjax"}
        best = min(peers, key=peers.get)
        row = {"workload": wl, "T": Ts, "samples": S_wl, "rfbjax_s": med["rfbjax"],
               "numpy32_s": med["numpy32"], "torch_s": med.get("torch"),
               "strongest_peer": best, "speedup_vs_peer": peers[best] / med["rfbjax"],
               "runs": got, "peak_mb": peak}
        if wl == "W1":
            base = [sys.executable, os.path.abspath(__file__), "--worker", wl, "--T",
                    ",".join(map(str, Ts)), "--samples", str(S_wl), "--repeat", str(repeat)]
            row["rng_s"] = _json_run(base + ["--impl", "rng"], env)["seconds"]
            row["fft_s"] = _json_run(base + ["--impl", "fft"], env)["seconds"]
            row["floor_s"] = row["rng_s"] + row["fft_s"]
            row["ratio_to_floor"] = med["rfbjax"] / row["floor_s"]
        rows.append(row)
        torch_s = f"{med['torch']:>9.3f}" if "torch" in med else f"{'-':>9}"
        floor = (f"{row['floor_s']:>9.3f}{row['ratio_to_floor']:>7.2f}x" if "floor_s" in row
                 else f"{'-':>9}{'-':>8}")
        print(f"{wl:<10}{med['rfbjax']:>10.3f}{med['numpy32']:>11.3f}{torch_s}"
              f"{row['speedup_vs_peer']:>7.2f}x{floor}{peak['rfbjax']:>8.0f}", flush=True)
    if not torch_ok:
        print("# PyTorch: not measured (no interpreter with torch; pass --torch-python)")
    return rows


# ----------------------------------------------------------------------------- whole process
def _process_commands(audio_dir: str) -> dict:
    rfb = [sys.executable, "-m", "rfbjax"]
    return {"W1": rfb + ["bounds", "--J", "40", "--T", "8,16,...,1024", "--N", "1024",
                         "--samples", "2000", "--quiet"],
            "W2": rfb + ["energy", *_clips(audio_dir), "--J", "10", "--T", "8,16,...,1024",
                         "--samples", "1000", "--quiet"]}


def _timed(cmd, env) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"bench.py: {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return dt


def run_process(audio_dir: str, repeat: int, workloads, torch_python) -> dict:
    import shutil
    import tempfile

    missing = [c for c in _clips(audio_dir) if not os.path.exists(c)]
    if "W2" in workloads and missing:
        raise SystemExit(f"bench.py: error: --audio: {', '.join(missing)} not found")
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    cmds = _process_commands(audio_dir)
    torch_ok = _has_torch(torch_python)
    load = os.getloadavg()
    info = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": platform.machine(),
            "cpus": os.cpu_count(), "loadavg_before": load, "repeat": repeat,
            "commands": {k: " ".join(v[2:]) for k, v in cmds.items()}}
    print(f"# rfbjax whole-process benchmark {info['date']}, {info['cpus']} CPUs, "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; medians of {repeat}, interleaved")
    rows = []
    imp = [_timed([sys.executable, "-c", "import jax; jax.devices()"], env) for _ in range(repeat)]
    helps = [_timed([sys.executable, "-m", "rfbjax", "--help"], env) for _ in range(repeat)]
    rows.append({"workload": "import jax", "seconds": _median(imp)})
    rows.append({"workload": "rfbjax --help", "seconds": _median(helps)})
    print(f"{'import jax':<16}{_median(imp):>8.2f} s")
    print(f"{'rfbjax --help':<16}{_median(helps):>8.2f} s")
    print(f"{'workload':<10}{'numpy32 s':>10}{'torch s':>9}{'cold s':>8}{'warm s':>8}"
          f"{'cold x':>8}{'warm x':>8}")
    S = {"W1": 2000, "W2": 1000}
    for wl in workloads:
        peers = {"numpy32": _peer_cmd(sys.executable, "numpy", wl, PROCESS_TS, S[wl], audio_dir)}
        if torch_ok:
            peers["torch"] = _peer_cmd(torch_python, "torch", wl, PROCESS_TS, S[wl], audio_dir)
        got = {k: [] for k in [*peers, "cold", "warm"]}
        for _ in range(repeat):
            for k, cmd in peers.items():
                got[k].append(_timed(cmd, env))
            cache = tempfile.mkdtemp(prefix="rfbjax-bench-cache-")
            try:
                e = dict(env, RFBJAX_CACHE_DIR=cache)
                got["cold"].append(_timed(cmds[wl], e))
                got["warm"].append(_timed(cmds[wl], e))
            finally:
                shutil.rmtree(cache, ignore_errors=True)
        med = {k: _median(v) for k, v in got.items()}
        best = min(peers, key=lambda k: med[k])
        row = {"workload": wl, "numpy32_s": med["numpy32"], "torch_s": med.get("torch"),
               "cold_s": med["cold"], "warm_s": med["warm"], "strongest_peer": best,
               "cold_speedup": med[best] / med["cold"], "warm_speedup": med[best] / med["warm"],
               "runs": got}
        rows.append(row)
        torch_s = f"{med['torch']:>9.2f}" if "torch" in med else f"{'-':>9}"
        print(f"{wl:<10}{med['numpy32']:>10.2f}{torch_s}{med['cold']:>8.2f}{med['warm']:>8.2f}"
              f"{row['cold_speedup']:>7.2f}x{row['warm_speedup']:>7.2f}x", flush=True)
    if not torch_ok:
        print("# PyTorch: not measured (no interpreter with torch; pass --torch-python)")
    info["loadavg_after"] = os.getloadavg()
    return {"info": info, "rows": rows}


PROCESS_TS = [8 << k for k in range(8)]


# ----------------------------------------------------------------------------- driver
def _write(path, results):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(results, f, indent=2)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="T up to 256 and 200 samples")
    ap.add_argument("--samples", type=int, default=None)
    ap.add_argument("--T", default=None, help="comma list of T (default 8,16,...,1024)")
    ap.add_argument("--max-memory", default="2GB")
    ap.add_argument("--json", default=None)
    ap.add_argument("--workloads", default="W1,W2")
    ap.add_argument("--process", action="store_true",
                    help="whole-process mode: the W1/W2 commands cold and warm vs the peers")
    ap.add_argument("--audio", default=DEFAULT_AUDIO,
                    help="folder with speech_22k.wav and flute_22k.wav (W2)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, interleaved; medians")
    ap.add_argument("--torch-python", default=sys.executable,
                    help="an interpreter with torch for the PyTorch peers")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--impl", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.T and args.worker != "W4":
        Ts = [int(t) for t in args.T.split(",")]
    else:
        Ts = [8 << k for k in range(6 if args.quick else 8)]
    if args.worker:
        if args.worker == "W4":
            Ts = args.T.split(",")
        print(json.dumps(worker(args.worker, args.impl, Ts, args.samples, args.max_memory,
                                args.audio, max(1, args.repeat))))
        return 0
    workloads = args.workloads.split(",")
    if args.process:
        bad = sorted(set(workloads) - {"W1", "W2"})
        if bad:
            sys.stderr.write(f"bench.py: error: --process runs W1 and W2, not {','.join(bad)}\n")
            return 2
        results = run_process(args.audio, max(1, args.repeat), workloads, args.torch_python)
        if args.json:
            _write(args.json, results)
        return 0
    unknown = sorted(set(workloads) - {"W1", "W2", "W3", "W4"})
    if unknown:
        sys.stderr.write(f"bench.py: error: --workloads: unknown {','.join(unknown)} "
                         "(choose from W1, W2, W3, W4)\n")
        return 2
    S = {"W1": args.samples or (200 if args.quick else 2000),
         "W2": args.samples or (200 if args.quick else 1000),
         "W3": args.samples or (50 if args.quick else 200)}
    info = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": platform.machine(),
            "cpus": os.cpu_count(), "T": Ts, "samples": S, "repeat": args.repeat,
            "loadavg_before": os.getloadavg()}
    print(f"# rfbjax in-process benchmark {info['date']}, {info['cpus']} CPUs, "
          f"T={Ts[0]}..{Ts[-1]}, medians of {args.repeat}, interleaved")
    results = {"info": info, "rows": []}
    main_wl = [w for w in workloads if w in ("W1", "W2", "W3")]
    if main_wl:
        results["rows"] += run_inprocess(main_wl, Ts, S, args.max_memory, args.audio,
                                         max(1, args.repeat), args.torch_python)
    if "W4" in workloads:
        results["rows"] += run_w4(max(1, args.repeat), args.max_memory)
    info["loadavg_after"] = os.getloadavg()
    if args.json:
        _write(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
