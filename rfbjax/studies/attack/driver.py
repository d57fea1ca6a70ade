"""One call from an objective and constraints to a certified result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import jax
import jax.numpy as jnp

from ...errors import InputError
from ...engine.seeds import seed_key
from .certify import certificate
from .constraints import Constraints, initial_points
from .objectives import Objective
from .search import _check_search, make_solver



@dataclass
class AttackResult:
    """Outcome of `attack` (NumPy). ``x``: the best signal (unit energy; with ``near``,
    x₀ + δ as found, x₀ of unit energy). ``history (steps+1, R)``: objective per step per
    restart. ``steps (R,)``: optimiser steps each restart took. Times in seconds."""

    objective: str
    maximize: bool
    x: np.ndarray
    value: float
    values: np.ndarray
    history: np.ndarray
    steps: np.ndarray
    iterations: int
    best_restart: int
    certificate: dict | None
    compile_s: float
    run_s: float
    restarts: int
    x0_value: float | None = None
    delta_norm: float | None = None

    @property
    def ratio(self) -> float | None:
        """value / certificate (≤ 1 when maximising, ≥ 1 when minimising; 1 is optimal)."""
        if not self.certificate or not self.certificate["value"]:
            return None
        return float(self.value / self.certificate["value"])

    def to_dict(self) -> dict:
        """Every field, ``ratio`` and ``restart_steps_per_s``, JSON-ready (lists, None for inf)."""
        from ...report.outputs import to_jsonable

        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d.update(ratio=self.ratio, restart_steps_per_s=self.restart_steps_per_s)
        return to_jsonable(d)

    @property
    def restart_steps_per_s(self) -> float:
        """Throughput of the compiled loop: restarts × loop iterations / run time."""
        return self.restarts * max(self.iterations, 1) / max(self.run_s, 1e-12)


#: the phases of `attack`, as its progress reports them
PHASES = ("compiling the search", "searching")


def attack(obj: Objective, c: Constraints, *, maximize: bool = True, restarts: int = 64,
           steps: int = 500, optimizer: str = "adam", lr: float = 0.1,
           schedule: str | None = None, tol: float = 1e-6, patience: int = 50, seed: int = 0,
           dtype=jnp.float32, on_phase=None) -> AttackResult:
    """Run the search: ``restarts`` random starts (key `rfbjax.engine.seeds.seed_key`) in one
    compiled loop, keep the best restart, certify it (`certificate`).

    ``on_phase(label)``, if given, is called when each of `PHASES` begins (progress; the
    restarts and steps run inside one compiled loop, which reports nothing until it ends).

    Raises:
      InputError: restarts < 1, steps < 1, bad optimiser settings, every restart non-finite.
    """
    _check_search(steps, tol, patience, restarts)
    solve = make_solver(obj.fn, c, maximize=maximize, steps=steps, optimizer=optimizer, lr=lr,
                        schedule=schedule, tol=tol, patience=patience, dtype=dtype)
    z0 = initial_points(seed_key(seed), c, int(restarts), dtype)
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=dtype), obj.params)
    tick = on_phase if on_phase is not None else (lambda label: None)
    t0 = time.perf_counter()
    tick(PHASES[0])
    compiled = jax.jit(solve).lower(params, z0).compile()
    t1 = time.perf_counter()
    tick(PHASES[1])
    out = jax.block_until_ready(compiled(params, z0))
    t2 = time.perf_counter()
    out = jax.tree_util.tree_map(np.asarray, out)
    values = out["best"].astype(np.float64)
    if not np.any(np.isfinite(values)):
        raise InputError("the search produced no finite objective value (try a smaller --lr)")
    values = np.where(np.isfinite(values), values, -np.inf if maximize else np.inf)
    b = int(np.argmax(values) if maximize else np.argmin(values))
    x = np.asarray(solve.to_signal(jnp.asarray(out["best_z"][b])), dtype=np.float64)
    x0_value = delta = None
    if c.near:
        x0_value = float(obj.value(jnp.asarray(c.x0, dtype=dtype), params))
        delta = float(np.linalg.norm(x - c.x0) / np.linalg.norm(c.x0))
    else:
        x = x / np.linalg.norm(x)
    return AttackResult(obj.name, bool(maximize), x, float(values[b]), values,
                        out["history"].astype(np.float64), out["steps"], int(out["iterations"]),
                        b, certificate(obj, c, maximize), t1 - t0, t2 - t1, int(restarts),
                        x0_value, delta)
