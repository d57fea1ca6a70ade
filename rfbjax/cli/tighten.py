"""``rfbjax tighten``: FIR weights with the same taps and a certified condition number."""

from __future__ import annotations

import io
import os
import sys

from . import common


def add_parser(sub):
    p = sub.add_parser(
        "tighten", help="tighten conv1d weights with T taps fixed (certified kappa <= target)",
        description="Move a conv1d kernel (J, T), (J, C, T) or (..., J, C, T) to the nearest "
        "weights this descent finds with the same taps whose condition number on l2(Z) "
        "(linear convolution, stride D) is certified <= --target. Writes OUT (.npy) and "
        "OUT.json (kappa before/after, distance, steps, seconds) beside it.")
    p.add_argument("weights", metavar="IN",
                   help=".npy, .npz or .safetensors file holding the kernel (PyTorch layout)")
    p.add_argument("--out", required=True, metavar="OUT.npy", help="output .npy file (new)")
    p.add_argument("--key", default=None, metavar="NAME",
                   help="array name in a .npz / tensor name in a .safetensors file")
    p.add_argument("--stride", type=int, default=1, metavar="D", help="stride (default 1)")
    p.add_argument("--target", type=float, default=1.01, help="kappa to reach, > 1 (default 1.01)")
    p.add_argument("--N", default=None, metavar="N",
                   help="check grid of the descent: an integer or kT such as 4T, a multiple of D "
                   "above 2.22 T (default: >= 4T); the certificate is on l2(Z) (from 4N points), "
                   "so inf is not a choice here")
    p.add_argument("--max-steps", type=int, default=3000, help="L-BFGS steps (default 3000)")
    p.add_argument("--batch", action="store_true",
                   help="IN (.npy/.npz) holds many layers, shape (..., J, C, T), tightened in one "
                   "call; without it a 4-D array with a singleton axis is one Conv2d-as-conv1d "
                   "kernel, as rfbjax audit reads it")
    p.add_argument("--quiet", action="store_true", help="no summary on stdout, no progress bar")
    p.set_defaults(func=run)


def _json_path(out: str) -> str:
    root, ext = os.path.splitext(out)
    return (root if ext.lower() == ".npy" else out) + ".json"


def run(args) -> int:
    import numpy as np

    from ..models.audits import load_conv1d
    from ..errors import InputError
    from ..base.files import atomic_write_bytes
    from ..report.outputs import write_json
    from ..remedies.tightening import tighten

    out = args.out
    if not out.lower().endswith(".npy"):
        raise InputError(f"--out: must end in .npy, got '{out}'")
    meta = _json_path(out)
    for path, name in ((out, "--out"), (meta, "--out (its .json)")):
        common.check_writable(path, name)
        if os.path.exists(path):
            raise InputError(f"{name}: '{path}' exists; choose a new name (never overwritten)")
    if os.path.abspath(out) == os.path.abspath(args.weights):
        raise InputError("--out: must differ from IN")
    w, source = _load(args.weights, args.key, load_conv1d, batch=args.batch)
    from ..remedies.tightening import PHASES

    n_layers = int(np.prod(w.shape[:-3])) if w.ndim > 3 else 1
    bar = common.progress_bar(len(PHASES), "tighten", args, unit="phase")

    def on_phase(label):
        if bar is not None:
            if label != PHASES[0]:
                bar.update(1)
            bar.set_postfix_str(f"{label}, {n_layers} layer(s) at once", refresh=True)

    try:
        res = tighten(w.astype(np.float32), stride=args.stride, N=args.N, target=args.target,
                      max_steps=args.max_steps, on_phase=on_phase)
    finally:
        if bar is not None:
            bar.close()
    v = np.asarray(res.weights).reshape(source["shape"])
    buf = io.BytesIO()
    np.save(buf, v.astype(np.float32), allow_pickle=False)
    summary = {"input": source, "output": os.path.abspath(out), **res.summary()}
    atomic_write_bytes(out, buf.getvalue())
    write_json(meta, summary)
    ok = bool(np.all(res.converged))
    if not args.quiet:
        sys.stdout.write(_format(res) + f"wrote {out}, {meta}\n")
    if not ok:
        sys.stderr.write(f"rfbjax tighten: warning: target {args.target} not certified for every "
                         f"layer within {args.max_steps} steps (see {meta})\n")
        return 1
    return 0


def _load(path, key, load_conv1d, *, batch=False):
    """The audit's reader (one kernel); with ``batch``, or for arrays of 5 or more axes, a .npy /
    .npz array is a batch of layers (..., J, C, T)."""
    import numpy as np

    from ..errors import InputError

    if batch and not path.lower().endswith((".npy", ".npz")):
        raise InputError(f"--batch: reads .npy or .npz arrays, got '{path}'")
    if not batch:
        try:
            w, source = load_conv1d(path, key)
            if np.asarray(source["shape"]).size == 2:
                w = w[:, 0, :]
            return w, source
        except InputError as exc:
            if "is not a conv1d kernel" not in str(exc) or path.lower().endswith(".safetensors"):
                raise
    from ..models.weights import read_tensors

    tensors, fmt = read_tensors(path)
    if not tensors:
        raise InputError(f"'{path}' holds no tensor")
    if key is not None and key not in tensors:
        raise InputError(f"--key: '{path}' has no tensor {key!r} (it has: "
                         f"{', '.join(list(tensors)[:8])})")
    arr = np.asarray(tensors[key if key is not None else next(iter(tensors))])
    if arr.ndim < 4 or not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)):
        raise InputError(f"'{path}': shape {arr.shape} {arr.dtype}: expected a float kernel "
                         f"(J, T), (J, C, T) or (..., J, C, T) without NaN/Inf")
    return arr.astype(np.float64), {"path": path, "format": fmt,
                                     "key": key, "shape": list(arr.shape), "dtype": str(arr.dtype)}


def _format(res) -> str:
    import numpy as np

    kb, ka, dist = (np.atleast_1d(x) for x in (res.kappa_before, res.kappa_after, res.distance))
    lines = [f"tighten: {kb.size} layer(s), stride {res.stride}, target {res.target}, "
             f"N {res.N} (certificate on {res.N_fine} points), {res.seconds:.2f} s"]
    if kb.size == 1:
        lines.append(f"  kappa {kb[0]:.4f} -> {ka[0]:.5f} (certified on l2(Z)), distance "
                     f"{dist[0]:.4f}, {int(np.max(res.steps))} steps")
    else:
        lines.append(f"  kappa before: median {np.median(kb):.4f}, max {np.max(kb):.4f}; after: "
                     f"max {np.max(ka):.5f} (certified); distance median {np.median(dist):.4f}, "
                     f"max {np.max(dist):.4f}; steps max {int(np.max(res.steps))}")
    return "\n".join(lines) + "\n"
