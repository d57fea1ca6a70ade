r"""The training study: does conditioning at initialisation matter once the front end learns?

For every stride d, target filterbank, initialiser, penalty and seed, a conv1d front end
(J filters, T taps, stride d, circular on $\mathbb Z_N$) is trained by knowledge distillation
(`rfbjax.studies.training.distill`) to imitate the target's outputs; the training and held-out losses and
the exact frame bounds A, B (hence κ = B/A) on the N-point grid are logged along training.

* **inits** — ``gaussian`` (the paper's, σ² = d/(JT)), ``pytorch`` (Conv1d default,
  U(±1/√T)) from `rfbjax.kernels.initializers`, and ``tight_fir`` (a Gaussian draw tightened with its
  T taps to κ ≤ 1.01) when `rfbjax.kernels.initializers` provides it;
* **the Parseval arm** — ``parseval``: the student is *parametrised* by
  `rfbjax.kernels.parseval.ParsevalParams` (drawn by ``parseval_init``, gain 1 = the targets'
  mean gain) and trained through ``parseval_kernel`` with the same Adam, without a penalty (every
  penalty here is zero on a Parseval layer), so κ = 1 at every step; its learning rate follows
  the same rule in units of its own parameters' size (`StudyConfig.parseval_learning_rate`).
  Where the construction has no layer of the configured shape (`check_parseval_shape`, or
  J = 1 with T > d), the arm is left out of that cell and the reason recorded (``skipped``);
* **penalties** — ``none``, ``kappa`` (β(B/A − 1)), ``tightness`` (β·mean_ξ‖M(ξ)/c − I‖²_F) and
  ``smooth_sailing`` (β(B − c)/c) from `rfbjax.remedies.regularizers`, applied as an optax
  transformation chained before Adam (``optax.chain(penalize(...), optax.adam(lr))``), on the
  same N-point grid as the metrics;
* **seeds** — the same initial draw (per init and seed) is used for every penalty and every
  target, so comparisons between penalties are paired.

All runs of one (stride, penalty) are trained in one compiled, vmapped call per target.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
import zlib
from dataclasses import dataclass, field
from typing import Callable

import jax
import jax.numpy as jnp

from ...errors import InputError
from ...remedies import initializers
from .data import SignalSets, audio_sets, builtin_sets
from .distill import analysis, distill_stats, parseval_taps, train_runs
from .targets import TARGET_NAMES, make_target

__all__ = ["StudyConfig", "QUICK", "FULL", "SMALL", "INITS", "PENALTIES", "DEFAULT_BETA",
           "PARSEVAL", "available_inits", "available_penalties", "validate_config", "load_sets",
           "estimate_bytes", "plan_steps", "parseval_params", "run_study", "run_name"]

#: the arm trained through the Parseval parametrisation (penalty ``none`` only)
PARSEVAL = "parseval"
#: initialisers the study compares (``tight_fir`` only when the library has it); ``parseval``
#: is the Parseval arm (module docstring)
INITS = ("gaussian", "pytorch", "tight_fir", PARSEVAL)
#: penalties: name -> function name in `rfbjax.remedies.regularizers`
PENALTIES = {"none": None, "kappa": "kappa_penalty", "tightness": "tightness_penalty",
             "smooth_sailing": "smooth_sailing_penalty"}
#: β per penalty (see docs/guide/training-study.md for how they were chosen; smooth_sailing's
#: (B − c)/c is a scale-free eigenvalue ratio like kappa's B/A − 1, and gets kappa's β)
DEFAULT_BETA = {"kappa": 1e-2, "tightness": 1e-1, "smooth_sailing": 1e-2}
#: Adam learning rate, in units of the Gaussian tap size 1/sqrt(J T)
LR_SCALE = 0.06


def available_inits() -> tuple[str, ...]:
    """The study's initialisers that this installation provides."""
    return tuple(i for i in INITS if i in initializers.INITIALIZERS
                 or (i == "tight_fir" and hasattr(initializers, "tight_fir")))


