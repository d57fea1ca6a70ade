"""The compiled search: optax optimisers by name and the while-loop solver over restarts.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import jax
import jax.numpy as jnp
import optax

from ...errors import InputError
from ...engine.seeds import seed_key
from .constraints import Constraints, initial_points, make_projection
from .objectives import Objective

SCHEDULES = ("constant", "cosine", "exponential", "warmup_cosine")


def make_optimizer(name: str = "adam", lr: float = 0.1, schedule: str | None = None,
                   steps: int = 500) -> optax.GradientTransformation:
    """``optax.<name>(learning_rate=...)`` with an optional schedule over ``steps``.

    Schedules: ``constant``; ``cosine`` (cosine decay to 1 % of lr); ``exponential`` (lr ×
    0.01^(step/steps)); ``warmup_cosine`` (linear warm-up over 5 % of the steps, then cosine).
    The optimiser is tried once on a 2-vector, so one that needs more than the gradient (e.g.
    ``lbfgs``, ``polyak_sgd``) is refused here rather than inside the compiled loop.

    Raises:
      InputError: unknown optimiser or schedule, lr ≤ 0.
    """
    try:
        lr = float(lr)
    except (TypeError, ValueError):
        raise InputError(f"--lr: must be a number, got {lr!r}") from None
    if not (math.isfinite(lr) and lr > 0):
        raise InputError(f"--lr: must be > 0, got {lr:g}")
    schedule = schedule or "constant"
    steps = max(int(steps), 1)
    if schedule == "constant":
        rate = lr
    elif schedule == "cosine":
        rate = optax.cosine_decay_schedule(lr, steps, alpha=0.01)
    elif schedule == "exponential":
        rate = optax.exponential_decay(lr, transition_steps=steps, decay_rate=0.01)
    elif schedule == "warmup_cosine":
        rate = optax.warmup_cosine_decay_schedule(0.0, lr, max(1, steps // 20), steps,
                                                  end_value=0.01 * lr)
    else:
        raise InputError(f"--schedule: unknown {schedule!r} (choose from {', '.join(SCHEDULES)})")
    name = str(name)
    factory = None if name.startswith("_") else getattr(optax, name, None)
    hint = "e.g. adam, adamw, sgd, rmsprop, lion, adabelief, nadam"
    if factory is None or not callable(factory) or isinstance(factory, type):
        raise InputError(f"--optimizer: optax has no optimiser {name!r} ({hint})")
    try:
        tx = factory(learning_rate=rate)
        if not isinstance(tx, optax.GradientTransformation):
            raise TypeError
        p = jax.ShapeDtypeStruct((2,), jnp.float32)
        jax.eval_shape(lambda q: tx.update(q, tx.init(q), q), p)  # traced, not compiled
    except Exception:  # noqa: BLE001 - anything that is not a plain gradient optimiser
        raise InputError(f"--optimizer: optax.{name} is not a gradient optimiser taking a "
                         f"learning_rate ({hint})") from None
    return tx


def _check_search(steps, tol, patience, restarts=1):
    if isinstance(steps, bool) or int(steps) != steps or int(steps) < 1:
        raise InputError(f"--steps: must be an integer >= 1, got {steps}")
    if not (math.isfinite(float(tol)) and float(tol) >= 0):
        raise InputError(f"--tol: must be >= 0, got {tol}")
    if int(patience) < 1:
        raise InputError(f"--patience: must be >= 1, got {patience}")
    if int(restarts) < 1:
        raise InputError(f"--restarts: must be >= 1, got {restarts}")


def make_solver(fn: Callable, c: Constraints, *, maximize: bool = True, steps: int = 500,
                optimizer: str = "adam", lr: float = 0.1, schedule: str | None = None,
                tol: float = 1e-6, patience: int = 50, dtype=jnp.float32):
    r"""A pure function ``solve(params, z0) -> dict`` running the whole search for the restarts
    ``z0 (R, N)`` as one ``lax.while_loop`` (jit it; vmap it over ``params`` to attack many
    filterbanks at once).

    Per step, for all live restarts at once: loss $= \mp f(x(z))$ and its gradient
    (``vmap(value_and_grad)``), one optax update, the projection. A restart is frozen once its
    best value has not improved by more than ``tol`` (relative) for ``patience`` steps.

    Returns a dict of arrays: ``best_z (R, N)``, ``best (R,)`` (the objective, not the loss),
    ``history (steps + 1, R)`` (objective of the iterate at every step, constant once a restart
    is frozen, NaN after the loop ended), ``steps (R,)`` (optimiser steps each restart took),
    ``iterations`` () (loop iterations).
    """
    _check_search(steps, tol, patience)
    steps, patience, tol = int(steps), int(patience), float(tol)
    tx = make_optimizer(optimizer, lr, schedule, steps)
    proj, to_signal = make_projection(c, dtype)
    sign = 1.0 if maximize else -1.0

    def score(z, params):  # higher is better
        return sign * fn(params, to_signal(z))

    vg = jax.vmap(jax.value_and_grad(lambda z, p: -score(z, p)), in_axes=(0, None))

    def solve(params, z0):
        z0 = jax.vmap(proj)(z0.astype(dtype))
        R = z0.shape[0]
        opt0 = jax.vmap(tx.init)(z0)
        hist0 = jnp.full((steps + 1, R), jnp.nan, dtype=dtype)
        neg_inf = jnp.full((R,), -jnp.inf, dtype=dtype)
        carry0 = (jnp.int32(0), z0, opt0, z0, neg_inf, neg_inf, jnp.zeros((R,), jnp.int32),
                  jnp.zeros((R,), bool), hist0, jnp.zeros((R,), jnp.int32))

        def observe(i, z, best_z, best, ref, count, done, hist, s):
            improved = s > best
            best_z = jnp.where(improved[:, None], z, best_z)
            best = jnp.where(improved, s, best)
            gain = best - ref
            significant = (i == 0) | (gain > tol * jnp.maximum(jnp.abs(ref), 1e-30))
            ref = jnp.where(significant, best, ref)
            count = jnp.where(significant, 0, count + 1)
            done = done | (count >= patience)
            hist = hist.at[i].set(sign * s)
            return best_z, best, ref, count, done, hist

        def cond(carry):
            i, done = carry[0], carry[7]
            return (i < steps) & ~jnp.all(done)

        def body(carry):
            i, z, opt, best_z, best, ref, count, done, hist, nsteps = carry
            loss, g = vg(z, params)
            best_z, best, ref, count, done, hist = observe(i, z, best_z, best, ref, count,
                                                           done, hist, -loss)
            upd, opt_new = jax.vmap(tx.update)(g, opt, z)
            z_new = jax.vmap(proj)(optax.apply_updates(z, upd))
            move = ~done
            z = jnp.where(move[:, None], z_new, z)
            opt = jax.tree_util.tree_map(
                lambda new, old: jnp.where(move.reshape((R,) + (1,) * (new.ndim - 1)), new, old),
                opt_new, opt)
            nsteps = nsteps + move.astype(jnp.int32)
            return (i + 1, z, opt, best_z, best, ref, count, done, hist, nsteps)

        i, z, _, best_z, best, ref, count, done, hist, nsteps = jax.lax.while_loop(
            cond, body, carry0)
        # the last update has not been evaluated yet
        s = jax.vmap(score, in_axes=(0, None))(z, params)
        best_z, best, *_rest, hist = observe(i, z, best_z, best, ref, count, done, hist, s)
        return {"best_z": best_z, "best": sign * best, "history": hist, "steps": nsteps,
                "iterations": i}

    solve.to_signal = to_signal  # type: ignore[attr-defined]
    solve.proj = proj  # type: ignore[attr-defined]
    return solve


def search_many(obj: Objective, params_batch, c: Constraints, *, maximize: bool = True,
                restarts: int = 8, seed: int = 0, dtype=jnp.float32, **solver_kw) -> dict:
    """The same search against a batch of objectives sharing one compiled loop.

    ``params_batch`` is ``obj.params`` with a leading batch axis (e.g. ``{"rho": (F, T)}`` for F
    filterbanks); the solver is ``jit(vmap(solve))``: one compilation whatever F. All batch
    members start from the same ``restarts`` points. Returns NumPy arrays: ``values (F,)`` (the
    best over restarts), ``x (F, N)`` (the best signals, unit energy or x₀ + δ), ``restart_values
    (F, R)``, ``iterations (F,)``, and ``seconds`` (compile and run).
    """
    _check_search(solver_kw.get("steps", 500), solver_kw.get("tol", 1e-6),
                  solver_kw.get("patience", 50), restarts)
    solve = make_solver(obj.fn, c, maximize=maximize, dtype=dtype, **solver_kw)
    z0 = initial_points(seed_key(seed), c, int(restarts), dtype)
    params_batch = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=dtype), params_batch)
    t0 = time.perf_counter()
    out = jax.jit(jax.vmap(solve, in_axes=(0, None)))(params_batch, z0)
    out = jax.tree_util.tree_map(np.asarray, jax.block_until_ready(out))
    vals = out["best"].astype(np.float64)
    b = np.argmax(vals, axis=1) if maximize else np.argmin(vals, axis=1)
    rows = np.arange(vals.shape[0])
    x = np.asarray(jax.vmap(solve.to_signal)(jnp.asarray(out["best_z"][rows, b])), np.float64)
    return {"values": vals[rows, b], "x": x, "restart_values": vals,
            "iterations": out["iterations"], "seconds": time.perf_counter() - t0}
