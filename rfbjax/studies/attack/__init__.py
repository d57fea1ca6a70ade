r"""Adversarial inputs: search for the signals a random filterbank treats worst (docs/theory.md §6).

Modules: `rfbjax.studies.attack.objectives` (what is optimised), `rfbjax.studies.attack.constraints`
(feasible sets and their projections), `rfbjax.studies.attack.search` (optax and the compiled
loop), `rfbjax.studies.attack.certify` (optima known in closed form, comparisons),
`rfbjax.studies.attack.driver` (`attack`: one call from objective to certified result).

**Objectives.** Three differentiable functions of the input $x \in \mathbb R^N$, all
*scale-invariant* (functions of $x/\|x\|$), built from the signal autocorrelation
$R_x(\tau) = \sum_n x[n]\,x[(n+\tau) \bmod N]$ (one real FFT pair of length N,
differentiable) and the weights $c_0 = 1$, $c_{\tau>0} = 2$:

- ``variance``: Formula (3), exact, no sampling, for taps i.i.d. $\mathcal N(0, 1/(JT))$:

    $$
    f(x) = \frac{\mathbb V[\|\Phi x\|^2]}{\|x\|^4}
          = \frac{2}{J T^2} \sum_{\tau=0}^{T-1} c_\tau (T-\tau)
            \Big(\frac{R_x(\tau)}{R_x(0)}\Big)^2 .
    $$

    Supremum $2/J$ (constant and alternating signals); infimum $2/(JT)$ (an impulse).

- ``fixed``: One filterbank, through its autocorrelation $\rho$ (docs/theory.md formula (1)):

    $$
    f(x) = \frac{\|\Phi x\|^2}{\|x\|^2}
          = \sum_{\tau=0}^{T-1} c_\tau\, \rho(\tau)\, \frac{R_x(\tau)}{R_x(0)} ,
    $$

    whose maximum is the upper frame bound B and minimum the lower one A (circular, stride 1).

- ``population``: K fixed filterbanks $\rho_1 \dots \rho_K$ (a ``(K, T)`` array; one matrix
    product per signal):

    $$
    f(x) = \frac1K \sum_{k=1}^K \Big(\frac{\|\Phi_k x\|^2}{\|x\|^2} - 1\Big)^2 ,
    $$

    whose expectation over Gaussian populations is the ``variance`` objective (the mean of
    $\|\Phi x\|^2$ is exactly $\|x\|^2$).

**Exact optima: the vertex argument.** Write $p_k = \gamma_k |\hat x_k|^2 / (N \|x\|^2)$ for
the share of the energy in rfft bin k ($\gamma_k = 2$ for the bins that stand for a pair
$\pm k$, 1 for DC and Nyquist), so $p \ge 0$ and $\sum_k p_k = 1$. Then

$$
\frac{R_x(\tau)}{\|x\|^2} = \sum_k p_k \cos(2\pi k \tau / N)
$$

is *linear* in p. Hence ``fixed`` is linear in p (its value at $p = e_k$ is the power
response $P(2\pi k/N)$), and ``variance`` and ``population`` are sums of squares of affine
functions of p with non-negative weights, i.e. *convex* in p. A linear or convex function on a
simplex is maximised at a vertex — a single bin, i.e. a pure (co)sine — and a linear one is also
minimised at a vertex. So with a band constraint alone, the maximum of every objective (and the
minimum of ``fixed``) is its value at the best *allowed* bin: `certificate` computes it in
closed form, with one FFT of length N. Unconstrained, this gives back $2/J$ and
$A, B$. With a time support or an ε-ball the feasible set is smaller, so the same number is
still a bound (an upper bound for a maximum, a lower bound for a minimum). For the ε-ball, x
contains $x_0$, whose spectrum the band does not restrict, so there every bin counts.

**Constraints: projection, not parametrisation.** The optimiser moves an internal variable
z of norm $\sqrt N$ (RMS 1): the signal itself, $z = \sqrt N\, x/\|x\|$, or with ``near`` the
perturbation in units of the ball's radius, $z = \sqrt N\, \delta/(\varepsilon\|x_0\|)$. So a
learning rate is a step relative to the RMS of the signal (or of the largest allowed
perturbation), whatever N and ε. After every optimiser step z is projected exactly onto the
feasible set:

* allowed bands: zero the forbidden rfft bins (orthogonal projection onto a subspace);
* a time support ``[start, stop)``: zero the samples outside it;
* both: the orthogonal projection onto the intersection of the two subspaces, through an
  orthonormal basis computed once with an SVD (alternating the two masks would not land in the
  intersection after one round);
* ``near`` ($x = x_0 + \delta$, $\|\delta\| \le \varepsilon \|x_0\|$): the band and
  support constrain the perturbation δ; after projecting δ onto that subspace it is scaled into
  the ball. Because the ball is centred on the subspace's origin, the composition is the exact
  Euclidean projection onto (subspace ∩ ball);
* otherwise z is rescaled to $\|z\| = \sqrt N$. The objectives are scale-invariant, so this
  only fixes the gauge (it keeps Adam's steps meaningful and stops the norm drifting).

Projection was chosen over a parametrisation because every constraint set is a subspace, plus a
ball centred at its origin: the projections are exact and cost one rfft pair, a mask or a small
matrix product; every iterate is feasible, so every point of every history curve is a legal
signal; and any optax optimiser works unchanged on z. A parametrisation (say x = band-limit(u),
or δ = ε‖x₀‖ u/max(1, ‖u‖)) keeps x feasible too, but it rescales the geometry the optimiser
sees, and for the ball it creates a flat region (‖u‖ > 1) where the gradient vanishes radially.

**Search.** `make_solver` returns a pure function ``solve(params, z0)`` that runs every restart
of the search inside one ``lax.while_loop`` (no Python work per step; ``jit`` it, and ``vmap``
it over ``params`` to attack many filterbanks at once): value and gradient of all restarts
(``vmap``), one optax update, the projection. Each restart keeps its best point; a restart stops
(is frozen) once its best value has not improved by a relative ``tol`` within ``patience``
steps, and the loop ends when every restart has stopped or after ``steps`` steps. Starting
points are Gaussian noise with power spectra $\propto f^{-\alpha}$, α spread over [−3, 3] across
restarts (blue to brown): the ``variance`` and ``population`` objectives are convex in the power
spectrum, so they have several local maxima (pure tones, roughly) and where a restart ends
depends mostly on where its spectrum starts. ``fixed`` is a Rayleigh quotient of the circulant
matrix $\Phi^\top\Phi$ on the sphere: no spurious local extrema.
"""

