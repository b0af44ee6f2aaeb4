"""The Slurm executor and the driver as a batch job, on a real single-node Slurm with accounting.

scripts/slurm-local.sh starts it (slurmctld, slurmd, slurmdbd on MariaDB, munge; .ci/run does this);
its pm_counters energy mode gives real, non-zero ConsumedEnergy through Slurm's own plugin.
"""

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import toy_objectives
from autodehypo import Study
from autodehypo.execution.slurm import SlurmExecutor
from autodehypo.objectives import CommandObjective
from conftest import export_rows, toy_config

pytestmark = pytest.mark.slow  # real jobs through a real scheduler

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "slurm-local.sh"
PM_COUNTERS = Path("/var/lib/slurm/pm_counters/energy")


@pytest.fixture(scope="module", autouse=True)
def slurm():
    # Trial jobs import the toy objectives: sbatch passes the environment on to them.
    os.environ["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), str(ROOT / "src")]
                                               + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    if shutil.which("sinfo") and subprocess.run(["bash", str(SCRIPT), "status"],
                                                capture_output=True).returncode == 0:
        return
    # Installing packages and starting six daemons is the caller's decision, never a side effect
    # of running the tests: .ci/run starts Slurm itself; AUTODEHYPO_START_SLURM=1 asks the tests to.
    if os.environ.get("AUTODEHYPO_START_SLURM") == "1" and os.geteuid() == 0:
        start = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=600)
        if start.returncode == 0:
            return
        message = f"could not start the local Slurm: {start.stderr.strip()[-500:]}"
    else:
        message = ("the local Slurm is not running; start it with: sudo scripts/slurm-local.sh start "
                   "(or run the tests as root with AUTODEHYPO_START_SLURM=1)")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def collect(executor, timeout=240):
    results, deadline = {}, time.monotonic() + timeout
    while executor.running:
        assert time.monotonic() < deadline, f"jobs still running: {executor.running}"
        results.update(executor.wait(timeout=1.0))
    return results


def test_study_of_two_generations_through_job_arrays(tmp_path):
    config = toy_config("toy_objectives:slow_sphere", evaluations=8, population=4)
    config["executor"] = {"type": "slurm", "time": "5m", "poll_interval": 1}
    final = Study.create(tmp_path / "s", config).run()
    assert final.evaluations == 8 and final.failed == 0
    table = export_rows(tmp_path / "s")
    arrays = {}
    for r in table:
        array, _, task = r["job_id"].partition("_")
        arrays.setdefault(r["generation"], set()).add(array)
        assert task == r["idx"]
        assert r["host"] and float(r["elapsed_s"]) >= 0
    assert len(arrays) == 2 and all(len(a) == 1 for a in arrays.values())  # one array per generation
    assert arrays["0"] != arrays["1"]
    import json
    for r in table:
        readings = {x["source"]: x for x in json.loads(r["energy_detail"])["readings"]}
        slurm = readings["slurm"]
        assert slurm["detail"]["sacct"][0].startswith(r["job_id"] + "|")  # the raw line is kept
        assert slurm["detail"]["partition"] == "debug"


def test_async_study_keeps_its_workers_of_jobs_busy(tmp_path):
    """A freed slot gets a new job at once; never more trial jobs than executor.workers."""
    config = toy_config("toy_objectives:slow_sphere", evaluations=10, population=4,
                        extra_study={"schedule": "async"})
    config["executor"] = {"type": "slurm", "time": "5m", "poll_interval": 1, "workers": 3}
    final = Study.create(tmp_path / "s", config).run()
    assert final.evaluations == 10 and final.failed == 0
    table = export_rows(tmp_path / "s")
    starts = sorted(float(r["started_at"]) for r in table)
    ends = sorted(float(r["ended_at"]) for r in table)
    for t in starts:  # jobs submitted and not yet collected when each one started
        assert sum(s <= t for s in starts) - sum(e <= t for e in ends) <= 3
    assert sorted(int(r["told_seq"]) for r in table) == list(range(10))
    assert len({r["job_id"].partition("_")[0] for r in table}) > 3  # not one array per generation


