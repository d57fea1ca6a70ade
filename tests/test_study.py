"""The training study: targets, data, the closed-form distillation loss against explicit
convolutions, the training loop's logs, statistics, and ``rfbjax train-study`` end to end."""

import json
import math
import os

import numpy as np
import pytest
import jax
import jax.numpy as jnp

from rfbjax.cli import main
from rfbjax.errors import InputError
from rfbjax.kernels.strided import strided_frame_bounds
from rfbjax.studies.training import data, distill, runner, summary, targets

from reference import analysis_matrix, frame_bounds_explicit


@pytest.mark.parametrize("J,T,N,d", [(3, 8, 16, 1), (4, 8, 16, 2), (5, 12, 24, 3)])
def test_parseval_target_is_tight(J, T, N, d):
    w = targets.make_target("parseval", J, T, d, seed=3).w
    assert w.shape == (J, T)
    A, B = frame_bounds_explicit(w, N, d)            # explicit analysis matrix, SVD
    assert A == pytest.approx(1.0, abs=1e-12) and B == pytest.approx(1.0, abs=1e-12)
    # a different seed gives a different tight filterbank
    assert not np.allclose(w, targets.make_target("parseval", J, T, d, seed=4).w)


def test_gammatone_target():
    tg = targets.make_target("gammatone", 16, 64, 1)
    assert tg.w.shape == (16, 64)
    assert np.sum(tg.w ** 2) == pytest.approx(1.0)              # mean eigenvalue 1 at stride 1
    A, B = frame_bounds_explicit(tg.w, 64, 1)
    assert 0 < A < 1 < B < 10                                   # a frame, not a tight one
    long = targets.make_target("gammatone", 16, 2048, 1).w   # untruncated: centres ascend
    peak = np.argmax(np.abs(np.fft.rfft(long, axis=-1)), axis=-1)
    assert peak[0] == 0 and np.all(np.diff(peak) > 0)
    with pytest.raises(InputError):
        targets.make_target("cqt", 4, 8)


