"""Tables of results: the rows that ``rfbjax energy`` / ``rfbjax bounds`` print and save.

Pure orchestration over :mod:`rfbjax.measure` (Monte Carlo) and the exact formulas; no I/O.
"""

from __future__ import annotations

import numpy as np
import jax.numpy as jnp

from . import montecarlo as mc
from .energy import energy_moments
from .measure import sample_bounds, sample_energy, signal_lags

__all__ = ["energy_rows", "bounds_rows"]


def energy_rows(signals, Js, Ts, *, n_samples: int, seed: int = 0, boundary: str = "circular",
                dtype="float32", p: float = 0.05, max_memory: int = mc.DEFAULT_MAX_MEMORY,
                progress: bool = False, quantiles=(0.05, 0.95)) -> list[dict]:
    """One row per (signal, J, T): exact mean/variance of E/||x||^2 and its Monte Carlo.

    Args:
      signals: list of ``(label, x)`` with 1-D float arrays (any lengths).
    """
    labels = [lab for lab, _ in signals]
    xs = [np.asarray(x, dtype=np.float64) for _, x in signals]
    rows = []
    for J in Js:
        for T in Ts:
            R = signal_lags(xs, T, boundary=boundary)
            mean_th, var_th = energy_moments(jnp.asarray(R), J, T)
            r0 = R[:, 0]
            mean_th = np.asarray(mean_th) / r0
            var_th = np.asarray(var_th) / r0 ** 2
            E = sample_energy(xs, J, T, n_samples, seed=seed, boundary=boundary,
                              dtype=jnp.dtype(dtype), max_memory=max_memory, progress=progress)
            for m, label in enumerate(labels):
                s = mc.summarize(E[:, m], quantiles)
                N = xs[m].shape[0]
                row = {"signal": label, "J": J, "T": T, "N": N, "boundary": boundary,
                       "mean_analytic": float(mean_th[m]), "var_analytic": float(var_th[m]),
                       "mean_mc": s.mean, "se_mean_mc": s.se, "var_mc": s.var,
                       "se_var_mc": s.se_var,
                       "z_var": (s.var - float(var_th[m])) / s.se_var if s.se_var > 0 else 0.0,
                       "q05": s.quantiles[0.05], "q95": s.quantiles[0.95],
                       "folded": bool(boundary == "circular" and T > N), "samples": n_samples}
                rows.append(row)
    return rows


def bounds_rows(Js, Ts, N, *, n_samples: int, seed: int = 0, dtype="float32",
                max_memory: int = mc.DEFAULT_MAX_MEMORY, progress: bool = False) -> list[dict]:
    """One row per (J, T): Monte Carlo mean and s.e. of A, B, kappa and quantiles of kappa.

    ``N=None`` is linear convolution on l2(Z) (continuous frequency).
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
    return rows
