"""``rfbjax train-study``: does conditioning at initialisation matter once the front end learns?

Every input is validated (configuration, memory estimate, output folder, audio files) before
anything is computed; outputs are written only after training has finished.
"""

from __future__ import annotations

import sys
import time

from ..errors import InputError
from . import common


def add_parser(sub):
    p = sub.add_parser(
        "train-study", help="training study: init x penalty x seed, distilling a target "
        "filterbank (optax Adam), kappa along training",
        description="Train a strided conv1d front end (optax Adam, full batch) to imitate a "
        "Parseval-tight and an auditory (gammatone) target filterbank on excerpts of the "
        "built-in signals (or --audio files), for every initialiser, penalty and seed; log the "
        "training and held-out loss and the exact frame bounds A, B, kappa along training. "
        "Writes DIR/study.json, DIR/final_weights.npz, DIR/report.md and DIR/figures/. Default: "
        "J=40, T=N=1024, strides 1 and 4, 5 seeds (well over half an hour on 2 CPU cores); "
        "--quick: J=20, T=N=256, stride 1, 3 seeds (a few minutes).")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (missing, empty, "
                   "or holding only an earlier train-study's outputs, which are replaced)")
    p.add_argument("--quick", action="store_true", help="small, fast configuration")
    p.add_argument("--audio", nargs="+", action="extend", metavar="FILE",
                   help="train and test on excerpts of these audio files (first 75%% of each "
                   "for training, the rest held out) instead of the built-in signals")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed: data, targets, draws "
                   "(default 0)")
    p.add_argument("--seeds", type=int, default=None, help="runs per init x penalty "
                   "(default 5, --quick 3)")
    p.add_argument("--steps", type=int, default=None, help="Adam steps per run")
    p.add_argument("--J", type=int, default=None, help="filters")
    p.add_argument("--T", type=int, default=None, help="taps per filter")
    p.add_argument("--N", type=int, default=None, help="signal length, an integer (also the "
                   "grid Z_N of kappa)")
    p.add_argument("--stride", default=None, metavar="D[,D...]",
                   help="strides to study (default 1,4; --quick 1)")
    p.add_argument("--target", default=None, metavar="NAME[,NAME]",
                   help="targets to imitate (default parseval,gammatone)")
    p.add_argument("--init", default=None, metavar="NAME[,NAME...]",
                   help="initialisers to compare (default: gaussian, pytorch, tight_fir when "
                   "available, and parseval: the arm trained through the Parseval "
                   "parametrisation, without a penalty)")
    p.add_argument("--penalty", default=None, metavar="NAME[,NAME...]",
                   help="penalties (default none,kappa,tightness,smooth_sailing)")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate "
                   "(default 0.06/sqrt(J T))")
    p.add_argument("--beta-kappa", type=float, default=None, help="beta of the kappa penalty")
    p.add_argument("--beta-tightness", type=float, default=None,
                   help="beta of the tightness penalty")
    p.add_argument("--beta-smooth-sailing", type=float, default=None,
                   help="beta of the smooth_sailing penalty (B - c)/c")
    p.add_argument("--pdf", action="store_true", help="also write the figures as PDF")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    p.set_defaults(func=run)


def _config(args):
    from ..studies.training import runner

    cfg = runner.QUICK if args.quick else runner.FULL
    kw = {"seed": int(args.seed)}
    for name in ("seeds", "steps", "J", "T", "N"):
        v = getattr(args, name)
        if v is not None:
            kw[name] = int(v)
    if args.stride is not None:
        kw["strides"] = tuple(common.parse_int_list(args.stride, "--stride"))
    for opt, key in (("target", "targets"), ("init", "inits"), ("penalty", "penalties")):
        v = getattr(args, opt)
        if v is not None:
            names = tuple(n for n in (t.strip() for t in v.split(",")) if n)
            if not names or len(set(names)) != len(names):
                raise InputError(f"--{opt}: need distinct names, got {v!r}")
            kw[key] = names
    if args.lr is not None:
        kw["lr"] = float(args.lr)
    beta = dict(cfg.beta)
    if args.beta_kappa is not None:
        beta["kappa"] = float(args.beta_kappa)
    if args.beta_tightness is not None:
        beta["tightness"] = float(args.beta_tightness)
    if args.beta_smooth_sailing is not None:
        beta["smooth_sailing"] = float(args.beta_smooth_sailing)
    kw["beta"] = beta
    cfg = cfg.replace(**kw)
    if args.steps is not None and cfg.steps % cfg.log_every:
        # log about 25-50 times whatever the number of steps
        kw["log_every"] = next(k for k in range(max(1, cfg.steps // 50), cfg.steps + 1)
                               if cfg.steps % k == 0)
        cfg = cfg.replace(**kw)
    return cfg


def run(args) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)     # the loss is a difference of O(1) terms
    from ..studies.training import outputs, runner

    t_start = time.perf_counter()
    cfg = _config(args)
    runner.validate_config(cfg)
    if args.audio is not None and not args.audio:
        raise InputError("--audio: no files given")
    replacing = outputs.check_out_dir(args.out)
    sets = runner.load_sets(cfg, args.audio)

    bar = common.progress_bar(runner.plan_steps(cfg), "train-study", args, unit="step")
    last = [0]

    def progress(done: int, label: str) -> None:
        if bar is not None:
            bar.set_postfix_str(label, refresh=False)
            bar.update(done - last[0])
        last[0] = done

    try:
        results = runner.run_study(cfg, sets, on_progress=progress)
    finally:
        if bar is not None:
            bar.close()
    paths = outputs.write_outputs(results, args.out, pdf=args.pdf)
    if not args.quiet:
        w = sys.stdout.write
        w(f"rfbjax train-study ({cfg.mode}, seed {cfg.seed}: {len(results['runs'])} runs of "
          f"{cfg.steps} steps) finished in {time.perf_counter() - t_start:.0f} s"
          + (" (earlier outputs replaced)" if replacing else "") + "\n")
        for s in outputs._findings(results)["settings"]:
            w(f"{s['target']}, stride {s['stride']}: " + " ".join(s["sentences"][:2]) + "\n")
        w(f"report:  {paths['report']}\nresults: {paths['json']}\n"
          f"weights: {paths['weights']}\n")
    return 0
