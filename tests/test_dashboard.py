"""The live dashboard, in a real browser (Debian's chromium, headless) against a study being
written by a real driver, and read back as JSON."""

import json
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from test_reports import _chromium

pytestmark = pytest.mark.slow  # a study of a few seconds per trial, followed while it runs

STUDY = """
[study]
name = "followed"
algorithm = "de"
seed = 2
population = 4
[study.budget]
evaluations = 4
[space.x]
type = "float"
low = 0.0
high = 1.0
[space.batch_size]
type = "int"
low = 16
high = 64
[objective]
type = "python"
function = "toy_objectives:epochs_with_progress"
[executor]
workers = 4
"""


def _dom(browser, url, profile):
    """The page as the browser has it after its script ran a few refreshes."""
    run = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={profile}", "--virtual-time-budget=4000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    assert "<html" in run.stdout, run.stderr
    return run.stdout


def _wait_for(condition, timeout=120.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_the_dashboard_follows_a_study_while_it_runs(tmp_path, subprocess_env):
    browser = _chromium()
    config, directory = tmp_path / "c.toml", tmp_path / "s"
    config.write_text(STUDY)
    # One round of four trials, each held after its first epoch's report until the browser has
    # looked: on a loaded machine a trial of fixed length may end before the browser starts.
    gate = tmp_path / "go-on"
    subprocess_env.update(TOY_EPOCH_SECONDS="0.3", TOY_HOLD_UNTIL=str(gate))
    driver = subprocess.Popen([sys.executable, "-m", "autodehypo", "run", str(config), "--dir", str(directory)],
                              env=subprocess_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: (directory / "live.json").exists()
              and "epoch" in (directory / "live.json").read_text())
    # Its stderr goes to a file: a pipe nobody reads fills up and blocks the server's exit.
    errors = tmp_path / "dashboard.err"
    dashboard = subprocess.Popen([sys.executable, "-m", "autodehypo", "dashboard", str(directory), "--port", "0",
                                  "--refresh", "1", "--group-by", "batch_size"],
                                 env=subprocess_env, stdout=subprocess.PIPE, stderr=errors.open("w"), text=True)
    try:
        line = dashboard.stdout.readline()
        assert line.startswith("autodehypo dashboard: http://127.0.0.1:"), line + errors.read_text()
        url = line.split()[2]
        page = _dom(browser, url, tmp_path / "profile")
        assert '<table id="running">' in page and "epoch 1/3" in page  # the trials' last reports
        assert 'id="updated">now<' not in page  # the page's script refreshed it from the server
        assert "Results by batch_size" in page
        gate.touch()
        assert driver.wait(timeout=180) == 0, driver.stderr.read()
        # The finished study, as the same page shows it on its next refresh.
        page = _dom(browser, url, tmp_path / "profile")
        assert "no trial running" in page and "Best configuration" in page and "4 / 4" in page
        live = json.loads(urllib.request.urlopen(url + "live.json", timeout=30).read())
        assert live[0]["state"] == "finished" and live[0]["evaluations"] == 4 and live[0]["running"] == []
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url + "study.db", timeout=30)  # it serves its pages, not the files
    finally:
        gate.touch()
        dashboard.send_signal(signal.SIGINT)
        try:
            assert dashboard.wait(timeout=30) == 0, errors.read_text()[-3000:]
        finally:
            dashboard.kill()
            if driver.poll() is None:
                driver.kill()
    assert "Traceback" not in errors.read_text()  # every request answered, none ended in a traceback


def test_dashboard_refuses_what_it_cannot_serve_in_one_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "autodehypo", "dashboard", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 3 and len(run.stderr.strip().splitlines()) == 1, run.stderr
    run = subprocess.run([sys.executable, "-m", "autodehypo", "dashboard", str(tmp_path), "--port", "70000"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--port" in run.stderr
