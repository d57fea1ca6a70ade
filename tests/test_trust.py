"""Trust on a shared machine: hostile weight files, a cache others can write, outputs that
never follow links or delete files rfbjax did not write, names that cannot drive a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hostile
from rfbjax.base.files import atomic_write_bytes
from rfbjax.base.text import printable
from rfbjax.engine import compile_cache
from rfbjax.errors import InputError
from rfbjax.models import guards
from rfbjax.models.keras_config import keras_structure
from rfbjax.models.weights import read_tensors
from rfbjax.report import outputs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUDGET = 32 * 1024 ** 2


# ----------------------------------------------------------------------------- hostile files
@pytest.mark.parametrize("case", sorted(hostile.CASES))
def test_hostile_file_is_one_input_error(case, tmp_path):
    name, write = hostile.CASES[case]
    path = tmp_path / name
    write(path, tmp_path)
    with pytest.raises(InputError) as info:
        read_tensors(str(path), max_memory=BUDGET)
    msg = str(info.value)
    assert str(path) in msg and "\n" not in msg


@pytest.mark.parametrize("case", sorted(hostile.STRUCTURE_CASES))
def test_hostile_structure_file_is_one_input_error(case, tmp_path):
    """ONNX graphs, TorchScript archives and Keras configs under the same rules."""
    pytest.importorskip("onnx")
    name, write = hostile.STRUCTURE_CASES[case]
    path = tmp_path / name
    write(path, tmp_path)
    from rfbjax.models.audits import audit

    t0 = time.monotonic()
    with pytest.raises(InputError) as info:
        audit(str(path), draws=0, N=16, max_memory=BUDGET)
    msg = str(info.value)
    assert str(path) in msg and "\n" not in msg, msg
    assert time.monotonic() - t0 < 20


def test_onnx_external_data_inside_the_folder_is_read(tmp_path):
    pytest.importorskip("onnx")
    from rfbjax.models.onnx_reader import read_onnx_layers

    w = np.arange(16, dtype="<f4").reshape(4, 1, 4) + 1
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "w.bin").write_bytes(w.tobytes())
    path = hostile.onnx_external(tmp_path / "m.onnx", "data/w.bin")
    (layer,), _ = read_onnx_layers(str(path), budget=BUDGET)
    np.testing.assert_array_equal(layer["weight"], w)
    link = tmp_path / "data" / "link.bin"            # a link leading out of the folder
    os.symlink(hostile.npy_header(tmp_path.parent / f"{tmp_path.name}-o.bin", (4,)), link)
    hostile.onnx_external(path, "data/link.bin")
    with pytest.raises(InputError, match="outside the model's folder"):
        read_onnx_layers(str(path), budget=BUDGET)


_CHILD = """
import os, sys
sys.path.insert(0, {tests!r})
from rfbjax.cli import main
try:
    rc = main(["audit", {path!r}, "--draws", "0", "--max-memory", "64MB", "--out", {out!r}])
finally:   # this process's own peak (VmHWM is per address space; ru_maxrss keeps the parent's)
    with open({hwm!r}, "w") as f:
        f.write([ln for ln in open("/proc/self/status") if ln.startswith("VmHWM")][0])
