"""Figure content, checked on the matplotlib objects (`figure_checks.figure_problems`): κ written
as κ, titles that fit, every curve inside its axes and in a legend, every swept value drawn or
named. The paper's figures are checked in test_reproduce.py (on its quick run)."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from figure_checks import figure_problems, legend_texts
from rfbjax.report.plots import attack as attack_plots
from rfbjax.report.plots import audit as audit_plots
from rfbjax.report.plots import study as study_plots
from rfbjax.report.plots import sweep as sweep_plots
from rfbjax.report.plots.common import pyplot
from rfbjax.studies.scaling import scaling_law
from rfbjax.studies.sweep import SweepData

RNG = np.random.default_rng(27)


def _close(fig):
    pyplot().close(fig)


# ----------------------------------------------------------------------------- the checker
def test_the_checker_finds_what_a_reader_trips_on():
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(3, 2.5))
    ax.plot([1, 2], [1, 2], label="E[kappa]")
    ax.plot([1, 2], [2, 1], color="C5")                     # unlabelled, explained by nothing
    ax.fill_between([1, 2], [0, 0], [1, 1], color="C1", alpha=0.3)
    ax.axhline(0.5, color="k")
    ax.set_ylim(0.8, 2.2)                                    # the band and the line leave it
    ax.set_title("a title far too long to fit in three inches of figure width")
    ax.legend()
    found = " | ".join(figure_problems(fig))
    for what in ("'kappa' in a text", "title wraps", "band", "leaves the axes",
                 "is in no legend"):
        assert what in found, what
    _close(fig)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([1, 2], [1, 2], color="C0", label="J = 4")
    ax.plot([1, 2], [1.5, 2.5], color="C0", ls=":")          # colour and dash both in the legend
    ax.plot([], [], "k:", label="predictor")
    ax.axhline(1.2, color="0.5", label="reference")
    ax.set_title("short")
    ax.legend()
    assert figure_problems(fig) == []
    _close(fig)


# ----------------------------------------------------------------------------- sweep
def _sweep(Js, Ts, *, missing=(), infinite=()):
    """A sweep of synthetic draws (E[κ] falls with J and grows with T) with some cells left out
    and some whose mean κ is infinite (as the sweep's summary records it: null)."""
    samples, summaries = {}, []
    for J in Js:
        for T in Ts:
            if (J, T) in missing:
                continue
            k = 1.0 + 6.0 * math.sqrt(math.log(T) / J)
            A = np.clip(1.0 / math.sqrt(k) * (1 + 0.05 * RNG.standard_normal(64)), 1e-3, None)
            B = math.sqrt(k) * (1 + 0.05 * RNG.standard_normal(64))
            if (J, T) in infinite:
                A[0] = 0.0
            samples[(J, T)] = (A, B)
            mean = None if (J, T) in infinite else float(np.mean(B / A))
            summaries.append({"J": J, "T": T, "mean_kappa": mean})
    config = {"J": list(Js), "T": list(Ts), "N": "4T", "boundary": "circular", "stride": 1,
              "init": "gaussian"}
    return SweepData(config, samples, summaries), samples


def test_sweep_figures_draw_or_name_every_swept_value():
    Js, Ts = [4, 8, 16, 32, 64, 128, 256, 512], [8, 16, 32, 64]
    data, samples = _sweep(Js, Ts, missing={(512, 64)}, infinite={(4, 64)})
    full = {c: v for c, v in samples.items() if c[0] not in (4, 512)}
    laws = scaling_law(full, [2.0, 3.0], n_boot=4, seed=0)
    fig = sweep_plots.curves_figure(data)
    assert figure_problems(fig) == []
    drawn = {int(t.split(":")[0][4:]) for t in legend_texts(fig) if t.endswith(": Monte Carlo")}
    assert len(drawn) == sweep_plots.MAX_CURVES and {4, 512} <= drawn
    note = next(t for t in legend_texts(fig) if t.startswith("not drawn: J = "))
    named = {int(v) for v in note.split(" (")[0][len("not drawn: J = "):].split(", ")}
    assert drawn | named == set(Js) and not drawn & named
    texts = " ".join(legend_texts(fig))
    assert "gaps: cells not computed yet" in texts and "J = 4, T = 64" in texts
    _close(fig)

    fig = sweep_plots.heatmap_figure(data, laws)
    assert figure_problems(fig) == []
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(J) for J in Js]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(T) for T in Ts]
    texts = legend_texts(fig)
    assert "not computed yet" in texts and any(t.startswith("E[κ] = ∞") for t in texts)
    assert {"J* = a + b log T", "J* = c T^γ"} <= set(texts)
    assert any(t.startswith("E[κ] = κ₀") for t in texts)      # the white contours
    _close(fig)


def test_sweep_curves_without_theory_say_why():
    data, _ = _sweep([4, 8], [8, 16])
    data.config["stride"] = 2
    fig = sweep_plots.curves_figure(data)
    assert figure_problems(fig) == []
    texts = legend_texts(fig)
    assert not any("predictor" in t for t in texts[:-1])
    assert any(t.startswith("no predictor or κ̃") for t in texts)
    _close(fig)


