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
from ..kernels.conv_structure import (  # noqa: E402  (the host float64 spectra)
    alias_matrices as _alias_matrices, gram as _gram, single_threaded_blas as _single_threaded_blas,
    spectral_curves, spectral_extremes)


def _floor(B: float, T: int) -> float:
    from ..kernels.frames import rounding_floor

    return float(rounding_floor(B, T, np.float64))


def _fold_freq(k, N):
    f = (int(k) % N) / N
    return min(f, 1.0 - f)


def _summary(blocks, N, d, lo, rlo, hi) -> dict:
    """A, B, κ, the Riesz bound and where they are attained, for one layer given as its group
    blocks ``(g, J/g, C_g, T)`` with their curves ``(g, n_xi)`` (`spectral_curves`)."""
    g, J, Cg, T = blocks.shape
    K = Cg * d
    M = N // d
    lam_min, riesz_min, lam_max = lo.min(axis=0), rlo.min(axis=0), hi.max(axis=0)
    xB = int(np.argmax(lam_max))
    kB = int(np.argmax(hi[:, xB]))
    B = float(lam_max[xB])
    xA = int(np.argmin(lam_min))
    kA = int(np.argmin(lo[:, xA]))
    A = float(lam_min[xA]) if J >= K else 0.0
    if A <= _floor(B, T):
        A = 0.0
    xR = int(np.argmin(riesz_min))
    AR = float(riesz_min[xR]) if J <= K else 0.0
    if AR <= _floor(B, T):
        AR = 0.0
    out = {"A": A, "B": B, "kappa": B / A if A > 0 else math.inf, "riesz_A": AR,
           "riesz_kappa": B / AR if AR > 0 else math.inf, "dead_band": A == 0.0 and J >= K,
           "rank_deficient": J < K, "mean_gain": float(np.sum(blocks ** 2) / (g * K)),
           "freq_B": xB / N, "freq_A": None if J < K else xA / N,
           "freq_riesz_A": None if J > K else xR / N}

    def dominant(k, x, which):
        G = _alias_matrices(blocks[k][None], N, d, [x])[0, 0]
        with _single_threaded_blas():
            if G.shape[0] < G.shape[1]:   # top eigenvector of G^H G from the smaller G G^H
                v = G.conj().T @ np.linalg.eigh(_gram(G, d))[1][:, -1]
            else:
                v = np.linalg.eigh(_gram(G, d))[1][:, which]
        c, a = divmod(int(np.argmax(np.abs(v) ** 2)), d)
        return _fold_freq(x + a * M, N), c + k * Cg

    out["dominant_freq_B"], cB = dominant(kB, xB, -1)
    out["dominant_freq_A"], cA = (None, None) if J < K else dominant(kA, xA, 0)
    if g * Cg > 1:
        out["dominant_channel_A"], out["dominant_channel_B"] = cA, cB
    out["_curves"] = {"xi": np.arange(len(lam_min)) / N, "lam_min": lam_min, "lam_max": lam_max,
                      "riesz_min": riesz_min}
    return out


