r"""Audit of a trained conv1d layer: frame bounds, where they are attained, and how the layer
compares with random Gaussian initialisations of the same shape.

**Input.** A conv1d kernel in PyTorch layout ``(J, C, T)`` (out channels, in channels, taps) or
``(J, T)`` (one input channel); ``layout="keras"`` reads a Keras ``Conv1D`` kernel ``(T, C, J)``.
From a ``.npy`` array, one array of a ``.npz`` archive, or one tensor of a ``.safetensors`` file
(read by its header: F64, F32, F16 and BF16 tensors; only the requested tensor is read).

**What is computed** (float64 NumPy, circular convolution on :math:`\mathbb Z_N`, stride d | N,
:math:`M = N/d`; see :mod:`rfbjax.strided` for the algebra):

* for every input channel c, the filterbank :math:`(w_{jc})_{j<J}` acting on :math:`x_c` alone:
  :math:`\mathcal M_c(\xi) = \frac1d G_c^H G_c` with :math:`G_c(\xi)[j, a] = \hat w_{jc}[\xi + aM]`
  (d×d; at d = 1 the Littlewood–Paley sum :math:`P_c`), and its A, B, κ;
* when C > 1, the whole layer :math:`(x_1 \dots x_C) \mapsto (\sum_c w_{jc} \circledast x_c)[md]`:
  its frame operator is block-diagonal over the base frequencies ξ with Cd×Cd blocks
  :math:`\mathcal M(\xi) = \frac1d G^H G`, :math:`G(\xi)[j, (c, a)] = \hat w_{jc}[\xi + aM]` (C×C at d = 1).
  A = 0 whenever J < Cd (fewer outputs than inputs per frequency: not injective);
* the base frequency :math:`\xi/N` (cycles/sample) where A and B are attained and, from the
  extreme eigenvector, the dominant input frequency among the aliases :math:`(\xi + aM)/N`
  (folded to [0, 1/2]) and, for the layer, the dominant input channel;
* ``mean_gain``: the mean eigenvalue :math:`\operatorname{tr}\mathcal M / (Cd)` averaged over ξ, i.e.
  :math:`\sum_{j,c}\|w_{jc}\|^2/(Cd)` — the expected gain on white noise;
* the percentile of κ among ``draws`` (1000) Gaussian filterbanks (or layers) of the same
  (J, [C,] T, N, d), drawn by the Monte Carlo driver with a fixed seed. For a single channel
  these are the draws ``rfbjax bounds --stride d`` uses at that seed. κ is invariant to a global
  gain, so the variance of the reference draws does not matter.

A computed minimum eigenvalue below :func:`rfbjax.frames.rounding_floor` counts as A = 0
(κ = ∞, a *dead band*: some input is lost).
"""

from __future__ import annotations

import functools
import json
import math
import os
import struct
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .filters import fold_taps

__all__ = ["load_conv1d", "default_N", "analyse", "reference_kappas", "percentile",
           "audit", "AuditResult", "write_audit", "format_table"]

_ST_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": "bf16"}


# ----------------------------------------------------------------------------- loading
def _read_safetensors(path: str, key: str | None):
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) != 8:
                raise ValueError("file too short")
            (n,) = struct.unpack("<Q", head)
            if n > 100_000_000:
                raise ValueError("implausible header size")
            header = json.loads(f.read(n))
            names = [k for k in header if k != "__metadata__"]
            key = _choose_key(path, names, key)
            info = header[key]
            dt, shape, (lo, hi) = info["dtype"], info["shape"], info["data_offsets"]
            if dt not in _ST_DTYPES:
                raise InputError(f"--key {key}: tensor dtype {dt} is not a float type "
                                 f"(F64, F32, F16, BF16)")
            f.seek(8 + n + lo)
            raw = f.read(hi - lo)
    except InputError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read '{path}' as a safetensors file ({exc})") from None
    if _ST_DTYPES[dt] == "bf16":
        u16 = np.frombuffer(raw, dtype="<u2")
        arr = (u16.astype(np.uint32) << 16).view(np.float32)
    else:
        arr = np.frombuffer(raw, dtype=np.dtype(_ST_DTYPES[dt]).newbyteorder("<"))
    if arr.size != int(np.prod(shape)):
        raise InputError(f"'{path}': tensor {key!r} has {arr.size} values for shape {shape}")
    return arr.reshape(shape), key


