"""What runs inside a trial's Slurm job: the objective, measured, its result written as JSON.

Only the driver writes the study database; a job leaves one JSON file in the
study directory (a shared file system), written whole or not at all.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from .outcome import jsonable, one_line


def run_trial(objective: Any, params: dict[str, Any], result_path: str, workdir: str | None) -> None:
    started = time.time()
    if workdir:
        os.environ["AUTODEHYPO_TRIAL_DIR"] = workdir
    threads = os.environ.get("SLURM_CPUS_PER_TASK")
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "AUTODEHYPO_THREADS"):
            os.environ[var] = threads
    try:
        payload: dict[str, Any] = {"ok": True, "result": objective(params)}
    except Exception as exc:  # the trial's failure, reported to the driver
        traceback.print_exc()
        payload = {"ok": False, "error": one_line(exc)}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    payload.update(started_at=started, ended_at=time.time(), host=socket.gethostname(),
                   cpu_time_s=usage.ru_utime + usage.ru_stime,
                   peak_rss_mb=usage.ru_maxrss / (1024.0 if sys.platform.startswith("linux") else 1024.0 ** 2),
                   job_id=os.environ.get("SLURM_ARRAY_JOB_ID", "") + "_" + os.environ.get("SLURM_ARRAY_TASK_ID", "")
                   if os.environ.get("SLURM_ARRAY_TASK_ID") else os.environ.get("SLURM_JOB_ID"))
    try:
        data = json.dumps(payload, default=jsonable)
    except (TypeError, ValueError) as exc:
        data = json.dumps({**{k: v for k, v in payload.items() if k not in ("result",)}, "ok": False,
                           "error": f"result is not JSON-serialisable: {exc}"}, default=str)
    path = Path(result_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(data)
    os.replace(tmp, path)
