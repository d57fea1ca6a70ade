r"""The scaling law between the number J and the length T of random filters.

For a target condition number :math:`\kappa_0` and each T, :math:`J^*(T)` is the number of
filters at which :math:`\mathbb E[\kappa] = \kappa_0`, found by linear interpolation of
:math:`\mathbb E[\kappa]` against :math:`\log J` between the two grid values of J that bracket
:math:`\kappa_0` (:math:`\mathbb E[\kappa]` decreases with J). Two laws are fitted by least
squares to the points :math:`(T, J^*(T))`:

* logarithmic (the paper's claim): :math:`J^* = a + b \log T`;
* power: :math:`J^* = c\, T^{\gamma}` (fitted as :math:`\log J^* = \log c + \gamma \log T`).

The preferred model has the smaller Akaike criterion :math:`n \log(\mathrm{RSS}/n) + 2k` with
both residual sums taken in the same space (J*), k = 2 parameters each; the fraction of
bootstrap replicates preferring each law is reported as well. Confidence intervals come from a
nonparametric bootstrap: every cell's raw samples of (A, B) are resampled with replacement,
independently across cells, and everything above is recomputed.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["crossing_J", "fit_log", "fit_power", "aic", "scaling_law"]


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


def scaling_law(samples: dict, kappa0s, *, n_boot: int = 500, seed: int = 0,
                ci: float = 0.95) -> list[LawResult]:
    """Scaling law from raw samples ``{(J, T): (A, B)}`` for every target in ``kappa0s``."""
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
    lo_q, hi_q = (1 - ci) / 2, 1 - (1 - ci) / 2
    results = []
    for k0 in kappa0s:
        point = _law_from_table(Js, Ts, table, k0)
        boots = [_law_from_table(Js, Ts, bt, k0) for bt in boot_tables]
        Jb = np.array([b["Jstar"] for b in boots])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # T where no replicate crosses
            J_lo = np.nanquantile(Jb, lo_q, axis=0) if n_boot else np.full(len(Ts), np.nan)
            J_hi = np.nanquantile(Jb, hi_q, axis=0) if n_boot else np.full(len(Ts), np.nan)
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
                                 [[float(a), float(b)] for a, b in zip(J_lo, J_hi)], fits,
                                 preferred, "AIC = n log(RSS/n) + 2k, residuals in J* space",
                                 pref_frac))
    return results