from __future__ import annotations

from .certify import (BASELINE_SIGNALS, builtin_values, certificate, frame_summary,
                      spectral_peak, tone_values)
from .constraints import (Constraints, _subspace_projection, band_mask, initial_points,  # noqa: F401
                          make_constraints, make_projection, parse_bands, parse_support)
from .driver import AttackResult, attack
from .objectives import (OBJECTIVES, Objective, as_weights, energy_ratio, fixed_objective,
                         load_weights, population_objective, population_value,
                         sample_filterbanks, sample_population, variance_objective,
                         variance_value)
from .search import SCHEDULES, make_optimizer, make_solver, search_many

__all__ = [
    "OBJECTIVES",
    "SCHEDULES",
    "BASELINE_SIGNALS",
    "Objective",
    "Constraints",
    "AttackResult",
    "variance_value",
    "energy_ratio",
    "population_value",
    "variance_objective",
    "fixed_objective",
    "population_objective",
    "sample_filterbanks",
    "sample_population",
    "load_weights",
    "as_weights",
    "parse_bands",
    "parse_support",
    "band_mask",
    "make_constraints",
    "make_projection",
    "make_optimizer",
    "initial_points",
    "make_solver",
    "search_many",
    "tone_values",
    "certificate",
    "spectral_peak",
    "builtin_values",
    "frame_summary",
    "attack",
]
