r"""Statistics of a training study: final values with confidence intervals, paired penalty effects,
and the sentences of the report — all computed from the runs, nothing hard-coded.

Intervals are two-sided 95 % Student-t intervals of the mean over seeds,
$\bar x \pm t_{0.975,\,n-1}\, s/\sqrt n$; penalty effects are *paired* (the same initial
draw trained with and without the penalty), so their interval is that of the mean per-seed
difference. Ratios of held-out losses are compared on a log scale (geometric mean of the per-seed
ratios, with the interval of the mean log-ratio).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["t_quantile", "mean_ci", "welch_diff", "spearman", "final_table", "group_runs",
           "findings"]


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


def mean_ci(x, level: float = 0.95, *, log: bool = False) -> dict:
    """Mean, standard error and the Student-t interval of the mean of the finite values.

    ``log=True`` (positive quantities spanning decades, like losses): the same on log x, mapped
    back — the geometric mean and its interval (``se`` is then that of the mean of log x)."""
    x = np.asarray([v for v in np.asarray(x, float).ravel()
                    if math.isfinite(v) and (v > 0 or not log)])
    n = x.size
    if n == 0:
        return {"n": 0, "mean": None, "se": None, "lo": None, "hi": None, "median": None}
    med = float(np.median(x))
    y = np.log(x) if log else x
    back = math.exp if log else float
    mean = float(y.mean())
    if n == 1:
        return {"n": 1, "mean": back(mean), "se": None, "lo": None, "hi": None, "median": med}
    se = float(y.std(ddof=1) / math.sqrt(n))
    h = t_quantile(0.5 + level / 2, n - 1) * se
    return {"n": n, "mean": back(mean), "se": se, "lo": back(mean - h), "hi": back(mean + h),
            "median": med, **({"scale": "geometric"} if log else {})}


def welch_diff(a, b, level: float = 0.95) -> dict:
    """Difference of means mean(b) − mean(a) with Welch's interval (unequal variances)."""
    a = np.asarray([v for v in np.asarray(a, float) if math.isfinite(v)])
    b = np.asarray([v for v in np.asarray(b, float) if math.isfinite(v)])
    if a.size < 2 or b.size < 2:
        return {"diff": None, "lo": None, "hi": None, "df": None}
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    diff = float(b.mean() - a.mean())
    se = math.sqrt(va + vb)
    if se == 0:
        return {"diff": diff, "lo": diff, "hi": diff, "df": None}
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    h = t_quantile(0.5 + level / 2, df) * se
    return {"diff": diff, "lo": diff - h, "hi": diff + h, "df": float(df)}


