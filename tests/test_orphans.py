"""What a trial's command starts does not outlive the trial, its driver, or a SIGKILL of the driver."""

import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc (Linux)")

# A training script that starts a background process and a foreground one, and records both.
SCRIPT = r"""#!/bin/sh
mkdir -p "$AUTODEHYPO_TRIAL_DIR"
if [ -f "$AUTODEHYPO_TRIAL_DIR/pids" ]; then
    # A rerun: what the first attempt started must be gone by now.
    for pid in $(cat "$AUTODEHYPO_TRIAL_DIR/pids"); do
        stat=$(cat /proc/$pid/stat 2>/dev/null)  # "pid (sleep) state ...": no space in the name
        if [ "$(echo "$stat" | cut -d' ' -f3)" != Z ] && \
           [ "$(echo "$stat" | cut -d' ' -f22)" = "$(grep "^$pid " "$AUTODEHYPO_TRIAL_DIR/starts" | cut -d' ' -f2)" ]; then
            echo "$pid" >> "$AUTODEHYPO_TRIAL_DIR/alive_at_rerun"
        fi
    done
fi
sleep 300 &
echo "$! $(cut -d' ' -f22 /proc/$!/stat)" >> "$AUTODEHYPO_TRIAL_DIR/starts"
echo $! >> "$AUTODEHYPO_TRIAL_DIR/pids"
sh -c 'echo "$$ $(cut -d" " -f22 /proc/$$/stat)" >> "$AUTODEHYPO_TRIAL_DIR/starts"; echo $$ >> "$AUTODEHYPO_TRIAL_DIR/pids"; exec sleep "$ORPHAN_SLEEP"'
echo '{"objective": '"$1"'}'
"""

CONFIG = """
[study]
name = "orphans"
seed = 1
population = 4
[study.budget]
evaluations = 4
[space.x]
type = "float"
low = 0.0
high = 1.0
[objective]
type = "command"
command = "sh {script} {{x}}"
[executor]
workers = 2
"""


def start_time(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    return None if fields[0] in (b"Z", b"X") else int(fields[19])


def recorded(study, number):
    """(pid, start time) of each process trial ``number`` started, as it wrote them down."""
    path = study / "trials" / f"{number:06d}" / "starts"
    if not path.exists():
        return []
    return [tuple(map(int, line.split())) for line in path.read_text().splitlines() if line.strip()]


def alive(processes):
    return [pid for pid, start in processes if start_time(pid) == start]


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def setup(tmp_path, subprocess_env):
    script = tmp_path / "train.sh"
    script.write_text(SCRIPT)
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(script=script))
    return config, tmp_path / "s", subprocess_env


def driver(args, env, sleep):
    return subprocess.Popen([sys.executable, "-m", "autodehypo", *args], env={**env, "ORPHAN_SLEEP": sleep},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_sigkill_of_the_driver_then_resume_ends_the_grandchildren_first(setup):
    config, study, env = setup
    proc = driver(["run", str(config), "--dir", str(study)], env, "300")
    wait_for(lambda: len(recorded(study, 0)) == 2 and len(recorded(study, 1)) == 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = recorded(study, 0) + recorded(study, 1)
    time.sleep(0.5)  # the trial processes die with the driver; their children are not told
    assert len(alive(first)) == 4, "the test's premise: grandchildren outlive a SIGKILLed driver"

    resumed = driver(["resume", str(study)], env, "0.1")
    assert resumed.wait(timeout=120) == 0, resumed.stderr.read()
    for number in (0, 1):
        assert not (study / "trials" / f"{number:06d}" / "alive_at_rerun").exists(), \
            "the first attempt's processes were still running when the trial ran again"
    assert alive(first) == []
    # And what the finished trials started in the background ended with them.
    later = [p for n in range(4) for p in recorded(study, n)]
    assert len(later) == 4 * 2 + 4 and alive(later) == []
    status = subprocess.run([sys.executable, "-m", "autodehypo", "status", str(study)],
                            capture_output=True, text=True, env=env)
    assert "state:        finished" in status.stdout and "evaluations:  4 of 4" in status.stdout


def test_a_stopped_driver_ends_its_trials_whole_groups(setup):
    config, study, env = setup
    proc = driver(["run", str(config), "--dir", str(study)], env, "300")
    wait_for(lambda: len(recorded(study, 0)) == 2 and len(recorded(study, 1)) == 2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    assert alive(recorded(study, 0) + recorded(study, 1)) == []


def test_resume_spares_a_process_that_reuses_a_recorded_pid(tmp_path):
    """A recorded group whose leader pid now names a process started at another time is left alone."""
    from autodehypo.processes import end_group, group_members, process_start
    other = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        boot, ticks = process_start(other.pid).split()
        assert group_members(other.pid, f"{boot} {ticks}") == [other.pid]
        assert end_group(other.pid, f"{boot} {int(ticks) - 1}") == []  # "started earlier": not ours
        assert end_group(other.pid, f"another-boot {ticks}") == []
        assert other.poll() is None
        assert end_group(other.pid, f"{boot} {ticks}") == [other.pid]
        assert other.wait(timeout=10) == -signal.SIGKILL
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
