r"""The scaling law between the number J and the length T of random filters.

For a target condition number $\kappa_0$ and each T, $J^*(T)$ is the number of
filters at which $\mathbb E[\kappa] = \kappa_0$, found by linear interpolation of
$\mathbb E[\kappa]$ against $\log J$ between the two grid values of J that bracket
$\kappa_0$ ($\mathbb E[\kappa]$ decreases with J). Two laws are fitted by least
squares to the points $(T, J^*(T))$:

* logarithmic (the paper's claim): $J^* = a + b \log T$;
* power: $J^* = c\, T^{\gamma}$ (fitted as $\log J^* = \log c + \gamma \log T$).

The preferred model has the smaller Akaike criterion $n \log(\mathrm{RSS}/n) + 2k$ with
both residual sums taken in the same space (J*), k = 2 parameters each; the fraction of
bootstrap replicates preferring each law is reported as well. Confidence intervals come from a
nonparametric bootstrap: every cell's raw samples of (A, B) are resampled with replacement,
independently across cells, and everything above is recomputed.

**Censoring.** Where $\mathbb E[\kappa]$ stays above $\kappa_0$ up to the largest
J of the grid, $J^*$ lies beyond the grid (*censored above*); where it is already below
$\kappa_0$ at the smallest J, before it (*censored below*). Such replicates are not
dropped: they enter the interval's order statistics as $\pm\infty$, so an interval
reaching them is open (``None`` at that end, ``Jstar_ci_open`` true there and
``Jstar_ci_side`` saying on which side of the grid it lies); it is printed ``[62.1, > 64)``,
``(< 4, 10.2]``, or ``> 64`` / ``< 4`` when the whole interval lies beyond the grid
(`interval_text`), and the share of censored replicates is reported per T
(``Jstar_censored``: below, above).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["crossing_J", "censoring", "fit_log", "fit_power", "aic", "scaling_law",
           "interval_text", "progress_units"]


def crossing_J(Js, kappas, kappa0: float) -> float:
    """J at which E[kappa] crosses kappa0, interpolated in log J; NaN if not bracketed."""
    Js = np.asarray(Js, dtype=np.float64)
    k = np.asarray(kappas, dtype=np.float64)
    order = np.argsort(Js)
    Js, k = Js[order], k[order]
    for i in range(len(Js) - 1):
        k0, k1 = k[i], k[i + 1]
        if not (np.isfinite(k1)):
            continue
        if k0 >= kappa0 >= k1 and k0 != k1:
            if not np.isfinite(k0):
                return float(Js[i + 1]) if k1 == kappa0 else float("nan")
            frac = (k0 - kappa0) / (k0 - k1)
            return float(np.exp(np.log(Js[i]) + frac * (np.log(Js[i + 1]) - np.log(Js[i]))))
    return float("nan")


def censoring(Js, kappas, kappa0: float) -> int:
    """Where J* lies when `crossing_J` finds no bracket: +1 beyond the largest J (E[kappa]
    still above kappa0 there), -1 before the smallest J (already at or below kappa0), 0 inside
    or undetermined."""
    Js = np.asarray(Js, dtype=np.float64)
    k = np.asarray(kappas, dtype=np.float64)[np.argsort(Js)]
    if k[-1] > kappa0:
        return 1
    if np.isfinite(k[0]) and k[0] <= kappa0:
        return -1
    return 0


def fit_log(T, Jstar):
    """Least squares ``J* = a + b log T``; returns (a, b, rss)."""
    x = np.log(np.asarray(T, dtype=np.float64))
    y = np.asarray(Jstar, dtype=np.float64)
    X = np.stack([np.ones_like(x), x], 1)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    rss = float(np.sum((X @ coef - y) ** 2))
    return float(coef[0]), float(coef[1]), rss


def fit_power(T, Jstar):
    """Least squares ``log J* = log c + gamma log T``; returns (c, gamma, rss in J* space)."""
    x = np.log(np.asarray(T, dtype=np.float64))
    y = np.asarray(Jstar, dtype=np.float64)
    X = np.stack([np.ones_like(x), x], 1)
    coef, *_ = np.linalg.lstsq(X, np.log(y), rcond=None)
    c, g = float(np.exp(coef[0])), float(coef[1])
    rss = float(np.sum((c * np.exp(g * x) - y) ** 2))
    return c, g, rss


def aic(rss: float, n: int, k: int = 2) -> float:
    """Akaike criterion for Gaussian residuals: n log(RSS/n) + 2k."""
    return n * math.log(max(rss, 1e-300) / n) + 2 * k


def _mean_kappa(A, B):
    with np.errstate(divide="ignore"):
        k = np.where(A > 0, B / np.where(A > 0, A, 1.0), np.inf)
    return float(np.mean(k))


def _law_from_table(Js, Ts, table, kappa0):
    """table[(J, T)] = E[kappa]  ->  dict with J*(T) and both fits (NaN where undefined)."""
    Jstar = np.array([crossing_J(Js, [table[(J, T)] for J in Js], kappa0) for T in Ts])
    ok = np.isfinite(Jstar)
    out = {"Jstar": Jstar, "n": int(ok.sum())}
    if ok.sum() >= 3:
        T_ok = np.asarray(Ts, dtype=np.float64)[ok]
        a, b, rss_l = fit_log(T_ok, Jstar[ok])
        c, g, rss_p = fit_power(T_ok, Jstar[ok])
        out.update(a=a, b=b, c=c, gamma=g, aic_log=aic(rss_l, ok.sum()),
                   aic_power=aic(rss_p, ok.sum()), rss_log=rss_l, rss_power=rss_p)
    return out


@dataclass
class LawResult:
    kappa0: float
    T: list
    Jstar: list
    Jstar_ci: list
    fits: dict
    preferred: str
    criterion: str
    bootstrap_preference_log: float
    #: per T, the shares of bootstrap replicates with J* before / beyond the grid
    Jstar_censored: list = None
    #: per T, where the point estimate lies when it is not on the grid ("below"/"above"/None)
    Jstar_outside: list = None
    #: the grid's smallest and largest J
    J_range: list = None
    #: per T, [lower end open, upper end open]: True where that end of ``Jstar_ci`` lies beyond
    #: the grid (``None`` in ``Jstar_ci``)
    Jstar_ci_open: list = None
    #: per T, for each end of ``Jstar_ci``: ``"below"`` (under the smallest J), ``"above"``
    #: (over the largest J) or None (a finite end); ``["above", "above"]`` is the interval
    #: "> J_max", ``["below", "below"]`` is "< J_min"
    Jstar_ci_side: list = None


def progress_units(n_boot: int, n_targets: int) -> int:
    """The units of work `scaling_law` reports through ``on_progress``: one per replicate drawn
    and one per replicate and target fitted."""
    return int(n_boot) * (1 + int(n_targets))


def scaling_law(samples: dict, kappa0s, *, n_boot: int = 500, seed: int = 0,
                ci: float = 0.95, on_progress=None) -> list[LawResult]:
    """Scaling law from raw samples ``{(J, T): (A, B)}`` for every target in ``kappa0s``.

    ``on_progress(n)``, if given, is called with the units of work done since its last call
    (`progress_units` in all)."""
    tick = on_progress if on_progress is not None else (lambda n: None)
    Js = sorted({J for J, _ in samples})
    Ts = sorted({T for _, T in samples})
    missing = [(J, T) for J in Js for T in Ts if (J, T) not in samples]
    if missing:
        raise ValueError(f"incomplete grid: missing cells {missing[:3]}…")
    table = {c: _mean_kappa(*samples[c]) for c in samples}
    rng = np.random.default_rng(seed)
    boot_tables = []
    for _ in range(n_boot):
        bt = {}
        for c, (A, B) in samples.items():
            i = rng.integers(0, A.size, A.size)
            bt[c] = _mean_kappa(A[i], B[i])
        boot_tables.append(bt)
        tick(1)
    lo_q, hi_q = (1 - ci) / 2, 1 - (1 - ci) / 2
    results = []
    for k0 in kappa0s:
        point = _law_from_table(Js, Ts, table, k0)
        boots = []
        for bt in boot_tables:
            boots.append(_law_from_table(Js, Ts, bt, k0))
            tick(1)
        Jb = np.array([b["Jstar"] for b in boots]).reshape(n_boot, len(Ts))
        Cb = np.array([_censored(Js, Ts, bt, k0) for bt in boot_tables]).reshape(n_boot, len(Ts))
        J_lo, J_hi = _intervals(Jb, Cb, lo_q, hi_q)
        shares = [[float(np.mean(Cb[:, t] < 0)) if n_boot else 0.0,
                   float(np.mean(Cb[:, t] > 0)) if n_boot else 0.0] for t in range(len(Ts))]
        where = _censored(Js, Ts, table, k0)
        outside = [None if np.isfinite(j) or c == 0 else ("above" if c > 0 else "below")
                   for j, c in zip(point["Jstar"], where)]
        fits = {}
        preferred, pref_frac = "undetermined", float("nan")
        if "a" in point:
            for name in ("a", "b", "c", "gamma"):
                vals = np.array([b.get(name, np.nan) for b in boots], dtype=np.float64)
                vals = vals[np.isfinite(vals)]
                lo, hi = (np.quantile(vals, [lo_q, hi_q]) if vals.size else (np.nan, np.nan))
                fits[name] = {"value": point[name], "ci": [float(lo), float(hi)]}
            fits["aic_log"], fits["aic_power"] = point["aic_log"], point["aic_power"]
            fits["n_points"] = point["n"]
            preferred = "log" if point["aic_log"] < point["aic_power"] else "power"
            prefs = [b["aic_log"] < b["aic_power"] for b in boots if "aic_log" in b]
            pref_frac = float(np.mean(prefs)) if prefs else float("nan")
        results.append(LawResult(float(k0), list(Ts), point["Jstar"].tolist(),
                                 [[_end(a), _end(b)] for a, b in zip(J_lo, J_hi)], fits,
                                 preferred, "AIC = n log(RSS/n) + 2k, residuals in J* space",
                                 pref_frac, shares, outside, [min(Js), max(Js)],
                                 [[bool(np.isinf(a)), bool(np.isinf(b))]
                                  for a, b in zip(J_lo, J_hi)],
                                 [[_side(a), _side(b)] for a, b in zip(J_lo, J_hi)]))
    return results


def _end(v: float) -> float | None:
    """An interval end: None when open (censored), NaN when undetermined."""
    return None if np.isinf(v) else float(v)


def _side(v: float) -> str | None:
    """Where an open interval end lies: ``"above"`` the grid (+inf), ``"below"`` it (-inf)."""
    return None if not np.isinf(v) else ("above" if v > 0 else "below")


def interval_text(ends, sides, J_range, digits: int = 2) -> str:
    """An interval of J* as it reads: ``[62.05, 63.98]``; an end beyond the grid is open:
    ``[62.05, > 64)``, ``(< 4, 10.20]``, ``(< 4, > 64)``; wholly beyond it, ``> 64`` or
    ``< 4`` (no end is invented); ``-`` when undetermined."""
    lo, hi = ends
    s_lo, s_hi = sides if sides is not None else (None, None)
    lo_J, hi_J = J_range
    if s_lo == "above":          # every replicate from the lower quantile on is above the grid
        return f"> {hi_J}"
    if s_hi == "below":
        return f"< {lo_J}"
    if (lo is None and s_lo is None) or (hi is None and s_hi is None) or \
            (lo is not None and math.isnan(lo)) or (hi is not None and math.isnan(hi)):
        return "-"
    a = f"(< {lo_J}" if s_lo == "below" else f"[{lo:.{digits}f}"
    b = f"> {hi_J})" if s_hi == "above" else f"{hi:.{digits}f}]"
    return f"{a}, {b}"


def _censored(Js, Ts, table, kappa0) -> list[int]:
    """Per T: `censoring` where no bracket is found, else 0."""
    out = []
    for T in Ts:
        ks = [table[(J, T)] for J in Js]
        out.append(censoring(Js, ks, kappa0) if np.isnan(crossing_J(Js, ks, kappa0)) else 0)
    return out


def _intervals(Jb, Cb, lo_q, hi_q):
    """Bootstrap quantiles per T with censored replicates at ±inf (order statistics where any
    replicate is censored; linear interpolation otherwise, as before)."""
    n_boot, nT = Jb.shape
    lo, hi = np.full(nT, np.nan), np.full(nT, np.nan)
    if not n_boot:
        return lo, hi
    for t in range(nT):
        v = Jb[:, t].copy()
        v[Cb[:, t] > 0], v[Cb[:, t] < 0] = np.inf, -np.inf
        v = v[~np.isnan(v)]
        if not v.size:
            continue
        if np.all(np.isfinite(v)):
            lo[t], hi[t] = np.quantile(v, [lo_q, hi_q])
        else:
            lo[t], hi[t] = np.quantile(v, [lo_q, hi_q], method="inverted_cdf")
    return lo, hi