def available_penalties() -> tuple[str, ...]:
    """The study's penalties that this installation provides (``none`` always)."""
    try:
        from ...remedies import regularizers
    except ImportError:
        return ("none",)
    return tuple(p for p, fn in PENALTIES.items() if fn is None or hasattr(regularizers, fn))


@dataclass(frozen=True)
class StudyConfig:
    """Every setting of a study run (recorded in ``study.json``)."""

    mode: str
    J: int
    T: int
    N: int
    strides: tuple[int, ...]
    targets: tuple[str, ...]
    inits: tuple[str, ...]
    penalties: tuple[str, ...]
    seeds: int
    steps: int
    log_every: int
    n_train: int
    n_val: int
    seed: int = 0
    lr: float | None = None           # None: LR_SCALE / sqrt(J T)
    beta: dict = field(default_factory=lambda: dict(DEFAULT_BETA))

    def replace(self, **kw) -> "StudyConfig":
        return dataclasses.replace(self, **kw)

    @property
    def learning_rate(self) -> float:
        return float(self.lr) if self.lr is not None else LR_SCALE / math.sqrt(self.J * self.T)

    @property
    def parseval_learning_rate(self) -> float:
        """The Parseval arm's Adam learning rate: `learning_rate` × √T. The free matrices'
        entries have size 1/√J (orthonormal columns), √T times a Gaussian tap's 1/√(JT), so the
        same relative step per parameter (6 % by default)."""
        return self.learning_rate * math.sqrt(self.T)

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["strides"] = list(self.strides)
        d["stride"] = list(self.strides)
        d["lr"] = self.learning_rate
        d["lr_rule"] = (f"{LR_SCALE} / sqrt(J T)" if self.lr is None else "given")
        if PARSEVAL in self.inits:
            d["lr_parseval"] = self.parseval_learning_rate
            d["lr_parseval_rule"] = "lr * sqrt(T) (free-matrix entries have size 1/sqrt(J))"
        d["beta"] = {p: self.beta[p] for p in self.penalties if p != "none"}
        d["optimizer"] = "adam (optax), full batch; penalty as optax.chain(penalize, adam)"
        d["loss"] = "mean ||Phi_w x - y*||^2 / mean ||y*||^2 (relative MSE of the outputs)"
        d["grid"] = "kappa, A, B exact on the N-point DFT grid, circular convolution, stride d"
        return d


def _defaults(mode, **kw):
    base = dict(targets=TARGET_NAMES, inits=available_inits(), penalties=available_penalties())
    base.update(kw)
    return StudyConfig(mode=mode, **base)


#: ``--quick``: ≤ 3 minutes on 2 CPU cores
QUICK = _defaults("quick", J=20, T=256, N=256, strides=(1,), seeds=3, steps=600, log_every=20,
                  n_train=128, n_val=32)
#: full mode: the authors' J = 40, T = N = 1024, stride 1, and stride 4
FULL = _defaults("full", J=40, T=1024, N=1024, strides=(1, 4), seeds=5, steps=1000, log_every=25,
                 n_train=256, n_val=64)
#: the test suite and the notebook's small mode (without tight_fir: compiling its tightening
#: alone takes longer than the whole small study)
SMALL = _defaults("small", J=8, T=32, N=32, strides=(1,), seeds=3, steps=60, log_every=10,
                  n_train=24, n_val=12).replace(
    inits=tuple(i for i in available_inits() if i != "tight_fir"))

#: refuse studies whose working memory would exceed this
MAX_BYTES = 4 << 30


def run_name(target: str, stride: int, init: str, penalty: str, seed: int) -> str:
    """Key of a run's final weights: ``{target}-s{stride}-{init}-{penalty}-{seed}``."""
    return f"{target}-s{stride}-{init}-{penalty}-{seed}"


