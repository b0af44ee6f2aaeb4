"""The study driver itself as a requeueable Slurm batch job.

The script is a pure function of its options. Values that come from the user
never reach an ``#SBATCH`` line unchecked: the job name is reduced to safe
characters, other directive values must match a strict pattern, and paths go
only into the command line, quoted with :func:`shlex.quote`, or into sbatch's
own argument list (``--chdir``).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SIGNAL_LEAD_S = 120
_SAFE = re.compile(r"^[A-Za-z0-9_.,:+-]+$")


@dataclass
class DriverJob:
    config: Path
    directory: Path
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: str = "1-00:00:00"
    cpus: int = 1
    mem: str = "2G"
    python: str = sys.executable

    def check(self) -> None:
        for key in ("partition", "account", "qos", "time", "mem"):
            value = getattr(self, key)
            if value is not None and not _SAFE.match(str(value)):
                raise ValueError(f"--{key}: {value!r} has characters sbatch would not take safely")
        if not isinstance(self.cpus, int) or self.cpus < 1:
            raise ValueError(f"--cpus: expected an integer >= 1, got {self.cpus!r}")


def job_name(name: str) -> str:
    return "autodehypo-" + (re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60] or "study")


def driver_script(job: DriverJob, study_name: str) -> str:
    job.check()
    lines = ["#!/bin/bash",
             f"#SBATCH --job-name={job_name(study_name)}",
             "#SBATCH --requeue",
             f"#SBATCH --signal=B:USR1@{SIGNAL_LEAD_S}",
             "#SBATCH --open-mode=append",
             "#SBATCH --output=driver-%j.out",
             "#SBATCH --ntasks=1",
             f"#SBATCH --cpus-per-task={job.cpus}",
             f"#SBATCH --mem={job.mem}",
             f"#SBATCH --time={job.time}"]
    for key in ("partition", "account", "qos"):
        if getattr(job, key):
            lines.append(f"#SBATCH --{key}={getattr(job, key)}")
    python, config, directory = (shlex.quote(str(x)) for x in (job.python, job.config.resolve(),
                                                                  job.directory.resolve()))
    lines += [
        "# On USR1 (120 s before the time limit) the driver checkpoints, requeues this job and exits;",
        "# the requeued job resumes the study, following the trial jobs that are still running.",
        f"if [ -f {directory}/study.db ]; then",
        f"    exec {python} -m autodehypo resume {directory}",
        "fi",
        f"exec {python} -m autodehypo run {config} --dir {directory}",
        ""]
    return "\n".join(lines)


def submit(script_path: Path, directory: Path) -> str:
    out = subprocess.run(["sbatch", "--parsable", f"--chdir={directory.resolve()}", str(script_path)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        reason = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit code {out.returncode}"
        raise RuntimeError(f"sbatch failed: {reason}")
    return out.stdout.strip().split(";")[0]


def requeue_self() -> bool:
    """Requeue the batch job this process runs in; False outside a job."""
    job = os.environ.get("SLURM_JOB_ID")
    if not job:
        return False
    return subprocess.run(["scontrol", "requeue", job], capture_output=True).returncode == 0
