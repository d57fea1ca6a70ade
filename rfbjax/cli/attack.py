"""``rfbjax attack``: gradient search for the inputs that destabilise random filterbanks.

Everything the user gives is validated (and the weights, the signal near which to search and
the constraints are loaded) before the search runs; ``--out`` is created only once the search
has succeeded, so bad input leaves nothing behind.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np

from ..errors import InputError
from ..report.outputs import check_out_dir, remove_stale
from . import common

DEFAULT_J, DEFAULT_T, DEFAULT_N, DEFAULT_RATE = 10, 64, 1024, 22050.0
#: what ``attack --out DIR`` writes; a folder holding only these (with our summary.json) is
#: reused and its files replaced
OWN_FILES = ("signal.npy", "history.npy", "filterbank.npy", "signal.wav", "attack.png",
             "attack.pdf", "summary.json")


def add_parser(sub):
    p = sub.add_parser(
        "attack", help="adversarial input search (optax): signals that destabilise filterbanks",
        description="Gradient search, many restarts at once in one compiled loop, for the input "
        "x that maximises (or minimises) an objective: 'variance' = V[||Phi x||^2]/||x||^4 over "
        "Gaussian filterbanks (docs/theory.md formula (3), exact), 'fixed' = ||Phi x||^2/||x||^2 for one "
        "filterbank (certified by its frame bounds A, B), 'population' = mean over K sampled "
        "filterbanks of (||Phi_k x||^2/||x||^2 - 1)^2. Writes the best signal (.npy, .wav), a "
        "figure and summary.json to --out.")
    p.add_argument("--objective", choices=["variance", "fixed", "population"], default="variance")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--maximize", dest="maximize", action="store_true", default=True,
                   help="maximise the objective (default)")
    g.add_argument("--minimize", dest="maximize", action="store_false",
                   help="minimise it (fixed: reaches the lower frame bound A)")
    p.add_argument("--J", type=int, default=None,
                   help=f"number of filters (default {DEFAULT_J}, or from --weights)")
    p.add_argument("--T", type=int, default=None,
                   help=f"filter length (default {DEFAULT_T}, or from --weights)")
    p.add_argument("--N", type=int, default=None,
                   help=f"signal length, an integer: the search runs on Z_N (default {DEFAULT_N}, "
                   "or the length of a --near file)")
    p.add_argument("--weights", metavar="PATH", default=None,
                   help="fixed: a .npy of shape (J, T) or (J, 1, T); population: (K, J, T) or "
                   "(K, J, 1, T). Default: Gaussian filterbanks drawn from --seed")
    p.add_argument("--index", type=int, default=0,
                   help="fixed without --weights: which sample of the seed's stream (default 0, "
                   "the filterbank 'rfbjax bounds' draws first)")
    p.add_argument("--K", type=int, default=1000,
                   help="population: number of filterbanks (default 1000)")
    p.add_argument("--restarts", type=int, default=64, help="random restarts, run at once "
                   "(default 64)")
    p.add_argument("--steps", type=int, default=500, help="maximum optimiser steps (default 500)")
    p.add_argument("--optimizer", default="adam",
                   help="any optax optimiser taking a learning rate (default adam)")
    p.add_argument("--lr", type=float, default=0.1,
                   help="learning rate, relative to the signal's RMS (default 0.1)")
    p.add_argument("--schedule", default="constant",
                   help="constant (default), cosine, exponential or warmup_cosine")
    p.add_argument("--tol", type=float, default=1e-6,
                   help="early stop: relative improvement a restart must make ... (default 1e-6)")
    p.add_argument("--patience", type=int, default=50,
                   help="... within this many steps, or it stops (default 50)")
    p.add_argument("--band", default=None, metavar="LO:HI[,LO:HI...]",
                   help="allowed frequency bands, cycles/sample in [0, 0.5], e.g. 0.01:0.2")
    p.add_argument("--no-dc", action="store_true", help="forbid the DC bin")
    p.add_argument("--no-nyquist", action="store_true", help="forbid the Nyquist bin")
    p.add_argument("--support", default=None, metavar="START:STOP",
                   help="time support: samples START..STOP-1 only")
    p.add_argument("--near", default=None, metavar="SIGNAL",
                   help="search x = x0 + delta near this signal (built-in or audio file "
                   "PATH[@start:length]); --band/--support then constrain delta")
    p.add_argument("--eps", type=float, default=None,
                   help="with --near: ||delta|| <= eps ||x0|| (default 0.1)")
    p.add_argument("--sample-rate", type=float, default=None,
                   help="Hz, for the sound-like built-ins and the WAV (default: the --near "
                   "file's rate, else 22050)")
    p.add_argument("--wav-seconds", type=float, default=1.0,
                   help="the WAV repeats the N-periodic signal to last at least this long "
                   "(default 1; 0 writes one period)")
    common.add_seed(p, "PRNG seed: filterbanks and restarts, an integer in [0, 2^64) (default 0)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--pdf", action="store_true", help="also write the figure as PDF")
    p.add_argument("--quiet", action="store_true", help="print nothing, no progress bar")
    common.add_max_memory(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (new, empty, "
                   "or an earlier attack's, whose files are replaced)")
    p.set_defaults(func=run)


def _positive_int(value, name, minimum=1):
    if value < minimum:
        raise InputError(f"{name}: must be >= {minimum}, got {value}")


def _file_rate(spec: str) -> float | None:
    """The sample rate of the audio file a signal spec names (None for built-ins)."""
    from ..report.audio import audio_info
    from ..report.signals import is_builtin

    if is_builtin(spec):
        return None
    path = spec if os.path.exists(spec) else spec.rpartition("@")[0]
    if not path or not os.path.isfile(path):
        return None  # parse_signal_spec says what is wrong with the spec
    return float(audio_info(path)[1])


def _check_args(args):
    _positive_int(args.restarts, "--restarts")
    _positive_int(args.steps, "--steps")
    _positive_int(args.patience, "--patience")
    _positive_int(args.K, "--K")
    _positive_int(args.index, "--index", 0)
    for name, v in (("--J", args.J), ("--T", args.T)):
        if v is not None:
            _positive_int(v, name)
    if args.N is not None:
        _positive_int(args.N, "--N", 2)
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise InputError(f"--lr: must be > 0, got {args.lr:g}")
    if not (math.isfinite(args.tol) and args.tol >= 0):
        raise InputError(f"--tol: must be >= 0, got {args.tol:g}")
    if args.eps is not None:
        if not (math.isfinite(args.eps) and args.eps > 0):
            raise InputError(f"--eps: must be > 0, got {args.eps:g}")
        if args.near is None:
            raise InputError("--eps: only meaningful with --near")
    if args.sample_rate is not None and not (math.isfinite(args.sample_rate)
                                             and args.sample_rate > 0):
        raise InputError(f"--sample-rate: must be > 0 Hz, got {args.sample_rate:g}")
    if not (math.isfinite(args.wav_seconds) and 0 <= args.wav_seconds <= 600):
        raise InputError(f"--wav-seconds: must be in [0, 600], got {args.wav_seconds:g}")
    if args.weights is not None and args.objective == "variance":
        raise InputError("--weights: only for --objective fixed or population")
    args.out_state = check_out_dir(args.out, "--out", command="attack", own=OWN_FILES,
                                   marker="summary.json")


def _check_memory(args) -> None:
    """The search's memory plan from the arguments (weights files: their size on disk)."""
    from ..engine.resources import attack_plan
    from ..report.signals import spec_length_bound

    N = spec_length_bound(args.near, args.N) if args.near is not None else (args.N or DEFAULT_N)
    J, T = args.J or DEFAULT_J, args.T or DEFAULT_T
    K = args.K if args.objective == "population" else 1
    if args.weights is not None and os.path.isfile(args.weights):
        K = max(K, os.path.getsize(args.weights) // 4 // max(1, J * T))
    common.check_plan(attack_plan(N=N, J=J, T=T, K=K, restarts=args.restarts, steps=args.steps,
                                  budget=common.memory_budget(args.max_memory)))


def _shape_from_weights(args, J, T):
    for name, given, got in (("--J", args.J, J), ("--T", args.T, T)):
        if given is not None and given != got:
            raise InputError(f"{name}: {given} contradicts --weights '{args.weights}' "
                             f"({name[2:]} = {got})")
    return J, T


def _build(args):
    """Validated inputs: (objective, constraints, info dict, extra plot data)."""
    import jax.numpy as jnp

    from ..studies import attack as at
    from ..report.signals import parse_signal_spec

    dtype = jnp.float64 if args.dtype == "float64" else jnp.float32
    info: dict = {}

    # signal near which to search (fixes N for files)
    rate = args.sample_rate
    x0 = None
    if args.near is not None:
        file_rate = _file_rate(args.near)
        if rate is None:
            rate = file_rate
        label, x0 = parse_signal_spec(args.near, args.N, rate or DEFAULT_RATE)
        info["near"] = {"signal": label, "eps": args.eps if args.eps is not None else 0.1}
    rate = rate or DEFAULT_RATE
    N = x0.size if x0 is not None else (args.N or DEFAULT_N)

    # objective
    extra: dict = {}
    if args.objective == "variance":
        J, T = args.J or DEFAULT_J, args.T or DEFAULT_T
        obj = at.variance_objective(J, T)
        info["filterbanks"] = {"distribution": "gaussian, sigma^2 = 1/(JT)"}
    elif args.objective == "fixed":
        if args.weights is not None:
            w = at.load_weights(args.weights)
            J, T = _shape_from_weights(args, *w.shape)
            info["filterbanks"] = {"source": os.path.abspath(args.weights)}
        else:
            J, T = args.J or DEFAULT_J, args.T or DEFAULT_T
            w = np.asarray(at.sample_filterbanks(args.seed, J, T, 1, start=args.index,
                                                 dtype=dtype)[0], dtype=np.float64)
            info["filterbanks"] = {"source": "gaussian", "seed": args.seed, "index": args.index}
        obj = at.fixed_objective(w, dtype=dtype)
        fs = at.frame_summary(w, N, dtype)
        extra["power"] = fs.pop("P")
        info["filterbanks"].update(fs)
        extra["weights"] = w
    else:
        if args.weights is not None:
            ws = at.load_weights(args.weights, population=True)
            J, T = _shape_from_weights(args, *ws.shape[1:])
            from ..kernels.autocorr import filterbank_autocorr

            rhos = filterbank_autocorr(jnp.asarray(ws, dtype=dtype))
            info["filterbanks"] = {"source": os.path.abspath(args.weights), "K": ws.shape[0]}
        else:
            J, T = args.J or DEFAULT_J, args.T or DEFAULT_T
            rhos = at.sample_population(args.seed, J, T, args.K, dtype=dtype)
            info["filterbanks"] = {"source": "gaussian", "seed": args.seed, "K": args.K}
        obj = at.population_objective(rhos, J)

    # constraints
    allowed = None
    if args.band is not None or args.no_dc or args.no_nyquist:
        bands = at.parse_bands(args.band) if args.band is not None else None
        allowed = at.band_mask(N, bands, no_dc=args.no_dc, no_nyquist=args.no_nyquist)
    support = at.parse_support(args.support) if args.support is not None else None
    eps = (args.eps if args.eps is not None else 0.1) if x0 is not None else None
    c = at.make_constraints(N, allowed=allowed, support=support, x0=x0, eps=eps)
    # the optimiser settings, so that a bad name fails before anything runs
    at.make_optimizer(args.optimizer, args.lr, args.schedule, args.steps)
    return obj, c, rate, dtype, info, extra


def run(args) -> int:
    common.setup_dtype(args)
    _check_args(args)
    _check_memory(args)
    obj, c, rate, dtype, info, extra = _build(args)

    from ..studies import attack as at

    from ..studies.attack.driver import PHASES

    bar = common.progress_bar(len(PHASES), "attack", args, unit="phase")

    def on_phase(label):
        if bar is not None:
            if label != PHASES[0]:
                bar.update(1)
            bar.set_postfix_str(f"{label}: {args.restarts} restarts x <= {args.steps} steps",
                                refresh=True)

    try:
        res = at.attack(obj, c, maximize=args.maximize, restarts=args.restarts,
                        steps=args.steps, optimizer=args.optimizer, lr=args.lr,
                        schedule=args.schedule, tol=args.tol, patience=args.patience,
                        seed=args.seed, dtype=dtype, on_phase=on_phase)
        if bar is not None:
            bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    baselines = at.builtin_values(obj, c, sample_rate=rate)
    summary = _summary(args, obj, c, res, rate, info, baselines)

    # output: only now does --out come into existence
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out: cannot create '{args.out}' ({exc.strerror or exc})") from None
    written = _write_outputs(args, obj, c, res, rate, summary, extra)
    remove_stale(args.out, OWN_FILES, written, command="attack")   # an earlier run's files this run did not write
    if not args.quiet:
        _print(summary, args.out)
    return 0


def _summary(args, obj, c, res, rate, info, baselines) -> dict:
    from ..studies import attack as at

    cert = res.certificate
    steps = np.asarray(res.steps)
    s = {
        "command": "attack",
        "config": {k: v for k, v in vars(args).items() if k != "func"},
        "objective": obj.name,
        "maximize": res.maximize,
        "J": obj.J, "T": obj.T, "N": c.N, "K": obj.K,
        "value": res.value,
        "certificate": cert,
        "ratio_to_certificate": res.ratio,
        "known": {"variance_sup_2_over_J": 2.0 / obj.J,
                  "variance_inf_2_over_JT": 2.0 / (obj.J * obj.T)},
        "restarts": res.restarts,
        "restart_values": res.values,
        "best_restart": res.best_restart,
        "steps": {"max": args.steps, "loop_iterations": res.iterations,
                  "best_restart": int(steps[res.best_restart]),
                  "mean_per_restart": float(steps.mean())},
        "seconds": {"compile": res.compile_s, "search": res.run_s},
        "restart_steps_per_second": res.restart_steps_per_s,
        "spectral_peak": at.spectral_peak(res.x, rate),
        "constraints": c.describe(),
        "sample_rate": rate,
    }
    s.update(info)
    if res.x0_value is not None:
        s["near"].update({"x0_value": res.x0_value, "delta_norm_over_x0": res.delta_norm,
                          "gain_over_x0": (res.value / res.x0_value if res.x0_value else None)})
    if baselines is not None:
        feas = [b for b in baselines if b["value"] is not None]
        s["builtin_signals"] = baselines
        if feas:
            pick = max if res.maximize else min
            best = pick(feas, key=lambda b: b["value"])
            s["best_builtin"] = {"signal": best["signal"], "value": best["value"],
                                 "search_over_builtin": res.value / best["value"]
                                 if best["value"] else None}
    return s


def _write_outputs(args, obj, c, res, rate, summary, extra):
    import io

    from ..report.audio import write_wav
    from ..report.plots.attack import attack_figure
    from ..base.files import atomic_write_bytes

    def save_npy(name, arr):
        buf = io.BytesIO()
        np.save(buf, np.asarray(arr))
        atomic_write_bytes(os.path.join(args.out, name), buf.getvalue())

    save_npy("signal.npy", res.x)
    save_npy("history.npy", res.history)
    files = {"signal": "signal.npy", "history": "history.npy"}
    if "weights" in extra:
        save_npy("filterbank.npy", extra["weights"])
        files["filterbank"] = "filterbank.npy"
    reps = max(1, math.ceil(args.wav_seconds * rate / c.N))
    write_wav(os.path.join(args.out, "signal.wav"), np.tile(res.x, reps), rate)
    files["wav"] = {"file": "signal.wav", "periods": reps, "sample_rate": int(round(rate))}
    title = (f"{'maximising' if res.maximize else 'minimising'} {obj.name}, J = {obj.J}, "
             f"T = {obj.T}, N = {c.N}: {res.value:.5g}"
             + (f" = {res.ratio:.5f} × {res.certificate['kind'].replace('_', ' ')}"
                if res.ratio is not None else ""))
    paths = attack_figure(res, args.out, "attack", allowed=c.allowed, x0=c.x0,
                          power=extra.get("power"), T=obj.T, title=title, pdf=args.pdf)
    files["figure"] = [os.path.basename(p) for p in paths]
    summary["files"] = files
    common.write_json(os.path.join(args.out, "summary.json"), summary)
    return [os.path.join(args.out, f) for f in ("signal.npy", "history.npy", "signal.wav",
                                                "summary.json")] + list(paths) + (
        [os.path.join(args.out, "filterbank.npy")] if "weights" in extra else [])


def _print(s, out):
    w = sys.stdout.write
    w(f"objective {s['objective']} ({'max' if s['maximize'] else 'min'}imised), J={s['J']} "
      f"T={s['T']} N={s['N']}: {s['value']:.6g}\n")
    cert = s["certificate"]
    if cert is not None:
        ratio = s["ratio_to_certificate"]
        w(f"  certificate ({cert['kind']}): {cert['value']:.6g}  [{cert['note']}]"
          + (f"  ratio {ratio:.6f}" if ratio is not None else "") + "\n")
    pk = s["spectral_peak"]
    w(f"  spectral peak: bin {pk['bin']} ({pk['cycles_per_sample']:.5f} cycles/sample"
      + (f", {pk['hz']:.1f} Hz" if "hz" in pk else "")
      + f"), {100 * pk['energy_share_pm2_bins']:.1f}% of the energy within 2 bins\n")
    if "best_builtin" in s:
        b = s["best_builtin"]
        w(f"  best built-in signal under the same constraints: {b['signal']} = {b['value']:.6g}\n")
    if "near" in s and "x0_value" in s["near"]:
        n = s["near"]
        w(f"  near {n['signal']}: x0 gives {n['x0_value']:.6g}, "
          f"||delta||/||x0|| = {n['delta_norm_over_x0']:.4f}\n")
    w(f"  {s['restarts']} restarts x {s['steps']['loop_iterations']} steps in "
      f"{s['seconds']['search']:.3f} s (+ {s['seconds']['compile']:.2f} s compile): "
      f"{s['restart_steps_per_second']:.3g} restart-steps/s\n")
    w(f"wrote {os.path.abspath(out)}\n")
