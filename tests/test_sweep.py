"""Sweeps: resume after kill -9, device-count and process-count invariance, config refusal,
and the scaling-law fit on synthetic tables whose answer is known."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from rfbjax.cli import main
from rfbjax.studies.scaling import crossing_J, scaling_law

GRID = ["--J", "3,6,12", "--T", "8,16,32", "--samples", "300", "--N", "4T", "--quiet"]


def _env(devices=None):
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if devices:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def _sweep(out, extra=(), devices=None, **kw):
    cmd = [sys.executable, "-m", "rfbjax", "sweep", *GRID, "--out", str(out), *extra]
    return subprocess.run(cmd, env=_env(devices), capture_output=True, text=True, **kw)


def _cells(out):
    res = {}
    for name in sorted(os.listdir(os.path.join(out, "cells"))):
        if name.endswith(".npz"):
            with np.load(os.path.join(out, "cells", name)) as z:
                res[name] = (z["A"].copy(), z["B"].copy())
    return res


def _assert_same(a, b):
    assert sorted(a) == sorted(b) and len(a) == 9
    for k in a:
        np.testing.assert_array_equal(a[k][0], b[k][0])
        np.testing.assert_array_equal(a[k][1], b[k][1])


@pytest.fixture(scope="module")
def reference_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "sweep"
    r = _sweep(out)
    assert r.returncode == 0, r.stderr
    return out


def test_four_devices_bit_identical(reference_sweep, tmp_path):
    out = tmp_path / "dev4"
    r = _sweep(out, devices=4)
    assert r.returncode == 0, r.stderr
    _assert_same(_cells(reference_sweep), _cells(out))


def test_kill_and_resume_bit_identical(reference_sweep, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "rfbjax", "sweep", "--J", "3,6,12", "--T", "8,16,32",
           "--samples", "300", "--N", "4T", "--quiet", "--out", str(out)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cells = out / "cells"
    deadline = time.time() + 120
    while time.time() < deadline:
        if cells.exists() and any(n.endswith(".json") for n in os.listdir(cells)):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = [n for n in os.listdir(cells) if n.endswith(".json")]
    assert 1 <= len(done) < 9, "the kill should land in the middle of the sweep"
    # leftovers of an interrupted write are temporary files only, never a truncated cell
    for n in os.listdir(cells):
        assert n.startswith(".tmp-") or n.endswith((".npz", ".json"))
    r = _sweep(out)
    assert r.returncode == 0, r.stderr
    _assert_same(_cells(reference_sweep), _cells(out))


def test_two_processes_bit_identical(reference_sweep, tmp_path):
    out = tmp_path / "mp"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for pid in range(2):
        cmd = [sys.executable, "-m", "rfbjax", "sweep", *GRID, "--out", str(out),
               "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
               "--process-id", str(pid)]
        procs.append(subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    _assert_same(_cells(reference_sweep), _cells(out))


def test_lost_process_is_one_line_and_resumable(tmp_path, capsys, monkeypatch):
    """A collective that fails in a multi-process sweep (a process died or fell behind) is one
    line naming the process and how to resume, exit status 1, not a traceback."""
    import jax

    import rfbjax.studies.sweep

    def lost(*a, **k):
        raise jax.errors.JaxRuntimeError("UNKNOWN: Gloo context initialization failed: "
                                         "DEADLINE_EXCEEDED\nmore")

    monkeypatch.setattr(rfbjax.studies.sweep, "run_sweep", lost)
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    monkeypatch.setattr(jax, "process_index", lambda: 1)
    rc = main(["sweep", "--J", "3", "--T", "8", "--samples", "30", "--quiet",
               "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1, err
    assert "process 1 of 2" in err[0] and "Gloo" in err[0] and "resume" in err[0]


def test_other_configuration_refused(reference_sweep, capsys):
    rc = main(["sweep", "--J", "3,6", "--T", "8,16,32", "--samples", "300", "--quiet",
               "--out", str(reference_sweep)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "different configuration" in err[0]


def test_scaling_law_cli_on_sweep(reference_sweep, capsys):
    rc = main(["scaling-law", str(reference_sweep), "--kappa", "3,5", "--bootstrap", "50"])
    assert rc == 0
    data = json.loads((reference_sweep / "scaling_law_kappa3_5.json").read_text())
    assert [law["kappa0"] for law in data["laws"]] == [3.0, 5.0]
    assert "kappa0 = 3" in capsys.readouterr().out


def _synthetic(law, Js, Ts, noise=0.0, seed=0):
    """Cells with E[kappa] = k0 + 2 (log J*(T) - log J): the k0 level set is exactly J*(T)."""
    rng = np.random.default_rng(seed)
    samples = {}
    for J in Js:
        for T in Ts:
            k = 3.0 + 2.0 * (np.log(law(T)) - np.log(J))
            B = k + noise * rng.standard_normal(400)
            samples[(J, T)] = (np.ones(400), B)
    return samples


def test_log_law_recovered():
    Js = [2, 4, 8, 16, 32, 64, 128]
    Ts = [8, 16, 32, 64, 128, 256, 512, 1024]
    samples = _synthetic(lambda T: 1.5 + 3.0 * np.log(T), Js, Ts, noise=0.05)
    (law,) = scaling_law(samples, [3.0], n_boot=100)
    assert law.fits["a"]["value"] == pytest.approx(1.5, abs=0.3)
    assert law.fits["b"]["value"] == pytest.approx(3.0, abs=0.1)
    lo, hi = law.fits["b"]["ci"]
    assert lo <= 3.0 <= hi or abs(law.fits["b"]["value"] - 3.0) < 0.05
    assert law.preferred == "log"


def test_power_law_recovered():
    Js = [2, 4, 8, 16, 32, 64, 128, 256]
    Ts = [8, 16, 32, 64, 128, 256, 512, 1024]
    samples = _synthetic(lambda T: 0.8 * T ** 0.6, Js, Ts)
    (law,) = scaling_law(samples, [3.0], n_boot=20)
    assert law.fits["gamma"]["value"] == pytest.approx(0.6, abs=1e-6)
    assert law.fits["c"]["value"] == pytest.approx(0.8, rel=1e-6)
    assert law.preferred == "power"


def test_crossing_interpolates_in_log_J():
    assert crossing_J([4, 16], [5.0, 3.0], 4.0) == pytest.approx(8.0)
    assert np.isnan(crossing_J([4, 16], [5.0, 4.5], 4.0))
