"""Tables of results: the rows that ``rfbjax energy`` / ``rfbjax bounds`` print and save.

Pure orchestration over `rfbjax.engine.measure` (Monte Carlo) and the exact formulas; no I/O.
"""

from __future__ import annotations

import math

import numpy as np
import jax.numpy as jnp

from ..base.names import with_old_keys
from ..kernels import initializers as inits
from ..engine import montecarlo as mc
from ..kernels.energy import energy_moments
from ..engine.measure import prepare_bounds, prepare_energy, signal_lags
from ..kernels.strided import strided_energy_moments, strided_gram, stride_support
from ..theory.energy_law import energy_law_from_eigenvalues, toeplitz_eigenvalues
from ..theory.predictor import kappa_tilde_paper, predict

__all__ = ["energy_rows", "bounds_rows"]


def _progress(progress, J: int, T: int) -> dict:
    """Progress arguments of one Monte Carlo call.

    ``progress`` is a bool (a bar per call, from the driver) or one overall tqdm-like bar
    (``update(n)`` and optionally ``set_postfix_str``) that every call advances by its samples;
    the bar names the setting (J, T) when its first chunk is done.
    """
    if isinstance(progress, bool) or progress is None:
        return {"progress": bool(progress)}
    note = getattr(progress, "set_postfix_str", None)
    named = []

    def on_chunk(n):
        if note is not None and not named:
            named.append(True)
            note(f"J={J} T={T}")
        progress.update(n)

    return {"progress": False, "on_chunk": on_chunk}


def _note(progress, text: str) -> None:
    """Say on the overall bar (if there is one) what is being done."""
    note = getattr(progress, "set_postfix_str", None)
    if note is not None and not isinstance(progress, bool):
        note(text)


def energy_rows(signals, Js, Ts, *, n_samples: int, seed: int = 0, boundary: str = "circular",
                dtype="float32", p: float = 0.05, max_memory: int = mc.DEFAULT_MAX_MEMORY,
                progress: bool = False, quantiles=(0.05, 0.95), theory: bool = True,
                init: str = "gaussian", stride: int = 1, rescale: bool = False,
                exact_max_T: int | None = None) -> list[dict]:
    """One row per (signal, J, T): exact mean/variance of E/||x||^2 and its Monte Carlo.

    With ``theory`` (default) the rows also carry the exact law's columns
    (`rfbjax.theory.energy_law.energy_theory_row`: ``q05_exact``, ``q95_exact``,
    ``alpha_exact``, ``alpha_cantelli``, ``alpha_chernoff``, ``alpha_bernstein`` at level ``p``, the
    ``_lower`` tail, ``*_valid`` flags) and ``alpha_mc`` = the Monte Carlo (1 - p) quantile - 1.
    The eigenvalues of the Toeplitz matrix depend on (signal, T) only and are computed once.
    The exact law costs one T×T eigendecomposition (O(T³) time, O(T²) memory): for T above
    ``exact_max_T`` (None: no limit) its columns are left out and the row says
    ``exact_law: False`` with ``exact_law_note``; the mean and variance stay exact.

    With ``stride`` d > 1 or another ``init`` (`rfbjax.kernels.initializers`) the rows come from
    `_energy_rows_general` (strided moments, the exact law only for Gaussian taps).

    Args:
      signals: list of ``(label, x)`` with 1-D float arrays (any lengths).
      progress: False, True (a bar per Monte Carlo call) or one overall tqdm-like bar that
        every call advances by its samples (the CLI's).
    """
    if init != "gaussian" or int(stride) != 1:
        return _energy_rows_general(signals, Js, Ts, n_samples=n_samples, seed=seed,
                                    boundary=boundary, dtype=dtype, p=p, max_memory=max_memory,
                                    progress=progress, quantiles=quantiles, theory=theory,
                                    init=init, stride=int(stride), rescale=rescale,
                                    exact_max_T=exact_max_T)
    labels = [lab for lab, _ in signals]
    xs = [np.asarray(x, dtype=np.float64) for _, x in signals]
    _note(progress, "preparing programs")
    jobs = mc.start_all(lambda T, J: prepare_energy(
        xs, J, T, n_samples, seed=seed, boundary=boundary, dtype=jnp.dtype(dtype),
        max_memory=max_memory, **_progress(progress, J, T)), [(T, J) for T in Ts for J in Js])
    rows = []
    with mc.cancelling(jobs):
        for T in Ts:
            R = signal_lags(xs, T, boundary=boundary)          # depends on (signal, T) only
            exact = theory and _exact_allowed(T, exact_max_T)
            eigs = [toeplitz_eigenvalues(r) for r in R] if exact else None
            for J in Js:
                mean_th, var_th = energy_moments(R, J, T)          # NumPy float64
                r0 = R[:, 0]
                mean_th = np.asarray(mean_th) / r0
                var_th = np.asarray(var_th) / r0 ** 2
                E = jobs.pop((T, J)).result()
                for m, label in enumerate(labels):
                    s = mc.summarize(E[:, m], tuple(sorted(set(quantiles) | {1.0 - p})))
                    N = xs[m].shape[0]
                    row = {"signal": label, "J": J, "T": T, "N": N, "boundary": boundary,
                           "mean_exact": float(mean_th[m]), "var_exact": float(var_th[m]),
                           "mean": s.mean, "se_mean": s.se, "var": s.var, "se_var": s.se_var,
                           "z_var": (s.var - float(var_th[m])) / s.se_var if s.se_var > 0 else 0.0,
                           "q05": s.quantiles[0.05], "q95": s.quantiles[0.95],
                           "folded": bool(boundary == "circular" and T > N), "samples": n_samples}
                    if exact:
                        law = energy_law_from_eigenvalues(eigs[m], J, T, float(R[m, 0]))
                        row.update(law.theory_row(p))
                    elif theory:
                        row.update(_exact_skipped(exact_max_T))
                    if theory:
                        row["alpha"] = s.quantiles[1.0 - p] - 1.0
                    rows.append(with_old_keys(row))   # and the 0.2 names, for one release
    return rows


