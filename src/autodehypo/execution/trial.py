"""What runs inside a trial's own process, forked on this machine or in a Slurm job: one runner.

The trial's environment is set before the objective runs (threads, its directory, its GPUs,
before anything initialises CUDA); the objective's result or its failure becomes the JSON the
driver reads, from a pipe (local) or from a file on the shared file system (Slurm). Only the
driver writes the study database.
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
from typing import Any, Callable

from .outcome import jsonable, one_line

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "AUTODEHYPO_THREADS")


def enter(threads: int | None, workdir: str | Path | None, gpus: list[str] | None) -> None:
    """The trial's environment: ``workdir`` (for checkpoints) reaches it as $AUTODEHYPO_TRIAL_DIR,
    ``gpus`` as CUDA_VISIBLE_DEVICES."""
    if threads:
        for var in THREAD_VARS:
            os.environ[var] = str(threads)
        if "torch" in sys.modules:  # loaded before the fork: its pool is already sized
            sys.modules["torch"].set_num_threads(threads)
    if workdir:
        os.environ["AUTODEHYPO_TRIAL_DIR"] = str(workdir)
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)


def run(objective: Callable[[dict[str, Any]], Any], params: dict[str, Any],
        catch: type[BaseException] = Exception) -> dict[str, Any]:
    """The objective's result, or its failure as one line (its traceback goes to the trial's log)."""
    try:
        return {"ok": True, "result": objective(params)}
    except catch as exc:
        traceback.print_exc()
        return {"ok": False, "error": one_line(exc)}


def encode(payload: dict[str, Any]) -> str:
    """``payload`` as JSON; a result that is not JSON-serialisable fails the trial."""
    try:
        return json.dumps(payload, default=jsonable)
    except (TypeError, ValueError) as exc:
        return json.dumps({**{k: v for k, v in payload.items() if k != "result"}, "ok": False,
                           "error": f"result is not JSON-serialisable: {exc}"}, default=str)


def run_trial(objective: Any, params: dict[str, Any], result_path: str, workdir: str | None) -> None:
    """A Slurm job's trial: run, measured by the job itself, its JSON written whole or not at all."""
    started = time.time()
    enter(int(os.environ["SLURM_CPUS_PER_TASK"]) if os.environ.get("SLURM_CPUS_PER_TASK") else None,
          workdir, None)
    payload = run(objective, params)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    array = os.environ.get("SLURM_ARRAY_TASK_ID")
    payload.update(started_at=started, ended_at=time.time(), host=socket.gethostname(),
                   cpu_time_s=usage.ru_utime + usage.ru_stime,
                   peak_rss_mb=usage.ru_maxrss / (1024.0 if sys.platform.startswith("linux") else 1024.0 ** 2),
                   job_id=f"{os.environ.get('SLURM_ARRAY_JOB_ID', '')}_{array}" if array
                   else os.environ.get("SLURM_JOB_ID"))
    path = Path(result_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(encode(payload))
    os.replace(tmp, path)