def estimate_bytes(cfg: StudyConfig) -> int:
    """Peak working memory (bytes), from the arguments alone: the signal sets, one chunk of teacher
    outputs and its DFT, the statistics, and the vmapped training state (weights, Adam moments,
    gradients and spectra of every run of one call, with a factor 8 for temporaries)."""
    n = cfg.n_train + cfg.n_val
    d = max(cfg.strides)
    runs = len(cfg.inits) * cfg.seeds
    sets = 8 * n * cfg.N
    chunk = 64 * cfg.J * cfg.N * (8 + 16 + 16)
    stats = 16 * (cfg.N * d + cfg.J * cfg.N) * 2
    train = runs * 8 * (cfg.J * (4 * cfg.T + 4 * cfg.N) + cfg.N * d * d)
    # the Parseval arm's backward pass keeps the (J, T) polynomial of each of the T/d factors
    # (twice: the carry and the projected part)
    par = (cfg.seeds * 8 * 2 * (cfg.T // min(cfg.strides)) * cfg.J * cfg.T
           if PARSEVAL in cfg.inits else 0)
    return int(sets + chunk + stats + 8 * train + par)


def validate_config(cfg: StudyConfig) -> None:
    """InputError (one line) for settings the study cannot run; nothing is computed before."""
    for name in ("J", "T", "N", "seeds", "steps", "log_every", "n_train", "n_val"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"--{name.replace('_', '-')}: must be an integer >= 1, got {v!r}")
    if cfg.N < 8:
        raise InputError(f"--N: must be >= 8, got {cfg.N}")
    if cfg.T > cfg.N:
        raise InputError(f"--T: must be <= N={cfg.N} (filters longer than the signals), got "
                         f"{cfg.T}")
    if cfg.steps % cfg.log_every:
        raise InputError(f"--steps: must be a multiple of the logging interval {cfg.log_every}, "
                         f"got {cfg.steps}")
    for d in cfg.strides:
        if d < 1 or cfg.N % d or cfg.T % d:
            raise InputError(f"--stride: {d} must divide N={cfg.N} and T={cfg.T}")
        if cfg.J < d:
            raise InputError(f"--stride: {d} needs J >= {d} (J={cfg.J} filters are no frame)")
    for t in cfg.targets:
        if t not in TARGET_NAMES:
            raise InputError(f"--target: unknown target {t!r} ({', '.join(TARGET_NAMES)})")
    for i in cfg.inits:
        if i not in available_inits():
            raise InputError(f"--init: {i!r} not available (choose from "
                             f"{', '.join(available_inits())})")
    for p in cfg.penalties:
        if p not in available_penalties():
            raise InputError(f"--penalty: {p!r} not available (choose from "
                             f"{', '.join(available_penalties())})")
        if p != "none":
            b = cfg.beta.get(p)
            if b is None or not (math.isfinite(b) and b > 0):
                raise InputError(f"--beta: the {p} penalty needs a finite beta > 0, got {b!r}")
    if not (math.isfinite(cfg.learning_rate) and cfg.learning_rate > 0):
        raise InputError(f"--lr: must be > 0, got {cfg.learning_rate!r}")
    need = estimate_bytes(cfg)
    if need > MAX_BYTES:
        raise InputError(f"study too large: about {need / 2**30:.1f} GiB of working memory "
                         f"(limit {MAX_BYTES / 2**30:.0f} GiB); reduce J, N or the number of "
                         f"signals")


def load_sets(cfg: StudyConfig, audio=None) -> SignalSets:
    """The training and held-out sets: built-ins, or excerpts of ``audio`` files."""
    if audio:
        return audio_sets(audio, cfg.N, cfg.n_train, cfg.n_val, seed=cfg.seed)
    return builtin_sets(cfg.N, cfg.n_train, cfg.n_val, seed=cfg.seed)


def plan_steps(cfg: StudyConfig) -> int:
    """Units of progress of a whole study: optimiser steps summed over compiled calls."""
    arms = len(cfg.penalties) * any(i != PARSEVAL for i in cfg.inits) + (PARSEVAL in cfg.inits)
    return len(cfg.strides) * len(cfg.targets) * arms * cfg.steps


def _tag(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def initial_weights(cfg: StudyConfig, stride: int, dtype=jnp.float64) -> dict:
    """``{init: (seeds, J, T)}`` initial draws: seed s of an init uses the key
    ``fold_in(fold_in(key(seed), tag(init)), s)``, the same for every target and penalty (paired
    comparisons); ``tight_fir`` tightens the ``gaussian`` draw of the same seed. The i.i.d.
    initialisers are drawn in one compiled call."""
    iid = tuple(i for i in cfg.inits if i not in ("tight_fir", PARSEVAL))
    out = dict(zip(iid, _draw_fn(iid, cfg.seeds, cfg.J, cfg.T, stride, cfg.N,
                                 jnp.dtype(dtype))(jax.random.PRNGKey(cfg.seed))))
    if "tight_fir" in cfg.inits:
        # one tightening per draw (an optimisation, not one array program) of the very draw
        # 'gaussian' gets for this seed (tight_fir starts from gaussian_filterbank of the key):
        # paired with it, tightened with its T taps to kappa <= 1.01 (certified on l2(Z))
        base = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), _tag("gaussian"))
        out["tight_fir"] = jnp.stack([
            initializers.tight_fir(jax.random.fold_in(base, s), cfg.J, cfg.T, stride=stride,
                                   dtype=dtype) for s in range(cfg.seeds)])
    return {i: out[i] for i in cfg.inits if i != PARSEVAL}