def _exact_allowed(T: int, exact_max_T: int | None) -> bool:
    return exact_max_T is None or int(T) <= int(exact_max_T)


def _exact_skipped(exact_max_T) -> dict:
    return {"exact_law": False,
            "exact_law_note": f"skipped: T > {exact_max_T} (one T×T eigendecomposition, O(T³))"}


def _energy_rows_general(signals, Js, Ts, *, n_samples, seed, boundary, dtype, p, max_memory,
                         progress, quantiles, theory, init, stride, rescale,
                         exact_max_T=None) -> list[dict]:
    r"""Energy rows for a stride d and/or a non-Gaussian initialiser.

    * ``mean_analytic``, ``var_analytic``: exact, from `rfbjax.kernels.strided.strided_energy_moments`
      with the initialiser's tap variance σ² and fourth moment β σ⁴ (``tight``: A = B = c, so
      the energy is c‖x‖² for every draw: mean c, variance 0).
    * exact-law columns (``q05_exact`` … ``*_valid``): only for Gaussian taps (``gaussian``,
      ``glorot_normal``, ``he_normal``), from the eigenvalues of $Q_d$
      (`rfbjax.kernels.strided.strided_gram`) with σ²; absent for other initialisers (the
      generalised chi-square law needs Gaussian taps) and ``exact_law`` is False.
    * ``init``, ``stride``, ``filter_length``, ``tap_variance`` describe the setting.
    """
    labels = [lab for lab, _ in signals]
    xs = [np.asarray(x, dtype=np.float64) for _, x in signals]
    _note(progress, "preparing programs")
    jobs = mc.start_all(lambda T, J: prepare_energy(
        xs, J, T, n_samples, seed=seed, boundary=boundary, dtype=jnp.dtype(dtype),
        max_memory=max_memory, init=init, stride=stride, rescale=rescale,
        **_progress(progress, J, T)), [(T, J) for T in Ts for J in Js])
    rows = []
    with mc.cancelling(jobs):
        law_cache: dict = {}
        for T in Ts:
            supports = [stride_support(x, T, stride, boundary) for x in xs]
            law_cache.clear()
            for J in Js:
                E = jobs.pop((T, J)).result()
                for m, label in enumerate(labels):
                    x = supports[m]
                    N = xs[m].shape[0]
                    info = inits.describe(init, J, T, stride=stride, rescale=rescale, N=x.shape[0])
                    r0 = float(np.sum(x * x))
                    if info["family"] in ("tight", "parseval"):   # A = B = c: the energy is c exactly
                        mean_th, var_th = 1.0, 0.0
                    else:
                        mean_th, var_th = strided_energy_moments(
                            x, J, T, stride, tap_variance=info["tap_variance"],
                            kurtosis=info["kurtosis"])
                        mean_th, var_th = mean_th / r0, var_th / r0 ** 2
                    s = mc.summarize(E[:, m], tuple(sorted(set(quantiles) | {1.0 - p})))
                    row = {"signal": label, "J": J, "T": T, "N": N, "boundary": boundary,
                           "init": init, "stride": stride, "filter_length": info["filter_length"],
                           "tap_variance": info["tap_variance"],
                           "mean_exact": mean_th, "var_exact": var_th,
                           "mean": s.mean, "se_mean": s.se, "var": s.var, "se_var": s.se_var,
                           "z_var": ((s.var - var_th) / s.se_var if s.se_var > 0 and var_th > 0
                                     else None),   # no z-score for a degenerate (constant) energy
                           "q05": s.quantiles[0.05], "q95": s.quantiles[0.95],
                           "folded": bool(boundary == "circular" and info["filter_length"] > N),
                           "samples": n_samples,
                           "exact_law": bool(theory and info["family"] == "gaussian")}
                    if row["exact_law"] and not _exact_allowed(T, exact_max_T):
                        row.update(_exact_skipped(exact_max_T))
                    if row["exact_law"]:
                        if m not in law_cache:
                            law_cache[m] = np.linalg.eigvalsh(strided_gram(x, T, stride))
                        law = energy_law_from_eigenvalues(law_cache[m], J, T, r0,
                                                          info["tap_variance"] * J * T)
                        row.update(law.theory_row(p))
                    if theory:
                        row["alpha"] = s.quantiles[1.0 - p] - 1.0
                    rows.append(with_old_keys(row))   # and the 0.2 names, for one release
    return rows


