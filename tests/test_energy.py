"""Energy sources. This machine has no RAPL counters and no GPU, so:
- RAPL is read from a directory tree laid out exactly as the kernel lays out powercap
  (zone names, units, max_energy_range_uj, symlinks into devices/, root-only energy_uj);
- NVML is checked to report itself unavailable, never zero;
- Slurm accounting is parsed from real sacct output recorded on a real Slurm (tests/data/sacct).
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from autodehypo import ConfigError, Study
from autodehypo.energy import (CpuTimeEstimate, EnergyReading, MeterUnavailable, NvmlMeter, RaplMeter,
                               choose, co2e_grams, measured_total, open_meters)
from autodehypo.energy.sacct import SacctError, memory_mb, parse_duration, parse_energy, parse_sacct
from autodehypo.storage import Storage
from autodehypo.reports.text import report_text
from conftest import toy_config

DATA = Path(__file__).parent / "data" / "sacct"
MAX_RANGE = 262143328850  # max_energy_range_uj of a real Xeon package


def powercap_tree(root: Path, package_uj=(1_000_000, 5_000_000), dram_uj=(200_000, 900_000)) -> Path:
    """/sys/class/powercap as the kernel lays it out: class entries are symlinks into devices/."""
    devices = root / "devices" / "virtual" / "powercap" / "intel-rapl"
    cls = root / "class" / "powercap"
    cls.mkdir(parents=True)
    devices.mkdir(parents=True)
    (devices / "enabled").write_text("1\n")
    os.symlink(devices, cls / "intel-rapl")
    zones = []
    for p, (pkg, dram) in enumerate(zip(package_uj, dram_uj)):
        pkg_dir = devices / f"intel-rapl:{p}"
        zones.append((pkg_dir, f"package-{p}", pkg))
        zones.append((pkg_dir / f"intel-rapl:{p}:0", "core", pkg // 2))
        zones.append((pkg_dir / f"intel-rapl:{p}:1", "dram", dram))
    for path, name, energy in zones:
        path.mkdir(parents=True)
        (path / "name").write_text(name + "\n")
        (path / "energy_uj").write_text(f"{energy}\n")
        (path / "max_energy_range_uj").write_text(f"{MAX_RANGE}\n")
        (path / "energy_uj").chmod(0o400)  # root-only, as since CVE-2020-8694
        os.symlink(path, cls / path.name)
    return cls


def set_uj(cls: Path, zone: str, value: int) -> None:
    path = cls / zone / "energy_uj"
    path.chmod(0o600)
    path.write_text(f"{value}\n")
    path.chmod(0o400)


def test_rapl_sums_packages_and_dram_not_core(tmp_path):
    cls = powercap_tree(tmp_path)
    meter = RaplMeter(cls)
    assert sorted(d.name for d in meter.domains) == ["dram", "dram", "package-0", "package-1"]
    token = meter.start()
    set_uj(cls, "intel-rapl:0", 1_000_000 + 3_000_000)    # +3 J
    set_uj(cls, "intel-rapl:1", 5_000_000 + 1_500_000)    # +1.5 J
    set_uj(cls, "intel-rapl:0:0", 9_999_999)               # core: inside package-0, ignored
    set_uj(cls, "intel-rapl:1:1", 900_000 + 250_000)       # dram +0.25 J
    reading = meter.stop(token)
    assert reading.source == "rapl" and reading.node_level
    assert reading.joules == pytest.approx(4.75)
    assert reading.components == pytest.approx({"cpu": 4.5, "dram": 0.25})


def test_rapl_wraps_at_max_energy_range(tmp_path):
    cls = powercap_tree(tmp_path, package_uj=(MAX_RANGE - 1_000_000, 0), dram_uj=(0, 0))
    meter = RaplMeter(cls)
    token = meter.start()
    set_uj(cls, "intel-rapl:0", MAX_RANGE - 10)  # +0.99999 J
    meter.poll()
    set_uj(cls, "intel-rapl:0", 2_000_000)       # wrapped: +10 uJ, +1 (to 0), +2 J
    reading = meter.stop(token)
    assert reading.components["cpu"] == pytest.approx((1_000_000 - 10 + 10 + 1 + 2_000_000) / 1e6)


def test_rapl_permission_denied_is_not_readable_not_zero():
    root = Path(tempfile.mkdtemp())
    try:
        root.chmod(0o755)
        cls = powercap_tree(root)
        if os.geteuid() != 0:
            with pytest.raises(MeterUnavailable, match="not readable: permission denied"):
                RaplMeter(cls)
            return
        # Root reads anything: check as an unprivileged user in a forked child.
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(65534)
                os.setuid(65534)
                try:
                    RaplMeter(cls)
                    message = "read"
                except MeterUnavailable as exc:
                    message = str(exc)
                os.write(write_fd, message.encode())
            finally:
                os._exit(0)
        os.close(write_fd)
        os.waitpid(pid, 0)
        message = os.read(read_fd, 4096).decode()
        os.close(read_fd)
        assert message.startswith("rapl: not readable: permission denied on ")
        assert "energy_uj" in message and "CVE-2020-8694" in message
    finally:
        shutil.rmtree(root)


def test_rapl_absent(tmp_path):
    with pytest.raises(MeterUnavailable, match="no powercap tree"):
        RaplMeter(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MeterUnavailable, match="no intel-rapl zones"):
        RaplMeter(tmp_path / "empty")


def test_nvml_without_a_gpu_is_unavailable_not_zero():
    with pytest.raises(MeterUnavailable, match="^nvml: "):
        NvmlMeter()
    meters, status = open_meters(["auto"])
    assert "nvml" not in [m.source for m in meters] and status["nvml"].startswith("nvml: ")
    with pytest.raises(MeterUnavailable):
        open_meters(["nvml"])


def test_estimate_is_labelled_with_its_figures():
    r = CpuTimeEstimate(12.0, 250.0).reading(10.0, gpu_seconds=2.0)
    assert r.source == "estimate" and r.joules == 620.0 and r.components == {"cpu": 120.0, "gpu": 500.0}
    assert r.detail["watts_per_core"] == 12.0 and r.detail["gpu_watts"] == 250.0
    assert CpuTimeEstimate().reading(None).joules is None


def test_choose_prefers_slurm_then_measured_then_estimate():
    est = EnergyReading(10.0, "estimate")
    rapl = EnergyReading(30.0, "rapl", {"cpu": 25.0, "dram": 5.0}, node_level=True)
    gpu = EnergyReading(70.0, "nvml", {"gpu": 70.0}, node_level=True)
    slurm = EnergyReading(500.0, "slurm")
    assert choose([rapl, gpu, est, slurm]).source == "slurm"
    both = choose([rapl, gpu, est])
    assert both.source == "nvml+rapl" and both.joules == 100.0
    assert both.components == {"cpu": 25.0, "dram": 5.0, "gpu": 70.0}
    assert choose([EnergyReading(None, "slurm"), est]).source == "estimate"
    assert choose([rapl, est], "estimate").source == "estimate"
    assert choose([est, EnergyReading(None, "rapl")], "measured").source == "estimate"
    assert measured_total([est]) is None
    assert co2e_grams(3.6e6, 400.0) == 400.0 and co2e_grams(None, 400.0) is None


def read(name):
    return (DATA / name).read_text()


def test_sacct_completed_job_raw_joules():
    job = parse_sacct(read("seed_noconvert_ok.txt"))["1"]
    assert job.state == "COMPLETED" and job.terminal and job.exit_code == "0:0"
    assert job.consumed_energy_j == 300.0 and job.partition == "debug"
    assert job.elapsed_s == 3.0 and job.cpu_time_s == 3.0
    assert job.alloc_tres["energy"] == "300" and memory_mb(job.alloc_tres["mem"]) == 1024.0
    assert set(job.steps) == {"batch", "extern"} and job.steps["extern"]["TRESUsageOutAve"] == "energy=75,fs/disk=1"
    assert len(job.raw) == 3 and job.raw[0].startswith("1;300;")
    reading = job.energy()
    assert reading.source == "slurm" and reading.joules == 300.0 and reading.node_level


def test_sacct_timeout_takes_energy_from_the_steps():
    job = parse_sacct(read("seed_noconvert_to.txt"))["9"]
    assert job.state == "TIMEOUT" and job.consumed_energy_j == 12449.0 and job.elapsed_s == 84.0
    converted = parse_sacct(read("seed_to.txt"))["9"]  # without --noconvert: "12.45K"
    assert converted.consumed_energy_j == 12450.0
    assert memory_mb(converted.alloc_tres["mem"]) == 1024.0


def test_sacct_requeued_job_counts_its_last_run():
    job = parse_sacct(read("seed_requeue_D.txt"))["14"]
    assert job.state == "COMPLETED" and job.consumed_energy_j == 600.0 and job.elapsed_s == 5.0
    assert len(job.raw) == 3 and job.raw[0].startswith("14;600;")


def test_sacct_array_gpu_oom_failed_cancelled_steps():
    jobs = parse_sacct(read("seed_noconvert_arr.txt"))
    assert sorted(jobs) == ["2_0", "2_1", "2_2", "2_3"]
    assert all(j.consumed_energy_j == 150.0 for j in jobs.values())
    gpu = parse_sacct(read("seed_noconvert_gpu.txt"))["13"]
    assert gpu.alloc_tres["gres/gpu"] == "1"
    oom = parse_sacct(read("seed_oom_cgroup.txt"))["25"]
    assert oom.state == "OUT_OF_MEMORY" and oom.exit_code == "0:125" and oom.consumed_energy_j is None
    failed = parse_sacct(read("seed_noconvert_fail.txt"))["7"]
    assert failed.state == "FAILED" and failed.exit_code == "3:0"
    cancelled = parse_sacct(read("seed_noconvert_can.txt"))["10"]
    assert cancelled.state == "CANCELLED" and cancelled.consumed_energy_j == 1800.0
    steps = parse_sacct(read("seed_noconvert_steps.txt"))["8"]
    assert set(steps.steps) == {"batch", "extern", "0", "1"} and steps.steps["1"]["State"] == "FAILED"
    busy = parse_sacct(read("seed_busy.txt"))["11"]
    assert busy.consumed_energy_j == 1350.0


def test_sacct_zero_or_empty_energy_is_unknown():
    none_plugin = parse_sacct(read("energy_none_job1.txt"))["1"]
    assert none_plugin.consumed_energy_j is None and none_plugin.energy().joules is None
    assert "no energy plugin" in none_plugin.energy().detail["note"]
    no_msr = parse_sacct(read("rapl_no_msr_job1.txt"))["1"]
    assert no_msr.consumed_energy_j is None


@pytest.mark.parametrize("text, seconds", [("00:01:24", 84), ("1-02:03:04", 93784), ("12:34.500", 754.5),
                                           ("", None), ("UNLIMITED", None)])
def test_sacct_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_sacct_bad_output():
    assert parse_energy("1.5M") == 1.5e6 and parse_energy("") is None
    with pytest.raises(SacctError):
        parse_energy("12 J")
    with pytest.raises(SacctError, match="lacks the field"):
        parse_sacct("JobID|State\n1|COMPLETED\n")
    with pytest.raises(SacctError, match="fields, expected"):
        parse_sacct(read("seed_ok.txt") + "99;1\n")


def test_study_records_every_source_and_reports_them(tmp_path):
    config = toy_config("toy_objectives:burn", evaluations=6, population=6,
                        space={"x": {"type": "float", "low": 0.0, "high": 1.0}})
    config["energy"] = {"watts_per_core": 20.0, "grid_intensity": 300.0}
    Study.create(tmp_path / "s", config).run()
    storage = Storage.open(tmp_path / "s", readonly=True)
    for t in storage.trials():
        assert t.energy_source == "estimate" and t.energy_j == pytest.approx(20.0 * t.cpu_time_s)
        sources = [r["source"] for r in t.energy_detail["readings"]]
        assert sources == ["estimate"]
        assert t.energy_detail["co2e_g"] == pytest.approx(t.energy_j / 3.6e6 * 300.0)
    text = report_text(storage)
    assert "g CO2e" in text and "nvml: no NVIDIA driver" in text and "rapl: no powercap tree" in text


def test_explicit_meter_that_does_not_work_is_a_config_error(tmp_path):
    config = toy_config(evaluations=4, population=4)
    config["energy"] = {"meters": ["rapl"]}
    with pytest.raises(ConfigError, match="energy.meters: rapl: no powercap tree"):
        Study.create(tmp_path / "s", config)
    assert not (tmp_path / "s").exists()
    config["energy"] = {"meters": ["gpu-magic"]}
    with pytest.raises(ConfigError, match="energy.meters: expected a list drawn from"):
        Study.create(tmp_path / "t", config)
