"""``rfbjax audit``: frame bounds of a trained conv1d layer and where it sits among random ones."""

from __future__ import annotations

import sys

from . import common


def add_parser(sub):
    p = sub.add_parser(
        "audit", help="frame bounds of trained conv1d weights (A, B, kappa, percentile)",
        description="Audit a conv1d kernel: optimal frame bounds A, B and kappa = B/A of each "
        "input channel's filterbank and of the whole layer (circular convolution on Z_N, "
        "stride d), the frequencies where they are attained, the power response as a figure, "
        "and the percentile of kappa among random Gaussian draws of the same shape. Writes "
        "DIR/audit.json, DIR/audit.txt and DIR/power_response.png.")
    p.add_argument("weights", metavar="WEIGHTS",
                   help=".npy, .npz or .safetensors file holding a kernel of shape (J, 1, T), "
                   "(J, T) or (J, C, T) (PyTorch layout)")
    p.add_argument("--key", default=None, metavar="NAME",
                   help="array name in a .npz / tensor name in a .safetensors file "
                   "(needed when it holds several)")
    p.add_argument("--stride", type=int, default=1, metavar="D", help="stride (default 1)")
    p.add_argument("--N", type=int, default=None, metavar="N",
                   help="signal length / DFT grid, a multiple of D (default: a multiple of D "
                   "at least max(1024, 8T))")
    p.add_argument("--layout", choices=["torch", "keras"], default="torch",
                   help="torch: (out, in, taps) (default); keras: Conv1D kernel (taps, in, out)")
    p.add_argument("--draws", type=int, default=1000,
                   help="random Gaussian draws for the percentile (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (default 0)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--pdf", action="store_true", help="also write the figure as PDF")
    p.add_argument("--quiet", action="store_true", help="no table on stdout")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..audit import audit, format_table, write_audit

    common.check_writable(args.out, "--out", directory=True)
    result = audit(args.weights, key=args.key, stride=args.stride, N=args.N, layout=args.layout,
                   draws=args.draws, seed=args.seed)
    paths = write_audit(result, args.out, pdf=args.pdf)
    if not args.quiet:
        sys.stdout.write(format_table(result))
        sys.stdout.write(f"wrote {paths['json']}, {paths['table']}, {paths['figure']}\n")
    return 0
