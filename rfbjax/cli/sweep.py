"""``rfbjax sweep``: resumable, sharded Monte Carlo of frame bounds over a (J, T) grid."""

from __future__ import annotations

import os
import sys

from ..errors import InputError
from . import common


def add_parser(sub):
    p = sub.add_parser("sweep", help="frame bounds over a (J, T) grid: resumable, sharded",
                       description="Monte Carlo of frame bounds for every (J, T) cell; raw "
                       "samples and summaries are stored per cell, atomically. Re-running the "
                       "same command resumes; a directory with another configuration is refused.")
    p.add_argument("--J", default="4:256:log2", help="numbers of filters (default 4:256:log2)")
    p.add_argument("--T", default="8:4096:log2", help="filter lengths (default 8:4096:log2)")
    common.add_grid(p, "4T")
    common.add_layer_options(p, stride_note="D must divide every N; not with --N inf")
    p.add_argument("--out", required=True, metavar="DIR", help="sweep directory")
    p.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="multi-process run: address of process 0 (jax.distributed)")
    p.add_argument("--num-processes", type=int, default=None)
    p.add_argument("--process-id", type=int, default=None)
    p.add_argument("--distributed", action="store_true",
                   help="call jax.distributed.initialize() from the standard environment "
                   "(cluster schedulers, TPU pods)")
    common.add_common(p, samples=2000)
    p.set_defaults(func=run)


def init_distributed(args) -> None:
    """jax.distributed.initialize from flags or the environment (CPU uses gloo collectives)."""
    if not (args.coordinator or args.distributed):
        return
    import jax

    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except Exception:  # noqa: BLE001 - option absent on some builds; GPUs/TPUs do not need it
        pass
    try:
        if args.coordinator:
            jax.distributed.initialize(coordinator_address=args.coordinator,
                                       num_processes=args.num_processes,
                                       process_id=args.process_id)
        else:
            jax.distributed.initialize()
    except (ValueError, RuntimeError, TypeError) as exc:
        what = "--coordinator" if args.coordinator else "--distributed"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        hint = "" if args.coordinator else (" (no cluster environment found: give --coordinator, "
                                            "--num-processes and --process-id)")
        raise InputError(f"{what}: cannot set up the cluster{hint}: {first}") from None


def check_cluster_args(args) -> None:
    """--coordinator / --num-processes / --process-id, before anything runs."""
    given = [n for n, v in (("--num-processes", args.num_processes),
                            ("--process-id", args.process_id)) if v is not None]
    if args.coordinator is None:
        if given:
            raise InputError(f"{given[0]}: only with --coordinator HOST:PORT")
        return
    if args.distributed:
        raise InputError("--distributed: give either --distributed or --coordinator, not both")
    host, sep, port = args.coordinator.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--coordinator: expected HOST:PORT, got {args.coordinator!r}")
    if args.num_processes is None or args.process_id is None:
        raise InputError("--coordinator: also give --num-processes and --process-id")
    if args.num_processes < 1:
        raise InputError(f"--num-processes: must be >= 1, got {args.num_processes}")
    if not 0 <= args.process_id < args.num_processes:
        raise InputError(f"--process-id: must be in [0, {args.num_processes - 1}] for "
                         f"--num-processes {args.num_processes}, got {args.process_id}")


def run(args) -> int:
    common.setup_dtype(args)
    common.check_common(args)
    Js = common.parse_int_list(args.J, "--J")
    Ts = common.parse_int_list(args.T, "--T")
    from ..studies.sweep import SweepConfig, run_sweep, validate

    from ..kernels.initializers import effective_rescale

    from ..studies.sweep import sweep_grid

    grid = common.grid_arg(args)
    N, boundary = sweep_grid("inf" if grid.linear else args.N)
    if args.boundary == "linear":   # the 0.2 spelling keeps its 0.2 configuration (resumes)
        N = str(args.N)
    cfg = SweepConfig(J=tuple(Js), T=tuple(Ts), samples=args.samples, N=N,
                      boundary=boundary, seed=args.seed, dtype=args.dtype, init=args.init,
                      stride=args.stride, rescale=effective_rescale(args.init, args.rescale))
    validate(cfg)
    check_cluster_args(args)
    from ..studies.sweep import pending_cells, prepare_dir, resolve_N
    from .bounds import check_memory

    prepare_dir(args.out, cfg, write=False)   # a foreign folder or another sweep: refused now
    n_pending = len(pending_cells(args.out, cfg))
    init_distributed(args)                    # before anything initialises the JAX backend
    max_memory = check_memory(args, [(J, T, resolve_N(cfg.N, T, cfg.boundary))
                                     for J, T in cfg.cells()])
    import jax

    try:
        rows = run_sweep(cfg, args.out, max_memory=max_memory,
                         progress=common.show_progress(args))
    except jax.errors.JaxRuntimeError as exc:
        if jax.process_count() == 1:
            raise
        # a process that died or fell behind: one line, and the sweep can be resumed
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        sys.stderr.write(f"rfbjax sweep: error: process {jax.process_index()} of "
                         f"{jax.process_count()}: a collective between the processes failed "
                         f"({first[:300]}); the finished cells are kept: run the same commands "
                         "again on every process to resume\n")
        return 1
    if jax.process_index() != 0:
        return 0
    if args.json:
        common.write_json(args.json, {"command": "sweep", "config": cfg.to_json(), "rows": rows})
    if not args.quiet:
        cols = [("J", "J", 4), ("T", "T", 5), ("N", "N", 6), ("mean_A", "mean_A", 8),
                ("mean_B", "mean_B", 8), ("mean_kappa", "mean_kappa", 10),
                ("se_kappa", "se_kappa", 9), ("q05_kappa", "q05_kappa", 9),
                ("q95_kappa", "q95_kappa", 9)]
        shown, inf_notes = common.kappa_table(rows)
        common.print_table(shown, cols)
        for line in inf_notes:
            sys.stdout.write(line + "\n")
        where = os.path.abspath(args.out)
        if n_pending == 0:
            sys.stdout.write(f"sweep: nothing left to compute: all {len(rows)} cells were already "
                             f"in {where}\n")
        else:
            sys.stdout.write(f"sweep: {len(rows)} cells in {where} ({n_pending} computed now, "
                             f"{len(rows) - n_pending} already there)\n")
    return 0