def test_promoted_jobs_continue_from_the_checkpoint_in_the_study_directory(tmp_path):
    config = toy_config("toy_objectives:fidelity_sphere", evaluations=2, seed=6)
    del config["study"]["population"]
    config["study"]["algorithm"] = "jde"
    config["study"]["fidelity"] = {"param": "epochs", "min": 1, "max": 9, "eta": 3}
    config["executor"] = {"type": "slurm", "time": "5m", "poll_interval": 1}
    Study.create(tmp_path / "s", config).run()
    table = export_rows(tmp_path / "s")
    promoted = [r for r in table if r["continues"]]
    assert promoted and all(r["status"] == "complete" for r in table)
    by_number = {r["number"]: r for r in table}
    for r in promoted:  # the job read the lower trial's directory through the shared study folder
        assert float(r["metric_continued_from"]) == float(by_number[r["continues"]]["fidelity"])


def test_sacct_is_called_once_per_poll_for_all_jobs(tmp_path):
    executor = SlurmExecutor(toy_objectives.sphere, folder=tmp_path, poll_interval=1.0, time_min=5)
    executor.submit_many([(i, {"x0": i / 10}, None, None) for i in range(4)])
    polls = 0
    deadline = time.monotonic() + 240
    while executor.running:
        assert time.monotonic() < deadline
        executor.wait(timeout=2.0)
        polls += 1
    assert 0 < executor.sacct_calls <= polls


def test_failed_trials_carry_their_reason(tmp_path):
    executor = SlurmExecutor(toy_objectives.misbehave, folder=tmp_path, poll_interval=1.0, time_min=5,
                             retry={})
    modes = ["ok", "raise", "nan", "segfault"]
    executor.submit_many([(m, {"mode": m}, None, None) for m in modes])
    results = collect(executor)
    assert results["ok"].ok and results["ok"].value == 1.0
    assert results["raise"].error == "RuntimeError: boom"
    assert results["nan"].error == "objective returned nan"
    assert not results["segfault"].ok
    assert results["segfault"].error.startswith("Slurm job ") and " ended FAILED" in results["segfault"].error
    assert Path(results["segfault"].error.split("see ")[1]).is_file()  # the job's stderr, named


def test_retry_policy_resubmits_the_configured_states(tmp_path):
    executor = SlurmExecutor(toy_objectives.misbehave, folder=tmp_path, poll_interval=1.0, time_min=5,
                             retry={"FAILED": 1})
    executor.submit(0, {"mode": "segfault"}, None, None)
    first = executor.job_id(0)
    outcome = collect(executor)[0]
    assert not outcome.ok and " ended FAILED" in outcome.error
    assert outcome.metrics["slurm_job_id"] != first  # the retry ran as a job of its own


def test_trial_past_its_time_limit_is_a_timeout(tmp_path):
    executor = SlurmExecutor(toy_objectives.sleep_long, folder=tmp_path, poll_interval=2.0, time_min=1)
    executor.submit(0, {}, None, None)
    outcome = collect(executor, timeout=400)[0]
    assert not outcome.ok and " ended TIMEOUT" in outcome.error
    assert outcome.energy[0].source == "slurm"


def test_hostile_values_reach_a_command_objective_verbatim(tmp_path):
    marker = tmp_path / "pwned"
    values = ["two words", "it's \"quoted\"", f"$(touch {marker})", f"`touch {marker}`", "line\nbreak"]
    script = Path(__file__).with_name("train_script.py")
    objective = CommandObjective(command=[sys.executable, str(script), "--lr", "{lr}", "--name={name}"],
                                 param_names=["lr", "name"])
    executor = SlurmExecutor(objective, folder=tmp_path, poll_interval=1.0, time_min=5)
    executor.submit_many([(i, {"lr": 0.2, "name": v}, None, None) for i, v in enumerate(values)])
    results = collect(executor)
    for i, v in enumerate(values):
        assert results[i].ok, results[i].error
        assert results[i].metrics["name_seen"] == v
    assert not marker.exists()


