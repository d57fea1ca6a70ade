"""``rfbjax reproduce``: the paper's experiments end to end — figures, results.json, report.md."""

from __future__ import annotations

import os
import sys
import time

from ..errors import InputError
from . import common


def add_parser(sub):
    p = sub.add_parser(
        "reproduce", help="the paper's experiments end to end: figures, results.json, report.md",
        description="Run the six experiments of Haider et al. (2024) — energy deviation of "
        "synthetic signals and sounds, histograms, frame bounds, condition number, theory check "
        "— and write DIR/report.md, DIR/results.json and DIR/figures/. Quick mode (default) "
        "takes about a minute on 2 CPU cores; --full uses the paper's sizes.")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--full", action="store_true",
                   help="the paper's sizes: 1000 filterbanks per setting (default: quick, 200)")
    p.add_argument("--audio", nargs="+", action="extend", metavar="FILE",
                   help="sounds for experiments 2-3 instead of the built-in snare, vowel and "
                   "flute: audio files (the first second is used; PATH@start:length picks an "
                   "excerpt) or built-in names")
    common.add_seed(p)
    p.add_argument("--samples", type=int, default=None,
                   help="override the number of filterbanks per setting")
    p.add_argument("--T", default=None,
                   help="override the filter lengths (default 8:1024:log2)")
    p.add_argument("--pdf", action="store_true", help="also write every figure as PDF")
    common.add_max_memory(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    p.set_defaults(func=run)


def _check_memory(cfg, signals, budget: int) -> int:
    """Memory plans of the energy experiments (every signal, the exact law at the largest T)
    and of the frame bounds; returns the Monte Carlo's share of the budget (the smaller)."""
    from ..engine.resources import bounds_plan, energy_plan

    energy = energy_plan([s.x.shape[0] for s in signals], [cfg.J_energy], list(cfg.T),
                         samples=cfg.samples, dtype=cfg.dtype, exact_Ts=list(cfg.T), budget=budget)
    bounds = bounds_plan([(J, T, cfg.N) for J in cfg.J_bounds for T in cfg.T],
                         samples=cfg.samples, dtype=cfg.dtype, budget=budget)
    return min(common.check_plan(energy), common.check_plan(bounds))


def run(args) -> int:
    from ..engine import montecarlo as mc
    from ..studies import reproduce as rp

    t_start = time.perf_counter()
    cfg = (rp.FULL if args.full else rp.QUICK).replace(seed=int(args.seed))
    if args.samples is not None:
        cfg = cfg.replace(samples=int(args.samples))
    if args.T is not None:
        cfg = cfg.replace(T=tuple(common.parse_int_list(args.T, "--T")))
    budget = common.memory_budget(args.max_memory)
    rp.validate_config(cfg)
    # every input is checked before anything is computed or written
    rp.check_out_dir(args.out)
    signals = rp.load_signals(cfg, args.audio)
    max_memory = _check_memory(cfg, signals, budget)

    bar = common.progress_bar(rp.plan_steps(cfg), "reproduce", args, unit="step")

    def step(label: str) -> None:
        if bar is not None:
            bar.set_postfix_str(label, refresh=False)
            bar.update(1)

    try:
        results = rp.run_experiments(cfg, signals, on_step=step, max_memory=max_memory)
        paths = rp.write_outputs(results, signals, args.out, pdf=args.pdf, on_step=step)
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet:
        s = results["theory_check"]["summary"]
        out = sys.stdout
        out.write(f"rfbjax reproduce ({cfg.mode}, seed {cfg.seed}, {cfg.samples} filterbanks per "
                  f"setting) finished in {time.perf_counter() - t_start:.0f} s\n")
        out.write(f"theory check: max |z| {s['max_abs_z_mean']:.2f} (mean), "
                  f"{s['max_abs_z_var']:.2f} (variance) over {s['rows']} settings\n")
        out.write(f"report:  {paths['report']}\nresults: {paths['results']}\n"
                  f"figures: {os.path.dirname(next(iter(paths['figures'].values()))[0])}\n")
    return 0
