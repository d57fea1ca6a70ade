r"""Statistics of a training study: final values with confidence intervals, paired penalty effects,
and the sentences of the report — all computed from the runs, nothing hard-coded.

Intervals are two-sided 95 % Student-t intervals of the mean over seeds,
:math:`\bar x \pm t_{0.975,\,n-1}\, s/\sqrt n`; penalty effects are *paired* (the same initial
draw trained with and without the penalty), so their interval is that of the mean per-seed
difference. Ratios of held-out losses are compared on a log scale (geometric mean of the per-seed
ratios, with the interval of the mean log-ratio).
"""

from __future__ import annotations

import math
from itertools import groupby

import numpy as np

__all__ = ["t_quantile", "mean_ci", "final_table", "group_runs", "findings"]


def _betainc(a: float, b: float, z: float) -> float:
    """Regularised incomplete beta I_z(a, b) (Lentz's continued fraction, with the symmetry
    I_z(a, b) = 1 - I_{1-z}(b, a) where the fraction converges slowly)."""
    if z <= 0.0:
        return 0.0
    if z >= 1.0:
        return 1.0
    if z > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc(b, a, 1.0 - z)
    lbeta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    front = math.exp(a * math.log(z) + b * math.log1p(-z) - lbeta) / a
    tiny = 1e-300
    # 1 / (1 + d1 / (1 + d2 / (1 + ...))) with d_{2m+1} = -(a+m)(a+b+m)z/((a+2m)(a+2m+1)),
    # d_{2m} = m(b-m)z/((a+2m-1)(a+2m)), evaluated by Lentz's method
    c = 1.0
    dd = 1.0 - (a + b) * z / (a + 1.0)
    dd = 1.0 / (dd if abs(dd) > tiny else tiny)
    f = dd
    for i in range(2, 1000):
        m = i // 2
        if i % 2 == 0:
            num = m * (b - m) * z / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            num = -(a + m) * (a + b + m) * z / ((a + 2 * m) * (a + 2 * m + 1))
        dd = 1.0 + num * dd
        dd = 1.0 / (dd if abs(dd) > tiny else tiny)
        c = 1.0 + num / (c if abs(c) > tiny else tiny)
        f *= c * dd
        if abs(1.0 - c * dd) < 1e-15:
            break
    return front * f


def _t_cdf(x: float, df: int) -> float:
    """Student-t CDF: P(T > |x|) = I_{df/(df+x^2)}(df/2, 1/2) / 2."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + x * x))
    return 1.0 - tail if x > 0 else tail


def t_quantile(p: float, df: int) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom (bisection on the CDF)."""
    lo, hi = -1e3, 1e3
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def mean_ci(x, level: float = 0.95) -> dict:
    """Mean, standard error and the Student-t interval of the mean of finite values."""
    x = np.asarray([v for v in np.asarray(x, float).ravel() if math.isfinite(v)])
    n = x.size
    if n == 0:
        return {"n": 0, "mean": None, "se": None, "lo": None, "hi": None, "median": None}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "se": None, "lo": None, "hi": None, "median": mean}
    se = float(x.std(ddof=1) / math.sqrt(n))
    h = t_quantile(0.5 + level / 2, n - 1) * se
    return {"n": n, "mean": mean, "se": se, "lo": mean - h, "hi": mean + h,
            "median": float(np.median(x))}


def _key(r):
    return (r["target"], r["stride"], r["init"], r["penalty"])


def group_runs(runs) -> dict:
    """``{(target, stride, init, penalty): [runs sorted by seed]}`` in the study's order."""
    out: dict = {}
    for r in runs:
        out.setdefault(_key(r), []).append(r)
    for v in out.values():
        v.sort(key=lambda r: r["seed"])
    return out


def final_table(runs) -> list[dict]:
    """One row per (target, stride, init, penalty): κ at step 0 and final, final held-out and
    training loss — each as :func:`mean_ci` over seeds."""
    rows = []
    for (t, d, i, p), rs in group_runs(runs).items():
        rows.append({"target": t, "stride": d, "init": i, "penalty": p, "seeds": len(rs),
                     "kappa0": mean_ci([r["kappa"][0] for r in rs]),
                     "kappa": mean_ci([r["kappa"][-1] for r in rs]),
                     "val_loss": mean_ci([r["val_loss"][-1] for r in rs]),
                     "loss": mean_ci([r["loss"][-1] for r in rs])})
    return rows


def _paired(a, b, *, log: bool = False) -> dict:
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b) & ((a > 0) & (b > 0) if log else True)
    diff = np.log(b[ok] / a[ok]) if log else b[ok] - a[ok]
    return mean_ci(diff)


def _excludes_zero(ci: dict) -> bool:
    return ci["lo"] is not None and (ci["lo"] > 0 or ci["hi"] < 0)


def _fmt(v, digits=4):
    if v is None:
        return "n/a"
    if not math.isfinite(v):
        return "inf"
    return f"{v:.{digits}g}"