def analyse(w, N: int, stride: int = 1, *, groups: int = 1, channels: bool = True) -> dict:
    """Frame and Riesz bounds of every input channel and of the whole layer (float64).

    Args:
      w: the analysis kernel ``(J, C_g, T)`` (already dilated; a transposed layer's stored
        weight, the strided conv it transposes).
      N: DFT grid, a multiple of ``stride``.
      groups: g: the layer is block diagonal over g groups (`rfbjax.kernels.conv_structure`);
        it has $C = g C_g$ input channels, and input channel c sees the J/g filters of its group.
      channels: also analyse every input channel's filterbank.

    Returns:
      ``{"channels": [...], "layer": {...} or None, "power": (C, N//2+1)}``: per channel and
        for the layer the keys ``A``, ``B``, ``kappa``, ``riesz_A``, ``riesz_kappa``,
        ``dead_band``, ``rank_deficient``, ``mean_gain``, ``freq_A``, ``freq_B``,
        ``freq_riesz_A``, ``dominant_freq_A``, ``dominant_freq_B`` (and the dominant channel for
        the layer), plus eigenvalue curves under ``_curves``.
    """
    from ..kernels.conv_structure import group_blocks

    w = fold_taps(np.asarray(w, dtype=np.float64), N)
    blocks = group_blocks(w, groups)                         # (g, J/g, C_g, T)
    g, Jg, Cg, T = blocks.shape
    C = g * Cg
    d = int(stride)
    rows = []
    if channels or C == 1:
        per = blocks.transpose(0, 2, 1, 3).reshape(C, Jg, 1, T)[:, None]  # C filterbanks
        lo, rlo, hi = spectral_curves(per.reshape(C, Jg, 1, T), N, d)
        for c in range(C):
            r = _summary(per[c], N, d, lo[c:c + 1], rlo[c:c + 1], hi[c:c + 1])
            r["channel"] = c
            rows.append(r)
    layer = None
    if C > 1:
        lo, rlo, hi = spectral_curves(blocks, N, d)
        layer = _summary(blocks, N, d, lo, rlo, hi)
    step = max(1, _BLOCK_BYTES // (16 * Jg * (N // 2 + 1)))
    per_c = blocks.transpose(0, 2, 1, 3).reshape(C, Jg, T)   # input channel c: its group's filters
    power = np.concatenate([np.sum(np.abs(np.fft.rfft(per_c[c0:c0 + step], n=N, axis=-1)) ** 2,
                                   axis=1) for c0 in range(0, C, step)])
    return {"channels": rows, "layer": layer, "power": power}


# ----------------------------------------------------------------------------- reference draws
def draw_work(J: int, C: int, T: int, N: int, stride: int = 1, groups: int = 1) -> float:
    """Work of one reference draw (≈ flops): spectra, Gram matrices and eigenvalue problems over
    the M/2 + 1 base frequencies (``C``: the stored input channels per group; g blocks of
    J/g filters)."""
    d = int(stride)
    g = int(groups)
    Jg = J // g
    K = C * d
    r = min(Jg, K)
    n_xi = N // d // 2 + 1
    spectra = J * C * N * (math.log2(max(N, 2)) if J * C * N * 8 <= _BLOCK_BYTES // 3
                           else 4 * min(T, N))
    return float(spectra + g * n_xi * (8 * Jg * K * r + 10 * r ** 3))


def reference_draws(J: int, C: int, T: int, N: int, stride: int = 1, *, draws: int = 1000,
                    reference_work: float = DEFAULT_REFERENCE_WORK, groups: int = 1,
                    of: str = "kappa") -> int:
    """Draws a layer's reference gets: ``draws``, reduced for large layers so that their work
    stays under ``reference_work`` (but never below `MIN_DRAWS`); 0 when the counting already
    decides (``of="kappa"``: J/g < C·d, no lower frame bound; ``of="riesz_kappa"``: J/g > C·d, no
    lower Riesz bound) or ``draws`` is 0. A function of the shape only, so the same layer always
    gets the same draws."""
    Jg, K = J // int(groups), C * int(stride)
    if draws <= 0 or (Jg < K if of == "kappa" else Jg > K):
        return 0
    fit = int(reference_work // max(draw_work(J, C, T, N, stride, groups), 1.0))
    return int(min(draws, max(MIN_DRAWS, fit)))


def _reference_tags(J, C, T, N, d, groups=1, dilation=1):
    if C == 1 and groups == 1 and dilation == 1:
        from ..engine.measure import bounds_measurement

        return bounds_measurement(J, T, N, **({} if d == 1 else {"stride": d})).tags
    extra = () if groups == 1 and dilation == 1 else ("groups", groups, "dilation", dilation)
    return ("audit-layer", "gaussian", J, C, T, N, d, "float32") + extra


@functools.lru_cache(maxsize=32)
def _reference_draw(shape: tuple, batch: int, options: tuple):
    """jit: ``batch`` Gaussian layers of ``shape`` (float32), sample i from ``fold_in(base, i)``."""
    import jax
    import jax.numpy as jnp

    from ..engine.montecarlo import sample_keys
    from ..kernels import rng

    def draw(base, idx):
        return jax.vmap(lambda k: rng.normal(k, shape, jnp.float32))(sample_keys(base, idx))

    return jax.jit(draw, compiler_options=dict(options))


def reference_kappas(J: int, C: int, T: int, N: int, stride: int = 1, *, draws: int = 1000,
                     seed: int = 0, max_memory: int = _BLOCK_BYTES, groups: int = 1,
                     dilation: int = 1, of: str = "kappa") -> np.ndarray:
    """κ (``of="kappa"``) or the Riesz κ (``of="riesz_kappa"``) of ``draws`` Gaussian layers
    ``(J, C, T)`` (C: input channels per group) with ``groups`` and ``dilation`` on Z_N with
    stride d (C = 1, no groups or dilation: the filterbanks that ``rfbjax bounds`` draws at that
    seed), taps float32, bounds float64.

    Sample i uses the key ``fold_in(stream_key(seed, tags), i)`` of the Monte Carlo driver, so the
    values do not depend on how the draws are batched.
    """
    import jax

    from ..engine import montecarlo as mc
    from ..kernels.conv_structure import dilate, group_blocks

    d, g = int(stride), int(groups)
    if draws <= 0:
        return np.zeros(0)
    base = mc.stream_key(seed, *_reference_tags(J, C, T, N, d, g, int(dilation)))
    shape = (J, T) if C == 1 else (J, C, T)
    Td = (T - 1) * int(dilation) + 1
    per_draw = 16 * J * C * (N // 2 + 1) + 8 * J * C * Td
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
        w = fold_taps(dilate(w, dilation), N)
        blocks = np.concatenate([group_blocks(wi, g) for wi in w])       # (n g, J/g, C, T)
        lo, rlo, hi = spectral_curves(blocks, N, d, max_bytes=max_memory)
        lo = (rlo if of == "riesz_kappa" else lo).reshape(n, g, -1).min(axis=(1, 2))
        hi = hi.reshape(n, g, -1).max(axis=(1, 2))
        floor = np.array([_floor(b, Td) for b in hi])
        A = np.where(lo <= floor, 0.0, lo)
        with np.errstate(divide="ignore"):
            out[i0:i0 + n] = np.where(A > 0, hi / np.where(A > 0, A, 1.0), np.inf)
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


def _compare(value: float, summ: dict | None, ref, of: str = "kappa") -> dict:
    if summ is None:
        return {"percentile": None, "percentile_of": None, "percentile_kappa": None,
                "ratio_to_median": None, "ratio_to_q95": None}
    med, q95 = summ["median_kappa"], summ["q95_kappa"]
    ratio = (lambda x: value / x if math.isfinite(x) and x > 0 else None)
    pct = percentile(value, ref)
    return {"percentile": pct, "percentile_of": of,
            "percentile_kappa": pct if of == "kappa" else None,
            "ratio_to_median": ratio(med), "ratio_to_q95": ratio(q95)}


def _ratio(r: float) -> str:
    """1500 (not 1.5e+03) for ratios between 100 and 100000; three significant digits otherwise."""
    return f"{r:.0f}" if 100 <= r < 1e5 else f"{r:.3g}"


def _num(x) -> str:
    return "∞" if x is None or not math.isfinite(x) else f"{x:.4g}"


def kappa_sentence(row: dict, ref: dict | None, *, transposed: bool = False) -> str:
    """"κ = 3329, 1500× the random median, above all 1000 draws" (or why no comparison); for a
    contracting layer the Riesz κ, for a transposed layer the decoder's Riesz κ first."""
    of = row.get("percentile_of") or ("kappa" if math.isfinite(row["kappa"])
                                      or row.get("riesz_kappa") is None else "riesz_kappa")
    k = row[of] if row.get(of) is not None else math.inf
    sym = "κ" if of == "kappa" else "Riesz κ"
    lead = ""
    if of == "riesz_kappa" and row.get("rank_deficient"):
        lead = "κ = ∞: rank deficient (J < C·stride), no lower frame bound; "
    elif of == "riesz_kappa":
        lead = f"κ = {_num(row['kappa'])}; "
    if transposed:
        lead = (f"decoder (transposed conv): Riesz κ = {_num(row.get('riesz_kappa'))} is its "
                f"stability, κ = {_num(row['kappa'])} that of the conv it transposes; ")
        sym = "κ" if of == "kappa" else "Riesz κ"
    if ref is None and transposed:
        return lead.removesuffix("; ") + " (no reference drawn)"
    if ref is None:
        if row.get("rank_deficient") and of == "kappa":
            return (lead + "κ = ∞: rank deficient (J < C·stride), no lower frame bound; "
                    "no reference drawn")
        return lead + f"{sym} = {_num(k)} (no reference drawn)"
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
        pct = row.get("percentile", row.get("percentile_kappa"))
        where = f"at the {pct:.1f}th percentile of {n} draws"
    return f"{lead}{sym} = {_num(k)}{rel}, {where}"


# ----------------------------------------------------------------------------- results
@dataclass
class LayerAudit:
    """The audit of one conv1d layer.

    ``rows``: one record per input channel (``part`` = ``"channel c"``) and, when C > 1, one for
    the whole layer (``part`` = ``"layer"``); for C = 1 the single row is the layer. ``reference``:
    the random draws' summary (``channel``, and ``layer`` when C > 1), or ``None``.
    ``structure``: ``stride``, ``groups``, ``dilation``, ``transposed``, ``reparametrization``
    and where each came from (``origin``).
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
    structure: dict = field(default_factory=dict)

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
    def riesz_A(self) -> float:
        return self.summary["riesz_A"]

    @property
    def riesz_kappa(self) -> float:
        return self.summary["riesz_kappa"]

    @property
    def lipschitz(self) -> float:
        r"""$\sqrt B$: the layer's Lipschitz constant (operator norm)."""
        return math.sqrt(self.summary["B"])

    @property
    def percentile(self) -> float | None:
        return self.summary["percentile"]

    @property
    def rank_deficient(self) -> bool:
        return bool(self.summary["rank_deficient"])

    @property
    def transposed(self) -> bool:
        return bool(self.structure.get("transposed", False))

    @property
    def channels(self) -> list:
        """Per-input-channel rows (the single row when C = 1)."""
        return [r for r in self.rows if r["part"] != "layer"] or self.rows[:1]

    @property
    def matters(self) -> str:
        """Which number describes the layer's stability: ``"kappa"`` (an encoder that keeps its
        input) or ``"riesz_kappa"`` (a decoder, or a contracting layer: J < C·stride)."""
        if self.transposed or self.rank_deficient:
            return "riesz_kappa"
        return "kappa"

    def _ref(self):
        if self.reference is None:
            return None
        return self.reference.get("layer" if self.shape["C"] > 1 else "channel")

    def sentence(self) -> str:
        return kappa_sentence(self.summary, self._ref(), transposed=self.transposed)

    def record(self) -> dict:
        """The ``layers`` record of audit.json."""
        s, r, st = self.shape, self.summary, self.structure
        ks = [c["kappa"] for c in self.channels]
        ref = self._ref()
        return {"name": self.name, "shape": list(s["stored"]), "stride": s["stride"],
                "groups": st.get("groups", 1), "dilation": st.get("dilation", 1),
                "transposed": st.get("transposed", False),
                "reparametrization": st.get("reparametrization"),
                "in_channels": s["in_channels"], "out_channels": s["out_channels"],
                "origin": dict(st.get("origin", {})), "N": s["N"],
                "A": r["A"], "B": r["B"], "kappa": r["kappa"], "riesz_A": r["riesz_A"],
                "riesz_kappa": r["riesz_kappa"], "lipschitz": math.sqrt(r["B"]),
                "matters": self.matters,
                "rank_deficient": r["rank_deficient"], "dead_band": r["dead_band"],
                "percentile": r["percentile"], "percentile_of": r["percentile_of"],
                "percentile_kappa": r["percentile_kappa"], "ratio_to_median": r["ratio_to_median"],
                "ratio_to_q95": r["ratio_to_q95"],
                "reference_draws": 0 if ref is None else ref["draws"],
                "reference_median_kappa": None if ref is None else ref["median_kappa"],
                "reference_median_ci": None if ref is None else ref["median_ci"],
                "channel_kappa": {"min": float(np.min(ks)), "median": float(np.median(ks)),
                                  "max": float(np.max(ks))},
                "freq_A": r["freq_A"], "freq_B": r["freq_B"], "freq_riesz_A": r["freq_riesz_A"],
                "mean_gain": r["mean_gain"], "summary": self.sentence(),
                "notes": list(self.notes)}

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
        from .layer_spec import match_layer

        if isinstance(name, int):
            return self.layers[name]
        try:
            found = match_layer(name, [lay.name or "" for lay in self.layers], "layer")
        except InputError:
            raise KeyError(name) from None
        return next(lay for lay in self.layers if (lay.name or "") == found)

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


def _of(row, Jg, K) -> str:
    """The number the reference covers: κ when it is finite (or when no Riesz bound can exist),
    the Riesz κ otherwise."""
    return "kappa" if math.isfinite(row["kappa"]) or Jg > K else "riesz_kappa"


def audit_layer(w, *, stride: int = 1, N: int | str | None = None, draws: int = 1000,
                seed: int = 0,
                name: str | None = None, source: dict | None = None,
                reference_work: float = DEFAULT_REFERENCE_WORK, notes: Sequence[str] = (),
                groups: int = 1, dilation: int = 1, transposed: bool = False,
                reparametrization: str | None = None, origin: dict | None = None
                ) -> LayerAudit:
    """Audit one kernel ``w`` (float64, as stored: ``(J, C/g, T)``, or ``(C_in, C_out/g, T)``
    when ``transposed``; validated): see `audit`."""
    from ..kernels.conv_structure import check_structure, dilate
    from ..kernels.strided import check_stride

    w = np.asarray(w, dtype=np.float64)
    check_structure(w.shape, groups=groups, dilation=dilation, transposed=transposed,
                    name=name or "")
    g, delta = int(groups), int(dilation)
    wa = dilate(w, delta)                      # the analysis kernel (J, C_g, T_dilated)
    J, Cg, T = wa.shape
    Jg, C = J // g, g * Cg
    d = int(stride)
    check_stride(None, stride)
    N = _grid_at(N, T, d)
    _check_N(N, T, d, f" {name!r}" if name else "")
    if draws < 0 or (0 < draws < 2):
        raise InputError(f"--draws: need 0 (no reference) or at least 2, got {draws}")
    res = analyse(wa, N, d, groups=g)
    T0 = w.shape[-1]
    layer_row = res["layer"] if res["layer"] is not None else res["channels"][0]
    of_l = _of(layer_row, Jg, Cg * d)
    of_c = of_l if C == 1 else ("kappa" if Jg >= d else "riesz_kappa")
    n_c = reference_draws(Jg, 1, T0, N, d, draws=draws, reference_work=reference_work, of=of_c)
    n_l = (reference_draws(J, Cg, T0, N, d, draws=draws, reference_work=reference_work,
                           groups=g, of=of_l) if C > 1 else 0)
    ref_c = (reference_kappas(Jg, 1, T0, N, d, draws=n_c, seed=seed, dilation=delta, of=of_c)
             if n_c else None)
    ref_l = (reference_kappas(J, Cg, T0, N, d, draws=n_l, seed=seed, groups=g, dilation=delta,
                              of=of_l) if n_l else None)
    s_c = _ref_summary(ref_c) if ref_c is not None else None
    s_l = _ref_summary(ref_l) if ref_l is not None else None
    rows, curves = [], []
    for r in res["channels"]:
        part = f"channel {r['channel']}" if C > 1 else "layer"
        curves.append((part, r.pop("_curves")))
        rows.append({"part": part, **r, **_compare(r[of_c], s_c, ref_c, of_c)})
    if res["layer"] is not None:
        r = res["layer"]
        curves.append(("layer", r.pop("_curves")))
        rows.append({"part": "layer", **r, **_compare(r[of_l], s_l, ref_l, of_l)})
    reference = None
    notes = list(notes)
    label = name or "kernel"
    if s_c is not None or s_l is not None:
        reference = {"init": "gaussian", "draws": int(draws), "seed": int(seed),
                     "dtype": "float32 taps, float64 bounds"}
        if s_c is not None:
            reference["channel"] = {"shape": [Jg, T0], "of": of_c, **s_c, "_values": ref_c}
        if s_l is not None:
            reference["layer"] = {"shape": [J, Cg, T0], "groups": g, "dilation": delta,
                                  "of": of_l, **s_l, "_values": ref_l}
        for part, s in (("channel", s_c), ("layer", s_l)):
            if s is not None and s["draws"] < draws:
                notes.append(f"{label}: {part} reference reduced to {s['draws']} of "
                             f"{draws} draws for its size; random median within "
                             f"[{s['median_ci'][0]:.4g}, {s['median_ci'][1]:.4g}] "
                             f"({100 * s['median_ci_level']:.0f} %)")
    elif draws == 0:
        notes.append(f"{label}: no reference (draws = 0)")
    if Jg < Cg * d:
        per = f" per group ({g} groups)" if g > 1 else ""
        notes.append(f"{label}: rank deficient: J = {Jg} outputs < C·stride = {Cg * d} "
                     f"inputs per frequency{per}, no lower frame bound (κ = ∞); "
                     + (f"its filters' Riesz κ = {_num(layer_row['riesz_kappa'])} (the stability "
                        f"of what the layer keeps)" + (", compared with random layers"
                                                       if ref_l is not None or (C == 1 and ref_c
                                                                                is not None)
                                                       else "")))
    if transposed:
        notes.append(f"{label}: transposed conv, weight (C_in, C_out/g, T) = {tuple(w.shape)}: "
                     f"A, B, κ are those of the strided conv it transposes ({J} filters on "
                     f"{C} channels); riesz_kappa is the decoder's stability")
    if reparametrization:
        how = ("g·v/‖v‖" if reparametrization.startswith("weight") else "W/σ, σ = u·(W v)")
        notes.append(f"{label}: effective weight {how} folded in ({reparametrization})")
    method = (f"circular convolution on Z_N, N={N}, stride {d}"
              + (f", dilation {delta} (kernel of {T} taps)" if delta > 1 else "")
              + (f", {g} groups (block-diagonal: A = min over groups, B = max)" if g > 1 else "")
              + (", the adjoint analysis of a transposed conv" if transposed else "")
              + f": per input channel the {d}x{d} polyphase matrices M(xi) = G^H G/d, "
              "G[j, a] = w_hat_j[xi + aN/d]"
              + (f"; whole layer: {Cg * d}x{Cg * d} matrices over (channel, alias)" if C > 1
                 else "")
              + "; A = min eigenvalue, B = max eigenvalue over xi; riesz_A = min eigenvalue of "
              "G G^H/d over xi (float64); frequencies in cycles/sample")
    shape = {"J": J, "C": C, "T": T, "N": N, "stride": d, "stored": list(w.shape),
             "in_channels": J if transposed else C, "out_channels": C if transposed else J}
    structure = {"stride": d, "groups": g, "dilation": delta, "transposed": bool(transposed),
                 "reparametrization": reparametrization, "origin": dict(origin or {})}
    return LayerAudit(name, dict(source or {}), shape, rows, reference, method, res["power"],
                      curves, notes, w, structure)


def parse_strides(spec) -> tuple[int, dict]:
    """``--stride``: ``"4"`` (every layer) or ``"conv1=5,conv2=2"`` (others 1); an int or a
    mapping in Python. Returns ``(default, {name: d})``."""
    from .layer_spec import parse_layer_values

    default, named = parse_layer_values(spec, "--stride")
    return (1 if default is None else default), named


def load_conv1d(path, key: str | None = None, *, layout: str = "torch",
                max_memory: int | None = None):
    """Read one conv1d kernel: ``(w, source)`` with ``w`` float64 ``(J, C, T)``.

    Without ``key`` the file must hold one tensor (or exactly one conv1d kernel). The file's
    declared sizes are checked against ``max_memory`` before reading
    (`rfbjax.models.weights.read_tensors`).
    """
    specs, source, _ = _layers_from_file(path, key, layout, max_memory)
    if len(specs) != 1:
        raise InputError(f"'{path}' holds {len(specs)} conv1d kernels; choose one with --key")
    return specs[0].w, source


def _layers_from_file(path, key, layout, max_memory=None):
    """The `LayerSpec` s of a weights file (effective weights, structure from the file), the
    source record and the file-level notes."""
    from .layer_spec import LayerSpec
    from .reparam import fold_reparametrizations
    from .weights import _check_path, conv_kernels, file_format, read_tensors, to_conv1d

    path = os.fspath(path)
    _check_path(path)
    fmt = file_format(path)
    structure: dict = {}
    file_notes: list[str] = []
    if fmt == "onnx":
        from .onnx_reader import read_onnx_layers

        found, file_notes = read_onnx_layers(path, budget=max_memory)
        tensors = {lay["name"]: lay["weight"] for lay in found}
        structure = {lay["name"]: lay for lay in found}
        layout = "torch" if layout is None else layout
    else:
        tensors, fmt = read_tensors(path, max_memory=max_memory)
    if layout is None:
        layout = "keras" if fmt == "keras" else "torch"
    tensors, folded, fold_notes = fold_reparametrizations(tensors, path=path)
    if fmt == "keras":
        from .keras_config import keras_structure, structure_for

        conf = keras_structure(path)
        for k in tensors:
            hit = structure_for(k, conf)
            if hit is not None:
                structure[k] = {**hit[1], "keras_layer": hit[0]}
        if conf:
            file_notes.append(f"strides, dilation and groups of {len(conf)} conv layer(s) read "
                              f"from the Keras model config")
    names = list(tensors)
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    notes: list[str] = list(file_notes) + fold_notes
    if key is not None and fmt == "npy":
        raise InputError("--key: a .npy file holds one array; --key is for files with named "
                         "tensors")
    if key is not None:
        if key not in tensors:
            from .layer_spec import match_layer

            try:
                key = match_layer(key, names, "--key")
            except InputError as exc:
                if "ambiguous" in str(exc):
                    raise
                raise InputError(f"--key: '{path}' has no array {key!r} (it has: "
                                 f"{shown or 'none'})") from None
        picked = {key: tensors[key]}
    elif len(tensors) == 1:
        picked = tensors
    else:
        picked = None
    if picked is not None:
        (k, arr), = picked.items()
        local: list[str] = []
        w = to_conv1d(arr, name=k or os.path.basename(path), layout=layout, notes=local)
        kernels = [(k or None, w, tuple(np.shape(arr)), str(np.asarray(arr).dtype), local)]
    else:
        if not tensors:
            raise InputError(f"'{path}' holds no arrays" + (" (no Conv / ConvTranspose node "
                                                            "with a constant weight)"
                                                            if fmt == "onnx" else ""))
        ks, kn = conv_kernels(tensors, layout=layout)
        notes += [n for n in kn if not any(n in k.notes for k in ks)]
        kernels = [(k.name, k.w, k.shape, k.dtype, k.notes) for k in ks]
        if not kernels:
            raise InputError(f"'{path}' holds no conv1d kernels (rank-3 tensors, or rank-4 with a "
                             f"singleton axis) among {len(names)} arrays ({shown}); choose one "
                             f"with --key")
    specs = []
    for name, w, shp, dt, knotes in kernels:
        spec = LayerSpec(name, w, shp, dt, layout, list(knotes),
                         reparametrization=folded.get(name))
        st = structure.get(name)
        if st is not None:
            for attr in ("stride", "groups", "dilation", "transposed"):
                setattr(spec, attr, type(getattr(spec, attr))(st[attr]))
                spec.origin[attr] = "file"
            spec.notes += list(st.get("notes", []))
        specs.append(spec)
    source = {"path": path, "format": fmt, "key": key if key is not None else
              (specs[0].name if len(specs) == 1 else None), "layout": layout}
    if folded:
        source["reparametrizations"] = dict(folded)
    if len(specs) == 1:
        source.update(shape=list(specs[0].shape), dtype=specs[0].dtype)
    return specs, source, notes


def audit(weights, *, stride=None, N: int | str | None = None, draws: int = 1000, seed: int = 0,
          key: str | None = None, layout: str | None = None,
          reference_work: float = DEFAULT_REFERENCE_WORK, cascade: Sequence[str] | None = None,
          max_memory: int | None = None, groups=None, dilation=None, transposed=None,
          infer_groups: bool = False, on_layer=None):
    """Audit trained conv1d weights: frame and Riesz bounds, where they are attained, and κ (or
    the Riesz κ) against ``draws`` random Gaussian layers of the same structure (float64).

    Args:
      weights: an array — one kernel, PyTorch layout ``(J, C/g, T)`` or ``(J, T)`` (a transposed
        conv: ``(C_in, C_out/g, T)``) — or a path to a weights file (`rfbjax.models.weights`,
        ONNX through `rfbjax.models.onnx_reader`): every conv1d kernel it holds, or the one
        named by ``key``. Weight-norm and spectral-norm tensors are folded into effective
        weights (`rfbjax.models.reparam`).
      stride: d, an int for every layer, or ``{name: d}`` / ``"conv1=5,conv2=2"``; ``None``:
        the file's strides (ONNX, Keras), else 1. Names are matched by
        `rfbjax.models.layer_spec.match_layer` (full key, key without ``.weight``, or a unique
        dotted suffix).
      groups: g per layer, like ``stride`` (block-diagonal analysis).
      dilation: δ per layer, like ``stride`` (the dilated kernel).
      transposed: names of transposed (ConvTranspose1d) layers, or ``True`` for an array.
      infer_groups: apply the groups a chain of shapes suggests (otherwise only noted).
      N: the DFT grid (a multiple of each stride, at least T): an int, ``"kT"`` (k times each
        layer's T, e.g. ``"8T"``) or ``None``: `default_N` per layer. ``math.inf`` is refused.
      draws: reference draws per layer (reduced for large layers, see `reference_draws`);
        0 skips the reference.
      seed: seed of the reference draws.
      layout: ``"torch"`` or ``"keras"`` (default: keras for Keras files, torch otherwise).
      reference_work: per-layer work cap of the reference.
      cascade: (a path only) names of layers whose linear composite is also audited, in the
        order data flows (`audit_cascade`); checked before anything is computed.
      max_memory: memory budget in bytes; the audit's estimate
        (`rfbjax.engine.resources.audit_plan`) is checked against it before anything is computed
        (``None``: not checked), and the ONNX reader bounds its reads by it.
      on_layer: (a path only) called as ``on_layer(name, done, total)`` before each layer is
        audited and once more at the end (``name`` None): progress.

    Returns:
      A `LayerAudit` for an array (``.kappa``, ``.riesz_kappa``, ``.channels``, ``.reference``,
        ``.percentile``, ``.to_dict()``); a `ModelAudit` (one `LayerAudit` per kernel, in
        file order) for a path.

    Raises:
      InputError: bad input (file, shape, dtype, NaN, stride, groups, dilation, N, draws, a
        layer name that matches none or several), before any computation.

    Examples:
      >>> import numpy as np
      >>> from rfbjax.models.audits import audit
      >>> res = audit(np.eye(4)[:, None, :], N=16, draws=0)   # four unit delays: a tight frame
      >>> round(res.kappa, 12)
      1.0
    """
    from .layer_spec import LayerSpec, apply_structure, parse_layer_values
    from .weights import to_conv1d

    if draws < 0 or (0 < draws < 2):
        raise InputError(f"--draws: need 0 (no reference) or at least 2, got {draws}")
    if isinstance(weights, (str, os.PathLike)):
        specs, source, notes = _layers_from_file(weights, key, layout, max_memory)
        notes = list(notes) + apply_structure(specs, stride=stride, groups=groups,
                                              dilation=dilation, transposed=transposed,
                                              infer=infer_groups)
        for s in specs:   # validate every layer before computing any
            T = (s.w.shape[-1] - 1) * s.dilation + 1
            NN = _grid_at(N, T, s.stride)
            _check_N(NN, T, s.stride, f" {s.name!r}" if s.name else "")
        if cascade:
            _check_cascade_names(cascade, specs, N)
        _check_memory([_plan_row(s, N) for s in specs], max_memory)
        layers = []
        for i, s in enumerate(specs):
            if on_layer is not None:
                on_layer(s.name, i, len(specs))
            src = {**source, "key": s.name, "shape": list(s.shape), "dtype": s.dtype}
            layers.append(audit_layer(s.w, stride=s.stride, N=N, draws=draws, seed=seed,
                                      name=s.name, source=src, reference_work=reference_work,
                                      notes=s.notes, groups=s.groups, dilation=s.dilation,
                                      transposed=s.transposed,
                                      reparametrization=s.reparametrization, origin=s.origin))
        kernel_notes = [n for s in specs for n in s.notes]
        model = ModelAudit(source, layers, [n for n in notes if n not in kernel_notes])
        if cascade:
            audit_cascade(model, cascade, N=N)
        if on_layer is not None:
            on_layer(None, len(specs), len(specs))
        return model
    for opt, v in (("--stride", stride), ("--groups", groups), ("--dilation", dilation)):
        if isinstance(v, Mapping) or (isinstance(v, str) and "=" in v):
            raise InputError(f"{opt} NAME=V needs a checkpoint (a path), not an array")
    if cascade or (transposed not in (None, False, True)):
        raise InputError("--cascade and --transposed NAME need a checkpoint (a path), not an array")
    array_notes: list[str] = []
    w = to_conv1d(weights, layout=layout or "torch", notes=array_notes)
    spec = LayerSpec(None, w, tuple(np.shape(weights)), str(np.asarray(weights).dtype),
                     layout or "torch", array_notes)
    apply_structure([spec], stride=parse_layer_values(stride, "--stride")[0],
                    groups=parse_layer_values(groups, "--groups")[0],
                    dilation=parse_layer_values(dilation, "--dilation")[0])
    spec.transposed = bool(transposed)
    T = (w.shape[-1] - 1) * spec.dilation + 1
    NN = _grid_at(N, T, spec.stride)
    _check_N(NN, T, spec.stride)
    _check_memory([_plan_row(spec, N)], max_memory)
    return audit_layer(w, stride=spec.stride, N=N, draws=draws, seed=seed,
                       source={"path": None, "format": "array", "shape": list(np.shape(weights))},
                       reference_work=reference_work, notes=array_notes, groups=spec.groups,
                       dilation=spec.dilation, transposed=spec.transposed)


def _plan_row(s, N):
    """``(name, J, C, T, N, d)`` of the memory plan: the dense equivalent of the layer (an upper
    bound for a grouped one)."""
    J, Cg, T0 = s.w.shape
    T = (T0 - 1) * s.dilation + 1
    NN = _grid_at(N, T, s.stride)
    return (s.name, J, Cg * s.groups, T, NN, s.stride)


def _check_memory(layers, max_memory):
    if max_memory is not None:
        from ..engine.resources import audit_plan, check_plan

        check_plan(audit_plan(layers, budget=int(max_memory), block=_BLOCK_BYTES))


def _analysis_layers(items):
    """``(weights, strides, transposed)`` of a chain of `LayerSpec` s or `LayerAudit` s as one
    stack of strided convs (`rfbjax.kernels.cascade.analysis_stack`)."""
    from ..kernels.cascade import analysis_stack

    ws, st = [], []
    for s in items:
        if hasattr(s, "structure"):
            ws.append(np.asarray(s.weights, dtype=np.float64))
            st.append(s.structure)
        else:
            ws.append(np.asarray(s.w, dtype=np.float64))
            st.append({"stride": s.stride, "groups": s.groups, "dilation": s.dilation,
                       "transposed": s.transposed})
    try:
        return analysis_stack(ws, [x["stride"] for x in st], groups=[x["groups"] for x in st],
                              dilation=[x["dilation"] for x in st],
                              transposed=[x["transposed"] for x in st])
    except InputError as exc:
        raise InputError(f"--cascade: {str(exc).removeprefix('cascade: ')}") from None


def _check_cascade_names(names, specs, N):
    from ..kernels.cascade import check_cascade
    from .layer_spec import match_layer

    all_names = [s.name or "" for s in specs]
    by = {s.name or "": s for s in specs}
    chain = [by[match_layer(nm, all_names, "--cascade")] for nm in names]
    ws, ds, _ = _analysis_layers(chain)
    try:
        D = check_cascade([w.shape for w in ws], ds)
    except InputError as exc:
        raise InputError(f"--cascade: {str(exc).removeprefix('cascade: ')}") from None
    g = _grid(N)
    if g is not None and g.kind == "int" and g.at(1) % D:
        raise InputError(f"--N: {N} is not a multiple of the cascade's composite stride {D}")


CASCADE_ASSUMPTION = ("the product of the layers' sqrt(B) bounds the chain's Lipschitz constant "
                      "when every nonlinearity between the layers is 1-Lipschitz and there are no "
                      "residual or parallel branches")


def audit_cascade(model: ModelAudit, names: Sequence[str], *, N: int | str | None = None) -> dict:
    """Frame and Riesz bounds of the linear composite of the audited layers ``names`` (in the
    order data flows, with the structure they were audited with), in float64
    (`rfbjax.kernels.cascade.composite_kernel`), beside the product of the layers' $\\sqrt B$.
    Nonlinearities, biases, normalisation and pooling are ignored. Appended to
    ``model.cascades`` and returned."""
    import jax

    from ..kernels.cascade import check_cascade, composite_kernel
    from ..kernels.conv_structure import structured_bounds

    if len(names) < 1:
        raise InputError("--cascade: name at least one layer")
    layers = []
    for nm in names:
        try:
            layers.append(model[nm])
        except KeyError:
            from .layer_spec import match_layer

            match_layer(nm, [lay.name or "" for lay in model.layers], "--cascade")
            raise
    ws, strides, transposed = _analysis_layers(layers)
    shapes = [w.shape for w in ws]
    try:
        D = check_cascade(shapes, strides)
    except InputError as exc:
        raise InputError(f"--cascade: {str(exc).removeprefix('cascade: ')}") from None
    with jax.enable_x64(True):
        h, D = composite_kernel(ws, strides)
        h = np.asarray(h, dtype=np.float64)
    J, C, T = h.shape
    NN = _grid_at(N, T, D)
    if NN % D:
        raise InputError(f"--N: {NN} is not a multiple of the cascade's composite stride {D}")
    bounds = structured_bounds(h, NN, D)
    A, B, AR = bounds["A"], bounds["B"], bounds["riesz_A"]
    # by counting: layer l leaves J_l channels at rate 1/D_l, J_l D/D_l numbers per C·D inputs
    D_l = np.cumprod(strides)
    rank_def = any(sh[0] < C * int(dl) for sh, dl in zip(shapes, D_l))
    if rank_def:
        A = 0.0
    product = float(np.prod([lay.lipschitz for lay in layers]))
    order = [_module(lay.name) for lay in layers]
    note = ("linear composite (nonlinearities, biases, normalisation and pooling ignored): "
            f"kernel {J}x{C}x{T}, stride {D}, N={NN}"
            + ("; a chain of transposed layers, read as the adjoint of the reversed chain of "
               "the convs they transpose" if transposed else "")
            + "; " + ("rank deficient (some layer l has J_l < C·D_l: fewer numbers than inputs), "
                      "no lower frame bound" if rank_def else f"kappa = {B / A:.4g}" if A > 0
                      else "dead band: kappa = inf")
            + f"; sqrt(B) = {math.sqrt(B):.4g} against the product of the layers' sqrt(B) "
            f"{product:.4g} (" + CASCADE_ASSUMPTION + ")")
    rec = {"layers": order, "strides": [lay.structure["stride"] for lay in layers], "stride": D,
           "transposed": transposed, "composite_shape": [J, C, T], "N": NN, "A": A, "B": B,
           "kappa": B / A if A > 0 else math.inf, "riesz_A": AR,
           "riesz_kappa": B / AR if AR > 0 else math.inf, "rank_deficient": rank_def,
           "lipschitz": math.sqrt(B), "lipschitz_product": product,
           "product_over_lipschitz": product / math.sqrt(B) if B > 0 else math.inf,
           "assumption": CASCADE_ASSUMPTION, "note": note}
    model.cascades.append(rec)
    return rec


def input_rates(model, fs: float | None) -> list:
    """The sampling rate at each layer's input when ``fs`` is the model's input rate: the layers
    are taken to run in file order, each dividing the rate by its stride (a transposed layer
    multiplying it), with nothing else (pooling, resampling) between them; from the first layer
    whose input channels do not match the previous layer's outputs on, the rate is unknown
    (None)."""
    rates, r = [], fs
    for i, lay in enumerate(model.layers):
        if i and r is not None and (lay.shape["in_channels"]
                                    != model.layers[i - 1].shape["out_channels"]):
            r = None
        rates.append(r)
        if r is not None:
            d = lay.shape["stride"]
            r = r * d if lay.transposed else r / d
    return rates