def parseval_params(cfg: StudyConfig, stride: int, dtype=jnp.float64):
    """The Parseval arm's initial free parameters: a `ParsevalParams` whose leaves stack the
    ``cfg.seeds`` draws, seed s from ``fold_in(fold_in(key(seed), tag("parseval")), s)`` (the
    key `rfbjax.kernels.initializers.draw` gets for ``parseval``, so the initial taps are those
    of ``--init parseval``), default ranks ⌊J/2⌋, gain 1.

    Raises:
      InputError: no Parseval layer of this shape (one line naming J, T or the ranks).
    """
    return _parseval_draw_fn(cfg.seeds, cfg.J, cfg.T, int(stride), jnp.dtype(dtype))(
        jax.random.PRNGKey(cfg.seed))


@functools.lru_cache(maxsize=16)
def _parseval_draw_fn(seeds: int, J: int, T: int, stride: int, dtype):
    from ...kernels.parseval import check_parseval_shape, parseval_init

    check_parseval_shape(J, 1, T, stride)     # InputError before tracing (ranks: while tracing)

    def draws(key):
        base = jax.random.fold_in(key, _tag(PARSEVAL))
        keys = jax.vmap(lambda s: jax.random.fold_in(base, s))(jnp.arange(seeds))
        return jax.vmap(lambda k: parseval_init(k, J, 1, T, stride, dtype=dtype))(keys)
    return jax.jit(draws)


@functools.lru_cache(maxsize=16)
def _draw_fn(inits: tuple, seeds: int, J: int, T: int, stride: int, N: int, dtype):
    def all_draws(key):
        out = []
        for init in inits:
            base = jax.random.fold_in(key, _tag(init))
            keys = jax.vmap(lambda s: jax.random.fold_in(base, s))(jnp.arange(seeds))
            out.append(jax.vmap(lambda k: initializers.draw(init, k, J, T, stride=stride,
                                                            dtype=dtype, N=N))(keys))
        return tuple(out)
    return jax.jit(all_draws)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _bounds(w, N, d):
    from ...kernels.strided import strided_frame_bounds

    return strided_frame_bounds(w, N, d)


def _penalty_tx(cfg: StudyConfig, penalty: str, stride: int):
    if PENALTIES[penalty] is None:
        return None
    return _penalize(penalty, float(cfg.beta[penalty]), int(stride), int(cfg.N))


