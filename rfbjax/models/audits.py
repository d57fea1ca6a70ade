r"""Audits of trained conv1d layers: frame bounds, where they are attained, and how each layer
compares with random Gaussian layers of the same shape — for one kernel or a whole checkpoint.

**Input.** An array, or a weights file read by `rfbjax.models.weights` (``.npy``, ``.npz``,
``.safetensors``, PyTorch zip checkpoints, Keras). Kernels are in PyTorch layout ``(J, C, T)``
(out channels, in channels, taps) or ``(J, T)``; ``layout="keras"`` reads ``(T, C, J)``. A file
without ``key`` is audited layer by layer: every conv1d kernel it holds.

**What is computed** (float64 NumPy, circular convolution on $\mathbb Z_N$, stride d | N,
$M = N/d$; the algebra is that of `rfbjax.kernels.strided`):

* for every input channel c, the filterbank $(w_{jc})_{j<J}$ acting on $x_c$ alone:
  $\mathcal M_c(\xi) = \frac1d G_c^H G_c$ with $G_c(\xi)[j, a] = \hat w_{jc}[\xi + aM]$
  (d×d; at d = 1 the Littlewood–Paley sum $P_c$), and its A, B, κ;
* when C > 1, the whole layer $(x_1 \dots x_C) \mapsto (\sum_c w_{jc} \circledast x_c)[md]$
  with Cd×Cd blocks $\mathcal M(\xi) = \frac1d G^H G$,
  $G(\xi)[j, (c, a)] = \hat w_{jc}[\xi + aM]$. When J < Cd the layer has fewer outputs than
  inputs per frequency: no lower frame bound exists (*rank deficient*, κ = ∞), decided by counting;
* where A and B are attained (base frequency ξ/N, dominant alias and input channel);
* ``mean_gain`` $= \sum_{j,c}\|w_{jc}\|^2/(Cd)$, the expected gain on white noise;
* the reference: κ of ``draws`` Gaussian layers of the same (J, C, T, N, d), taps drawn in
  float32 by the Monte Carlo streams (for C = 1 the stream ``rfbjax bounds --stride d`` uses at that
  seed), **bounds computed in float64** like the layer's own, so every finite κ is comparable. The
  layer's κ is then given as a percentile, as a ratio to the reference median and q95, and in
  words ("κ = 3329, 1500× the random median, above all 1000 draws"). Rank-deficient layers get
  no draws (every random layer of that shape is rank deficient too); ``draws=0`` skips the
  reference.

**Cost.** One draw costs what the layer's own analysis costs: per base frequency one
eigenvalue problem of size min(J, Cd). Large layers get fewer draws, fixed by their shape
(`reference_draws`: at most ``reference_work`` units per layer, at least
`MIN_DRAWS`), and the report states how many were drawn and the distribution-free
confidence interval of the reference median that they give. Working memory is bounded by
``max_memory``: the spectra are taken a block of frequencies at a time.

A computed minimum eigenvalue below `rfbjax.kernels.frames.rounding_floor` counts as A = 0
(κ = ∞, a *dead band*: some input is lost).
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..errors import InputError
from ..kernels.filters import fold_taps

__all__ = ["audit", "input_rates", "LayerAudit", "ModelAudit", "AuditResult", "default_N", "analyse",
           "spectral_extremes", "reference_kappas", "reference_draws", "draw_work", "percentile",
           "median_interval", "kappa_sentence", "parse_strides", "load_conv1d",
           "DEFAULT_REFERENCE_WORK", "MIN_DRAWS"]

#: working memory of one spectral block (bytes)
_BLOCK_BYTES = 192 * 1024 ** 2
#: reference work per layer (units of `draw_work`, about 0.04 ns each on one core here
#: with single-threaded LAPACK, 2026-11-30)
DEFAULT_REFERENCE_WORK = 4e10
#: the fewest reference draws a layer gets when it has any
MIN_DRAWS = 2


def default_N(T: int, stride: int) -> int:
    """The DFT grid when N is not given: a multiple of d, at least max(1024, 8T), 5-smooth / d."""
    from ..kernels.strided import grid_size

    return grid_size(T, stride, max(1024, 8 * T))


# ----------------------------------------------------------------------------- spectra
def _dft_at(w: np.ndarray, N: int, k: np.ndarray, W: np.ndarray | None = None) -> np.ndarray:
    r"""$\hat w[k] = \sum_t w[t] e^{-2\pi i k t/N}$ at integer bins ``k`` (any shape):
    ``(..., T) -> (..., *k.shape)`` complex128, from the rfft ``W`` when given (bins above N/2
    read as conjugates), else by one real matrix product (T ≤ N taps, already folded)."""
    k = np.asarray(k) % N
    if W is not None:
        upper = k > N // 2
        S = W[..., np.where(upper, N - k, k)]
        return np.where(upper, np.conj(S), S)
    T = w.shape[-1]
    ang = (2.0 * np.pi / N) * ((np.arange(T)[:, None] * k.reshape(1, -1)) % N)
    flat = w.reshape(-1, T)
    S = (flat @ np.cos(ang)) - 1j * (flat @ np.sin(ang))
    return S.reshape(w.shape[:-1] + k.shape)


def _alias_matrices(w, N, d, xs, W=None):
    """G(ξ) for the base frequencies ``xs``: ``(B, J, C, T) -> (B, len(xs), J, C*d)``."""
    M = N // d
    k = np.asarray(xs)[:, None] + M * np.arange(d)[None, :]
    S = _dft_at(w, N, k, W)                                  # (B, J, C, nx, d)
    Bn, J, C = S.shape[:3]
    return S.transpose(0, 3, 1, 2, 4).reshape(Bn, len(xs), J, C * d)


def _gram(G, d):
    """The smaller of G^H G/d and G G^H/d (same non-zero eigenvalues)."""
    Gh = np.conj(np.swapaxes(G, -1, -2))
    return (Gh @ G if G.shape[-2] >= G.shape[-1] else G @ Gh) / d


def _single_threaded_blas():
    """A context in which BLAS/LAPACK use one thread (``threadpoolctl``; a no-op without it).

    The eigenvalue problems here are small (≤ a few hundred) and many: a multi-threaded LAPACK
    spends most of its time synchronising, several times the CPU of one thread on a busy machine
    (measured in the README, "Auditing real models"); the frequencies are parallel instead."""
    global _BLAS
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS = ThreadpoolController()   # found once: looking up the libraries takes ms
        except ImportError:   # pragma: no cover - threadpoolctl is a dependency
            _BLAS = False
    if _BLAS is False:   # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return _BLAS.limit(limits=1, user_api="blas")


_BLAS = None


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:   # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def spectral_extremes(w: np.ndarray, N: int, stride: int = 1, *,
                      max_bytes: int = _BLOCK_BYTES, workers: int | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    r"""$\lambda_{\min}(\mathcal M(\xi))$ and $\lambda_{\max}(\mathcal M(\xi))$ for
    $\xi = 0 \dots \lfloor M/2 \rfloor$, float64, a block of frequencies at a time.

    The blocks are independent: ``workers`` threads (default: the CPUs this process may use)
    take them in turn, each with single-threaded BLAS/LAPACK and ``max_bytes / workers`` of
    working memory. Every frequency's matrix is computed and diagonalised on its own, so the
    values do not depend on ``workers`` or on the block size (only whether the spectra come from
    one rfft — when they fit in a third of ``max_bytes`` — or from direct sums moves them, by
    float64 round-off).

    Args:
      w: ``(B, J, C, T)`` layers (taps folded mod N, T ≤ N).
      N: a multiple of ``stride``.
      max_bytes: working memory of all blocks in flight (the spectra, G and the Gram matrices).
      workers: threads (``None``: the CPUs available).

    Returns:
      ``(lam_min, lam_max)``, each ``(B, M//2 + 1)``; ``lam_min`` is exactly 0 when J < Cd.
    """
    Bn, J, C, T = w.shape
    d = int(stride)
    M = N // d
    n_xi = M // 2 + 1
    K = C * d
    r = min(J, K)
    W = None
    if Bn * J * C * (N // 2 + 1) * 16 <= max_bytes // 3:
        W = np.fft.rfft(w, n=N, axis=-1)
    per_xi = Bn * 16 * (3 * J * K + 3 * r * r) + 16 * T * d
    workers = max(1, int(_workers() if workers is None else workers))
    step = int(min(n_xi, max(1, (max_bytes // (2 * workers)) // per_xi)))
    workers = min(workers, -(-n_xi // step))
    lam_min = np.zeros((Bn, n_xi))
    lam_max = np.zeros((Bn, n_xi))

    def block(x0):
        xs = np.arange(x0, min(n_xi, x0 + step))
        lam = np.linalg.eigvalsh(_gram(_alias_matrices(w, N, d, xs, W), d))
        lam_max[:, xs] = lam[..., -1]
        if J >= K:
            lam_min[:, xs] = lam[..., 0]

    with _single_threaded_blas():
        if workers == 1:
            for x0 in range(0, n_xi, step):
                block(x0)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(block, range(0, n_xi, step)))
    return lam_min, lam_max


def _floor(B: float, T: int) -> float:
    from ..kernels.frames import rounding_floor

    return float(rounding_floor(B, T, np.float64))


def _fold_freq(k, N):
    f = (int(k) % N) / N
    return min(f, 1.0 - f)


def _summary(wl, N, d, lam_min, lam_max) -> dict:
    """A, B, κ and where they are attained, for one layer ``wl`` (J, C, T) with its curves."""
    J, C, T = wl.shape
    K = C * d
    M = N // d
    xB = int(np.argmax(lam_max))
    B = float(lam_max[xB])
    xA = int(np.argmin(lam_min))
    A = float(lam_min[xA]) if J >= K else 0.0
    if A <= _floor(B, T):
        A = 0.0
    out = {"A": A, "B": B, "kappa": B / A if A > 0 else math.inf, "dead_band": A == 0.0 and J >= K,
           "rank_deficient": J < K, "mean_gain": float(np.sum(wl ** 2) / K),
           "freq_B": xB / N, "freq_A": None if J < K else xA / N}

    def dominant(x, which):
        G = _alias_matrices(wl[None], N, d, [x])[0, 0]
        with _single_threaded_blas():
            if G.shape[0] < G.shape[1]:   # top eigenvector of G^H G from the smaller G G^H
                v = G.conj().T @ np.linalg.eigh(_gram(G, d))[1][:, -1]
            else:
                v = np.linalg.eigh(_gram(G, d))[1][:, which]
        c, a = divmod(int(np.argmax(np.abs(v) ** 2)), d)
        return _fold_freq(x + a * M, N), c

    out["dominant_freq_B"], cB = dominant(xB, -1)
    out["dominant_freq_A"], cA = (None, None) if J < K else dominant(xA, 0)
    if C > 1:
        out["dominant_channel_A"], out["dominant_channel_B"] = cA, cB
    out["_curves"] = {"xi": np.arange(len(lam_min)) / N, "lam_min": lam_min, "lam_max": lam_max}
    return out


def analyse(w, N: int, stride: int = 1, *, channels: bool = True) -> dict:
    """Frame bounds of every input channel and of the whole layer (float64).

    Args:
      w: ``(J, C, T)``.
      N: DFT grid, a multiple of ``stride``.
      channels: also analyse every input channel's filterbank.

    Returns:
      ``{"channels": [...], "layer": {...} or None, "power": (C, N//2+1)}``: per channel and
        for the layer the keys ``A``, ``B``, ``kappa``, ``dead_band``, ``rank_deficient``,
        ``mean_gain``, ``freq_A``, ``freq_B``, ``dominant_freq_A``, ``dominant_freq_B`` (and the
        dominant channel for the layer), plus eigenvalue curves under ``_curves``.
    """
    w = fold_taps(np.asarray(w, dtype=np.float64), N)
    J, C, T = w.shape
    d = int(stride)
    rows = []
    if channels or C == 1:
        per = w.transpose(1, 0, 2)[:, :, None, :]            # (C, J, 1, T): C filterbanks
        lo, hi = spectral_extremes(per, N, d)
        for c in range(C):
            r = _summary(per[c], N, d, lo[c], hi[c])
            r["channel"] = c
            rows.append(r)
    layer = None
    if C > 1:
        lo, hi = spectral_extremes(w[None], N, d)
        layer = _summary(w, N, d, lo[0], hi[0])
    step = max(1, _BLOCK_BYTES // (16 * J * (N // 2 + 1)))
    power = np.concatenate([np.sum(np.abs(np.fft.rfft(w[:, c0:c0 + step], n=N, axis=-1)) ** 2,
                                   axis=0) for c0 in range(0, C, step)])
    return {"channels": rows, "layer": layer, "power": power}


# ----------------------------------------------------------------------------- reference draws
def draw_work(J: int, C: int, T: int, N: int, stride: int = 1) -> float:
    """Work of one reference draw (≈ flops): spectra, Gram matrices and eigenvalue problems over
    the M/2 + 1 base frequencies."""
    d = int(stride)
    K = C * d
    r = min(J, K)
    n_xi = N // d // 2 + 1
    spectra = J * C * N * (math.log2(max(N, 2)) if J * C * N * 8 <= _BLOCK_BYTES // 3
                           else 4 * min(T, N))
    return float(spectra + n_xi * (8 * J * K * r + 10 * r ** 3))


def reference_draws(J: int, C: int, T: int, N: int, stride: int = 1, *, draws: int = 1000,
                    reference_work: float = DEFAULT_REFERENCE_WORK) -> int:
    """Draws a layer's reference gets: ``draws``, reduced for large layers so that their work
    stays under ``reference_work`` (but never below `MIN_DRAWS`); 0 when J < C·d or
    ``draws`` is 0. A function of the shape only, so the same layer always gets the same draws."""
    if draws <= 0 or J < C * int(stride):
        return 0
    fit = int(reference_work // max(draw_work(J, C, T, N, stride), 1.0))
    return int(min(draws, max(MIN_DRAWS, fit)))


def _reference_tags(J, C, T, N, d):
    if C == 1:
        from ..engine.measure import bounds_measurement

        return bounds_measurement(J, T, N, **({} if d == 1 else {"stride": d})).tags
    return ("audit-layer", "gaussian", J, C, T, N, d, "float32")


@functools.lru_cache(maxsize=32)
def _reference_draw(shape: tuple, batch: int, options: tuple):
    """jit: ``batch`` Gaussian layers of ``shape`` (float32), sample i from ``fold_in(base, i)``."""
    import jax
    import jax.numpy as jnp

    from ..engine.montecarlo import sample_keys

    def draw(base, idx):
        return jax.vmap(lambda k: jax.random.normal(k, shape, jnp.float32))(sample_keys(base, idx))

    return jax.jit(draw, compiler_options=dict(options))


def reference_kappas(J: int, C: int, T: int, N: int, stride: int = 1, *, draws: int = 1000,
                     seed: int = 0, max_memory: int = _BLOCK_BYTES) -> np.ndarray:
    """κ of ``draws`` Gaussian layers ``(J, C, T)`` on Z_N with stride d (C = 1: the filterbanks
    that ``rfbjax bounds`` draws at that seed), taps float32, bounds float64.

    Sample i uses the key ``fold_in(stream_key(seed, tags), i)`` of the Monte Carlo driver, so the
    values do not depend on how the draws are batched.
    """
    import jax

    from ..engine import montecarlo as mc

    d = int(stride)
    if draws <= 0:
        return np.zeros(0)
    base = mc.stream_key(seed, *_reference_tags(J, C, T, N, d))
    shape = (J, T) if C == 1 else (J, C, T)
    per_draw = 16 * J * C * (N // 2 + 1) + 8 * J * C * T
    batch = int(max(1, min(draws, 64, max_memory // (3 * per_draw))))
    # one program: the keys are derived inside it, the indices come from the host (the last
    # batch is padded with its final index, and the padding dropped)
    draw = _reference_draw(shape, batch, tuple(sorted(mc.compile_options(
        jax.default_backend()).items())))
    out = np.empty(draws)
    for i0 in range(0, draws, batch):
        n = min(draws, i0 + batch) - i0
        idx = np.minimum(np.arange(i0, i0 + batch, dtype=np.uint32), np.uint32(i0 + n - 1))
        w = np.asarray(draw(base, idx), dtype=np.float64)[:n].reshape(n, J, C, T)
        lo, hi = spectral_extremes(fold_taps(w, N), N, d, max_bytes=max_memory)
        A, B = lo.min(axis=1), hi.max(axis=1)
        floor = np.array([_floor(b, T) for b in B])
        A = np.where(A <= floor, 0.0, A)
        with np.errstate(divide="ignore"):
            out[i0:i0 + len(idx)] = np.where(A > 0, B / np.where(A > 0, A, 1.0), np.inf)
    return out


def percentile(kappa: float, ref) -> float:
    """Mid-rank percentile of κ among the reference draws: 100 (#{κ_r < κ} + #{κ_r = κ}/2) / n."""
    ref = np.asarray(ref, dtype=np.float64)
    below = np.sum(ref < kappa)
    equal = np.sum(ref == kappa)
    return float(100.0 * (below + 0.5 * equal) / ref.size)


def median_interval(n: int, level: float = 0.95) -> tuple[int, int, float]:
    """Order statistics ``(lo, hi)`` (0-based, of n sorted draws) bracketing the median with
    probability at least ``level`` when possible, and that probability (distribution-free: the
    number of draws below the median is Binomial(n, 1/2)). Small n: the extremes and their cover."""
    if n < 1:
        raise ValueError("need at least one draw")
    cdf, acc = [], 0.0
    for i in range(n + 1):
        acc += math.comb(n, i) * 0.5 ** n
        cdf.append(acc)
    # [x_(k), x_(n-1-k)] holds the median unless X <= k or X >= n - k: cover 1 - 2 P(X <= k)
    k = 0
    while k + 1 < n / 2 and cdf[k + 1] <= (1 - level) / 2:
        k += 1
    cover = 1.0 - 2.0 * cdf[k] if n > 1 else 0.0
    return k, n - 1 - k, cover


def _ref_summary(ref) -> dict:
    ref = np.sort(np.asarray(ref, dtype=np.float64))
    n = ref.size
    with np.errstate(invalid="ignore"):
        q = np.quantile(ref, [0.05, 0.5, 0.95])
    q = np.where(np.isnan(q), np.inf, q)   # interpolating towards an infinite draw
    lo, hi, cover = median_interval(n)
    return {"draws": int(n), "q05_kappa": float(q[0]), "median_kappa": float(q[1]),
            "q95_kappa": float(q[2]), "max_kappa": float(ref[-1]),
            "median_ci": [float(ref[lo]), float(ref[hi])], "median_ci_level": cover,
            "frac_kappa_inf": float(np.mean(~np.isfinite(ref)))}


def _compare(kappa: float, summ: dict | None, ref) -> dict:
    if summ is None:
        return {"percentile_kappa": None, "ratio_to_median": None, "ratio_to_q95": None}
    med, q95 = summ["median_kappa"], summ["q95_kappa"]
    ratio = (lambda x: kappa / x if math.isfinite(x) and x > 0 else None)
    return {"percentile_kappa": percentile(kappa, ref), "ratio_to_median": ratio(med),
            "ratio_to_q95": ratio(q95)}


def _ratio(r: float) -> str:
    """1500 (not 1.5e+03) for ratios between 100 and 100000; three significant digits otherwise."""
    return f"{r:.0f}" if 100 <= r < 1e5 else f"{r:.3g}"


def kappa_sentence(row: dict, ref: dict | None) -> str:
    """"κ = 3329, 1500× the random median, above all 1000 draws" (or why no comparison)."""
    k = row["kappa"]
    ks = "∞" if not math.isfinite(k) else f"{k:.4g}"
    if row.get("rank_deficient"):
        return f"κ = ∞: rank deficient (J < C·stride), no lower frame bound; no reference drawn"
    if ref is None:
        return f"κ = {ks} (no reference drawn)"
    n, med = ref["draws"], ref["median_kappa"]
    r = row.get("ratio_to_median")
    q95 = ref.get("q95_kappa")
    q = f"q95 {q95:.4g}" if q95 is not None and math.isfinite(q95) else ""
    if r is not None and math.isfinite(r):
        rel = f", {_ratio(r)}× the random median {med:.4g}" + (f" ({q})" if q else "")
    else:
        rel = f" (random median {med:.4g}" + (f", {q})" if q else ")")
    kr = np.asarray(ref.get("_values", []))
    if kr.size and k > kr.max():
        where = f"above all {n} draws"
    elif kr.size and k < kr.min():
        where = f"below all {n} draws"
    else:
        where = f"at the {row['percentile_kappa']:.1f}th percentile of {n} draws"
    return f"κ = {ks}{rel}, {where}"


# ----------------------------------------------------------------------------- results
@dataclass
class LayerAudit:
    """The audit of one conv1d layer.

    ``rows``: one record per input channel (``part`` = ``"channel c"``) and, when C > 1, one for
    the whole layer (``part`` = ``"layer"``); for C = 1 the single row is the layer. ``reference``:
    the random draws' summary (``channel``, and ``layer`` when C > 1), or ``None``.
    """
    name: str | None
    source: dict
    shape: dict
    rows: list
    reference: dict | None
    method: str
    power: np.ndarray = field(repr=False, default=None)
    curves: list = field(repr=False, default_factory=list)
    notes: list = field(default_factory=list)
    weights: np.ndarray = field(repr=False, default=None)

    @property
    def summary(self) -> dict:
        """The row of the whole layer."""
        return self.rows[-1]

    @property
    def kappa(self) -> float:
        return self.summary["kappa"]

    @property
    def A(self) -> float:
        return self.summary["A"]

    @property
    def B(self) -> float:
        return self.summary["B"]

    @property
    def percentile(self) -> float | None:
        return self.summary["percentile_kappa"]

    @property
    def rank_deficient(self) -> bool:
        return bool(self.summary["rank_deficient"])

    @property
    def channels(self) -> list:
        """Per-input-channel rows (the single row when C = 1)."""
        return [r for r in self.rows if r["part"] != "layer"] or self.rows[:1]

    def sentence(self) -> str:
        ref = None
        if self.reference is not None:
            ref = self.reference.get("layer" if self.shape["C"] > 1 else "channel")
        return kappa_sentence(self.summary, ref)

    def record(self) -> dict:
        """The ``layers`` record of audit.json."""
        s, r = self.shape, self.summary
        ks = [c["kappa"] for c in self.channels]
        ref = None
        if self.reference is not None:
            ref = self.reference.get("layer" if s["C"] > 1 else "channel")
        return {"name": self.name, "shape": [s["J"], s["C"], s["T"]], "stride": s["stride"],
                "N": s["N"], "A": r["A"], "B": r["B"], "kappa": r["kappa"],
                "rank_deficient": r["rank_deficient"], "dead_band": r["dead_band"],
                "percentile_kappa": r["percentile_kappa"], "ratio_to_median": r["ratio_to_median"],
                "ratio_to_q95": r["ratio_to_q95"],
                "reference_draws": 0 if ref is None else ref["draws"],
                "reference_median_kappa": None if ref is None else ref["median_kappa"],
                "reference_median_ci": None if ref is None else ref["median_ci"],
                "channel_kappa": {"min": float(np.min(ks)), "median": float(np.median(ks)),
                                  "max": float(np.max(ks))},
                "freq_A": r["freq_A"], "freq_B": r["freq_B"], "mean_gain": r["mean_gain"],
                "summary": self.sentence(), "notes": list(self.notes)}

    def to_dict(self) -> dict:
        ref = _public_reference(self.reference)
        return {"command": "audit", "source": self.source, "layer_shape": self.shape,
                "method": self.method, "rows": self.rows, "reference": ref,
                "layers": [self.record()], "notes": list(self.notes)}

    to_json = to_dict


AuditResult = LayerAudit


def _public_reference(ref):
    if ref is None:
        return None
    return {k: ({kk: vv for kk, vv in v.items() if not kk.startswith("_")}
                if isinstance(v, dict) else v) for k, v in ref.items()}


@dataclass
class ModelAudit:
    """The audit of every conv1d kernel of a checkpoint (one `LayerAudit` per layer)."""
    source: dict
    layers: list
    notes: list = field(default_factory=list)
    cascades: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, name):
        if isinstance(name, int):
            return self.layers[name]
        for lay in self.layers:
            if name in (lay.name, _module(lay.name)):
                return lay
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {"command": "audit", "source": self.source,
                "layers": [lay.record() for lay in self.layers],
                "details": [{"name": lay.name, "rows": lay.rows,
                             "reference": _public_reference(lay.reference),
                             "method": lay.method} for lay in self.layers],
                "cascades": self.cascades, "notes": list(self.notes)}

    to_json = to_dict


def _module(name):
    from .weights import module_path

    return module_path(name or "")


# ----------------------------------------------------------------------------- the audit
def _grid(N):
    """``None`` (the default per layer) or the parsed N (`rfbjax.base.grid`); ℓ²(ℤ) refused."""
    if N is None:
        return None
    from ..base.grid import parse_N

    g = parse_N(N, "--N")
    if g.linear:
        raise InputError("--N: inf (l2(Z)) is not available in the audit, which computes the "
                         "bounds on Z_N with the reference draws; give an integer or kT (e.g. "
                         "8T), or call rfbjax.layer_frame_bounds(w, N=math.inf) for l2(Z)")
    return g


def _grid_at(N, T, d):
    """The grid of a layer with T taps and stride d: `default_N` when N is None, else N at T."""
    g = _grid(N)
    return default_N(T, d) if g is None else g.at(T)


def _check_N(N, T, d, what=""):
    from ..kernels.strided import check_stride

    if N < 2:
        raise InputError(f"--N: must be >= 2, got {N}")
    if N < T:
        raise InputError(f"--N: {N} is shorter than the kernel{what} (T={T}); use N >= T")
    check_stride(N, d)


def audit_layer(w, *, stride: int = 1, N: int | str | None = None, draws: int = 1000, seed: int = 0,
                name: str | None = None, source: dict | None = None,
                reference_work: float = DEFAULT_REFERENCE_WORK, notes: Sequence[str] = ()
                ) -> LayerAudit:
    """Audit one kernel ``w`` (float64 ``(J, C, T)``, validated): see `audit`."""
    from ..kernels.strided import check_stride

    J, C, T = w.shape
    d = int(stride)
    check_stride(None, stride)
    N = _grid_at(N, T, d)
    _check_N(N, T, d, f" {name!r}" if name else "")
    if draws < 0 or (0 < draws < 2):
        raise InputError(f"--draws: need 0 (no reference) or at least 2, got {draws}")
    res = analyse(w, N, d)
    n_c = reference_draws(J, 1, T, N, d, draws=draws, reference_work=reference_work)
    n_l = reference_draws(J, C, T, N, d, draws=draws, reference_work=reference_work) if C > 1 else 0
    ref_c = reference_kappas(J, 1, T, N, d, draws=n_c, seed=seed) if n_c else None
    ref_l = reference_kappas(J, C, T, N, d, draws=n_l, seed=seed) if n_l else None
    s_c = _ref_summary(ref_c) if ref_c is not None else None
    s_l = _ref_summary(ref_l) if ref_l is not None else None
    rows, curves = [], []
    for r in res["channels"]:
        part = f"channel {r['channel']}" if C > 1 else "layer"
        curves.append((part, r.pop("_curves")))
        rows.append({"part": part, **r, **_compare(r["kappa"], s_c, ref_c)})
    if res["layer"] is not None:
        r = res["layer"]
        curves.append(("layer", r.pop("_curves")))
        rows.append({"part": "layer", **r, **_compare(r["kappa"], s_l, ref_l)})
    reference = None
    notes = list(notes)
    if s_c is not None or s_l is not None:
        reference = {"init": "gaussian", "draws": int(draws), "seed": int(seed),
                     "dtype": "float32 taps, float64 bounds"}
        if s_c is not None:
            reference["channel"] = {"shape": [J, T], **s_c, "_values": ref_c}
        if s_l is not None:
            reference["layer"] = {"shape": [J, C, T], **s_l, "_values": ref_l}
        for part, s in (("channel", s_c), ("layer", s_l)):
            if s is not None and s["draws"] < draws:
                notes.append(f"{name or 'kernel'}: {part} reference reduced to {s['draws']} of "
                             f"{draws} draws for its size; random median within "
                             f"[{s['median_ci'][0]:.4g}, {s['median_ci'][1]:.4g}] "
                             f"({100 * s['median_ci_level']:.0f} %)")
    elif draws == 0:
        notes.append(f"{name or 'kernel'}: no reference (draws = 0)")
    if J < C * d:
        notes.append(f"{name or 'kernel'}: rank deficient: J = {J} outputs < C·stride = {C * d} "
                     f"inputs per frequency, no lower frame bound (κ = ∞); no reference drawn")
    method = (f"circular convolution on Z_N, N={N}, stride {d}: per input channel the "
              f"{d}x{d} polyphase matrices M(xi) = G^H G/d, G[j, a] = w_hat_j[xi + aN/d]"
              + (f"; whole layer: {C * d}x{C * d} matrices over (channel, alias)" if C > 1 else "")
              + "; A = min eigenvalue, B = max eigenvalue over xi (float64); frequencies in "
              "cycles/sample")
    shape = {"J": J, "C": C, "T": T, "N": N, "stride": d}
    return LayerAudit(name, dict(source or {}), shape, rows, reference, method, res["power"],
                      curves, notes, w)


def parse_strides(spec) -> tuple[int, dict]:
    """``--stride``: ``"4"`` (every layer) or ``"conv1=5,conv2=2"`` (others 1); an int or a
    mapping in Python. Returns ``(default, {name: d})``."""
    from ..kernels.strided import check_stride

    if isinstance(spec, Mapping):
        items, default = dict(spec), 1
    elif isinstance(spec, (int, np.integer)):
        check_stride(None, int(spec))
        return int(spec), {}
    else:
        text = str(spec).replace(" ", "")
        if "=" not in text:
            try:
                d = int(text)
            except ValueError:
                raise InputError(f"--stride: cannot parse {spec!r} (use D or NAME=D,NAME=D)") \
                    from None
            check_stride(None, d)
            return d, {}
        items, default = {}, 1
        for part in text.split(","):
            k, eq, v = part.partition("=")
            try:
                items[k] = int(v)
            except ValueError:
                raise InputError(f"--stride: cannot parse {part!r} (use NAME=D)") from None
            if not k or not eq:
                raise InputError(f"--stride: cannot parse {part!r} (use NAME=D)")
    for k, v in items.items():
        if int(v) != v or v < 1:
            raise InputError(f"--stride: {k}={v}: must be an integer >= 1")
    return default, {str(k): int(v) for k, v in items.items()}


def _stride_for(name, default, named, used):
    for cand in (name, _module(name)):
        if cand in named:
            used.add(cand)
            return named[cand]
    return default


def load_conv1d(path, key: str | None = None, *, layout: str = "torch"):
    """Read one conv1d kernel: ``(w, source)`` with ``w`` float64 ``(J, C, T)``.

    Without ``key`` the file must hold one tensor (or exactly one conv1d kernel).
    """
    kernels, source, _ = _kernels_from_file(path, key, layout)
    if len(kernels) != 1:
        raise InputError(f"'{path}' holds {len(kernels)} conv1d kernels; choose one with --key")
    return kernels[0].w, source


def _kernels_from_file(path, key, layout):
    from .weights import Kernel, conv_kernels, read_tensors, to_conv1d

    path = os.fspath(path)
    tensors, fmt = read_tensors(path)
    if layout is None:
        layout = "keras" if fmt == "keras" else "torch"
    names = list(tensors)
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    notes: list[str] = []
    if key is not None and fmt == "npy":
        raise InputError("--key: a .npy file holds one array; --key is for files with named "
                         "tensors")
    if key is not None:
        if key not in tensors:
            raise InputError(f"--key: '{path}' has no array {key!r} (it has: {shown or 'none'})")
        picked = {key: tensors[key]}
    elif len(tensors) == 1:
        picked = tensors
    else:
        picked = None
    if picked is not None:
        (k, arr), = picked.items()
        w = to_conv1d(arr, name=k or os.path.basename(path), layout=layout, notes=notes)
        kernels = [Kernel(k or None, w, tuple(arr.shape), str(arr.dtype), layout, list(notes))]
    else:
        if not tensors:
            raise InputError(f"'{path}' holds no arrays")
        kernels, notes = conv_kernels(tensors, layout=layout)
        if not kernels:
            raise InputError(f"'{path}' holds no conv1d kernels (rank-3 tensors, or rank-4 with a "
                             f"singleton axis) among {len(names)} arrays ({shown}); choose one "
                             f"with --key")
    source = {"path": path, "format": fmt, "key": key if key is not None else
              (kernels[0].name if len(kernels) == 1 else None), "layout": layout}
    if len(kernels) == 1:
        source.update(shape=list(kernels[0].shape), dtype=kernels[0].dtype)
    return kernels, source, notes


def audit(weights, *, stride=1, N: int | str | None = None, draws: int = 1000, seed: int = 0,
          key: str | None = None, layout: str | None = None,
          reference_work: float = DEFAULT_REFERENCE_WORK, cascade: Sequence[str] | None = None,
          max_memory: int | None = None, on_layer=None):
    """Audit trained conv1d weights: frame bounds, where they are attained, and κ against
    ``draws`` random Gaussian layers of the same shape (float64 bounds).

    Args:
      weights: an array — one kernel, PyTorch layout ``(J, C, T)`` or ``(J, T)`` — or a path to a
        weights file (`rfbjax.models.weights`): every conv1d kernel it holds, or the one named by
        ``key``.
      stride: d, an int for every layer, or ``{name: d}`` / ``"conv1=5,conv2=2"`` (name: the tensor
        key or its module path; other layers stride 1).
      N: the DFT grid (a multiple of each stride, at least T): an int, ``"kT"`` (k times each
        layer's T, e.g. ``"8T"``) or ``None``: `default_N` per layer. ``math.inf`` is refused.
      draws: reference draws per layer (reduced for large layers, see `reference_draws`);
        0 skips the reference.
      seed: seed of the reference draws.
      layout: ``"torch"`` or ``"keras"`` (default: keras for Keras files, torch otherwise).
      reference_work: per-layer work cap of the reference.
      cascade: (a path only) names of layers whose linear composite is also audited, in order
        (`audit_cascade`); checked before anything is computed.
      max_memory: memory budget in bytes; the audit's estimate
        (`rfbjax.engine.resources.audit_plan`) is checked against it before anything is computed
        (``None``: not checked).
      on_layer: (a path only) called as ``on_layer(name, done, total)`` before each layer is
        audited and once more at the end (``name`` None): progress.

    Returns:
      A `LayerAudit` for an array (``.kappa``, ``.channels``, ``.reference``,
        ``.percentile``, ``.to_dict()``); a `ModelAudit` (one `LayerAudit` per
        kernel, in file order) for a path.

    Raises:
      InputError: bad input (file, shape, dtype, NaN, stride, N, draws), before any computation.

    Examples:
      >>> import numpy as np
      >>> from rfbjax.models.audits import audit
      >>> res = audit(np.eye(4)[:, None, :], N=16, draws=0)   # four unit delays: a tight frame
      >>> round(res.kappa, 12)
      1.0
    """
    from .weights import to_conv1d

    if draws < 0 or (0 < draws < 2):
        raise InputError(f"--draws: need 0 (no reference) or at least 2, got {draws}")
    default, named = parse_strides(stride)
    if isinstance(weights, (str, os.PathLike)):
        kernels, source, notes = _kernels_from_file(weights, key, layout)
        used: set = set()
        plan = [(k, _stride_for(k.name or "", default, named, used)) for k in kernels]
        unknown = sorted(set(named) - used)
        if unknown:
            have = ", ".join(_module(k.name or "") for k in kernels[:8])
            raise InputError(f"--stride: no conv1d kernel named {unknown[0]!r} (kernels: {have})")
        for k, d in plan:   # validate every layer before computing any
            T = k.w.shape[-1]
            NN = _grid_at(N, T, d)
            _check_N(NN, T, d, f" {k.name!r}" if k.name else "")
        if cascade:
            _check_cascade_names(cascade, plan, N)
        _check_memory([(k.name, *k.w.shape, _grid_at(N, k.w.shape[-1], d), d)
                       for k, d in plan], max_memory)
        layers = []
        for i, (k, d) in enumerate(plan):
            if on_layer is not None:
                on_layer(k.name, i, len(plan))
            src = {**source, "key": k.name, "shape": list(k.shape), "dtype": k.dtype}
            layers.append(audit_layer(k.w, stride=d, N=N, draws=draws, seed=seed, name=k.name,
                                      source=src, reference_work=reference_work, notes=k.notes))
        model = ModelAudit(source, layers, [n for n in notes if not any(n in k.notes
                                                                        for k in kernels)])
        if cascade:
            audit_cascade(model, cascade, N=N)
        if on_layer is not None:
            on_layer(None, len(plan), len(plan))
        return model
    if named or cascade:
        raise InputError("--stride NAME=D and --cascade need a checkpoint (a path), not an array")
    array_notes: list[str] = []
    w = to_conv1d(weights, layout=layout or "torch", notes=array_notes)
    NN = _grid_at(N, w.shape[-1], default)
    _check_N(NN, w.shape[-1], default)
    _check_memory([(None, *w.shape, NN, default)], max_memory)
    return audit_layer(w, stride=default, N=N, draws=draws, seed=seed,
                       source={"path": None, "format": "array", "shape": list(np.shape(weights))},
                       reference_work=reference_work, notes=array_notes)


def _check_memory(layers, max_memory):
    if max_memory is not None:
        from ..engine.resources import audit_plan, check_plan

        check_plan(audit_plan(layers, budget=int(max_memory), block=_BLOCK_BYTES))


def _check_cascade_names(names, plan, N):
    from ..kernels.cascade import check_cascade

    by_name = {}
    for k, d in plan:
        by_name[k.name] = by_name[_module(k.name)] = (k.w.shape, d)
    missing = [nm for nm in names if nm not in by_name]
    if missing:
        have = ", ".join(_module(k.name) for k, _ in plan[:8])
        raise InputError(f"--cascade: no conv1d kernel named {missing[0]!r} (kernels: {have})")
    try:
        D = check_cascade([by_name[nm][0] for nm in names], [by_name[nm][1] for nm in names])
    except InputError as exc:
        raise InputError(f"--cascade: {str(exc).removeprefix('cascade: ')}") from None
    g = _grid(N)
    if g is not None and g.kind == "int" and g.at(1) % D:
        raise InputError(f"--N: {N} is not a multiple of the cascade's composite stride {D}")


def audit_cascade(model: ModelAudit, names: Sequence[str], *, N: int | str | None = None) -> dict:
    """Frame bounds of the linear composite of the audited layers ``names`` (in that order, with
    the strides they were audited at), in float64 (`rfbjax.kernels.cascade.composite_kernel`).
    Nonlinearities, biases, normalisation and pooling are ignored. Appended to
    ``model.cascades`` and returned."""
    import jax

    from ..kernels.cascade import check_cascade, composite_kernel

    if len(names) < 1:
        raise InputError("--cascade: name at least one layer")
    layers = []
    for nm in names:
        try:
            layers.append(model[nm])
        except KeyError:
            have = ", ".join(_module(lay.name) for lay in model.layers[:8])
            raise InputError(f"--cascade: no conv1d kernel named {nm!r} (kernels: {have})") \
                from None
    shapes = [(lay.shape["J"], lay.shape["C"], lay.shape["T"]) for lay in layers]
    strides = [lay.shape["stride"] for lay in layers]
    try:
        D = check_cascade(shapes, strides)
    except InputError as exc:
        raise InputError(f"--cascade: {str(exc).removeprefix('cascade: ')}") from None
    ws = [lay.weights for lay in layers]
    with jax.enable_x64(True):
        h, D = composite_kernel([np.asarray(w, dtype=np.float64) for w in ws], strides)
        h = np.asarray(h, dtype=np.float64)
    J, C, T = h.shape
    NN = _grid_at(N, T, D)
    if NN % D:
        raise InputError(f"--N: {NN} is not a multiple of the cascade's composite stride {D}")
    hf = fold_taps(h, NN)
    lo, hi = spectral_extremes(hf[None], NN, D)
    B = float(hi.max())
    A = float(lo.min()) if J >= C * D else 0.0
    if A <= _floor(B, T):
        A = 0.0
    # by counting: layer l leaves J_l channels at rate 1/D_l, J_l D/D_l numbers per C·D inputs
    D_l = np.cumprod(strides)
    rank_def = any(sh[0] < C * int(dl) for sh, dl in zip(shapes, D_l))
    if rank_def:
        A = 0.0
    note = ("linear composite (nonlinearities, biases, normalisation and pooling ignored): "
            f"kernel {J}x{C}x{T}, stride {D}, N={NN}; "
            + ("rank deficient (some layer l has J_l < C·D_l: fewer numbers than inputs), no lower "
               "frame bound" if rank_def else f"kappa = {B / A:.4g}" if A > 0 else "dead band: kappa = inf"))
    rec = {"layers": [_module(lay.name) for lay in layers], "strides": strides, "stride": D,
           "composite_shape": [J, C, T], "N": NN, "A": A, "B": B,
           "kappa": B / A if A > 0 else math.inf, "rank_deficient": rank_def, "note": note}
    model.cascades.append(rec)
    return rec


def input_rates(model, fs: float | None) -> list:
    """The sampling rate at each layer's input when ``fs`` is the model's input rate: the layers
    are taken to run in file order, each dividing the rate by its stride, with nothing else
    (pooling, resampling) between them; from the first layer whose input channels do not match
    the previous layer's outputs on, the rate is unknown (None)."""
    rates, r = [], fs
    for i, lay in enumerate(model.layers):
        if i and r is not None and lay.shape["C"] != model.layers[i - 1].shape["J"]:
            r = None
        rates.append(r)
        r = None if r is None else r / lay.shape["stride"]
    return rates