def findings(results: dict) -> dict:
    """Per (target, stride) setting, the comparisons the report states, and the sentences.

    * inits without a penalty: the spread of mean κ across inits at step 0 and at the end,
      and whether any two inits' final κ intervals are disjoint;
    * each penalty against none, paired per init and seed: mean change of final κ and mean
      log-ratio of held-out loss, with intervals;
    * the target's own κ, and how far the unpenalised students end from it.
    """
    groups = group_runs(results["runs"])
    tk = {(t["name"], t["stride"]): t["kappa"] for t in results["targets"]}
    settings = [k for k, _ in groupby(sorted({(t, d) for t, d, _, _ in groups},
                                             key=lambda x: (x[1], x[0])))]
    cfg = results["config"]
    inits = list(cfg.inits)
    pens = list(cfg.penalties)
    out = []
    for t, d in settings:
        s: dict = {"target": t, "stride": d, "target_kappa": tk[(t, d)], "sentences": []}
        say = s["sentences"].append
        if "none" in pens:
            k0 = {i: mean_ci([r["kappa"][0] for r in groups[(t, d, i, "none")]]) for i in inits}
            kf = {i: mean_ci([r["kappa"][-1] for r in groups[(t, d, i, "none")]]) for i in inits}
            vf = {i: mean_ci([r["val_loss"][-1] for r in groups[(t, d, i, "none")]])
                  for i in inits}
            spread0 = max(v["mean"] for v in k0.values()) - min(v["mean"] for v in k0.values())
            spreadf = max(v["mean"] for v in kf.values()) - min(v["mean"] for v in kf.values())
            disjoint = [(a, b) for ai, a in enumerate(inits) for b in inits[ai + 1:]
                        if kf[a]["lo"] is not None and kf[b]["lo"] is not None
                        and (kf[a]["hi"] < kf[b]["lo"] or kf[b]["hi"] < kf[a]["lo"])]
            s.update({"kappa0": k0, "kappa_final": kf, "val_final": vf, "spread0": spread0,
                      "spread_final": spreadf, "disjoint_inits": disjoint})
            parts = ", ".join(f"{i} {_fmt(k0[i]['mean'], 3)} → {_fmt(kf[i]['mean'], 4)}"
                              for i in inits)
            say(f"Without a penalty, mean κ went {parts} (target κ = {_fmt(tk[(t, d)], 4)}).")
            if len(inits) > 1:
                if disjoint:
                    pairs = "; ".join(f"{a} vs {b}" for a, b in disjoint)
                    say(f"The initialisation still matters at the end: the final-κ intervals "
                        f"are disjoint for {pairs} (spread of the means {_fmt(spread0, 3)} at "
                        f"step 0, {_fmt(spreadf, 3)} at the end).")
                else:
                    say(f"No difference between initialisations is resolved at the end: every "
                        f"pair of final-κ intervals overlaps (spread of the means "
                        f"{_fmt(spread0, 3)} at step 0, {_fmt(spreadf, 3)} at the end).")
                best = min(inits, key=lambda i: vf[i]["mean"])
                worst = max(inits, key=lambda i: vf[i]["mean"])
                say(f"Final held-out loss: lowest with {best} ({_fmt(vf[best]['mean'], 3)}), "
                    f"highest with {worst} ({_fmt(vf[worst]['mean'], 3)}).")
            effects = {}
            for p in pens:
                if p == "none":
                    continue
                dk, dl = [], []
                for i in inits:
                    a, b = groups[(t, d, i, "none")], groups[(t, d, i, p)]
                    dk += [(x["kappa"][-1], y["kappa"][-1]) for x, y in zip(a, b)]
                    dl += [(x["val_loss"][-1], y["val_loss"][-1]) for x, y in zip(a, b)]
                ek = _paired([x for x, _ in dk], [y for _, y in dk])
                el = _paired([x for x, _ in dl], [y for _, y in dl], log=True)
                effects[p] = {"delta_kappa": ek, "log_val_ratio": el}
                if ek["mean"] is None:
                    continue
                kd = ("lowers" if ek["mean"] < 0 else "raises") if _excludes_zero(ek) else \
                    "does not measurably change"
                ratio = math.exp(el["mean"]) if el["mean"] is not None else None
                lo = math.exp(el["lo"]) if el["lo"] is not None else None
                hi = math.exp(el["hi"]) if el["hi"] is not None else None
                ld = ("at the cost of a higher" if el["mean"] > 0 else "with a lower") \
                    if _excludes_zero(el) else "with no resolved change in"
                say(f"The {p} penalty (β = {_fmt(cfg.beta[p], 3)}) {kd} the final κ "
                    f"(paired mean change {_fmt(ek['mean'], 3)}, 95 % CI [{_fmt(ek['lo'], 3)}, "
                    f"{_fmt(ek['hi'], 3)}], {ek['n']} pairs) {ld} held-out loss (ratio "
                    f"{_fmt(ratio, 3)}, CI [{_fmt(lo, 3)}, {_fmt(hi, 3)}]).")
            s["penalty_effects"] = effects
        out.append(s)
    return {"settings": out}