def _choose_key(path, names, key):
    if key is not None:
        if key not in names:
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise InputError(f"--key: '{path}' has no array {key!r} (it has: {shown or 'none'})")
        return key
    if len(names) == 1:
        return names[0]
    if not names:
        raise InputError(f"'{path}' holds no arrays")
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    raise InputError(f"'{path}' holds {len(names)} arrays ({shown}); choose one with --key")


def load_conv1d(path: str, key: str | None = None, *, layout: str = "torch"):
    """Read a conv1d kernel and return ``(w, source)``: ``w`` float64 ``(J, C, T)``.

    Raises:
      InputError: unreadable file, unknown format, missing or ambiguous key, wrong rank,
        a non-float array, NaN or Inf weights, an all-zero kernel.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"WEIGHTS: no such file '{path}'")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        if key is not None:
            raise InputError("--key: a .npy file holds one array; --key is for .npz and "
                             ".safetensors")
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read '{path}' as a .npy array ({exc})") from None
    elif ext == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                key = _choose_key(path, list(z.files), key)
                arr = z[key]
        except InputError:
            raise
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read '{path}' as a .npz archive ({exc})") from None
    elif ext == ".safetensors":
        arr, key = _read_safetensors(path, key)
    else:
        raise InputError(f"WEIGHTS: '{path}' is not .npy, .npz or .safetensors")
    source = {"path": path, "format": ext[1:], "key": key, "shape": list(arr.shape),
              "dtype": str(arr.dtype), "layout": layout}
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)) \
            or np.iscomplexobj(arr):
        raise InputError(f"'{path}'{_k(key)}: dtype {arr.dtype} is not a real number type")
    if layout not in ("torch", "keras"):
        raise InputError(f"--layout: unknown {layout!r} (torch or keras)")
    want = "(J, 1, T), (J, T) or (J, C, T)" if layout == "torch" else "(T, C, J) or (T, J)"
    if arr.ndim not in (2, 3) or min(arr.shape) < 1:
        raise InputError(f"'{path}'{_k(key)}: shape {tuple(arr.shape)} is not a conv1d kernel; "
                         f"expected {want}")
    w = np.asarray(arr, dtype=np.float64)
    if layout == "keras":
        w = w.T if w.ndim == 2 else np.transpose(w, (2, 1, 0))
    if w.ndim == 2:
        w = w[:, None, :]
    bad = int(np.sum(~np.isfinite(w)))
    if bad:
        raise InputError(f"'{path}'{_k(key)}: {bad} of {w.size} weights are NaN or Inf")
    if not np.any(w):
        raise InputError(f"'{path}'{_k(key)}: all weights are zero (B = 0, nothing to audit)")
    return w, source


def _k(key):
    return f" [{key}]" if key else ""


def default_N(T: int, stride: int) -> int:
    """The DFT grid when --N is not given: a multiple of d, at least max(1024, 8T), 5-smooth / d."""
    from .autocorr import fft_size

    d = int(stride)
    return d * fft_size(math.ceil(max(1024, 8 * T) / d))


# ----------------------------------------------------------------------------- analysis
def _floor(B, T):
    return 16.0 * np.finfo(np.float64).eps * math.log2(2 * max(int(T), 1)) * B


def _fold_freq(k, N):
    f = (int(k) % N) / N
    return min(f, 1.0 - f)


def _extremes(W, d: int, T: int) -> dict:
    """A, B, κ and where they are attained, for W = spectra ``(J, C, N)`` (complex)."""
    J, C, N = W.shape
    M = N // d
    n_xi = M // 2 + 1
    K = C * d
    G = W.reshape(J, C, d, M)[..., :n_xi].transpose(3, 0, 1, 2).reshape(n_xi, J, K)
    if J >= K:
        lam = np.linalg.eigvalsh(np.einsum("xja,xjb->xab", G.conj(), G) / d)
        lam_min = lam[:, 0]
    else:
        lam = np.linalg.eigvalsh(np.einsum("xja,xka->xjk", G, G.conj()) / d)
        lam_min = np.zeros(n_xi)
    lam_max = lam[:, -1]
    xB = int(np.argmax(lam_max))
    B = float(lam_max[xB])
    xA = int(np.argmin(lam_min))
    A = float(lam_min[xA])
    if A <= _floor(B, T):
        A = 0.0
    out = {"A": A, "B": B, "kappa": B / A if A > 0 else math.inf, "dead_band": A == 0.0,
           "rank_deficient": J < K, "mean_gain": float(np.sum(np.abs(W) ** 2) / (N * K)),
           "freq_B": xB / N, "freq_A": None if J < K else xA / N}

    def dominant(x, which):
        H = G[x].conj().T @ G[x] / d
        v = np.linalg.eigh(H)[1][:, which]
        comp = int(np.argmax(np.abs(v) ** 2))
        c, a = divmod(comp, d)
        return _fold_freq(x + a * M, N), c

    out["dominant_freq_B"], cB = dominant(xB, -1)
    if J < K:
        out["dominant_freq_A"], cA = None, None
    else:
        out["dominant_freq_A"], cA = dominant(xA, 0)
    if C > 1:
        out["dominant_channel_A"], out["dominant_channel_B"] = cA, cB
    out["_curves"] = {"xi": np.arange(n_xi) / N, "lam_min": lam_min, "lam_max": lam_max}
    return out


def analyse(w, N: int, stride: int = 1) -> dict:
    """Frame bounds of every input channel and of the whole layer (float64).

    Args:
      w: ``(J, C, T)`` (from :func:`load_conv1d`). N: DFT grid, a multiple of ``stride``.

    Returns:
      ``{"channels": [...], "layer": {...} or None, "power": (C, N//2+1)}``: per channel and
      for the layer the keys ``A``, ``B``, ``kappa``, ``dead_band``, ``rank_deficient``,
      ``mean_gain``, ``freq_A``, ``freq_B``, ``dominant_freq_A``, ``dominant_freq_B`` (and the
      dominant channel for the layer), plus eigenvalue curves under ``_curves``.
    """
    w = np.asarray(w, dtype=np.float64)
    J, C, T = w.shape
    d = int(stride)
    W = np.fft.fft(fold_taps(w, N), n=N, axis=-1)
    channels = []
    for c in range(C):
        r = _extremes(W[:, c:c + 1, :], d, T)
        r["channel"] = c
        channels.append(r)
    layer = _extremes(W, d, T) if C > 1 else None
    power = np.sum(np.abs(W[..., : N // 2 + 1]) ** 2, axis=0)
    return {"channels": channels, "layer": layer, "power": power}


# ----------------------------------------------------------------------------- reference draws
@functools.lru_cache(maxsize=None)
def _layer_fn(J, C, T, N, d):
    import jax

    from .frames import condition_number
    from .strided import layer_frame_bounds

    def fn(key):
        w = jax.random.normal(key, (J, C, T))
        A, B = layer_frame_bounds(w, N, d)
        return condition_number(A, B)

    return fn


def reference_kappas(J: int, C: int, T: int, N: int, stride: int = 1, *, draws: int = 1000,
                     seed: int = 0, max_memory=None) -> np.ndarray:
    """κ of ``draws`` Gaussian filterbanks (C = 1: the ``rfbjax bounds`` stream, float32) or
    Gaussian layers ``(J, C, T)`` (C > 1), deterministic in ``seed``."""
    from . import montecarlo as mc

    mem = mc.DEFAULT_MAX_MEMORY if max_memory is None else max_memory
    if C == 1:
        from .measure import bounds_measurement

        m = bounds_measurement(J, T, N, **({} if stride == 1 else {"stride": stride}))
        out = mc.run(m.fn, mc.stream_key(seed, *m.tags), draws,
                     bytes_per_sample=m.bytes_per_sample, max_memory=mem, progress=False)
        return np.asarray(out["kappa"], dtype=np.float64)
    fn = _layer_fn(J, C, T, N, int(stride))
    tags = ("audit-layer", "gaussian", J, C, T, N, int(stride), "float32")
    work = 4 * (J * C * T + 4 * J * C * N + 4 * (N // 2 + 1) * J * C * stride)
    out = mc.run(fn, mc.stream_key(seed, *tags), draws, bytes_per_sample=work, max_memory=mem,
                 progress=False)
    return np.asarray(out, dtype=np.float64)


def percentile(kappa: float, ref) -> float:
    """Mid-rank percentile of κ among the reference draws: 100 (#{κ_r < κ} + #{κ_r = κ}/2) / n."""
    ref = np.asarray(ref, dtype=np.float64)
    below = np.sum(ref < kappa)
    equal = np.sum(ref == kappa)
    return float(100.0 * (below + 0.5 * equal) / ref.size)


def _ref_summary(ref) -> dict:
    ref = np.asarray(ref, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        q = np.quantile(ref, [0.05, 0.5, 0.95])
    q = np.where(np.isnan(q), np.inf, q)   # interpolating towards an infinite draw
    return {"q05_kappa": float(q[0]), "median_kappa": float(q[1]), "q95_kappa": float(q[2]),
            "frac_kappa_inf": float(np.mean(~np.isfinite(ref)))}


# ----------------------------------------------------------------------------- the audit
@dataclass
class AuditResult:
    source: dict
    shape: dict
    rows: list
    reference: dict
    method: str
    power: np.ndarray = field(repr=False, default=None)
    curves: list = field(repr=False, default_factory=list)

    def to_json(self) -> dict:
        return {"command": "audit", "source": self.source, "layer_shape": self.shape,
                "method": self.method, "rows": self.rows, "reference": self.reference}


def audit(path: str, *, key: str | None = None, stride: int = 1, N: int | None = None,
          layout: str = "torch", draws: int = 1000, seed: int = 0) -> AuditResult:
    """Load, validate and analyse a conv1d kernel; compare its κ with ``draws`` random draws.

    Raises InputError for bad input (see :func:`load_conv1d`), a stride that is not a positive
    integer or does not divide N, N < T or N < 2, draws < 2 — all before any computation.
    """
    from .strided import check_stride

    w, source = load_conv1d(path, key, layout=layout)
    J, C, T = w.shape
    check_stride(None, stride)
    if N is None:
        N = default_N(T, stride)
    if N < 2:
        raise InputError(f"--N: must be >= 2, got {N}")
    if N < T:
        raise InputError(f"--N: {N} is shorter than the kernel (T={T}); use N >= T")
    check_stride(N, stride)
    if draws < 2:
        raise InputError(f"--draws: need at least 2, got {draws}")
    res = analyse(w, N, stride)
    ref_c = reference_kappas(J, 1, T, N, stride, draws=draws, seed=seed)
    ref_l = reference_kappas(J, C, T, N, stride, draws=draws, seed=seed) if C > 1 else None
    rows, curves = [], []
    for r in res["channels"]:
        curves.append((f"channel {r['channel']}" if C > 1 else "layer", r.pop("_curves")))
        rows.append({"part": f"channel {r['channel']}" if C > 1 else "layer", **r,
                     "percentile_kappa": percentile(r["kappa"], ref_c)})
    if res["layer"] is not None:
        r = res["layer"]
        curves.append(("layer", r.pop("_curves")))
        rows.append({"part": "layer", **r, "percentile_kappa": percentile(r["kappa"], ref_l)})
    reference = {"init": "gaussian", "draws": int(draws), "seed": int(seed), "dtype": "float32",
                 "channel": {"shape": [J, T], **_ref_summary(ref_c)}}
    if ref_l is not None:
        reference["layer"] = {"shape": [J, C, T], **_ref_summary(ref_l)}
    method = (f"circular convolution on Z_N, N={N}, stride {stride}: per input channel the "
              f"{stride}x{stride} polyphase matrices M(xi) = G^H G/d, G[j, a] = w_hat_j[xi + aN/d]"
              + (f"; whole layer: {C * stride}x{C * stride} matrices over (channel, alias)"
                 if C > 1 else "")
              + "; A = min eigenvalue, B = max eigenvalue over xi (float64); frequencies in "
              "cycles/sample")
    shape = {"J": J, "C": C, "T": T, "N": N, "stride": int(stride)}
    return AuditResult(source, shape, rows, reference, method, res["power"], curves)


TABLE_COLUMNS = [("part", "part", 11), ("A", "A", 10), ("B", "B", 10), ("kappa", "kappa", 10),
                 ("freq_A", "f_A", 8), ("freq_B", "f_B", 8), ("dominant_freq_A", "f_A_dom", 8),
                 ("dominant_freq_B", "f_B_dom", 8), ("mean_gain", "gain", 9),
                 ("percentile_kappa", "pct_kappa", 9)]


def format_table(result: AuditResult) -> str:
    """The text table (one row per channel, plus the layer) with a short header."""
    import io

    from .cli.common import print_table

    s = result.shape
    buf = io.StringIO()
    src = result.source
    buf.write(f"# audit of {src['path']}" + (f" [{src['key']}]" if src.get("key") else "")
              + f": J={s['J']} C={s['C']} T={s['T']}, N={s['N']}, stride={s['stride']}\n")
    print_table(result.rows, TABLE_COLUMNS, out=buf)
    ref = result.reference
    line = (f"# pct_kappa: percentile of kappa among {ref['draws']} Gaussian draws of the same "
            f"shape (seed {ref['seed']}); their median kappa {ref['channel']['median_kappa']:.4g}")
    if "layer" in ref:
        line += f" (filterbank), {ref['layer']['median_kappa']:.4g} (layer)"
    buf.write(line + "\n")
    for r in result.rows:
        if r["rank_deficient"]:
            buf.write(f"# {r['part']}: J < C*stride: fewer outputs than inputs per frequency, "
                      f"A = 0 at every frequency (not injective)\n")
        elif r["dead_band"]:
            buf.write(f"# {r['part']}: dead band: A = 0 near f = {r['freq_A']:.4g} "
                      f"cycles/sample: that input is lost (kappa = inf)\n")
    return buf.getvalue()


def write_audit(result: AuditResult, out_dir: str, *, pdf: bool = False) -> dict:
    """Write ``audit.json``, ``audit.txt`` and ``power_response.png`` (each atomically)."""
    from .plots.audit import audit_figure
    from .report import atomic_write_bytes, write_json

    os.makedirs(out_dir, exist_ok=True)
    paths = {"json": os.path.join(out_dir, "audit.json"),
             "table": os.path.join(out_dir, "audit.txt")}
    paths["figure"] = audit_figure(result, out_dir, pdf=pdf)[0]
    atomic_write_bytes(paths["table"], format_table(result).encode())
    payload = result.to_json()
    payload["files"] = {k: os.path.basename(v) for k, v in paths.items()}
    write_json(paths["json"], payload)
    return paths