# ----------------------------------------------------------------------------- audit
@pytest.mark.parametrize("shape,d", [((6, 1, 8), 1), ((6, 1, 8), 2), ((6, 3, 5), 1),
                                     ((6, 10, 3), 2)])
def test_audit_figure(shape, d):
    from rfbjax.models.audits import audit

    res = audit(RNG.standard_normal(shape), stride=d, N=32, draws=0)
    fig = audit_plots.audit_figure(res)
    assert figure_problems(fig) == []
    texts = legend_texts(fig)
    if d > 1 or shape[1] > 1:
        assert "range of all eigenvalues" in texts
    if shape[1] > 8:
        assert f"min–max over {shape[1]} channels" in texts
    _close(fig)


def test_model_figure(tmp_path):
    from rfbjax.models.audits import audit

    np.savez(tmp_path / "m.npz", **{"frontend.conv1.weight": RNG.standard_normal((10, 1, 9)),
                                    "frontend.conv2.weight": RNG.standard_normal((4, 10, 3))})
    model = audit(tmp_path / "m.npz", stride={"frontend.conv1.weight": 2}, N=32, draws=0)
    fig = audit_plots.model_figure(model)
    assert figure_problems(fig) == []
    titles = [ax.get_title() for ax in fig.axes if ax.axison]
    assert titles[0].startswith("frontend.conv1.weight\nJ×C×T = 10×1×9, stride 2, κ = ")
    _close(fig)


# ----------------------------------------------------------------------------- attack
def _attack_result(restarts=5, steps=30, N=128):
    from rfbjax.studies.attack.driver import AttackResult

    x = RNG.standard_normal(N)
    x /= np.linalg.norm(x)
    H = np.cumsum(np.abs(RNG.standard_normal((steps + 1, restarts))), axis=0) / steps
    stops = np.array([steps - 3 * r for r in range(restarts)])
    best = int(np.argmax(H[stops, np.arange(restarts)]))
    return AttackResult("fixed", True, x, float(H[stops[best], best]), H[stops, np.arange(restarts)],
                        H, stops, steps, best, {"value": float(H.max()) * 1.1, "kind": "upper_bound"},
                        0.0, 0.0, restarts, x0_value=float(H[0, 0]))


def test_attack_figure_names_its_shading():
    res = _attack_result()
    allowed = np.ones(65, dtype=bool)
    allowed[:5] = allowed[40:] = False
    fig = attack_plots.attack_figure(res, allowed=allowed, x0=res.x * 0.9, T=8,
                                     power=1 + 0.5 * np.cos(np.arange(65) / 9))
    assert figure_problems(fig) == []
    texts = legend_texts(fig)
    assert "forbidden bins" in texts and "the other 4 restarts" in texts
    assert "red" not in " ".join(t.get_text() for t in fig.findobj(
        __import__("matplotlib").text.Text))
    _close(fig)


# ----------------------------------------------------------------------------- training study
def test_study_figure():
    cfg = SimpleNamespace(penalties=("kappa", "none", "smooth_sailing"),
                          inits=("gaussian", "pytorch", "parseval"), J=4, T=8, N=16, seeds=3,
                          beta={"kappa": 0.01, "smooth_sailing": 0.01}, strides=(1,),
                          targets=("parseval",))
    step = np.arange(0, 41, 10)
    # the Parseval arm runs under penalty none only (not the first column)
    runs = [{"target": "parseval", "stride": 1, "init": i, "penalty": p, "step": step,
             "val_loss": np.exp(-step / 20) * (1 + 0.1 * s), "loss": np.exp(-step / 18),
             "kappa": 5 * np.exp(-step / 30) + 1 + 0.1 * s}
            for i in cfg.inits for p in cfg.penalties for s in range(cfg.seeds)
            if i != "parseval" or p == "none"]
    results = {"config": cfg, "runs": runs,
               "targets": [{"name": "parseval", "stride": 1, "kappa": 1.0}]}
    fig = study_plots.study_figure(results, "parseval", 1)
    assert figure_problems(fig) == []
    texts = legend_texts(fig)
    assert "band: range over 3 seeds" in texts
    assert {"parseval (held-out)", "parseval", "pytorch"} <= set(texts)
    assert [ax.get_title() for ax in fig.axes[:3]] == [
        "penalty: κ, β = 0.01", "penalty: none", "penalty: smooth sailing (B − c)/c, β = 0.01"]
    _close(fig)


def test_scaling_law_figures_through_the_cli(tmp_path):
    from rfbjax.cli import main

    d = tmp_path / "sw"
    assert main(["sweep", "--J", "4,8", "--T", "8,16", "--samples", "20", "--out", str(d),
                 "--quiet"]) == 0
    assert main(["scaling-law", str(d), "--kappa", "3", "--bootstrap", "0", "--figures",
                 "--quiet"]) == 0
    assert (d / "kappa_heatmap.png").stat().st_size > 1000
    assert (d / "kappa_vs_T.png").stat().st_size > 1000