def bounds_rows(Js, Ts, N, *, n_samples: int, seed: int = 0, dtype="float32",
                max_memory: int = mc.DEFAULT_MAX_MEMORY, progress: bool = False,
                theory: bool = True, init: str = "gaussian", stride: int = 1,
                rescale: bool = False) -> list[dict]:
    """One row per (J, T): Monte Carlo mean and s.e. of A, B, kappa and quantiles of kappa.

    ``N=None`` is linear convolution on l2(Z) (continuous frequency). With ``theory`` (default)
    the rows also carry rfbjax's sampling-free predictions ``pred_A``, ``pred_B``, ``pred_kappa``,
    ``pred_q05_kappa``, ``pred_q95_kappa`` (`rfbjax.theory.predictor.predict`) and the
    paper's ``kappa_tilde_paper`` (None where undefined, J <= 4 log T).

    ``stride`` d > 1 (circular, d | N) and ``init`` (`rfbjax.kernels.initializers`) change the
    filterbank distribution. The predictor models i.i.d. Gaussian taps at any stride (J ≠ d;
    circular at d > 1); κ does not depend on the variance, so for ``glorot_normal`` and
    ``he_normal`` the predictions carry over (A and B times σ²JT/d). Otherwise the ``pred_*``
    columns are None (non-Gaussian taps); ``kappa_tilde_paper`` is stride 1 only.
    Rows of non-default settings also carry ``init``, ``stride``, ``filter_length``.
    """
    default = init == "gaussian" and int(stride) == 1
    _note(progress, "preparing programs")
    extra = {} if default else {"init": init, "stride": int(stride), "rescale": rescale}
    jobs = mc.start_all(lambda J, T: prepare_bounds(
        J, T, N, n_samples, seed=seed, dtype=jnp.dtype(dtype), max_memory=max_memory,
        **_progress(progress, J, T), **extra), [(J, T) for J in Js for T in Ts])
    rows = []
    with mc.cancelling(jobs):
        for J in Js:
            for T in Ts:
                out = jobs.pop((J, T)).result()
                sA, sB = mc.summarize(out["A"]), mc.summarize(out["B"])
                sK = mc.summarize(out["kappa"])
                rows.append({"J": J, "T": T, "N": N, "mean_A": sA.mean, "mean_B": sB.mean,
                             "mean_kappa": sK.mean, "se_A": sA.se, "se_B": sB.se, "se_kappa": sK.se,
                             "q05_kappa": sK.quantiles[0.05], "q95_kappa": sK.quantiles[0.95],
                             "frac_kappa_inf": sK.n_inf / sK.n, "ratio_mean_B_mean_A":
                             sB.mean / sA.mean if sA.mean > 0 else float("inf"),
                             "folded": bool(N is not None and T > N), "samples": n_samples})
                if not default:
                    info = inits.describe(init, J, T, stride=int(stride), rescale=rescale, N=N)
                    rows[-1].update({"init": init, "stride": int(stride),
                                     "filter_length": info["filter_length"],
                                     "tap_variance": info["tap_variance"]})
                    rows[-1]["folded"] = bool(N is not None and info["filter_length"] > N)
                    strided_ok = int(stride) == 1 or (N is not None and J != int(stride))
                    if theory and not (info["family"] == "gaussian" and strided_ok):
                        rows[-1].update({k: None for k in ("pred_A", "pred_B", "pred_kappa",
                                                           "pred_q05_kappa", "pred_q95_kappa",
                                                           "kappa_tilde_paper")})
                        continue
                if theory:
                    d = int(stride)
                    gain = 1.0 if default else info["tap_variance"] * J * T / d
                    pr = predict(J, T, math.inf if N is None else N, stride=d)
                    kt = float(kappa_tilde_paper(J, T)) if d == 1 else math.nan
                    rows[-1].update({"pred_A": pr.E_A * gain, "pred_B": pr.E_B * gain,
                                     "pred_kappa": pr.E_kappa,
                                     "pred_q05_kappa": pr.kappa_quantiles[0.05],
                                     "pred_q95_kappa": pr.kappa_quantiles[0.95],
                                     "kappa_tilde_paper": kt if np.isfinite(kt) else None})
    return rows