@pytest.mark.skipif(not PM_COUNTERS.exists(), reason="Slurm runs without the pm_counters energy mode")
def test_consumed_energy_is_the_pm_counters_integral_over_the_job(tmp_path):
    executor = SlurmExecutor(toy_objectives.metered_sleep, folder=tmp_path, poll_interval=1.0, time_min=5)
    outer_before = float(PM_COUNTERS.read_text().split()[0])
    executor.submit(0, {"seconds": 12.0}, None, None)
    outcome = collect(executor)[0]
    outer_after = float(PM_COUNTERS.read_text().split()[0])
    assert outcome.ok, outcome.error
    inner = outcome.metrics["pm_after"] - outcome.metrics["pm_before"]
    consumed = outcome.energy[0].joules
    assert consumed is not None and consumed > 0
    # Slurm's figure spans the job: at least what the job saw of the counter while it ran (less one
    # sampling period of AcctGatherNodeFreq=5 s at the counter's top power of 150 W), at most the
    # counter's rise from submission to the final accounting record.
    assert inner - 5 * 150 <= consumed <= outer_after - outer_before, (inner, consumed, outer_after - outer_before)


def test_driver_job_requeued_mid_study_resumes_with_nothing_lost(tmp_path):
    marker = tmp_path / "pwned"
    directory = tmp_path / f"study 'q' $(touch {marker}) `touch {marker}`"
    config = tmp_path / "c.toml"
    config.write_text(
        '[study]\nname = "requeue me"\nseed = 4\npopulation = 4\n[study.budget]\nevaluations = 12\n'
        '[space.x0]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n'
        '[objective]\ntype = "python"\nfunction = "toy_objectives:slow_sphere"\n'
        '[executor]\ntype = "slurm"\ntime = "5m"\npoll_interval = 1\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(ROOT / "src")]),
           "TOY_SLEEP": "3"}
    submitted = subprocess.run([sys.executable, "-m", "autodehypo", "slurm", "submit", str(config), "--dir",
                                str(directory), "--time", "30"], capture_output=True, text=True, env=env)
    assert submitted.returncode == 0, submitted.stderr
    job = submitted.stdout.split("driver job ")[1].split()[0]

    def done_trials():
        with sqlite3.connect(f"file:{directory / 'study.db'}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM trials WHERE status = 'complete'").fetchone()[0]
    deadline = time.monotonic() + 180
    while done_trials() < 4:  # the first generation is in
        assert time.monotonic() < deadline
        time.sleep(0.5)
    # What Slurm does 120 s before the time limit (--signal=B:USR1@120), sent now.
    subprocess.run(["scancel", "--signal=USR1", "--batch", job], check=True)
    deadline = time.monotonic() + 400
    state = None
    while state != '"finished"':
        assert time.monotonic() < deadline, "the requeued driver did not finish the study"
        time.sleep(2)
        with sqlite3.connect(f"file:{directory / 'study.db'}?mode=ro", uri=True, timeout=5) as db:
            state = db.execute("SELECT value FROM meta WHERE key = 'state'").fetchone()[0]
    log = "".join(p.read_text() for p in directory.glob("driver-*.out"))
    assert "requeued this driver job" in log
    table = export_rows(directory)
    assert len(table) == 12 and {r["status"] for r in table} == {"complete"}
    assert sorted((int(r["generation"]), int(r["idx"])) for r in table) == [(g, i) for g in range(3) for i in range(4)]
    assert len({r["job_id"] for r in table}) == 12
    assert not marker.exists()
