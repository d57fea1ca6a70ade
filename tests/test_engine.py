"""The engine: compile once per shape, persistent caches across processes, block policies.

The command-line checks run ``rfbjax`` as a user does (a fresh process each) with
``JAX_LOG_COMPILES=1`` and count what XLA compiled; shapes are small.
"""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rfbjax.engine import compile_cache
from rfbjax.engine import montecarlo as mc
from rfbjax.engine.measure import sample_bounds

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TS = [8, 32]


def _cli(args, env_extra, tmp_path, name, timeout=300):
    env = dict(os.environ)
    env.update({"JAX_LOG_COMPILES": "1", "PYTHONPATH": ROOT + os.pathsep + env.get("PYTHONPATH", ""),
                "JAX_PLATFORMS": "cpu"})
    env.pop("XLA_FLAGS", None)
    env.update(env_extra)
    out = tmp_path / f"{name}.json"
    proc = subprocess.run([sys.executable, "-m", "rfbjax", *args, "--quiet", "--json", str(out)],
                          env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out) as f:
        rows = json.load(f)["rows"]
    log = proc.stderr
    return rows, {"compiles": log.count("Finished XLA compilation"),
                  "hits": log.count("Persistent compilation cache hit"),
                  "traced_measurement": log.count("Finished tracing fn ")}


def test_energy_compiles_once_then_nothing_across_runs(tmp_path):
    """Cold: one program per T (keys are derived on the host); warm: every compilation a cache
    hit and no measurement traced; the numbers are those of a run without any cache."""
    args = ["energy", "white", "vowel", "--N", "700", "--J", "3",
            "--T", ",".join(map(str, TS)), "--samples", "40"]
    cache = {"RFBJAX_CACHE_DIR": str(tmp_path / "cache")}
    cold_rows, cold = _cli(args, cache, tmp_path, "cold")
    # one Monte Carlo program per T, nothing else (keys come from NumPy's threefry)
    assert cold["compiles"] == len(TS), cold
    assert cold["hits"] == 0
    warm_rows, warm = _cli(args, cache, tmp_path, "warm")
    assert warm["hits"] == warm["compiles"] > 0, warm
    assert warm["traced_measurement"] == 0, warm      # reloaded, not traced again
    off_rows, off = _cli(args, {"RFBJAX_CACHE_DIR": "off"}, tmp_path, "off")
    assert off["hits"] == 0
    assert cold_rows == warm_rows == off_rows
    assert os.listdir(tmp_path / "cache" / "exported")
    assert not os.path.exists(tmp_path / "off")


