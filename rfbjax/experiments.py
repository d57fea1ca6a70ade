"""Tables of results: the rows that ``rfbjax energy`` / ``rfbjax bounds`` print and save.

Pure orchestration over :mod:`rfbjax.measure` (Monte Carlo) and the exact formulas; no I/O.
"""

from __future__ import annotations

import numpy as np
import jax.numpy as jnp

from . import montecarlo as mc
from .energy import energy_moments
from .measure import sample_bounds, sample_energy, signal_lags
from .theory.energy_law import energy_law_from_eigenvalues, toeplitz_eigenvalues
from .theory.predictor import kappa_tilde_paper, predict

__all__ = ["energy_rows", "bounds_rows"]


def energy_rows(signals, Js, Ts, *, n_samples: int, seed: int = 0, boundary: str = "circular",
                dtype="float32", p: float = 0.05, max_memory: int = mc.DEFAULT_MAX_MEMORY,
                progress: bool = False, quantiles=(0.05, 0.95), theory: bool = True) -> list[dict]:
    """One row per (signal, J, T): exact mean/variance of E/||x||^2 and its Monte Carlo.

    With ``theory`` (default) the rows also carry the exact law's columns
    (:func:`rfbjax.theory.energy_law.energy_theory_row`: ``q05_exact``, ``q95_exact``,
    ``alpha_exact``, ``alpha_cantelli``, ``alpha_chernoff``, ``alpha_bernstein`` at level ``p``, the
    ``_lower`` tail, ``*_valid`` flags) and ``alpha_mc`` = the Monte Carlo (1 - p) quantile - 1.
    The eigenvalues of the Toeplitz matrix depend on (signal, T) only and are computed once.

    Args:
      signals: list of ``(label, x)`` with 1-D float arrays (any lengths).
    """
    labels = [lab for lab, _ in signals]
    xs = [np.asarray(x, dtype=np.float64) for _, x in signals]
    rows = []
    eig_cache: dict = {}
    for T in Ts:
        for J in Js:
            R = signal_lags(xs, T, boundary=boundary)
            if theory and (T not in eig_cache):
                eig_cache.clear()
                eig_cache[T] = [toeplitz_eigenvalues(R[m]) for m in range(len(xs))]
            mean_th, var_th = energy_moments(jnp.asarray(R), J, T)
            r0 = R[:, 0]
            mean_th = np.asarray(mean_th) / r0
            var_th = np.asarray(var_th) / r0 ** 2
            E = sample_energy(xs, J, T, n_samples, seed=seed, boundary=boundary,
                              dtype=jnp.dtype(dtype), max_memory=max_memory, progress=progress)
            for m, label in enumerate(labels):
                s = mc.summarize(E[:, m], tuple(sorted(set(quantiles) | {1.0 - p})))
                N = xs[m].shape[0]
                row = {"signal": label, "J": J, "T": T, "N": N, "boundary": boundary,
                       "mean_analytic": float(mean_th[m]), "var_analytic": float(var_th[m]),
                       "mean_mc": s.mean, "se_mean_mc": s.se, "var_mc": s.var,
                       "se_var_mc": s.se_var,
                       "z_var": (s.var - float(var_th[m])) / s.se_var if s.se_var > 0 else 0.0,
                       "q05": s.quantiles[0.05], "q95": s.quantiles[0.95],
                       "folded": bool(boundary == "circular" and T > N), "samples": n_samples}
                if theory:
                    law = energy_law_from_eigenvalues(eig_cache[T][m], J, T, float(R[m, 0]))
                    row.update(law.theory_row(p))
                    row["alpha_mc"] = s.quantiles[1.0 - p] - 1.0
                rows.append(row)
    return rows


def bounds_rows(Js, Ts, N, *, n_samples: int, seed: int = 0, dtype="float32",
                max_memory: int = mc.DEFAULT_MAX_MEMORY, progress: bool = False,
                theory: bool = True) -> list[dict]:
    """One row per (J, T): Monte Carlo mean and s.e. of A, B, kappa and quantiles of kappa.

    ``N=None`` is linear convolution on l2(Z) (continuous frequency). With ``theory`` (default)
    the rows also carry rfbjax's sampling-free predictions ``pred_A``, ``pred_B``, ``pred_kappa``,
    ``pred_q05_kappa``, ``pred_q95_kappa`` (:func:`rfbjax.theory.predictor.predict`) and the
    paper's ``kappa_tilde_paper`` (None where undefined, J <= 4 log T).
    """
    rows = []
    for J in Js:
        for T in Ts:
            out = sample_bounds(J, T, N, n_samples, seed=seed, dtype=jnp.dtype(dtype),
                                max_memory=max_memory, progress=progress)
            sA, sB = mc.summarize(out["A"]), mc.summarize(out["B"])
            sK = mc.summarize(out["kappa"])
            rows.append({"J": J, "T": T, "N": N, "mean_A": sA.mean, "mean_B": sB.mean,
                         "mean_kappa": sK.mean, "se_A": sA.se, "se_B": sB.se, "se_kappa": sK.se,
                         "q05_kappa": sK.quantiles[0.05], "q95_kappa": sK.quantiles[0.95],
                         "frac_kappa_inf": sK.n_inf / sK.n, "ratio_mean_B_mean_A":
                         sB.mean / sA.mean if sA.mean > 0 else float("inf"),
                         "folded": bool(N is not None and T > N), "samples": n_samples})
            if theory:
                pr = predict(J, T, N)
                kt = float(kappa_tilde_paper(J, T))
                rows[-1].update({"pred_A": pr["E_A"], "pred_B": pr["E_B"],
                                 "pred_kappa": pr["E_kappa"], "pred_q05_kappa": pr["kappa_q05"],
                                 "pred_q95_kappa": pr["kappa_q95"],
                                 "kappa_tilde_paper": kt if np.isfinite(kt) else None})
    return rows