def spearman(x, y, *, permutations: int = 4000, seed: int = 0) -> dict:
    """Spearman rank correlation of paired values and a two-sided permutation p-value
    (fixed seed: the same numbers every time)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = x.size
    if n < 3:
        return {"rho": None, "p": None, "n": int(n)}
    rx = np.argsort(np.argsort(x)).astype(float)
    ry = np.argsort(np.argsort(y)).astype(float)

    def rho(a, b):
        a, b = a - a.mean(), b - b.mean()
        den = math.sqrt(float(a @ a) * float(b @ b))
        return float(a @ b) / den if den > 0 else 0.0

    r = rho(rx, ry)
    rng = np.random.default_rng(seed)
    perm = np.argsort(rng.random((permutations, n)), axis=1)          # random permutations
    a = rx - rx.mean()
    b = (ry - ry.mean())[perm]
    den = math.sqrt(float(a @ a) * float((ry - ry.mean()) @ (ry - ry.mean())))
    null = (b @ a) / den if den > 0 else np.zeros(permutations)
    p = (1 + int(np.sum(np.abs(null) >= abs(r) - 1e-12))) / (permutations + 1)
    return {"rho": r, "p": p, "n": int(n)}


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
    training loss — each as `mean_ci` over seeds."""
    rows = []
    for (t, d, i, p), rs in group_runs(runs).items():
        rows.append({"target": t, "stride": d, "init": i, "penalty": p, "seeds": len(rs),
                     "kappa0": mean_ci([r["kappa"][0] for r in rs]),
                     "kappa": mean_ci([r["kappa"][-1] for r in rs]),
                     "val_loss": mean_ci([r["val_loss"][-1] for r in rs], log=True),
                     "loss": mean_ci([r["loss"][-1] for r in rs], log=True)})
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
    """Per (target, stride) setting, the comparisons the report states, and its sentences.

    * unpenalised runs: mean κ per init at step 0 and at the end against the target's κ;
      each pair of inits compared by Welch's interval for the difference of final κ and of
      final log held-out loss;
    * does a run's own κ at step 0 predict its end? Spearman correlation (permutation p-value)
      of κ at step 0 with final κ and with final held-out loss over all unpenalised runs;
    * each penalty against none, paired per init and seed: mean change of final κ and mean
      log-ratio of held-out loss, with intervals;
    * the Parseval arm (``parseval``, trained through its parametrisation; compared with the
      other inits like any init, left out of the κ-at-step-0 correlation since its κ is 1 by
      construction): the largest |κ − 1| along all its recorded steps, or why it was not run.
    """
    groups = group_runs(results["runs"])
    tk = {(t["name"], t["stride"]): t["kappa"] for t in results["targets"]}
    cfg = results["config"]
    inits = list(cfg.inits)
    pens = list(cfg.penalties)
    skipped = {(k["target"], k["stride"]): k["reason"] for k in results.get("skipped", ())}
    out = []
    for d in cfg.strides:
        for t in cfg.targets:
            here = [i for i in inits if (t, d, i, "none") in groups or "none" not in pens]
            s = _setting(groups, t, d, tk[(t, d)], here, pens, cfg.beta)
            _parseval_finding(s, groups.get((t, d, "parseval", "none")), skipped.get((t, d)))
            out.append(s)
    return {"settings": out}


def _parseval_finding(s: dict, runs, reason) -> None:
    if reason is not None:
        s["parseval"] = {"run": False, "reason": reason}
        s["sentences"].append(f"The Parseval arm was not run: {reason}.")
        return
    if not runs:
        return
    dev = max(float(np.max(np.abs(np.asarray(r["kappa"], float) - 1.0))) for r in runs)
    s["parseval"] = {"run": True, "max_abs_kappa_minus_1": dev,
                     "steps": [int(v) for v in runs[0]["step"]]}
    s["sentences"].append(f"The Parseval arm stayed tight at every recorded step (largest "
                          f"|κ − 1| {_fmt(dev, 2)} over {len(runs)} runs).")