@functools.lru_cache(maxsize=16)
def _penalize(penalty: str, beta: float, stride: int, N: int):
    """The optax transformation adding β∇penalty (cached: the same object, hence the same
    compiled training loop, for every study with these settings)."""
    from ...remedies import regularizers

    return regularizers.penalize(getattr(regularizers, PENALTIES[penalty]), beta, stride=stride,
                                 N=N)


def run_study(cfg: StudyConfig, sets: SignalSets, *,
              on_progress: Callable[[int, str], None] | None = None) -> dict:
    """Run every (stride, target, penalty) call; returns ``{"config", "targets", "data", "runs",
    "seconds"}`` with NumPy arrays (``runs[i]["w"]`` the final ``(J, T)`` weights).

    ``on_progress(steps_done, label)`` is called after each logging interval."""
    validate_config(cfg)
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    t0 = time.perf_counter()
    runs, targets, skipped = [], [], []
    done = 0
    kernel_inits = [i for i in cfg.inits if i != PARSEVAL]

    def record(out, r0, tname, d, init, pen):
        for s in range(cfg.seeds):
            r = r0 + s
            runs.append({
                "name": run_name(tname, d, init, pen, s), "target": tname,
                "stride": d, "N": cfg.N, "init": init, "penalty": pen, "seed": s,
                "step": out["step"], "loss": out["loss"][r],
                "val_loss": out["val_loss"][r], "kappa": out["kappa"][r],
                "A": out["A"][r], "B": out["B"][r], "w": out["w"][r]})

    for d in cfg.strides:
        w0 = initial_weights(cfg, d, dtype)
        stacked = jnp.concatenate([w0[i] for i in kernel_inits]) if kernel_inits else None
        txs = {p: _penalty_tx(cfg, p, d) for p in cfg.penalties}   # one compilation per penalty
        p0 = None
        if PARSEVAL in cfg.inits:
            try:
                p0 = parseval_params(cfg, d, dtype)
            except InputError as e:
                for tname in cfg.targets:
                    skipped.append({"target": tname, "stride": d, "init": PARSEVAL,
                                    "penalty": "none", "reason": str(e)})
        for tname in cfg.targets:
            tg = make_target(tname, cfg.J, cfg.T, d, seed=cfg.seed, sample_rate=sets.sample_rate)
            A, B = (float(v) for v in _bounds(jnp.asarray(tg.w, dtype), cfg.N, d))
            targets.append({"name": tname, "stride": d, "description": tg.description,
                            "A": A, "B": B, "kappa": B / A if A > 0 else math.inf,
                            "w": tg.w})
            tr = distill_stats(sets.train, analysis(tg.w, sets.train, d), d, dtype=dtype)
            va = distill_stats(sets.val, analysis(tg.w, sets.val, d), d, dtype=dtype)
            arms = [(pen, stacked, cfg.learning_rate, txs[pen], None)
                    for pen in (cfg.penalties if stacked is not None else ())]
            if p0 is not None:
                arms.append(("none", p0, cfg.parseval_learning_rate, None, parseval_taps))
            for pen, start, lr, tx, to_kernel in arms:
                label = f"{tname} stride {d} {pen if to_kernel is None else PARSEVAL}"
                base = done

                def seg(k, base=base, label=label):
                    if on_progress is not None:
                        on_progress(base + k, label)

                out = train_runs(start, tr, va, N=cfg.N, stride=d, steps=cfg.steps,
                                 log_every=cfg.log_every, lr=lr, penalty_tx=tx, on_log=seg,
                                 to_kernel=to_kernel)
                done += cfg.steps
                for j, init in enumerate(kernel_inits if to_kernel is None else [PARSEVAL]):
                    record(out, j * cfg.seeds, tname, d, init, pen)
            if PARSEVAL in cfg.inits and p0 is None:
                done += cfg.steps
    return {"config": cfg, "targets": targets, "data": sets.describe(), "runs": runs,
            "skipped": skipped, "seconds": time.perf_counter() - t0}
