"""``rfbjax audit``: frame bounds of trained conv1d layers and where they sit among random ones."""

from __future__ import annotations

import sys

from . import common

#: what ``rfbjax audit`` writes into ``--out`` (a folder holding only these, with its audit.json,
#: may be reused)
OWN_FILES = ("audit.json", "audit.txt", "power_response.png", "power_response.pdf")


def add_parser(sub):
    p = sub.add_parser(
        "audit", help="frame bounds of trained conv1d weights (A, B, kappa, percentile)",
        description="Audit conv1d kernels: optimal frame bounds A, B and kappa = B/A of each "
        "layer (and of each input channel's filterbank), circular convolution on Z_N with stride "
        "d, where they are attained, the power response as a figure, and kappa against random "
        "Gaussian layers of the same shape. A file holding several tensors is audited layer by "
        "layer (every conv1d kernel: rank-3 tensors, and rank-4 ones with a singleton axis). "
        "Writes DIR/audit.json, DIR/audit.txt and DIR/power_response.png.")
    p.add_argument("weights", metavar="WEIGHTS",
                   help=".npy, .npz, .safetensors, a PyTorch checkpoint or TorchScript archive "
                   "(.pt, .pth, .ckpt, .bin; read without torch, never executed), Keras (.keras, "
                   ".h5; needs h5py) or ONNX (.onnx; needs onnx)")
    p.add_argument("--key", default=None, metavar="NAME",
                   help="audit only this tensor (a 2-D (J, T) array is accepted too)")
    p.add_argument("--stride", default=None, metavar="D|NAME=D,...",
                   help="stride of every layer, or per layer as NAME=D,NAME=D (NAME: the tensor "
                   "key, the key without .weight, or a unique dotted suffix, e.g. conv1 for "
                   "frontend.conv1.weight; others: the file's stride (ONNX, Keras), else 1)")
    p.add_argument("--groups", default=None, metavar="G|NAME=G,...",
                   help="groups of a grouped conv, like --stride (weight (J, C/G, T); "
                   "block-diagonal analysis)")
    p.add_argument("--dilation", default=None, metavar="DELTA|NAME=DELTA,...",
                   help="dilation of a layer, like --stride (the kernel with DELTA-1 zeros "
                   "between taps)")
    p.add_argument("--transposed", default=None, metavar="NAME,...",
                   help="these layers are transposed convolutions (ConvTranspose1d, weight "
                   "(C_in, C_out/groups, T)): audited as the adjoint of the strided conv")
    p.add_argument("--infer-groups", action="store_true",
                   help="apply the groups a chain of shapes suggests (previous layer's outputs / "
                   "this layer's input channels); without it they are only noted")
    p.add_argument("--N", default=None, metavar="N",
                   help="the grid: an integer N (circular convolution on Z_N) or kT such as 8T "
                   "(a multiple of each layer's T), a multiple of every stride (default per "
                   "layer: a multiple of D at least max(1024, 8T)); inf is not available here")
    p.add_argument("--layout", choices=["torch", "keras"], default=None,
                   help="torch: (out, in, taps); keras: (taps, in, out) (default: keras for Keras "
                   "files, torch otherwise)")
    p.add_argument("--draws", type=int, default=1000,
                   help="random Gaussian draws per layer for the comparison (default 1000, fewer "
                   "for large layers, stated in the report; 0: none)")
    common.add_seed(p, help="seed of the random draws, an integer in [0, 2^64) (default 0)")
    p.add_argument("--cascade", default=None, metavar="NAME,NAME,...",
                   help="also the frame bounds of these layers stacked, in the order data flows "
                   "(with their structure): the linear composite, nonlinearities ignored, beside "
                   "the product of the layers' sqrt(B)")
    p.add_argument("--fs", type=float, default=None, metavar="HZ",
                   help="sampling rate: frequencies in Hz instead of cycles/sample")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--pdf", action="store_true", help="also write the figure as PDF")
    p.add_argument("--quiet", action="store_true", help="no table on stdout, no progress bar")
    common.add_max_memory(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import math

    from ..models.audits import audit
    from ..errors import InputError
    from ..report.audit_report import format_layer, format_model, write_audit
    from ..models.weights import chain_layout_warning, keras_layout_warning

    if args.fs is not None and not (math.isfinite(args.fs) and args.fs > 0):
        raise InputError(f"--fs: must be a positive number of Hz, got {args.fs}")
    from ..base.text import printable
    from ..report.outputs import check_out_dir, remove_stale

    check_out_dir(args.out, "--out", command="audit", own=OWN_FILES, marker="audit.json")
    budget = common.memory_budget(args.max_memory)
    cascade = [n for n in args.cascade.split(",") if n] if args.cascade is not None else None
    if cascade is not None and not cascade:
        raise InputError("--cascade: name at least one layer, e.g. conv1,conv2")
    bar = None

    def on_layer(name, done, total):
        nonlocal bar
        if bar is None:
            bar = common.progress_bar(total, "audit", args, unit="layer")
            if bar is None:
                return
        bar.update(done - bar.n)
        if name is not None:
            bar.set_postfix_str(name, refresh=True)

    try:
        model = audit(args.weights, key=args.key, stride=args.stride, N=args.N,
                      layout=args.layout, draws=args.draws, seed=args.seed, cascade=cascade,
                      max_memory=budget, groups=args.groups, dilation=args.dilation,
                      transposed=args.transposed, infer_groups=args.infer_groups,
                      on_layer=on_layer)
    finally:
        if bar is not None:
            bar.close()
    warnings = []
    if model.source["layout"] == "torch" and args.layout is None:
        for lay in model.layers:
            w = keras_layout_warning(tuple(lay.weights.shape), lay.name or "")
            if w:
                warnings.append(w)
        from ..models.weights import Kernel

        chain = chain_layout_warning([Kernel(lay.name, lay.weights, (), "", "torch")
                                      for lay in model.layers])
        if chain:
            warnings.append(chain)
    single = len(model.layers) == 1 and not model.cascades
    result = model.layers[0] if single else model
    paths = write_audit(result, args.out, pdf=args.pdf, fs=args.fs)
    remove_stale(args.out, OWN_FILES, [p for p in paths.values() if p] + (
                 [paths["figure"][:-4] + ".pdf"] if args.pdf else []), command="audit")
    for w in warnings:
        sys.stderr.write(f"rfbjax audit: {printable(w)}\n")
    if not args.quiet:
        sys.stdout.write(format_layer(result, fs=args.fs) if single
                         else format_model(result, fs=args.fs))
        sys.stdout.write(f"wrote {paths['json']}, {paths['table']}, {paths['figure']}\n")
    return 0
