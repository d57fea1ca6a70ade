r"""Knowledge distillation of a strided conv1d front end, full batch, in closed form.

The student is one conv1d layer with one input channel, J filters of T taps and stride d,
applied by circular convolution on $\mathbb Z_N$ (d | N, M = N/d):

$$
y_j[m] = (x \circledast w_j)[md] = \sum_{t<T} w_j[t]\, x[(md - t) \bmod N].
$$

It learns to reproduce a teacher's outputs $y^\star_s$ (here a fixed target filterbank's)
on a training set $x_1 \dots x_n$; the loss is the mean squared error relative to the mean
energy of the teacher's outputs (1 = the loss of a student that outputs zeros):

$$
\mathcal L(w) = \frac{\tfrac1n \sum_s \|\Phi_w x_s - y^\star_s\|^2}{\tfrac1n \sum_s \|y^\star_s\|^2}.
$$

**Closed form.** The M-point DFT of the kept outputs is
$\hat y_j[\xi] = \sum_{a<d} \hat w_j[\xi + aM]\, \hat x[\xi + aM] / d$ (N-point DFTs,
`rfbjax.kernels.strided`), so with $u_j(\xi) = (\hat w_j[\xi + aM])_{a<d}$ and
$\chi_s(\xi) = (\hat x_s[\xi + aM]/d)_{a<d}$, Parseval on $\mathbb Z_M$ gives

$$
\tfrac1n \sum_s \|\Phi_w x_s - y^\star_s\|^2 = \frac1M \sum_{\xi<M} \sum_j
\bigl[u_j^\top R(\xi)\, \bar u_j - 2\,\mathrm{Re}\, u_j^\top c_j(\xi)\bigr] + e,
$$

with the sufficient statistics $R(\xi) = \tfrac1n \sum_s \chi_s \chi_s^H$ (d×d),
$c_j(\xi) = \tfrac1n \sum_s \chi_s\, \overline{\hat y^\star_{s,j}[\xi]}$ and
$e = \tfrac1n \sum_s \|y^\star_s\|^2$. They are computed once from the training outputs
(`distill_stats`); afterwards a step costs J FFTs of length N and O(J N d) products, whatever
the number of signals — the full-batch loss and gradient, exactly (tested against explicit
convolutions). Float64 is advised: the loss is a difference of O(1) terms.

`train_runs` trains many runs at once (``vmap`` over initial weights) with optax Adam, an
optional penalty transformation chained before it, and logs at every ``log_every`` steps the
training loss, the held-out loss and the exact frame bounds A, B of the weights on
$\mathbb Z_N$ with stride d (`rfbjax.kernels.strided.strided_frame_bounds`). The trained
parameters are the taps themselves, or the free parameters of a parametrisation that maps them
to taps (``to_kernel``; `parseval_taps`: the Parseval layers of `rfbjax.kernels.parseval`,
trained through `rfbjax.kernels.parseval.parseval_kernel`).
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import numpy as np
import jax
import jax.numpy as jnp
import optax

from ...kernels.filters import fold_taps
from ...kernels.frames import condition_number
from ...kernels.strided import strided_frame_bounds

__all__ = ["DistillStats", "analysis", "distill_stats", "distill_loss", "full_spectrum",
           "parseval_taps", "train_runs"]


class DistillStats(NamedTuple):
    """Sufficient statistics of a data set for `distill_loss` (module docstring).

    Attributes:
      R: complex ``(d, d, M)`` (``R[a, b, xi]``).
      c: complex ``(J, d, M)``.
      e: real scalar (mean teacher energy).
    """

    R: jax.Array
    c: jax.Array
    e: jax.Array


def analysis(w, X, stride: int) -> np.ndarray:
    r"""Outputs of the stride-d circular filterbank: ``w (J, T)``, ``X (n, N)`` → ``(n, J, N/d)``,
    $y_j[m] = (x \circledast w_j)[md]$. Float64 NumPy, by FFT."""
    X = np.asarray(X, dtype=np.float64)
    N = X.shape[-1]
    W = np.fft.rfft(fold_taps(np.asarray(w, dtype=np.float64), N), n=N, axis=-1)
    z = np.fft.irfft(W[None] * np.fft.rfft(X, axis=-1)[:, None, :], n=N, axis=-1)
    return z[..., ::int(stride)]


def distill_stats(X, Y, stride: int, *, chunk: int = 64, dtype=jnp.float64) -> DistillStats:
    """`DistillStats` of signals ``X (n, N)`` and teacher outputs ``Y (n, J, N/d)``.

    Accumulated in float64 NumPy over chunks of ``chunk`` signals (peak memory
    ``chunk · J · N · 16`` bytes), returned as JAX arrays of ``dtype``'s complex type."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    n, N = X.shape
    d = int(stride)
    M = N // d
    J = Y.shape[1]
    R = np.zeros((d, d, M), complex)
    c = np.zeros((J, d, M), complex)
    e = 0.0
    for i in range(0, n, chunk):
        xs = np.fft.fft(X[i:i + chunk], axis=-1).reshape(-1, d, M) / d      # [s, a, xi]
        Yh = np.fft.fft(Y[i:i + chunk], axis=-1)                              # [s, j, xi]
        R += np.einsum("sax,sbx->abx", xs, np.conj(xs))
        c += np.einsum("sax,sjx->jax", xs, np.conj(Yh))
        e += float(np.sum(Y[i:i + chunk] ** 2))
    cdt = jnp.complex128 if jnp.dtype(dtype) == jnp.float64 else jnp.complex64
    return DistillStats(jnp.asarray(R / n, cdt), jnp.asarray(c / n, cdt),
                        jnp.asarray(e / n, dtype))


