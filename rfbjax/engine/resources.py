r"""Resource estimates: what a command will allocate, computed from its arguments alone.

Every command that can be asked for something large states its *plan* before it allocates
anything: the peak host bytes of each part (signal preparation, the exact law's T×T matrix,
the host copy of the Monte Carlo outputs, …) and the smallest chunk the Monte Carlo driver can
run (one block of samples per device, `rfbjax.engine.montecarlo.block_size`). The plan is
checked against one budget — ``--max-memory``, by default the smaller of 4 GiB and half the
physical memory — and whatever the fixed parts leave goes to the Monte Carlo chunks (the
``max_memory`` argument of `rfbjax.engine.montecarlo.run`). The chunking never changes the
numbers (blocks are fixed by the per-sample footprint), so results are bit-identical whatever
the budget. Beyond it, `check_plan` raises one `rfbjax.errors.InputError` line
naming the part, its estimate and the limit.

The estimates are deliberately coarse upper bounds (a few arrays of the stated shapes); they
exist to refuse what cannot fit, not to predict the exact peak. Everything here is pure
arithmetic except `physical_memory` and `device_memory`.

Lists given on the command line are bounded *before* they are expanded (`MAX_LIST`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from ..errors import InputError

__all__ = ["MAX_LIST", "EXACT_LAW_MAX_T", "physical_memory", "device_memory", "default_budget",
           "format_bytes", "Plan", "check_plan", "check_list_length", "signal_prep_bytes",
           "exact_law_bytes", "mc_chunk_min", "mc_output_bytes", "grid_size", "energy_plan",
           "bounds_plan", "predict_plan", "attack_plan", "audit_plan"]

#: most values a command-line list (``--J``, ``--T``) or a grid of settings may hold
MAX_LIST = 100_000
#: above this filter length the exact law (one T×T eigendecomposition, O(T³): about 45 s at
#: T = 8192 on one core) is skipped unless asked for (``--exact-max-T``)
EXACT_LAW_MAX_T = 4096
_GiB = 1024 ** 3
_F64 = 8


def physical_memory() -> int | None:
    """Bytes of physical memory of this machine (None where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def device_memory() -> int | None:
    """Bytes an accelerator (the first JAX device) may allocate; None on CPU or when unknown."""
    import jax

    try:
        dev = jax.devices()[0]
        if dev.platform == "cpu":
            return None
        stats = dev.memory_stats() or {}
        limit = stats.get("bytes_limit")
        return int(limit) if limit else None
    except Exception:  # noqa: BLE001 - a backend without memory statistics
        return None


def default_budget() -> int:
    """The default ``--max-memory``: min(4 GiB, half the physical memory)."""
    phys = physical_memory()
    return min(4 * _GiB, phys // 2) if phys else 4 * _GiB


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``; readable sizes for error lines."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def check_list_length(count: int, name: str, limit: int = MAX_LIST) -> None:
    """Refuse a list (or grid) of more than ``limit`` values, before it is built."""
    if count > limit:
        raise InputError(f"{name}: {count:,} values, more than the limit of {limit:,}; "
                         "use a coarser list")


def signal_prep_bytes(n: int) -> int:
    """Host bytes to prepare one signal of n samples: the float64 signal, a working copy and
    the FFTs of its autocorrelation (complex, zero-padded to about 2n)."""
    n = int(n)
    return 2 * _F64 * n + 3 * 16 * (2 * n)


def exact_law_bytes(T: int) -> int:
    """Host bytes of the exact law at filter length T: the T×T float64 Toeplitz (or strided
    Gram) matrix, LAPACK's copy and its workspace."""
    return 3 * _F64 * int(T) ** 2


def mc_chunk_min(bytes_per_sample: int, out_bytes_per_sample: int, devices: int = 1) -> int:
    """The smallest Monte Carlo chunk: one block of samples on every device, with its outputs
    (`rfbjax.engine.montecarlo.plan_chunks` never goes below it)."""
    from .montecarlo import block_size

    block = block_size(bytes_per_sample)
    return int(devices) * block * (int(bytes_per_sample) + int(out_bytes_per_sample))


def mc_output_bytes(n_samples: int, out_bytes_per_sample: int, n_scalars: int) -> int:
    """Host bytes of the Monte Carlo results of one setting: the chunks and their concatenation
    (2 × samples × outputs) plus the float64 copies the summaries make."""
    return 2 * int(n_samples) * int(out_bytes_per_sample) + 2 * _F64 * int(n_samples) * n_scalars


@dataclass
class Plan:
    """A command's peak memory, part by part, and the Monte Carlo's minimum chunk.

    ``parts`` are (label, host bytes) allocated at the same time as the Monte Carlo runs (their
    sum is what the chunks cannot use); ``mc_min`` is the smallest chunk and ``mc_what`` names
    the setting that needs it.
    """

    budget: int
    parts: list = field(default_factory=list)
    mc_min: int = 0
    mc_what: str = ""

    def add(self, label: str, nbytes: int) -> None:
        self.parts.append((label, int(nbytes)))

    @property
    def fixed(self) -> int:
        return sum(b for _, b in self.parts)

    def monte_carlo_budget(self) -> int:
        """What the fixed parts leave for the Monte Carlo chunks (at least the minimum chunk)."""
        return max(self.budget - self.fixed, self.mc_min, 1)

    def to_json(self) -> dict:
        return {"budget": self.budget, "parts": dict(self.parts), "mc_min_chunk": self.mc_min,
                "mc_budget": self.monte_carlo_budget()}


def check_plan(plan: Plan, *, option: str = "--max-memory") -> int:
    """Refuse a plan over its budget (one line naming the largest part); return the bytes left
    for the Monte Carlo chunks, also within the accelerator's memory when there is one."""
    limit = format_bytes(plan.budget)
    for label, nbytes in plan.parts:
        if nbytes > plan.budget:
            raise InputError(f"{label}: about {format_bytes(nbytes)} needed, over the memory "
                             f"budget of {limit} ({option})")
    if plan.fixed > plan.budget:
        big = max(plan.parts, key=lambda p: p[1])
        raise InputError(f"about {format_bytes(plan.fixed)} in all (largest: {big[0]}, "
                         f"{format_bytes(big[1])}), over the memory budget of {limit} "
                         f"({option})")
    if plan.fixed + plan.mc_min > plan.budget:
        raise InputError(f"the Monte Carlo of {plan.mc_what} needs at least "
                         f"{format_bytes(plan.mc_min)} per chunk and "
                         f"{format_bytes(plan.budget - plan.fixed)} of the memory budget of "
                         f"{limit} is left ({option})")
    room = plan.monte_carlo_budget()
    dev = device_memory()
    if dev is not None:
        dev_room = int(0.8 * dev)
        if plan.mc_min > dev_room:
            raise InputError(f"the Monte Carlo of {plan.mc_what} needs at least "
                             f"{format_bytes(plan.mc_min)} per chunk on the accelerator, which "
                             f"offers {format_bytes(dev_room)}")
        room = min(room, dev_room)
    return room


def grid_size(*lengths: int) -> int:
    """Number of settings of a grid (product of list lengths), for `check_list_length`."""
    return int(math.prod(int(n) for n in lengths))


# ----------------------------------------------------------------------------- per command
def _devices() -> int:
    import jax

    return len(jax.devices())


def energy_plan(signal_lengths, Js, Ts, *, samples: int, dtype: str = "float32",
                boundary: str = "circular", stride: int = 1, t_taps: bool = True,
                exact_Ts=(), budget: int) -> Plan:
    """``rfbjax energy``: signals, their lag profiles, the exact law at the largest T it is
    computed for, the Monte Carlo outputs of one setting and its smallest chunk."""
    import numpy as np

    from .measure import energy_sample_bytes

    check_list_length(grid_size(len(signal_lengths), len(Js), len(Ts)), "settings (signals × J × T)")
    itemsize = np.dtype(dtype).itemsize
    M = len(signal_lengths)
    Nmax = max(int(n) for n in signal_lengths)
    plan = Plan(budget)
    plan.add(f"preparing {M} signal(s) of up to {Nmax:,} samples",
             sum(signal_prep_bytes(n) for n in signal_lengths))
    plan.add(f"lag profiles at T={max(Ts):,}", 2 * _F64 * M * max(Ts))
    if exact_Ts:
        plan.add(f"the exact law at T={max(exact_Ts):,} (T×T matrix)", exact_law_bytes(max(exact_Ts)))
    plan.add(f"the Monte Carlo outputs of {samples:,} samples",
             mc_output_bytes(samples, M * itemsize, M))
    ndev = _devices()
    for J in Js:
        for T in Ts:
            if int(stride) == 1 and t_taps:
                bps = energy_sample_bytes(J, T, dtype)
            else:
                group = max(Nmax if boundary == "circular" else Nmax + T - 1, T)
                bps = energy_sample_bytes(J, T, dtype, stride=stride, N=group, M=M)
            need = mc_chunk_min(bps, M * itemsize, ndev)
            if need > plan.mc_min:
                plan.mc_min, plan.mc_what = need, f"J={J}, T={T}"
    return plan


def bounds_plan(cells, *, samples: int, dtype: str = "float32", init: str = "gaussian",
                stride: int = 1, budget: int) -> Plan:
    """``rfbjax bounds`` / ``rfbjax sweep``: per cell ``(J, T, N)`` (N None: linear), the
    Monte Carlo outputs and the smallest chunk of the largest cell."""
    import numpy as np
    import jax.numpy as jnp

    from .measure import bounds_measurement
    from .montecarlo import run_devices

    cells = list(cells)
    check_list_length(len(cells), "settings (J × T)")
    itemsize = np.dtype(dtype).itemsize
    plan = Plan(budget)
    plan.add(f"the Monte Carlo outputs of {samples:,} samples", mc_output_bytes(samples, 3 * itemsize, 3))
    kw = {} if (init == "gaussian" and int(stride) == 1) else {"init": init, "stride": int(stride)}
    for J, T, N in cells:
        m = bounds_measurement(J, T, N, dtype=jnp.dtype(dtype), **kw)
        need = mc_chunk_min(m.bytes_per_sample, 3 * itemsize, len(run_devices(m.fn, *m.args)))
        if need > plan.mc_min:
            plan.mc_min, plan.mc_what = need, f"J={J}, T={T}, N={N if N else 'linear'}"
    return plan


def predict_plan(cells, *, budget: int) -> Plan:
    r"""``rfbjax predict``: the largest cell's Poisson-mixture tables.

    On $\mathbb Z_N$ the predictor (`rfbjax.theory.predictor`) tabulates Poisson
    laws of mean $y = J u/(1-r)$ on about 100 levels u (u up to about 25), with r the
    Fejér correlation of neighbouring DFT bins, $1 - r \approx (T^2-1)(2\pi/N)^2/12$
    when N ≫ T: a log-factorial table of $y_{max}$ entries and windows of
    $18\sqrt{y_{max}}$ integers per level, so memory grows like $J (N/T)^2$
    (measured peaks: 127 MB at J = 40, T = 8, N = 1024; 502 MB at J = 10, T = 8, N = 4096;
    this estimate is about three times those).
    """
    cells = list(cells)
    check_list_length(len(cells), "settings (J × T)")
    plan = Plan(budget)
    worst, what = 0, ""
    for J, T, N in cells:
        if N is None or math.isinf(N) or T < 2:   # l2(Z): Rice's formula, no tables
            continue
        one_minus_r = min(1.0, (T * T - 1) * (2 * math.pi / N) ** 2 / 12)
        y = 25.0 * J / max(one_minus_r, 1e-300)
        width = 18 * math.sqrt(y) + 51
        nbytes = int(3 * _F64 * y + 12 * _F64 * 97 * width)
        if nbytes > worst:
            worst, what = nbytes, f"J={J}, T={T}, N={N}"
    if worst:
        plan.add(f"the prediction at {what} (tables growing like J (N/T)²)", worst)
    return plan


def attack_plan(*, N: int, J: int, T: int, K: int, restarts: int, steps: int, budget: int) -> Plan:
    """``rfbjax attack``: the restarts' signals with the optimiser's state and their spectra,
    the filterbanks' autocorrelations and the value history."""
    plan = Plan(budget)
    plan.add(f"the search over {restarts:,} restarts of {N:,} samples",
             12 * _F64 * int(restarts) * int(N))
    plan.add(f"{K:,} filterbanks (J={J}, T={T})", 2 * _F64 * int(K) * (int(J) * int(T) + 2 * int(T)))
    plan.add(f"the history of {steps:,} steps", 2 * _F64 * int(steps) * int(restarts))
    return plan


def audit_plan(layers, *, budget: int, block: int = 192 * 1024 ** 2) -> Plan:
    """``rfbjax audit``: ``layers`` = [(name, J, C, T, N, d), ...] in file order.

    Kept for every layer until the report is written: the kernel (float64, with its folded copy),
    the eigenvalue curves (λ_min, λ_max and ξ over the M/2 + 1 base frequencies, M = N/d, for each
    of the C input channels and for the whole layer) and the power response (C × (N/2 + 1)).
    At one time: the largest working block of one layer — the spectra and Gram matrices of a
    block of frequencies (``block`` bytes, or one frequency's C·d × C·d problem when that is
    larger), the reference draws' batches (the same) and the power response's rfft block."""
    plan = Plan(budget)
    work, work_name = 0, ""
    for name, J, C, T, N, d in layers:
        J, C, T, N, d = int(J), int(C), int(T), int(N), int(d)
        n_xi = N // d // 2 + 1
        K, k = C * d, min(J, C * d)
        sets = C + (1 if C > 1 else 0)
        kept = 2 * _F64 * J * C * T + 3 * _F64 * sets * n_xi + _F64 * C * (N // 2 + 1)
        label = f"{name} ({J} × {C} × {T})" if name else f"a {J} × {C} × {T} kernel"
        plan.add(f"the spectra and eigenvalue curves of {label} on N = {N:,} bins", kept)
        one_xi = 2 * 16 * max(C * (3 * J * d + 3 * min(J, d) ** 2), 3 * J * K + 3 * k * k)
        need = max(block, one_xi, 2 * 16 * J * (N // 2 + 1))
        if need > work:
            work, work_name = need, label
    if layers:
        plan.add(f"the working block of {work_name} (spectra, Gram matrices, reference draws)", work)
    return plan
