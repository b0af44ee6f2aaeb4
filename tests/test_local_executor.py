"""Trials in real child processes: every way a trial can fail is recorded with its reason."""

import time

import pytest

import toy_objectives
from autodehypo.execution import LocalExecutor


def run_all(executor, params_by_key, log_dir=None):
    pending = dict(params_by_key)
    results = {}
    while pending or executor.running:
        while pending and executor.free_slots:
            key, params = pending.popitem()
            executor.submit(key, params, log_dir / f"{key}.log" if log_dir else None)
        for key, outcome in executor.wait(timeout=5):
            results[key] = outcome
    return results


def test_each_failure_kind_is_recorded_with_its_reason(tmp_path):
    executor = LocalExecutor(toy_objectives.misbehave, workers=2, timeout=2.0)
    modes = ["ok", "raise", "nan", "segfault", "exit", "sleep", "nokey", "text", "print"]
    started = time.monotonic()
    results = run_all(executor, {m: {"mode": m} for m in modes}, tmp_path)
    assert time.monotonic() - started < 30  # the sleeper was killed at its timeout, not after 60 s
    assert results["ok"].ok and results["ok"].value == 1.0
    assert results["print"].ok and results["print"].metrics == {"note": "fine"}
    assert "to the log" in (tmp_path / "print.log").read_text()
    expected = {
        "raise": "RuntimeError: boom",
        "nan": "objective returned nan",
        "segfault": "killed by signal SIGSEGV before returning a result",
        "exit": "exited with code 3 before returning a result",
        "sleep": "timed out after 2 s",
        "nokey": "objective returned a dict without the key 'objective'",
        "text": "objective returned str 'hello'; expected a number",
    }
    for mode, reason in expected.items():
        outcome = results[mode]
        assert not outcome.ok and outcome.value is None, mode
        assert outcome.error.startswith(reason), (mode, outcome.error)
        assert outcome.elapsed_s is not None and outcome.cpu_time_s is not None
    assert "Traceback" in (tmp_path / "raise.log").read_text()


def test_cpu_time_and_memory_of_the_child_are_measured():
    executor = LocalExecutor(toy_objectives.burn, workers=1)
    outcome = run_all(executor, {0: {"seconds": 0.4, "x": 2.0}})[0]
    assert outcome.ok and outcome.value == 2.0
    assert 0.35 <= outcome.cpu_time_s <= 1.5
    assert outcome.peak_rss_mb > 5
    assert outcome.elapsed_s >= 0.35 and outcome.host


def test_threads_per_trial_default_divides_the_cores(monkeypatch):
    import os
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert LocalExecutor(toy_objectives.sphere, workers=2).threads_per_trial == 2
    assert LocalExecutor(toy_objectives.sphere, workers=8).threads_per_trial == 1
    assert LocalExecutor(toy_objectives.sphere).workers == 4


def test_thread_limit_reaches_the_trial():
    def report_threads(params):
        import os
        return {"objective": 0.0, "omp": os.environ["OMP_NUM_THREADS"]}
    executor = LocalExecutor(report_threads, workers=1, threads_per_trial=3)
    assert run_all(executor, {0: {}})[0].metrics["omp"] == "3"


def test_kill_all_stops_running_trials():
    executor = LocalExecutor(toy_objectives.misbehave, workers=2)
    executor.submit(1, {"mode": "sleep"})
    executor.submit(2, {"mode": "sleep"})
    started = time.monotonic()
    executor.kill_all()
    assert executor.running == [] and time.monotonic() - started < 5


@pytest.mark.parametrize("kwargs", [{"workers": 0}, {"timeout": 0}, {"timeout": -1}])
def test_bad_settings(kwargs):
    with pytest.raises(ValueError):
        LocalExecutor(toy_objectives.sphere, **{"workers": 1, **kwargs})