def test_bounds_accelerator_policy_on_cpu(tmp_path, monkeypatch):
    """The accelerator block policy, forced on CPU: bit-identical for any memory budget and
    for 1 or 2 devices; equal to the CPU policy to float tolerance."""
    J, T, N, S = 4, 24, 64, 300
    cpu = sample_bounds(J, T, N, S, seed=5)
    monkeypatch.setenv("RFBJAX_BLOCK_POLICY", "accelerator")
    acc = sample_bounds(J, T, N, S, seed=5)
    acc_small = sample_bounds(J, T, N, S, seed=5, max_memory=30_000)
    plan_blocks = {mc.block_size(10_000, p) for p in ("cpu", "accelerator")}
    assert len(plan_blocks) == 2        # the policies do size blocks differently
    for k in ("A", "B", "kappa"):
        np.testing.assert_array_equal(acc[k], acc_small[k])
        np.testing.assert_allclose(acc[k], cpu[k], rtol=2e-5, atol=0)
    rows, _ = _cli(["bounds", "--J", str(J), "--T", str(T), "--N", str(N), "--samples", str(S),
                    "--seed", "5"],
                   {"RFBJAX_BLOCK_POLICY": "accelerator", "RFBJAX_CACHE_DIR": "off",
                    "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}, tmp_path, "dev2")
    assert rows[0]["mean_A"] == pytest.approx(float(np.mean(acc["A"].astype(np.float64))),
                                              rel=1e-12, abs=0)
    assert rows[0]["q95_kappa"] == float(np.quantile(acc["kappa"].astype(np.float64), 0.95))


def test_block_policy_switch(monkeypatch):
    monkeypatch.delenv("RFBJAX_BLOCK_POLICY", raising=False)
    assert mc.choose_block_policy() == "cpu"
    assert mc.choose_block_policy(policy="accelerator") == "accelerator"
    monkeypatch.setenv("RFBJAX_BLOCK_POLICY", "accelerator")
    assert mc.choose_block_policy() == "accelerator"
    monkeypatch.setenv("RFBJAX_BLOCK_POLICY", "fast")
    with pytest.raises(ValueError, match="RFBJAX_BLOCK_POLICY"):
        mc.choose_block_policy()
    # CPU: ~4 MiB, at most 256; accelerator: ~256 MiB or 1/16 of the device, at most 8192
    assert mc.block_size(1_000_000, "cpu") == 4
    assert mc.block_size(1_000_000, "accelerator") == 256
    assert mc.block_size(1_000_000, "accelerator", device_memory=16 * 1024 ** 3) == 256
    assert mc.block_size(1_000_000, "accelerator", device_memory=1024 ** 3) == 64
    assert mc.block_size(10, "accelerator") == 8192


def test_cache_dir_rules(monkeypatch, tmp_path):
    monkeypatch.setenv("RFBJAX_CACHE_DIR", "off")
    assert compile_cache.cache_dir() is None
    monkeypatch.setenv("RFBJAX_CACHE_DIR", str(tmp_path / "c"))
    assert compile_cache.cache_dir() == str(tmp_path / "c")
    monkeypatch.delenv("RFBJAX_CACHE_DIR")
    monkeypatch.setitem(sys.modules, "platformdirs", None)     # not installed: XDG rules
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.cache_dir() == str(tmp_path / "xdg" / "rfbjax")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")      # invalid under XDG: ignored
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert compile_cache.cache_dir() == str(tmp_path / "home" / ".cache" / "rfbjax")


def test_prune_and_clear(tmp_path):
    d = tmp_path / "c"
    (d / "exported").mkdir(parents=True)
    names = [f"{i:040x}.jaxexport" for i in range(4)]
    for i, n in enumerate(names):
        p = d / "exported" / n
        p.write_bytes(b"x" * 1000)
        os.utime(p, (1000 + i, 1000 + i))
    (d / "mine.txt").write_text("not ours")
    (d / "exported" / "notes.bin").write_bytes(b"y" * 5000)   # not of rfbjax's naming
    assert compile_cache.clear(str(d)) == 0                   # no marker: never pruned
    (d / compile_cache.MARKER).write_text(compile_cache._MARKER_TEXT)
    compile_cache._prune(str(d), 2500)
    assert sorted(os.listdir(d / "exported")) == [names[3], "notes.bin"]   # oldest first
    assert compile_cache.clear(str(d)) == 1000
    assert os.listdir(d / "exported") == ["notes.bin"] and (d / "mine.txt").exists()


def test_program_key_names_what_matters():
    from rfbjax.engine.measure import _bounds_fn, _energy_fn

    a = compile_cache.program_key(_energy_fn(3, 8, 1.0, "float32"), 4, ((2,), "uint32"))
    assert a == compile_cache.program_key(_energy_fn(3, 8, 1.0, "float32"), 4, ((2,), "uint32"))
    assert a != compile_cache.program_key(_energy_fn(3, 16, 1.0, "float32"), 4, ((2,), "uint32"))
    assert a != compile_cache.program_key(_energy_fn(3, 8, 1.0, "float32"), 8, ((2,), "uint32"))
    assert a != compile_cache.program_key(_bounds_fn(3, 8, None, 1.0, "float32"), 4,
                                          ((2,), "uint32"))
    assert compile_cache.program_key(lambda k: k, 4) is None       # not rfbjax's: not named
    arr = np.ones(3)
    from rfbjax.kernels import filters

    def closes_over_array(k):
        return filters.gaussian_sigma(1, 1) * arr

    closes_over_array.__module__ = "rfbjax.fake"
    assert compile_cache.program_key(closes_over_array, 4) is None


class _Bar:
    def __init__(self):
        self.done, self.notes = 0.0, []

    def update(self, n):
        self.done += n

    def set_postfix_str(self, text):
        self.notes.append(text)


def test_one_overall_progress_bar_counts_every_setting():
    from rfbjax.studies.experiments import bounds_rows, energy_rows

    bar = _Bar()
    rows = bounds_rows([3], [8, 12], 32, n_samples=40, seed=1, progress=bar, theory=False)
    assert len(rows) == 2 and bar.done == 2 * 40
    assert bar.notes == ["preparing programs", "J=3 T=8", "J=3 T=12"]
    bar = _Bar()   # a stride splits signals of different lengths into groups: shares add up
    x1, x2 = np.random.default_rng(0).standard_normal((2, 48))
    energy_rows([("a", x1), ("b", x2[:32])], [2], [8], n_samples=24, seed=1, progress=bar,
                theory=False, stride=2)
    assert bar.done == pytest.approx(24)


def test_prepared_jobs_compile_in_background_and_match_run():
    """Jobs prepared together (their programs compiling in parallel), then run in any order,
    give the numbers of one-at-a-time runs."""
    from rfbjax.engine.measure import prepare_bounds

    jobs = [prepare_bounds(4, T, 32, 50, seed=2) for T in (8, 16, 12)]
    assert all(hasattr(j.program, "result") for j in jobs)        # futures of compiled programs
    outs = [j.result() for j in reversed(jobs)][::-1]
    for T, out in zip((8, 16, 12), outs):
        ref = sample_bounds(4, T, 32, 50, seed=2)
        for k in ("A", "B", "kappa"):
            np.testing.assert_array_equal(out[k], ref[k])


def test_fast_compile_options_only_on_cpu_and_switchable(monkeypatch):
    monkeypatch.delenv("RFBJAX_FAST_COMPILE", raising=False)
    assert mc.compile_options("cpu") == mc.CPU_FAST_COMPILE
    assert mc.compile_options("gpu") == {} and mc.compile_options("tpu") == {}
    monkeypatch.setenv("RFBJAX_FAST_COMPILE", "0")
    assert mc.compile_options("cpu") == {}


def test_fast_compile_keeps_the_numbers(monkeypatch):
    """XLA's default pipeline and the fast-compile one give the same draws and bounds (to float
    rounding; bit-identical on the machines measured)."""
    monkeypatch.setenv("RFBJAX_FAST_COMPILE", "1")
    fast = sample_bounds(6, 24, 64, 40, seed=9)
    monkeypatch.setenv("RFBJAX_FAST_COMPILE", "0")
    slow = sample_bounds(6, 24, 64, 40, seed=9)
    for k in ("A", "B", "kappa"):
        np.testing.assert_allclose(fast[k], slow[k], rtol=1e-6, atol=0)


def _host_flags(env_extra):
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "RFBJAX_HOST_DEVICES")}
    env.update({"PYTHONPATH": ROOT + os.pathsep + env.get("PYTHONPATH", "")}, **env_extra)
    code = ("import os, sys\nfrom rfbjax.cli import _host_devices\nfrom rfbjax.errors import "
            "InputError\ntry:\n    _host_devices()\nexcept InputError as e:\n    print('error', e)"
            "\nprint(os.environ.get('XLA_FLAGS'))\nprint('jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()


def test_command_line_asks_for_one_cpu_device_per_core():
    assert _host_flags({"RFBJAX_HOST_DEVICES": "3"}) == [
        "--xla_force_host_platform_device_count=3", "False"]       # set before JAX is imported
    assert _host_flags({"RFBJAX_HOST_DEVICES": "1"}) == ["None", "False"]
    mine = "--xla_force_host_platform_device_count=5 --xla_cpu_enable_fast_math=false"
    assert _host_flags({"XLA_FLAGS": mine, "RFBJAX_HOST_DEVICES": "2"}) == [mine, "False"]
    bad = _host_flags({"RFBJAX_HOST_DEVICES": "two"})
    assert bad[0].startswith("error RFBJAX_HOST_DEVICES: must be a whole number")
    default = _host_flags({})[0]
    cores = min(8, len(os.sched_getaffinity(0)))
    assert default == ("None" if cores == 1 else f"--xla_force_host_platform_device_count={cores}")


def test_command_line_numbers_do_not_depend_on_host_devices(tmp_path):
    args = ["bounds", "--J", "4", "--T", "8", "--N", "64", "--samples", "300"]
    one, _ = _cli(args, {"RFBJAX_HOST_DEVICES": "1", "RFBJAX_CACHE_DIR": "off"}, tmp_path, "one")
    three, _ = _cli(args, {"RFBJAX_HOST_DEVICES": "3", "RFBJAX_CACHE_DIR": "off"}, tmp_path,
                    "three")
    assert one == three


def test_lapack_programs_run_on_one_cpu_device_per_process():
    """A sample that calls LAPACK is found from its trace (loops included) and runs on one
    CPU device per process; FFT-only samples keep every device; accelerators are untouched."""
    from types import SimpleNamespace

    from rfbjax.engine import montecarlo as mc

    def eig_fn(key, m):
        x = jax.random.normal(key, (3, 4, 4), jnp.float32)
        return jax.lax.map(lambda a: jnp.linalg.eigvalsh(a + a.T + m), x)

    def fft_fn(key, m):
        return jnp.abs(jnp.fft.rfft(jax.random.normal(key, (16,), jnp.float32) + m[0, 0]))

    key, m = np.zeros(2, np.uint32), np.eye(4, dtype=np.float32)
    avals = mc._avals((key, m))
    assert mc._sample_facts(eig_fn, key, (m,), avals) == (3 * 4 * 4, True)
    assert mc._sample_facts(fft_fn, key, (m,), avals) == (9 * 4, False)
    cpu = [SimpleNamespace(platform="cpu", process_index=p, id=i)
           for i, p in enumerate([0, 0, 1, 1])]
    assert mc._safe_devices(cpu, True) == [cpu[0], cpu[2]]
    assert mc._safe_devices(cpu, False) == cpu
    gpu = [SimpleNamespace(platform="gpu", process_index=0, id=i) for i in range(2)]
    assert mc._safe_devices(gpu, True) == gpu
    # what memory plans ask: strided bounds (polyphase eigenvalues) vs stride 1 (FFT only)
    from rfbjax.engine.measure import bounds_measurement

    strided, plain = bounds_measurement(4, 16, 64, stride=4), bounds_measurement(4, 16, 64)
    assert mc.run_devices(strided.fn, *strided.args, devices=cpu) == [cpu[0], cpu[2]]
    assert mc.run_devices(plain.fn, *plain.args, devices=cpu) == cpu


def test_strided_bounds_do_not_hang_with_one_device_per_core(tmp_path):
    """Regression: J < stride with 2 CPU devices used to hang for ever in jaxlib's batched
    eigensolver (every XLA pool thread waiting); same numbers as on one device."""
    args = ["bounds", "--J", "2", "--T", "16", "--N", "64", "--samples", "300", "--stride", "4"]
    one, _ = _cli(args, {"RFBJAX_HOST_DEVICES": "1", "RFBJAX_CACHE_DIR": "off"}, tmp_path, "one")
    two, _ = _cli(args, {"RFBJAX_HOST_DEVICES": "2", "RFBJAX_CACHE_DIR": "off"}, tmp_path, "two",
                  timeout=120)
    assert one == two


def test_started_jobs_are_cancelled_not_left_running():
    """A started job waiting its turn never runs once cancelled; a running one stops at its
    next chunk; ``cancelling`` cancels a table's jobs when its block raises."""
    from concurrent.futures import CancelledError, Future

    from rfbjax.engine.measure import prepare_bounds

    first, second = prepare_bounds(3, 8, 16, 20, seed=1), prepare_bounds(3, 12, 16, 20, seed=1)
    compiled = first.program.result()
    gate: Future = Future()
    first.program = gate                 # the runner waits on this "compilation"
    first.start()
    second.start()
    second.cancel()                      # queued behind the first: never runs
    first.cancel()                       # running (waiting for its program)
    gate.set_result(compiled)
    with pytest.raises(CancelledError):
        first.result()
    with pytest.raises(CancelledError):
        second.result()
    third = prepare_bounds(3, 16, 16, 20, seed=1)
    with pytest.raises(RuntimeError):
        with mc.cancelling([third]):
            raise RuntimeError("a table stops early")
    assert third._cancelled
    again = prepare_bounds(3, 8, 16, 20, seed=1).start().result()   # the runner still works
    np.testing.assert_array_equal(again["A"], sample_bounds(3, 8, 16, 20, seed=1)["A"])


def test_blas_threads_told_to_sleep_before_numpy_loads():
    """``import rfbjax.cli`` loads no NumPy, so the command line can set OpenBLAS's spin
    timeout first; a value the user set is kept."""
    code = ("import os, sys\nimport rfbjax.cli as c\nprint('numpy' in sys.modules)\n"
            "c._idle_blas_threads()\nprint(os.environ['OPENBLAS_THREAD_TIMEOUT'])")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    run = lambda e: subprocess.run([sys.executable, "-c", code], env=e, capture_output=True,  # noqa: E731
                                   text=True, timeout=60).stdout.split()
    assert run(env) == ["False", "4"]
    assert run(dict(env, OPENBLAS_THREAD_TIMEOUT="9")) == ["False", "9"]


def test_exported_lowering_skips_lapack_only_without_lapack(tmp_path, monkeypatch):
    """`compile_cache.lower`: a reloaded program that calls no LAPACK is lowered without JAX's
    LAPACK set-up, one that calls eigvalsh with it; both give the numbers of the jitted
    program (direct float64 references: the sum of squares, NumPy's eigenvalues)."""
    from jax._src.lax import linalg as jax_linalg

    d = tmp_path / "cache"
    (d / "exported").mkdir(parents=True)
    monkeypatch.setattr(compile_cache, "_state", {"enabled": True, "dir": str(d), "owned": True})
    calls = []
    original = jax_linalg.initialize_lapack
    monkeypatch.setattr(jax_linalg, "initialize_lapack", lambda: (calls.append(1), original()))
    x = np.random.default_rng(3).standard_normal((3, 4, 4)).astype(np.float32)
    spd = x @ x.transpose(0, 2, 1)
    spec = [jax.ShapeDtypeStruct(x.shape, x.dtype)]
    plain = jax.jit(lambda a: jnp.sum(a * a, axis=(1, 2)))
    eig = jax.jit(jnp.linalg.eigvalsh)
    for rnd in range(2):                       # exported and stored, then reloaded
        calls.clear()
        out = compile_cache.lower(plain, spec, "a" * 40).compile()(x)
        assert not calls, rnd
        np.testing.assert_allclose(out, np.sum(x.astype(np.float64) ** 2, axis=(1, 2)),
                                   rtol=1e-5)
        out = compile_cache.lower(eig, spec, "b" * 40).compile()(spd)
        assert calls, rnd
        np.testing.assert_allclose(out, np.linalg.eigvalsh(spd.astype(np.float64)),
                                   rtol=1e-4, atol=1e-4)
    assert sorted(os.listdir(d / "exported")) == ["a" * 40 + ".jaxexport", "b" * 40 + ".jaxexport"]
    assert not compile_cache.calls_lapack(compile_cache.load_exported("a" * 40))
    assert compile_cache.calls_lapack(compile_cache.load_exported("b" * 40))
