"""The software and machine a study ran on, recorded with each run session.

Reports show these figures rather than those of the machine that makes the
report: energy and speed depend on them. Collecting is cheap and imports
nothing heavy; in particular torch is never imported here, because trials are
forked from the driver and must not inherit a torch runtime.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
from importlib import metadata
from typing import Any

from . import __version__

PACKAGES = ("numpy", "torch", "torchvision", "submitit", "nvidia-ml-py", "matplotlib", "pandas",
            "pyarrow", "mlxtend")
# The CPU features that decide how fast (and in which precision) a model trains on the CPU.
CPU_FLAGS = ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def collect_environment() -> dict[str, Any]:
    """A JSON-safe record; a figure that cannot be found is None (unknown), never a guess."""
    packages = {}
    for dist in PACKAGES:
        try:
            packages[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    cpu, flags = _cpu()
    return {"recorded_at": time.time(), "python": platform.python_version(), "autodehypo": __version__,
            "packages": packages, "torch_cuda": _torch_cuda() if "torch" in packages else None,
            "cpu": cpu, "cpu_flags": flags, "cores": os.cpu_count(), "gpus": _gpus(),
            "host": socket.gethostname(), "os": platform.platform()}


def cpu_model() -> str:
    """The CPU's model name, for benchmark reports."""
    return _cpu()[0] or "unknown CPU"


def _cpu() -> tuple[str | None, list[str] | None]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return platform.processor() or None, None
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.*)$", text, re.M)
    present = set(flags.group(1).split()) if flags else set()
    return (model.group(1).strip() if model else platform.processor() or None,
            [f for f in CPU_FLAGS if f in present] if flags else None)


def _torch_cuda() -> str | None:
    """The CUDA version torch was built for: "none" for a CPU build, None when unknown."""
    torch = sys.modules.get("torch")
    if torch is not None:
        cuda = getattr(getattr(torch, "version", None), "cuda", None)
        return cuda or "none"
    # Without importing torch: its version.py is plain assignments, written when it was built.
    try:
        text = metadata.distribution("torch").locate_file("torch/version.py").read_text()
    except (OSError, metadata.PackageNotFoundError):
        return None
    match = re.search(r"^cuda\s*(?::[^=]*)?=\s*(?:['\"]([^'\"]+)['\"]|(None))\s*$", text, re.M)
    if match is None:
        return None
    return match.group(1) or "none"


def _gpus() -> list[str] | None:
    """GPU models from ``nvidia-smi -L``; [] when there is no nvidia-smi, None when it failed."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    # "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-...)"
    return [re.sub(r"^GPU \d+:\s*|\s*\(UUID:.*\)$", "", line.strip())
            for line in out.stdout.splitlines() if line.startswith("GPU ")]