def distill_loss(w: jax.Array, stats: DistillStats, N: int, stride: int) -> jax.Array:
    r"""The relative distillation loss $\mathcal L(w)$ of ``w (J, T)`` (module docstring).

    ``N`` and ``stride`` are static under jit; differentiable in w."""
    d = int(stride)
    M = N // d
    J = w.shape[-2]
    u = full_spectrum(w, N).reshape(J, d, M)                                   # [j, a, xi]
    # broadcast products, not einsum: XLA's complex contractions are slow on CPU
    v = jnp.sum(stats.R[None] * jnp.conj(u)[:, None], axis=2)                  # [j, a, xi]
    quad = jnp.sum((u * v).real)
    lin = jnp.sum((u * stats.c).real)
    return (quad / M - 2.0 * lin / M + stats.e) / stats.e


def full_spectrum(w: jax.Array, N: int) -> jax.Array:
    """The N-point DFT of real taps (folded mod N), all N bins, from one real FFT:
    bins above N/2 are the conjugates of bins N − k. ``(..., T) -> (..., N)`` complex."""
    W = jnp.fft.rfft(fold_taps(w, N), n=N, axis=-1)
    return jnp.concatenate([W, jnp.conj(W[..., 1:(N + 1) // 2][..., ::-1])], axis=-1)


def parseval_taps(params) -> jax.Array:
    """The ``(J, T)`` taps of a one-channel `rfbjax.kernels.parseval.ParsevalParams`: the
    student of the study's Parseval arm, tight for every value of its free parameters."""
    from ...kernels.parseval import parseval_kernel

    return parseval_kernel(params)[:, 0, :]


@functools.lru_cache(maxsize=32)
def _compiled(N: int, d: int, log_every: int, lr: float, penalty_tx, to_kernel=None):
    """Jitted (optimiser init, ``log_every`` steps), vmapped over runs — one compilation per
    setting, whatever the target (the statistics are arguments, not constants). ``to_kernel``
    maps the trained parameters to the ``(J, T)`` taps (None: they are the taps)."""
    adam = optax.adam(lr)
    opt = adam if penalty_tx is None else optax.chain(penalty_tx, adam)
    if to_kernel is None:
        grad = jax.grad(distill_loss)
    else:
        grad = jax.grad(lambda p, tr, N, d: distill_loss(to_kernel(p), tr, N, d))

    def one_step(carry, tr):
        w, state = carry
        g = grad(w, tr, N, d)
        upd, state = opt.update(g, state, w)
        return optax.apply_updates(w, upd), state

    def block(w, state, tr):
        return jax.lax.fori_loop(0, log_every, lambda i, c: one_step(c, tr), (w, state))

    return jax.jit(jax.vmap(opt.init)), jax.jit(jax.vmap(block, in_axes=(0, 0, None)))


@functools.lru_cache(maxsize=32)
def _metrics(N: int, d: int):
    """Jitted, vmapped (loss, held-out loss, A, B, κ) — shared by every penalty."""
    def metrics(w, tr, va):
        A, B = strided_frame_bounds(w, N, d)
        return (distill_loss(w, tr, N, d), distill_loss(w, va, N, d), A, B,
                condition_number(A, B))
    return jax.jit(jax.vmap(metrics, in_axes=(0, None, None)))


@functools.lru_cache(maxsize=8)
def _kernels(to_kernel):
    return jax.jit(jax.vmap(to_kernel))


def train_runs(w0, train: DistillStats, val: DistillStats, *, N: int, stride: int, steps: int,
               log_every: int, lr: float, penalty_tx: optax.GradientTransformation | None = None,
               on_log: Callable[[int], None] | None = None, to_kernel=None) -> dict:
    r"""Train R runs at once from initial weights ``w0 (R, J, T)``.

    The optimiser is ``optax.chain(penalty_tx, optax.adam(lr))`` (``optax.adam(lr)`` alone
    without a penalty), full batch: every step uses the exact gradient of
    `distill_loss` on ``train``. Every ``log_every`` steps (and at step 0) it records
    the training and held-out losses and the frame bounds (A, B) on $\mathbb Z_N$, stride
    d. ``steps`` must be a multiple of ``log_every``. ``on_log(k)`` is called after each
    logging interval with the number of steps done per run.

    With ``to_kernel`` (a module-level function, e.g. `parseval_taps`), ``w0`` is a pytree of
    R stacked parameter sets, the loss is that of ``to_kernel(params)`` and the gradient flows
    through it; everything logged is of those taps.

    Returns:
      dict of NumPy arrays: ``step (L+1,)``, ``loss``, ``val_loss``, ``A``, ``B``, ``kappa``
        ``(R, L+1)`` and ``w (R, J, T)`` (final taps); L = steps/log_every.
    """
    d = int(stride)
    if steps % log_every:
        raise ValueError("steps must be a multiple of log_every")
    init, block = _compiled(int(N), d, int(log_every), float(lr), penalty_tx, to_kernel)
    metrics = _metrics(int(N), d)
    taps = (lambda w: w) if to_kernel is None else _kernels(to_kernel)

    w = jax.tree_util.tree_map(jnp.asarray, w0)
    state = init(w)
    logs = [tuple(np.asarray(v) for v in metrics(taps(w), train, val))]
    for k in range(steps // log_every):
        w, state = block(w, state, train)
        logs.append(tuple(np.asarray(v) for v in metrics(taps(w), train, val)))
        if on_log is not None:
            on_log((k + 1) * log_every)
    loss, val_loss, A, B, kappa = (np.stack([lg[i] for lg in logs], axis=1) for i in range(5))
    return {"step": np.arange(0, steps + 1, log_every), "loss": loss, "val_loss": val_loss,
            "A": A, "B": B, "kappa": kappa, "w": np.asarray(taps(w))}
