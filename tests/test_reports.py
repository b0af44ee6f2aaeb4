"""Tables, plots, the HTML page (rendered in a real headless Chromium), exports and the live view."""

import csv
import dataclasses
import io
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from autodehypo import Study
from autodehypo.cli import ProgressView
from autodehypo.reports import plots
from autodehypo.reports.data import load_study
from autodehypo.storage import Storage
from autodehypo.reports.html import render_html
from autodehypo.reports.tables import group_rows, render
from conftest import export_rows, toy_config


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """Two studies as in the paper (batch size fixed per study) and one searching the batch size."""
    root = tmp_path_factory.mktemp("studies")
    dirs = {}
    for bs in (32, 64):
        config = toy_config("toy_objectives:batch_quadratic", evaluations=16, population=8, seed=bs,
                            space={"x": {"type": "float", "low": 0.0, "high": 1.0}})
        config["objective"]["fixed"] = {"batch_size": bs}
        config["study"]["name"] = f"bs{bs}"
        Study.create(root / f"bs{bs}", config).run()
        dirs[bs] = root / f"bs{bs}"
    config = toy_config("toy_objectives:batch_quadratic", evaluations=30, population=10, seed=5,
                        algorithm="lshade",
                        space={"x": {"type": "float", "low": 0.0, "high": 1.0},
                               "batch_size": {"type": "categorical", "choices": [16, 32, 64]}})
    config["study"]["name"] = "searched"
    config["energy"] = {"grid_intensity": 400}
    Study.create(root / "searched", config).run()
    dirs["searched"] = root / "searched"
    return dirs


def test_group_by_a_searched_parameter_within_one_study(studies):
    study = load_study(studies["searched"])
    rows = group_rows([study], "batch_size")
    trials = export_rows(studies["searched"])
    assert [r.group for r in rows] == sorted({t["param_batch_size"] for t in trials}, key=int)
    for row in rows:
        mine = [t for t in trials if t["param_batch_size"] == row.group]
        assert row.trials == len(mine)
        assert row.best == min(float(t["value"]) for t in mine)
        assert row.energy_j == pytest.approx(sum(float(t["energy_j"]) for t in mine))
        assert row.wall_time_s is None  # a group is part of a study: no wall time of its own
    assert sum(r.trials for r in rows) == 30


def test_group_by_a_fixed_parameter_across_studies(studies):
    loaded = [load_study(studies[32]), load_study(studies[64])]
    rows = group_rows(loaded, "batch_size")
    assert [r.group for r in rows] == ["32", "64"]
    for row, study in zip(rows, loaded):
        assert row.wall_time_s == study.wall_time_s > 0
        assert row.best == min(t.value for t in study.trials)
        assert row.sources == "estimate"


def test_formats(studies):
    rows = group_rows([load_study(studies["searched"])], "batch_size")
    md = render(rows, "md", "batch_size")
    assert md.splitlines()[0].startswith("| batch_size | best | wall time |") and len(md.splitlines()) == 2 + len(rows)
    parsed = list(csv.DictReader(io.StringIO(render(rows, "csv", "batch_size"))))
    assert [float(p["best"]) for p in parsed] == [r.best for r in rows]
    latex = render(rows, "latex", "batch_size")
    assert r"batch\_size" in latex and r"\toprule" in latex and latex.count(r"\\") == len(rows) + 1
    assert render(rows, "html", "batch_size").startswith('<table class="results">')
    text = render(rows, "text", "batch_size")
    assert "energy (J)" in text or "energy (kJ)" in text


