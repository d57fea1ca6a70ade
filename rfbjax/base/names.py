"""One name per quantity: the keys of every JSON file, result ``to_dict()`` and table column.

The scheme (the page "Columns and keys" of the documentation lists every key):

- a Monte Carlo statistic is plain, ``<statistic>_<quantity>``: ``mean_A``, ``se_kappa``,
  ``q05_kappa``; in the energy tables, whose one quantity is the ratio
  $\\|\\Phi x\\|^2/\\|x\\|^2$, just ``mean``, ``var``, ``se_var``, ``q05``, ``alpha``;
- a sampling-free prediction carries ``pred_``: ``pred_A``, ``pred_kappa``, ``pred_q05_kappa``;
- an exact theoretical value carries ``_exact``: ``mean_exact``, ``var_exact``, ``q05_exact``;
- a bound is named by the inequality it comes from (``alpha_cantelli``) and a formula by its
  source (``kappa_tilde_paper``).

`RENAMED` maps each key of release 0.2 to its name from 0.3.0 on; `with_old_keys` writes the
old keys beside the new ones for one release, so that readers of 0.2 files keep working.
"""

from __future__ import annotations

__all__ = ["RENAMED", "with_old_keys", "quantile_key"]

#: key of release 0.2 -> key from 0.3.0 (the old key is still written until 0.4.0)
RENAMED: dict[str, str] = {
    # rfbjax predict, rfbjax.predict(...).to_dict()
    "E_A": "pred_A",
    "E_B": "pred_B",
    "E_inv_A": "pred_inv_A",
    "E_kappa": "pred_kappa",
    "ratio_of_means": "pred_ratio_mean_B_mean_A",
    "kappa_q05": "pred_q05_kappa",
    "kappa_q95": "pred_q95_kappa",
    "kappa_median": "pred_median_kappa",
    "E_aliasing": "pred_aliasing",
    # rfbjax energy, rfbjax.energy_statistics
    "mean_analytic": "mean_exact",
    "var_analytic": "var_exact",
    "mean_mc": "mean",
    "se_mean_mc": "se_mean",
    "var_mc": "var",
    "se_var_mc": "se_var",
    "alpha_mc": "alpha",
}

_OLD_OF = {new: old for old, new in RENAMED.items()}


def quantile_key(p: float, quantity: str, *, prefix: str = "") -> str:
    """``quantile_key(0.05, "kappa", prefix="pred_")`` is ``"pred_q05_kappa"``."""
    return f"{prefix}q{round(100 * float(p)):02d}_{quantity}"


def with_old_keys(row: dict) -> dict:
    """``row`` (new keys), followed by a copy of each renamed value under its 0.2 key.

    Only keys of `RENAMED` are copied (and ``pred_qXX_kappa`` as ``kappa_qXX``); a key the
    row already holds is left alone.
    """
    out = dict(row)
    for key, value in row.items():
        old = _OLD_OF.get(key)
        if old is None and key.startswith("pred_q") and key.endswith("_kappa"):
            old = "kappa_" + key[len("pred_"):-len("_kappa")]
        if old is not None and old not in out:
            out[old] = value
    return out