sys.exit(rc)
"""


@pytest.mark.parametrize("case", ["billion_laughs", "deflate_bomb", "zero_strides", "deep"])
def test_hostile_file_bounded_in_a_subprocess(case, tmp_path):
    """Through the command line: exit 2, one line, no traceback, within time and memory."""
    name, write = hostile.CASES[case]
    path = tmp_path / name
    write(path, tmp_path)
    code = _CHILD.format(tests=os.path.join(ROOT, "tests"), path=str(path),
                         out=str(tmp_path / "out"), hwm=str(tmp_path / "hwm"))
    env = {**os.environ, "PYTHONPATH": ROOT, "RFBJAX_CACHE_DIR": "off"}
    import resource

    def limits():   # a runaway reader is stopped, not the machine
        resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
        resource.setrlimit(resource.RLIMIT_AS, (6 * 1024 ** 3, 6 * 1024 ** 3))

    t0 = time.monotonic()
    with open(tmp_path / "err", "wb") as ferr:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                                stderr=ferr, env=env, preexec_fn=limits)
        _, status, _usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - t0
    err = (tmp_path / "err").read_text()
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err and str(path) in err, err
    assert elapsed < 60
    peak = int((tmp_path / "hwm").read_text().split()[1]) * 1024      # kB
    assert peak < 1024 ** 3, peak   # the interpreter with JAX imported, plus the 64 MB budget


def test_fifo_input_refused(tmp_path):
    fifo = tmp_path / "w.npy"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_tensors(str(fifo))


def test_declared_nbytes_refuses_what_is_not_a_size():
    assert guards.declared_nbytes((3, 4), 8) == 96
    assert guards.declared_nbytes((1 << 40, 1 << 40), 4) == 1 << 82      # Python ints
    for bad in ((float("inf"),), (-1,), (2.5,), ("3",)):
        with pytest.raises(ValueError):
            guards.declared_nbytes(bad, 4)


def test_flatten_tree_names_and_limits():
    a, b = np.zeros(1), np.ones(1)
    tree = {"x": [a, {"y": b}], "z": 3}
    flat = guards.flatten_tree(tree, lambda v: isinstance(v, np.ndarray))
    assert list(flat) == ["x.0", "x.1.y"] and flat["x.1.y"] is b
    shared = [a] * 4
    assert len(guards.flatten_tree([shared, shared], lambda v: isinstance(v, np.ndarray))) == 8
    with pytest.raises(ValueError):
        guards.flatten_tree([[a] * 10] * 10, lambda v: isinstance(v, np.ndarray), max_nodes=50)


def test_reader_memory_checked_before_reading(tmp_path):
    """A real 4 MiB .npy under a 1 MiB budget is refused before its data is read; under a
    larger one it reads back exactly."""
    arr = np.arange(1 << 20, dtype=np.float32).reshape(1024, 1, 1024)
    np.save(tmp_path / "w.npy", arr)
    with pytest.raises(InputError, match="max-memory"):
        read_tensors(str(tmp_path / "w.npy"), max_memory=1 << 20)
    got, _ = read_tensors(str(tmp_path / "w.npy"), max_memory=BUDGET)
    np.testing.assert_array_equal(got[""], arr)
    np.savez(tmp_path / "f.npz", w=np.asfortranarray(arr[:, 0, :]))
    got, _ = read_tensors(str(tmp_path / "f.npz"), max_memory=BUDGET)
    np.testing.assert_array_equal(got["w"], arr[:, 0, :])


# ----------------------------------------------------------------------------- fuzz
def _valid_files(tmp):
    import torchzip
    from safetensors.numpy import save_file

    w = np.arange(24, dtype=np.float32).reshape(2, 3, 4) + 1
    np.save(tmp / "a.npy", w)
    np.savez(tmp / "a.npz", conv=w)
    save_file({"conv.weight": w}, str(tmp / "a.safetensors"))
    torchzip.save({"conv.weight": w}, tmp / "a.pth")
    import h5py

    with h5py.File(tmp / "a.h5", "w") as h:
        h.create_dataset("conv/kernel", data=w)
        h.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"layers": [
            {"class_name": "Conv1D", "config": {"name": "conv", "strides": [2]}}]}})
    torchzip.torchscript(tmp / "a.pt", torchzip.script_module(
        "M", conv=torchzip.script_module("torch.nn.modules.conv.Conv1d", weight=w)))
    return {p: (tmp / p).read_bytes() for p in ("a.npy", "a.npz", "a.safetensors", "a.pth",
                                                  "a.h5", "a.pt")}


@pytest.mark.parametrize("fmt", ["a.npy", "a.npz", "a.safetensors", "a.pth", "a.h5", "a.pt"])
def test_fuzz_reader_returns_tensors_or_input_error(fmt, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    blob = _valid_files(tmp)[fmt]
    target = tmp / ("x" + fmt[1:])

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.integers(0, len(blob) - 1), st.integers(0, 255)),
                    min_size=1, max_size=6), st.integers(0, len(blob)))
    def check(edits, cut):
        data = bytearray(blob)
        for i, v in edits:
            data[i] = v
        target.write_bytes(bytes(data[:cut]) if cut < len(blob) // 2 else bytes(data))
        try:
            tensors, _ = read_tensors(str(target), max_memory=BUDGET)
        except InputError as exc:
            assert "\n" not in str(exc)
            return
        assert isinstance(tensors, dict)
        assert all(isinstance(v, np.ndarray) for v in tensors.values())
        if fmt == "a.h5":                                # the Keras config reader too
            try:
                structure = keras_structure(str(target))
            except InputError as exc:
                assert "\n" not in str(exc)
                return
            assert isinstance(structure, dict)

    check()


# ----------------------------------------------------------------------------- cache
@pytest.fixture
def fresh_cache(monkeypatch):
    monkeypatch.setattr(compile_cache, "_state", {"enabled": None, "dir": None, "owned": False})


def test_cache_writable_by_others_is_off_with_one_warning(tmp_path, monkeypatch, capsys,
                                                         fresh_cache):
    d = tmp_path / "shared"
    d.mkdir()
    os.chmod(d, 0o777)
    monkeypatch.setenv("RFBJAX_CACHE_DIR", str(d))
    assert compile_cache.enable() is None and not compile_cache.active()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(d) in err and "writable by others" in err
    assert compile_cache.load_exported("0" * 40) is None     # nothing is read from it


def test_cache_subfolder_writable_by_group_is_refused(tmp_path):
    d = tmp_path / "c"
    (d / "xla").mkdir(parents=True)
    os.chmod(d, 0o700)
    os.chmod(d / "xla", 0o770)
    why, _ = compile_cache._open_root(str(d))
    assert why is not None and "xla" in why and "group" in why


def test_cache_created_private_and_marked(tmp_path):
    d = tmp_path / "new" / "rfbjax"
    why, owned = compile_cache._open_root(str(d))
    assert why is None and owned
    for folder in (d, d / "xla", d / "exported"):
        assert os.stat(folder).st_mode & 0o077 == 0
    assert compile_cache._is_ours(str(d))


def test_tampered_entries_are_misses(tmp_path, monkeypatch):
    d = tmp_path / "c"
    assert compile_cache._open_root(str(d))[0] is None
    monkeypatch.setattr(compile_cache, "_state", {"enabled": True, "dir": str(d), "owned": True})
    key = "ab" * 20
    assert compile_cache.store_meta(key, {"out_bytes": 64, "lapack": True})
    assert compile_cache.load_meta(key) == {"out_bytes": 64, "lapack": True}
    p = d / "exported" / f"{key}.json"
    assert os.stat(p).st_mode & 0o077 == 0
    p.write_text(p.read_text().replace("true", "false"))          # the one-device rule flipped
    assert compile_cache.load_meta(key) is None
    p.write_text(json.dumps({"out_bytes": 64, "lapack": False}))   # a 0.1.0 entry: no digest
    assert compile_cache.load_meta(key) is None
    rec = {"out_bytes": -5, "lapack": True}
    body = compile_cache._canonical(rec)
    p.write_text(json.dumps({"record": rec, "digest": compile_cache._digest(body)}))
    assert compile_cache.load_meta(key) is None                    # out of range: refused
    e = d / "exported" / f"{key}.jaxexport"
    e.write_bytes(compile_cache._EXPORT_MAGIC + compile_cache._digest(b"abc").encode()
                  + b"\nabd")
    assert compile_cache.load_exported(key) is None
    os.unlink(e)
    os.symlink(p, e)                                               # a planted link: not read
    assert compile_cache.load_exported(key) is None


def test_clear_only_in_marked_root_and_own_names(tmp_path):
    d = tmp_path / "c"
    (d / "xla").mkdir(parents=True)
    own = d / "xla" / ("jit_f-" + "0" * 64 + "-cache")
    own.write_bytes(b"x" * 10)
    (d / "xla" / "notes.txt").write_text("mine")
    assert compile_cache.clear(str(d)) == 0 and own.exists()       # no marker
    (d / compile_cache.MARKER).write_text(compile_cache._MARKER_TEXT)
    assert compile_cache.clear(str(d)) == 10 and not own.exists()
    assert (d / "xla" / "notes.txt").exists()


# ----------------------------------------------------------------------------- outputs
def test_writer_keeps_mode_and_refuses_fifo(tmp_path):
    p = tmp_path / "r.json"
    p.write_text("{}")
    os.chmod(p, 0o600)
    outputs.write_json(str(p), {"command": "bounds"})
    assert os.stat(p).st_mode & 0o777 == 0o600
    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="FIFO"):
        outputs.check_json_target(str(fifo), "--json", "bounds")
    with pytest.raises(OSError):
        atomic_write_bytes(str(fifo), b"x")


def test_json_marker_and_replace_only_own(tmp_path):
    p = tmp_path / "out.json"
    outputs.write_json(str(p), {"command": "bounds", "config": {}, "rows": []})
    data = json.loads(p.read_text())
    assert data["rfbjax"]["format"] == 1 and data["rfbjax"]["command"] == "bounds"
    assert data["command"] == "bounds"                                  # keys kept
    outputs.check_json_target(str(p), "--json", "bounds")
    with pytest.raises(InputError):
        outputs.check_json_target(str(p), "--json", "energy")
    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps({"command": "make"}))
    with pytest.raises(InputError, match="refusing"):
        outputs.check_json_target(str(tasks), "--json", "bounds")
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"command": "bounds", "config": {}, "rows": []}))   # 0.1.0
    outputs.check_json_target(str(old), "--json", "bounds")
    old.write_text(json.dumps({"command": "bounds", "config": {}, "rows": [], "x": 1}))
    with pytest.raises(InputError):
        outputs.check_json_target(str(old), "--json", "bounds")


def test_remove_stale_by_manifest_only(tmp_path):
    out = tmp_path / "o"
    (out / "figures" / "drafts").mkdir(parents=True)
    own = ("results.json", "figures/*.png")
    poster = out / "figures" / "drafts" / "poster.png"
    poster.write_bytes(b"user")
    a, b = out / "figures" / "a.png", out / "figures" / "b.png"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    # a 0.1.0 folder (no manifest): only known names, '*' never crosses '/'
    outputs.remove_stale(str(out), own, [str(a)], command="reproduce")
    assert poster.exists() and a.exists() and not b.exists()
    assert outputs.read_manifest(str(out)) == {"figures/a.png": outputs.file_digest(str(a))}
    # with a manifest: only listed files, and only while unchanged
    c = out / "figures" / "c.png"
    c.write_bytes(b"c")
    outputs.remove_stale(str(out), own, [str(c)], command="reproduce")
    assert not a.exists() and c.exists() and poster.exists()
    c.write_bytes(b"edited by the user")
    outputs.remove_stale(str(out), own, [], command="reproduce")
    assert c.exists()


def test_planted_link_at_scratch_name_is_not_empty(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    os.symlink(tmp_path / "victim", out / ".tmp-x")
    with pytest.raises(InputError):
        outputs.check_out_dir(str(out), "--out", command="audit", own=("audit.json",),
                              marker="audit.json")


# ----------------------------------------------------------------------------- names
def test_printable_escapes_and_stays_distinct():
    forged = "a\x1b[2J\nconv9.weight: kappa = 1.000"
    text = printable(forged)
    assert "\n" not in text and "\x1b" not in text and text.isprintable()
    assert printable("a\\x1b") != printable("a\x1b")
    assert printable("conv1.weight") == "conv1.weight" and printable("é中") == "é中"


def test_audit_text_escapes_names(tmp_path, capsys):
    from safetensors.numpy import save_file

    from rfbjax.cli import main

    name = "evil\x1b[2J\nconv9.weight: kappa = 1.000\n"
    w = np.random.default_rng(0).standard_normal((3, 1, 4)).astype(np.float32)
    save_file({name: w, "ok.weight": w}, str(tmp_path / "m.safetensors"))
    rc = main(["audit", str(tmp_path / "m.safetensors"), "--draws", "0", "--N", "16",
               "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert rc == 0
    txt = (tmp_path / "out" / "audit.txt").read_text()
    for text in (out, txt):
        assert "\x1b" not in text
        assert not any(line.startswith("conv9.weight") for line in text.splitlines())
    strings, stack = [], [json.loads((tmp_path / "out" / "audit.json").read_text())]
    while stack:                              # JSON keeps the name as it is
        v = stack.pop()
        if isinstance(v, dict):
            stack += list(v.values())
        elif isinstance(v, list):
            stack += v
        elif isinstance(v, str):
            strings.append(v)
    assert name in strings


def test_swapped_entry_in_a_shared_cache_changes_no_number(tmp_path):
    """The attack of a cache folder others can write: one exported program swapped for
    another's. In a private folder the swap takes effect (which is why ownership is checked);
    in a 0777 folder the cache is off and the numbers are those of a fresh run."""
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": ROOT, "RFBJAX_CACHE_DIR": str(cache)}

    def bounds(init, name):
        out = tmp_path / name
        proc = subprocess.run([sys.executable, "-m", "rfbjax", "bounds", "--J", "4", "--T", "8",
                               "--N", "32", "--samples", "50", "--init", init, "--json",
                               str(out), "--quiet"], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return json.loads(out.read_text())["rows"][0]["mean_A"], proc.stderr

    exported = cache / "exported"
    fresh, _ = bounds("gaussian", "g.json")
    mine = {p.name for p in exported.glob("*.jaxexport")}
    other, _ = bounds("pytorch", "p.json")
    theirs = [p for p in exported.glob("*.jaxexport") if p.name not in mine]
    assert len(mine) == 1 and len(theirs) == 1 and other != fresh
    (exported / mine.pop()).write_bytes(theirs[0].read_bytes())      # the swap
    swapped, _ = bounds("gaussian", "s.json")
    assert swapped != fresh                       # a private cache is trusted: the swap acts
    os.chmod(cache, 0o777)
    shared, err = bounds("gaussian", "o.json")
    assert shared == fresh
    assert err.count("\n") == 1 and "writable by others" in err


def test_file_names_in_markdown_reports_are_printable():
    from rfbjax.report.markdown import _cols

    (c,) = _cols({"signals": [{"kind": "sound", "label": "a\x1b[2J\nb.wav"}]}, "sound")
    assert "\x1b" not in c["label"] and "\n" not in c["label"]


def test_xla_entries_are_written_atomically(tmp_path, monkeypatch):
    from jax._src import lru_cache

    monkeypatch.setattr(lru_cache.LRUCache, "put", lru_cache.LRUCache.put)   # undone after
    compile_cache._atomic_xla_entries()
    assert getattr(lru_cache.LRUCache.put, "_rfbjax_atomic", False)
    cache = lru_cache.LRUCache(str(tmp_path), max_size=-1)
    cache.put("k1", b"x" * 1000)
    assert cache.get("k1") == b"x" * 1000 and os.stat(tmp_path / "k1-cache").st_mode & 0o077 == 0

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)    # the disk fills during the write
    with pytest.raises(OSError):
        cache.put("k2", b"y" * 1000)
    assert sorted(os.listdir(tmp_path)) == ["k1-cache"]   # no truncated entry, no scratch file