def test_analysis_matches_explicit_convolution():
    rng = np.random.default_rng(0)
    w, X = rng.standard_normal((3, 6)), rng.standard_normal((2, 12))
    for d in (1, 2, 3):
        Y = distill.analysis(w, X, d)
        ref = (analysis_matrix(w, 12, d) @ X.T).T.reshape(2, 3, 12 // d)
        np.testing.assert_allclose(Y, ref, atol=1e-12)


@pytest.mark.parametrize("d", [1, 2])
def test_closed_form_loss_and_gradient(d):
    rng = np.random.default_rng(1)
    J, T, N, n = 3, 6, 12, 5
    X, g, w = rng.standard_normal((n, N)), rng.standard_normal((J, T)), rng.standard_normal((J, T))
    Phi = analysis_matrix(g, N, d)
    Ystar = (Phi @ X.T).T.reshape(n, J, N // d)                 # teacher outputs
    st = distill.distill_stats(X, Ystar, d, chunk=2)            # chunked accumulation
    direct = np.sum(((analysis_matrix(w, N, d) - Phi) @ X.T) ** 2) / np.sum(Ystar ** 2)
    f = jax.jit(lambda w: distill.distill_loss(w, st, N, d))
    assert float(f(jnp.asarray(w))) == pytest.approx(direct, rel=1e-12)
    assert float(f(jnp.asarray(g))) == pytest.approx(0, abs=1e-12)
    v = rng.standard_normal((J, T))
    grad = jax.jit(jax.grad(f))(jnp.asarray(w))
    h = 1e-6
    fd = (f(jnp.asarray(w + h * v)) - f(jnp.asarray(w - h * v))) / (2 * h)
    assert float(jnp.sum(grad * v)) == pytest.approx(float(fd), rel=1e-6)


def test_signal_sets_disjoint_and_unit_energy(tmp_path):
    s = data.builtin_sets(64, 13, 7, seed=2)
    assert s.train.shape == (13, 64) and s.val.shape == (7, 64)
    np.testing.assert_allclose(np.sum(s.train ** 2, 1), 1.0)
    assert set(s.train_sources) == set(data.BUILTIN_SOURCES)
    again = data.builtin_sets(64, 13, 7, seed=2)
    np.testing.assert_array_equal(s.train, again.train)
    # audio: the held-out excerpts come from the last quarter only
    import soundfile as sf

    x = np.sin(0.05 * np.arange(4000) ** 1.3)
    x[3000:] = np.where(np.arange(1000) % 2, 0.5, -0.5)        # a distinct last quarter
    path = tmp_path / "a.wav"
    sf.write(str(path), x, 8000, subtype="DOUBLE")
    a = data.audio_sets([str(path)], 100, 6, 4, seed=0)
    assert a.sample_rate == 8000 and a.val.shape == (4, 100)
    np.testing.assert_allclose(np.abs(a.val), 0.1, rtol=1e-9)  # only the ±0.5 square wave
    with pytest.raises(InputError, match="too short"):
        data.audio_sets([str(path)], 1200, 6, 4)


def test_t_quantile_and_intervals():
    assert summary.t_quantile(0.975, 4) == pytest.approx(2.776445, abs=1e-6)
    assert summary.t_quantile(0.975, 1) == pytest.approx(12.706205, abs=1e-5)
    c = summary.mean_ci([1.0, 2.0, 3.0])
    assert c["mean"] == 2.0 and c["hi"] - c["mean"] == pytest.approx(4.302653 / math.sqrt(3),
                                                                      abs=1e-5)
    g = summary.mean_ci([1e-4, 1e-2], log=True)
    assert g["mean"] == pytest.approx(1e-3)
    r = summary.spearman([1, 2, 3, 4, 5, 6], [2, 4, 6, 8, 10, 12])
    assert r["rho"] == pytest.approx(1.0) and r["p"] < 0.01


def _cli(tmp_path, out, *extra):
    return main(["train-study", "--quick", "--J", "8", "--T", "32", "--N", "32", "--steps", "60",
                 "--seeds", "3", "--init", "gaussian,pytorch,parseval", "--out", str(out), "--quiet",
                 *extra])


def test_cli_outputs(tmp_path):
    out = tmp_path / "study"
    assert _cli(tmp_path, out) == 0
    doc = json.loads((out / "study.json").read_text())
    cfg = doc["config"]
    for k in ("J", "T", "stride", "N", "steps", "lr", "beta", "target"):
        assert k in cfg
    assert (cfg["J"], cfg["T"], cfg["N"], cfg["steps"], cfg["seeds"]) == (8, 32, 32, 60, 3)
    weights = np.load(out / "final_weights.npz", allow_pickle=False)
    runs = doc["runs"]
    assert cfg["inits"] == ["gaussian", "pytorch", "parseval"]
    assert cfg["penalties"] == ["none", "kappa", "tightness", "smooth_sailing"]
    # the Parseval arm trains under penalty none only (every penalty is zero on it)
    n_set = len(cfg["targets"]) * (2 * len(cfg["penalties"]) + 1) * 3
    assert len(runs) == n_set == len(weights.files) and doc["skipped"] == []
    small = runner.SMALL.replace(seeds=3, inits=tuple(cfg["inits"]))
    w0 = runner.initial_weights(small, 1)
    w0["parseval"] = jax.vmap(distill.parseval_taps)(runner.parseval_params(small, 1))
    # kappa of the Parseval arm at every recorded step: 1 up to rounding. Its kernel is a product
    # of K - 1 = T/d - 1 exactly lossless blocks; each rounded block perturbs the frame
    # operator's eigenvalues by a few float32 epsilons at most and these add up at worst
    # linearly, so |lambda - 1| <= 4 K eps32 and kappa - 1 ~ 2 max|lambda - 1| <= 8 K eps32
    # (3e-5 here; the study runs in float64, where it is ~1e-15). The unconstrained arms are
    # far above it (kappa > 1.5).
    tol = 8 * (32 // 1) * float(np.finfo(np.float32).eps)
    par = [r for r in runs if r["init"] == "parseval"]
    assert len(par) == 2 * 3 and {r["penalty"] for r in par} == {"none"}
    for r in par:
        assert max(abs(k - 1.0) for k in r["kappa"]) <= tol
        assert r["loss"][-1] < 0.5 * r["loss"][0]
    assert min(r["kappa"][0] for r in runs if r["init"] == "gaussian") > 1 + 1e4 * tol
    for s_ in doc["findings"]["settings"]:
        assert s_["parseval"]["run"] and s_["parseval"]["max_abs_kappa_minus_1"] <= tol
    for r in runs:
        assert {"init", "penalty", "seed", "step", "loss", "val_loss", "kappa", "A", "B"} <= set(r)
        assert r["step"] == [0, 20, 40, 60] and len(r["loss"]) == len(r["kappa"]) == 4
        assert r["loss"][-1] < 0.5 * r["loss"][0]                     # every run learns
        w = weights[r["name"]]
        assert w.shape == (8, 1, 32)
        # the last logged kappa is that of the saved weights, the first that of the draw
        A, B = strided_frame_bounds(jnp.asarray(w[:, 0]), r["N"], r["stride"])
        assert r["kappa"][-1] == pytest.approx(float(B / A), rel=1e-10)
        A0, B0 = strided_frame_bounds(w0[r["init"]][r["seed"]], r["N"], r["stride"])
        assert r["kappa"][0] == pytest.approx(float(B0 / A0), rel=1e-10)
        assert r["A"][-1] == pytest.approx(float(A), rel=1e-10)
    # paired design: the same draw under every penalty and target
    first = {(r["init"], r["seed"], r["target"], r["penalty"]): r["kappa"][0] for r in runs}
    assert len({v for (i, s_, t, p), v in first.items() if (i, s_) == ("gaussian", 0)}) == 1
    # penalties act: on the non-tight target they lower the final kappa of every seed
    by = {(r["target"], r["init"], r["penalty"], r["seed"]): r for r in runs}
    for p in ("kappa", "tightness"):
        for i in ("gaussian", "pytorch"):
            for s_ in range(3):
                assert (by[("gammatone", i, p, s_)]["kappa"][-1]
                        < by[("gammatone", i, "none", s_)]["kappa"][-1])
    # the smooth-sailing arm lowers its own objective (B - c)/c of the final weights below that
    # of the same draw trained without it, on both targets
    from rfbjax.regularizers import smooth_sailing_penalty

    def ss(r):
        return float(smooth_sailing_penalty(jnp.asarray(weights[r["name"]]), stride=1, N=32))

    for t in ("parseval", "gammatone"):
        for s_ in range(3):
            assert ss(by[(t, "gaussian", "smooth_sailing", s_)]) < ss(by[(t, "gaussian", "none",
                                                                           s_)])
    report = (out / "report.md").read_text()
    assert "What the data show" in report and "figures/study_parseval_s1.png" in report
    assert (out / "figures" / "study_gammatone_s1.png").is_file()
    # the same folder again: our own outputs are reused (replaced); same seed, same numbers
    from rfbjax.studies.training import outputs

    assert outputs.check_out_dir(str(out)) is True
    study = runner.run_study(runner.QUICK.replace(J=8, T=32, N=32, steps=60, seeds=3,
                                                  inits=("gaussian", "pytorch", "parseval")),
                             runner.load_sets(runner.QUICK.replace(N=32)))
    again = {r["name"]: r for r in study["runs"]}
    for r in runs:
        np.testing.assert_array_equal(again[r["name"]]["kappa"], np.asarray(r["kappa"], float))
        np.testing.assert_array_equal(again[r["name"]]["w"], weights[r["name"]][:, 0])
    assert not [n for n in os.listdir(out) if n.startswith(".tmp-")]
    # the files written are listed in the folder's manifest; a replacing run removes only those
    manifest = json.loads((out / ".rfbjax-manifest.json").read_text())
    assert {"report.md", "study.json", "final_weights.npz"} <= set(manifest["files"])
    assert doc["rfbjax"]["command"] == "train-study"
    (out / "figures" / "study_poster.png").write_bytes(b"mine")   # named like ours, not ours
    outputs.write_outputs(study, str(out))
    assert (out / "figures" / "study_poster.png").read_bytes() == b"mine"


def test_parseval_arm_skipped_where_no_parseval_layer_exists():
    # J = 1 filter of T > d taps: no FIR Parseval layer (no projector rank in 1..J-1); the
    # cell says why, the other arms run
    cfg = runner.SMALL.replace(J=1, T=8, N=8, steps=10, log_every=10, seeds=2,
                               targets=("gammatone",), inits=("gaussian", "parseval"),
                               penalties=("none",))
    study = runner.run_study(cfg, runner.load_sets(cfg))
    assert [r["init"] for r in study["runs"]] == ["gaussian", "gaussian"]
    (sk,) = study["skipped"]
    assert (sk["target"], sk["stride"], sk["init"]) == ("gammatone", 1, "parseval")
    assert "ranks" in sk["reason"] and "\n" not in sk["reason"]
    (fs,) = summary.findings(study)["settings"]
    assert fs["parseval"] == {"run": False, "reason": sk["reason"]}
    assert any("Parseval arm was not run" in x for x in fs["sentences"])


def test_cli_refuses(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    assert _cli(tmp_path, mine) == 2
    assert "did not write" in capsys.readouterr().err
    assert os.listdir(mine) == ["notes.txt"]
    assert _cli(tmp_path, tmp_path / "x", "--stride", "3") == 2
    assert "--stride" in capsys.readouterr().err
    assert _cli(tmp_path, tmp_path / "y", "--audio", str(tmp_path / "missing.wav")) == 2
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
