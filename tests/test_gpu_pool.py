"""GPUs handed out by the local executor, one set per trial, on a machine without GPUs.

The executor gives each trial its GPUs through CUDA_VISIBLE_DEVICES, the variable CUDA reads
at start-up: the tests run real child processes with GPU ids that no device backs (this machine
has no GPU) and check what each trial saw and when it ran. NVML, which only exists with an
NVIDIA driver, is replaced where needed by a fake that follows the real pynvml API (said there).
"""

from __future__ import annotations

import sys
import types

import pytest

import toy_objectives
from autodehypo.config import ConfigError, parse_config
from autodehypo.energy import NvmlMeter
from autodehypo.execution import LocalExecutor
from autodehypo.reports.text import report_text
from autodehypo.storage import Storage
from autodehypo.study import Study
from conftest import export_rows, toy_config
from test_local_executor import run_all


def overlaps(outcomes):
    """Pairs of trials that ran at the same time and saw a GPU in common."""
    spans = [(set(o.metrics["visible"].split(",")), o.metrics["start"], o.metrics["end"]) for o in outcomes]
    return [(a, b) for i, a in enumerate(spans) for b in spans[i + 1:]
            if a[0] & b[0] and a[1] < b[2] and b[1] < a[2]]


@pytest.mark.parametrize("per_trial, gpus, workers, size", [
    (1, ["0", "1", "2", "3"], 4, 1),
    (2, ["0", "1", "2", "3"], None, 2),  # as many workers as the GPUs allow: 2
    ("auto", ["GPU-a", "GPU-b"], None, 1),
])
def test_each_trial_gets_gpus_of_its_own(per_trial, gpus, workers, size):
    executor = LocalExecutor(toy_objectives.gpu_sphere, workers=workers, gpus_per_trial=per_trial, gpus=gpus)
    assert executor.workers == len(gpus) // size
    results = run_all(executor, {k: {"x": k} for k in range(3 * executor.workers)})
    seen = [o.metrics["visible"].split(",") for o in results.values()]
    assert all(len(s) == size and set(s) <= set(gpus) for s in seen)
    assert [o.gpus for o in results.values()] == seen  # recorded as the trial saw them
    assert not overlaps(results.values())
    assert {g for s in seen for g in s} == set(gpus)  # all of them used
    assert all(o.gpu_seconds == pytest.approx(o.elapsed_s * size) for o in results.values())


def test_a_shared_gpu_only_when_asked_and_evenly():
    executor = LocalExecutor(toy_objectives.gpu_sphere, workers=4, gpus_per_trial=0.5, gpus=["0", "1"])
    results = run_all(executor, {k: {"x": k} for k in range(8)})
    pairs = overlaps(results.values())
    assert pairs and all(len(a[0]) == 1 for a, _ in pairs)
    # Never three at once on one GPU: a GPU has two shares.
    for gpu in ("0", "1"):
        spans = [(o.metrics["start"], o.metrics["end"]) for o in results.values() if o.gpus == [gpu]]
        assert max(sum(s < t < e for s, e in spans) for t, _ in spans) <= 1  # others running at each start
    assert all(o.gpu_seconds == pytest.approx(o.elapsed_s / 2) for o in results.values())


def test_without_gpus_per_trial_the_gpus_are_left_alone(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,4")
    results = run_all(LocalExecutor(toy_objectives.gpu_sphere, workers=2), {k: {"x": k} for k in range(2)})
    assert {o.metrics["visible"] for o in results.values()} == {"3,4"}
    assert all(o.gpus is None and o.gpu_seconds == 0.0 for o in results.values())


def test_more_workers_than_the_gpus_allow_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"^workers: 5 trials at once with gpus_per_trial = 1 need 5 GPU\(s\); "
                                         r"4 visible \(0,1,2,3\): set workers <= 4 or share GPUs"):
        LocalExecutor(toy_objectives.gpu_sphere, workers=5, gpus_per_trial=1, gpus=["0", "1", "2", "3"])
    with pytest.raises(ValueError, match=r"^workers: 3 trials at once but 2 GPU\(s\) visible"):
        LocalExecutor(toy_objectives.gpu_sphere, workers=3, gpus_per_trial="auto", gpus=["0", "1"])
    with pytest.raises(ValueError, match=r"need 1 GPU\(s\); 0 visible \(none\)"):
        LocalExecutor(toy_objectives.gpu_sphere, workers=2, gpus_per_trial=0.5, gpus=[])
    # "auto" on a machine without GPUs runs on the CPU.
    assert LocalExecutor(toy_objectives.gpu_sphere, workers=2, gpus_per_trial="auto", gpus=[]).gpu_pool is None


@pytest.mark.parametrize("value", [1.5, -1, "all", True, 0.3])
def test_a_bad_gpus_per_trial_is_a_config_error(value):
    with pytest.raises(ConfigError, match="^executor.gpus_per_trial: expected a whole number of GPUs"):
        parse_config(toy_config(executor={"gpus_per_trial": value}))


def test_a_study_records_each_trials_gpus_and_reports_them(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    config = toy_config("toy_objectives:gpu_sphere", evaluations=8, population=4,
                        executor={"gpus_per_trial": 1})
    Study.create(tmp_path / "s", config).run()
    storage = Storage.open(tmp_path / "s", readonly=True)
    trials = storage.trials()
    assert len(trials) == 8
    assert all(t.gpus in (["0"], ["1"]) and t.gpus == [t.metrics["visible"]] for t in trials)
    report = report_text(storage)
    storage.close()
    assert "gpus:         0: " in report and "; 1: " in report
    rows = export_rows(tmp_path / "s")
    assert all(r["gpus"] in ('["0"]', '["1"]') for r in rows)

    config["executor"]["workers"] = 3  # more than the two GPUs: refused before anything is created
    with pytest.raises(ConfigError, match=r"^executor.workers: 3 trials at once with gpus_per_trial = 1 need 3"):
        Study.check(tmp_path / "t", config)
    assert not (tmp_path / "t").exists()


class FakePynvml(types.ModuleType):
    """A stand-in for pynvml (nvidia-ml-py) with its real function names and units (energy in
    millijoules, power in milliwatts): NVML needs an NVIDIA driver, which this machine lacks."""

    class NVMLError(Exception):
        pass

    def __init__(self, gpus: int):
        super().__init__("pynvml")
        self.energy_mj = [0.0] * gpus

    def nvmlInit(self):
        pass

    def nvmlDeviceGetCount(self):
        return len(self.energy_mj)

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        return self.energy_mj[handle]


def test_nvml_measures_a_trial_on_its_own_gpus_alone(monkeypatch):
    fake = FakePynvml(2)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    meter = NvmlMeter(visible="0,1")
    own, shared, whole = meter.start(["1"], True), meter.start(["1"], False), meter.start()
    fake.energy_mj[0] += 5000.0
    fake.energy_mj[1] += 2000.0
    reading = meter.stop(own)
    assert reading.joules == pytest.approx(2.0) and not reading.node_level
    assert reading.detail["gpus"] == ["1"]
    assert meter.stop(shared).node_level  # a shared GPU: its counter holds other trials too
    assert meter.stop(whole).joules == pytest.approx(7.0) and meter.stop(whole).node_level
