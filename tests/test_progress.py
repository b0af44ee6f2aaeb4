"""Live progress inside running trials: the progress file, the driver's snapshot, `run` and `status`."""

import subprocess
import sys
import time

from autodehypo import Study
from autodehypo.trial_progress import PROGRESS_FILE, read_live, read_progress, report_progress
from conftest import toy_config


def test_report_progress_appends_lines_and_reader_takes_the_last_whole_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AUTODEHYPO_TRIAL_DIR", str(tmp_path / "trial"))
    assert read_progress(tmp_path / "trial") is None
    report_progress(epoch=1, epochs=2, loss=0.5, val_error=0.25, images_per_s=812.4)
    report_progress(epoch=2, epochs=2, loss=0.25, val_error=float("inf"), name="x", steps=7)
    lines = (tmp_path / "trial" / PROGRESS_FILE).read_text().splitlines()
    assert len(lines) == 2
    last = read_progress(tmp_path / "trial")
    assert last["epoch"] == 2 and last["loss"] == 0.25 and last["name"] == "x" and last["steps"] == 7
    assert "val_error" not in last  # not a finite number: left out, not a failed trial
    assert last["cpu_s"] >= 0 and abs(last["time"] - time.time()) < 60
    # Each report is also a line in the trial's log (its stderr).
    assert capsys.readouterr().err.splitlines()[0] == "epoch 1/2  loss 0.5  val_error 0.25  812 img/s"
    # A writer caught mid-line: the reader keeps the last whole line.
    with open(tmp_path / "trial" / PROGRESS_FILE, "a") as f:
        f.write('{"epoch": 3, "lo')
    assert read_progress(tmp_path / "trial")["epoch"] == 2


def test_running_trials_show_their_epochs_in_run_and_status(tmp_path, subprocess_env):
    path = tmp_path / "c.toml"
    path.write_text('[study]\nseed = 1\npopulation = 4\n[study.budget]\nevaluations = 2\n'
                    '[space.x]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n'
                    '[objective]\ntype = "python"\nfunction = "toy_objectives:epochs_with_progress"\n'
                    '[executor]\nworkers = 2\n')
    env = {**subprocess_env, "TOY_EPOCH_SECONDS": "1.5"}
    run = subprocess.Popen([sys.executable, "-m", "autodehypo", "run", str(path), "--dir", str(tmp_path / "s")],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = ""
    deadline = time.monotonic() + 60
    while "epoch 1/3" not in seen and "epoch 2/3" not in seen:
        assert time.monotonic() < deadline and run.poll() is None, run.communicate()
        time.sleep(0.3)
        seen = subprocess.run([sys.executable, "-m", "autodehypo", "status", str(tmp_path / "s")],
                              capture_output=True, text=True, env=env).stdout
    assert "running:      2" in seen
    live = [line for line in seen.splitlines() if line.startswith("  trial ")]
    assert len(live) == 2 and all("(estimate from CPU time)" in line for line in live), seen
    assert "driver time:  0:00:00" not in seen
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    # Without a terminal, `run` logs each finished epoch of a running trial but its last.
    epoch_lines = [line for line in err.splitlines() if line.startswith("  trial ")]
    assert {line.split(":")[0] for line in epoch_lines} == {"  trial 0", "  trial 1"}
    assert all("epoch 3/3" not in line for line in epoch_lines)
    assert any("epoch 2/3  loss 0.5" in line for line in epoch_lines), err
    # The trial log has a line per epoch; the snapshot is gone once the study ends.
    log = (tmp_path / "s" / "trials" / "000000.log").read_text().splitlines()
    assert [line.split("  ")[0] for line in log] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert read_live(tmp_path / "s") is None


def test_progress_reaches_the_callback_while_a_trial_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("TOY_EPOCH_SECONDS", "1.5")  # the driver looks about once a second
    config = toy_config("toy_objectives:epochs_with_progress", evaluations=1, population=4, dims=1,
                        workers=1, space={"x": {"type": "float", "low": 0.0, "high": 1.0}})
    snapshots = []
    study = Study.create(tmp_path / "s", config)
    final = study.run(snapshots.append)
    study.close()
    live = [t for p in snapshots for t in p.live]
    epochs = sorted({t.report.get("epoch") for t in live if "epoch" in t.report})
    assert epochs[:2] == [1, 2]
    assert all(t.number == 0 and t.elapsed_s >= 0 for t in live)
    # Energy so far is an estimate from CPU time so far, and it grows while the trial runs.
    energies = [t.energy_j for t in live if t.energy_j is not None]
    assert energies and energies[-1] > energies[0] >= 0
    assert final.finished and not final.live


def test_terminal_bar_shows_running_epochs_and_energy_so_far(tmp_path):
    import io

    from autodehypo.cli import ProgressView
    from autodehypo.study import LiveTrial, Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    config = toy_config(evaluations=10, population=4)
    study = Study.create(tmp_path / "s", config)
    live = tuple(LiveTrial(n, 65.0, 4.0, 40.0, {"epoch": 2, "epochs": 3}) for n in (4, 5, 6))
    view = ProgressView(Terminal())
    view(Progress(generation=1, evaluations=4, failed=0, running=3, best_value=0.5, energy_j=100.0,
                  elapsed_s=70.0, config=study.config, energy_sources=("estimate",), live=live))
    study.close()
    line = view.stream.getvalue()
    assert "running 3 [#4 ep 2/3, #5 ep 2/3 +1]" in line
    assert "energy 100 J (estimate) +~120 J running" in line and "0:01:10" in line