def test_cli_report_over_several_studies(studies, tmp_path):
    out = tmp_path / "table.md"
    run = subprocess.run([sys.executable, "-m", "autodehypo", "report", str(studies[32]), str(studies[64]),
                          "--group-by", "batch_size", "--format", "md", "-o", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "| 32 |" in out.read_text() and "| 64 |" in out.read_text()
    bad = subprocess.run([sys.executable, "-m", "autodehypo", "report", str(studies[32]), "--group-by", "lr"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "no parameter 'lr'" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_pareto_front():
    points = [(1.0, 5.0), (2.0, 3.0), (3.0, 4.0), (4.0, 1.0), (2.5, 3.0), (0.5, 9.0)]
    assert sorted(plots.pareto_front(points)) == [0, 1, 3, 5]


@pytest.mark.parametrize("kind, extra, suffix", [("convergence", [], ".png"), ("convergence", ["--x", "energy"], ".svg"),
                                                 ("pareto", [], ".png"), ("adaptation", [], ".png"),
                                                 ("energy", ["--by", "batch_size"], ".png")])
def test_cli_plots(studies, tmp_path, kind, extra, suffix):
    out = tmp_path / f"plot{suffix}"
    run = subprocess.run([sys.executable, "-m", "autodehypo", "plot", str(studies["searched"]), str(studies[32]),
                          "--kind", kind, *extra, "-o", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    if suffix == ".png":
        import matplotlib.image
        image = matplotlib.image.imread(out)
        assert image.shape[0] > 300 and image.shape[1] > 500
        assert np.unique(image.reshape(-1, image.shape[2]), axis=0).shape[0] > 20  # not blank
    else:
        assert out.read_text().lstrip().startswith("<?xml") and "<svg" in out.read_text()


def test_seeds_are_summarised_by_median_and_quartiles(studies):
    fig = plots.convergence([load_study(studies[32]), load_study(studies[64])])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["de (median of 2)"]
    assert len(fig.axes[0].collections) == 1  # the quartile band


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI"):
        pytest.fail("Chromium is needed for the HTML report test (.ci/run installs Debian's chromium)")
    pytest.skip("Chromium not installed (apt-get install chromium)")


def test_html_report_renders_in_headless_chromium(studies, tmp_path):
    browser = _chromium()
    page = tmp_path / "report.html"
    page.write_text(render_html([load_study(studies["searched"])], "batch_size"))
    assert "http" not in page.read_text().split("<body>")[1].replace("http-equiv", "")  # self-contained
    shot = tmp_path / "shot.png"
    run = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                          "--no-first-run", "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,3000",
                          f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.exists(), run.stderr
    import matplotlib.image
    pixels = (matplotlib.image.imread(shot)[:, :, :3] * 255).astype(int)
    # The embedded plots were decoded and drawn: matplotlib's blue lines and the red Pareto front.
    blue = np.all(np.abs(pixels - [31, 119, 180]) < 12, axis=2).sum()
    red = np.all(np.abs(pixels - [214, 39, 40]) < 12, axis=2).sum()
    assert blue > 500 and red > 100, (blue, red)
    # The table's header band is drawn (#f0f3f7 cells) near the top of the page.
    header = np.all(np.abs(pixels[:600] - [240, 243, 247]) < 3, axis=2).sum()
    assert header > 2000


def test_status_and_report_show_co2_and_sources(studies):
    run = subprocess.run([sys.executable, "-m", "autodehypo", "report", str(studies["searched"])],
                         capture_output=True, text=True)
    assert "g CO2e" in run.stdout and "estimate" in run.stdout


def test_parquet_export_round_trip(studies, tmp_path):
    import pandas as pd
    out = tmp_path / "t.parquet"
    run = subprocess.run([sys.executable, "-m", "autodehypo", "export", str(studies["searched"]),
                          "--format", "parquet", "-o", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    frame = pd.read_parquet(out)
    rows = export_rows(studies["searched"])
    assert len(frame) == len(rows) == 30
    assert frame["value"].tolist() == pytest.approx([float(r["value"]) for r in rows])
    assert frame["param_batch_size"].tolist() == [int(r["param_batch_size"]) for r in rows]
    no_file = subprocess.run([sys.executable, "-m", "autodehypo", "export", str(studies["searched"]),
                              "--format", "parquet"], capture_output=True, text=True)
    assert no_file.returncode == 2 and "-o FILE" in no_file.stderr


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_live_view_bar_on_a_terminal_lines_otherwise(tmp_path):
    tty, log = _Tty(), io.StringIO()
    views = [ProgressView(tty), ProgressView(log)]

    def both(p):
        for v in views:
            v(p)
    Study.create(tmp_path / "s", toy_config(evaluations=20, population=5)).run(both)
    screen = tty.getvalue()
    assert "\r\x1b[K[" in screen and "ETA" in screen and "evals 20/20" in screen
    assert "[########################]" in screen  # full at the end
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 5  # one per generation + the final line


class _Crash(Exception):
    pass


def test_reports_show_the_environment_each_run_session_recorded(tmp_path, subprocess_env):
    directory = tmp_path / "s"

    def crash_after_first_trials(p):
        if p.evaluations >= 4 and not p.finished:
            raise _Crash()
    with pytest.raises(_Crash):
        Study.create(directory, toy_config(evaluations=12, population=4)).run(crash_after_first_trials)
    resumed = Study.open(directory)
    resumed.run()
    environments = resumed.storage.meta("environments")
    assert len(environments) == 2  # the first run and the resumed one
    assert all(env["python"] == platform.python_version() and env["host"] == socket.gethostname()
               for env in environments)
    # The first session ran with another numpy than the one making the report.
    environments[0]["packages"]["numpy"] = "0.0.1+when-it-ran"
    resumed.storage.set_meta(environments=environments)
    resumed.close()
    page = render_html([load_study(directory)], None).split("<h2>Environment</h2>")[1]
    assert "run session 1</th><th>run session 2</th>" in page
    assert "numpy 0.0.1+when-it-ran" in page and f"numpy {np.__version__}" in page
    text = subprocess.run([sys.executable, "-m", "autodehypo", "report", str(directory)], env=subprocess_env,
                          capture_output=True, text=True).stdout
    assert "environment:  as recorded by the driver, run session 1" in text and "0.0.1+when-it-ran" in text
    # A study from before environments were recorded says so instead of showing today's.
    with sqlite3.connect(directory / "study.db") as db:
        db.execute("DELETE FROM meta WHERE key = 'environments'")
    db.close()
    page = render_html([load_study(directory)], None).split("<h2>Environment</h2>")[1]
    assert "not recorded (study made by an older autodehypo)" in page and "numpy" not in page
    text = subprocess.run([sys.executable, "-m", "autodehypo", "report", str(directory)], env=subprocess_env,
                          capture_output=True, text=True).stdout
    assert "environment:  not recorded (study made by an older autodehypo)" in text


def _texts(fig):
    """Every text drawn in the figure, wrapped lines joined again."""
    texts = [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]
    return " | ".join(" ".join(t.split()) for t in texts)


def test_axes_name_the_objective_its_direction_and_the_energy_source(tmp_path):
    config = toy_config("toy_objectives:slow_sphere", evaluations=8, population=4,
                        extra_study={"direction": "maximize"})
    config["objective"]["key"] = "x_sum"
    Study.create(tmp_path / "s", config).run()
    study = load_study(tmp_path / "s")
    ax = plots.convergence([study], "evaluations").axes[0]
    assert ax.get_ylabel() == "best x_sum (maximize) so far" and ax.get_xlabel() == "evaluations"
    assert plots.convergence([study], "energy").axes[0].get_xlabel() == "cumulative energy (J, estimate)"
    ax = plots.pareto([study]).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("energy per trial (J, estimate)", "x_sum (maximize)")
    assert plots.energy_by([study], "x0").axes[0].get_ylabel() == "energy per trial (J, estimate)"
    # The built-in objectives return a validation error under the default key.
    vision = dataclasses.replace(study, config={**study.config, "objective": {"type": "vision"},
                                                "study": {"direction": "minimize"}})
    assert plots.value_label([vision]) == "validation error (minimize)"
    assert plots.value_label([study, vision]) == "x_sum (maximize) / validation error (minimize)"
    plt = plots._pyplot()
    plt.close("all")


@pytest.fixture(scope="module")
def unfinished(tmp_path_factory):
    """A study created but not run, and one whose every trial failed."""
    root = tmp_path_factory.mktemp("unfinished")
    Study.create(root / "new", toy_config(evaluations=8, population=4)).close()
    config = toy_config("toy_objectives:misbehave", evaluations=8, population=4,
                        space={"mode": {"type": "categorical", "choices": ["raise"]}})
    Study.create(root / "failed", config).run()
    return {"new": load_study(root / "new"), "failed": load_study(root / "failed")}


@pytest.mark.parametrize("which, kind, message", [
    ("new", "convergence", "no completed trial yet"), ("new", "pareto", "no completed trial yet"),
    ("new", "energy", "no completed trial yet"), ("new", "adaptation", "no generation completed yet"),
    ("failed", "convergence", "no completed trial yet"), ("failed", "pareto", "no completed trial yet"),
])
def test_plots_without_a_completed_trial_say_so_without_warnings(unfinished, tmp_path, which, kind, message):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plots.make(kind, [unfinished[which]], by="x0" if which == "new" else "mode")
        assert message in _texts(fig)
        plots.save(fig, tmp_path / "p.png")
        render_html([unfinished[which]], None)


def stored_summaries(directory):
    storage = Storage.open(directory, readonly=True)
    try:
        return [c["summary"] for c in storage.iter_checkpoints()]
    finally:
        storage.close()


def test_adaptation_shows_what_each_algorithm_adapts(studies, tmp_path):
    jde = toy_config(evaluations=30, population=5, algorithm="jde",
                     extra_study={"options": {"tau1": 0.5, "tau2": 0.5}})
    Study.create(tmp_path / "jde", jde).run()
    dither = toy_config(evaluations=12, population=4, extra_study={"options": {"dither": [0.5, 1.0]}})
    dither["study"]["name"] = "dithered"
    Study.create(tmp_path / "dither", dither).run()
    jde, lshade = load_study(tmp_path / "jde"), load_study(studies["searched"])

    fig = plots.adaptation([load_study(studies[32])])  # classic DE: nothing to draw, and it says so
    assert len(fig.axes) == 1 and not fig.axes[0].lines
    assert "bs32: de adapts nothing: F = 0.5, CR = 0.9, population 8, all fixed" in _texts(fig)

    fig = plots.adaptation([jde, lshade, load_study(tmp_path / "dither")])
    ax_pop, ax_mem = fig.axes
    sizes = {line.get_label(): list(line.get_ydata()) for line in ax_pop.lines}
    assert sizes["toy"] == [5] * len(jde.checkpoints)
    # The plot draws the summaries each search stored of itself, generation by generation.
    jde_summaries, lshade_summaries = stored_summaries(tmp_path / "jde"), stored_summaries(studies["searched"])
    assert sizes["searched"] == [s["population"] for s in lshade_summaries]
    # L-SHADE shrinks its population of 10 after each generation but the first (as Tanabe's code)
    assert sizes["searched"][-1] < sizes["searched"][0] == 10
    means = {line.get_label(): list(line.get_ydata()) for line in ax_mem.lines}
    jde_F = [s["F"] for s in jde_summaries]
    assert means["toy F (population mean)"] == pytest.approx(jde_F) and len(set(jde_F)) > 1
    assert means["searched CR (memory mean)"] == pytest.approx([s["CR"] for s in lshade_summaries])
    assert ("dithered: de adapts nothing: F is drawn from [0.5, 1] each generation (dither; the draws "
            "are not checkpointed), CR = 0.9") in _texts(fig)
    plots._pyplot().close("all")


@pytest.fixture(scope="module")
def study_kinds(tmp_path_factory):
    """One small finished study of each kind the study loop runs."""
    base = tmp_path_factory.mktemp("kinds")
    one = toy_config(evaluations=16, population=4, algorithm="jde")
    asynchronous = toy_config(evaluations=16, population=4, algorithm="shade",
                              extra_study={"schedule": "async"})
    several = toy_config("toy_objectives:zdt1", evaluations=16, population=4, algorithm="gde3-shade", dims=3,
                         extra_study={"objectives": [{"name": "objective"}, {"name": "f2"}]})
    fidelity = toy_config("toy_objectives:fidelity_sphere", evaluations=3, algorithm="jde")
    fidelity["study"]["fidelity"] = {"param": "epochs", "min": 1, "max": 9, "eta": 3}
    del fidelity["study"]["population"]
    kinds = {}
    for name, config in (("one", one), ("async", asynchronous), ("several", several), ("fidelity", fidelity)):
        config["study"]["name"] = name
        Study.create(base / name, config).run()
        kinds[name] = base / name
    return kinds


@pytest.mark.parametrize("kind", ["one", "async", "several", "fidelity"])
def test_every_report_and_plot_works_for_every_kind_of_study(study_kinds, tmp_path, capsys, kind):
    """Each report format and plot kind gives its output, or one line saying why it does not
    apply (a multi-fidelity study's report and adaptation plot failed with a KeyError before)."""
    from autodehypo.cli import main
    study = str(study_kinds[kind])
    for fmt in ("text", "md", "csv", "latex", "html"):
        out = tmp_path / f"r.{fmt}"
        assert main(["report", study, "--format", fmt, "-o", str(out)]) == 0, capsys.readouterr().err
        assert out.stat().st_size > 0
    for plot in plots.KINDS:
        out = tmp_path / f"{plot}.png"
        code = main(["plot", study, "--kind", plot, "--by", "x0", "-o", str(out)])
        err = capsys.readouterr().err
        if plot == "hypervolume" and kind != "several":
            assert code == 2 and "only studies of several objectives" in err and len(err.splitlines()) == 1, err
        else:
            assert code == 0 and out.stat().st_size > 0, (plot, err)
    from autodehypo.reports.dashboard import Dashboard
    dashboard = Dashboard([study_kinds[kind]], group_by="x0")
    assert "Results by x0" in dashboard.page() and "no trial running" in dashboard.live_html()
    assert dashboard.live()[0]["state"] == "finished" and dashboard.live()[0]["evaluations"] > 0
    summaries = [c["summary"] for c in load_study(study).checkpoints]
    assert summaries and all(s["population"] >= 4 for s in summaries)
    assert all(s["adapts"] and s["F"] is not None and s["averaged"] for s in summaries[1:])
    if kind == "fidelity":
        assert summaries[-1]["scope"] == "jde at fidelity 9, the highest of 3"


def test_search_label_names_the_redraws_and_pruning_of_several_objectives():
    from autodehypo.reports.data import search_label
    study = {"algorithm": "gde3-shade", "objectives": [{"name": "error"}, {"name": "energy"}],
             "options": {"prescreen": 32, "redraws": 8}}
    assert search_label({"study": study}, 8) == "gde3-shade, prescreen 32 (8 redrawn)"
    study["options"]["redraw_below"] = 0.01
    assert search_label({"study": study}, 8) == "gde3-shade, prescreen 32 (8 redrawn where spread < 0.01)"
    study["options"]["pruning"] = "hypervolume"
    assert search_label({"study": study}, 8) == \
        "gde3-shade pruned by hypervolume, prescreen 32 (8 redrawn where spread < 0.01)"
