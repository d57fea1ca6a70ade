r"""Initialisers of conv1d filterbanks: the paper's Gaussian and what frameworks actually use.

A conv1d layer with one input channel, J output channels and kernel size T has
$\mathrm{fan\_in} = T$ and $\mathrm{fan\_out} = J T$ (PyTorch and Keras agree for
convolutions: channels times receptive field). Every initialiser below draws the J·T taps
i.i.d. with mean 0, except ``tight``:

| name | taps | variance $\sigma^2$ | $\beta = \mathbb E\, w^4 / \sigma^4$ |
|---|---|---|---|
| ``gaussian`` | $\mathcal N(0, \sigma^2)$ (the paper) | $c\,d/(JT)$ | 3 |
| ``pytorch`` | $U(\pm 1/\sqrt{\mathrm{fan\_in}})$ (Conv1d default, ``kaiming_uniform`` with $a = \sqrt 5$) | $1/(3T)$ | 9/5 |
| ``glorot_normal`` | $\mathcal N(0, 2/(\mathrm{fan\_in}+\mathrm{fan\_out}))$ | $2/(T(J+1))$ | 3 |
| ``glorot_uniform`` | $U(\pm\sqrt{6/(\mathrm{fan\_in}+\mathrm{fan\_out})})$ | $2/(T(J+1))$ | 9/5 |
| ``he_normal`` | $\mathcal N(0, 2/\mathrm{fan\_in})$ | $2/T$ | 3 |
| ``rademacher`` | $\pm\sigma$ with equal probability | $c\,d/(JT)$ | 1 |
| ``tight`` | canonical tight frame of a Gaussian draw | — | — |
| ``parseval`` | random paraunitary FIR filterbank (`rfbjax.kernels.parseval`) | $c\,d/(JT)$ (mean) | — |

(Keras draws its ``*_normal`` initialisers from a truncated normal; rfbjax uses the untruncated
one, as PyTorch's ``xavier_normal_``/``kaiming_normal_`` do.)

With stride d the energy response has mean $J\sigma^2 (T/d) \|x\|^2$ (d dividing T), so
$\sigma^2 = c\,d/(JT)$ preserves energy in expectation (c = ``scale``, 1 by default).
``gaussian`` and ``rademacher`` are defined that way; the framework initialisers keep their
own variance times c unless ``rescale=True``, which multiplies the taps so that
$\sigma^2 = c\,d/(JT)$ (the frame bounds scale, κ does not: κ is invariant to a global
gain, so only the *shape* of the tap law matters for conditioning).

``tight`` draws a Gaussian filterbank and replaces it by its canonical tight frame
$\Phi S^{-1/2}$ on $\mathbb Z_N$ with stride d (`rfbjax.kernels.initializers.canonical_tight`):
A = B = c and κ = 1 exactly, but the filters are **N taps long** (periodic), no longer T;
it needs N (circular convolution) and J ≥ d.

``parseval`` draws `rfbjax.kernels.parseval.parseval_init` (one input channel, a Haar-random
isometry and Haar-random projectors of rank ⌊J/2⌋) and returns its T-tap kernel: A = B = c on
$\ell^2(\mathbb Z)$ and every $\mathbb Z_N$ with d | N, for J ≥ d and d | T.

Every sampler is a pure function of an explicit PRNG key; its numbers come from
`rfbjax.kernels.rng` (Threefry-2x32 in counter mode).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:  # JAX is imported where a filterbank is drawn: listing NAMES stays cheap
    import jax

__all__ = ["Initializer", "INITIALIZERS", "NAMES", "get", "draw", "tap_variance", "describe",
           "validate", "effective_rescale", "canonical_tight"]


def _normal(var):
    def f(key, J, T, dtype=np.float32):
        from . import rng

        return math.sqrt(var(J, T)) * rng.normal(key, (J, T), dtype=dtype)
    return f


def _uniform(var):
    def f(key, J, T, dtype=np.float32):
        from . import rng

        b = math.sqrt(3.0 * var(J, T))
        return rng.uniform(key, (J, T), dtype=dtype, minval=-b, maxval=b)
    return f


def _rademacher(key, J, T, dtype=np.float32):
    from . import rng

    return rng.rademacher(key, (J, T), dtype=dtype) / math.sqrt(J * T)


@dataclass(frozen=True)
class Initializer:
    """One initialiser: a pure sampler ``fn(key, J, T, dtype) -> (J, T)`` at its native variance.

    Attributes:
      name: the name ``--init`` takes.
      family: ``gaussian``, ``uniform``, ``rademacher`` or ``tight`` (the law of one tap).
      fn: the sampler (None for ``tight``, which `rfbjax.kernels.initializers.draw` builds).
      native_variance: ``(J, T) -> σ²`` at stride 1 and scale 1.
      kurtosis: β = E[w⁴]/σ⁴ of one tap (None: taps not i.i.d.).
      energy_preserving: σ² = c·d/(JT) by definition (``rescale`` changes nothing).
      t_taps: the filters have T taps (False for ``tight``: N taps).
      description: one line for tables and ``--help``.
    """

    name: str
    family: str
    fn: Callable
    native_variance: Callable
    kurtosis: float | None
    energy_preserving: bool
    t_taps: bool
    description: str


_NORMAL_PAPER = lambda J, T: 1.0 / (J * T)  # noqa: E731
_PYTORCH = lambda J, T: 1.0 / (3.0 * T)  # noqa: E731
_GLOROT = lambda J, T: 2.0 / (T * (J + 1))  # noqa: E731
_HE = lambda J, T: 2.0 / T  # noqa: E731

INITIALIZERS: dict[str, Initializer] = {
    i.name: i for i in [
        Initializer("gaussian", "gaussian", _normal(_NORMAL_PAPER), _NORMAL_PAPER, 3.0, True, True,
                    "taps i.i.d. N(0, c d/(J T)) (the paper's initialisation; d = stride)"),
        Initializer("pytorch", "uniform", _uniform(_PYTORCH), _PYTORCH, 9.0 / 5.0, False, True,
                    "PyTorch Conv1d default: U(-1/sqrt(T), 1/sqrt(T)) (kaiming_uniform, a=sqrt(5))"),
        Initializer("glorot_normal", "gaussian", _normal(_GLOROT), _GLOROT, 3.0, False, True,
                    "Glorot/Xavier normal: N(0, 2/(fan_in + fan_out)) = N(0, 2/(T (J+1)))"),
        Initializer("glorot_uniform", "uniform", _uniform(_GLOROT), _GLOROT, 9.0 / 5.0, False,
                    True, "Glorot/Xavier uniform: U(+-sqrt(6/(T (J+1))))"),
        Initializer("he_normal", "gaussian", _normal(_HE), _HE, 3.0, False, True,
                    "He/Kaiming normal (fan_in, ReLU gain): N(0, 2/T)"),
        Initializer("rademacher", "rademacher", _rademacher, _NORMAL_PAPER, 1.0, True, True,
                    "taps +-sigma with equal probability, sigma^2 = c d/(J T)"),
        Initializer("tight", "tight", None, _NORMAL_PAPER, None, True, False,
                    "canonical tight frame Phi S^(-1/2) of a Gaussian draw on Z_N: kappa = 1, "
                    "filters N taps long"),
        Initializer("parseval", "parseval", None, _NORMAL_PAPER, None, True, True,
                    "random paraunitary FIR filterbank (Haar isometry times degree-one blocks "
                    "with Haar projectors of rank J//2): kappa = 1, T taps, needs J >= d, d | T"),
    ]
}
NAMES = tuple(INITIALIZERS)


def get(name: str) -> Initializer:
    """The initialiser called ``name``.

    Args:
      name: one of `rfbjax.kernels.initializers.NAMES`.

    Returns:
      Its `rfbjax.kernels.initializers.Initializer`.

    Raises:
      InputError: an unknown name (the message lists the known ones).
    """
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise InputError(f"--init: unknown initialiser {name!r} (choose from "
                         f"{', '.join(NAMES)})") from None


def effective_rescale(name: str, rescale: bool) -> bool:
    """``rescale`` only matters for initialisers that are not energy preserving by definition.

    Args:
      name: the initialiser.
      rescale: the requested option.

    Returns:
      Whether the taps are actually rescaled.
    """
    return bool(rescale) and not get(name).energy_preserving


def tap_variance(name: str, J: int, T: int, *, stride: int = 1, scale: float = 1.0,
                 rescale: bool = False, N: int | None = None) -> float:
    r"""σ² of one tap.

    Energy-preserving (or rescaled) initialisers: $c\,d/(JT)$; the framework ones: native σ²
    times c. ``tight``: the mean squared tap $c\,d/(JN)$ ($\sum_j \|g_j\|^2 = c\,d$), taps not
    independent.

    Args:
      name: the initialiser.
      J: number of filters.
      T: number of taps.
      stride: d.
      scale: the variance scale c.
      rescale: rescale a framework initialiser to $c\,d/(JT)$.
      N: the grid (``tight`` only; T when not given).

    Returns:
      σ², a Python float.

    Raises:
      InputError: an unknown initialiser.
    """
    init = get(name)
    if init.family == "tight":
        return float(scale) * stride / (J * (N if N is not None else T))
    if init.energy_preserving or rescale:
        return float(scale) * stride / (J * T)
    return float(scale) * init.native_variance(J, T)


def validate(name: str, J: int, *, stride: int = 1, N: int | None = None,
             T: int | None = None) -> Initializer:
    """InputError for settings an initialiser cannot serve (``tight`` needs Z_N and J ≥ d).

    Args:
      name: the initialiser.
      J: number of filters.
      stride: d.
      N: the grid, or None (linear convolution).
      T: taps (``parseval`` checks d | T when given).

    Returns:
      The `rfbjax.kernels.initializers.Initializer`.

    Raises:
      InputError: an unknown initialiser, or ``tight`` without N or with J < d.
    """
    init = get(name)
    if init.family == "tight":
        if N is None:
            raise InputError("--init tight: the tight frame lives on Z_N (circular convolution): "
                             "give an integer --N, not inf (energy: --boundary circular)")
        if J < stride:
            raise InputError(f"--init tight: needs J >= stride (no stride-{stride} filterbank of "
                             f"J={J} filters is a frame)")
    if init.family == "parseval":
        from .parseval import check_parseval_shape

        check_parseval_shape(J, 1, T if T is not None else stride, stride,
                             what="--init parseval: ")
    return init


def draw(name: str, key: jax.Array, J: int, T: int, *, dtype=np.float32, stride: int = 1,
         scale: float = 1.0, rescale: bool = False, N: int | None = None) -> jax.Array:
    """One filterbank: ``(J, T)``, or ``(J, N)`` for ``tight``.

    ``gaussian`` is `rfbjax.kernels.filters.gaussian_filterbank` with variance scale c·d (the
    same numbers for the same key at stride 1).

    Args:
      name: the initialiser.
      key: a PRNG key; the draw is a deterministic function of it.
      J: number of filters.
      T: number of taps.
      dtype: of the taps.
      stride: d.
      scale: the variance scale c.
      rescale: rescale a framework initialiser to σ² = c·d/(JT).
      N: the grid (``tight`` only).

    Returns:
      ``(J, T)``, or ``(J, N)`` for ``tight``.

    Raises:
      InputError: an unknown initialiser.
      ValueError: ``tight`` without N.
    """
    from .filters import gaussian_filterbank

    init = get(name)
    d = int(stride)
    if init.name == "gaussian":
        return gaussian_filterbank(key, J, T, scale=float(scale) * d, dtype=dtype)
    if init.family == "parseval":
        from .parseval import parseval_init, parseval_kernel

        p = parseval_init(key, J, 1, T, d, dtype=dtype, gain=float(scale))
        return parseval_kernel(p)[:, 0, :]
    if init.family == "tight":
        if N is None:
            raise ValueError("tight needs N")
        g = canonical_tight(gaussian_filterbank(key, J, T, dtype=dtype), N, d)
        return g if scale == 1.0 else math.sqrt(scale) * g
    w = init.fn(key, J, T, dtype)
    target = tap_variance(name, J, T, stride=d, scale=scale, rescale=rescale)
    factor = target / init.native_variance(J, T)
    return w if factor == 1.0 else (math.sqrt(factor) * w).astype(w.dtype)


def describe(name: str, J: int, T: int, *, stride: int = 1, scale: float = 1.0,
             rescale: bool = False, N: int | None = None) -> dict:
    """Metadata for tables and JSON: tap variance, β, filter length, expected energy gain.

    Args:
      name: the initialiser.
      J: number of filters.
      T: number of taps.
      stride: d.
      scale: the variance scale c.
      rescale: as for `rfbjax.kernels.initializers.draw`.
      N: the grid (``tight`` only).

    Returns:
      A dict: ``init``, ``family``, ``tap_variance``, ``kurtosis``, ``iid_taps``,
      ``filter_length``, ``t_taps``, ``rescaled``, ``energy_gain``, ``description``.

    Raises:
      InputError: an unknown initialiser.
    """
    init = get(name)
    var = tap_variance(name, J, T, stride=stride, scale=scale, rescale=rescale, N=N)
    taps = T if init.t_taps else N
    gain = float(scale) if init.family == "tight" else J * var * T / stride
    return {"init": name, "family": init.family, "tap_variance": var,
            "kurtosis": init.kurtosis, "iid_taps": init.kurtosis is not None,
            "filter_length": taps, "t_taps": init.t_taps,
            "rescaled": effective_rescale(name, rescale),
            "energy_gain": gain, "description": init.description}


def canonical_tight(w: jax.Array, N: int, stride: int = 1) -> jax.Array:
    r"""The canonical tight frame $\Phi S^{-1/2}$ of a stride-d filterbank on $\mathbb Z_N$.

    S commutes with shifts by d, so $\Phi S^{-1/2}$ is again a stride-d filterbank, with
    $G'(\xi) = G(\xi)\, \mathcal M(\xi)^{-1/2}$ (hence $\mathcal M'(\xi) = I$, A = B = 1). At
    d = 1: $\hat g_j = \hat w_j / \sqrt{P}$. The filters become N taps long (periodic on
    $\mathbb Z_N$). Needs J ≥ d (otherwise no stride-d filterbank of J filters is a frame).

    Args:
      w: real filterbanks, ``(..., J, T)``.
      N: the grid, a multiple of ``stride`` (static).
      stride: d (static).

    Returns:
      ``(..., J, N)`` real.

    Raises:
      AssertionError: (chex, at trace time) ``w`` is not a real floating ``(..., J, T)``
        array, ``stride`` does not divide ``N``, or J < d.
    """
    d = int(stride)
    import chex
    import jax
    import jax.numpy as jnp

    from .filters import fold_taps

    chex.assert_shape(w, (..., None, None),
                      custom_message="canonical_tight: w must be (..., J, T)")
    chex.assert_type(w, float, custom_message="canonical_tight: w must be real floating")
    chex.assert_is_divisible(int(N), d,
                             custom_message=f"canonical_tight: stride {d} must divide N={N}")
    chex.assert_axis_dimension_gteq(w, -2, d,
                                    custom_message=f"canonical_tight: needs J >= stride {d}")
    wf = fold_taps(w, N)
    tiny = jnp.finfo(w.dtype).tiny
    if d == 1:
        W = jnp.fft.rfft(wf, n=N, axis=-1)
        P = jnp.sum(W.real ** 2 + W.imag ** 2, axis=-2, keepdims=True)
        return jnp.fft.irfft(W * jax.lax.rsqrt(jnp.maximum(P, tiny)), n=N, axis=-1).astype(w.dtype)
    J = w.shape[-2]
    M = N // d
    W = jnp.fft.fft(wf, n=N, axis=-1)                              # (..., J, N)
    G = jnp.moveaxis(W.reshape(W.shape[:-1] + (d, M)), -1, -3)     # (..., M, J, d)
    H = jnp.einsum("...ja,...jb->...ab", jnp.conj(G), G) / d
    lam, V = jnp.linalg.eigh(H)
    inv_sqrt = jnp.einsum("...ak,...k,...bk->...ab", V, jax.lax.rsqrt(jnp.maximum(lam, tiny)),
                          jnp.conj(V))
    Gt = G @ inv_sqrt                                              # (..., M, J, d)
    Wt = jnp.moveaxis(Gt, -3, -1).reshape(W.shape[:-2] + (J, N))
    return jnp.real(jnp.fft.ifft(Wt, axis=-1)).astype(w.dtype)