def _setting(groups, t, d, target_kappa, inits, pens, beta) -> dict:
    s: dict = {"target": t, "stride": d, "target_kappa": target_kappa, "sentences": []}
    say = s["sentences"].append
    if "none" in pens:
        base = {i: groups[(t, d, i, "none")] for i in inits}
        k0 = {i: mean_ci([r["kappa"][0] for r in base[i]]) for i in inits}
        kf = {i: mean_ci([r["kappa"][-1] for r in base[i]]) for i in inits}
        vf = {i: mean_ci([r["val_loss"][-1] for r in base[i]], log=True) for i in inits}
        parts = ", ".join(f"{i} {_fmt(k0[i]['mean'], 3)} → {_fmt(kf[i]['mean'], 4)}"
                          for i in inits)
        say(f"Without a penalty, mean κ went {parts} (target κ = {_fmt(target_kappa, 4)}); "
            f"final held-out loss (geometric mean) "
            + ", ".join(f"{i} {_fmt(vf[i]['mean'], 3)}" for i in inits) + ".")
        pairs = []
        for ai, a in enumerate(inits):
            for b in inits[ai + 1:]:
                dk = welch_diff([r["kappa"][-1] for r in base[a]],
                                [r["kappa"][-1] for r in base[b]])
                dl = welch_diff([math.log(r["val_loss"][-1]) for r in base[a]
                                 if r["val_loss"][-1] > 0],
                                [math.log(r["val_loss"][-1]) for r in base[b]
                                 if r["val_loss"][-1] > 0])
                pairs.append({"a": a, "b": b, "kappa": dk, "log_val": dl})
                resolved = [name for name, c in (("final κ", dk), ("held-out loss", dl))
                            if _excludes_zero(c)]
                if dk["diff"] is None:
                    say(f"{b} vs {a}: fewer than two seeds each, no interval.")
                elif resolved:
                    say(f"{b} vs {a}: final κ differs by {_fmt(dk['diff'], 3)} (95 % Welch "
                        f"CI [{_fmt(dk['lo'], 3)}, {_fmt(dk['hi'], 3)}]), held-out loss by a "
                        f"factor {_fmt(_exp(dl['diff']), 3)} (CI [{_fmt(_exp(dl['lo']), 3)}, "
                        f"{_fmt(_exp(dl['hi']), 3)}]): the initialisation still matters at the "
                        f"end for {' and '.join(resolved)}.")
                else:
                    say(f"{b} vs {a}: no difference resolved at the end (final κ "
                        f"{_fmt(dk['diff'], 3)}, CI [{_fmt(dk['lo'], 3)}, {_fmt(dk['hi'], 3)}]; "
                        f"held-out loss factor {_fmt(_exp(dl['diff']), 3)}, CI "
                        f"[{_fmt(_exp(dl['lo']), 3)}, {_fmt(_exp(dl['hi']), 3)}]).")
        s.update({"kappa0": k0, "kappa_final": kf, "val_final": vf, "init_pairs": pairs})
        allr = [r for i in inits if i != "parseval" for r in base[i]]
        ck = spearman([r["kappa"][0] for r in allr], [r["kappa"][-1] for r in allr])
        cl = spearman([r["kappa"][0] for r in allr], [r["val_loss"][-1] for r in allr])
        s["kappa0_correlation"] = {"final_kappa": ck, "final_val_loss": cl}
        if ck["rho"] is not None:
            sig = [name for name, c in (("final κ", ck), ("final held-out loss", cl))
                   if c["p"] is not None and c["p"] < 0.05]
            say(f"Across the {ck['n']} unpenalised runs, a run's κ at step 0 "
                + (f"predicts its {' and '.join(sig)}" if sig else "predicts neither its final "
                   "κ nor its final held-out loss")
                + f" (Spearman ρ = {_fmt(ck['rho'], 2)}, p = {_fmt(ck['p'], 2)} for κ; "
                f"ρ = {_fmt(cl['rho'], 2)}, p = {_fmt(cl['p'], 2)} for the loss).")
    effects = {}
    for p in pens:
        if p == "none" or "none" not in pens:
            continue
        dk, dl = [], []
        for i in inits:
            if (t, d, i, p) not in groups:       # the Parseval arm: no penalty
                continue
            a, b = groups[(t, d, i, "none")], groups[(t, d, i, p)]
            dk += [(x["kappa"][-1], y["kappa"][-1]) for x, y in zip(a, b)]
            dl += [(x["val_loss"][-1], y["val_loss"][-1]) for x, y in zip(a, b)]
        ek = _paired([x for x, _ in dk], [y for _, y in dk])
        el = _paired([x for x, _ in dl], [y for _, y in dl], log=True)
        kpen = mean_ci([y for _, y in dk])
        effects[p] = {"delta_kappa": ek, "log_val_ratio": el, "final_kappa": kpen}
        if ek["mean"] is None:
            continue
        kd = ("lowers" if ek["mean"] < 0 else "raises") if _excludes_zero(ek) else \
            "does not measurably change"
        ld = ("at the cost of a higher" if el["mean"] > 0 else "with a lower") \
            if _excludes_zero(el) else "with no resolved change in"
        say(f"The {p} penalty (β = {_fmt(beta[p], 3)}) {kd} the final κ (to "
            f"{_fmt(kpen['mean'], 4)} on average; paired change {_fmt(ek['mean'], 3)}, 95 % CI "
            f"[{_fmt(ek['lo'], 3)}, {_fmt(ek['hi'], 3)}], {ek['n']} pairs) {ld} held-out loss "
            f"(ratio {_fmt(_exp(el['mean']), 3)}, CI [{_fmt(_exp(el['lo']), 3)}, "
            f"{_fmt(_exp(el['hi']), 3)}]).")
    s["penalty_effects"] = effects
    return s


def _exp(v):
    return None if v is None else math.exp(v)
